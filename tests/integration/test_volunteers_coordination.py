"""Team coordinators dispatching their team's tasks, and social organisations rotating across
grids by period, through the real gateway, services, RabbitMQ and MongoDB/FerretDB."""
from datetime import date, timedelta

import grpc
import pytest

from tests.support.errors import rpc_error
from tests.support.volunteering import VOLUNTEERS, next_weekday, task, volunteer

pytestmark = pytest.mark.integration
TODAY = date.today()


def published(staff, node_id, **extra):
    created = task(staff, node_id, next_weekday(5), **extra)
    return staff.call(f"{VOLUNTEERS}/PublishTask", {"id": created["id"]})


def test_a_teams_coordinator_dispatches_ranks_and_sees_its_tasks_and_hours(world):
    staff, ids, unique = world["staff"], world["ids"], world["unique"]
    li = volunteer(staff, unique, "Li", ids["BUILDING"], skills=[("first_aid", 4)])
    wu = volunteer(staff, unique, "Wu", ids["BUILDING"], skills=[("first_aid", 3)])
    team = staff.call(f"{VOLUNTEERS}/CreateTeam", {
        "display_name": "Angel", "purpose": "MEDICAL", "node_id": ids["COMMUNITY"],
        "coordinators": [f"{unique}-Wu"], "member_ids": [li["id"], wu["id"]]})
    teams_task = published(staff, ids["BUILDING"], team_id=team["id"])
    other_task = published(staff, ids["BUILDING"])
    coordinator, member = world["as_volunteer"]("Wu"), world["as_volunteer"]("Li")

    ranked = coordinator.call(f"{VOLUNTEERS}/RankVolunteers", {"task_id": teams_task["id"]})
    assert {r["volunteer_id"] for r in ranked["rankings"]} == {li["id"], wu["id"]}
    dispatched = coordinator.call(f"{VOLUNTEERS}/DispatchTask", {"id": teams_task["id"], "volunteer_ids": [li["id"]]})
    assert [a["volunteer_id"] for a in dispatched["assignments"]] == [li["id"]]
    assert coordinator.call(f"{VOLUNTEERS}/GetTask", {"id": teams_task["id"]})["id"] == teams_task["id"]
    listed = coordinator.call(f"{VOLUNTEERS}/ListTasks", {})["tasks"]
    assert [t["id"] for t in listed] == [teams_task["id"]]

    member.call(f"{VOLUNTEERS}/CheckIn", {"task_id": teams_task["id"]})
    member.call(f"{VOLUNTEERS}/CheckOut", {"task_id": teams_task["id"]})
    ledger = coordinator.call(f"{VOLUNTEERS}/GetHoursLedger", {
        "team_id": team["id"], "start_date": TODAY.isoformat(),
        "end_date": (TODAY + timedelta(days=1)).isoformat()})
    assert [s["volunteer_id"] for s in ledger["shifts"]] == [li["id"]]

    for call in (lambda: member.call(f"{VOLUNTEERS}/DispatchTask", {"id": teams_task["id"],
                                                                     "volunteer_ids": [wu["id"]]}),
                 lambda: member.call(f"{VOLUNTEERS}/RankVolunteers", {"task_id": teams_task["id"]}),
                 lambda: coordinator.call(f"{VOLUNTEERS}/DispatchTask", {"id": other_task["id"],
                                                                          "volunteer_ids": [wu["id"]]}),
                 lambda: member.call(f"{VOLUNTEERS}/GetHoursLedger", {
                     "team_id": team["id"], "start_date": TODAY.isoformat(),
                     "end_date": (TODAY + timedelta(days=1)).isoformat()})):
        assert rpc_error(call).code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(lambda: coordinator.call(f"{VOLUNTEERS}/GetTask", {"id": other_task["id"]})).code() \
        == grpc.StatusCode.NOT_FOUND
    untouched = staff.call(f"{VOLUNTEERS}/GetTask", {"id": other_task["id"]})
    assert untouched.get("assignments", []) == []


