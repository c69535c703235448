"""The ticket rules without servers: transitions, clocks, priority, extra fields, figures."""
from datetime import datetime, timedelta, timezone

import pytest

from services.access import Caller
from services.errors import FailedPrecondition, InvalidArgument
from services.tickets import lifecycle, parties, schemas
from services.tickets.figures import figures_of
from services.tickets.queue_index import QueueIndex
from services.tickets.transitions import missed_deadline
from services.validation import parse

MOMENT = datetime(2026, 1, 10, 8, 0, tzinfo=timezone.utc)
CATEGORY = {"name": "Heating", "promises": [
    {"priority": "NORMAL", "first_response_minutes": 60, "resolution_minutes": 240},
    {"priority": "URGENT", "first_response_minutes": 10, "resolution_minutes": 120}],
    "extra_fields": [{"name": "room", "type": "STRING", "required": True},
                     {"name": "temperature", "type": "NUMBER", "required": False},
                     {"name": "medical", "type": "BOOLEAN", "required": False}]}


@pytest.mark.parametrize("verb, state, allowed", [
    ("triage", "SUBMITTED", True), ("triage", "TRIAGED", False), ("start", "TRIAGED", False),
    ("resolve", "IN_PROGRESS", True), ("feedback", "IN_PROGRESS", False), ("close", "SUBMITTED", False),
    ("close", "DUPLICATE", True), ("reopen", "CLOSED", True), ("assign", "RESOLVED", False),
])
def test_transitions_follow_the_state_machine(verb, state, allowed):
    if allowed:
        lifecycle.require_state(verb, {"state": state})
    else:
        with pytest.raises(FailedPrecondition):
            lifecycle.require_state(verb, {"state": state})


def test_closing_reason_must_fit_the_state():
    lifecycle.require_closing_reason({"state": "DUPLICATE"}, "DUPLICATE_REPORT")
    with pytest.raises(InvalidArgument):
        lifecycle.require_closing_reason({"state": "REJECTED"}, "FIXED")


def test_vulnerable_tags_raise_priority_one_step_up_to_urgent():
    assert lifecycle.raised_priority("NORMAL", ["elderly", "veteran"]) == ("HIGH", ["elderly"])
    assert lifecycle.raised_priority("URGENT", ["disabled"]) == ("URGENT", ["disabled"])
    assert lifecycle.raised_priority("LOW", ["child"]) == ("LOW", [])


def test_promise_falls_back_to_normal():
    assert lifecycle.promise_for(CATEGORY, "URGENT")["resolution_minutes"] == 120
    assert lifecycle.promise_for(CATEGORY, "HIGH")["resolution_minutes"] == 240


def test_clock_pauses_keeps_what_is_left_and_escalates_with_a_full_new_clock():
    promise = lifecycle.promise_for(CATEGORY, "NORMAL")
    clock = lifecycle.new_clock(promise, "FIRST_RESPONSE", "GRID", MOMENT)
    assert clock["due_at"] == MOMENT + timedelta(minutes=60)
    assert clock["warn_at"] == MOMENT + timedelta(minutes=45)
    paused = lifecycle.paused_clock(clock, "waiting for the resident", MOMENT + timedelta(minutes=20))
    assert paused["remaining_seconds"] == 40 * 60 and lifecycle.queue_due(paused) == lifecycle.NO_DEADLINE
    with pytest.raises(FailedPrecondition):
        lifecycle.paused_clock(paused, "again", MOMENT)
    resumed = lifecycle.resumed_clock(paused, MOMENT + timedelta(hours=5))
    assert resumed["due_at"] == MOMENT + timedelta(hours=5, minutes=40)
    ticket = {"state": "SUBMITTED", "clock": resumed, "promise": promise}
    escalated = lifecycle.escalated_clock(ticket, MOMENT + timedelta(hours=6))
    assert escalated["level"] == "COMMUNITY" and escalated["due_at"] == MOMENT + timedelta(hours=7)
    with pytest.raises(FailedPrecondition):
        lifecycle.escalated_clock({"state": "SUBMITTED", "clock": {**escalated, "level": "STREET"},
                                   "promise": promise}, MOMENT)


def test_missed_deadline_escalates_below_street_and_only_marks_at_street():
    promise = lifecycle.promise_for(CATEGORY, "NORMAL")
    ticket = {"state": "ASSIGNED", "promise": promise, "clock": lifecycle.new_clock(promise, "RESOLUTION",
                                                                                    "GRID", MOMENT)}
    changes, steps = missed_deadline(ticket, MOMENT + timedelta(hours=5))
    assert changes["level"] == "COMMUNITY" and [s.action for s in steps] == ["deadline_missed", "escalated"]
    at_top = {**ticket, "clock": {**ticket["clock"], "level": "STREET"}}
    changes, steps = missed_deadline(at_top, MOMENT + timedelta(hours=5))
    assert changes["clock"]["missed_notified"] is True and [s.action for s in steps] == ["deadline_missed"]


def test_extra_fields_are_checked_against_the_category():
    assert lifecycle.checked_extra(CATEGORY, {"room": "hall", "temperature": 11.5, "medical": True})
    with pytest.raises(InvalidArgument) as raised:
        lifecycle.checked_extra(CATEGORY, {"temperature": True, "medical": 1, "colour": "red"})
    assert {v["field"] for v in raised.value.violations} == {
        "extra.room", "extra.temperature", "extra.medical", "extra.colour"}


def test_percentiles_and_medians():
    assert lifecycle.median([3, 1, 2, 4]) == 2.5
    assert lifecycle.percentile(list(range(1, 11)), 0.9) == 9
    assert lifecycle.duration_figures([]) == {"count": 0, "median_minutes": 0.0, "p90_minutes": 0.0}


