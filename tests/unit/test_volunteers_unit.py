"""The volunteers service's rules: the pure ones by themselves, and the handlers with their
dependencies replaced (Nameko's worker_factory)."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from nameko.testing.services import worker_factory

from services.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.volunteers import hours, matching, rotation, tasks
from services.volunteers.service import VolunteersService

STAFF = {"subject": "s", "tenant": "t1", "role": "community_staff", "scope": ["co1"]}
VOLUNTEER = {"subject": "li", "tenant": "t1", "role": "volunteer", "scope": []}
START = datetime(2030, 3, 2, 8, tzinfo=timezone.utc)
UNFILLED = "civicgrid.volunteers.task.unfilled.v1"


def stored_task(state="PUBLISHED", people_needed=2, dispatched=(), offers=(), auto_dispatch=False, **extra):
    return {"_id": "task1", "tenant": "t1", "title": "Clinic", "node_id": "g1", "ticket_id": "", "team_id": "",
            "people_needed": people_needed, "path": ["c1", "co1", "g1"], "state": state,
            "auto_dispatch": auto_dispatch, "required_skills": [], "required_certification": "",
            "start_time": START, "end_time": START + timedelta(hours=2), "offer_deadline": START,
            "offers": list(offers), "people_dispatched": len(dispatched), "feedback": [], "version": 3,
            "assignments": [{"volunteer_id": v, "dispatch_time": START} for v in dispatched], **extra}


def volunteer(volunteer_id="v1", **extra):
    return {"_id": volunteer_id, "subject": f"subject-{volunteer_id}", "display_name": volunteer_id.upper(),
            "skills": [], "certifications": [], **extra}


def shift(volunteer_id, hours_served=None, start=START):
    closed = hours_served is not None
    return {"_id": f"task1-{volunteer_id}", "volunteer_id": volunteer_id, "start_time": start,
            "end_time": start + timedelta(hours=hours_served) if closed else None,
            "hours": hours_served or 0.0}


def types(events):
    return [event["type"].split(".")[-2] for event in events]


# The rules of a task's life

def test_only_a_draft_is_published():
    operation, events = tasks.publish(stored_task(state="DRAFT"))
    assert operation == {"$set": {"state": "PUBLISHED"}} and types(events) == ["published"]
    with pytest.raises(FailedPrecondition, match="task is already PUBLISHED"):
        tasks.publish(stored_task())


def test_an_offer_for_an_automatic_task_with_room_dispatches_at_once():
    operation, events = tasks.offer(stored_task(auto_dispatch=True), volunteer())
    assert operation["$addToSet"] == {"offers": "v1"} and operation["$inc"] == {"people_dispatched": 1}
    assert types(events) == ["offered", "dispatched"]
    assert events[1]["data"]["volunteer_subjects"] == ["subject-v1"] and events[1]["data"]["automatic"] is True


def test_a_second_offer_writes_nothing_and_an_unpublished_task_is_not_found():
    assert tasks.offer(stored_task(offers=["v1"]), volunteer()) is None
    with pytest.raises(NotFound):
        tasks.offer(stored_task(state="DRAFT"), volunteer())


def test_an_offer_from_a_volunteer_who_does_not_qualify_says_why():
    task = stored_task(required_skills=[{"name": "first_aid", "min_level": 3}], required_certification="nurse")
    with pytest.raises(FailedPrecondition) as refused:
        tasks.offer(task, volunteer(skills=[{"name": "first_aid", "level": 1}]))
    assert refused.value.message == ("you do not qualify for this task: first_aid level 1 below required 3; "
                                     "has no nurse certification")
    assert matching.unfit(volunteer(skills=[{"name": "first_aid", "level": 3}]),
                          {**task, "required_certification": ""}) == ""


def test_dispatch_names_missing_and_uncertified_volunteers():
    task = stored_task(required_certification="nurse")
    with pytest.raises(NotFound) as missing:
        tasks.refuse_undispatchable(task, ["v1", "v2"], {"v1": volunteer()})
    assert missing.value.violations == [{"field": "volunteer_ids", "description": "no such volunteers: v2"}]
    with pytest.raises(FailedPrecondition) as uncertified:
        tasks.refuse_undispatchable(task, ["v1"], {"v1": volunteer()})
    assert uncertified.value.violations == [{"field": "volunteer_ids", "description": "v1: has no nurse certification"}]


def test_check_out_closes_the_shift_with_its_hours():
    operation, events = tasks.check_out(stored_task(), shift("v1"), START + timedelta(minutes=90))
    assert operation == {"$set": {"end_time": START + timedelta(minutes=90), "hours": 1.5}}
    assert types(events) == ["checked_out"] and events[0]["data"]["hours"] == 1.5


@pytest.mark.parametrize("open_shift, moment, refusal", [
    (None, START, "check in before checking out"),
    (shift("v1", 1.0), START + timedelta(hours=2), "already checked out of this task"),
    (shift("v1"), START, "time: must be after the check-in time"),
])
def test_check_out_is_refused_before_check_in_twice_or_before_the_start(open_shift, moment, refusal):
    with pytest.raises((FailedPrecondition, InvalidArgument), match=refusal):
        tasks.check_out(stored_task(), open_shift, moment)


def test_overlapping_hours_name_the_other_shift():
    tasks.refuse_overlap(None)
    other = {"task_id": "other", "start_time": START, "end_time": None}
    with pytest.raises(FailedPrecondition, match="on task other from 2030-03-02T08:00:00.000000Z to now"):
        tasks.refuse_overlap(other)


def test_a_task_completes_once_it_is_full_and_everyone_has_checked_out():
    full = stored_task(people_needed=2, dispatched=["v1", "v2"])
    assert tasks.complete(full, {"v1": shift("v1", 1.0)}) is None
    assert tasks.complete(full, {"v1": shift("v1", 1.0), "v2": shift("v2")}) is None
    assert tasks.complete(stored_task(people_needed=3, dispatched=["v1"]), {"v1": shift("v1", 1.0)}) is None
    operation, events = tasks.complete(full, {"v1": shift("v1", 1.0), "v2": shift("v2", 2.25)})
    assert operation == {"$set": {"state": "COMPLETED"}} and events[0]["data"]["hours"] == 3.25


def test_an_unfilled_task_is_raised_only_while_short_of_people():
    operation, events = tasks.unfilled(stored_task(dispatched=["v1"]), ["coord"])
    assert operation == {"$set": {"unfilled_raised": True}}
    assert types(events) == ["unfilled"] and events[0]["data"]["coordinators"] == ["coord"]
    assert tasks.unfilled(stored_task(people_needed=1, dispatched=["v1"]), []) == (operation, [])


def test_a_resident_rates_only_the_task_that_served_them_and_only_after_service():
    tasks.refuse_stranger_feedback(stored_task(served_subject="r1"), "r1")
    with pytest.raises(NotFound):
        tasks.refuse_stranger_feedback(stored_task(served_subject="r1"), "r2")
    with pytest.raises(FailedPrecondition, match="give feedback after the service"):
        tasks.refuse_feedback_before_service(False)


def test_a_volunteer_checks_in_only_themselves_and_only_now():
    me = volunteer()
    tasks.refuse_own_attendance(SimpleNamespace(volunteer_id="", time=""), me)
    with pytest.raises(PermissionDenied):
        tasks.refuse_own_attendance(SimpleNamespace(volunteer_id="v2", time=""), me)
    with pytest.raises(InvalidArgument) as late:
        tasks.refuse_own_attendance(SimpleNamespace(volunteer_id="v1", time=START), me)
    assert late.value.violations[0]["field"] == "time"


def test_a_shown_task_carries_each_assignment_with_its_shift():
    shown = tasks.shown(stored_task(dispatched=["v1", "v2"]), {"v1": shift("v1", 1.0)})
    assert shown["id"] == "task1" and "tenant" not in shown
    assert shown["assignments"][0]["hours"] == 1.0 and "check_in_time" not in shown["assignments"][1]


# Hours

def test_the_ledger_totals_hours_by_the_month_a_shift_ended():
    served = [shift("v1", 1.5, START), shift("v1", 2.0, START + timedelta(days=31))]
    ledger = hours.ledger(served)
    assert ledger["periods"] == [{"period": "2030-03", "hours": 1.5}, {"period": "2030-04", "hours": 2.0}]
    assert ledger["total_hours"] == 3.5 and [s["id"] for s in ledger["shifts"]] == ["task1-v1", "task1-v1"]


def test_the_summary_ranks_by_hours_and_averages_over_the_months_touched():
    served = [{**shift("v1", 10.0), "team_ids": ["a", "b"]}, {**shift("v2", 20.0), "team_ids": ["b"]}]
    assert hours.totals(served, "BY_TEAM") == {"a": 10.0, "b": 30.0}
    command = SimpleNamespace(start_date="2030-01-15", end_date="2030-03-01", active_hours_per_month=0.0, limit=1)
    assert hours.months_touched(command.start_date, command.end_date) == 2
    [top] = hours.ranked(hours.totals(served, "BY_VOLUNTEER"), {"v2": "Wu"}, command)
    assert top == {"id": "v2", "display_name": "Wu", "hours": 20.0, "average_hours_per_month": 10.0,
                   "active": True, "rank": 1}


def test_a_ledger_reads_one_volunteer_or_one_team():
    hours.refuse_unless_one_of("v1", "")
    with pytest.raises(InvalidArgument) as both:
        hours.refuse_unless_one_of("v1", "team")
    assert both.value.violations[0]["field"] == "volunteer_id"


# Rotation

def test_a_rotation_assignment_names_the_grid_of_the_period():
    record = {"_id": "r1", "organisation_id": "o1", "grid_ids": ["g1", "g2"], "period": "MONTH",
              "start_date": "2030-01-01"}
    assert rotation.assignment(record, "2030-02-10") == {
        "rotation_id": "r1", "organisation_id": "o1", "grid_id": "g2", "period_index": 1,
        "period_start": "2030-02-01", "period_end": "2030-03-01"}
    with pytest.raises(FailedPrecondition) as early:
        rotation.assignment(record, "2029-12-31")
    assert early.value.violations[0]["field"] == "date"


def test_a_rotation_visits_only_grids_under_its_community():
    community = {"id": "co1"}
    rotation.refuse_grid_outside(community, {"id": "g1", "kind": "GRID", "path": ["co1", "g1"]})
    for node in ({"id": "g9", "kind": "GRID", "path": ["co2", "g9"]}, {"id": "b1", "kind": "BUILDING",
                                                                       "path": ["co1", "b1"]}):
        with pytest.raises(InvalidArgument) as refused:
            rotation.refuse_grid_outside(community, node)
        assert refused.value.violations[0]["field"] == "grid_ids"


# Handlers

def changes_written(service):
    """Makes the store's `change_task` apply each change once to the task as read, noting the writes."""
    written = []

    def change_task(task, change):
        wanted = change(task)
        written.append(wanted)
        return task
    service.store.change_task.side_effect = change_task
    service.store.shifts_of_task.return_value = {}
    return written


