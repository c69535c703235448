"""Per-building snapshots behind node figures (services/storage/snapshots.py), against the real FerretDB."""
import uuid
from datetime import timedelta

import pytest
from pymongo import MongoClient

from services.storage import BuildingSnapshots, CountedRecords, now
from services.storage import snapshots as figures
from tests.conftest import required_env

pytestmark = pytest.mark.integration
CITY, GRID, OTHER_GRID = "city", "grid-1", "grid-2"


@pytest.fixture
def people():
    client = MongoClient(required_env("MONGO_URI"), tz_aware=True)
    database = client[f"snapshots_{uuid.uuid4().hex[:8]}"]

    def count_building(tenant, building_id):
        return {"people": database.people.count_documents({"tenant": tenant, "path": building_id})}
    snapshots = BuildingSnapshots(database, count_building)
    snapshots.ensure_indexes()
    yield database, snapshots
    client.drop_database(database.name)


def add_person(database, snapshots, building_path, mark=True):
    path = [*building_path, f"flat-{uuid.uuid4().hex[:6]}"]
    if mark:
        snapshots.mark("t1", path)
    database.people.insert_one({"tenant": "t1", "path": path})


def totals(snapshots, node_id):
    return snapshots.totals_below("t1", node_id)


def test_figures_are_exact_as_soon_as_a_change_is_written_and_sum_up_the_hierarchy(people):
    database, snapshots = people
    for building, count in (("b1", 2), ("b2", 3)):
        for _ in range(count):
            add_person(database, snapshots, [CITY, GRID, building])
    add_person(database, snapshots, [CITY, OTHER_GRID, "b3"])
    assert totals(snapshots, "b1") == {"people": 2}
    assert totals(snapshots, GRID) == {"people": 5}
    assert totals(snapshots, CITY) == {"people": 6}
    add_person(database, snapshots, [CITY, GRID, "b1"])
    assert totals(snapshots, CITY) == {"people": 7}
    assert snapshots.totals_below("another", CITY) == {}


def test_a_count_that_raced_a_write_is_redone_until_the_grace_has_passed(people, monkeypatch):
    database, snapshots = people
    monkeypatch.setattr(figures, "FIRST_RECOUNT_AFTER", timedelta(0))
    snapshots.mark("t1", [CITY, GRID, "b1", "flat"])
    snapshots.refresh()  # counts before the write lands, as a racing count would
    database.people.insert_one({"tenant": "t1", "path": [CITY, GRID, "b1", "flat"]})
    assert totals(snapshots, GRID) == {"people": 1}
    snapshots.refresh()
    assert database.dirty_buildings.count_documents({}) == 1, "the mark stays while the grace lasts"

    monkeypatch.setattr(figures, "WRITE_GRACE", timedelta(0))
    snapshots.refresh()  # with the grace over, the read's count (after the write) covers the mark
    assert database.dirty_buildings.count_documents({}) == 0
    assert totals(snapshots, CITY) == {"people": 1}


def test_a_crash_between_mark_and_write_costs_a_recount_not_a_wrong_figure(people):
    database, snapshots = people
    snapshots.mark("t1", [CITY, GRID, "b1", "flat"])  # the write never happened
    assert totals(snapshots, CITY) == {}
    add_person(database, snapshots, [CITY, GRID, "b1"])
    assert totals(snapshots, CITY) == {"people": 1}


def test_snapshots_follow_a_moved_grid(people):
    database, snapshots = people
    add_person(database, snapshots, [CITY, "community-1", GRID, "b1"])
    assert totals(snapshots, "community-1") == {"people": 1}
    snapshots.rewrite_paths_below("t1", GRID, [CITY, "community-2", GRID])
    database.people.update_many({}, {"$set": {"path": [CITY, "community-2", GRID, "b1", "flat"]}})
    assert totals(snapshots, "community-1") == {}
    assert totals(snapshots, "community-2") == {"people": 1}


