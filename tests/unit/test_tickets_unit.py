"""The tickets service's rules with its dependencies replaced (Nameko's worker_factory), and the
rules of its pure modules: who may act, what each transition writes, volunteer task steps."""
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import worker_factory

from services.access import Caller
from services.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.tickets import figures, lifecycle, parties, schemas, tasks, transitions
from services.tickets.queue_index import QueueIndex, millis
from services.tickets.service import TicketsService
from services.tickets.timeline import SUMMARY_LENGTH, SYSTEM, summary_of
from services.validation import parse

MOMENT = datetime(2026, 1, 10, 8, 0, tzinfo=timezone.utc)
OPERATOR = {"subject": "operator-1", "tenant": "t1", "role": "city_operator", "scope": ["*"]}
WORKER = {"subject": "worker-1", "tenant": "t1", "role": "grid_worker", "scope": ["g1"]}
RESIDENT = {"subject": "resident-li", "tenant": "t1", "role": "resident", "scope": ["f1"]}
STRANGER = {"subject": "stranger", "tenant": "t1", "role": "grid_worker", "scope": ["g2"]}
ORGANISATION = {"subject": "plumber", "tenant": "t1", "role": "partner", "scope": [], "grants": ["org:o1"]}
CATEGORY = {"_id": "c1", "name": "Heating", "routing": {"assignee_kind": "GRID_WORKER", "organisation_id": ""},
            "promises": [{"priority": "NORMAL", "first_response_minutes": 60, "resolution_minutes": 240}]}
PLACE = {"id": "f1", "path": ["c", "g1", "b1", "f1"], "building_id": "b1"}


def ticket(state="SUBMITTED", **fields):
    """A stored ticket reported by the resident, as `transitions.opened` makes it, in `state`."""
    command = parse(schemas.CreateTicket, {"kind": "REQUEST", "channel": "SELF_SERVICE", "category_id": "c1",
                                           "node_id": "f1", "description": "The radiator is cold"})
    opened, _ = transitions.opened(Caller.of(RESIDENT), command, CATEGORY, {}, "resident-li", PLACE, [], MOMENT)
    stored = {**opened, "_id": opened.pop("id"), "tenant": "t1", "state": state, **fields}
    return {**stored, "involved": parties.involved(stored)}


def entry(state="SUBMITTED", **fields):
    """The queue index entry of `ticket(state, **fields)`, created at MOMENT."""
    return QueueIndex().entry_of({"create_time": MOMENT, **ticket(state, **fields)})


def tickets_service(stored=None):
    """The service over a store holding `stored`, whose transitions write what they are given."""
    service = worker_factory(TicketsService)
    service.store.find_ticket.return_value = stored
    service.store.transition.side_effect = lambda before, changes, entries, events: {
        **before, **changes, "timeline": [*before["timeline"], *entries], "outbox": events}
    return service


def written(service):
    """What the one transition the service wrote changed, its timeline entries and its events."""
    service.store.transition.assert_called_once()
    _, changes, entries, events = service.store.transition.call_args.args
    return changes, entries, events


# Handlers


def test_only_staff_of_the_place_triage():
    service = tickets_service(ticket())
    with pytest.raises(PermissionDenied):
        service.triage_ticket(RESIDENT, {"id": "t", "decision": "ACCEPT"})
    service.store.transition.assert_not_called()


def test_a_ticket_out_of_scope_is_not_found_by_its_field():
    service = tickets_service(ticket())
    with pytest.raises(NotFound) as raised:
        service.get_ticket(STRANGER, {"id": "t"})
    assert raised.value.violations == [{"field": "id", "description": "no such ticket"}]
    service.store.find_ticket.return_value = None
    with pytest.raises(NotFound):
        service.get_ticket(OPERATOR, {"id": "t"})


