"""The residents service's rules: the pure ones (disclosure, imports, visits) on their own, and the
handlers with their dependencies replaced (Nameko's worker_factory; a real PiiVault)."""
from datetime import date

import pytest
from nameko.testing.services import worker_factory

from services.access import Caller
from services.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.residents import disclosure, imports, visits
from services.residents.pii import PiiVault, with_check_digit
from services.residents.schemas import FindResidents
from services.residents.service import ResidentsService
from services.residents.store import work_list

NATIONAL_ID = with_check_digit("11010519491231002")  # born 1949-12-31
VAULT = PiiVault("unit-test-secret")
STAFF = {"subject": "s", "tenant": "t1", "role": "community_staff", "scope": ["co1"]}
GRANTED = {**STAFF, "grants": ["sensitive_tags", "pii_full"]}
HOUSEHOLD = {"_id": "h1", "flat_id": "f1", "display_name": "王家", "path": ["co1", "b1", "f1", "h1"]}


def caller(claims=STAFF):
    return Caller.of(claims)


def resident(**fields):
    return {"_id": "r1", "household_id": "h1", "display_name": "王一", "relation": "head",
            "birth_date": "1949-12-31", "gender": "MALE", "tags": ["elderly"], "path": HOUSEHOLD["path"],
            "status": "ACTIVE", **fields}


def service():
    residents = worker_factory(ResidentsService, pii=VAULT)
    residents.store.households.get.return_value = HOUSEHOLD
    residents.store.claim_national_ids.return_value = {}
    residents.store.residents.create.side_effect = lambda tenant, request_id, fields, events: (
        {"_id": fields["id"], **fields, "outbox": events}, True)
    residents.store.residents.update.side_effect = lambda query, changes, events, extra=None: (
        {**resident(), **changes, "outbox": events})
    return residents


def event_types(events):
    return [event["type"].removeprefix("civicgrid.residents.") for event in events]


# Disclosure

def test_sensitive_tags_need_their_grant_to_be_set_seen_or_removed():
    with pytest.raises(PermissionDenied, match="resident.tags: sensitive tags need the sensitive_tags grant"):
        disclosure.check_sensitive(caller(), ["elderly", "resettlement"], "resident.tags")
    disclosure.check_sensitive(caller(GRANTED), ["resettlement"], "tags")
    stored = ["elderly", "resettlement"]
    assert disclosure.with_hidden_tags(caller(), stored, ["veteran"]) == ["resettlement", "veteran"]
    assert disclosure.with_hidden_tags(caller(GRANTED), stored, ["veteran"]) == ["veteran"]
    counts = {"elderly": 3, "resettlement": 1}
    assert disclosure.visible_tag_counts(caller(), counts) == {"elderly": 3}
    assert disclosure.visible_tag_counts(caller(GRANTED), counts) == counts


def test_pii_is_shown_masked_unless_granted_in_full_and_full_reads_are_noted():
    stored = resident(tags=["elderly", "resettlement"],
                      **disclosure.sealed(VAULT, "t1", {"national_id": NATIONAL_ID, "phone": ""}))
    assert set(stored) >= {"national_id_sealed", "national_id_index"} and "phone_sealed" not in stored
    masked, reads = disclosure.revealed(caller(), stored, VAULT)
    assert (masked["national_id"], masked["tags"], reads) == ("110***********002X", ["elderly"], [])
    assert not {"national_id_sealed", "national_id_index"} & set(masked)
    full, reads = disclosure.revealed(caller(GRANTED), stored, VAULT)
    assert (full["national_id"], full["tags"], reads) == (NATIONAL_ID, ["elderly", "resettlement"],
                                                          [("r1", "national_id")])


def test_cleared_pii_is_unset_and_changed_pii_sealed():
    stored, cleared = disclosure.sealed_changes(VAULT, "t1", {"phone": "", "national_id": NATIONAL_ID})
    assert cleared == {"phone_sealed": "", "phone_index": ""}
    assert VAULT.open(stored["national_id_sealed"]) == NATIONAL_ID
    assert stored["national_id_index"] == VAULT.blind_index("t1", "national_id", NATIONAL_ID)


def test_a_lookup_takes_exactly_one_identifier():
    assert disclosure.lookup_of(FindResidents(phone="13812345678")) == ("phone", "13812345678")
    for both_or_none in (FindResidents(), FindResidents(phone="13812345678", national_id=NATIONAL_ID)):
        with pytest.raises(InvalidArgument) as raised:
            disclosure.lookup_of(both_or_none)
        assert raised.value.violations[0]["field"] == "phone"


