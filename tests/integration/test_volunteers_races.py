"""Concurrent writes to one task or shift through the real gateway on FerretDB, whose conditional
find-and-modify is not atomic: many dispatches, offers or check-outs at once must leave the task
exactly as full as it may be, each volunteer on it once, and tell every loser why."""
import threading
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from tests.support.volunteering import VOLUNTEERS, rfc3339, task, volunteer

pytestmark = pytest.mark.integration
DISPATCHED = "civicgrid.volunteers.task.dispatched.v1"


def race(calls):
    """Starts every call at once; returns their outcomes in order: the response, or the gRPC error."""
    start = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index):
        start.wait()
        try:
            outcomes[index] = calls[index]()
        except grpc.RpcError as error:
            outcomes[index] = error

    racers = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    return outcomes


def lost(outcome):
    return isinstance(outcome, grpc.RpcError)


def split(outcomes):
    return [o for o in outcomes if not lost(o)], [o for o in outcomes if lost(o)]


def published_task(world, people_needed, **extra):
    created = task(world["staff"], world["ids"]["GRID"], datetime.now(timezone.utc) + timedelta(days=1),
                   people_needed=people_needed, **extra)
    return world["staff"].call(f"{VOLUNTEERS}/PublishTask", {"id": created["id"]})


def stored(platform, task_id):
    return platform.database("volunteers").tasks.find_one({"_id": task_id})


def test_concurrent_dispatches_fill_a_task_exactly_and_the_rest_are_told_it_is_full(platform, world, volunteers_tap):
    staff, unique = world["staff"], world["unique"]
    people = [volunteer(staff, unique, f"D{n}", world["ids"]["BUILDING"]) for n in range(10)]
    job = published_task(world, people_needed=3)

    outcomes = race([lambda p=p: staff.call(f"{VOLUNTEERS}/DispatchTask", {"id": job["id"], "volunteer_ids": [p["id"]]})
                     for p in people])

    won, refused = split(outcomes)
    assert len(won) == 3 and len(refused) == 7
    assert {error.code() for error in refused} == {grpc.StatusCode.FAILED_PRECONDITION}
    assert all("task needs 3 people and has 3" in error.details() for error in refused)
    task_now = stored(platform, job["id"])
    assigned = [a["volunteer_id"] for a in task_now["assignments"]]
    assert task_now["people_dispatched"] == 3 and len(assigned) == 3 and len(set(assigned)) == 3
    assert set(assigned) == {p["id"] for p, outcome in zip(people, outcomes) if not lost(outcome)}
    assert task_now["version"] == 4  # published, then three dispatches
    events = volunteers_tap.drain(world["tenant"], {DISPATCHED: 3})
    told = [e["data"]["volunteer_ids"] for e in events if e["type"] == DISPATCHED and e["data"]["id"] == job["id"]]
    assert sorted(v for ids in told for v in ids) == sorted(assigned)


def test_one_volunteer_dispatched_at_once_by_many_lands_once_on_a_task_stored_before_versions(platform, world):
    staff, unique = world["staff"], world["unique"]
    li = volunteer(staff, unique, "Li", world["ids"]["BUILDING"])
    job = published_task(world, people_needed=5)
    database = platform.database("volunteers")
    database.tasks.update_one({"_id": job["id"]}, {"$unset": {"version": ""}})
    database.task_claims.delete_many({"_id": f"{job['id']}:0"})  # the claim of its publish, at version 0

    outcomes = race([lambda: staff.call(f"{VOLUNTEERS}/DispatchTask", {"id": job["id"], "volunteer_ids": [li["id"]]})
                     for _ in range(6)])

    won, refused = split(outcomes)
    assert len(won) == 1 and {error.code() for error in refused} == {grpc.StatusCode.FAILED_PRECONDITION}
    assert all("already dispatched to this task" in error.details() for error in refused)
    task_now = stored(platform, job["id"])
    assert [a["volunteer_id"] for a in task_now["assignments"]] == [li["id"]]
    assert task_now["people_dispatched"] == 1 and task_now["version"] == 1


def test_concurrent_offers_to_an_automatic_task_all_count_and_dispatch_only_as_many_as_needed(platform, world):
    staff, unique = world["staff"], world["unique"]
    people = [volunteer(staff, unique, f"O{n}", world["ids"]["BUILDING"]) for n in range(8)]
    job = published_task(world, people_needed=2, auto_dispatch=True)

    clients = [world["as_volunteer"](f"O{n}") for n in range(len(people))]

    outcomes = race([lambda c=c: c.call(f"{VOLUNTEERS}/OfferTask", {"id": job["id"]}) for c in clients])

    won, refused = split(outcomes)
    assert refused == [] and len(won) == 8
    task_now = stored(platform, job["id"])
    assert sorted(task_now["offers"]) == sorted(p["id"] for p in people)
    assigned = [a["volunteer_id"] for a in task_now["assignments"]]
    assert task_now["people_dispatched"] == 2 and len(assigned) == 2 and len(set(assigned)) == 2
    assert set(assigned) <= set(task_now["offers"])


def test_concurrent_check_outs_close_a_shift_once(platform, world):
    staff, unique = world["staff"], world["unique"]
    wu = volunteer(staff, unique, "Wu", world["ids"]["BUILDING"])
    job = published_task(world, people_needed=2)
    staff.call(f"{VOLUNTEERS}/DispatchTask", {"id": job["id"], "volunteer_ids": [wu["id"]]})
    start = datetime(2026, 3, 2, 8, tzinfo=timezone.utc)
    staff.call(f"{VOLUNTEERS}/CheckIn", {"task_id": job["id"], "volunteer_id": wu["id"], "time": rfc3339(start)})

    outcomes = race([lambda hours=hours: staff.call(f"{VOLUNTEERS}/CheckOut", {
        "task_id": job["id"], "volunteer_id": wu["id"], "time": rfc3339(start + timedelta(hours=hours))})
        for hours in range(1, 7)])

    won, refused = split(outcomes)
    assert len(won) == 1 and {error.code() for error in refused} == {grpc.StatusCode.FAILED_PRECONDITION}
    shift = platform.database("volunteers").shifts.find_one({"_id": f"{job['id']}-{wu['id']}"})
    assert shift["hours"] == won[0]["hours"] and shift["version"] == 1