def test_a_duplicate_that_does_not_exist_is_not_found_as_duplicate_of():
    original = ticket()
    service = tickets_service()
    service.store.find_ticket.side_effect = lambda tenant, ticket_id: original if ticket_id == "t" else None
    with pytest.raises(NotFound) as raised:
        service.triage_ticket(WORKER, {"id": "t", "decision": "MARK_DUPLICATE", "duplicate_of": "gone"})
    assert raised.value.violations[0]["field"] == "duplicate_of"
    service.store.transition.assert_not_called()


def test_cross_field_rules_are_invalid_argument_before_anything_is_read():
    service = tickets_service(ticket())
    with pytest.raises(InvalidArgument) as raised:
        service.triage_ticket(WORKER, {"id": "t", "decision": "REJECT"})
    assert raised.value.violations == [{"field": "reason", "description": "is required to reject"}]
    with pytest.raises(InvalidArgument) as raised:
        service.add_ticket_party(WORKER, {"id": "t"})
    assert raised.value.violations[0]["field"] == "household_id"
    service.store.find_ticket.assert_not_called()


def test_a_transition_from_a_wrong_state_writes_nothing():
    service = tickets_service(ticket("TRIAGED"))
    with pytest.raises(FailedPrecondition):
        service.triage_ticket(WORKER, {"id": "t", "decision": "ACCEPT"})
    with pytest.raises(FailedPrecondition):
        service.close_ticket(WORKER, {"id": "t", "closing_reason": "FIXED"})
    service.store.transition.assert_not_called()


def test_triage_writes_the_state_its_timeline_entry_and_its_event_together():
    service = tickets_service(ticket())
    shown = service.triage_ticket(WORKER, {"id": "t", "decision": "ACCEPT", "note": "on it"})
    changes, entries, events = written(service)
    assert changes["state"] == "TRIAGED" and changes["clock"]["stage"] == "RESOLUTION"
    assert [(e["action"], e["from_state"], e["to_state"], e["actor"]) for e in entries] == [
        ("triaged", "SUBMITTED", "TRIAGED", "worker-1")]
    assert [e["type"] for e in events] == ["civicgrid.tickets.ticket.triaged.v1"]
    assert events[0]["data"]["previous_state"] == "SUBMITTED" and events[0]["data"]["note"] == "on it"
    assert shown["state"] == "TRIAGED" and "outbox" not in shown and "involved" not in shown


def test_only_the_assignee_resolves():
    service = tickets_service(ticket("IN_PROGRESS", assignee_organisation_id="o1"))
    with pytest.raises(PermissionDenied):
        service.resolve_ticket(WORKER, {"id": "t", "resolution": "bled the radiator"})
    service.resolve_ticket(ORGANISATION, {"id": "t", "resolution": "bled the radiator"})
    changes, _, events = written(service)
    assert changes["state"] == "RESOLVED" and changes["clock"] is None
    assert events[0]["data"]["resolution"] == "bled the radiator"


def test_a_low_score_reopens_the_ticket_with_a_call_back():
    service = tickets_service(ticket("RESOLVED", assignee_subject="worker-1"))
    with pytest.raises(PermissionDenied):
        service.submit_ticket_feedback(WORKER, {"id": "t", "satisfaction": 1})
    service.submit_ticket_feedback(RESIDENT, {"id": "t", "satisfaction": 1, "comment": "still cold"})
    changes, entries, events = written(service)
    assert changes["state"] == "ASSIGNED" and changes["callback_requested"] is True
    assert [(e["from_state"], e["to_state"]) for e in entries] == [("RESOLVED", "FEEDBACK"), ("FEEDBACK", "ASSIGNED")]
    assert [e["type"] for e in events] == ["civicgrid.tickets.ticket.feedback_given.v1",
                                           "civicgrid.tickets.ticket.reopened.v1"]


def test_a_lost_race_is_failed_precondition():
    service = tickets_service(ticket())
    service.store.transition.side_effect = None
    service.store.transition.return_value = None
    with pytest.raises(FailedPrecondition, match="changed while this request ran"):
        service.triage_ticket(WORKER, {"id": "t", "decision": "ACCEPT"})


