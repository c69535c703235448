"""The residents service: RPC entrypoints for households, residents, their life events and visits."""
import json
import re
from datetime import date, timedelta

from nameko.timer import timer
from pymongo.errors import DuplicateKeyError

from services.access import Caller
from services import base
from services.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.events import envelope
from services.storage.snapshots import FIGURES_REFRESH_SECONDS
from services.messaging import RpcProxy, rpc
from services.residents import schemas
from services.residents.events import (HouseholdDeleted, HouseholdRegistered, HouseholdUpdated,
                                       ResidentDeleted, ResidentDeparted, ResidentMoved, ResidentRegistered,
                                       ResidentTagged, ResidentUpdated, VisitLogged)
from services.residents.pii import FULL_PII_GRANT, PII_FIELDS, PiiKeys, birth_date_of_id, mask
from services.residents.store import TAG_COUNT, ResidentsRepository
from services.storage import OUTBOX, MongoStore, content_id, new_id, now, public, timestamp
from services.validation import masked_changes, parse

HOUSEHOLD_FIELDS = ("id", "flat_id", "display_name", "path")
RESIDENT_FIELDS = ("id", "household_id", "display_name", "relation", "birth_date", "gender", "tags", "path")
EMPTY_IMPORT_REPORT = {"flats_created": 0, "households_created": 0, "residents_created": 0, "rows_unchanged": 0}