def test_the_birth_date_comes_from_the_national_id_or_must_match_it():
    assert disclosure.consistent_birth_date(NATIONAL_ID, "") == "1949-12-31"
    assert disclosure.consistent_birth_date("", "1970-01-01") == "1970-01-01"
    for national_id, birth_date, field in ((NATIONAL_ID, "1950-01-01", "national_id"), ("", "", "birth_date")):
        with pytest.raises(InvalidArgument) as raised:
            disclosure.consistent_birth_date(national_id, birth_date)
        assert raised.value.violations[0]["field"] == field


def test_an_update_keeps_the_national_id_on_file_and_the_birth_date_agreeing():
    on_file = resident(national_id_sealed=VAULT.seal(NATIONAL_ID))
    disclosure.check_id_matches_birth_date(on_file, {"display_name": "x"}, VAULT)
    disclosure.check_id_matches_birth_date(on_file, {"national_id": ""}, VAULT)
    with pytest.raises(InvalidArgument) as raised:
        disclosure.check_id_matches_birth_date(on_file, {"birth_date": "1950-01-01"}, VAULT)
    assert raised.value.violations[0]["field"] == "resident.birth_date"
    other_id = with_check_digit("11010519600101002")
    with pytest.raises(InvalidArgument) as raised:
        disclosure.check_id_matches_birth_date(on_file, {"national_id": other_id}, VAULT)
    assert raised.value.violations[0]["field"] == "resident.national_id"


# Imports

def row(number, **fields):
    return {"row": number, "building": "b1", "flat": "101", "household": "王家", "name": f"王{number}",
            "birth_date": "1970-01-01", **fields}


def test_a_row_is_checked_on_its_own_and_its_errors_name_the_csv_column():
    errors = []
    assert imports.checked_row(caller(), row(2, national_id=NATIONAL_ID, birth_date=""), errors).birth_date == \
        "1949-12-31"
    assert imports.checked_row(caller(), row(3, floor="three"), errors) is None
    assert imports.checked_row(caller(), row(4, tags=["resettlement"]), errors) is None
    assert imports.checked_row(caller(), {"flat": "x"}, errors) is None
    assert [(e["row"], e["field"]) for e in errors[:2]] == [(3, "floor"), (4, "tags")]
    assert {e["row"] for e in errors[2:]} == {0}


def test_a_national_id_is_claimed_once_per_person_in_a_batch_and_held_ones_are_refused():
    rows = [imports.checked_row(caller(), row(n, national_id=NATIONAL_ID, birth_date="", name=name), [])
            for n, name in ((2, "甲"), (3, "甲"), (4, "乙"))]
    errors = []
    wanted, kept = imports.national_id_claims(VAULT, "t1", rows, errors)
    index = VAULT.blind_index("t1", "national_id", NATIONAL_ID)
    assert wanted == {index: imports.import_id(VAULT, "t1", rows[0])}
    assert [r.row for r, _ in kept] == [2, 3] and [e["row"] for e in errors] == [4]
    assert imports.without_held(kept, {index: "someone"}, errors) == []
    assert [(e["row"], e["field"]) for e in errors] == [(4, "national_id"), (2, "national_id"), (3, "national_id")]


def test_a_plan_shares_a_household_between_its_rows_and_reports_refused_flats_by_column():
    rows = [imports.checked_row(caller(), row(n), []) for n in (2, 3, 4)]
    flat = {"id": "f1", "path": ["co1", "b1", "f1"]}
    flats = [{"flat": flat, "created": True}, {"flat": flat, "created": False},
             {"error": {"field": "building_id", "description": "no such building"}}]
    errors = []
    plan = imports.planned(VAULT, "t1", rows, flats, errors)
    assert len(plan.households) == 1 and len(plan.residents) == 2 and plan.new_flats == {"f1"}
    assert errors == [{"row": 4, "field": "building", "reason": "no such building"}]
    household = next(iter(plan.households.values()))
    assert event_types(household["outbox"]) == ["household.registered.v1"]
    assert {r["household_id"] for r in plan.residents} == {household["_id"]}
    assert event_types(plan.residents[0]["outbox"]) == ["resident.registered.v1"]
    again = imports.planned(VAULT, "t1", rows, flats, [])
    assert [r["_id"] for r in again.residents] == [r["_id"] for r in plan.residents]
    report = imports.import_report(plan, {"households": set(), "residents": {plan.residents[0]["_id"]}},
                                   [{"row": 9}, *errors])
    assert report == {"flats_created": 1, "households_created": 0, "residents_created": 1, "rows_unchanged": 1,
                      "errors": [errors[0], {"row": 9}]}


# Visits

