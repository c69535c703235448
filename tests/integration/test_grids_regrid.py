"""Splitting and merging grids, and updating posts, organisations and stations, through the real
gateway, services, RabbitMQ and FerretDB."""
import grpc
import pytest

from tests.support.errors import field_violations, rpc_error
from tests.support.hierarchy import GRIDS, RESIDENTS, assign, build_hierarchy, person
from tests.support.polling import eventually

pytestmark = pytest.mark.integration
SPLIT, MERGED, MOVED = ("civicgrid.grids.grid.split.v1", "civicgrid.grids.grid.merged.v1",
                        "civicgrid.grids.node.moved.v1")


@pytest.fixture
def community(platform, unique):
    """A grid with two buildings, each with a flat and a household: two residents in the first
    building, one in the second."""
    tenant = f"regrid-{unique}"
    operator = platform.client(tenant=tenant)
    ids = build_hierarchy(operator, unique)
    ids["BUILDING_2"] = building(operator, ids["GRID"], "B2")
    ids["FLAT_2"] = flat(operator, ids["BUILDING_2"])
    settle(operator, ids["FLAT"], ["Zhou Mei", "Zhou Lin"])
    settle(operator, ids["FLAT_2"], ["Qian Hua"])
    return operator, ids, tenant


def building(client, parent_id, name):
    return client.call(f"{GRIDS}/CreateNode", {"kind": "BUILDING", "display_name": name, "parent_id": parent_id})["id"]


def flat(client, building_id):
    return client.call(f"{GRIDS}/CreateFlat", {"building_id": building_id, "unit": "1", "number": "101"})["id"]


def grid(client, parent_id, name):
    return client.call(f"{GRIDS}/CreateNode", {"kind": "GRID", "display_name": name, "parent_id": parent_id})


def settle(client, flat_id, names):
    household = client.call(f"{RESIDENTS}/CreateHousehold", {"flat_id": flat_id, "display_name": names[0]})
    for name in names:
        client.call(f"{RESIDENTS}/CreateResident", {"household_id": household["id"], "display_name": name,
                                                    "birth_date": "1950-05-05"})


def figures(client, node_id):
    """(buildings, flats, households, residents) below the node."""
    found = client.call(f"{GRIDS}/GetNodeFigures", {"node_id": node_id})
    return tuple(int(found.get(key, 0)) for key in ("buildings", "flats", "households", "residents"))


def nodes_and_flats(platform, tenant):
    """What a refused call must leave untouched: every node's and flat's place, and their count."""
    database = platform.database("grids")
    return {record["_id"]: (record.get("parent_id"), record["path"], record["update_time"])
            for collection in (database.nodes, database.flats)
            for record in collection.find({"tenant": tenant})}


def split(client, grid_id, child_ids, **target):
    return client.call(f"{GRIDS}/SplitGrid", {"grid_id": grid_id, "child_ids": child_ids, **target})


def test_split_into_a_new_grid_carries_residents_and_figures_and_a_rerun_changes_nothing(
        platform, community, tap):
    operator, ids, tenant = community
    leader = assign(operator, ids["BUILDING_2"], "BUILDING_LEADER", person("u-qian", "Qian"))
    north = split(operator, ids["GRID"], [ids["BUILDING_2"]], request_id="split-1", new_grid_display_name="North")
    prefix = [ids[k] for k in ("CITY", "STREET", "COMMUNITY")]
    assert (north["kind"], north["display_name"], north["parent_id"]) == ("GRID", "North", ids["COMMUNITY"])
    assert north["path"] == [*prefix, north["id"]]
    moved_path = [*north["path"], ids["BUILDING_2"]]
    assert operator.call(f"{GRIDS}/GetNode", {"id": ids["BUILDING_2"]})["path"] == moved_path
    assert operator.call(f"{GRIDS}/GetFlat", {"id": ids["FLAT_2"]})["path"] == [*moved_path, ids["FLAT_2"]]
    assert operator.call(f"{GRIDS}/ListPosts", {"node_id": ids["BUILDING_2"]})["posts"][0]["path"] == moved_path

    assert eventually(lambda: figures(operator, north["id"]) == (1, 1, 1, 1), interval=0.3)
    assert eventually(lambda: figures(operator, ids["GRID"]) == (1, 1, 1, 2), interval=0.3)
    worker = platform.client(tenant=tenant, role="grid_worker", scope=(north["id"],))
    listed = worker.call(f"{RESIDENTS}/ListResidents", {})["residents"]
    assert [(r["display_name"], r["path"][:5]) for r in listed] == [("Qian Hua", moved_path)]
    assert worker.call(f"{GRIDS}/ListPosts", {"node_id": ids["BUILDING_2"]})["posts"][0]["id"] == leader["id"]

    events = tap.drain(tenant, {SPLIT: 1, MOVED: 1})
    assert [e["data"] for e in events if e["type"] == SPLIT] == [{
        "id": ids["GRID"], "path": [*prefix, ids["GRID"]], "target_id": north["id"], "target_path": north["path"],
        "new_grid": True, "child_ids": [ids["BUILDING_2"]]}]
    assert [e["data"]["id"] for e in events if e["type"] == MOVED] == [ids["BUILDING_2"]]

    before = nodes_and_flats(platform, tenant)
    again = split(operator, ids["GRID"], [ids["BUILDING_2"]], request_id="split-1", new_grid_display_name="North")
    assert again == north
    assert nodes_and_flats(platform, tenant) == before
    events = tap.drain(tenant, {SPLIT: 2}, timeout=3)
    assert [e["type"] for e in events].count(SPLIT) == 1 and [e["type"] for e in events].count(MOVED) == 1


