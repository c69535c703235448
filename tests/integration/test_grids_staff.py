"""Staff posts, organisations, service stations and moving grids, through the real gateway,
services, RabbitMQ and FerretDB."""
import grpc
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from services.errors import NotFound
from tests.support.errors import field_violations, rpc_error
from tests.support.hierarchy import GRIDS, RESIDENTS, assign, build_hierarchy, person
from tests.support.polling import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def city(platform, unique):
    tenant = f"staff-{unique}"
    operator = platform.client(tenant=tenant)
    return operator, build_hierarchy(operator, unique), tenant


def test_posts_fit_their_node_one_grid_leader_and_several_posts_per_person(platform, city, tap):
    operator, ids, tenant = city
    zhang = person("u-zhang", "Zhang Wei", "13800000001")
    leader = assign(operator, ids["GRID"], "GRID_LEADER", zhang, request_id="gl-1")
    assert assign(operator, ids["GRID"], "GRID_LEADER", zhang, request_id="gl-1")["id"] == leader["id"]
    assign(operator, ids["GRID"], "GRID_WORKER", zhang)
    assign(operator, ids["BUILDING"], "BUILDING_LEADER", person("u-li", "Li Na"))
    assert leader["holder"] == zhang and leader["node_kind"] == "GRID"
    assert leader["path"] == [ids[k] for k in ("CITY", "STREET", "COMMUNITY", "GRID")]

    second = rpc_error(lambda: assign(operator, ids["GRID"], "GRID_LEADER", person("u-wu", "Wu")))
    assert second.code() == grpc.StatusCode.ALREADY_EXISTS
    misplaced = rpc_error(lambda: assign(operator, ids["GRID"], "BUILDING_LEADER", person("u-wu", "Wu")))
    assert misplaced.code() == grpc.StatusCode.INVALID_ARGUMENT and "kind" in field_violations(misplaced)
    bad_phone = rpc_error(lambda: assign(operator, ids["BUILDING"], "BUILDING_LEADER", person("u-wu", "Wu", "x")))
    assert "holder.phone" in field_violations(bad_phone)
    assert platform.database("grids").posts.count_documents({"tenant": tenant}) == 3

    at_grid = operator.call(f"{GRIDS}/ListPosts", {"node_id": ids["GRID"]})["posts"]
    below = operator.call(f"{GRIDS}/ListPosts", {"node_id": ids["GRID"], "include_descendants": True})["posts"]
    zhangs = operator.call(f"{GRIDS}/ListPosts", {"node_id": ids["COMMUNITY"], "include_descendants": True,
                                                   "holder_subject": "u-zhang"})["posts"]
    assert sorted(p["kind"] for p in at_grid) == ["GRID_LEADER", "GRID_WORKER"]
    assert sorted(p["kind"] for p in below) == ["BUILDING_LEADER", "GRID_LEADER", "GRID_WORKER"]
    assert sorted(p["kind"] for p in zhangs) == ["GRID_LEADER", "GRID_WORKER"]

    worker = platform.client(tenant=tenant, role="grid_worker", scope=(ids["GRID"],))
    assert len(worker.call(f"{GRIDS}/ListPosts", {"node_id": ids["GRID"]})["posts"]) == 2
    assert rpc_error(lambda: assign(worker, ids["GRID"], "GRID_WORKER", zhang)).code() == (
        grpc.StatusCode.PERMISSION_DENIED)
    other_grid = operator.call(f"{GRIDS}/CreateNode", {"kind": "GRID", "display_name": "G2",
                                                       "parent_id": ids["COMMUNITY"]})
    outsider = platform.client(tenant=tenant, role="community_staff", scope=(other_grid["id"],))
    assert rpc_error(lambda: outsider.call(f"{GRIDS}/RemovePost", {"id": leader["id"]})).code() == (
        grpc.StatusCode.NOT_FOUND)

    operator.call(f"{GRIDS}/RemovePost", {"id": leader["id"]})
    successor = assign(operator, ids["GRID"], "GRID_LEADER", person("u-wu", "Wu Fang"))
    assert successor["holder"]["subject"] == "u-wu"
    events = tap.drain(tenant, {"civicgrid.grids.post.assigned.v1": 4, "civicgrid.grids.post.removed.v1": 1})
    types = [event["type"] for event in events]
    assert types.count("civicgrid.grids.post.assigned.v1") == 4
    assert types.count("civicgrid.grids.post.removed.v1") == 1


