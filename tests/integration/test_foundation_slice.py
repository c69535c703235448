"""The vertical slice through the real gateway, RabbitMQ and MongoDB/FerretDB."""
import grpc
import pytest

from tests.support.errors import field_violations, rpc_error
from tests.support.hierarchy import GRIDS, RESIDENTS, build_hierarchy

pytestmark = pytest.mark.integration


def test_slice_from_city_to_residents_emits_every_event(platform, tap, unique):
    operator = platform.client(tenant=f"city-{unique}")
    ids = build_hierarchy(operator, unique)
    household = operator.call(f"{RESIDENTS}/CreateHousehold", {
        "request_id": f"{unique}-hh", "flat_id": ids["FLAT"], "display_name": "Wang family"})
    residents = [operator.call(f"{RESIDENTS}/CreateResident", {
        "request_id": f"{unique}-r{n}", "household_id": household["id"], "display_name": f"Resident {n}",
        "relation": "head" if n == 0 else "child", "birth_date": "1941-03-02", "gender": "FEMALE",
        "tags": ["elderly", "living_alone"] if n == 0 else []}) for n in range(5)]

    assert household["path"] == [ids[k] for k in ("CITY", "STREET", "COMMUNITY", "GRID", "BUILDING", "FLAT")]
    first = operator.call(f"{RESIDENTS}/ListResidents", {"node_id": ids["GRID"], "page_size": 2})
    second = operator.call(f"{RESIDENTS}/ListResidents", {"node_id": ids["GRID"], "page_size": 2,
                                                          "page_token": first["next_page_token"]})
    third = operator.call(f"{RESIDENTS}/ListResidents", {"node_id": ids["GRID"], "page_size": 2,
                                                         "page_token": second["next_page_token"]})
    listed = [r["id"] for page in (first, second, third) for r in page["residents"]]
    assert sorted(listed) == sorted(r["id"] for r in residents)
    assert "next_page_token" not in third
    elderly = operator.call(f"{RESIDENTS}/ListResidents", {"node_id": ids["GRID"], "tags": ["elderly"]})
    assert [r["id"] for r in elderly["residents"]] == [residents[0]["id"]]
    assert operator.call(f"{RESIDENTS}/GetResident", {"id": residents[0]["id"]})["tags"] == \
        ["elderly", "living_alone"]

    # Delivery is at least once: events are counted by distinct id.
    events = tap.drain(f"city-{unique}", {"civicgrid.grids.node.created.v1": 5,
                                          "civicgrid.residents.resident.registered.v1": 5})
    types = [event["type"] for event in events]
    assert types.count("civicgrid.grids.node.created.v1") == 5
    assert types.count("civicgrid.grids.flat.created.v1") == 1
    assert types.count("civicgrid.residents.household.registered.v1") == 1
    assert types.count("civicgrid.residents.resident.registered.v1") == 5
    assert all(event["specversion"] == "1.0" and event["source"].startswith("/civicgrid/") for event in events)


def test_second_tenant_sees_none_of_it(platform, unique):
    owner = platform.client(tenant=f"owner-{unique}")
    ids = build_hierarchy(owner, unique)
    stranger = platform.client(tenant=f"stranger-{unique}")
    assert rpc_error(lambda: stranger.call(f"{GRIDS}/GetNode", {"id": ids["CITY"]})).code() == \
        grpc.StatusCode.NOT_FOUND
    assert rpc_error(lambda: stranger.call(f"{GRIDS}/GetFlat", {"id": ids["FLAT"]})).code() == \
        grpc.StatusCode.NOT_FOUND
    assert stranger.call(f"{GRIDS}/ListNodes", {}) == {}
    assert stranger.call(f"{RESIDENTS}/ListResidents", {}) == {}
    error = rpc_error(lambda: stranger.call(f"{RESIDENTS}/CreateHousehold", {
        "flat_id": ids["FLAT"], "display_name": "Intruders"}))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_grid_worker_sees_only_their_grid(platform, unique):
    operator = platform.client(tenant=f"scope-{unique}")
    ids = build_hierarchy(operator, unique)
    other_grid = operator.call(f"{GRIDS}/CreateNode", {"kind": "GRID", "display_name": "Other",
                                                       "parent_id": ids["COMMUNITY"]})
    worker = platform.client(tenant=f"scope-{unique}", role="grid_worker", scope=(other_grid["id"],))
    assert rpc_error(lambda: worker.call(f"{GRIDS}/GetFlat", {"id": ids["FLAT"]})).code() == \
        grpc.StatusCode.NOT_FOUND
    assert rpc_error(lambda: worker.call(f"{GRIDS}/CreateNode", {
        "kind": "GRID", "display_name": "x", "parent_id": ids["COMMUNITY"]})).code() == \
        grpc.StatusCode.PERMISSION_DENIED