def test_a_rerun_finishes_a_split_a_crash_interrupted(platform, community, tap):
    operator, ids, tenant = community
    third = building(operator, ids["GRID"], "B3")
    # The first attempt moved the second building, then "crashed" before its flats followed
    # and before it moved the third.
    north = split(operator, ids["GRID"], [ids["BUILDING_2"]], request_id="split-2", new_grid_display_name="North")
    stale = [ids[k] for k in ("CITY", "STREET", "COMMUNITY", "GRID", "BUILDING_2", "FLAT_2")]
    platform.database("grids").flats.update_one({"_id": ids["FLAT_2"]}, {"$set": {"path": stale}})

    again = split(operator, ids["GRID"], [ids["BUILDING_2"], third], request_id="split-2",
                  new_grid_display_name="North")
    assert again["id"] == north["id"]
    assert operator.call(f"{GRIDS}/GetFlat", {"id": ids["FLAT_2"]})["path"] == [
        *north["path"], ids["BUILDING_2"], ids["FLAT_2"]]
    assert operator.call(f"{GRIDS}/GetNode", {"id": third})["parent_id"] == north["id"]
    assert platform.database("grids").nodes.count_documents({"tenant": tenant, "kind": "GRID"}) == 2
    events = tap.drain(tenant, {MOVED: 2, SPLIT: 2})
    assert sorted(e["data"]["id"] for e in events if e["type"] == MOVED) == sorted([ids["BUILDING_2"], third])
    assert [e["data"]["child_ids"] for e in events if e["type"] == SPLIT] == [
        [ids["BUILDING_2"]], [ids["BUILDING_2"], third]]


def test_split_into_a_sibling_grid_moves_a_micro_grid_with_its_buildings(platform, community):
    operator, ids, tenant = community
    south = grid(operator, ids["COMMUNITY"], "South")
    micro = operator.call(f"{GRIDS}/CreateNode", {"kind": "MICRO_GRID", "display_name": "M",
                                                  "parent_id": ids["GRID"]})["id"]
    inner = building(operator, micro, "B-in-M")
    target = split(operator, ids["GRID"], [micro, ids["BUILDING_2"]], target_grid_id=south["id"])
    assert target["id"] == south["id"]
    assert operator.call(f"{GRIDS}/GetNode", {"id": inner})["path"] == [*south["path"], micro, inner]
    assert eventually(lambda: figures(operator, south["id"]) == (2, 1, 1, 1), interval=0.3)
    assert split(operator, ids["GRID"], [micro, ids["BUILDING_2"]], target_grid_id=south["id"]) == target


