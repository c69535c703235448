"""A ticket that needs hands: RequestVolunteers creates a linked volunteer task, and the task's
dispatch, attendance, completion and feedback appear on the ticket's timeline — through the
real gateway, tickets and volunteers services, RabbitMQ and MongoDB/FerretDB."""
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from tests.support.errors import field_violations, rpc_error
from tests.support.polling import eventually
from tests.support.town import TICKETS, Town

pytestmark = pytest.mark.integration
VOLUNTEERS = "civicgrid.volunteers.v1.Volunteers"
TASK_ACTIONS = ["volunteers_requested", "volunteers_dispatched", "volunteer_checked_in", "volunteer_checked_out",
                "volunteer_task_completed", "volunteer_feedback_given"]


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def window(hours_from_now=1, hours=2):
    start = datetime.now(timezone.utc) + timedelta(hours=hours_from_now)
    return {"start_time": rfc3339(start), "end_time": rfc3339(start + timedelta(hours=hours))}


def timeline_until(client, ticket_id, actions, timeout=20):
    """The ticket's timeline once it holds every action (the task's events arrive asynchronously)."""
    def timeline():
        return client.call(f"{TICKETS}/ListTicketTimeline", {"id": ticket_id})["entries"]
    eventually(lambda: set(actions) <= {e["action"] for e in timeline()}, timeout, interval=0.3)
    return timeline()


@pytest.fixture
def town(platform, unique):
    return Town(platform, unique, prefix="tv")


def test_a_ticket_that_needs_hands_follows_its_volunteer_task_to_the_outcome(platform, town, unique):
    ticket = town.report()
    volunteer = town.operator.call(f"{VOLUNTEERS}/CreateVolunteer", {
        "subject": f"li-{unique}", "display_name": "Li", "home_node_id": town.ids["BUILDING"],
        "skills": [{"name": "plumbing", "level": 3}]})
    team = town.operator.call(f"{VOLUNTEERS}/CreateTeam", {
        "display_name": "Red Butler", "purpose": "OTHER", "node_id": town.ids["GRID"],
        "coordinators": [f"coordinator-{unique}"], "member_ids": [volunteer["id"]]})

    request = {"id": ticket["id"], "request_id": "hands-1", "title": "Carry the radiator", "people_needed": 1,
               "team_id": team["id"], "required_skills": [{"name": "plumbing", "min_level": 2}], **window()}
    asked = town.worker.call(f"{TICKETS}/RequestVolunteers", request)
    [task_id] = asked["volunteer_task_ids"]
    assert town.worker.call(f"{TICKETS}/RequestVolunteers", request)["volunteer_task_ids"] == [task_id]
    task = town.operator.call(f"{VOLUNTEERS}/GetTask", {"id": task_id})
    assert (task["ticket_id"], task["node_id"], task["served_subject"], task["team_id"]) == \
        (ticket["id"], town.ids["BUILDING"], "resident-li", team["id"])

    town.worker.call(f"{VOLUNTEERS}/PublishTask", {"id": task_id})
    coordinator = platform.client(tenant=town.tenant, role="volunteer", scope=(), subject=f"coordinator-{unique}")
    coordinator.call(f"{VOLUNTEERS}/DispatchTask", {"id": task_id, "volunteer_ids": [volunteer["id"]]})
    li = platform.client(tenant=town.tenant, role="volunteer", scope=(), subject=f"li-{unique}")
    li.call(f"{VOLUNTEERS}/CheckIn", {"task_id": task_id})
    li.call(f"{VOLUNTEERS}/CheckOut", {"task_id": task_id})
    assert town.operator.call(f"{VOLUNTEERS}/GetTask", {"id": task_id})["state"] == "COMPLETED"
    town.resident.call(f"{VOLUNTEERS}/GiveFeedback", {"task_id": task_id, "rating": 5, "comment": "warm again"})

    entries = timeline_until(town.resident, ticket["id"], TASK_ACTIONS)
    task_entries = [e for e in entries if e["action"] in TASK_ACTIONS]
    assert sorted(e["action"] for e in task_entries) == sorted(TASK_ACTIONS)
    assert [e["action"] for e in task_entries if e["action"] == "volunteers_requested"] == ["volunteers_requested"]
    outcome = {e["action"]: e for e in task_entries}
    assert "rated 5/5" in outcome["volunteer_feedback_given"]["note"]
    assert outcome["volunteer_feedback_given"]["details"]["rating"] == "5"
    assert outcome["volunteers_requested"]["details"] | {"people_dispatched": "0"} == {
        "title": "Carry the radiator", "people_needed": "1", "people_dispatched": "0"}
    assert outcome["volunteers_dispatched"]["details"]["dispatched"] == "1"
    assert outcome["volunteer_task_completed"]["actor"] == "system"
    assert town.resident.call(f"{TICKETS}/GetTicket", {"id": ticket["id"]})["volunteer_task_ids"] == [task_id]


def test_volunteers_are_asked_only_for_open_tickets_in_reach_with_a_valid_task(platform, town, unique):
    ticket = town.report()
    for bad, field in (({"people_needed": 0}, "people_needed"),
                       ({"start_time": window()["end_time"], "end_time": window()["start_time"]}, "end_time"),
                       ({"team_id": "no-such-team"}, "team_id")):
        body = {"id": ticket["id"], "title": "Help", "people_needed": 1, **window(), **bad}
        error = rpc_error(lambda: town.worker.call(f"{TICKETS}/RequestVolunteers", body))
        assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), bad
        assert field in " ".join(field_violations(error)) + error.details(), bad
    resident_asks = rpc_error(lambda: town.resident.call(f"{TICKETS}/RequestVolunteers", {
        "id": ticket["id"], "title": "Help", "people_needed": 1, **window()}))
    assert resident_asks.code() == grpc.StatusCode.PERMISSION_DENIED
    outsider = platform.client(tenant=f"elsewhere-{unique}", role="grid_worker", scope=("*",), subject="w")
    assert rpc_error(lambda: outsider.call(f"{TICKETS}/RequestVolunteers", {
        "id": ticket["id"], "title": "Help", "people_needed": 1, **window()})).code() == grpc.StatusCode.NOT_FOUND
    direct = rpc_error(lambda: town.operator.call(f"{VOLUNTEERS}/CreateTask", {
        "title": "Help", "node_id": town.ids["BUILDING"], "people_needed": 1, "ticket_id": "no-such-ticket",
        **window()}))
    assert direct.code() == grpc.StatusCode.NOT_FOUND and "ticket_id" in field_violations(direct)
    assert platform.database("volunteers").tasks.count_documents({"tenant": town.tenant}) == 0
    assert town.operator.call(f"{TICKETS}/GetTicket", {"id": ticket["id"]}).get("volunteer_task_ids", []) == []
