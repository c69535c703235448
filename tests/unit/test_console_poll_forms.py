"""The console's poll forms as the notifications service takes them, without a gateway."""
from werkzeug.datastructures import MultiDict

from console.pages.polls import answers_of, questions_of


def test_each_filled_in_question_block_is_a_question_with_a_choice_per_line():
    form = MultiDict({"question-1": "是否同意？", "kind-1": "SINGLE_CHOICE", "choices-1": "同意\r\n反对\n\n弃权 ",
                      "question-2": " ", "choices-2": "x", "question-3": "增设什么？", "kind-3": "MULTIPLE_CHOICE",
                      "choices-3": "充电桩\n长椅"})
    assert questions_of(form) == [
        {"text": "是否同意？", "kind": "SINGLE_CHOICE", "choices": [{"label": "同意"}, {"label": "反对"}, {"label": "弃权"}]},
        {"text": "增设什么？", "kind": "MULTIPLE_CHOICE", "choices": [{"label": "充电桩"}, {"label": "长椅"}]}]


def test_an_answer_names_the_choices_ticked_for_every_question_of_the_poll():
    poll = {"questions": [{"id": "q1"}, {"id": "q2"}]}
    form = MultiDict([("q1", "c2"), ("q2", "c1"), ("q2", "c3")])
    assert answers_of(form, poll) == [{"question_id": "q1", "choice_ids": ["c2"]},
                                      {"question_id": "q2", "choice_ids": ["c1", "c3"]}]
    assert answers_of(MultiDict(), poll)[1] == {"question_id": "q2", "choice_ids": []}