class ResidentsService(base.CivicService):
    name = "residents"
    store = MongoStore(ResidentsRepository)
    grids = RpcProxy("grids")
    pii = PiiKeys()

    # Households

    @rpc
    def create_household(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateHousehold, request)
        flat = self._flat(caller, command.flat_id)
        fields = {"id": new_id(), "flat_id": flat["id"], "display_name": command.display_name,
                  "path": flat["path"]}
        event = self._event(HouseholdRegistered, caller.tenant, "households", fields)
        document, created = self.store.households.create(caller.tenant, command.request_id, dict(fields), [event])
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
        return public(document)

    @rpc
    def delete_household(self, caller, request):
        caller = Caller.of(caller)
        household = self._household(caller, parse(schemas.GetById, request).id)
        if self.store.household_has_members(caller.tenant, household["_id"]):
            raise FailedPrecondition("residents are registered in this household; move them first")
        event = self._event(HouseholdDeleted, caller.tenant, "households", public(household))
        self.store.households.retire({"tenant": caller.tenant, "_id": household["_id"]}, [event])
        return public(household)

    # Residents

    @rpc
    def create_resident(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateResident, request)
        self._check_sensitive(caller, command.tags, "tags")
        birth_date = consistent_birth_date(command.national_id, command.birth_date)
        household = self._household(caller, command.household_id, field="household_id")
        fields = command.model_dump(exclude={"request_id", *PII_FIELDS}) | {"birth_date": birth_date}
        document, _ = self._register_resident(caller, household, fields, command, command.request_id)
        return self._shown(caller, document, "CreateResident")

    @rpc
    def get_resident(self, caller, request):
        caller = Caller.of(caller)
        resident = self._resident(caller, parse(schemas.GetById, request).id)
        return self._shown(caller, resident, "GetResident")

    @rpc
    def list_residents(self, caller, request):
        """Work lists: residents in a scope with all the given tags and/or a name prefix."""
        caller = Caller.of(caller)
        command = parse(schemas.ListResidents, request)
        self._check_sensitive(caller, command.tags, "tags")
        conditions = {}
        if command.node_id:
            conditions["path"] = command.node_id
        if command.tags:
            conditions["tags"] = {"$all": command.tags}
        if command.name_prefix:
            conditions["display_name"] = {"$regex": "^" + re.escape(command.name_prefix)}
        if not command.include_departed:
            conditions["status"] = {"$nin": list(schemas.DEPARTED)}
        documents, token = self.store.residents.page(
            caller.scoped(conditions), command.page_size, command.page_token)
        return {"residents": self._shown_all(caller, documents, "ListResidents"), "next_page_token": token}

    @rpc
    def find_residents(self, caller, request):
        """Exact lookup by phone or national ID through their blind index, departed included."""
        caller = Caller.of(caller)
        command = parse(schemas.FindResidents, request)
        given = {field: getattr(command, field) for field in PII_FIELDS if getattr(command, field)}
        if len(given) != 1:
            raise InvalidArgument.field("phone", "give exactly one of phone or national_id")
        (field, value), = given.items()
        query = caller.scoped({f"{field}_index": self.pii.blind_index(caller.tenant, field, value)})
        documents = list(self.store.residents.collection.find(query).limit(schemas.FIND_LIMIT))
        return {"residents": self._shown_all(caller, documents, "FindResidents")}

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
        self._check_id_matches_birth_date(resident, changes)
        self._claim_national_id(caller, resident_id, changes.get("national_id"), "resident.national_id")
        events = [self._event(ResidentUpdated, caller.tenant, "residents", public(resident) | changes,
                              changed=sorted(changes))]
        retagged = set(changes.get("tags", resident["tags"])) != set(resident["tags"])
        if retagged:
            events.append(self._tagged_event(caller, resident, changes["tags"]))
        pii_changes = {field: changes.pop(field) for field in PII_FIELDS if field in changes}
        sealed = self._sealed(caller.tenant, pii_changes)
        cleared = {f"{field}_{part}": "" for field, value in pii_changes.items() if not value
                   for part in ("sealed", "index")}
        try:
            document = self.store.residents.update(
                {"tenant": caller.tenant, "_id": resident_id}, changes | sealed, events,
                extra={"$unset": cleared} if cleared else None)
        except DuplicateKeyError:
            raise duplicate_national_id("resident.national_id") from None
        return self._shown(caller, document, "UpdateResident")

    @rpc
    def delete_resident(self, caller, request):
        caller = Caller.of(caller)
        resident = self._resident(caller, parse(schemas.GetById, request).id)
        event = self._event(ResidentDeleted, caller.tenant, "residents", public(resident))
        self.store.residents.retire({"tenant": caller.tenant, "_id": resident["_id"]}, [event])
        return self._shown(caller, resident, "DeleteResident")

    # Bulk import

    @rpc
    def import_residents(self, caller, request):
        """Imports CSV rows: each row whole (flat, household, resident) or, if anything in it is
        wrong, not at all and reported with its row number and column. Records get ids derived
        from the row's content, so sending the same rows again writes nothing; and a batch costs
        a few reads and one insert per collection, whatever its size (see Repository.import_new).

        A batch imported whole before, by a caller with the same scope and grants, is answered
        from a note of it in one read: re-running a file then costs next to nothing. It is not
        re-checked record by record, so records deleted since are not brought back."""
        caller = Caller.of(caller)
        command = parse(schemas.ImportResidents, request)
        batch_key = content_id(caller.tenant, caller.scope, caller.grants,
                               json.dumps(command.rows, sort_keys=True, ensure_ascii=False))
        if self.store.imported_whole_before(batch_key):
            return {**EMPTY_IMPORT_REPORT, "rows_unchanged": len(command.rows), "errors": []}
        report = self._import_rows(caller, command.rows)
        if not report["errors"]:
            self.store.note_imported_whole(batch_key, caller.tenant, len(command.rows))
        return report

    def _import_rows(self, caller, raw_rows):
        report = {**EMPTY_IMPORT_REPORT, "errors": []}
        rows = [row for row in (self._checked_row(caller, raw, report["errors"]) for raw in raw_rows) if row]
        rows = self._without_taken_ids(caller, rows, report["errors"])
        flats = self.grids.ensure_flats(caller.model_dump(), {"flats": [{
            "building_id": row.building, "unit": row.unit, "floor": row.floor, "number": row.flat,
            "occupancy": row.occupancy} for row in rows]})["flats"] if rows else []
        households, residents, new_flats = {}, [], set()
        for row, flat in zip(rows, flats):
            if "error" in flat:
                field = FLAT_COLUMNS.get(flat["error"]["field"], flat["error"]["field"])
                report["errors"].append({"row": row.row, "field": field, "reason": flat["error"]["description"]})
                continue
            if flat["created"]:
                new_flats.add(flat["flat"]["id"])
            household = households.setdefault(*self._household_document(caller, row, flat["flat"]))
            residents.append(self._resident_document(caller, row, household))
        inserted = self.store.import_new(caller.tenant,
                                         {"households": list(households.values()), "residents": residents})
        report["households_created"], report["residents_created"] = map(len, inserted.values())
        report["flats_created"] = len(new_flats)
        report["rows_unchanged"] = len(residents) - report["residents_created"]
        report["errors"].sort(key=lambda error: error["row"])
        return report

    # Life events

    @rpc
    def move_resident(self, caller, request):
        """Moves a resident to another household; the old one stays in `moves`."""
        caller = Caller.of(caller)
        command = parse(schemas.MoveResident, request)
        resident = self._active_resident(caller, command.id)
        if resident["household_id"] == command.household_id:
            raise InvalidArgument.field("household_id", "is the resident's household already")
        target = self._household(caller, command.household_id, field="household_id")
        event = envelope(self.name, ResidentMoved.event_type, caller.tenant, f"residents/{resident['_id']}", {
            "id": resident["_id"], "from_household_id": resident["household_id"],
            "to_household_id": target["_id"], "from_path": resident["path"], "path": target["path"]})
        move = {"from_household_id": resident["household_id"], "to_household_id": target["_id"], "time": now()}
        document = self.store.residents.update(
            {"tenant": caller.tenant, "_id": resident["_id"]},
            {"household_id": target["_id"], "path": target["path"]},
            [event], extra={"$push": {"moves": move}})
        return self._shown(caller, document, "MoveResident")

    @rpc
    def record_departure(self, caller, request):
        """Death or a move out of the city: the resident is kept, but left out of lists and figures."""
        caller = Caller.of(caller)
        command = parse(schemas.RecordDeparture, request)
        resident = self._active_resident(caller, command.id)
        changes = {"status": command.status, "departure_date": command.departure_date}
        event = envelope(self.name, ResidentDeparted.event_type, caller.tenant, f"residents/{resident['_id']}", {
            "id": resident["_id"], "household_id": resident["household_id"], "path": resident["path"],
            **changes})
        document = self.store.residents.update({"tenant": caller.tenant, "_id": resident["_id"]}, changes, [event])
        return self._shown(caller, document, "RecordDeparture")

    # Figures (called by grids for its node figures; not in the public contract)

    @rpc
    def count_people(self, caller, request):
        """Households, active residents and residents per tag below a node: the sum of its
        buildings' snapshots (services/storage/snapshots.py)."""
        caller = Caller.of(caller)
        node_id = parse(schemas.CountPeople, request).node_id
        totals = self.store.figures.totals_below(caller.scoped({"path": node_id}))
        by_tag = {name.removeprefix(TAG_COUNT): n for name, n in totals.items() if name.startswith(TAG_COUNT)}
        if not caller.has_grant(schemas.SENSITIVE_GRANT):
            by_tag = {tag: n for tag, n in by_tag.items() if tag not in schemas.SENSITIVE_TAGS}
        return {"households": totals.get("households", 0), "residents": totals.get("residents", 0),
                "residents_by_tag": by_tag}

    @timer(interval=FIGURES_REFRESH_SECONDS)
    def refresh_figures(self):
        self.store.figures.refresh()

    # Visits

    @rpc
    def log_visit(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.LogVisit, request)
        household = self._household(caller, command.household_id, field="household_id")
        fields = {"id": new_id(), "household_id": household["_id"], "path": household["path"],
                  "visitor": caller.subject, "visit_date": command.visit_date, "findings": command.findings}
        event = envelope(self.name, VisitLogged.event_type, caller.tenant, f"visits/{fields['id']}",
                         {key: fields[key] for key in ("id", "household_id", "visitor", "visit_date", "path")})
        document, created = self.store.visits.create(caller.tenant, command.request_id, dict(fields), [event])
        if created:
            self.store.note_visit(caller.tenant, household["_id"], command.visit_date)
        return public(document)

    @rpc
    def list_visits(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListVisits, request)
        conditions = {"path": command.node_id} if command.node_id else {}
        if command.household_id:
            self._household(caller, command.household_id, field="household_id")
            conditions["household_id"] = command.household_id
        documents, token = self.store.visits.page(caller.scoped(conditions), command.page_size, command.page_token)
        return {"visits": [public(d) for d in documents], "next_page_token": token}

    @rpc
    def list_unvisited_households(self, caller, request):
        """Households below a node nobody visited in `days` days, those with the most
        vulnerable members (elderly, living alone, disabled) first, then the longest unvisited."""
        caller = Caller.of(caller)
        command = parse(schemas.ListUnvisitedHouseholds, request)
        cutoff = (date.today() - timedelta(days=command.days)).isoformat()
        query = caller.scoped({"path": command.node_id, "$or": [
            {"last_visit_date": {"$exists": False}}, {"last_visit_date": {"$lt": cutoff}}]})
        households = list(self.store.households.collection.find(
            query, {"_id": 1, "display_name": 1, "flat_id": 1, "last_visit_date": 1, "path": 1}
        ).limit(schemas.UNVISITED_SCAN_LIMIT))
        vulnerable = self.store.vulnerable_members(caller.tenant, [h["_id"] for h in households],
                                                   schemas.VULNERABLE_TAGS, schemas.DEPARTED)
        ranked = sorted(households, key=lambda h: (-vulnerable.get(h["_id"], 0), h.get("last_visit_date", ""), h["_id"]))
        return {"households": [{
            "household_id": h["_id"], "display_name": h["display_name"], "flat_id": h["flat_id"],
            "last_visit_date": h.get("last_visit_date", ""), "vulnerable_members": vulnerable.get(h["_id"], 0)}
            for h in ranked[:command.limit]]}

    @rpc
    def visit_quota_report(self, caller, request):
        """Distinct households each visitor visited in [period_start, period_end] against a quota;
        visitors named in the request who visited nobody are reported too."""
        caller = Caller.of(caller)
        command = parse(schemas.VisitQuotaReport, request)
        if command.period_end < command.period_start:
            raise InvalidArgument.field("period_end", "is before period_start")
        visited = self.store.households_visited_by(caller.scoped({
            "path": command.node_id, "visit_date": {"$gte": command.period_start, "$lte": command.period_end}}))
        for visitor in command.visitors:
            visited.setdefault(visitor, 0)
        rows = [{"visitor": visitor, "households_visited": count, "quota": command.quota,
                 "behind": count < command.quota} for visitor, count in visited.items()]
        rows.sort(key=lambda row: (row["households_visited"], row["visitor"]))
        return {"visitors": rows}

    # Helpers

    def _register_resident(self, caller, household, fields, pii_values, request_id):
        # A repeated request gets the same id, so its national ID claim is its own.
        resident_id = content_id(caller.tenant, "resident", request_id) if request_id else new_id()
        fields = fields | {"id": resident_id, "household_id": household["_id"], "path": household["path"],
                           "status": "ACTIVE"}
        event = self._event(ResidentRegistered, caller.tenant, "residents", fields)
        self._claim_national_id(caller, resident_id, pii_values.national_id, "national_id")
        stored = fields | self._sealed(caller.tenant, {f: getattr(pii_values, f) for f in PII_FIELDS})
        try:
            document, created = self.store.residents.create(caller.tenant, request_id, stored, [event])
        except DuplicateKeyError:
            raise duplicate_national_id("national_id") from None
        return document, created

    def _claim_national_id(self, caller, resident_id, national_id, field):
        if not national_id:
            return
        index = self.pii.blind_index(caller.tenant, "national_id", national_id)
        if self.store.claim_national_ids(caller.tenant, {index: resident_id}):
            raise duplicate_national_id(field)

    def _checked_row(self, caller, raw, errors):
        """The row parsed and checked on its own, or None with its errors noted."""
        number = raw.get("row") if isinstance(raw.get("row"), int) else 0
        try:
            row = parse(schemas.ImportRow, raw)
            self._check_sensitive(caller, row.tags, "tags")
            row.birth_date = consistent_birth_date(row.national_id, row.birth_date)
        except (InvalidArgument, PermissionDenied) as error:
            violations = error.violations or [{"field": "tags", "description": error.message}]
            errors.extend({"row": number, "field": v["field"], "reason": v["description"]} for v in violations)
            return None
        return row

    def _without_taken_ids(self, caller, rows, errors):
        """Drops (as errors) rows whose national ID another resident holds, registered before or
        by an earlier row of this batch, before anything of the batch is written; the national IDs
        of the rows kept are claimed for them."""
        wanted, kept = {}, []
        for row in rows:
            index = self.pii.blind_index(caller.tenant, "national_id", row.national_id) if row.national_id else ""
            if index and wanted.setdefault(index, self._import_id(caller, row)) != self._import_id(caller, row):
                errors.append(national_id_taken(row))
            else:
                kept.append((row, index))
        held = self.store.claim_national_ids(caller.tenant, wanted)
        errors += [national_id_taken(row) for row, index in kept if index in held]
        return [row for row, index in kept if index not in held]

    def _import_id(self, caller, row):
        """The same person in the same place gives the same id. Ids are stored in clear, so the
        national ID enters only as its keyed blind index."""
        national_id = self.pii.blind_index(caller.tenant, "national_id", row.national_id) if row.national_id else ""
        return content_id(caller.tenant, row.building, row.unit, row.flat, row.household, row.name, row.birth_date,
                          national_id)

    def _household_document(self, caller, row, flat):
        household_id = content_id(caller.tenant, flat["id"], row.household)
        fields = {"id": household_id, "flat_id": flat["id"], "display_name": row.household, "path": flat["path"]}
        event = self._event(HouseholdRegistered, caller.tenant, "households", fields)
        return household_id, {"_id": household_id, **without_id(fields), OUTBOX: [event]}

    def _resident_document(self, caller, row, household):
        fields = {"id": self._import_id(caller, row), "household_id": household["_id"], "display_name": row.name,
                  "relation": row.relation, "birth_date": row.birth_date, "gender": row.gender, "tags": row.tags,
                  "path": household["path"], "status": "ACTIVE"}
        event = self._event(ResidentRegistered, caller.tenant, "residents", fields)
        sealed = self._sealed(caller.tenant, {field: getattr(row, field) for field in PII_FIELDS})
        return {"_id": fields["id"], **without_id(fields), **sealed, OUTBOX: [event]}

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
        resident = self.store.residents.get_in_scope(caller, resident_id)
        return resident

    def _active_resident(self, caller, resident_id):
        resident = self._resident(caller, resident_id)
        if resident.get("status", "ACTIVE") != "ACTIVE":
            raise FailedPrecondition(f"the resident is {resident['status']}; their record is kept as history")
        return resident

    def _check_sensitive(self, caller, tags, field):
        if set(tags) & schemas.SENSITIVE_TAGS and not caller.has_grant(schemas.SENSITIVE_GRANT):
            raise PermissionDenied(f"{field}: sensitive tags need the {schemas.SENSITIVE_GRANT} grant")

    def _tagged_event(self, caller, resident, tags):
        return envelope(self.name, ResidentTagged.event_type, caller.tenant, f"residents/{resident['_id']}", {
            "id": resident["_id"], "household_id": resident["household_id"], "path": resident["path"],
            "tags": {"current": tags, "added": sorted(set(tags) - set(resident["tags"])),
                     "removed": sorted(set(resident["tags"]) - set(tags))},
            "tagged_by": caller.subject})

    def _keep_hidden_tags(self, caller, resident, tags):
        """A caller who cannot see sensitive tags cannot remove them by omission either."""
        if caller.has_grant(schemas.SENSITIVE_GRANT):
            return tags
        return sorted(set(tags) | (set(resident.get("tags", [])) & schemas.SENSITIVE_TAGS))

    def _check_id_matches_birth_date(self, resident, changes):
        if "national_id" not in changes and "birth_date" not in changes:
            return
        national_id = changes.get("national_id")
        if national_id is None and resident.get("national_id_sealed"):
            national_id = self.pii.open(resident["national_id_sealed"])
        birth_date = changes.get("birth_date") or resident["birth_date"]
        if national_id and birth_date_of_id(national_id) != birth_date:
            field = "resident.national_id" if "national_id" in changes else "resident.birth_date"
            raise InvalidArgument.field(field, "the birth date in the national ID and birth_date differ")

    def _sealed(self, tenant, values):
        """Stored form of PII: ciphertext plus blind index; nothing for an empty value."""
        sealed = {}
        for field, value in values.items():
            if value:
                sealed[f"{field}_sealed"] = self.pii.seal(value)
                sealed[f"{field}_index"] = self.pii.blind_index(tenant, field, value)
        return sealed

    def _shown_all(self, caller, documents, method):
        reads = []
        shown = [self._reveal(caller, document, reads) for document in documents]
        self._audit(caller, reads, method)
        return shown

    def _shown(self, caller, document, method):
        return self._shown_all(caller, [document], method)[0]

    def _reveal(self, caller, document, reads):
        """The resident as this caller may see them: PII masked unless granted pii_full
        (each full value shown is noted in `reads` for the audit trail), sensitive tags hidden."""
        shown = public(document)
        full = caller.has_grant(FULL_PII_GRANT)
        for field in PII_FIELDS:
            shown.pop(f"{field}_index", None)
            sealed = shown.pop(f"{field}_sealed", None)
            if sealed:
                value = self.pii.open(sealed)
                shown[field] = value if full else mask(value)
                if full:
                    reads.append((document["_id"], field))
        for move in shown.get("moves", []):
            move["time"] = timestamp(move["time"])
        if not caller.has_grant(schemas.SENSITIVE_GRANT):
            shown["tags"] = [tag for tag in shown.get("tags", []) if tag not in schemas.SENSITIVE_TAGS]
        return shown

    def _audit(self, caller, reads, method):
        if reads:
            self.store.record_pii_reads(caller.tenant, caller.subject, caller.role, method, reads)

    def _event(self, contract_model, tenant, collection, record, **extra):
        fields = HOUSEHOLD_FIELDS if collection == "households" else RESIDENT_FIELDS
        data = {key: record[key] for key in fields}
        return envelope(self.name, contract_model.event_type, tenant, f"{collection}/{record['id']}",
                        data | extra)


# grids' flat fields -> the import's CSV columns
FLAT_COLUMNS = {"building_id": "building", "number": "flat"}


def without_id(fields):
    return {key: value for key, value in fields.items() if key != "id"}


def consistent_birth_date(national_id, birth_date):
    """The birth date to store: the one given, which must match the ID's, or the ID's."""
    if not national_id:
        if not birth_date:
            raise InvalidArgument.field("birth_date", "is required unless national_id is given")
        return birth_date
    from_id = birth_date_of_id(national_id)
    if birth_date and birth_date != from_id:
        raise InvalidArgument.field("national_id", f"carries birth date {from_id}, but birth_date is {birth_date}")
    return from_id


def national_id_taken(row):
    return {"row": row.row, "field": "national_id",
            "reason": "a resident with this national ID is already registered in this tenant"}


def duplicate_national_id(field):
    return AlreadyExists("a resident with this national ID is already registered in this tenant",
                         [{"field": field, "description": "already registered"}])