def test_following_twice_writes_once():
    service = tickets_service(ticket(followers=["worker-1"]))
    assert service.follow_ticket(WORKER, {"id": "t"})["followers"] == ["worker-1"]
    service.store.transition.assert_not_called()


def test_a_resident_reports_only_as_themselves_through_self_service():
    service = tickets_service()
    service.store.categories.get.return_value = CATEGORY
    request = {"kind": "REQUEST", "category_id": "c1", "node_id": "f1", "description": "cold"}
    with pytest.raises(InvalidArgument) as raised:
        service.create_ticket(RESIDENT, {**request, "channel": "HOTLINE"})
    assert raised.value.violations[0]["field"] == "channel"
    with pytest.raises(InvalidArgument) as raised:
        service.create_ticket(RESIDENT, {**request, "channel": "SELF_SERVICE", "reporter_subject": "someone"})
    assert raised.value.violations[0]["field"] == "reporter_subject"
    service.store.create_ticket.assert_not_called()


def test_volunteers_are_requested_only_for_an_open_ticket():
    service = tickets_service(ticket("CLOSED"))
    with pytest.raises(FailedPrecondition, match="needs no more hands"):
        service.request_volunteers(WORKER, {"id": "t", "title": "Carry", "start_time": "a", "end_time": "b",
                                            "people_needed": 2})
    service.volunteers.create_task.assert_not_called()


def test_a_task_event_about_another_ticket_is_ignored_and_one_about_ours_noted_once():
    service = tickets_service(ticket())
    service.store.was_handled.return_value = False
    service.store.has_ticket.return_value = False
    event = {"id": "e1", "tenant": "t1", "type": "civicgrid.volunteers.task.completed.v1",
             "data": {"ticket_id": "t", "id": "task1", "title": "Carry", "hours": 2.5}}
    service.on_volunteer_task(event)
    service.store.transition.assert_not_called()
    service.store.has_ticket.return_value = True
    service.on_volunteer_task(event)
    changes, entries, events = written(service)
    assert changes["volunteer_task_ids"] == ["task1"] and changes["task_events_applied"] == ["e1"]
    assert entries[0]["note"] == "Carry: done, 2.5 hours served" and entries[0]["actor"] == SYSTEM
    assert events[0]["data"]["task_step"] == "volunteer_task_completed"


def test_the_timer_announces_an_approaching_deadline_as_the_system():
    service = tickets_service()
    service.store.deadlines_due.return_value = ([ticket()], [])
    service.store.open_counts.return_value = {}
    service.store.overdue_count.return_value = 0
    service.watch_deadlines()
    changes, entries, events = written(service)
    assert changes["clock"]["approaching_notified"] is True and entries[0]["actor"] == SYSTEM
    assert [e["type"] for e in events] == ["civicgrid.tickets.ticket.deadline_approaching.v1"]
    service.store.release_stale_claims.assert_called_once()


# Pure rules


def test_only_staff_or_the_organisation_read_an_organisations_queue():
    command = parse(schemas.ListTickets, {"queue": "ORGANISATION_QUEUE", "organisation_id": "o1"})
    theirs = entry(organisation_ids=["o1"])
    elsewhere = entry(organisation_ids=["o1"], path=["c", "g2"])
    assert parties.in_queue(Caller.of(ORGANISATION), command)(elsewhere)
    assert parties.in_queue(Caller.of(OPERATOR), command)(theirs)
    assert not parties.in_queue(Caller.of(WORKER), command)(elsewhere)
    with pytest.raises(PermissionDenied):
        parties.in_queue(Caller.of(RESIDENT), command)
    mine = parties.in_queue(Caller.of(ORGANISATION), parse(schemas.ListTickets, {"queue": "MINE"}))
    assert not mine(entry()) and mine(entry(followers=["plumber"])) and mine(theirs)


