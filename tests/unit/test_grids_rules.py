"""The grids service's rules, free of storage and RPC: hierarchy, flats, staff posts, stations."""
import pytest

from services.access import Caller
from services.errors import AlreadyExists, FailedPrecondition, InvalidArgument, PermissionDenied
from services.grids import flats, hierarchy, schemas, staff, stations

OPERATOR = Caller(subject="o", tenant="t1", role="city_operator", scope=("*",))
STAFF = Caller(subject="s", tenant="t1", role="community_staff", scope=("co1",))
GRID = {"_id": "g1", "kind": "GRID", "display_name": "G1", "parent_id": "co1", "path": ["c1", "s1", "co1", "g1"]}
HOURS = [{"weekday": "MONDAY", "open": "08:00", "close": "12:00"},
         {"weekday": "MONDAY", "open": "14:00", "close": "21:00"}]


def field_of(raised):
    return raised.value.violations[0]["field"]


# Hierarchy

def test_only_a_whole_tenant_city_operator_creates_a_city_and_it_has_no_parent():
    city = schemas.CreateNode(kind="CITY", display_name="C")
    assert hierarchy.needs_parent(city, OPERATOR) is False
    with pytest.raises(PermissionDenied):
        hierarchy.needs_parent(city, STAFF)
    with pytest.raises(InvalidArgument) as raised:
        hierarchy.needs_parent(schemas.CreateNode(kind="CITY", display_name="C", parent_id="x"), OPERATOR)
    assert field_of(raised) == "parent_id"


def test_every_other_kind_needs_a_parent_of_an_allowed_kind():
    with pytest.raises(InvalidArgument) as raised:
        hierarchy.needs_parent(schemas.CreateNode(kind="GRID", display_name="G"), OPERATOR)
    assert "COMMUNITY or DISTRICT" in raised.value.violations[0]["description"]
    assert hierarchy.path_below("BUILDING", GRID) == GRID["path"]
    with pytest.raises(InvalidArgument) as raised:
        hierarchy.path_below("GRID", {"kind": "BUILDING", "path": ["b1"]})
    assert field_of(raised) == "parent_id"


def test_a_new_node_ends_its_path_with_its_own_id():
    command = schemas.CreateNode(kind="BUILDING", display_name="B", parent_id="g1")
    assert hierarchy.new_node("b1", command, GRID["path"])["path"] == [*GRID["path"], "b1"]


def test_a_move_names_the_previous_and_the_new_place():
    building = {"_id": "b1", "kind": "BUILDING", "display_name": "B", "parent_id": "g1", "path": [*GRID["path"], "b1"]}
    target = {"_id": "g2", "path": ["c1", "s1", "co1", "g2"]}
    changes, event = hierarchy.moved(building, target)
    assert changes == {"parent_id": "g2", "path": ["c1", "s1", "co1", "g2", "b1"]}
    assert event["previous_parent_id"] == "g1" and event["previous_path"] == building["path"]
    assert event["path"] == changes["path"]


def test_only_a_grid_moves_and_only_below_a_community_or_district():
    with pytest.raises(InvalidArgument) as raised:
        hierarchy.require_movable({"kind": "BUILDING"})
    assert field_of(raised) == "id"
    hierarchy.require_grid_parent({"kind": "DISTRICT"})
    with pytest.raises(InvalidArgument):
        hierarchy.require_grid_parent({"kind": "STREET"})


def test_grids_are_re_divided_within_their_community():
    hierarchy.check_same_community(GRID, {"path": ["c1", "s1", "co1", "d1", "g9"]}, "target_id")
    with pytest.raises(InvalidArgument) as raised:
        hierarchy.check_same_community(GRID, {"path": ["c1", "s1", "co2", "g9"]}, "target_id")
    assert field_of(raised) == "target_id"


@pytest.mark.parametrize("fields, field", [
    ({}, "target_grid_id"),
    ({"target_grid_id": "g2", "new_grid_display_name": "New"}, "target_grid_id"),
    ({"target_grid_id": "g1"}, "target_grid_id"),
    ({"new_grid_display_name": "New"}, "request_id"),
])
def test_a_split_names_one_other_target(fields, field):
    command = schemas.SplitGrid(grid_id="g1", child_ids=["b1"], **fields)
    with pytest.raises(InvalidArgument) as raised:
        hierarchy.require_one_split_target(command, GRID)
    assert field_of(raised) == field


def test_a_retried_split_makes_the_same_new_grid_below_the_same_parent():
    command = schemas.SplitGrid(request_id="r1", grid_id="g1", child_ids=["b1"], new_grid_display_name="New")
    first_id, new_grid = hierarchy.grid_split_off("t1", command, GRID)
    assert hierarchy.grid_split_off("t1", command, GRID)[0] == first_id
    assert (new_grid.kind, new_grid.parent_id, new_grid.request_id) == ("GRID", "co1", first_id)