def test_staff_for_finds_the_nearest_holders_up_the_path(platform, city):
    operator, ids, tenant = city
    assign(operator, ids["COMMUNITY"], "COMMUNITY_STAFF", person("u-chen", "Chen"))
    assign(operator, ids["COMMUNITY"], "ROAD_LEADER", person("u-far", "Far"))
    assign(operator, ids["GRID"], "ROAD_LEADER", person("u-near", "Near"))
    assign(operator, ids["GRID"], "GRID_LEADER", person("u-zhang", "Zhang"))
    caller = {"subject": "notifier", "tenant": tenant, "role": "community_staff", "scope": [ids["GRID"]]}
    with ClusterRpcProxy({"AMQP_URI": platform.amqp_uri}) as cluster:
        found = cluster.grids.staff_for(caller, {
            "node_id": ids["BUILDING"],
            "posts": ["BUILDING_LEADER", "GRID_LEADER", "ROAD_LEADER", "COMMUNITY_STAFF"]})
        stranger = dict(caller, scope=["elsewhere"])
        with pytest.raises(NotFound):
            cluster.grids.staff_for(stranger, {"node_id": ids["BUILDING"], "posts": ["GRID_LEADER"]})
    staff = {entry["post"]: entry for entry in found["staff"]}
    assert staff["BUILDING_LEADER"] == {"post": "BUILDING_LEADER", "node_id": "", "holders": []}
    assert staff["GRID_LEADER"]["node_id"] == ids["GRID"]
    assert [h["subject"] for h in staff["GRID_LEADER"]["holders"]] == ["u-zhang"]
    assert [h["subject"] for h in staff["ROAD_LEADER"]["holders"]] == ["u-near"]
    assert (staff["COMMUNITY_STAFF"]["node_id"], staff["COMMUNITY_STAFF"]["holders"][0]["subject"]) == (
        ids["COMMUNITY"], "u-chen")


def test_organisations_attach_to_nodes_and_list_with_descendants(platform, city):
    operator, ids, tenant = city
    police = operator.call(f"{GRIDS}/CreateOrganisation", {
        "node_id": ids["COMMUNITY"], "kind": "POLICE_POST", "display_name": "Police post",
        "contacts": [{"display_name": "Officer Sun", "role": "duty officer", "phone": "110"}]})
    company = operator.call(f"{GRIDS}/CreateOrganisation", {
        "request_id": "pm-1", "node_id": ids["GRID"], "kind": "PROPERTY_COMPANY", "display_name": "Greenfield PM",
        "address": "1 Garden Rd", "contacts": [{"display_name": "Manager Ma", "email": "ma@example.com"}]})
    assert operator.call(f"{GRIDS}/GetOrganisation", {"id": company["id"]})["contacts"] == [
        {"display_name": "Manager Ma", "email": "ma@example.com"}]
    at_community = operator.call(f"{GRIDS}/ListOrganisations", {"node_id": ids["COMMUNITY"]})["organisations"]
    below = operator.call(f"{GRIDS}/ListOrganisations", {"node_id": ids["COMMUNITY"],
                                                          "include_descendants": True})["organisations"]
    assert [o["id"] for o in at_community] == [police["id"]]
    assert sorted(o["id"] for o in below) == sorted([police["id"], company["id"]])

    worker = platform.client(tenant=tenant, role="grid_worker", scope=(ids["GRID"],))
    assert worker.call(f"{GRIDS}/GetOrganisation", {"id": company["id"]})["kind"] == "PROPERTY_COMPANY"
    assert rpc_error(lambda: worker.call(f"{GRIDS}/GetOrganisation", {"id": police["id"]})).code() == (
        grpc.StatusCode.NOT_FOUND)
    on_building = rpc_error(lambda: operator.call(f"{GRIDS}/CreateOrganisation", {
        "node_id": ids["BUILDING"], "kind": "CLINIC", "display_name": "Clinic"}))
    assert "node_id" in field_violations(on_building)
    bad_email = rpc_error(lambda: operator.call(f"{GRIDS}/CreateOrganisation", {
        "node_id": ids["GRID"], "kind": "CLINIC", "display_name": "Clinic",
        "contacts": [{"display_name": "Dr Lu", "email": "nope"}]}))
    assert "contacts.0.email" in field_violations(bad_email)
    assert platform.database("grids").organisations.count_documents({"tenant": tenant}) == 2


