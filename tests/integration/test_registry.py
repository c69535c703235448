"""The registry through the real gateway, services, RabbitMQ and FerretDB: PII, figures,
building view, work lists, life events and visits."""
from datetime import date, timedelta

import grpc
import pytest

from services.residents.pii import with_check_digit
from tests.support.errors import field_violations, rpc_error
from tests.support.hierarchy import GRIDS, RESIDENTS, build_hierarchy

pytestmark = pytest.mark.integration


def national_id(born="19410302", sequence="123", area="110101"):
    return with_check_digit(f"{area}{born}{sequence}")


def resident(client, household_id, name, **fields):
    return client.call(f"{RESIDENTS}/CreateResident", {
        "household_id": household_id, "display_name": name, "birth_date": "1980-01-01", **fields})


@pytest.fixture
def community(platform, unique):
    operator = platform.client(tenant=f"reg-{unique}")
    ids = build_hierarchy(operator, unique)
    household = operator.call(f"{RESIDENTS}/CreateHousehold", {"flat_id": ids["FLAT"], "display_name": "Wang"})
    return operator, ids, household, f"reg-{unique}"


def test_pii_is_encrypted_masked_and_full_reads_are_audited(platform, community):
    operator, ids, household, tenant = community
    wang_id = national_id()
    created = resident(operator, household["id"], "Wang Guilan", birth_date="", national_id=wang_id,
                       phone="13812345678", tags=["elderly"])
    assert created["birth_date"] == "1941-03-02"
    assert created["national_id"] == wang_id[:3] + "*" * 11 + wang_id[-4:]
    assert created["phone"] == "138****5678"

    stored = platform.database("residents").residents.find_one({"_id": created["id"]})
    assert wang_id not in str(stored) and "13812345678" not in str(stored)

    auditor = platform.client(tenant=tenant, subject="auditor-1", grants=("pii_full",))
    full = auditor.call(f"{RESIDENTS}/GetResident", {"id": created["id"]})
    assert (full["national_id"], full["phone"]) == (wang_id, "13812345678")
    reads = list(platform.database("residents").pii_reads.find({"tenant": tenant}))
    assert sorted((r["reader"], r["resident_id"], r["field"], r["method"]) for r in reads) == [
        ("auditor-1", created["id"], "national_id", "GetResident"),
        ("auditor-1", created["id"], "phone", "GetResident")]
    assert all(r["time"] for r in reads)
    operator.call(f"{RESIDENTS}/GetResident", {"id": created["id"]})
    assert platform.database("residents").pii_reads.count_documents({"tenant": tenant}) == 2


def test_find_by_phone_or_id_exactly_within_scope(platform, community, unique):
    operator, ids, household, tenant = community
    wang_id = national_id()
    created = resident(operator, household["id"], "Wang Guilan", birth_date="1941-03-02", national_id=wang_id,
                       phone="13812345678")
    by_id = operator.call(f"{RESIDENTS}/FindResidents", {"national_id": wang_id.lower()})
    by_phone = operator.call(f"{RESIDENTS}/FindResidents", {"phone": "138 1234 5678"})
    assert [r["id"] for r in by_id["residents"]] == [created["id"]] == [r["id"] for r in by_phone["residents"]]
    assert operator.call(f"{RESIDENTS}/FindResidents", {"phone": "13900000000"}) == {}
    other_grid = operator.call(f"{GRIDS}/CreateNode", {"kind": "GRID", "display_name": "G2",
                                                       "parent_id": ids["COMMUNITY"]})
    outsider = platform.client(tenant=tenant, role="grid_worker", scope=(other_grid["id"],))
    assert outsider.call(f"{RESIDENTS}/FindResidents", {"national_id": wang_id}) == {}
    stranger = platform.client(tenant=f"other-{unique}")
    assert stranger.call(f"{RESIDENTS}/FindResidents", {"national_id": wang_id}) == {}
    neither = rpc_error(lambda: operator.call(f"{RESIDENTS}/FindResidents", {}))
    assert neither.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_duplicate_national_id_in_a_tenant_is_already_exists(platform, community, unique):
    operator, ids, household, tenant = community
    wang_id = national_id()
    first = resident(operator, household["id"], "Wang", birth_date="1941-03-02", national_id=wang_id,
                     request_id=f"{unique}-w")
    assert resident(operator, household["id"], "Wang", national_id=wang_id, birth_date="1941-03-02",
                    request_id=f"{unique}-w")["id"] == first["id"]
    error = rpc_error(lambda: resident(operator, household["id"], "Wang again", birth_date="1941-03-02",
                                       national_id=wang_id))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "national_id" in field_violations(error)
    assert platform.database("residents").residents.count_documents({"tenant": tenant}) == 1
    other = platform.client(tenant=f"twin-{unique}")
    other_ids = build_hierarchy(other, f"twin{unique}")
    other_household = other.call(f"{RESIDENTS}/CreateHousehold", {"flat_id": other_ids["FLAT"], "display_name": "W"})
    assert resident(other, other_household["id"], "Wang", birth_date="1941-03-02", national_id=wang_id)["id"]


