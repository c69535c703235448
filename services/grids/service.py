"""The grids service: RPC entrypoints for the hierarchy and its flats."""
from nameko.rpc import RpcProxy, rpc
from pymongo.errors import DuplicateKeyError

from services.access import Caller
from services import base
from services.errors import AlreadyExists, FailedPrecondition, InvalidArgument, PermissionDenied
from services.events import envelope
from services.grids import schemas
from services.grids.events import (FlatCreated, FlatDeleted, FlatUpdated, NodeCreated, NodeDeleted,
                                   NodeUpdated)
from services.grids.store import GridsRepository
from services.storage import MongoStore, new_id, public
from services.validation import masked_changes, parse


class GridsService(base.CivicService):
    name = "grids"
    store = MongoStore(GridsRepository)
    residents = RpcProxy("residents")

    # Nodes

    @rpc
    def create_node(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateNode, request)
        path = self._path_for_new_node(caller, command)
        fields = {"kind": command.kind, "display_name": command.display_name,
                  "parent_id": command.parent_id}
        node_id = fields["id"] = new_id()
        fields["path"] = [*path, node_id]
        event = self._node_event(NodeCreated, caller.tenant, {**fields, "id": node_id})
        document, _ = self.store.nodes.create(caller.tenant, command.request_id, dict(fields), [event])
        self.publish(self.store.nodes, document)
        return public(document)

    @rpc
    def get_node(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GetById, request)
        return public(self._node(caller, command.id))

    @rpc
    def list_nodes(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListNodes, request)
        if command.parent_id:
            self._node(caller, command.parent_id)
            query = {"tenant": caller.tenant, "parent_id": command.parent_id}
        else:
            query = caller.scoped({"kind": "CITY"}) if caller.whole_tenant else caller.scoped(
                {"_id": {"$in": list(caller.scope)}})
        documents, token = self.store.nodes.page(query, command.page_size, command.page_token)
        return {"nodes": [public(d) for d in documents], "next_page_token": token}

    @rpc
    def update_node(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.UpdateNode, request)
        node_id, changes = masked_changes(schemas.NodeChanges, command.node, command.update_mask, "node")
        node = self._node(caller, node_id)
        event = self._node_event(NodeUpdated, caller.tenant, public(node) | changes, changed=sorted(changes))
        document = self.store.nodes.update({"tenant": caller.tenant, "_id": node_id}, changes, [event])
        self.publish(self.store.nodes, document)
        return public(document)

    @rpc
    def delete_node(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GetById, request)
        node = self._node(caller, command.id)
        if self.store.has_children(caller.tenant, node["_id"]):
            raise FailedPrecondition("node has nodes or flats below it; move or delete them first")
        event = self._node_event(NodeDeleted, caller.tenant, public(node))
        retired = self.store.nodes.retire({"tenant": caller.tenant, "_id": node["_id"]}, [event])
        self.publish(self.store.nodes, retired)
        return public(node)

    # Flats

    @rpc
    def create_flat(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateFlat, request)
        building = self._node(caller, command.building_id, field="building_id")
        if building["kind"] != "BUILDING":
            raise InvalidArgument.field("building_id", f"is a {building['kind']}, not a BUILDING")
        fields = command.model_dump(exclude={"request_id"})
        flat_id = fields["id"] = new_id()
        fields["path"] = [*building["path"], flat_id]
        event = self._flat_event(FlatCreated, caller.tenant, {**fields, "id": flat_id})
        try:
            document, _ = self.store.flats.create(caller.tenant, command.request_id, dict(fields), [event])
        except DuplicateKeyError:
            raise AlreadyExists(
                f"flat {command.unit}-{command.number} already exists in this building",
                [{"field": "number", "description": "already exists in this building and unit"}]) from None
        self.publish(self.store.flats, document)
        return public(document)

    @rpc
    def get_flat(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GetById, request)
        return public(self._flat(caller, command.id))

    @rpc
    def list_flats(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListFlats, request)
        self._node(caller, command.building_id, field="building_id")
        query = {"tenant": caller.tenant, "building_id": command.building_id}
        documents, token = self.store.flats.page(query, command.page_size, command.page_token)
        return {"flats": [public(d) for d in documents], "next_page_token": token}

    @rpc
    def update_flat(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.UpdateFlat, request)
        flat_id, changes = masked_changes(schemas.FlatChanges, command.flat, command.update_mask, "flat")
        flat = self._flat(caller, flat_id)
        event = self._flat_event(FlatUpdated, caller.tenant, public(flat) | changes, changed=sorted(changes))
        try:
            document = self.store.flats.update({"tenant": caller.tenant, "_id": flat_id}, changes, [event])
        except DuplicateKeyError:
            raise AlreadyExists("another flat in this building has that unit and number",
                                [{"field": "flat.number", "description": "already taken"}]) from None
        self.publish(self.store.flats, document)
        return public(document)

    @rpc
    def delete_flat(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GetById, request)
        flat = self._flat(caller, command.id)
        if self.residents.count_households(caller.model_dump(), {"node_id": flat["_id"]})["count"]:
            raise FailedPrecondition("households live in this flat; move them out first")
        event = self._flat_event(FlatDeleted, caller.tenant, public(flat))
        retired = self.store.flats.retire({"tenant": caller.tenant, "_id": flat["_id"]}, [event])
        self.publish(self.store.flats, retired)
        return public(flat)

    # Helpers

    def _node(self, caller, node_id, field="id"):
        if not node_id:
            raise InvalidArgument.field(field, "is required")
        node = self.store.nodes.get({"tenant": caller.tenant, "_id": node_id})
        caller.require(node["path"], "node")
        return node

    def _flat(self, caller, flat_id):
        flat = self.store.flats.get({"tenant": caller.tenant, "_id": flat_id})
        caller.require(flat["path"], "flat")
        return flat

    def _path_for_new_node(self, caller, command):
        allowed = schemas.ALLOWED_PARENTS[command.kind]
        if not allowed:
            if command.parent_id:
                raise InvalidArgument.field("parent_id", "a CITY has no parent")
            if not (caller.whole_tenant and caller.role == "city_operator"):
                raise PermissionDenied("only a city operator with the whole tenant in scope creates cities")
            return []
        if not command.parent_id:
            raise InvalidArgument.field("parent_id", f"a {command.kind} needs a parent ({' or '.join(allowed)})")
        parent = self._node(caller, command.parent_id, field="parent_id")
        if parent["kind"] not in allowed:
            raise InvalidArgument.field(
                "parent_id", f"a {command.kind} goes below {' or '.join(allowed)}, not {parent['kind']}")
        return parent["path"]

    def _node_event(self, contract_model, tenant, node, **extra):
        data = {key: node[key] for key in ("id", "kind", "display_name", "parent_id", "path")}
        return envelope(self.name, contract_model.event_type, tenant, f"nodes/{node['id']}", data | extra)

    def _flat_event(self, contract_model, tenant, flat, **extra):
        data = {key: flat[key] for key in ("id", "building_id", "unit", "floor", "number", "occupancy", "path")}
        return envelope(self.name, contract_model.event_type, tenant, f"flats/{flat['id']}", data | extra)