def test_merge_moves_everything_retires_the_source_and_a_rerun_changes_nothing(platform, community, tap):
    operator, ids, tenant = community
    south = split(operator, ids["GRID"], [ids["BUILDING_2"]], request_id="split-3", new_grid_display_name="South")
    assert eventually(lambda: figures(operator, south["id"]) == (1, 1, 1, 1), interval=0.3)
    post = assign(operator, south["id"], "GRID_LEADER", person("u-wu", "Wu"))
    kept = assign(operator, ids["BUILDING_2"], "BUILDING_LEADER", person("u-qian", "Qian"))
    clinic = operator.call(f"{GRIDS}/CreateOrganisation", {"node_id": south["id"], "kind": "CLINIC",
                                                           "display_name": "Clinic"})
    station = operator.call(f"{GRIDS}/CreateStation", {"node_id": south["id"], "display_name": "S"})
    operator.call(f"{GRIDS}/AddDuty", {"station_id": station["id"], "person": person("u-he", "He"),
                                       "weekday": "MONDAY", "start": "08:00", "end": "12:00"})

    before = nodes_and_flats(platform, tenant)
    refused = rpc_error(lambda: operator.call(f"{GRIDS}/MergeGrids", {"source_id": south["id"],
                                                                      "target_id": ids["GRID"]}))
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION and "retire_posts" in field_violations(refused)
    assert nodes_and_flats(platform, tenant) == before

    merged = operator.call(f"{GRIDS}/MergeGrids", {"source_id": south["id"], "target_id": ids["GRID"],
                                                   "retire_posts": True})
    assert (merged["id"], merged["merged_from"]) == (ids["GRID"], [south["id"]])
    assert rpc_error(lambda: operator.call(f"{GRIDS}/GetNode", {"id": south["id"]})).code() == (
        grpc.StatusCode.NOT_FOUND)
    home = merged["path"]
    assert operator.call(f"{GRIDS}/GetFlat", {"id": ids["FLAT_2"]})["path"] == [*home, ids["BUILDING_2"],
                                                                                ids["FLAT_2"]]
    posts = operator.call(f"{GRIDS}/ListPosts", {"node_id": ids["COMMUNITY"], "include_descendants": True})
    assert [(p["id"], p["path"]) for p in posts["posts"]] == [(kept["id"], [*home, ids["BUILDING_2"]])]
    assert operator.call(f"{GRIDS}/GetOrganisation", {"id": clinic["id"]})["node_id"] == ids["GRID"]
    assert operator.call(f"{GRIDS}/GetStation", {"id": station["id"]})["path"] == home
    assert operator.call(f"{GRIDS}/ListDuties", {"station_id": station["id"]})["duties"][0]["path"] == home
    assert eventually(lambda: figures(operator, ids["GRID"]) == (2, 2, 2, 3), interval=0.3)
    worker = platform.client(tenant=tenant, role="grid_worker", scope=(ids["GRID"],))
    assert len(worker.call(f"{RESIDENTS}/ListResidents", {})["residents"]) == 3

    expected = {MERGED: 1, "civicgrid.grids.node.deleted.v1": 1, "civicgrid.grids.post.removed.v1": 1,
                "civicgrid.grids.organisation.updated.v1": 1, "civicgrid.grids.station.updated.v1": 1}
    events = tap.drain(tenant, expected)
    assert [e["data"] for e in events if e["type"] == MERGED] == [{
        "id": south["id"], "display_name": "South", "path": south["path"], "target_id": ids["GRID"],
        "target_path": home}]
    assert [e["data"]["id"] for e in events if e["type"] == "civicgrid.grids.post.removed.v1"] == [post["id"]]
    rehomed = [e["data"] for e in events if e["type"] == "civicgrid.grids.station.updated.v1"]
    assert [(d["node_id"], d["changed"]) for d in rehomed] == [(ids["GRID"], ["node_id", "path"])]

    before = nodes_and_flats(platform, tenant)
    again = operator.call(f"{GRIDS}/MergeGrids", {"source_id": south["id"], "target_id": ids["GRID"],
                                                  "retire_posts": True})
    assert again == merged
    assert nodes_and_flats(platform, tenant) == before
    assert [e["type"] for e in tap.drain(tenant, {MERGED: 2}, timeout=3)].count(MERGED) == 1


