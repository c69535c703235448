"""Polls: what a poll is at a moment, who may answer it, what an answer must say, who sees its
results and how they are counted. Free of storage and RPC."""
from datetime import timedelta

from services.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.storage import content_id, public

DRAFT, OPEN, CLOSED = "DRAFT", "OPEN", "CLOSED"
HOUSEHOLD, RESIDENT = "HOUSEHOLD", "RESIDENT"
SINGLE_CHOICE = "SINGLE_CHOICE"
STAFF_ROLES = frozenset({"city_operator", "community_staff", "grid_worker"})
# Set on a stored poll until its closing is announced, so the announcing timer reads only those.
UNANNOUNCED = "unannounced"
# The counts of a closed poll, kept on it by the claimed write that announces its closing.
RESULTS = "results"
# The closing is announced, and its counts kept, this long after `closes_at`: answers are refused
# from `closes_at` on, and an answer checked just before it but stored just after is removed by its
# own call within this time, before the counting reads the answers (see `answer_poll`). Those two
# steps take milliseconds; the grace is far longer so that a busy process still makes it.
CLOSING_GRACE = timedelta(seconds=3)


def state_at(poll, moment):
    """DRAFT before the poll opens, OPEN until it closes, CLOSED from then on."""
    if moment < poll["opens_at"]:
        return DRAFT
    return OPEN if moment < poll["closes_at"] else CLOSED


def numbered_questions(questions):
    """The questions as stored: ids by position ("q1", and "c1"... within each question), so an
    answer names them briefly and the same request always numbers them alike."""
    return [{"id": f"q{q_index}", "text": question["text"], "kind": question["kind"],
             "choices": [{"id": f"c{c_index}", "label": choice["label"]}
                         for c_index, choice in enumerate(question["choices"], 1)]}
            for q_index, question in enumerate(questions, 1)]


def refuse_bad_times(opens_at, closes_at, moment):
    if closes_at <= opens_at:
        raise InvalidArgument.field("closes_at", "must be after opens_at")
    if closes_at <= moment:
        raise InvalidArgument.field("closes_at", "must be in the future")


# Who may answer

def addressed_to(poll, resident):
    """Whether `resident` (as the registry holds them: path and tags) is in the poll's audience:
    living below its node and carrying all of its tags."""
    return poll["node_id"] in resident["path"] and set(poll["audience"]["tags"]) <= set(resident["tags"])


def require_addressed(poll, resident, moment):
    """A poll not addressed to the resident, or not opened yet, is not found for them, so that
    neither its existence nor a draft's contents leak."""
    if not addressed_to(poll, resident) or state_at(poll, moment) == DRAFT:
        raise NotFound("poll not found")


def answer_key(poll, resident):
    """The one answer a poll takes from this resident: their household's for a HOUSEHOLD poll,
    their own for a RESIDENT poll. A content id, so that the store's unique `_id` refuses a
    second answer whichever replica takes it."""
    if poll["per"] == HOUSEHOLD:
        return content_id(poll["tenant"], poll["_id"], HOUSEHOLD, resident["household_id"])
    return content_id(poll["tenant"], poll["_id"], RESIDENT, resident["resident_id"])


def answer_document(poll, resident, answers):
    """An answer as stored: the household or the resident it counts for, per the poll."""
    counted_for = ({"household_id": resident["household_id"], "resident_id": ""} if poll["per"] == HOUSEHOLD
                   else {"household_id": "", "resident_id": resident["resident_id"]})
    return {"id": answer_key(poll, resident), "poll_id": poll["_id"], "answered_by": resident["resident_id"],
            "answers": answers, "path": resident["path"], **counted_for}


def same_answer(existing, answered_by, answers):
    """A repeat of the stored answer by its own resident (a retry after a lost reply)."""
    return existing["answered_by"] == answered_by and existing["answers"] == answers


# What an answer must say

def checked_answers(poll, answers):
    """The answers as stored, in the poll's question order with each choice once; INVALID_ARGUMENT
    naming the field when a question is missing or repeated, or a choice is not one of its own."""
    questions = {question["id"]: question for question in poll["questions"]}
    given = {}
    for index, answer in enumerate(answers):
        question = questions.get(answer["question_id"])
        if question is None:
            raise InvalidArgument.field(f"answers.{index}.question_id", "is not a question of this poll")
        if answer["question_id"] in given:
            raise InvalidArgument.field(f"answers.{index}.question_id", "is answered twice")
        given[answer["question_id"]] = _checked_choices(question, answer["choice_ids"], index)
    missing = [question_id for question_id in questions if question_id not in given]
    if missing:
        raise InvalidArgument.field("answers", f"must answer every question; missing {', '.join(missing)}")
    return [{"question_id": question_id, "choice_ids": given[question_id]} for question_id in questions]