def test_a_split_moves_buildings_and_micro_grids_directly_below_the_grid_or_already_moved():
    hierarchy.require_grid_child({"kind": "BUILDING", "parent_id": "g1"}, "child_ids.0", GRID, "g2")
    hierarchy.require_grid_child({"kind": "MICRO_GRID", "parent_id": "g2"}, "child_ids.0", GRID, "g2")
    for child in ({"kind": "GRID", "parent_id": "g1"}, {"kind": "BUILDING", "parent_id": "g3"}):
        with pytest.raises(InvalidArgument) as raised:
            hierarchy.require_grid_child(child, "child_ids.1", GRID, "g2")
        assert field_of(raised) == "child_ids.1"


def test_the_last_child_still_to_move_carries_the_split_event():
    target = {"_id": "g2"}
    children = [{"_id": "b1", "parent_id": "g1"}, {"_id": "b2", "parent_id": "g1"}, {"_id": "b3", "parent_id": "g2"}]
    assert hierarchy.closing_events(children, target, ["split"]) == [(), ["split"], ()]
    moved = [dict(child, parent_id="g2") for child in children]
    assert hierarchy.closing_events(moved, target, ["split"]) == [(), (), ()]


def test_a_merge_needs_another_grid_and_a_word_on_the_sources_posts():
    with pytest.raises(InvalidArgument) as raised:
        hierarchy.require_other_grid(schemas.MergeGrids(source_id="g1", target_id="g1"))
    assert field_of(raised) == "target_id"
    hierarchy.require_posts_retired(GRID, [], retire_posts=False)
    hierarchy.require_posts_retired(GRID, [{"_id": "p1"}], retire_posts=True)
    with pytest.raises(FailedPrecondition) as refused:
        hierarchy.require_posts_retired(GRID, [{"_id": "p1"}], retire_posts=False)
    assert refused.value.violations[0]["field"] == "retire_posts"
    assert hierarchy.was_merged("g1", {"merged_from": ["g1"]}) and not hierarchy.was_merged("g1", {})


# Flats

def test_a_building_view_counts_every_occupancy():
    building = {"_id": "b1", "kind": "BUILDING", "path": ["b1"]}
    rows = [{"_id": f"f{n}", "occupancy": occupancy, "occupancy_history": []}
            for n, occupancy in enumerate(("RENTED", "RENTED", "VACANT"))]
    view = flats.building_view(building, rows)
    assert view["occupancy"] == {"vacant": 1, "owner_occupied": 0, "rented": 2}
    assert [flat["id"] for flat in view["flats"]] == ["f0", "f1", "f2"]
    assert all("occupancy_history" not in flat for flat in view["flats"])


def test_a_shown_flat_has_its_history_times_as_rfc3339():
    document = {"_id": "f1", "occupancy_history": [flats.occupancy_change("RENTED", OPERATOR)]}
    entry = flats.shown_flat(document)["occupancy_history"][0]
    assert entry["changed_by"] == "o" and entry["time"].endswith("Z")


def test_an_occupancy_change_is_an_event_and_a_history_entry():
    flat = {"_id": "f1", "building_id": "b1", "unit": "", "floor": 1, "number": "101", "occupancy": "VACANT",
            "path": ["b1", "f1"]}
    events, history = flats.changed(flat, {"floor": 2}, OPERATOR)
    assert [event["type"] for event in events] == ["civicgrid.grids.flat.updated.v1"] and history == {}
    events, history = flats.changed(flat, {"occupancy": "RENTED"}, OPERATOR)
    assert events[1]["data"]["previous_occupancy"] == "VACANT" and history["occupancy_history"]["occupancy"] == "RENTED"


def test_ensured_flats_get_ids_of_their_address_and_keep_each_items_error():
    building = {"_id": "b1", "kind": "BUILDING", "path": ["c1", "b1"]}
    wanted = [flats.parsed_flat({"building_id": "b1", "number": "101"}),
              flats.parsed_flat({"building_id": "b1"}),
              flats.parsed_flat({"building_id": "b1", "number": "101"}),
              flats.parsed_flat({"building_id": "b2", "number": "1"})]
    missing = {"error": {"field": "building_id", "description": "node not found"}}
    planned, results = flats.planned_flats(OPERATOR, wanted, {"b1": building, "b2": missing})
    assert results[1]["error"]["field"] == "number" and results[3] == missing
    assert results[0] == results[2] == ("b1", "", "101") and len(planned) == 1
    document = planned[results[0]]
    assert flats.new_flat_document(OPERATOR, wanted[0], building)["_id"] == document["_id"]
    assert document["path"] == ["c1", "b1", document["_id"]] and len(document["outbox"]) == 1
    assert flats.ensured(results[0], planned, {document["_id"]}, {})["created"] is True
    assert flats.ensured(results[0], planned, set(), {results[0]: document})["created"] is False
    assert flats.ensured(results[0], planned, set(), {})["error"]["field"] == "number"


def test_node_figures_name_occupancy_by_its_key():
    figures = flats.node_figures({"_id": "co1", "kind": "COMMUNITY"}, {"GRID": 2, "BUILDING": 5},
                                 {"RENTED": 3, "VACANT": 1}, {"people": 7})
    assert (figures["grids"], figures["districts"], figures["flats"], figures["people"]) == (2, 0, 4, 7)
    assert figures["flats_by_occupancy"] == {"rented": 3, "vacant": 1}


