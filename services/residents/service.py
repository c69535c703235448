"""The residents service: RPC entrypoints for households and residents."""
from nameko.rpc import RpcProxy, rpc

from services.access import Caller
from services import base
from services.errors import FailedPrecondition, NotFound, PermissionDenied
from services.events import envelope
from services.residents import schemas
from services.residents.events import (HouseholdDeleted, HouseholdRegistered, HouseholdUpdated,
                                       ResidentDeleted, ResidentRegistered, ResidentUpdated)
from services.residents.store import ResidentsRepository
from services.storage import MongoStore, new_id, public
from services.validation import masked_changes, parse

HOUSEHOLD_FIELDS = ("id", "flat_id", "display_name", "path")
RESIDENT_FIELDS = ("id", "household_id", "display_name", "relation", "birth_date", "gender", "tags", "path")


class ResidentsService(base.CivicService):
    name = "residents"
    store = MongoStore(ResidentsRepository)
    grids = RpcProxy("grids")

    # Households

    @rpc
    def create_household(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateHousehold, request)
        flat = self._flat(caller, command.flat_id)
        fields = {"id": new_id(), "flat_id": flat["id"], "display_name": command.display_name,
                  "path": flat["path"]}
        event = self._event(HouseholdRegistered, caller.tenant, "households", fields)
        document, _ = self.store.households.create(caller.tenant, command.request_id, dict(fields), [event])
        self.publish(self.store.households, document)
        return public(document)

    @rpc
    def get_household(self, caller, request):
        caller = Caller.of(caller)
        return public(self._household(caller, parse(schemas.GetById, request).id))

    @rpc
    def list_households(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListByNode, request)
        query = caller.scoped({"path": command.node_id} if command.node_id else None)
        documents, token = self.store.households.page(query, command.page_size, command.page_token)
        return {"households": [public(d) for d in documents], "next_page_token": token}

    @rpc
    def count_households(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListByNode, request)
        query = caller.scoped({"path": command.node_id} if command.node_id else None)
        return {"count": self.store.households.collection.count_documents(query)}

    @rpc
    def update_household(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.UpdateHousehold, request)
        household_id, changes = masked_changes(
            schemas.HouseholdChanges, command.household, command.update_mask, "household")
        household = self._household(caller, household_id)
        event = self._event(HouseholdUpdated, caller.tenant, "households", public(household) | changes,
                            changed=sorted(changes))
        document = self.store.households.update(
            {"tenant": caller.tenant, "_id": household_id}, changes, [event])
        self.publish(self.store.households, document)
        return public(document)

    @rpc
    def delete_household(self, caller, request):
        caller = Caller.of(caller)
        household = self._household(caller, parse(schemas.GetById, request).id)
        if self.store.household_has_members(caller.tenant, household["_id"]):
            raise FailedPrecondition("residents are registered in this household; move them first")
        event = self._event(HouseholdDeleted, caller.tenant, "households", public(household))
        retired = self.store.households.retire({"tenant": caller.tenant, "_id": household["_id"]}, [event])
        self.publish(self.store.households, retired)
        return public(household)

    # Residents

    @rpc
    def create_resident(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateResident, request)
        self._check_sensitive(caller, command.tags, "tags")
        household = self._household(caller, command.household_id, field="household_id")
        fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": household["path"]}
        event = self._event(ResidentRegistered, caller.tenant, "residents", fields)
        document, _ = self.store.residents.create(caller.tenant, command.request_id, dict(fields), [event])
        self.publish(self.store.residents, document)
        return self._shown(caller, document)

    @rpc
    def get_resident(self, caller, request):
        caller = Caller.of(caller)
        return self._shown(caller, self._resident(caller, parse(schemas.GetById, request).id))

    @rpc
    def list_residents(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListResidents, request)
        self._check_sensitive(caller, command.tags, "tags")
        conditions = {}
        if command.node_id:
            conditions["path"] = command.node_id
        if command.tags:
            conditions["tags"] = {"$all": command.tags}
        documents, token = self.store.residents.page(
            caller.scoped(conditions or None), command.page_size, command.page_token)
        return {"residents": [self._shown(caller, d) for d in documents], "next_page_token": token}

    @rpc
    def update_resident(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.UpdateResident, request)
        resident_id, changes = masked_changes(
            schemas.ResidentChanges, command.resident, command.update_mask, "resident")
        resident = self._resident(caller, resident_id)
        if "tags" in changes:
            self._check_sensitive(caller, changes["tags"], "resident.tags")
            changes["tags"] = self._keep_hidden_tags(caller, resident, changes["tags"])
        event = self._event(ResidentUpdated, caller.tenant, "residents", public(resident) | changes,
                            changed=sorted(changes))
        document = self.store.residents.update({"tenant": caller.tenant, "_id": resident_id}, changes, [event])
        self.publish(self.store.residents, document)
        return self._shown(caller, document)

    @rpc
    def delete_resident(self, caller, request):
        caller = Caller.of(caller)
        resident = self._resident(caller, parse(schemas.GetById, request).id)
        event = self._event(ResidentDeleted, caller.tenant, "residents", public(resident))
        retired = self.store.residents.retire({"tenant": caller.tenant, "_id": resident["_id"]}, [event])
        self.publish(self.store.residents, retired)
        return self._shown(caller, resident)

    # Helpers

    def _flat(self, caller, flat_id):
        try:
            return self.grids.get_flat(caller.model_dump(), {"id": flat_id})
        except NotFound:
            raise NotFound("flat not found", [{"field": "flat_id", "description": "no such flat in scope"}]) from None

    def _household(self, caller, household_id, field="id"):
        try:
            household = self.store.households.get({"tenant": caller.tenant, "_id": household_id})
        except NotFound:
            raise NotFound("household not found", [{"field": field, "description": "no such household"}]) from None
        caller.require(household["path"], "household")
        return household

    def _resident(self, caller, resident_id):
        resident = self.store.residents.get({"tenant": caller.tenant, "_id": resident_id})
        caller.require(resident["path"], "resident")
        return resident

    def _check_sensitive(self, caller, tags, field):
        if set(tags) & schemas.SENSITIVE_TAGS and not caller.has_grant(schemas.SENSITIVE_GRANT):
            raise PermissionDenied(f"{field}: sensitive tags need the {schemas.SENSITIVE_GRANT} grant")

    def _keep_hidden_tags(self, caller, resident, tags):
        """A caller who cannot see sensitive tags cannot remove them by omission either."""
        if caller.has_grant(schemas.SENSITIVE_GRANT):
            return tags
        return sorted(set(tags) | (set(resident.get("tags", [])) & schemas.SENSITIVE_TAGS))

    def _shown(self, caller, document):
        shown = public(document)
        if not caller.has_grant(schemas.SENSITIVE_GRANT):
            shown["tags"] = [tag for tag in shown.get("tags", []) if tag not in schemas.SENSITIVE_TAGS]
        return shown

    def _event(self, contract_model, tenant, collection, record, **extra):
        fields = HOUSEHOLD_FIELDS if collection == "households" else RESIDENT_FIELDS
        data = {key: record[key] for key in fields}
        return envelope(self.name, contract_model.event_type, tenant, f"{collection}/{record['id']}",
                        data | extra)