def test_a_coordinator_without_a_staff_role_needs_no_volunteer_profile(world, platform):
    staff, ids, unique = world["staff"], world["ids"], world["unique"]
    li = volunteer(staff, unique, "Li", ids["BUILDING"])
    team = staff.call(f"{VOLUNTEERS}/CreateTeam", {
        "display_name": "Red Butler", "purpose": "OTHER", "node_id": ids["COMMUNITY"],
        "coordinators": [f"coordinator-{unique}"], "member_ids": [li["id"]]})
    teams_task = published(staff, ids["BUILDING"], team_id=team["id"])
    partner = platform.client(tenant=world["tenant"], role="volunteer", scope=(), subject=f"coordinator-{unique}")
    after = partner.call(f"{VOLUNTEERS}/DispatchTask", {"id": teams_task["id"], "volunteer_ids": [li["id"]]})
    assert after["assignments"][0]["volunteer_id"] == li["id"]
    stranger = platform.client(tenant=f"other-{unique}", role="volunteer", scope=(),
                               subject=f"coordinator-{unique}")
    assert rpc_error(lambda: stranger.call(f"{VOLUNTEERS}/DispatchTask", {
        "id": teams_task["id"], "volunteer_ids": [li["id"]]})).code() == grpc.StatusCode.NOT_FOUND


def test_organisations_rotate_across_grids_and_the_report_shows_who_is_behind(world):
    staff, ids = world["staff"], world["ids"]
    this_month = TODAY.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    rotate = {"node_id": ids["COMMUNITY"], "grid_ids": [ids["GRID"], ids["OTHER_GRID"]], "period": "MONTH",
              "start_date": last_month.isoformat()}
    sunshine = staff.call(f"{VOLUNTEERS}/CreateRotation", {**rotate, "organisation_id": "sunshine"})
    harmony = staff.call(f"{VOLUNTEERS}/CreateRotation", {
        **rotate, "organisation_id": "harmony", "grid_ids": [ids["OTHER_GRID"], ids["GRID"]]})

    then = staff.call(f"{VOLUNTEERS}/GetRotationAssignment", {"rotation_id": sunshine["id"],
                                                               "date": last_month.isoformat()})
    now = staff.call(f"{VOLUNTEERS}/GetRotationAssignment", {"rotation_id": sunshine["id"],
                                                              "date": TODAY.isoformat()})
    assert (then["grid_id"], then.get("period_index", 0)) == (ids["GRID"], 0)
    assert (now["grid_id"], now["period_index"], now["period_start"]) == (ids["OTHER_GRID"], 1,
                                                                          this_month.isoformat())

    # Sunshine works in its grid this month; harmony works in the grid it was in last month.
    staff.call(f"{VOLUNTEERS}/RecordActivity", {"organisation_id": "sunshine", "grid_id": ids["OTHER_GRID"],
                                                "date": TODAY.isoformat(), "title": "Health talk"})
    staff.call(f"{VOLUNTEERS}/RecordActivity", {"organisation_id": "harmony", "grid_id": ids["OTHER_GRID"],
                                                "date": TODAY.isoformat(), "title": "Calligraphy"})
    report = staff.call(f"{VOLUNTEERS}/ReportRotation", {"date": TODAY.isoformat(), "node_id": ids["COMMUNITY"]})
    by_organisation = {e["organisation_id"]: e for e in report["entries"]}
    assert by_organisation["sunshine"]["activities"] == 1 and not by_organisation["sunshine"].get("behind")
    assert by_organisation["harmony"]["grid_id"] == ids["GRID"] and by_organisation["harmony"]["behind"]
    behind = staff.call(f"{VOLUNTEERS}/ReportRotation", {"date": TODAY.isoformat(), "behind_only": True})
    assert [e["rotation_id"] for e in behind["entries"]] == [harmony["id"]]


def test_rotation_bad_input_is_refused_and_writes_nothing(world, platform):
    staff, ids = world["staff"], world["ids"]
    base = {"organisation_id": "sunshine", "node_id": ids["COMMUNITY"], "grid_ids": [ids["GRID"]],
            "period": "MONTH", "start_date": TODAY.replace(day=1).isoformat()}
    for bad in ({"start_date": TODAY.replace(day=1).isoformat()[:-2] + "15"},
                {"grid_ids": [ids["GRID"], ids["GRID"]]},
                {"grid_ids": [ids["BUILDING"]]}):
        error = rpc_error(lambda: staff.call(f"{VOLUNTEERS}/CreateRotation", {**base, **bad}))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
    assert platform.database("volunteers").rotations.count_documents({"tenant": world["tenant"]}) == 0
    rotation = staff.call(f"{VOLUNTEERS}/CreateRotation", base)
    early = (TODAY.replace(day=1) - timedelta(days=1)).isoformat()
    assert rpc_error(lambda: staff.call(f"{VOLUNTEERS}/GetRotationAssignment", {
        "rotation_id": rotation["id"], "date": early})).code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error(lambda: staff.call(f"{VOLUNTEERS}/RecordActivity", {
        "organisation_id": "sunshine", "grid_id": ids["BUILDING"], "date": TODAY.isoformat(),
        "title": "x"})).code() == grpc.StatusCode.INVALID_ARGUMENT