def test_everyone_involved_sees_the_ticket_and_finds_it_in_their_queue():
    assigned = ticket(assignee_organisation_id="o1", followers=["neighbour"])
    assert parties.involved(assigned) == ["neighbour", "o1", "resident-li"]
    assert parties.sees(Caller.of(ORGANISATION), {**assigned, "involved": parties.involved(assigned)})
    assert not parties.sees(Caller.of(STRANGER), assigned)


def test_assigning_without_a_name_follows_the_category_routing():
    routed = ticket("TRIAGED", routing={"assignee_kind": "ORGANISATION", "organisation_id": "o1"})
    changes, steps = transitions.assigned(routed, parse(schemas.Assign, {"id": "t"}), Caller.of(WORKER))
    assert changes == {"assignee_subject": "", "assignee_organisation_id": "o1", "organisation_ids": ["o1"]}
    changes, steps = transitions.assigned(ticket("TRIAGED"), parse(schemas.Assign, {"id": "t"}), Caller.of(WORKER))
    assert changes["assignee_subject"] == "worker-1" and steps[0].note == "assigned to worker-1"


def test_a_transition_is_written_with_its_parties_queue_order_and_a_step_each():
    before = ticket("ASSIGNED", assignee_subject="worker-1")
    changes, steps = transitions.missed_deadline(before, MOMENT + timedelta(hours=2))
    changes, entries, events = transitions.written(before, changes, steps, MOMENT, SYSTEM, SYSTEM)
    assert changes["level"] == "COMMUNITY" and changes["queue_due"] == changes["clock"]["due_at"]
    assert changes["involved"] == ["resident-li", "worker-1"]
    assert [e["action"] for e in entries] == ["deadline_missed", "escalated"]
    assert events[1]["data"]["previous_level"] == "GRID"


def test_the_closing_reason_must_fit_the_state_closed_from():
    with pytest.raises(InvalidArgument) as raised:
        transitions.closed(ticket("REJECTED"), parse(schemas.Close, {"id": "t", "closing_reason": "FIXED"}), MOMENT)
    assert raised.value.violations[0]["field"] == "closing_reason"


def test_a_volunteer_task_step_is_noted_once():
    opened = ticket()
    changes, steps = tasks.task_step(opened, "task1", tasks.REQUESTED, "Carry: 2 people",
                                     tasks.details({"title": "Carry", "people_needed": 2}))
    assert changes == {"volunteer_task_ids": ["task1"]} and steps[0].data == {"task_id": "task1",
                                                                            "task_step": tasks.REQUESTED}
    noted = {**opened, **changes, "task_events_applied": ["e1"]}
    assert tasks.task_step(noted, "task1", tasks.REQUESTED, "again", {}) is None
    assert tasks.task_step(noted, "task1", "volunteer_checked_in", "in", {}, event_id="e1") is None
    assert tasks.note({"title": "Carry", "volunteer_id": "v1"}) == "Carry: volunteer v1 checked in"
    assert tasks.note({"title": "Carry", "rating": 5}) == "Carry: rated 5/5 by the person served"


def test_figures_count_the_period_under_the_node():
    command = parse(schemas.Figures, {"node_id": "g1", "start_time": "2026-01-01T00:00:00Z",
                                      "end_time": "2026-02-01T00:00:00Z"})
    counted = figures.counted(Caller.of(OPERATOR), command)
    assert counted(entry())
    assert not counted(entry(path=["c", "g2", "f2"]))
    assert not counted(entry(create_time=datetime(2026, 2, 1, tzinfo=timezone.utc)))
    assert figures.minutes_between(millis(MOMENT), millis(MOMENT.replace(tzinfo=None) + timedelta(minutes=90))) == 90
    assert lifecycle.queue_due(None) == lifecycle.NO_DEADLINE


def test_a_ticket_is_named_in_messages_by_the_start_of_its_description():
    assert summary_of("  3号楼电梯困人\n已拨打维保电话  ") == "3号楼电梯困人"
    long = "楼" * 60
    assert summary_of(long) == "楼" * (SUMMARY_LENGTH - 1) + "…" and len(summary_of(long)) == SUMMARY_LENGTH
