"""The rules of polls, without a broker or a store: state from times, who may answer, what an
answer must say, who sees results and how they are counted."""
from datetime import datetime, timedelta, timezone

import pytest

from services.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.notifications import polls

OPENS = datetime(2026, 3, 1, 8, tzinfo=timezone.utc)
CLOSES = OPENS + timedelta(days=7)
DURING = OPENS + timedelta(days=1)
AFTER = CLOSES + timedelta(seconds=1)
COUNTED = CLOSES + polls.CLOSING_GRACE


def poll(per="HOUSEHOLD", public=False, tags=()):
    return {"_id": "p1", "tenant": "t1", "node_id": "b1", "audience": {"node_id": "b1", "tags": list(tags)},
            "per": per, "public": public, "opens_at": OPENS, "closes_at": CLOSES, "opened_announced": False,
            "questions": polls.numbered_questions([
                {"text": "养犬公约是否通过？", "kind": "SINGLE_CHOICE", "choices": labelled("同意", "反对", "弃权")},
                {"text": "希望增设哪些设施？", "kind": "MULTIPLE_CHOICE", "choices": labelled("充电桩", "晾衣架", "长椅")}])}


def labelled(*labels):
    return [{"label": label} for label in labels]


def resident(resident_id="r1", household_id="h1", path=("c1", "g1", "b1", "f1", "h1"), tags=()):
    return {"resident_id": resident_id, "household_id": household_id, "path": list(path), "tags": list(tags)}


def answers(first=("c1",), second=("c1", "c3")):
    return [{"question_id": "q1", "choice_ids": list(first)}, {"question_id": "q2", "choice_ids": list(second)}]


def test_state_follows_the_times():
    assert [polls.state_at(poll(), moment) for moment in (OPENS - timedelta(seconds=1), OPENS, DURING, CLOSES)] \
        == ["DRAFT", "OPEN", "OPEN", "CLOSED"]


def test_questions_and_choices_are_numbered_by_position():
    numbered = poll()["questions"]
    assert [q["id"] for q in numbered] == ["q1", "q2"]
    assert numbered[0]["choices"] == [{"id": "c1", "label": "同意"}, {"id": "c2", "label": "反对"},
                                      {"id": "c3", "label": "弃权"}]


def test_closing_must_follow_opening_and_lie_ahead():
    with pytest.raises(InvalidArgument) as before:
        polls.refuse_bad_times(OPENS, OPENS, OPENS - timedelta(days=1))
    assert before.value.violations[0]["field"] == "closes_at"
    with pytest.raises(InvalidArgument, match="future"):
        polls.refuse_bad_times(OPENS, CLOSES, AFTER)
    polls.refuse_bad_times(OPENS, CLOSES, DURING)


def test_the_audience_is_who_lives_below_the_node_with_every_tag():
    assert polls.addressed_to(poll(), resident())
    assert not polls.addressed_to(poll(), resident(path=("c1", "g1", "b2", "f9", "h9")))
    assert not polls.addressed_to(poll(tags=["elderly"]), resident(tags=["veteran"]))
    assert polls.addressed_to(poll(tags=["elderly"]), resident(tags=["elderly", "living_alone"]))


def test_a_resident_does_not_find_a_poll_not_addressed_to_them_or_not_opened():
    with pytest.raises(NotFound):
        polls.require_addressed(poll(), resident(path=("c1", "g1", "b2")), DURING)
    with pytest.raises(NotFound):
        polls.require_addressed(poll(), resident(), OPENS - timedelta(hours=1))
    polls.require_addressed(poll(), resident(), DURING)


def test_one_answer_key_per_household_or_per_resident():
    spouse = resident(resident_id="r2")
    assert polls.answer_key(poll(), resident()) == polls.answer_key(poll(), spouse)
    assert polls.answer_key(poll(per="RESIDENT"), resident()) != polls.answer_key(poll(per="RESIDENT"), spouse)
    assert polls.answer_key(poll(), resident()) != polls.answer_key(poll(), resident(household_id="h2"))
    stored = polls.answer_document(poll(), resident(), answers())
    assert (stored["household_id"], stored["resident_id"], stored["answered_by"]) == ("h1", "", "r1")
    assert polls.same_answer(stored, "r1", answers()) and not polls.same_answer(stored, "r2", answers())


def test_an_answer_names_each_question_once_with_its_own_choices():
    assert polls.checked_answers(poll(), list(reversed(answers(second=("c3", "c1", "c3"))))) == answers()
    refusals = {
        "answers.0.choice_ids": [{"question_id": "q1", "choice_ids": ["c1", "c2"]}, answers()[1]],
        "answers.1.choice_ids": [answers()[0], {"question_id": "q2", "choice_ids": ["c9"]}],
        "answers.1.question_id": [answers()[0], answers()[0]],
        "answers": [answers()[0]],
    }
    for field, given in refusals.items():
        with pytest.raises(InvalidArgument) as refused:
            polls.checked_answers(poll(), given)
        assert refused.value.violations[0]["field"] == field
    with pytest.raises(InvalidArgument, match="must name a choice"):
        polls.checked_answers(poll(), [answers()[0], {"question_id": "q2", "choice_ids": []}])