def test_a_volunteer_without_a_profile_cannot_offer():
    service = worker_factory(VolunteersService)
    service.store.volunteer_of_subject.return_value = None
    with pytest.raises(FailedPrecondition, match="no volunteer profile signs in as li"):
        service.offer_task(VOLUNTEER, {"id": "task1"})
    service.store.change_task.assert_not_called()


def test_only_staff_or_the_teams_coordinator_dispatch():
    service = worker_factory(VolunteersService)
    service.store.tasks.get.return_value = stored_task(team_id="team")
    service.store.coordinates.return_value = False
    with pytest.raises(PermissionDenied):
        service.dispatch_task(VOLUNTEER, {"id": "task1", "volunteer_ids": ["v1"]})
    service.store.change_task.assert_not_called()


def test_a_dispatch_writes_the_assignments_with_their_event():
    service = worker_factory(VolunteersService)
    service.store.tasks.get.return_value = stored_task()
    service.store.volunteers_by_id.return_value = {"v1": volunteer("v1"), "v2": volunteer("v2")}
    written = changes_written(service)
    service.dispatch_task(STAFF, {"id": "task1", "volunteer_ids": ["v2", "v1", "v2"]})
    [(operation, events)] = written
    assert [a["volunteer_id"] for a in operation["$push"]["assignments"]["$each"]] == ["v2", "v1"]
    assert types(events) == ["dispatched"] and events[0]["data"]["volunteer_subjects"] == ["subject-v2", "subject-v1"]