@pytest.mark.parametrize("fields, field", [
    ({"national_id": "11010119410302123"}, "national_id"),
    ({"national_id": "110101194103021230"}, "national_id"),
    ({"national_id": with_check_digit("11010119410231123")}, "national_id"),
    ({"national_id": national_id(), "birth_date": "1941-03-03"}, "national_id"),
    ({"national_id": with_check_digit("11010129990101123"), "birth_date": ""}, "national_id"),
    ({"phone": "12345"}, "phone"),
    ({"birth_date": ""}, "birth_date"),
])
def test_bad_pii_is_refused_naming_the_field_and_nothing_is_written(platform, community, fields, field):
    operator, ids, household, tenant = community
    error = rpc_error(lambda: resident(operator, household["id"], "R", **fields))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error)
    assert platform.database("residents").residents.count_documents({"tenant": tenant}) == 0


def test_update_phone_and_id_keeps_them_consistent(platform, community):
    operator, ids, household, tenant = community
    created = resident(operator, household["id"], "Li", birth_date="1941-03-02")
    updated = operator.call(f"{RESIDENTS}/UpdateResident", {
        "resident": {"id": created["id"], "phone": "13900001111", "national_id": national_id()},
        "update_mask": "phone,nationalId"})
    assert updated["phone"] == "139****1111"
    assert operator.call(f"{RESIDENTS}/FindResidents", {"phone": "13900001111"})["residents"][0]["id"] == created["id"]
    clash = rpc_error(lambda: operator.call(f"{RESIDENTS}/UpdateResident", {
        "resident": {"id": created["id"], "birth_date": "1950-01-01"}, "update_mask": "birthDate"}))
    assert clash.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "resident.birth_date" in field_violations(clash)
    cleared = operator.call(f"{RESIDENTS}/UpdateResident", {
        "resident": {"id": created["id"]}, "update_mask": "phone"})
    assert "phone" not in cleared
    assert operator.call(f"{RESIDENTS}/FindResidents", {"phone": "13900001111"}) == {}


def test_building_view_and_occupancy_history_with_event(platform, community, tap):
    operator, ids, household, tenant = community
    for n, occupancy in enumerate(["VACANT", "RENTED", "OWNER_OCCUPIED"]):
        operator.call(f"{GRIDS}/CreateFlat", {"building_id": ids["BUILDING"], "unit": "2", "floor": n + 1,
                                              "number": f"{n + 1}01", "occupancy": occupancy})
    changed = operator.call(f"{GRIDS}/UpdateFlat", {"flat": {"id": ids["FLAT"], "occupancy": "RENTED"},
                                                    "update_mask": "occupancy"})
    assert [h["occupancy"] for h in changed["occupancy_history"]] == ["OWNER_OCCUPIED", "RENTED"]
    assert changed["occupancy_history"][1]["changed_by"] == "tester"

    view = operator.call(f"{GRIDS}/GetBuildingView", {"building_id": ids["BUILDING"]})
    assert view["building"]["id"] == ids["BUILDING"]
    assert [(f["unit"], f.get("floor"), f["occupancy"]) for f in view["flats"]] == [
        ("1", 3, "RENTED"), ("2", 1, "VACANT"), ("2", 2, "RENTED"), ("2", 3, "OWNER_OCCUPIED")]
    assert view["occupancy"] == {"vacant": "1", "rented": "2", "owner_occupied": "1"}
    wrong_kind = rpc_error(lambda: operator.call(f"{GRIDS}/GetBuildingView", {"building_id": ids["GRID"]}))
    assert wrong_kind.code() == grpc.StatusCode.INVALID_ARGUMENT

    events = tap.drain(tenant, {"civicgrid.grids.flat.occupancy_changed.v1": 1})
    changes = [e for e in events if e["type"] == "civicgrid.grids.flat.occupancy_changed.v1"]
    assert [(e["data"]["previous_occupancy"], e["data"]["occupancy"]) for e in changes] == [
        ("OWNER_OCCUPIED", "RENTED")]