def test_figures_of_known_rows():
    stored = [
        {"category_id": "c", "state": "CLOSED", "create_time": MOMENT, "queue_due": lifecycle.NO_DEADLINE,
         "first_response_time": MOMENT + timedelta(minutes=10), "resolve_time": MOMENT + timedelta(hours=2),
         "feedback": {"satisfaction": 4}},
        {"category_id": "c", "state": "ASSIGNED", "create_time": MOMENT, "queue_due": MOMENT,
         "first_response_time": MOMENT + timedelta(minutes=30)},
    ]
    index = QueueIndex()
    rows = [index.entry_of({"_id": f"t{number}", "tenant": "t1", "kind": "REQUEST", "priority": "NORMAL", **row})
            for number, row in enumerate(stored)]
    figures = figures_of(rows, MOMENT + timedelta(days=1))
    assert figures["total"] == 2 and figures["completion_rate"] == 0.5 and figures["overdue_count"] == 1
    assert figures["first_response"]["median_minutes"] == 20 and figures["resolution"]["p90_minutes"] == 120
    assert figures["satisfaction_average"] == 4


def test_cross_field_rules_name_their_field():
    with pytest.raises(InvalidArgument) as raised:
        parse(schemas.Close, {"id": "t1", "closing_reason": "NOT_OUR_RESPONSIBILITY"})
    assert raised.value.violations == [{"field": "referred_to",
                                        "description": "is required with NOT_OUR_RESPONSIBILITY"}]
    with pytest.raises(InvalidArgument) as raised:
        parse(schemas.Triage, {"id": "t1", "decision": "MARK_DUPLICATE", "duplicate_of": "t1"})
    assert raised.value.violations[0]["field"] == "duplicate_of"


def test_filters_are_combined_flat_where_keys_do_not_clash():
    from services.queries import combined
    scoped = {"$and": [{"tenant": "t"}, {"path": {"$in": ["g1"]}}]}
    assert combined(scoped, {"path": "b1"}, {"state": {"$in": ["SUBMITTED"]}}) == {
        "tenant": "t", "path": {"$in": ["g1"]}, "state": {"$in": ["SUBMITTED"]}, "$and": [{"path": "b1"}]}
    assert combined({"tenant": "t"}, {"kind": "HAZARD"}) == {"tenant": "t", "kind": "HAZARD"}


# Who reads what of a ticket


def a_shown_ticket():
    return {"id": "t1", "path": ["c", "g1", "b1", "f301"], "state": "RESOLVED", "description": "Water from above",
            "reporter_subject": "resident-li", "reporter_resident_id": "r-li", "assignee_subject": "worker-1",
            "assignee_organisation_id": "", "priority_raised_for": ["elderly", "living_alone"],
            "household_ids": ["hh301", "hh401", "hh501"], "organisation_ids": ["property-a"], "followers": ["f-1"],
            "timeline": [
                {"action": "created", "actor": "resident-li", "note": "priority raised to HIGH for elderly"},
                {"action": "party_added", "actor": "worker-1", "note": "household hh501 involved"},
                {"action": "followed", "actor": "resident-401", "note": "upstairs too"},
                {"action": "resolved", "actor": "worker-1", "note": "valve replaced"}]}


def test_a_household_party_reads_its_case_without_what_is_not_theirs():
    resident = Caller(subject="resident-401", tenant="t1", role="resident", scope=("f401",), household_id="hh401")
    seen = parties.as_seen_by(resident, a_shown_ticket())
    assert seen["household_ids"] == ["hh401"] and seen["organisation_ids"] == ["property-a"]
    assert {"priority_raised_for", "reporter_subject", "reporter_resident_id", "assignee_subject"}.isdisjoint(seen)
    assert seen["followers"] == []
    assert seen["timeline"] == [{"action": "created"}, {"action": "party_added"},
                                {"action": "followed", "actor": "resident-401", "note": "upstairs too"},
                                {"action": "resolved", "note": "valve replaced"}]


def test_staff_the_assignee_and_the_reporter_read_the_whole_ticket():
    for caller in (Caller(subject="worker-2", tenant="t1", role="grid_worker", scope=("g1",)),
                   Caller(subject="worker-1", tenant="t1", role="grid_worker", scope=()),
                   Caller(subject="resident-li", tenant="t1", role="resident", scope=("f301",))):
        assert parties.as_seen_by(caller, a_shown_ticket()) == a_shown_ticket(), caller


def test_a_household_claim_is_an_identity_and_households_are_parties():
    resident = Caller(subject="resident-401", tenant="t1", role="resident", household_id="hh401")
    assert parties.identities(resident) == {"resident-401", "household:hh401"}
    stored = {**a_shown_ticket(), "assignee_subject": "", "followers": []}
    assert parties.involved(stored) == ["household:hh301", "household:hh401", "household:hh501", "property-a",
                                        "resident-li"]
    assert parties.sees(resident, stored)
    assert not parties.sees(resident.model_copy(update={"household_id": "hh601"}), stored)


def test_only_staff_see_a_ticket_for_being_near_it():
    ticket = {**a_shown_ticket(), "reporter_subject": "someone", "assignee_subject": "", "followers": [],
              "household_ids": [], "organisation_ids": []}
    assert parties.sees(Caller(subject="w", tenant="t1", role="grid_worker", scope=("g1",)), ticket)
    for role in ("resident", "partner", "volunteer"):
        assert not parties.sees(Caller(subject="x", tenant="t1", role=role, scope=("f301",)), ticket), role