def test_a_rerun_finishes_a_merge_a_crash_interrupted(platform, community):
    operator, ids, tenant = community
    south = grid(operator, ids["COMMUNITY"], "South")
    # The first attempt moved both buildings, then "crashed" before a flat followed and
    # before the source was retired.
    split(operator, ids["GRID"], [ids["BUILDING"], ids["BUILDING_2"]], target_grid_id=south["id"])
    stale = [ids[k] for k in ("CITY", "STREET", "COMMUNITY", "GRID", "BUILDING", "FLAT")]
    platform.database("grids").flats.update_one({"_id": ids["FLAT"]}, {"$set": {"path": stale}})

    merged = operator.call(f"{GRIDS}/MergeGrids", {"source_id": ids["GRID"], "target_id": south["id"]})
    assert merged["merged_from"] == [ids["GRID"]]
    assert operator.call(f"{GRIDS}/GetFlat", {"id": ids["FLAT"]})["path"] == [*south["path"], ids["BUILDING"],
                                                                              ids["FLAT"]]
    assert eventually(lambda: figures(operator, south["id"]) == (2, 2, 2, 3), interval=0.3)
    assert operator.call(f"{GRIDS}/ListNodes", {"parent_id": ids["COMMUNITY"]})["nodes"] == [
        operator.call(f"{GRIDS}/GetNode", {"id": south["id"]})]


@pytest.mark.parametrize("method, request_of, code, field", [
    ("SplitGrid", lambda ids: {"grid_id": "nope", "child_ids": [ids["BUILDING"]], "target_grid_id": ids["OTHER"]},
     "NOT_FOUND", None),
    ("SplitGrid", lambda ids: {"grid_id": ids["GRID"], "child_ids": ["nope"], "target_grid_id": ids["OTHER"]},
     "NOT_FOUND", None),
    ("SplitGrid", lambda ids: {"grid_id": ids["BUILDING"], "child_ids": [ids["BUILDING_2"]],
                               "target_grid_id": ids["OTHER"]}, "INVALID_ARGUMENT", "grid_id"),
    ("SplitGrid", lambda ids: {"grid_id": ids["GRID"], "child_ids": [ids["BUILDING"], ids["COMMUNITY"]],
                               "target_grid_id": ids["OTHER"]}, "INVALID_ARGUMENT", "child_ids.1"),
    ("SplitGrid", lambda ids: {"grid_id": ids["GRID"], "child_ids": [ids["FOREIGN_BUILDING"]],
                               "target_grid_id": ids["OTHER"]}, "INVALID_ARGUMENT", "child_ids.0"),
    ("SplitGrid", lambda ids: {"grid_id": ids["GRID"], "child_ids": [], "target_grid_id": ids["OTHER"]},
     "INVALID_ARGUMENT", "child_ids"),
    ("SplitGrid", lambda ids: {"grid_id": ids["GRID"], "child_ids": [ids["BUILDING"]],
                               "target_grid_id": ids["GRID"]}, "INVALID_ARGUMENT", "target_grid_id"),
    ("SplitGrid", lambda ids: {"grid_id": ids["GRID"], "child_ids": [ids["BUILDING"]],
                               "target_grid_id": ids["BUILDING_2"]}, "INVALID_ARGUMENT", "target_grid_id"),
    ("SplitGrid", lambda ids: {"grid_id": ids["GRID"], "child_ids": [ids["BUILDING"]],
                               "target_grid_id": ids["FOREIGN_GRID"]}, "INVALID_ARGUMENT", "target_grid_id"),
    ("SplitGrid", lambda ids: {"grid_id": ids["GRID"], "child_ids": [ids["BUILDING"]]},
     "INVALID_ARGUMENT", "target_grid_id"),
    ("SplitGrid", lambda ids: {"grid_id": ids["GRID"], "child_ids": [ids["BUILDING"]],
                               "new_grid_display_name": "N"}, "INVALID_ARGUMENT", "request_id"),
    ("MergeGrids", lambda ids: {"source_id": ids["GRID"], "target_id": ids["GRID"]},
     "INVALID_ARGUMENT", "target_id"),
    ("MergeGrids", lambda ids: {"source_id": "nope", "target_id": ids["GRID"]}, "NOT_FOUND", None),
    ("MergeGrids", lambda ids: {"source_id": ids["GRID"], "target_id": "nope"}, "NOT_FOUND", None),
    ("MergeGrids", lambda ids: {"source_id": ids["BUILDING"], "target_id": ids["GRID"]},
     "INVALID_ARGUMENT", "source_id"),
    ("MergeGrids", lambda ids: {"source_id": ids["GRID"], "target_id": ids["FOREIGN_GRID"]},
     "INVALID_ARGUMENT", "target_id"),
])
def test_bad_regrids_are_refused_naming_the_field_and_write_nothing(platform, community, method, request_of,
                                                                    code, field):
    operator, ids, tenant = community
    ids["OTHER"] = grid(operator, ids["COMMUNITY"], "Other")["id"]
    elsewhere = operator.call(f"{GRIDS}/CreateNode", {"kind": "COMMUNITY", "display_name": "Elsewhere",
                                                      "parent_id": ids["STREET"]})
    ids["FOREIGN_GRID"] = grid(operator, elsewhere["id"], "Foreign")["id"]
    ids["FOREIGN_BUILDING"] = building(operator, ids["FOREIGN_GRID"], "Foreign building")
    before = nodes_and_flats(platform, tenant)
    error = rpc_error(lambda: operator.call(f"{GRIDS}/{method}", request_of(ids)))
    assert error.code() == getattr(grpc.StatusCode, code)
    if field:
        assert field in field_violations(error)
    assert nodes_and_flats(platform, tenant) == before


