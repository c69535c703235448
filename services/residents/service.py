"""The residents service: RPC entrypoints for households, residents, their life events and visits.
The rules live beside it: `disclosure` (PII and sensitive tags), `imports` (bulk import planning)
and `visits`."""
from nameko.timer import timer
from pymongo.errors import DuplicateKeyError

from services import base
from services.commands import command
from services.errors import FailedPrecondition, InvalidArgument, NotFound
from services.messaging import RpcProxy
from services.residents import schemas
from services.residents.disclosure import (check_id_matches_birth_date, check_sensitive, consistent_birth_date,
                                           duplicate_national_id, lookup_of, revealed, sealed, sealed_changes,
                                           visible_tag_counts, with_hidden_tags)
from services.residents.events import (HouseholdDeleted, HouseholdRegistered, HouseholdUpdated, ResidentDeleted,
                                       ResidentRegistered, ResidentUpdated, household_event, resident_departed,
                                       resident_event, resident_moved, resident_tagged, visit_logged)
from services.residents.imports import (batch_key, checked_row, flats_wanted, import_report, national_id_claims,
                                        planned, repeated_batch_report, without_held)
from services.residents.pii import PII_FIELDS, PiiKeys
from services.residents.store import ResidentsRepository, work_list
from services.residents.visits import check_period, quota_rows, ranked_unvisited, unvisited_cutoff
from services.storage import MongoStore, content_id, new_id, now, public
from services.storage.snapshots import FIGURES_REFRESH_SECONDS
from services.validation import masked_changes