# Staff posts

def test_a_post_fits_its_kinds_of_node():
    staff.require_post_fits("ROAD_LEADER", {"kind": "DISTRICT"})
    with pytest.raises(InvalidArgument) as raised:
        staff.require_post_fits("GRID_LEADER", {"kind": "BUILDING"})
    assert field_of(raised) == "kind"


def test_a_sole_post_is_unique_at_its_node_and_others_per_person():
    node = {"_id": "g1", "kind": "GRID", "path": ["g1"]}
    def post(kind, subject):
        return schemas.AssignPost(node_id="g1", kind=kind, holder={"subject": subject, "display_name": subject})
    assert staff.new_post("t1", post("GRID_LEADER", "u1"), node)["id"] == staff.new_post(
        "t1", post("GRID_LEADER", "u2"), node)["id"]
    assert staff.new_post("t1", post("GRID_WORKER", "u1"), node)["id"] != staff.new_post(
        "t1", post("GRID_WORKER", "u2"), node)["id"]
    taken = staff.post_taken(post("GRID_LEADER", "u1"), node)
    assert isinstance(taken, AlreadyExists) and taken.violations[0]["field"] == "kind"
    assert staff.post_taken(post("GRID_WORKER", "u1"), node).violations[0]["field"] == "holder.subject"


def test_a_post_update_keeps_its_holder():
    post = {"holder": {"subject": "u1"}}
    staff.require_same_holder(post, {"holder": {"subject": "u1", "display_name": "New name"}})
    with pytest.raises(InvalidArgument) as raised:
        staff.require_same_holder(post, {"holder": {"subject": "u2"}})
    assert field_of(raised) == "post.holder.subject"


def test_nearest_staff_are_the_holders_at_the_deepest_node_of_the_path():
    path = ["c1", "co1", "g1", "b1"]
    posts = [{"_id": "p2", "kind": "ROAD_LEADER", "node_id": "g1", "holder": {"subject": "u2"}},
             {"_id": "p1", "kind": "ROAD_LEADER", "node_id": "g1", "holder": {"subject": "u1"}},
             {"_id": "p3", "kind": "ROAD_LEADER", "node_id": "co1", "holder": {"subject": "u3"}}]
    found = staff.nearest_staff(path, ["ROAD_LEADER", "SHOP_LEADER", "ROAD_LEADER"], posts)
    assert found == [
        {"post": "ROAD_LEADER", "node_id": "g1",
         "holders": [{"subject": "u1", "post_id": "p1"}, {"subject": "u2", "post_id": "p2"}]},
        {"post": "SHOP_LEADER", "node_id": "", "holders": []}]


# Stations

@pytest.mark.parametrize("clock, expected", [("07:59", False), ("08:00", True), ("12:00", False),
                                             ("13:00", False), ("20:59", True), ("21:00", False)])
def test_a_station_is_open_within_any_of_the_days_ranges(clock, expected):
    assert stations.is_open(HOURS, "MONDAY", clock) is expected
    assert stations.is_open(HOURS, "TUESDAY", clock) is False


def test_a_moment_is_read_as_rfc3339_and_refused_naming_the_field():
    assert stations.instant_of("2026-11-23T02:00:00.123456789Z").isoformat() == "2026-11-23T02:00:00.123456+00:00"
    with pytest.raises(InvalidArgument) as raised:
        stations.instant_of("monday morning")
    assert field_of(raised) == "at"


def test_the_day_and_clock_are_the_stations_own():
    assert stations.local_day_and_clock("2026-11-22T23:30:00Z", "Asia/Shanghai") == ("MONDAY", "07:30")


def test_a_station_refuses_an_unknown_zone_and_hours_that_close_before_they_open():
    with pytest.raises(InvalidArgument) as raised:
        stations.check_station({"time_zone": "Mars/Olympus"}, prefix="station.")
    assert field_of(raised) == "station.time_zone"
    with pytest.raises(InvalidArgument) as raised:
        stations.check_station({"opening_hours": [{"open": "10:00", "close": "09:00"}]})
    assert field_of(raised) == "opening_hours.0.close"


def test_a_duty_ends_after_it_starts_and_is_on_within_its_hours():
    with pytest.raises(InvalidArgument) as raised:
        stations.check_duty(schemas.AddDuty(station_id="s1", person={"subject": "u", "display_name": "U"},
                                            weekday="MONDAY", start="10:00", end="10:00"))
    assert field_of(raised) == "end"
    station = {"_id": "s1", "opening_hours": HOURS}
    duties = [{"_id": "d1", "start": "08:00", "end": "10:00"}, {"_id": "d2", "start": "10:00", "end": "12:00"}]
    view = stations.on_duty(station, "MONDAY", "10:00", duties)
    assert view["open"] is True and [duty["id"] for duty in view["on_duty"]] == ["d2"]