def test_unvisited_households_rank_vulnerable_members_then_the_longest_unvisited():
    households = [{"_id": "a", "display_name": "A", "flat_id": "f", "last_visit_date": "2026-01-05"},
                  {"_id": "b", "display_name": "B", "flat_id": "f"},
                  {"_id": "c", "display_name": "C", "flat_id": "f", "last_visit_date": "2026-01-01"}]
    ranked = visits.ranked_unvisited(households, {"a": 2}, limit=2)
    assert [(h["household_id"], h["vulnerable_members"], h["last_visit_date"]) for h in ranked] == [
        ("a", 2, "2026-01-05"), ("b", 0, "")]
    assert visits.unvisited_cutoff(30, today=date(2026, 3, 31)) == "2026-03-01"


def test_visitors_are_reported_against_the_quota_furthest_behind_first():
    rows = visits.quota_rows({"ann": 3, "bob": 1}, ["cy", "ann"], quota=2)
    assert [(r["visitor"], r["households_visited"], r["behind"]) for r in rows] == [
        ("cy", 0, True), ("bob", 1, True), ("ann", 3, False)]
    with pytest.raises(InvalidArgument) as raised:
        visits.check_period("2026-02-01", "2026-01-31")
    assert raised.value.violations[0]["field"] == "period_end"


def test_a_work_list_leaves_departed_residents_out_unless_asked():
    assert work_list("", [], "", include_departed=True) == {}
    conditions = work_list("co1", ["elderly"], "王.", include_departed=False)
    assert conditions["display_name"] == {"$regex": "^王\\."} and conditions["tags"] == {"$all": ["elderly"]}
    assert conditions["status"] == {"$nin": ["DECEASED", "MOVED_OUT_OF_CITY"]}


# Handlers

def test_a_caller_that_is_not_one_is_refused_before_anything_is_read():
    residents = service()
    with pytest.raises(PermissionDenied, match="caller context"):
        residents.get_household({"subject": "s"}, {"id": "h1"})
    residents.store.households.get.assert_not_called()


def test_sensitive_tags_without_the_grant_write_nothing():
    residents = service()
    with pytest.raises(PermissionDenied):
        residents.create_resident(STAFF, {"household_id": "h1", "display_name": "王一", "birth_date": "1970-01-01",
                                          "tags": ["community_correction"]})
    residents.store.residents.create.assert_not_called()


def test_an_unknown_household_is_not_found_naming_the_field():
    residents = service()
    residents.store.households.get.side_effect = NotFound("household not found")
    with pytest.raises(NotFound) as raised:
        residents.create_resident(STAFF, {"household_id": "h9", "display_name": "王一", "birth_date": "1970-01-01"})
    assert raised.value.violations == [{"field": "household_id", "description": "no such household"}]
    residents.grids.get_flat.side_effect = NotFound("node not found")
    with pytest.raises(NotFound) as raised:
        residents.create_household(STAFF, {"flat_id": "f9", "display_name": "王家"})
    assert raised.value.violations[0]["field"] == "flat_id"


def test_a_household_out_of_scope_is_not_found():
    residents = service()
    residents.store.households.get.return_value = {**HOUSEHOLD, "path": ["co2", "h1"]}
    with pytest.raises(NotFound):
        residents.get_household(STAFF, {"id": "h1"})


def test_a_resident_is_registered_with_their_event_and_their_pii_sealed():
    residents = service()
    created = residents.create_resident(STAFF, {"request_id": "q1", "household_id": "h1", "display_name": "王一",
                                                "national_id": NATIONAL_ID, "phone": "13812345678"})
    tenant, request_id, stored, events = residents.store.residents.create.call_args.args
    assert (tenant, request_id, event_types(events)) == ("t1", "q1", ["resident.registered.v1"])
    assert NATIONAL_ID not in str(stored) and NATIONAL_ID not in str(events)
    assert events[0]["data"]["birth_date"] == "1949-12-31" and events[0]["data"]["path"] == HOUSEHOLD["path"]
    assert (created["national_id"], created["phone"]) == ("110***********002X", "138****5678")
    residents.store.record_pii_reads.assert_not_called()


def test_a_national_id_someone_holds_is_refused_on_registration():
    residents = service()
    residents.store.claim_national_ids.return_value = {"index": "r0"}
    with pytest.raises(AlreadyExists) as raised:
        residents.create_resident(STAFF, {"household_id": "h1", "display_name": "王一", "national_id": NATIONAL_ID})
    assert raised.value.violations[0]["field"] == "national_id"
    residents.store.residents.create.assert_not_called()