def test_records_from_before_snapshots_are_counted_once(people):
    database, snapshots = people
    for building in ("b1", "b2"):
        add_person(database, snapshots, [CITY, GRID, building], mark=False)
    snapshots.start_counting(database.people)
    assert database.dirty_buildings.count_documents({}) == 2
    snapshots.start_counting(database.people)  # marks or snapshots exist: nothing more to do
    assert database.dirty_buildings.count_documents({}) == 2
    assert totals(snapshots, CITY) == {"people": 2}
    assert database.building_figures.find_one({"_id": "b1"})["counted"] <= now()


def test_an_import_adds_what_it_inserted_without_a_recount_and_clears_its_own_marks(people):
    database, snapshots = people
    add_person(database, snapshots, [CITY, GRID, "b1"])  # a single change, its mark still in grace
    assert totals(snapshots, CITY) == {"people": 1}
    recounts = []
    count_building = snapshots.count_building
    snapshots.count_building = lambda tenant, building_id: recounts.append(building_id) or count_building(
        tenant, building_id)

    paths = [[CITY, GRID, building, f"flat-{n}"] for building in ("b1", "b2", "b3") for n in range(3)]
    marks = snapshots.mark("t1", *paths)
    database.people.insert_many([{"tenant": "t1", "path": path} for path in paths])
    snapshots.add("t1", {(CITY, GRID, building): {"people": 3} for building in ("b1", "b2", "b3")}, marks)

    assert {mark["_id"] for mark in database.dirty_buildings.find()} == {"b1"}, "b1 keeps the single change's mark"
    assert totals(snapshots, CITY) == {"people": 10}
    assert recounts == ["b1"]


def test_an_import_leaves_a_building_recounted_since_its_mark_to_the_recount(people, monkeypatch):
    database, snapshots = people
    monkeypatch.setattr(figures, "FIRST_RECOUNT_AFTER", timedelta(0))
    path = [CITY, GRID, "b1", "flat"]
    marks = snapshots.mark("t1", path)
    database.people.insert_one({"tenant": "t1", "path": path})
    snapshots.refresh()  # a recount after the import's write already counts its record
    snapshots.add("t1", {(CITY, GRID, "b1"): {"people": 1}}, marks)
    assert database.building_figures.find_one({"_id": "b1"})["counts"] == {"people": 1}
    assert database.dirty_buildings.count_documents({}) == 1

    monkeypatch.setattr(figures, "WRITE_GRACE", timedelta(0))
    snapshots.refresh()
    assert database.dirty_buildings.count_documents({}) == 0
    assert totals(snapshots, CITY) == {"people": 1}


def test_two_writers_of_one_snapshot_version_cannot_both_win(people):
    database, snapshots = people
    read_before = database.building_figures.find_one({"_id": "b1"})
    assert snapshots._write("t1", (CITY, GRID, "b1"), read_before, {"people": 1}, counted=None)
    assert snapshots._write("t1", (CITY, GRID, "b1"), read_before, {"people": 99}, counted=None) is None
    assert database.building_figures.find_one({"_id": "b1"})["counts"] == {"people": 1}


def test_counted_records_keep_their_snapshots_through_create_update_move_and_retire(people):
    """What grids' flats and residents' records rely on: no handler marks or adds by hand."""
    database, snapshots = people

    def count_building(tenant, building_id):
        below = list(database.people.find({"tenant": tenant, "path": building_id, "retire_time": None}))
        moods = {f"mood:{person['mood']}": sum(p["mood"] == person["mood"] for p in below) for person in below}
        return {"people": len(below), **moods}
    snapshots.count_building = count_building
    people_records = CountedRecords(database.people, "person", snapshots,
                                    counts_of=lambda person: {"people": 1, f"mood:{person['mood']}": 1},
                                    counted_fields=("mood",))
    people_records.ensure_indexes()
    first, _ = people_records.create("t1", "r1", {"path": [CITY, GRID, "b1", "p1"], "mood": "calm"})
    people_records.create("t1", "r2", {"path": [CITY, GRID, "b1", "p2"], "mood": "calm"})
    people_records.create("t1", "r2", {"path": [CITY, GRID, "b1", "p2"], "mood": "calm"})  # a repeat
    assert totals(snapshots, CITY) == {"people": 2, "mood:calm": 2}
    people_records.update({"_id": first["_id"]}, {"mood": "glad"})
    assert totals(snapshots, "b1") == {"people": 2, "mood:calm": 1, "mood:glad": 1}
    people_records.update({"_id": first["_id"]}, {"path": [CITY, OTHER_GRID, "b2", "p1"]})
    assert totals(snapshots, OTHER_GRID) == {"people": 1, "mood:glad": 1}
    assert totals(snapshots, GRID) == {"people": 1, "mood:calm": 1}
    people_records.retire({"_id": first["_id"]}, [])
    assert totals(snapshots, CITY) == {"people": 1, "mood:calm": 1}
    assert database.dirty_buildings.count_documents({}) == 0