def test_figures_follow_residents_as_they_move_and_depart(platform, community, tap):
    operator, ids, household, tenant = community
    second_building = operator.call(f"{GRIDS}/CreateNode", {"kind": "BUILDING", "display_name": "B2",
                                                            "parent_id": ids["GRID"]})
    flat = operator.call(f"{GRIDS}/CreateFlat", {"building_id": second_building["id"], "number": "101"})
    other_household = operator.call(f"{RESIDENTS}/CreateHousehold", {"flat_id": flat["id"], "display_name": "Li"})
    elder = resident(operator, household["id"], "Wang", tags=["elderly", "living_alone"])
    resident(operator, household["id"], "Wang Jr")
    hidden = resident(platform.client(tenant=tenant, grants=("sensitive_tags",)), household["id"], "Zhao",
                      tags=["community_correction"])

    figures = operator.call(f"{GRIDS}/GetNodeFigures", {"node_id": ids["COMMUNITY"]})
    assert figures["grids"] == "1" and figures["buildings"] == "2" and figures["flats"] == "2"
    assert figures["flats_by_occupancy"] == {"owner_occupied": "1", "vacant": "1"}
    assert (figures["households"], figures["residents"]) == ("2", "3")
    assert figures["residents_by_tag"] == {"elderly": "1", "living_alone": "1"}
    granted = platform.client(tenant=tenant, grants=("sensitive_tags",))
    assert granted.call(f"{GRIDS}/GetNodeFigures", {"node_id": ids["GRID"]})["residents_by_tag"][
        "community_correction"] == "1"

    moved = operator.call(f"{RESIDENTS}/MoveResident", {"id": elder["id"], "household_id": other_household["id"]})
    assert moved["household_id"] == other_household["id"] and moved["path"][-1] == flat["id"]
    assert moved["moves"][0]["from_household_id"] == household["id"]
    first_building = operator.call(f"{GRIDS}/GetNodeFigures", {"node_id": ids["BUILDING"]})
    assert first_building["residents"] == "2" and "elderly" not in first_building.get("residents_by_tag", {})
    assert operator.call(f"{GRIDS}/GetNodeFigures", {"node_id": second_building["id"]})["residents_by_tag"] == {
        "elderly": "1", "living_alone": "1"}

    departed = operator.call(f"{RESIDENTS}/RecordDeparture", {"id": hidden["id"], "status": "DECEASED",
                                                              "departure_date": "2024-01-05"})
    assert departed["status"] == "DECEASED"
    assert operator.call(f"{GRIDS}/GetNodeFigures", {"node_id": ids["COMMUNITY"]})["residents"] == "2"
    listed = operator.call(f"{RESIDENTS}/ListResidents", {"node_id": ids["COMMUNITY"]})["residents"]
    assert hidden["id"] not in [r["id"] for r in listed]
    everyone = operator.call(f"{RESIDENTS}/ListResidents", {"node_id": ids["COMMUNITY"], "include_departed": True})
    assert hidden["id"] in [r["id"] for r in everyone["residents"]]
    # Each change added itself to its building's snapshot: nothing is left for a recount.
    for service in ("residents", "grids"):
        assert platform.database(service).dirty_buildings.count_documents({"tenant": tenant}) == 0
    again = rpc_error(lambda: operator.call(f"{RESIDENTS}/MoveResident", {
        "id": hidden["id"], "household_id": other_household["id"]}))
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION

    events = tap.drain(tenant, {"civicgrid.residents.resident.moved.v1": 1,
                                "civicgrid.residents.resident.departed.v1": 1})
    types = {e["type"] for e in events}
    assert {"civicgrid.residents.resident.moved.v1", "civicgrid.residents.resident.departed.v1"} <= types


def test_tag_change_is_its_own_event_and_no_change_sends_none(platform, community, tap):
    operator, ids, household, tenant = community
    elder = resident(operator, household["id"], "Sun", tags=["elderly"])
    update = {"resident": {"id": elder["id"], "tags": ["elderly", "living_alone"]}, "update_mask": "tags"}
    operator.call(f"{RESIDENTS}/UpdateResident", update)
    operator.call(f"{RESIDENTS}/UpdateResident", {"resident": {"id": elder["id"], "display_name": "Sun Li"},
                                                  "update_mask": "displayName"})

    events = tap.drain(tenant, {"civicgrid.residents.resident.updated.v1": 2,
                                "civicgrid.residents.resident.tagged.v1": 1})
    tagged = [e for e in events if e["type"] == "civicgrid.residents.resident.tagged.v1"]
    assert len(tagged) == 1
    assert tagged[0]["data"]["tags"] == {"current": ["elderly", "living_alone"], "added": ["living_alone"],
                                         "removed": []}
    assert tagged[0]["data"]["id"] == elder["id"] and tagged[0]["data"]["path"][-1] == ids["FLAT"]


