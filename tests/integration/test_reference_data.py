"""Nodes and flats the tickets and volunteers services remember (services/reference.py) follow
the grids service's changes as its events arrive, not after the time-to-live."""
import grpc
import pytest

from tests.support.errors import field_violations, rpc_error
from tests.support.hierarchy import GRIDS
from tests.support.polling import eventually
from tests.support.town import TICKETS, Town

pytestmark = pytest.mark.integration
VOLUNTEERS = "civicgrid.volunteers.v1.Volunteers"
# Far below REFERENCE_TTL_SECONDS (60): only the events can make the services forget in time.
EVENT_SECONDS = 5


@pytest.fixture
def town(platform, unique):
    return Town(platform, unique, prefix="ref")


def report_at(town, node_id):
    return town.report(town.operator, node_id=node_id)


def test_a_moved_grid_takes_what_lies_below_it_along(town, unique):
    operator, ids = town.operator, town.ids
    assert ids["COMMUNITY"] in report_at(town, ids["FLAT"])["path"]
    team = {"display_name": "Helpers", "purpose": "MEDICAL", "node_id": ids["GRID"]}
    assert ids["COMMUNITY"] in operator.call(f"{VOLUNTEERS}/CreateTeam", team)["path"]
    other = operator.call(f"{GRIDS}/CreateNode", {"request_id": f"{unique}-c2", "kind": "COMMUNITY",
                                                  "display_name": "对面社区", "parent_id": ids["STREET"]})

    operator.call(f"{GRIDS}/MoveNode", {"id": ids["GRID"], "parent_id": other["id"]})

    assert eventually(lambda: other["id"] in report_at(town, ids["FLAT"])["path"], EVENT_SECONDS)
    assert eventually(lambda: other["id"] in operator.call(f"{VOLUNTEERS}/CreateTeam", team)["path"], EVENT_SECONDS)


def test_a_deleted_building_is_no_place_for_a_ticket(town, unique):
    building = town.operator.call(f"{GRIDS}/CreateNode", {"request_id": f"{unique}-b2", "kind": "BUILDING",
                                                          "display_name": "2号楼", "parent_id": town.ids["GRID"]})
    assert report_at(town, building["id"])["building_id"] == building["id"]

    town.operator.call(f"{GRIDS}/DeleteNode", {"id": building["id"]})

    def refused():
        try:
            report_at(town, building["id"])
        except grpc.RpcError as error:
            return error
        return None
    error = eventually(refused, EVENT_SECONDS)
    assert error and error.code() == grpc.StatusCode.NOT_FOUND and field_violations(error) == ["node_id"]


def test_a_remembered_place_is_still_refused_out_of_scope(platform, town):
    report_at(town, town.ids["FLAT"])
    stranger = platform.client(tenant=town.tenant, role="resident", scope=("elsewhere",), subject="stranger")
    error = rpc_error(lambda: stranger.call(f"{TICKETS}/CreateTicket", {
        "kind": "REQUEST", "channel": "SELF_SERVICE", "category_id": town.category["id"],
        "node_id": town.ids["FLAT"], "description": "not mine", "extra": {"room": "hall"}}))
    assert error.code() == grpc.StatusCode.NOT_FOUND and field_violations(error) == ["node_id"]