def test_a_whole_tenant_reads_kept_area_sums_until_a_change_touches_the_area(people, monkeypatch):
    database, snapshots = people
    monkeypatch.setattr(figures, "WRITE_GRACE", timedelta(0))
    for grid in (GRID, GRID, OTHER_GRID):
        add_person(database, snapshots, [CITY, grid, "b1" if grid == GRID else "b2"])
    snapshots.refresh()  # the timer recounts and clears the marks the writes left
    assert totals(snapshots, CITY) == {"people": 3}
    assert database.area_figures.count_documents({}) == 2, "both areas' sums are kept"

    database.area_figures.update_one({"_id": GRID}, {"$set": {"counts": {"people": 40}}})
    assert totals(snapshots, CITY) == {"people": 41}, "a kept sum is read, not its buildings"
    add_person(database, snapshots, [CITY, GRID, "b1"])
    assert totals(snapshots, CITY) == {"people": 4}, "the change touched the area: its sum no longer holds"


def test_an_area_with_a_marked_building_is_summed_from_its_buildings_and_not_kept(people, monkeypatch):
    database, snapshots = people
    monkeypatch.setattr(figures, "WRITE_GRACE", timedelta(0))
    snapshots.mark("t1", [CITY, GRID, "b1", "flat"])  # a writer that crashed after marking
    database.people.insert_one({"tenant": "t1", "path": [CITY, GRID, "b1", "flat"]})
    assert totals(snapshots, CITY) == {"people": 1}
    assert database.area_figures.count_documents({}) == 0


def test_a_caller_limited_to_part_of_a_node_reads_only_its_buildings(people, monkeypatch):
    database, snapshots = people
    monkeypatch.setattr(figures, "WRITE_GRACE", timedelta(0))
    add_person(database, snapshots, [CITY, GRID, "b1"])
    add_person(database, snapshots, [CITY, OTHER_GRID, "b2"])
    assert totals(snapshots, CITY) == {"people": 2}
    assert snapshots.totals_below("t1", CITY, scope=[OTHER_GRID]) == {"people": 1}
    assert snapshots.totals_below("t1", CITY, scope=["b1"]) == {"people": 1}


def test_a_moved_building_leaves_its_old_area_sum_and_joins_the_new_one(people, monkeypatch):
    database, snapshots = people
    monkeypatch.setattr(figures, "WRITE_GRACE", timedelta(0))
    add_person(database, snapshots, [CITY, GRID, "b1"])
    add_person(database, snapshots, [CITY, OTHER_GRID, "b2"])
    snapshots.refresh()
    assert totals(snapshots, GRID) == {"people": 1} and totals(snapshots, CITY) == {"people": 2}
    snapshots.rewrite_paths_below("t1", "b1", [CITY, OTHER_GRID, "b1"])
    database.people.update_many({"path": "b1"}, {"$set": {"path": [CITY, OTHER_GRID, "b1", "flat"]}})
    assert totals(snapshots, GRID) == {}
    assert totals(snapshots, OTHER_GRID) == {"people": 2}
    assert totals(snapshots, CITY) == {"people": 2}