def test_station_opening_hours_and_who_is_on_duty(platform, city):
    operator, ids, tenant = city
    weekdays = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
    station = operator.call(f"{GRIDS}/CreateStation", {
        "node_id": ids["COMMUNITY"], "display_name": "Station 1",
        "opening_hours": [{"weekday": day, "open": "08:00", "close": "21:00"} for day in weekdays]})
    assert station["time_zone"] == "Asia/Shanghai"
    morning = operator.call(f"{GRIDS}/AddDuty", {"station_id": station["id"], "person": person("u-he", "He"),
                                                 "weekday": "MONDAY", "start": "08:00", "end": "14:00"})
    operator.call(f"{GRIDS}/AddDuty", {"station_id": station["id"], "person": person("u-qi", "Qi"),
                                       "weekday": "MONDAY", "start": "14:00", "end": "21:00"})
    assert len(operator.call(f"{GRIDS}/ListDuties", {"station_id": station["id"]})["duties"]) == 2

    # 2026-11-23 is a Monday; 02:00Z is 10:00 in Shanghai, 14:30Z is 22:30.
    worker = platform.client(tenant=tenant, role="grid_worker", scope=(ids["COMMUNITY"],))
    ten = worker.call(f"{GRIDS}/GetStationOnDuty", {"station_id": station["id"], "at": "2026-11-23T02:00:00Z"})
    assert (ten["weekday"], ten["local_time"], ten["open"]) == ("MONDAY", "10:00", True)
    assert [d["person"]["subject"] for d in ten["on_duty"]] == ["u-he"]
    late = worker.call(f"{GRIDS}/GetStationOnDuty", {"station_id": station["id"], "at": "2026-11-23T14:30:00Z"})
    assert late.get("open", False) is False and "on_duty" not in late

    operator.call(f"{GRIDS}/RemoveDuty", {"id": morning["id"]})
    after = operator.call(f"{GRIDS}/GetStationOnDuty", {"station_id": station["id"], "at": "2026-11-23T02:00:00Z"})
    assert after["open"] is True and "on_duty" not in after

    backwards = rpc_error(lambda: operator.call(f"{GRIDS}/AddDuty", {
        "station_id": station["id"], "person": person("u-he", "He"), "weekday": "MONDAY",
        "start": "14:00", "end": "08:00"}))
    assert "end" in field_violations(backwards)
    bad_hours = rpc_error(lambda: operator.call(f"{GRIDS}/CreateStation", {
        "node_id": ids["GRID"], "display_name": "S2", "time_zone": "Mars/Olympus",
        "opening_hours": [{"weekday": "MONDAY", "open": "25:00", "close": "21:00"}]}))
    assert "opening_hours.0.open" in field_violations(bad_hours)
    bad_zone = rpc_error(lambda: operator.call(f"{GRIDS}/CreateStation", {
        "node_id": ids["GRID"], "display_name": "S2", "time_zone": "Mars/Olympus"}))
    assert "time_zone" in field_violations(bad_zone)
    on_building = rpc_error(lambda: operator.call(f"{GRIDS}/CreateStation", {
        "node_id": ids["BUILDING"], "display_name": "S3"}))
    assert "node_id" in field_violations(on_building)
    assert platform.database("grids").stations.count_documents({"tenant": tenant}) == 1
    assert platform.database("grids").duties.count_documents({"tenant": tenant}) == 1


