"""What a process remembers of the grids service's nodes and flats, and when it forgets them."""
from unittest.mock import MagicMock

import pytest

from services.access import Caller
from services.errors import NotFound
from services.reference import GridPlaces, GridsReference, ReferenceMemory
from services.tickets.store import TicketsRepository

STAFF = Caller(subject="s1", tenant="t1", role="community_staff", scope=("co1",))
ELSEWHERE = Caller(subject="s2", tenant="t1", role="community_staff", scope=("co2",))
BUILDING = {"id": "b1", "kind": "BUILDING", "display_name": "1号楼", "parent_id": "g1", "path": ["co1", "g1", "b1"],
            "create_time": "2024-01-01T00:00:00.000000Z"}
FLAT = {"id": "f1", "building_id": "b1", "unit": "1", "floor": 3, "number": "301", "occupancy": "RENTED",
        "path": ["co1", "g1", "b1", "f1"], "occupancy_history": []}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def grids_with(*records):
    """A grids proxy that finds these records (flats by their building_id) and counts its calls."""
    by_id = {record["id"]: record for record in records}
    grids = MagicMock()

    def reader(is_flat):
        def read(caller, request):
            record = by_id.get(request["id"])
            if record is None or ("building_id" in record) != is_flat or not Caller.of(caller).reaches(record["path"]):
                raise NotFound("flat not found" if is_flat else "node not found")
            return record
        return read
    grids.get_flat.side_effect = reader(True)
    grids.get_node.side_effect = reader(False)
    return grids


def places(grids, memory=None):
    return GridPlaces(memory or ReferenceMemory(100, 60), grids)


def event(event_type, record_id, tenant="t1"):
    return {"type": f"civicgrid.grids.{event_type}.v1", "tenant": tenant, "data": {"id": record_id}}


def test_a_place_is_read_from_grids_once_then_remembered():
    grids = grids_with(BUILDING, FLAT)
    reader = places(grids)
    for _ in range(3):
        assert reader.place(STAFF, "f1") == {"id": "f1", "path": ["co1", "g1", "b1", "f1"], "building_id": "b1"}
        assert reader.place(STAFF, "b1") == {"id": "b1", "path": ["co1", "g1", "b1"], "building_id": "b1"}
    assert grids.get_flat.call_count == 2 and grids.get_node.call_count == 1


def test_only_what_places_a_record_is_remembered():
    reader = places(grids_with(BUILDING, FLAT))
    assert reader.node(STAFF, "b1") == {key: BUILDING[key] for key in ("id", "kind", "display_name", "parent_id",
                                                                         "path")}
    reader.place(STAFF, "f1")
    [(_, flat_kind, flat)] = [entry for key, entry in reader.memory.entries.items() if key == ("t1", "f1")]
    assert flat_kind == "flat" and "occupancy" not in flat and "occupancy_history" not in flat


def test_a_caller_out_of_scope_is_refused_by_grids_itself():
    grids = grids_with(BUILDING)
    reader = places(grids)
    reader.node(STAFF, "b1")
    with pytest.raises(NotFound, match="node not found"):
        reader.node(ELSEWHERE, "b1")
    assert grids.get_node.call_count == 2


def test_a_remembered_flat_is_no_node():
    grids = grids_with(FLAT)
    reader = places(grids)
    reader.place(STAFF, "f1")
    with pytest.raises(NotFound):
        reader.node(STAFF, "f1")


def test_what_the_caller_changes_is_not_remembered():
    reader = places(grids_with(BUILDING))
    reader.node(STAFF, "b1")["path"].append("x")
    assert reader.node(STAFF, "b1")["path"] == ["co1", "g1", "b1"]


def test_a_move_forgets_the_node_and_everything_below_it_in_that_tenant_only():
    memory = ReferenceMemory(100, 60)
    memory.remember("t1", "g1", "node", {"path": ["co1", "g1"]})
    memory.remember("t1", "f1", "flat", {"path": ["co1", "g1", "b1", "f1"]})
    memory.remember("t1", "g2", "node", {"path": ["co1", "g2"]})
    memory.remember("t2", "f1", "flat", {"path": ["co1", "g1", "b1", "f1"]})
    reference = GridsReference()
    reference.memory, reference.broadcast_consumer = memory, MagicMock()
    reference.handle_message(event("node.moved", "g1"), message := MagicMock())
    assert set(memory.entries) == {("t1", "g2"), ("t2", "f1")}
    reference.broadcast_consumer.ack_message.assert_called_once_with(message)


def test_an_event_without_a_record_forgets_everything():
    memory = ReferenceMemory(100, 60)
    memory.remember("t1", "g1", "node", {"path": ["co1", "g1"]})
    reference = GridsReference()
    reference.memory, reference.broadcast_consumer, reference.queue = memory, MagicMock(), MagicMock()
    reference.handle_message({"type": "civicgrid.grids.node.moved.v1"}, MagicMock())
    assert memory.entries == {}


def test_a_read_under_way_when_an_event_arrives_is_not_remembered():
    memory = ReferenceMemory(100, 60)
    grids = grids_with(BUILDING)
    original = grids.get_node.side_effect

    def read_while_moved(caller, request):
        memory.forget_holding("t1", "g1")
        return original(caller, request)
    grids.get_node.side_effect = read_while_moved
    places(grids, memory).node(STAFF, "b1")
    assert memory.recall("t1", "b1") is None


def test_records_go_after_their_time_to_live_and_the_least_recently_used_beyond_the_size():
    clock = Clock()
    memory = ReferenceMemory(2, 60, clock)
    memory.remember("t1", "a", "node", {"path": ["a"]})
    memory.remember("t1", "b", "node", {"path": ["b"]})
    memory.recall("t1", "a")
    memory.remember("t1", "c", "node", {"path": ["c"]})
    assert set(memory.entries) == {("t1", "a"), ("t1", "c")}
    clock.now = 61
    assert memory.recall("t1", "a") is None and ("t1", "a") not in memory.entries


def test_a_category_is_read_once_per_process():
    repository = TicketsRepository(MagicMock())
    repository.categories = MagicMock()
    repository.categories.for_worker.return_value = repository.categories
    repository.categories.get.return_value = {"_id": "c1", "tenant": "t1", "name": "供暖", "promises": []}
    worker_copies = [repository.for_worker(MagicMock()) for _ in range(2)]
    for copy in worker_copies:
        assert copy.category("t1", "c1")["name"] == "供暖"
    repository.categories.get.assert_called_once_with({"tenant": "t1", "_id": "c1"})