def test_regrids_are_for_community_staff_in_scope(platform, community):
    operator, ids, tenant = community
    other = grid(operator, ids["COMMUNITY"], "Other")
    before = nodes_and_flats(platform, tenant)
    worker = platform.client(tenant=tenant, role="grid_worker", scope=(ids["COMMUNITY"],))
    for call in ({"SplitGrid": {"grid_id": ids["GRID"], "child_ids": [ids["BUILDING"]], "target_grid_id": other["id"]}},
                 {"MergeGrids": {"source_id": ids["GRID"], "target_id": other["id"]}}):
        (method, request), = call.items()
        assert rpc_error(lambda: worker.call(f"{GRIDS}/{method}", request)).code() == (
            grpc.StatusCode.PERMISSION_DENIED)
        outsider = platform.client(tenant=tenant, role="community_staff", scope=(other["id"],))
        assert rpc_error(lambda: outsider.call(f"{GRIDS}/{method}", request)).code() == grpc.StatusCode.NOT_FOUND
    assert nodes_and_flats(platform, tenant) == before
    staff = platform.client(tenant=tenant, role="community_staff", scope=(ids["COMMUNITY"],))
    assert split(staff, ids["GRID"], [ids["BUILDING_2"]], target_grid_id=other["id"])["id"] == other["id"]