class ResidentsService(base.CivicService):
    name = "residents"
    store = MongoStore(ResidentsRepository)
    grids = RpcProxy("grids")
    pii = PiiKeys()

    # Households

    @command(schemas.CreateHousehold)
    def create_household(self, caller, command):
        flat = self._flat(caller, command.flat_id)
        fields = {"id": new_id(), "flat_id": flat["id"], "display_name": command.display_name,
                  "path": flat["path"]}
        event = household_event(HouseholdRegistered, caller.tenant, fields)
        document, _ = self.store.households.create(caller.tenant, command.request_id, dict(fields), [event])
        return public(document)

    @command(schemas.GetById)
    def get_household(self, caller, command):
        return public(self._household(caller, command.id))

    @command(schemas.ListByNode)
    def list_households(self, caller, command):
        query = caller.scoped({"path": command.node_id} if command.node_id else None)
        if command.node_id:
            documents, token = self.store.households_page(
                caller.tenant, command.node_id, query, command.page_size, command.page_token)
        else:
            documents, token = self.store.households.page(query, command.page_size, command.page_token)
        return {"households": [public(d) for d in documents], "next_page_token": token}

    @command(schemas.ListByNode)
    def count_households(self, caller, command):
        query = caller.scoped({"path": command.node_id} if command.node_id else None)
        return {"count": self.store.households.count(query)}

    @command(schemas.UpdateHousehold)
    def update_household(self, caller, command):
        household_id, changes = masked_changes(
            schemas.HouseholdChanges, command.household, command.update_mask, "household")
        household = self._household(caller, household_id)
        event = household_event(HouseholdUpdated, caller.tenant, public(household) | changes, changed=sorted(changes))
        document = self.store.households.update({"tenant": caller.tenant, "_id": household_id}, changes, [event])
        return public(document)

    @command(schemas.GetById)
    def delete_household(self, caller, command):
        household = self._household(caller, command.id)
        if self.store.household_has_members(caller.tenant, household["_id"]):
            raise FailedPrecondition("residents are registered in this household; move them first")
        event = household_event(HouseholdDeleted, caller.tenant, public(household))
        self.store.households.retire({"tenant": caller.tenant, "_id": household["_id"]}, [event])
        return public(household)

    # Residents

    @command(schemas.CreateResident)
    def create_resident(self, caller, command):
        check_sensitive(caller, command.tags, "tags")
        birth_date = consistent_birth_date(command.national_id, command.birth_date)
        household = self._household(caller, command.household_id, field="household_id")
        fields = command.model_dump(exclude={"request_id", *PII_FIELDS}) | {"birth_date": birth_date}
        document = self._register_resident(caller, household, fields, command, command.request_id)
        return self._shown(caller, document, "CreateResident")

    @command(schemas.GetById)
    def get_resident(self, caller, command):
        return self._shown(caller, self._resident(caller, command.id), "GetResident")

    @command(schemas.ListResidents)
    def list_residents(self, caller, command):
        """Work lists: residents in a scope with all the given tags and/or a name prefix."""
        check_sensitive(caller, command.tags, "tags")
        query = caller.scoped(work_list(command.node_id, command.tags, command.name_prefix, command.include_departed))
        if command.node_id and not command.include_departed:
            documents, token = self.store.residents_page(
                caller.tenant, command.node_id, command.tags, query, command.page_size, command.page_token)
        else:
            documents, token = self.store.residents.page(query, command.page_size, command.page_token)
        return {"residents": self._shown_all(caller, documents, "ListResidents"), "next_page_token": token}

    @command(schemas.FindResidents)
    def find_residents(self, caller, command):
        """Exact lookup by phone or national ID through their blind index, departed included."""
        field, value = lookup_of(command)
        query = caller.scoped({f"{field}_index": self.pii.blind_index(caller.tenant, field, value)})
        documents = self.store.residents.all(query, limit=schemas.FIND_LIMIT)
        return {"residents": self._shown_all(caller, documents, "FindResidents")}

    @command(schemas.UpdateResident)
    def update_resident(self, caller, command):
        resident_id, changes = masked_changes(
            schemas.ResidentChanges, command.resident, command.update_mask, "resident")
        resident = self._resident(caller, resident_id)
        if "tags" in changes:
            check_sensitive(caller, changes["tags"], "resident.tags")
            changes["tags"] = with_hidden_tags(caller, resident.get("tags", []), changes["tags"])
        check_id_matches_birth_date(resident, changes, self.pii)
        self._claim_national_id(caller, resident_id, changes.get("national_id"), "resident.national_id")
        events = self._resident_update_events(caller, resident, changes)
        return self._shown(caller, self._write_changes(caller, resident_id, changes, events), "UpdateResident")

    @command(schemas.GetById)
    def delete_resident(self, caller, command):
        resident = self._resident(caller, command.id)
        event = resident_event(ResidentDeleted, caller.tenant, public(resident))
        self.store.residents.retire({"tenant": caller.tenant, "_id": resident["_id"]}, [event])
        return self._shown(caller, resident, "DeleteResident")

    # Bulk import

    @command(schemas.ImportResidents)
    def import_residents(self, caller, command):
        """Imports CSV rows: each row whole (flat, household, resident) or, if anything in it is
        wrong, not at all and reported with its row number and column. Records get ids derived
        from the row's content, so sending the same rows again writes nothing; and a batch costs
        a few reads and one insert per collection, whatever its size (see Repository.import_new).

        A batch imported whole before, by a caller with the same scope and grants, is answered
        from a note of it in one read: re-running a file then costs next to nothing. It is not
        re-checked record by record, so records deleted since are not brought back."""
        key = batch_key(caller, command.rows)
        if self.store.imported_whole_before(key):
            return repeated_batch_report(command.rows)
        report = self._import_rows(caller, command.rows)
        if not report["errors"]:
            self.store.note_imported_whole(key, caller.tenant, len(command.rows))
        return report

    def _import_rows(self, caller, raw_rows):
        errors = []
        rows = [row for row in (checked_row(caller, raw, errors) for raw in raw_rows) if row]
        rows = self._without_taken_ids(caller, rows, errors)
        flats = self.grids.ensure_flats(caller.model_dump(), {"flats": flats_wanted(rows)})["flats"] if rows else []
        plan = planned(self.pii, caller.tenant, rows, flats, errors)
        inserted = self.store.import_new(
            caller.tenant, {"households": list(plan.households.values()), "residents": plan.residents})
        return import_report(plan, inserted, errors)

    def _without_taken_ids(self, caller, rows, errors):
        """Drops (as errors) rows whose national ID another resident holds, registered before or
        by an earlier row of this batch, before anything of the batch is written; the national IDs
        of the rows kept are claimed for them."""
        wanted, kept = national_id_claims(self.pii, caller.tenant, rows, errors)
        return without_held(kept, self.store.claim_national_ids(caller.tenant, wanted), errors)

    # Life events

    @command(schemas.BindResidentAccount)
    def bind_resident_account(self, caller, command):
        resident = self._active_resident(caller, command.resident_id)
        self.store.bind_account(caller.tenant, command.subject, resident["_id"])
        return {"subject": command.subject, "resident_id": resident["_id"], "household_id": resident["household_id"]}

    @command(schemas.Empty)
    def account_household(self, caller, command):
        """The household of the active resident whose sign-in the caller is, or "": the tickets
        service checks a resident's household claim by it, the notifications service who may
        answer a poll by the resident, their path and tags (not a gateway method)."""
        resident = self.store.resident_of_account(caller.tenant, caller.subject)
        if resident is None or resident.get("status", "ACTIVE") != "ACTIVE":
            return {"household_id": "", "resident_id": "", "path": [], "tags": []}
        return {"household_id": resident["household_id"], "resident_id": resident["_id"], "path": resident["path"],
                "tags": resident.get("tags", [])}

    @command(schemas.MoveResident)
    def move_resident(self, caller, command):
        """Moves a resident to another household; the old one stays in `moves`."""
        resident = self._active_resident(caller, command.id)
        if resident["household_id"] == command.household_id:
            raise InvalidArgument.field("household_id", "is the resident's household already")
        target = self._household(caller, command.household_id, field="household_id")
        move = {"from_household_id": resident["household_id"], "to_household_id": target["_id"], "time": now()}
        document = self.store.residents.update(
            {"tenant": caller.tenant, "_id": resident["_id"]}, {"household_id": target["_id"], "path": target["path"]},
            [resident_moved(caller.tenant, resident, target)], extra={"$push": {"moves": move}})
        return self._shown(caller, document, "MoveResident")

    @command(schemas.RecordDeparture)
    def record_departure(self, caller, command):
        """Death or a move out of the city: the resident is kept, but left out of lists and figures."""
        resident = self._active_resident(caller, command.id)
        changes = {"status": command.status, "departure_date": command.departure_date}
        event = resident_departed(caller.tenant, resident, changes)
        document = self.store.residents.update({"tenant": caller.tenant, "_id": resident["_id"]}, changes, [event])
        return self._shown(caller, document, "RecordDeparture")

    # Figures (called by grids for its node figures; not in the public contract)

    @command(schemas.CountPeople)
    def count_people(self, caller, command):
        """Households, active residents and residents per tag below a node: the sum of its
        buildings' snapshots (services/storage/snapshots.py)."""
        people = self.store.people_below(caller.tenant, command.node_id, caller.scope_limit)
        return people | {"residents_by_tag": visible_tag_counts(caller, people["residents_by_tag"])}

    @timer(interval=FIGURES_REFRESH_SECONDS)
    def refresh_figures(self):
        self.store.figures.refresh()

    # Visits

    @command(schemas.LogVisit)
    def log_visit(self, caller, command):
        household = self._household(caller, command.household_id, field="household_id")
        fields = {"id": new_id(), "household_id": household["_id"], "path": household["path"],
                  "visitor": caller.subject, "visit_date": command.visit_date, "findings": command.findings}
        event = visit_logged(caller.tenant, fields)
        document, created = self.store.visits.create(caller.tenant, command.request_id, dict(fields), [event])
        if created:
            self.store.note_visit(caller.tenant, household["_id"], command.visit_date)
        return public(document)

    @command(schemas.ListVisits)
    def list_visits(self, caller, command):
        conditions = {"path": command.node_id} if command.node_id else {}
        if command.household_id:
            self._household(caller, command.household_id, field="household_id")
            conditions["household_id"] = command.household_id
        documents, token = self.store.visits.page(caller.scoped(conditions), command.page_size, command.page_token)
        return {"visits": [public(d) for d in documents], "next_page_token": token}

    @command(schemas.ListUnvisitedHouseholds)
    def list_unvisited_households(self, caller, command):
        """Households below a node nobody visited in `days` days, those with the most
        vulnerable members (elderly, living alone, disabled) first, then the longest unvisited."""
        households = self.store.households_unvisited_since(
            caller.scoped({"path": command.node_id}), unvisited_cutoff(command.days))
        vulnerable = self.store.vulnerable_members(caller.tenant, command.node_id, [h["_id"] for h in households],
                                                   schemas.VULNERABLE_TAGS, schemas.DEPARTED)
        return {"households": ranked_unvisited(households, vulnerable, command.limit)}

    @command(schemas.VisitQuotaReport)
    def visit_quota_report(self, caller, command):
        """Distinct households each visitor visited in [period_start, period_end] against a quota;
        visitors named in the request who visited nobody are reported too."""
        check_period(command.period_start, command.period_end)
        visited = self.store.households_visited_by(caller.scoped({
            "path": command.node_id, "visit_date": {"$gte": command.period_start, "$lte": command.period_end}}))
        return {"visitors": quota_rows(visited, command.visitors, command.quota)}

    # Helpers

    def _register_resident(self, caller, household, fields, pii_values, request_id):
        # A repeated request gets the same id, so its national ID claim is its own.
        resident_id = content_id(caller.tenant, "resident", request_id) if request_id else new_id()
        fields = fields | {"id": resident_id, "household_id": household["_id"], "path": household["path"],
                           "status": "ACTIVE"}
        event = resident_event(ResidentRegistered, caller.tenant, fields)
        self._claim_national_id(caller, resident_id, pii_values.national_id, "national_id")
        stored = fields | sealed(self.pii, caller.tenant, {f: getattr(pii_values, f) for f in PII_FIELDS})
        try:
            document, _ = self.store.residents.create(caller.tenant, request_id, stored, [event])
        except DuplicateKeyError:
            raise duplicate_national_id("national_id") from None
        return document

    def _claim_national_id(self, caller, resident_id, national_id, field):
        if not national_id:
            return
        index = self.pii.blind_index(caller.tenant, "national_id", national_id)
        if self.store.claim_national_ids(caller.tenant, {index: resident_id}):
            raise duplicate_national_id(field)

    def _write_changes(self, caller, resident_id, changes, events):
        """The resident as updated, their PII sealed (or unset where cleared)."""
        pii_changes = {field: changes.pop(field) for field in PII_FIELDS if field in changes}
        stored, cleared = sealed_changes(self.pii, caller.tenant, pii_changes)
        try:
            return self.store.residents.update({"tenant": caller.tenant, "_id": resident_id}, changes | stored,
                                               events, extra={"$unset": cleared} if cleared else None)
        except DuplicateKeyError:
            raise duplicate_national_id("resident.national_id") from None

    def _resident_update_events(self, caller, resident, changes):
        """resident.updated, and resident.tagged when the tags change."""
        events = [resident_event(ResidentUpdated, caller.tenant, public(resident) | changes, changed=sorted(changes))]
        if set(changes.get("tags", resident["tags"])) != set(resident["tags"]):
            events.append(resident_tagged(caller.tenant, resident, changes["tags"], caller.subject))
        return events

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
        return self.store.residents.get_in_scope(caller, resident_id)

    def _active_resident(self, caller, resident_id):
        resident = self._resident(caller, resident_id)
        if resident.get("status", "ACTIVE") != "ACTIVE":
            raise FailedPrecondition(f"the resident is {resident['status']}; their record is kept as history")
        return resident

    def _shown_all(self, caller, documents, method):
        """The residents as the caller may see them; the full PII values shown go to the audit trail."""
        shown, reads = [], []
        for document in documents:
            resident, read = revealed(caller, document, self.pii)
            shown.append(resident)
            reads += read
        if reads:
            self.store.record_pii_reads(caller.tenant, caller.subject, caller.role, method, reads)
        return shown

    def _shown(self, caller, document, method):
        return self._shown_all(caller, [document], method)[0]
