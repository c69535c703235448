"""Staff posts through the grids service, its dependencies replaced (Nameko's worker_factory)."""
import pytest
from nameko.testing.services import worker_factory

from services.errors import InvalidArgument
from services.grids.service import GridsService

OPERATOR = {"subject": "o", "tenant": "t1", "role": "city_operator", "scope": ["*"]}


def test_a_post_that_does_not_fit_the_node_writes_nothing():
    service = worker_factory(GridsService)
    service.store.nodes.get_in_scope.return_value = {"_id": "b1", "kind": "BUILDING", "path": ["c1", "b1"]}
    with pytest.raises(InvalidArgument) as raised:
        service.assign_post(OPERATOR, {"node_id": "b1", "kind": "GRID_LEADER",
                                       "holder": {"subject": "u1", "display_name": "Zhang"}})
    assert raised.value.violations[0]["field"] == "kind"
    service.store.posts.create.assert_not_called()


def test_the_grid_leader_post_has_one_id_per_grid_whoever_holds_it():
    service = worker_factory(GridsService)
    service.store.nodes.get_in_scope.return_value = {"_id": "g1", "kind": "GRID", "path": ["c1", "g1"]}
    service.store.posts.create.side_effect = lambda tenant, request_id, fields, events: (
        {"_id": fields["id"], **fields}, True)
    first = service.assign_post(OPERATOR, {"node_id": "g1", "kind": "GRID_LEADER",
                                           "holder": {"subject": "u1", "display_name": "Zhang"}})
    second = service.assign_post(OPERATOR, {"node_id": "g1", "kind": "GRID_LEADER",
                                            "holder": {"subject": "u2", "display_name": "Wu"}})
    workers = [service.assign_post(OPERATOR, {"node_id": "g1", "kind": "GRID_WORKER",
                                              "holder": {"subject": s, "display_name": s}})["id"] for s in ("u1", "u2")]
    assert first["id"] == second["id"] and len(set(workers)) == 2