def test_figures_respect_scope(platform, community):
    operator, ids, household, tenant = community
    other_grid = operator.call(f"{GRIDS}/CreateNode", {"kind": "GRID", "display_name": "G2",
                                                       "parent_id": ids["COMMUNITY"]})
    worker = platform.client(tenant=tenant, role="grid_worker", scope=(other_grid["id"],))
    error = rpc_error(lambda: worker.call(f"{GRIDS}/GetNodeFigures", {"node_id": ids["GRID"]}))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert worker.call(f"{GRIDS}/GetNodeFigures", {"node_id": other_grid["id"]})["kind"] == "GRID"


def test_work_list_by_tags_and_name_prefix_paginated(platform, community):
    operator, ids, household, tenant = community
    for n in range(5):
        resident(operator, household["id"], f"王{n}", tags=["elderly", "living_alone"] if n % 2 == 0 else ["elderly"])
    resident(operator, household["id"], "李明", tags=["elderly", "living_alone"])
    pages, token = [], ""
    while True:
        page = operator.call(f"{RESIDENTS}/ListResidents", {
            "node_id": ids["GRID"], "tags": ["elderly", "living_alone"], "page_size": 2, "page_token": token})
        pages.append(page["residents"])
        token = page.get("next_page_token", "")
        if not token:
            break
    assert sorted(r["display_name"] for page in pages for r in page) == ["李明", "王0", "王2", "王4"]
    named = operator.call(f"{RESIDENTS}/ListResidents", {"node_id": ids["GRID"], "name_prefix": "王",
                                                         "tags": ["living_alone"]})
    assert sorted(r["display_name"] for r in named["residents"]) == ["王0", "王2", "王4"]
    assert operator.call(f"{RESIDENTS}/ListResidents", {"name_prefix": ".*"}) == {}


def test_visits_unvisited_report_and_quota(platform, community, tap):
    operator, ids, household, tenant = community
    flats = [operator.call(f"{GRIDS}/CreateFlat", {"building_id": ids["BUILDING"], "number": f"5{n}"})
             for n in range(2)]
    lonely = operator.call(f"{RESIDENTS}/CreateHousehold", {"flat_id": flats[0]["id"], "display_name": "Lonely"})
    visited = operator.call(f"{RESIDENTS}/CreateHousehold", {"flat_id": flats[1]["id"], "display_name": "Seen"})
    resident(operator, lonely["id"], "Old", tags=["elderly", "living_alone"])
    resident(operator, visited["id"], "Young")
    today = date.today()
    party_member = platform.client(tenant=tenant, role="grid_worker", scope=(ids["GRID"],), subject="member-1")
    logged = party_member.call(f"{RESIDENTS}/LogVisit", {
        "request_id": "v1", "household_id": visited["id"], "visit_date": today.isoformat(),
        "findings": "all well"})
    again = party_member.call(f"{RESIDENTS}/LogVisit", {
        "request_id": "v1", "household_id": visited["id"], "visit_date": today.isoformat()})
    assert again["id"] == logged["id"] and logged["visitor"] == "member-1"
    party_member.call(f"{RESIDENTS}/LogVisit", {"household_id": household["id"],
                                                "visit_date": (today - timedelta(days=40)).isoformat()})
    assert len(operator.call(f"{RESIDENTS}/ListVisits", {"node_id": ids["GRID"]})["visits"]) == 2

    unvisited = operator.call(f"{RESIDENTS}/ListUnvisitedHouseholds", {"node_id": ids["COMMUNITY"], "days": 30})
    rows = unvisited["households"]
    assert [r["household_id"] for r in rows] == [lonely["id"], household["id"]]
    assert rows[0]["vulnerable_members"] == 1 and rows[1]["last_visit_date"] == \
        (today - timedelta(days=40)).isoformat()

    report = operator.call(f"{RESIDENTS}/VisitQuotaReport", {
        "node_id": ids["COMMUNITY"], "period_start": (today - timedelta(days=29)).isoformat(),
        "period_end": today.isoformat(), "quota": 3, "visitors": ["member-1", "member-2"]})
    assert [(v["visitor"], v.get("households_visited", 0), v.get("behind", False)) for v in report["visitors"]] == [
        ("member-2", 0, True), ("member-1", 1, True)]

    future = rpc_error(lambda: operator.call(f"{RESIDENTS}/LogVisit", {
        "household_id": household["id"], "visit_date": (today + timedelta(days=2)).isoformat()}))
    assert future.code() == grpc.StatusCode.INVALID_ARGUMENT and "visit_date" in field_violations(future)
    assert platform.database("residents").visits.count_documents({"tenant": tenant}) == 2
    events = tap.drain(tenant, {"civicgrid.residents.visit.logged.v1": 2})
    assert [e["type"] for e in events].count("civicgrid.residents.visit.logged.v1") == 2
