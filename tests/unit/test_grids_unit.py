"""The grids service's rules with its dependencies replaced (Nameko's worker_factory)."""
import pytest
from nameko.testing.services import worker_factory

from services.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.grids.service import GridsService

OPERATOR = {"subject": "o", "tenant": "t1", "role": "city_operator", "scope": ["*"]}
STAFF = {"subject": "s", "tenant": "t1", "role": "community_staff", "scope": ["co1"]}


def test_only_a_whole_tenant_operator_creates_cities():
    service = worker_factory(GridsService)
    with pytest.raises(PermissionDenied):
        service.create_node(STAFF, {"kind": "CITY", "display_name": "C"})
    service.store.nodes.create.assert_not_called()


def test_a_grid_goes_below_a_community_or_district_only():
    service = worker_factory(GridsService)
    service.store.nodes.get_in_scope.return_value = {"_id": "b1", "kind": "BUILDING", "path": ["c1", "b1"]}
    with pytest.raises(InvalidArgument) as raised:
        service.create_node(OPERATOR, {"kind": "GRID", "display_name": "G", "parent_id": "b1"})
    assert raised.value.violations[0]["field"] == "parent_id"
    service.store.nodes.create.assert_not_called()


def test_create_writes_the_record_with_its_event_in_one_write():
    service = worker_factory(GridsService)
    service.store.nodes.get_in_scope.return_value = {"_id": "co1", "kind": "COMMUNITY", "path": ["c1", "s1", "co1"]}
    service.store.nodes.create.side_effect = lambda tenant, request_id, fields, events: (
        {"_id": fields["id"], **fields, "tenant": tenant, "outbox": events}, True)
    node = service.create_node(OPERATOR, {"request_id": "r1", "kind": "GRID", "display_name": "G",
                                          "parent_id": "co1"})
    assert node["path"][:3] == ["c1", "s1", "co1"] and node["path"][3] == node["id"]
    _, _, _, events = service.store.nodes.create.call_args.args
    assert [event["type"] for event in events] == ["civicgrid.grids.node.created.v1"]


def test_a_merge_refused_for_the_sources_posts_moves_nothing():
    service = worker_factory(GridsService)
    grids = {grid_id: {"_id": grid_id, "kind": "GRID", "display_name": grid_id, "parent_id": "co1",
                       "path": ["c1", "s1", "co1", grid_id]} for grid_id in ("g1", "g2")}
    service.store.nodes.get_in_scope.side_effect = lambda caller, node_id: grids[node_id]
    service.store.attached_at.return_value = [{"_id": "p1"}]
    with pytest.raises(FailedPrecondition) as refused:
        service.merge_grids(OPERATOR, {"source_id": "g1", "target_id": "g2"})
    assert refused.value.violations[0]["field"] == "retire_posts"
    service.store.children_of.assert_not_called()
    service.store.nodes.update.assert_not_called()