def _checked_choices(question, choice_ids, index):
    field = f"answers.{index}.choice_ids"
    known = [choice["id"] for choice in question["choices"]]
    unknown = [choice_id for choice_id in choice_ids if choice_id not in known]
    if unknown:
        raise InvalidArgument.field(field, f"{', '.join(unknown)} is not a choice of {question['id']}")
    chosen = [choice_id for choice_id in known if choice_id in choice_ids]
    if not chosen:
        raise InvalidArgument.field(field, "must name a choice")
    if question["kind"] == SINGLE_CHOICE and len(chosen) > 1:
        raise InvalidArgument.field(field, "must name one choice: the question is single choice")
    return chosen


def refuse_unless_open(poll, moment):
    if state_at(poll, moment) != OPEN:
        raise FailedPrecondition("the poll has closed: it takes no more answers")


# Results

def refuse_results_unless_visible(caller_role, poll, moment):
    """Staff see results at any time; residents once the poll has closed."""
    if caller_role not in STAFF_ROLES and state_at(poll, moment) != CLOSED:
        raise PermissionDenied("results are published when the poll closes")


def tally(poll, answers):
    """Counts per choice of each question, in the poll's order, and how many answered."""
    counts = {(question["id"], choice["id"]): 0 for question in poll["questions"] for choice in question["choices"]}
    for answer in answers:
        for given in answer["answers"]:
            for choice_id in given["choice_ids"]:
                if (given["question_id"], choice_id) in counts:
                    counts[(given["question_id"], choice_id)] += 1
    return {"answer_count": len(answers),
            "questions": [{"question_id": question["id"], "text": question["text"],
                           "choices": [{"choice_id": choice["id"], "label": choice["label"],
                                        "count": counts[(question["id"], choice["id"])]}
                                       for choice in question["choices"]]}
                          for question in poll["questions"]]}


def results(poll, counted, moment, ballots=()):
    """The results as shown: `counted` (a `tally`), and who chose what (`ballots`, the answers)
    only when the poll is public."""
    shown = {"poll_id": poll["_id"], "state": state_at(poll, moment), **counted}
    if poll["public"]:
        shown["answers"] = [ballot(answer) for answer in ballots]
    return shown


def kept_results(poll):
    """The counts kept at the poll's closing, or None before it closed (or when it closed before
    polls kept them)."""
    return poll.get(RESULTS)


def closing_announced(poll, moment):
    """Whether the poll's closing was announced, when its counts were final: no answer is taken
    after it."""
    return state_at(poll, moment) == CLOSED and not poll.get(UNANNOUNCED)


def ballot(answer):
    return {"poll_id": answer["poll_id"], "household_id": answer["household_id"],
            "resident_id": answer["resident_id"], "answers": answer["answers"]}


# Announcing

def announcements_due(poll, moment):
    """What is due to be announced of a poll at `moment`: its opening, its closing (CLOSING_GRACE
    after `closes_at`), both (a poll that opened and closed between two looks) or nothing."""
    state = state_at(poll, moment)
    due = []
    if state != DRAFT and not poll["opened_announced"]:
        due.append(OPEN)
    if state == CLOSED and moment >= poll["closes_at"] + CLOSING_GRACE:
        due.append(CLOSED)
    return due


def leading_choice(poll, results):
    """The choice a results message can name in a line: the one that leads alone, in a poll that
    asks a single single-choice question; None otherwise (several questions, a multiple-choice
    one, a tie, no answers), and the message says only that the results are out. `results` are
    the counts per question of the poll's closing, so the line names a count, never a ballot."""
    if len(poll["questions"]) != 1 or poll["questions"][0]["kind"] != SINGLE_CHOICE:
        return None
    first, second = sorted(results[0]["choices"], key=lambda choice: choice["count"], reverse=True)[:2]
    return first if first["count"] > second["count"] else None


def view(poll, moment):
    """A poll as shown, its state from its times."""
    shown = {key: value for key, value in public(poll).items()
             if key not in ("node_id", "opened_announced", UNANNOUNCED, RESULTS, "version")}
    return shown | {"state": state_at(poll, moment)}