def test_a_task_out_of_scope_or_missing_is_not_found_by_its_field():
    service = worker_factory(VolunteersService)
    service.store.tasks.what = "task"
    service.store.tasks.get.side_effect = NotFound("task not found")
    service.store.tasks.first.return_value = None
    with pytest.raises(NotFound) as missing:
        service.get_task(STAFF, {"id": "nope"})
    assert missing.value.violations == [{"field": "id", "description": "no such task"}]


def test_bad_task_input_names_the_field_and_writes_nothing():
    service = worker_factory(VolunteersService)
    with pytest.raises(InvalidArgument) as refused:
        service.create_task(STAFF, {"title": "T", "node_id": "g1", "start_time": "2030-03-02T10:00:00Z",
                                    "end_time": "2030-03-02T09:00:00Z", "people_needed": 1})
    assert "end_time" in refused.value.message
    service.store.tasks.create.assert_not_called()


def test_staff_record_attendance_only_for_a_named_volunteer():
    service = worker_factory(VolunteersService)
    with pytest.raises(InvalidArgument) as refused:
        service.check_in(STAFF, {"task_id": "task1"})
    assert refused.value.violations[0]["field"] == "volunteer_id"
    service.store.shifts.create.assert_not_called()


def test_a_volunteer_checks_out_only_after_checking_in():
    service = worker_factory(VolunteersService)
    service.store.volunteer_of_subject.return_value = volunteer("v1", subject="li")
    service.store.tasks.get.return_value = stored_task(dispatched=["v1"])
    service.store.shift_of.return_value = None
    with pytest.raises(FailedPrecondition, match="check in before checking out"):
        service.check_out(VOLUNTEER, {"task_id": "task1"})
    service.store.write_shift.assert_not_called()


def test_staff_read_one_ledger_at_a_time():
    service = worker_factory(VolunteersService)
    service.store.coordinates.return_value = False
    with pytest.raises(InvalidArgument) as refused:
        service.get_hours_ledger(STAFF, {"start_date": "2030-01-01", "end_date": "2030-02-01"})
    assert refused.value.violations[0]["field"] == "volunteer_id"
    service.store.closed_shifts.assert_not_called()


def test_the_unfilled_timer_raises_a_short_task_to_its_coordinators():
    service = worker_factory(VolunteersService)
    task = stored_task(team_id="team")
    service.store.unfilled_past_deadline.return_value = [task]
    service.store.coordinators_of.return_value = ["coord"]
    service.raise_unfilled_tasks()
    written, operation, events = service.store.write_task.call_args.args
    assert written is task and operation == {"$set": {"unfilled_raised": True}}
    assert [event["type"] for event in events] == [UNFILLED] and events[0]["data"]["coordinators"] == ["coord"]