def test_moving_a_grid_carries_its_subtree_and_announces_the_new_prefix(platform, city, tap):
    operator, ids, tenant = city
    grid = ids["GRID"]
    post = assign(operator, ids["BUILDING"], "BUILDING_LEADER", person("u-li", "Li"))
    station = operator.call(f"{GRIDS}/CreateStation", {"node_id": grid, "display_name": "S"})
    target = operator.call(f"{GRIDS}/CreateNode", {"kind": "COMMUNITY", "display_name": "Other",
                                                   "parent_id": ids["STREET"]})
    moved = operator.call(f"{GRIDS}/MoveNode", {"id": grid, "parent_id": target["id"]})
    prefix = [ids["CITY"], ids["STREET"], target["id"], grid]
    assert moved["path"] == prefix and moved["parent_id"] == target["id"]
    assert operator.call(f"{GRIDS}/GetNode", {"id": ids["BUILDING"]})["path"] == [*prefix, ids["BUILDING"]]
    assert operator.call(f"{GRIDS}/GetFlat", {"id": ids["FLAT"]})["path"] == [*prefix, ids["BUILDING"], ids["FLAT"]]
    assert operator.call(f"{GRIDS}/GetStation", {"id": station["id"]})["path"] == prefix
    posts = operator.call(f"{GRIDS}/ListPosts", {"node_id": ids["BUILDING"]})["posts"]
    assert [(p["id"], p["path"]) for p in posts] == [(post["id"], [*prefix, ids["BUILDING"]])]

    old_staff = platform.client(tenant=tenant, role="community_staff", scope=(ids["COMMUNITY"],))
    assert rpc_error(lambda: old_staff.call(f"{GRIDS}/GetFlat", {"id": ids["FLAT"]})).code() == (
        grpc.StatusCode.NOT_FOUND)
    new_staff = platform.client(tenant=tenant, role="community_staff", scope=(target["id"],))
    assert new_staff.call(f"{GRIDS}/GetFlat", {"id": ids["FLAT"]})["id"] == ids["FLAT"]
    assert int(new_staff.call(f"{GRIDS}/GetNodeFigures", {"node_id": target["id"]})["grids"]) == 1

    again = operator.call(f"{GRIDS}/MoveNode", {"id": grid, "parent_id": target["id"]})
    assert again["path"] == prefix
    not_a_grid = rpc_error(lambda: operator.call(f"{GRIDS}/MoveNode", {"id": ids["BUILDING"],
                                                                       "parent_id": target["id"]}))
    assert "id" in field_violations(not_a_grid)
    onto_building = rpc_error(lambda: operator.call(f"{GRIDS}/MoveNode", {"id": grid,
                                                                          "parent_id": ids["BUILDING"]}))
    assert "parent_id" in field_violations(onto_building)
    stuck = rpc_error(lambda: old_staff.call(f"{GRIDS}/MoveNode", {"id": grid, "parent_id": ids["COMMUNITY"]}))
    assert stuck.code() == grpc.StatusCode.NOT_FOUND

    events = tap.drain(tenant, {"civicgrid.grids.node.moved.v1": 1}, timeout=5)
    moves = [event["data"] for event in events if event["type"] == "civicgrid.grids.node.moved.v1"]
    assert moves == [{"id": grid, "kind": "GRID", "display_name": moved["display_name"],
                      "previous_parent_id": ids["COMMUNITY"], "parent_id": target["id"],
                      "previous_path": [ids["CITY"], ids["STREET"], ids["COMMUNITY"], grid], "path": prefix}]


def test_residents_follow_their_grid_to_its_new_community(platform, unique):
    tenant = f"follow-{unique}"
    operator = platform.client(tenant=tenant)
    ids = build_hierarchy(operator, unique)
    household = operator.call(f"{RESIDENTS}/CreateHousehold", {"flat_id": ids["FLAT"], "display_name": "Moving"})
    resident = operator.call(f"{RESIDENTS}/CreateResident", {
        "household_id": household["id"], "display_name": "Zhou Mei", "birth_date": "1950-05-05",
        "tags": ["elderly"]})
    target = operator.call(f"{GRIDS}/CreateNode", {"kind": "COMMUNITY", "display_name": "New home",
                                                   "parent_id": ids["STREET"]})
    operator.call(f"{GRIDS}/MoveNode", {"id": ids["GRID"], "parent_id": target["id"]})
    new_staff = platform.client(tenant=tenant, role="community_staff", scope=(target["id"],))
    listed = eventually(lambda: new_staff.call(f"{RESIDENTS}/ListResidents", {"tags": ["elderly"]}).get("residents"),
                        interval=0.3) or []
    assert [r["id"] for r in listed] == [resident["id"]]
    assert listed[0]["path"][:4] == [ids["CITY"], ids["STREET"], target["id"], ids["GRID"]]
    old_staff = platform.client(tenant=tenant, role="community_staff", scope=(ids["COMMUNITY"],))
    assert old_staff.call(f"{RESIDENTS}/ListResidents", {}) == {}