def test_a_retag_writes_updated_and_tagged_and_keeps_the_tags_the_caller_cannot_see():
    residents = service()
    residents.store.residents.get_in_scope.return_value = resident(tags=["elderly", "resettlement"])
    shown = residents.update_resident(STAFF, {"resident": {"id": "r1", "tags": ["veteran"]},
                                              "update_mask": ["tags"]})
    query, changes, events = residents.store.residents.update.call_args.args
    assert query == {"tenant": "t1", "_id": "r1"} and changes["tags"] == ["resettlement", "veteran"]
    assert event_types(events) == ["resident.updated.v1", "resident.tagged.v1"]
    assert events[1]["data"]["tags"] == {"current": ["resettlement", "veteran"], "added": ["veteran"],
                                         "removed": ["elderly"]}
    assert shown["tags"] == ["veteran"]


def test_an_update_naming_the_field_at_fault_writes_nothing():
    residents = service()
    residents.store.residents.get_in_scope.return_value = resident(national_id_sealed=VAULT.seal(NATIONAL_ID))
    with pytest.raises(InvalidArgument) as raised:
        residents.update_resident(STAFF, {"resident": {"id": "r1", "birth_date": "1950-01-01"},
                                          "update_mask": ["birth_date"]})
    assert raised.value.violations[0]["field"] == "resident.birth_date"
    with pytest.raises(InvalidArgument) as raised:
        residents.update_resident(STAFF, {"resident": {"id": "r1", "phone": "call me"}, "update_mask": ["phone"]})
    assert raised.value.violations[0]["field"] == "resident.phone"
    residents.store.residents.update.assert_not_called()


def test_full_pii_reads_go_to_the_audit_trail():
    residents = service()
    residents.store.residents.get_in_scope.return_value = resident(
        **disclosure.sealed(VAULT, "t1", {"national_id": NATIONAL_ID}))
    assert residents.get_resident(GRANTED, {"id": "r1"})["national_id"] == NATIONAL_ID
    residents.store.record_pii_reads.assert_called_once_with(
        "t1", "s", "community_staff", "GetResident", [("r1", "national_id")])


def test_a_household_with_members_is_not_deleted():
    residents = service()
    residents.store.household_has_members.return_value = True
    with pytest.raises(FailedPrecondition):
        residents.delete_household(STAFF, {"id": "h1"})
    residents.store.households.retire.assert_not_called()


def test_a_move_writes_the_moved_event_with_the_record_and_a_departed_resident_stays_put():
    residents = service()
    residents.store.residents.get_in_scope.return_value = resident()
    residents.store.households.get.return_value = {**HOUSEHOLD, "_id": "h2", "path": ["co1", "b1", "f2", "h2"]}
    residents.move_resident(STAFF, {"id": "r1", "household_id": "h2"})
    query, changes, events = residents.store.residents.update.call_args.args
    assert changes == {"household_id": "h2", "path": ["co1", "b1", "f2", "h2"]}
    assert event_types(events) == ["resident.moved.v1"] and events[0]["data"]["from_household_id"] == "h1"
    with pytest.raises(InvalidArgument) as raised:
        residents.move_resident(STAFF, {"id": "r1", "household_id": "h1"})
    assert raised.value.violations[0]["field"] == "household_id"
    residents.store.residents.get_in_scope.return_value = resident(status="DECEASED")
    with pytest.raises(FailedPrecondition, match="DECEASED"):
        residents.record_departure(STAFF, {"id": "r1", "status": "MOVED_OUT_OF_CITY", "departure_date": "2026-01-01"})


def test_figures_hide_sensitive_tags_without_the_grant():
    residents = service()
    residents.store.people_below.return_value = {"households": 2, "residents": 3,
                                                 "residents_by_tag": {"elderly": 1, "resettlement": 1}}
    assert residents.count_people(STAFF, {"node_id": "co1"}) == {
        "households": 2, "residents": 3, "residents_by_tag": {"elderly": 1}}


def test_a_batch_imported_whole_before_is_answered_from_its_note():
    residents = service()
    residents.store.imported_whole_before.return_value = True
    report = residents.import_residents(STAFF, {"rows": [row(2), row(3)]})
    assert report == {"flats_created": 0, "households_created": 0, "residents_created": 0, "rows_unchanged": 2,
                      "errors": []}
    residents.grids.ensure_flats.assert_not_called()


def test_an_import_with_errors_is_not_noted_as_imported_whole():
    residents = service()
    residents.store.imported_whole_before.return_value = False
    residents.grids.ensure_flats.return_value = {"flats": [{"flat": {"id": "f1", "path": ["co1", "b1", "f1"]},
                                                            "created": True}]}
    residents.store.import_new.side_effect = lambda tenant, documents: {
        name: {document["_id"] for document in records} for name, records in documents.items()}
    report = residents.import_residents(STAFF, {"rows": [row(2), row(3, floor="three")]})
    assert (report["residents_created"], [e["row"] for e in report["errors"]]) == (1, [3])
    residents.store.note_imported_whole.assert_not_called()
