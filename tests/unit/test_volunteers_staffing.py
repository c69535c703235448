"""Who may still join a task, judged on the task as stored, and the version a write claims."""
import pytest

from services.errors import FailedPrecondition
from services.storage import at_version, version_of
from services.volunteers import staffing


def stored_task(people_needed=2, dispatched=(), state="PUBLISHED", auto_dispatch=False):
    return {"state": state, "people_needed": people_needed, "people_dispatched": len(dispatched),
            "assignments": [{"volunteer_id": v} for v in dispatched], "auto_dispatch": auto_dispatch}


def test_room_is_what_the_task_still_needs_and_never_negative():
    assert staffing.room(stored_task(3, ["a"])) == 2
    assert staffing.room(stored_task(1, ["a", "b"])) == 0


def test_dispatch_fits_the_room_left():
    staffing.refuse_dispatch(stored_task(3, ["a"]), ["b", "c"])
    with pytest.raises(FailedPrecondition) as refused:
        staffing.refuse_dispatch(stored_task(3, ["a", "b"]), ["c", "d"])
    assert refused.value.message == "task needs 3 people and has 2; cannot dispatch 2 more"
    assert refused.value.violations == [{"field": "volunteer_ids", "description": "at most 1 more"}]


@pytest.mark.parametrize("task, volunteer_ids, reason", [
    (stored_task(state="DRAFT"), ["a"], "publish the task before dispatching"),
    (stored_task(3, ["a"]), ["b", "a"], "already dispatched to this task: a"),
    (stored_task(1, ["a"]), ["b"], "task needs 1 people and has 1"),
])
def test_dispatch_is_refused_on_the_task_as_it_now_stands(task, volunteer_ids, reason):
    with pytest.raises(FailedPrecondition) as refused:
        staffing.refuse_dispatch(task, volunteer_ids)
    assert reason in refused.value.message


def test_an_offer_dispatches_only_to_an_automatic_task_with_room_and_only_once():
    assert staffing.dispatched_on_offer(stored_task(2, ["a"], auto_dispatch=True), "b")
    assert not staffing.dispatched_on_offer(stored_task(2, ["a"], auto_dispatch=True), "a")
    assert not staffing.dispatched_on_offer(stored_task(1, ["a"], auto_dispatch=True), "b")
    assert not staffing.dispatched_on_offer(stored_task(2, []), "b")


def test_a_record_without_a_version_is_at_version_zero():
    assert version_of({"_id": "t"}) == 0
    assert version_of({"_id": "t", "version": 4}) == 4
    assert at_version(0) == {"version": {"$in": [0, None]}}
    assert at_version(4) == {"version": 4}
