"""Bad input that used to be answered INTERNAL, or refused after it was stored: each is now a
clear refusal naming the field at fault, and nothing is written."""
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from tests.support.errors import field_violations, rpc_error
from tests.support.hierarchy import add_residents, build_hierarchy

pytestmark = pytest.mark.integration
GRIDS = "civicgrid.grids.v1.Grids"
TICKETS = "civicgrid.tickets.v1.Tickets"
VOLUNTEERS = "civicgrid.volunteers.v1.Volunteers"
NOTIFICATIONS = "civicgrid.notifications.v1.Notifications"


@pytest.fixture
def town(platform, unique):
    tenant = f"bad-input-{unique}"
    operator = platform.client(tenant=tenant)
    return {"tenant": tenant, "operator": operator, "ids": build_hierarchy(operator, unique)}


def refused(call, code, field):
    error = rpc_error(call)
    assert error.code() == code, error.details()
    assert field in field_violations(error), (field, error.details())
    return error


def test_nul_in_any_string_is_invalid_argument_naming_its_path(platform, town):
    operator, ids = town["operator"], town["ids"]
    refused(lambda: operator.call(f"{GRIDS}/CreateNode", {
        "kind": "GRID", "display_name": "Grid\x007", "parent_id": ids["COMMUNITY"]}),
        grpc.StatusCode.INVALID_ARGUMENT, "display_name")
    refused(lambda: operator.call(f"{GRIDS}/CreateOrganisation", {
        "node_id": ids["GRID"], "kind": "CLINIC", "display_name": "Clinic",
        "contacts": [{"display_name": "Dr Wu"}, {"display_name": "Nurse\x00"}]}),
        grpc.StatusCode.INVALID_ARGUMENT, "contacts.1.display_name")
    before = operator.call(f"{GRIDS}/GetNode", {"id": ids["GRID"]})
    refused(lambda: operator.call(f"{GRIDS}/UpdateNode", {
        "node": {"id": ids["GRID"], "display_name": "\x00"}, "update_mask": "displayName"}),
        grpc.StatusCode.INVALID_ARGUMENT, "node.display_name")

    assert operator.call(f"{GRIDS}/GetNode", {"id": ids["GRID"]}) == before
    grids = platform.database("grids")
    assert grids.nodes.count_documents({"tenant": town["tenant"]}) == len(ids) - 1
    assert grids.organisations.count_documents({"tenant": town["tenant"]}) == 0


def test_moving_a_flat_onto_another_flats_address_is_already_exists(town):
    operator, ids = town["operator"], town["ids"]
    neighbour = operator.call(f"{GRIDS}/CreateFlat", {"building_id": ids["BUILDING"], "unit": "1", "floor": 3,
                                                      "number": "302", "occupancy": "VACANT"})
    refused(lambda: operator.call(f"{GRIDS}/UpdateFlat", {
        "flat": {"id": neighbour["id"], "number": "301", "occupancy": "RENTED"},
        "update_mask": "number,occupancy"}), grpc.StatusCode.ALREADY_EXISTS, "flat.number")

    assert operator.call(f"{GRIDS}/GetFlat", {"id": neighbour["id"]}) == neighbour
    view = operator.call(f"{GRIDS}/GetBuildingView", {"building_id": ids["BUILDING"]})
    assert sorted(flat["number"] for flat in view["flats"]) == ["301", "302"]


def test_times_and_dates_outside_1900_to_2200_are_invalid_argument_naming_the_field(platform, town):
    operator, ids = town["operator"], town["ids"]
    start = datetime.now(timezone.utc) + timedelta(days=1)
    refused(lambda: operator.call(f"{VOLUNTEERS}/CreateTask", {
        "title": "Clinic", "node_id": ids["GRID"], "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": "9999-12-31T23:59:59Z", "people_needed": 2}),
        grpc.StatusCode.INVALID_ARGUMENT, "end_time")
    refused(lambda: operator.call(f"{TICKETS}/GetTicketFigures", {
        "node_id": ids["GRID"], "start_time": "0001-01-01T00:00:00Z", "end_time": "2025-01-01T00:00:00Z"}),
        grpc.StatusCode.INVALID_ARGUMENT, "start_time")
    refused(lambda: operator.call(f"{GRIDS}/UpdateFlat", {
        "flat": {"id": ids["FLAT"], "floor": 4, "update_time": "2200-01-01T00:00:00Z"}, "update_mask": "floor"}),
        grpc.StatusCode.INVALID_ARGUMENT, "flat.update_time")
    # Dates carried as strings keep to the same range.
    refused(lambda: operator.call(f"{VOLUNTEERS}/CreateRotation", {
        "organisation_id": "sunshine", "node_id": ids["COMMUNITY"], "grid_ids": [ids["GRID"]], "period": "MONTH",
        "start_date": "9999-12-01"}), grpc.StatusCode.INVALID_ARGUMENT, "start_date")

    volunteers = platform.database("volunteers")
    assert volunteers.tasks.count_documents({"tenant": town["tenant"]}) == 0
    assert volunteers.rotations.count_documents({"tenant": town["tenant"]}) == 0
    assert operator.call(f"{GRIDS}/GetFlat", {"id": ids["FLAT"]})["floor"] == 3


def test_a_body_that_is_not_protobuf_is_invalid_argument(platform, town):
    metadata = (("authorization", f"Bearer {platform.token(tenant=town['tenant'])}"),)
    with grpc.insecure_channel(platform.address) as channel:
        create_node = channel.unary_unary(f"/{GRIDS}/CreateNode")
        for body in (b"\x0a\xff", b"\xff" * 16, b"\x1a\x03\xc3\x28\x41"):
            error = rpc_error(lambda: create_node(body, metadata=metadata, timeout=10))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, body
            assert "civicgrid.grids.v1.CreateNodeRequest" in error.details()
    assert platform.database("grids").nodes.count_documents({"tenant": town["tenant"]}) == len(town["ids"]) - 1


def test_notice_to_unknown_tags_is_refused_and_not_stored(platform, town, unique):
    operator, ids = town["operator"], town["ids"]
    add_residents(operator, ids["FLAT"], unique, [["elderly"]])
    notice = {"request_id": f"{unique}-notice", "title": "Fire drill", "body": "Saturday 10:00",
              "audience": {"node_id": ids["BUILDING"], "tags": ["elderly", "astronaut"]}}
    refused(lambda: operator.call(f"{NOTIFICATIONS}/CreateNotice", notice),
            grpc.StatusCode.INVALID_ARGUMENT, "audience.tags")
    staff = platform.client(tenant=town["tenant"], role="community_staff", scope=(ids["COMMUNITY"],))
    sensitive = {**notice, "audience": {"node_id": ids["BUILDING"], "tags": ["community_correction"]}}
    error = rpc_error(lambda: staff.call(f"{NOTIFICATIONS}/CreateNotice", sensitive))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED and error.details().startswith("audience.tags")
    assert platform.database("notifications").notices.count_documents({"tenant": town["tenant"]}) == 0

    # The request id was not used up: the corrected request makes the notice, for its own audience.
    fixed = operator.call(f"{NOTIFICATIONS}/CreateNotice", {**notice, "audience": {
        "node_id": ids["BUILDING"], "tags": ["elderly"]}})
    assert fixed["audience"]["tags"] == ["elderly"] and fixed["recipient_count"] == 1
    assert operator.call(f"{NOTIFICATIONS}/GetNotice", {"id": fixed["id"]})["recipient_count"] == 1