def test_posts_organisations_and_stations_update_by_mask(platform, community, tap):
    operator, ids, tenant = community
    post = assign(operator, ids["GRID"], "GRID_LEADER", person("u-zhang", "Zhang"))
    renamed = operator.call(f"{GRIDS}/UpdatePost", {
        "post": {"id": post["id"], "holder": person("u-zhang", "Zhang Wei", "13800000001")},
        "update_mask": "holder"})
    assert renamed["holder"] == person("u-zhang", "Zhang Wei", "13800000001")
    assert (renamed["kind"], renamed["node_id"]) == ("GRID_LEADER", ids["GRID"])
    handed_over = rpc_error(lambda: operator.call(f"{GRIDS}/UpdatePost", {
        "post": {"id": post["id"], "holder": person("u-wu", "Wu")}, "update_mask": "holder"}))
    assert "post.holder.subject" in field_violations(handed_over)
    other_kind = rpc_error(lambda: operator.call(f"{GRIDS}/UpdatePost", {
        "post": {"id": post["id"], "kind": "GRID_WORKER"}, "update_mask": "kind"}))
    assert "update_mask" in field_violations(other_kind)
    bad_phone = rpc_error(lambda: operator.call(f"{GRIDS}/UpdatePost", {
        "post": {"id": post["id"], "holder": person("u-zhang", "Zhang", "x")}, "update_mask": "holder"}))
    assert "post.holder.phone" in field_violations(bad_phone)

    clinic = operator.call(f"{GRIDS}/CreateOrganisation", {"node_id": ids["GRID"], "kind": "CLINIC",
                                                           "display_name": "Clinic"})
    contacts = [{"display_name": "Dr Lu", "role": "doctor", "email": "lu@example.com"}]
    updated = operator.call(f"{GRIDS}/UpdateOrganisation", {
        "organisation": {"id": clinic["id"], "display_name": "Garden Clinic", "address": "ignored",
                         "contacts": contacts}, "update_mask": "displayName,contacts"})
    assert (updated["display_name"], updated["contacts"], updated.get("address", "")) == (
        "Garden Clinic", contacts, "")
    bad_email = rpc_error(lambda: operator.call(f"{GRIDS}/UpdateOrganisation", {
        "organisation": {"id": clinic["id"], "contacts": [{"display_name": "X", "email": "nope"}]},
        "update_mask": "contacts"}))
    assert "organisation.contacts.0.email" in field_violations(bad_email)
    moved = rpc_error(lambda: operator.call(f"{GRIDS}/UpdateOrganisation", {
        "organisation": {"id": clinic["id"], "node_id": ids["COMMUNITY"]}, "update_mask": "nodeId"}))
    assert "update_mask" in field_violations(moved)

    station = operator.call(f"{GRIDS}/CreateStation", {"node_id": ids["GRID"], "display_name": "S"})
    hours = [{"weekday": "MONDAY", "open": "09:00", "close": "17:00"}]
    reopened = operator.call(f"{GRIDS}/UpdateStation", {
        "station": {"id": station["id"], "display_name": "Service point", "opening_hours": hours},
        "update_mask": "displayName,openingHours"})
    assert (reopened["display_name"], reopened["opening_hours"], reopened["time_zone"]) == (
        "Service point", hours, "Asia/Shanghai")
    backwards = rpc_error(lambda: operator.call(f"{GRIDS}/UpdateStation", {
        "station": {"id": station["id"], "opening_hours": [{"weekday": "MONDAY", "open": "17:00", "close": "09:00"}]},
        "update_mask": "openingHours"}))
    assert "station.opening_hours.0.close" in field_violations(backwards)
    bad_zone = rpc_error(lambda: operator.call(f"{GRIDS}/UpdateStation", {
        "station": {"id": station["id"], "time_zone": "Mars/Olympus"}, "update_mask": "timeZone"}))
    assert "station.time_zone" in field_violations(bad_zone)
    nothing = rpc_error(lambda: operator.call(f"{GRIDS}/UpdateStation", {"station": {"id": station["id"]}}))
    assert "update_mask" in field_violations(nothing)
    assert operator.call(f"{GRIDS}/GetStation", {"id": station["id"]}) == reopened

    worker = platform.client(tenant=tenant, role="grid_worker", scope=(ids["GRID"],))
    assert rpc_error(lambda: worker.call(f"{GRIDS}/UpdateStation", {
        "station": {"id": station["id"], "display_name": "Mine"}, "update_mask": "displayName"})).code() == (
        grpc.StatusCode.PERMISSION_DENIED)

    updates = {f"civicgrid.grids.{kind}.updated.v1": 1 for kind in ("post", "organisation", "station")}
    events = tap.drain(tenant, updates)
    changed = {e["type"]: e["data"]["changed"] for e in events if e["type"] in updates}
    assert changed == {"civicgrid.grids.post.updated.v1": ["holder"],
                       "civicgrid.grids.organisation.updated.v1": ["contacts", "display_name"],
                       "civicgrid.grids.station.updated.v1": ["display_name", "opening_hours"]}


def test_node_figures_count_nodes_by_kind_through_create_move_and_delete(platform, community):
    operator, ids, tenant = community
    community_id = ids["COMMUNITY"]
    node_counts = (lambda node_id: {kind: int(n) for kind, n in operator.call(
        f"{GRIDS}/GetNodeFigures", {"node_id": node_id}).items() if kind in ("grids", "buildings")})
    assert node_counts(community_id) == {"grids": 1, "buildings": 2}
    empty = building(operator, ids["GRID"], "B3")
    other = grid(operator, community_id, "Grid two")
    assert node_counts(community_id) == {"grids": 2, "buildings": 3}
    operator.call(f"{GRIDS}/SplitGrid", {"grid_id": ids["GRID"], "child_ids": [empty], "target_grid_id": other["id"],
                                          "request_id": f"split-{tenant}"})
    assert node_counts(other["id"]) == {"buildings": 1} and node_counts(ids["GRID"]) == {"buildings": 2}
    operator.call(f"{GRIDS}/DeleteNode", {"id": empty})
    assert node_counts(community_id) == {"grids": 2, "buildings": 2}
    assert node_counts(other["id"]) == {}
