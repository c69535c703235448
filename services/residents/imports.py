"""Planning a bulk import of CSV rows, free of storage and RPC: each row checked on its own, the
national IDs the batch claims, the household and resident records the rows make (with ids derived
from their content, so that a row sent again makes the same records), and the report.

A row is reported with its number and the CSV column at fault, never half imported."""
import json
from dataclasses import dataclass, field

from services.errors import InvalidArgument, PermissionDenied
from services.residents import schemas
from services.residents.disclosure import check_sensitive, consistent_birth_date, sealed
from services.residents.events import HouseholdRegistered, ResidentRegistered, household_event, resident_event
from services.residents.pii import PII_FIELDS
from services.storage import OUTBOX, content_id
from services.validation import parse

EMPTY_REPORT = {"flats_created": 0, "households_created": 0, "residents_created": 0, "rows_unchanged": 0}
# grids' flat fields -> the import's CSV columns
FLAT_COLUMNS = {"building_id": "building", "number": "flat"}


@dataclass
class ImportPlan:
    """The records the rows make, by id for households (rows of one household share it)."""
    households: dict = field(default_factory=dict)
    residents: list = field(default_factory=list)
    new_flats: set = field(default_factory=set)


def batch_key(caller, rows):
    """The same rows sent by a caller with the same tenant, scope and grants give the same key."""
    return content_id(caller.tenant, caller.scope, caller.grants, json.dumps(rows, sort_keys=True, ensure_ascii=False))


def repeated_batch_report(rows):
    return {**EMPTY_REPORT, "rows_unchanged": len(rows), "errors": []}


def checked_row(caller, raw, errors):
    """The row parsed and checked on its own, or None with its errors noted."""
    number = raw.get("row") if isinstance(raw.get("row"), int) else 0
    try:
        row = parse(schemas.ImportRow, raw)
        check_sensitive(caller, row.tags, "tags")
        row.birth_date = consistent_birth_date(row.national_id, row.birth_date)
    except (InvalidArgument, PermissionDenied) as error:
        violations = error.violations or [{"field": "tags", "description": error.message}]
        errors.extend({"row": number, "field": v["field"], "reason": v["description"]} for v in violations)
        return None
    return row


def national_id_index(vault, tenant, row):
    return vault.blind_index(tenant, "national_id", row.national_id) if row.national_id else ""


def import_id(vault, tenant, row):
    """The same person in the same place gives the same id. Ids are stored in clear, so the
    national ID enters only as its keyed blind index."""
    return content_id(tenant, row.building, row.unit, row.flat, row.household, row.name, row.birth_date,
                      national_id_index(vault, tenant, row))


def national_id_claims(vault, tenant, rows, errors):
    """({blind index: resident id} the batch claims, [(row, blind index)] kept): a row whose national
    ID an earlier row of the batch gives to another person is dropped as an error."""
    wanted, kept = {}, []
    for row in rows:
        index = national_id_index(vault, tenant, row)
        if index and wanted.setdefault(index, import_id(vault, tenant, row)) != import_id(vault, tenant, row):
            errors.append(national_id_taken(row))
        else:
            kept.append((row, index))
    return wanted, kept


def without_held(kept, held, errors):
    """The rows kept but those whose national ID another resident holds (`held`), noted as errors."""
    errors += [national_id_taken(row) for row, index in kept if index in held]
    return [row for row, index in kept if index not in held]


def national_id_taken(row):
    return {"row": row.row, "field": "national_id",
            "reason": "a resident with this national ID is already registered in this tenant"}


def flats_wanted(rows):
    """The flats of the rows, as grids' ensure_flats takes them."""
    return [{"building_id": row.building, "unit": row.unit, "floor": row.floor, "number": row.flat,
             "occupancy": row.occupancy} for row in rows]


def planned(vault, tenant, rows, flats, errors):
    """The records of the rows, given each row's flat as ensure_flats answered; a row whose flat
    was refused is an error named by its CSV column."""
    plan = ImportPlan()
    for row, flat in zip(rows, flats):
        if "error" in flat:
            column = FLAT_COLUMNS.get(flat["error"]["field"], flat["error"]["field"])
            errors.append({"row": row.row, "field": column, "reason": flat["error"]["description"]})
            continue
        if flat["created"]:
            plan.new_flats.add(flat["flat"]["id"])
        household = plan.households.setdefault(*household_document(tenant, row, flat["flat"]))
        plan.residents.append(resident_document(vault, tenant, row, household))
    return plan


def household_document(tenant, row, flat):
    """(id, document) of the row's household: one per flat and household name."""
    household_id = content_id(tenant, flat["id"], row.household)
    fields = {"id": household_id, "flat_id": flat["id"], "display_name": row.household, "path": flat["path"]}
    event = household_event(HouseholdRegistered, tenant, fields)
    return household_id, {"_id": household_id, **without_id(fields), OUTBOX: [event]}


def resident_document(vault, tenant, row, household):
    fields = {"id": import_id(vault, tenant, row), "household_id": household["_id"], "display_name": row.name,
              "relation": row.relation, "birth_date": row.birth_date, "gender": row.gender, "tags": row.tags,
              "path": household["path"], "status": "ACTIVE"}
    event = resident_event(ResidentRegistered, tenant, fields)
    stored_pii = sealed(vault, tenant, {name: getattr(row, name) for name in PII_FIELDS})
    return {"_id": fields["id"], **without_id(fields), **stored_pii, OUTBOX: [event]}


def without_id(fields):
    return {key: value for key, value in fields.items() if key != "id"}


def import_report(plan, inserted, errors):
    """`inserted`: the ids import_new inserted, per collection; rows whose resident was there
    already are unchanged."""
    households, residents = map(len, (inserted["households"], inserted["residents"]))
    return {"flats_created": len(plan.new_flats), "households_created": households,
            "residents_created": residents, "rows_unchanged": len(plan.residents) - residents,
            "errors": sorted(errors, key=lambda error: error["row"])}