def test_create_is_idempotent_by_request_id(platform, unique):
    operator = platform.client(tenant=f"idem-{unique}")
    request = {"request_id": f"{unique}-city", "kind": "CITY", "display_name": "Once"}
    first = operator.call(f"{GRIDS}/CreateNode", request)
    again = operator.call(f"{GRIDS}/CreateNode", {**request, "display_name": "Twice"})
    assert again == first
    assert platform.database("grids").nodes.count_documents({"tenant": f"idem-{unique}"}) == 1


@pytest.mark.parametrize("request_body, field", [
    ({"kind": "CITY"}, "display_name"),
    ({"display_name": "No kind"}, "kind"),
    ({"kind": "CITY", "display_name": "x" * 201}, "display_name"),
    ({"kind": "STREET", "display_name": "Orphan"}, "parent_id"),
    ({"kind": "STREET", "display_name": "Bad parent", "parent_id": "$gt"}, "parent_id"),
])
def test_bad_node_input_is_invalid_argument_naming_the_field(platform, unique, request_body, field):
    operator = platform.client(tenant=f"bad-{unique}")
    error = rpc_error(lambda: operator.call(f"{GRIDS}/CreateNode", request_body))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error)
    assert platform.database("grids").nodes.count_documents({"tenant": f"bad-{unique}"}) == 0


def test_bad_resident_input_writes_nothing(platform, unique):
    operator = platform.client(tenant=f"badres-{unique}")
    ids = build_hierarchy(operator, unique)
    household = operator.call(f"{RESIDENTS}/CreateHousehold", {"flat_id": ids["FLAT"], "display_name": "H"})
    for body, field in [({"birth_date": "2999-01-01"}, "birth_date"), ({"birth_date": "1990-02-30"}, "birth_date"),
                        ({"birth_date": "1990-01-01", "tags": ["astronaut"]}, "tags"),
                        ({"birth_date": "1990-01-01", "relation": "boss"}, "relation")]:
        error = rpc_error(lambda: operator.call(f"{RESIDENTS}/CreateResident", {
            "household_id": household["id"], "display_name": "R", **body}))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, body
        assert field in field_violations(error), body
    unknown = rpc_error(lambda: operator.call(f"{RESIDENTS}/CreateHousehold", {
        "flat_id": "nosuchflat", "display_name": "H"}))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    assert platform.database("residents").residents.count_documents({"tenant": f"badres-{unique}"}) == 0


def test_update_mask_and_delete(platform, unique):
    operator = platform.client(tenant=f"upd-{unique}")
    ids = build_hierarchy(operator, unique)
    renamed = operator.call(f"{GRIDS}/UpdateNode", {"node": {"id": ids["GRID"], "display_name": "Grid 3"},
                                                    "update_mask": "displayName"})
    assert renamed["display_name"] == "Grid 3"
    bad_mask = rpc_error(lambda: operator.call(f"{GRIDS}/UpdateNode", {
        "node": {"id": ids["GRID"], "kind": "CITY"}, "update_mask": "kind"}))
    assert bad_mask.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "update_mask" in field_violations(bad_mask)
    busy = rpc_error(lambda: operator.call(f"{GRIDS}/DeleteNode", {"id": ids["BUILDING"]}))
    assert busy.code() == grpc.StatusCode.FAILED_PRECONDITION
    operator.call(f"{GRIDS}/DeleteFlat", {"id": ids["FLAT"]})
    operator.call(f"{GRIDS}/DeleteNode", {"id": ids["BUILDING"]})
    gone = rpc_error(lambda: operator.call(f"{GRIDS}/GetNode", {"id": ids["BUILDING"]}))
    assert gone.code() == grpc.StatusCode.NOT_FOUND


def test_tokens_and_roles_are_enforced(platform):
    from cli.api import Gateway
    anonymous = Gateway(platform.address, "not-a-jwt")
    assert rpc_error(lambda: anonymous.call(f"{GRIDS}/ListNodes", {})).code() == grpc.StatusCode.UNAUTHENTICATED
    forged = Gateway(platform.address, platform.token().rsplit(".", 1)[0] + ".forged")
    assert rpc_error(lambda: forged.call(f"{GRIDS}/ListNodes", {})).code() == grpc.StatusCode.UNAUTHENTICATED
    resident = platform.client(role="resident")
    assert rpc_error(lambda: resident.call(f"{GRIDS}/ListNodes", {})).code() == grpc.StatusCode.PERMISSION_DENIED