def test_answers_are_taken_only_while_open():
    polls.refuse_unless_open(poll(), DURING)
    with pytest.raises(FailedPrecondition):
        polls.refuse_unless_open(poll(), AFTER)


def test_residents_see_results_once_closed_and_staff_at_any_time():
    polls.refuse_results_unless_visible("grid_worker", poll(), DURING)
    with pytest.raises(PermissionDenied):
        polls.refuse_results_unless_visible("resident", poll(), DURING)
    polls.refuse_results_unless_visible("resident", poll(), AFTER)


def stored_answers(given):
    return [polls.answer_document(poll(), resident(household_id=f"h{n}"), a) for n, a in enumerate(given)]


def test_results_count_each_choice_and_show_who_chose_what_only_when_public():
    given = stored_answers([answers(), answers(("c2",), ("c2",)), answers(("c1",), ("c3",))])
    shown = polls.results(poll(), polls.tally(poll(), given), AFTER)
    assert shown["state"] == "CLOSED" and shown["answer_count"] == 3 and "answers" not in shown
    assert [[c["count"] for c in q["choices"]] for q in shown["questions"]] == [[2, 1, 0], [1, 1, 2]]
    public = polls.results(poll(public=True), polls.tally(poll(), given), AFTER, given)
    assert [a["household_id"] for a in public["answers"]] == ["h0", "h1", "h2"]
    assert polls.tally(poll(), [])["questions"][0]["choices"][0] == {"choice_id": "c1", "label": "同意", "count": 0}


def test_opening_and_closing_are_announced_once_each_when_due():
    assert polls.announcements_due(poll(), OPENS - timedelta(seconds=1)) == []
    assert polls.announcements_due(poll(), DURING) == ["OPEN"]
    assert polls.announcements_due(poll() | {"opened_announced": True}, DURING) == []
    assert polls.announcements_due(poll(), COUNTED) == ["OPEN", "CLOSED"]
    assert polls.announcements_due(poll() | {"opened_announced": True}, COUNTED) == ["CLOSED"]


def test_the_closing_is_announced_and_counted_only_after_the_grace_in_which_late_answers_withdraw():
    assert polls.state_at(poll(), CLOSES) == "CLOSED"
    assert polls.announcements_due(poll() | {"opened_announced": True}, CLOSES) == []
    assert polls.announcements_due(poll() | {"opened_announced": True}, COUNTED - timedelta(microseconds=1)) == []
    assert polls.announcements_due(poll() | {"opened_announced": True}, COUNTED) == ["CLOSED"]


def test_a_closed_polls_results_are_the_counts_kept_at_its_announced_closing():
    counted = polls.tally(poll(), stored_answers([answers()]))
    assert polls.kept_results(poll()) is None and polls.kept_results(poll() | {"results": counted}) == counted
    closing = poll() | {"unannounced": True}
    assert not polls.closing_announced(closing, DURING) and not polls.closing_announced(closing, AFTER)
    # Announced: the counts are final (a poll closed before closings kept them is counted once then).
    assert polls.closing_announced(closing | {"unannounced": False}, AFTER)
    assert polls.closing_announced(poll(), AFTER) and not polls.closing_announced(poll(), DURING)


def test_a_poll_is_shown_with_its_state_and_without_its_bookkeeping():
    shown = polls.view(poll() | {"unannounced": True, "version": 2, "results": {"answer_count": 0}}, DURING)
    assert shown["state"] == "OPEN" and shown["id"] == "p1"
    assert not {"unannounced", "opened_announced", "version", "results", "tenant", "_id"} & set(shown)


def closing_counts(*counts):
    """A poll.closed event's results for a poll of one single-choice question of three choices."""
    return [{"question_id": "q1", "text": "养犬公约是否通过？",
             "choices": [{"choice_id": f"c{n}", "label": label, "count": count}
                         for n, (label, count) in enumerate(zip(("同意", "反对", "弃权"), counts), 1)]}]


def test_a_results_message_names_the_choice_that_leads_alone_in_a_single_question_poll():
    single = poll() | {"questions": poll()["questions"][:1]}
    assert polls.leading_choice(single, closing_counts(1, 3, 0)) == {"choice_id": "c2", "label": "反对", "count": 3}
    assert polls.leading_choice(single, closing_counts(2, 2, 1)) is None
    assert polls.leading_choice(single, closing_counts(0, 0, 0)) is None
    assert polls.leading_choice(poll(), closing_counts(1, 3, 0)) is None
    several = single | {"questions": [single["questions"][0] | {"kind": "MULTIPLE_CHOICE"}]}
    assert polls.leading_choice(several, closing_counts(1, 3, 0)) is None