def test_snapshots_from_before_area_sums_and_audits_are_placed_once(people):
    database, snapshots = people
    add_person(database, snapshots, [CITY, GRID, "b1"])
    assert totals(snapshots, CITY) == {"people": 1}  # the read recounts the marked building
    # as a store written before area sums and audits existed, its marks recounted
    database.touched_areas.delete_many({})
    database.dirty_buildings.delete_many({})
    database.building_figures.update_many({}, {"$unset": {"area": "", "audit_slot": ""}})
    assert totals(snapshots, CITY) == {"people": 1}, "without touched areas, the buildings are read"
    snapshots.start_counting(database.people)
    assert [area["_id"] for area in database.touched_areas.find()] == [GRID]
    placed = database.building_figures.find_one({"_id": "b1"})
    assert (placed["area"], placed["audit_slot"]) == (GRID, figures.audit_slot("b1"))
    assert totals(snapshots, CITY) == {"people": 1}


def test_an_area_sums_its_own_buildings_not_those_of_an_area_below_it(people, monkeypatch):
    database, snapshots = people
    monkeypatch.setattr(figures, "WRITE_GRACE", timedelta(0))
    add_person(database, snapshots, [CITY, GRID, "b1"])
    add_person(database, snapshots, [CITY, GRID, "micro-grid", "b2"])
    snapshots.refresh()
    for _ in range(2):  # summed from the buildings, then from the kept sums
        assert totals(snapshots, CITY) == {"people": 2}
        assert totals(snapshots, GRID) == {"people": 2}
        assert totals(snapshots, "micro-grid") == {"people": 1}
    assert {s["_id"]: s["counts"] for s in database.area_figures.find()} == {
        GRID: {"people": 1}, "micro-grid": {"people": 1}}


def test_a_node_that_is_itself_a_building_counts_its_own_snapshot_beside_its_areas(people, monkeypatch):
    database, snapshots = people
    monkeypatch.setattr(figures, "WRITE_GRACE", timedelta(0))
    snapshots.count_building = lambda tenant, building_id: {"people": sum(
        person["path"][-2] == building_id for person in database.people.find({"tenant": tenant, "path": building_id}))}
    add_person(database, snapshots, [CITY, GRID])  # a flat right below the grid
    add_person(database, snapshots, [CITY, GRID, "b1"])
    snapshots.refresh()
    for _ in range(2):
        assert totals(snapshots, GRID) == {"people": 2}
        assert totals(snapshots, CITY) == {"people": 2}


def test_the_audit_mends_a_snapshot_a_missed_change_left_wrong(people, monkeypatch):
    database, snapshots = people
    monkeypatch.setattr(figures, "WRITE_GRACE", timedelta(0))
    monkeypatch.setattr(figures, "FIRST_RECOUNT_AFTER", timedelta(0))
    add_person(database, snapshots, [CITY, GRID, "b1"])
    snapshots.refresh()
    database.people.insert_one({"tenant": "t1", "path": [CITY, GRID, "b1", "flat-x"]})  # a change no mark caught
    assert totals(snapshots, CITY) == {"people": 1}
    slot = database.building_figures.find_one({"_id": "b1"})["audit_slot"]
    assert slot == figures.audit_slot("b1")
    snapshots.audit(slot)
    assert totals(snapshots, CITY) == {"people": 2}, "the audit's mark has the building recounted"
    snapshots.refresh()
    assert database.dirty_buildings.count_documents({}) == 0
    assert totals(snapshots, CITY) == {"people": 2}


def test_a_building_counted_for_a_mark_made_before_areas_existed_joins_its_area(people):
    database, snapshots = people
    database.dirty_buildings.insert_one({"_id": "b1", "tenant": "t1", "path": [CITY, GRID, "b1"], "time": now()})
    database.people.insert_one({"tenant": "t1", "path": [CITY, GRID, "b1", "flat"]})
    assert totals(snapshots, "b1") == {"people": 1}  # the read recounts the marked building
    assert [area["_id"] for area in database.touched_areas.find()] == [GRID]
    assert totals(snapshots, CITY) == {"people": 1}
