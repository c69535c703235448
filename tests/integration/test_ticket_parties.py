"""Every party sees its case, through the real gateway: residents bound to their household by
their sign-in, checked against the registry, read the tickets that name the household, without
what is not theirs; nobody else reads them."""
import json

import grpc
import pytest

from tests.support.errors import field_violations, rpc_error
from tests.support.hierarchy import GRIDS, RESIDENTS, add_residents
from tests.support.town import TICKETS, Town

pytestmark = pytest.mark.integration


def call(client, method, **body):
    return client.call(f"{TICKETS}/{method}", body)


class Floors:
    """The town's building with a household and a bound resident on floors 4, 5 and 6."""

    def __init__(self, platform, town, unique):
        self.households, self.residents, self.flats = {}, {}, {}
        for floor in (4, 5, 6):
            flat = town.operator.call(f"{GRIDS}/CreateFlat", {
                "building_id": town.ids["BUILDING"], "unit": "1", "floor": floor, "number": f"{floor}01",
                "occupancy": "OWNER_OCCUPIED"})
            resident = add_residents(town.operator, flat["id"], f"{unique}-{floor}", [[]])[0]
            bound = town.operator.call(f"{RESIDENTS}/BindResidentAccount", {
                "resident_id": resident["id"], "subject": f"resident-{floor}01"})
            assert bound == {"subject": f"resident-{floor}01", "resident_id": resident["id"],
                             "household_id": resident["household_id"]}
            self.households[floor], self.flats[floor] = resident["household_id"], flat["id"]
            self.residents[floor] = platform.client(
                tenant=town.tenant, role="resident", scope=(flat["id"],), subject=f"resident-{floor}01",
                household_id=resident["household_id"])


@pytest.fixture
def leak(platform, unique):
    """A leak reported on floor 3 by the elderly resident living alone there, traced to a valve
    on floor 5: staff name the households of floors 4 and 5 on the case, and resolve it."""
    town = Town(platform, unique, prefix="party")
    floors = Floors(platform, town, unique)
    ticket = town.report(description="Water is coming through the ceiling", reporter_resident_id=town.elder["id"])
    call(town.worker, "TriageTicket", id=ticket["id"], decision="ACCEPT", note="Grandma Li is 86 and alone")
    for floor in (4, 5):
        call(town.worker, "AddTicketParty", id=ticket["id"], household_id=floors.households[floor])
    call(town.worker, "AssignTicket", id=ticket["id"])
    call(town.worker, "StartTicket", id=ticket["id"], note="the valve on floor 5 is the source")
    call(town.worker, "ResolveTicket", id=ticket["id"], resolution="valve on floor 5 replaced")
    return town, floors, ticket


def test_the_households_named_on_a_case_read_it_and_find_it_in_their_queue(leak):
    town, floors, ticket = leak
    for floor in (4, 5):
        resident = floors.residents[floor]
        seen = call(resident, "GetTicket", id=ticket["id"])
        assert seen["state"] == "RESOLVED" and seen["description"] == "Water is coming through the ceiling"
        assert seen["household_ids"] == [floors.households[floor]]
        assert [t["id"] for t in call(resident, "ListTickets", queue="MINE")["tickets"]] == [ticket["id"]]
        timeline = call(resident, "ListTicketTimeline", id=ticket["id"])["entries"]
        assert [entry["action"] for entry in timeline] == [
            "created", "triaged", "party_added", "party_added", "assigned", "started", "resolved"]
        assert [entry.get("note", "") for entry in timeline][-1] == "valve on floor 5 replaced"


def test_a_party_reads_nobody_elses_tags_accounts_or_staff_notes(leak):
    town, floors, ticket = leak
    staff_view = call(town.worker, "GetTicket", id=ticket["id"])
    assert staff_view["priority_raised_for"] == ["elderly", "living_alone"]
    assert "priority raised to HIGH for elderly, living_alone" in json.dumps(staff_view)
    party_view = call(floors.residents[4], "GetTicket", id=ticket["id"])
    text = json.dumps(party_view, ensure_ascii=False)
    for private in ("elderly", "living_alone", "86 and alone", "the source", town.elder["id"], "resident-li",
                    "worker-1", floors.households[5], town.household["id"]):
        assert private not in text, private
    assert {"priority_raised_for", "reporter_subject", "reporter_resident_id", "assignee_subject"}.isdisjoint(party_view)
    assert party_view.get("followers", []) == []


def test_a_household_not_on_the_case_and_a_false_claim_are_refused(leak):
    town, floors, ticket = leak
    not_found = rpc_error(lambda: call(floors.residents[6], "GetTicket", id=ticket["id"]))
    assert not_found.code() == grpc.StatusCode.NOT_FOUND
    assert call(floors.residents[6], "ListTickets", queue="MINE") == {}
    impostor = town.platform.client(tenant=town.tenant, role="resident", scope=(), subject="resident-601",
                                    household_id=floors.households[5])
    unbound = town.platform.client(tenant=town.tenant, role="resident", scope=(), subject="resident-999",
                                   household_id=floors.households[4])
    for client in (impostor, unbound):
        for method, body in (("GetTicket", {"id": ticket["id"]}), ("ListTickets", {"queue": "MINE"})):
            refused = rpc_error(lambda: call(client, method, **body))
            assert refused.code() == grpc.StatusCode.PERMISSION_DENIED, (method, refused.details())


def test_binding_an_account_names_a_resident_of_the_caller_s_scope(platform, unique):
    town = Town(platform, unique, prefix="bind")
    missing = rpc_error(lambda: town.operator.call(f"{RESIDENTS}/BindResidentAccount", {
        "resident_id": "nosuchresident", "subject": "resident-x"}))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    blank = rpc_error(lambda: town.operator.call(f"{RESIDENTS}/BindResidentAccount", {
        "resident_id": town.elder["id"], "subject": ""}))
    assert "subject" in field_violations(blank)
    denied = rpc_error(lambda: town.resident.call(f"{RESIDENTS}/BindResidentAccount", {
        "resident_id": town.elder["id"], "subject": "resident-li"}))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_resident_s_report_reaches_their_household_and_nearness_shows_nothing(platform, unique):
    town = Town(platform, unique, prefix="near")
    floors = Floors(platform, town, unique)
    mother = floors.residents[4]
    son_record = town.operator.call(f"{RESIDENTS}/CreateResident", {
        "household_id": floors.households[4], "display_name": "Son", "birth_date": "1990-05-01"})
    town.operator.call(f"{RESIDENTS}/BindResidentAccount", {"resident_id": son_record["id"], "subject": "son-401"})
    son = platform.client(tenant=town.tenant, role="resident", scope=(), subject="son-401",
                          household_id=floors.households[4])
    reported = mother.call(f"{TICKETS}/CreateTicket", {
        "kind": "REQUEST", "channel": "SELF_SERVICE", "category_id": town.category["id"],
        "node_id": floors.flats[4], "description": "Cold radiator", "extra": {"room": "kitchen"}})
    assert reported["household_ids"] == [floors.households[4]]
    assert call(son, "GetTicket", id=reported["id"])["description"] == "Cold radiator"
    assert [t["id"] for t in call(son, "ListTickets")["tickets"]] == [reported["id"]]

    by_staff = town.report(client=town.operator, channel="HOTLINE", description="Rubbish in the stairwell")
    flat_scoped = town.resident  # a resident token scoped to the flat, naming no household
    partner = platform.client(tenant=town.tenant, role="partner", scope=(town.ids["COMMUNITY"],), subject="clerk",
                              grants=("org:property-z",))
    for stranger in (flat_scoped, partner):
        assert rpc_error(lambda: call(stranger, "GetTicket", id=by_staff["id"])).code() == grpc.StatusCode.NOT_FOUND
        assert by_staff["id"] not in [t["id"] for t in call(stranger, "ListTickets").get("tickets", [])]
