"""Tickets through the real gateway, services, RabbitMQ and MongoDB/FerretDB: the catalogue,
the closed loop, queues, promised times, parties and figures."""
import base64
import threading
import uuid
from datetime import datetime, timedelta, timezone

import grpc
import pytest
import requests
from nameko.testing.services import worker_factory
from pymongo import MongoClient

from services.storage.records import WorkerWrites
from services.tickets.service import TicketsService
from services.tickets.store import TicketsRepository
from tests.conftest import required_env
from tests.support.errors import field_violations, rpc_error
from tests.support.events import EventTap
from tests.support.hierarchy import GRIDS, RESIDENTS
from tests.support.polling import eventually
from tests.support.town import PROMISES, TICKETS, Town

pytestmark = pytest.mark.integration


@pytest.fixture
def town(platform, unique):
    return Town(platform, unique)


@pytest.fixture
def tap(platform):
    events = EventTap(platform.amqp_uri, ["tickets"])
    yield events
    events.close()


def call(client, method, **body):
    return client.call(f"{TICKETS}/{method}", body)


def actions(ticket):
    return [entry["action"] for entry in ticket["timeline"]]


# Catalogue


def test_category_catalogue_and_its_bad_input(platform, town, unique):
    fetched = call(town.operator, "GetCategory", id=town.category["id"])
    assert fetched["name"] == "Heating" and fetched["routing"] == {"assignee_kind": "GRID_WORKER"}
    assert [f["name"] for f in fetched["extra_fields"]] == ["room", "temperature", "urgent_medical"]
    listed = call(town.resident, "ListCategories")
    assert [c["id"] for c in listed["categories"]] == [town.category["id"]]
    taken = rpc_error(lambda: call(town.operator, "CreateCategory", name="Heating", promises=PROMISES,
                                   routing={"assignee_kind": "GRID_WORKER"}))
    assert taken.code() == grpc.StatusCode.ALREADY_EXISTS
    for body, field in [
        ({"promises": [PROMISES[1]], "routing": {"assignee_kind": "GRID_WORKER"}}, "promises"),
        ({"promises": PROMISES, "routing": {"assignee_kind": "ORGANISATION"}}, "routing.organisation_id"),
        ({"promises": PROMISES}, "routing"),
        ({"promises": PROMISES, "routing": {"assignee_kind": "GRID_WORKER"},
          "extra_fields": [{"name": "Bad Name", "type": "STRING"}]}, "extra_fields.0.name"),
    ]:
        error = rpc_error(lambda: call(town.operator, "CreateCategory", name=f"Lift {unique}", **body))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, body
        assert field in field_violations(error), (body, field_violations(error))
    assert platform.database("tickets").categories.count_documents({"tenant": town.tenant}) == 1
    assert rpc_error(lambda: call(town.worker, "CreateCategory", name="x", promises=PROMISES, routing={
        "assignee_kind": "GRID_WORKER"})).code() == grpc.StatusCode.PERMISSION_DENIED


# Collect


def test_vulnerable_reporter_raises_priority_and_create_is_idempotent(town, unique):
    first = town.report(request_id=f"{unique}-r1", reporter_resident_id=town.elder["id"])
    again = town.report(request_id=f"{unique}-r1", reporter_resident_id=town.elder["id"], description="other")
    assert again == first
    assert town.tickets().count_documents({"tenant": town.tenant}) == 1
    assert first["priority"] == "HIGH"
    assert first["priority_raised_for"] == ["elderly", "living_alone"]
    assert first["state"] == "SUBMITTED" and first["reporter_subject"] == "resident-li"
    assert first["path"][-1] == town.ids["FLAT"] and first["path"][3] == town.ids["GRID"]
    assert first["building_id"] == town.ids["BUILDING"]
    assert first["clock"]["stage"] == "FIRST_RESPONSE" and first["clock"]["level"] == "GRID"
    due = datetime.fromisoformat(first["clock"]["due_at"].replace("Z", "+00:00"))
    created = datetime.fromisoformat(first["create_time"].replace("Z", "+00:00"))
    assert timedelta(minutes=14) < due - created <= timedelta(minutes=15)  # HIGH's promise, not NORMAL's
    assert first["extra"] == {"room": "bedroom", "temperature": 12}
    plain = town.report(client=town.worker, channel="ON_BEHALF_OF_RESIDENT", description="Corridor light")
    assert plain["priority"] == "NORMAL" and "priority_raised_for" not in plain


def test_bad_ticket_input_is_a_clear_error_and_writes_nothing(platform, unique):
    town = Town(platform, unique, prefix="tkbad")
    stranger_town = Town(platform, f"{unique}x", prefix="tkother")
    cases = [
        ({"category_id": "nosuchcategory"}, grpc.StatusCode.INVALID_ARGUMENT, "category_id"),
        ({"extra": {"temperature": 12}}, grpc.StatusCode.INVALID_ARGUMENT, "extra.room"),
        ({"extra": {"room": "hall", "temperature": "cold"}}, grpc.StatusCode.INVALID_ARGUMENT,
         "extra.temperature"),
        ({"extra": {"room": "hall", "colour": "red"}}, grpc.StatusCode.INVALID_ARGUMENT, "extra.colour"),
        ({"extra": {"room": "hall", "urgent_medical": "yes"}}, grpc.StatusCode.INVALID_ARGUMENT,
         "extra.urgent_medical"),
        ({"reporter_resident_id": stranger_town.elder["id"]}, grpc.StatusCode.INVALID_ARGUMENT,
         "reporter_resident_id"),
        ({"node_id": stranger_town.ids["FLAT"]}, grpc.StatusCode.NOT_FOUND, "node_id"),
        ({"channel": "HOTLINE"}, grpc.StatusCode.INVALID_ARGUMENT, "channel"),
        ({"description": ""}, grpc.StatusCode.INVALID_ARGUMENT, "description"),
        ({"location": {"latitude": 91, "longitude": 121.47}}, grpc.StatusCode.INVALID_ARGUMENT, "location.latitude"),
        ({"location": {"latitude": 31.23, "longitude": -180.5}}, grpc.StatusCode.INVALID_ARGUMENT,
         "location.longitude"),
        ({"location": {"latitude": "NaN", "longitude": 121.47}}, grpc.StatusCode.INVALID_ARGUMENT,
         "location.latitude"),
    ]
    for overrides, code, field in cases:
        error = rpc_error(lambda: town.report(**overrides))
        assert error.code() == code, overrides
        assert field in field_violations(error), (overrides, field_violations(error))
    assert town.tickets().count_documents({"tenant": town.tenant}) == 0


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==")


def test_a_report_keeps_where_the_reporter_pointed(town, unique):
    ticket = town.report(request_id=f"{unique}-map", location={"latitude": 31.2304, "longitude": 121.4737})
    assert ticket["location"] == {"latitude": 31.2304, "longitude": 121.4737}
    assert call(town.worker, "GetTicket", id=ticket["id"])["location"] == ticket["location"]
    assert "location" not in town.report(request_id=f"{unique}-no-map")


def test_a_report_keeps_its_photos_for_whoever_may_read_the_ticket(platform, town, unique):
    photo = {"content_type": "image/png", "data": base64.b64encode(PNG).decode()}
    ticket = town.report(request_id=f"{unique}-photo", photos=[photo])
    jpeg = {"content_type": "image/jpeg", "data": base64.b64encode(b"\xff\xd8\xff\xe0 another").decode()}
    assert town.report(request_id=f"{unique}-photo", photos=[jpeg])["photos"] == ticket["photos"]  # a repeat
    [reference] = ticket["photos"]
    assert (reference["content_type"], int(reference["size"])) == ("image/png", len(PNG))
    for reader in (town.resident, town.worker):
        shown = call(reader, "GetTicketPhoto", ticket_id=ticket["id"], photo_id=reference["id"])
        assert base64.b64decode(shown["data"]) == PNG and shown["content_type"] == "image/png"
    next_door = town.operator.call(f"{GRIDS}/CreateFlat", {
        "building_id": town.ids["BUILDING"], "unit": "1", "floor": 3, "number": "302", "occupancy": "RENTED"})
    stranger = platform.client(tenant=town.tenant, role="resident", scope=(next_door["id"],), subject="resident-zhao")
    for reader, ticket_id, photo_id in ((stranger, ticket["id"], reference["id"]),
                                        (town.resident, ticket["id"], "not-a-photo")):
        refused = rpc_error(lambda: call(reader, "GetTicketPhoto", ticket_id=ticket_id, photo_id=photo_id))
        assert refused.code() == grpc.StatusCode.NOT_FOUND
    assert platform.database("tickets").ticket_photos.count_documents({"tenant": town.tenant}) == 1


@pytest.mark.parametrize("photos, field", [
    ([{"content_type": "image/jpeg", "data": base64.b64encode(PNG).decode()}], "photos.0.data"),
    ([{"content_type": "image/png", "data": base64.b64encode(b"GIF89a....").decode()}], "photos.0.data"),
    ([{"content_type": "image/gif", "data": base64.b64encode(PNG).decode()}], "photos.0.content_type"),
    ([{"content_type": "image/png", "data": base64.b64encode(PNG).decode()}] * 4, "photos"),
])
def test_a_photo_that_is_not_what_it_says_is_refused_and_nothing_is_kept(platform, town, photos, field):
    error = rpc_error(lambda: town.report(photos=photos))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field in field_violations(error)
    assert town.tickets().count_documents({"tenant": town.tenant}) == 0
    assert platform.database("tickets").ticket_photos.count_documents({"tenant": town.tenant}) == 0


# The loop


def test_closed_loop_with_timeline_permissions_and_events(platform, town, tap):
    ticket = town.report(reporter_resident_id=town.elder["id"])
    ticket_id = ticket["id"]
    not_assigned = rpc_error(lambda: call(town.worker, "StartTicket", id=ticket_id))
    assert not_assigned.code() == grpc.StatusCode.PERMISSION_DENIED
    triaged = call(town.worker, "TriageTicket", id=ticket_id, decision="ACCEPT", note="on it")
    assert triaged["state"] == "TRIAGED" and triaged["clock"]["stage"] == "RESOLUTION"
    assert "first_response_time" in triaged
    twice = rpc_error(lambda: call(town.worker, "TriageTicket", id=ticket_id, decision="ACCEPT"))
    assert twice.code() == grpc.StatusCode.FAILED_PRECONDITION
    assigned = call(town.worker, "AssignTicket", id=ticket_id)  # a grid worker takes it
    assert assigned["state"] == "ASSIGNED" and assigned["assignee_subject"] == "worker-1"
    stranger = rpc_error(lambda: call(town.other_worker, "StartTicket", id=ticket_id))
    assert stranger.code() == grpc.StatusCode.PERMISSION_DENIED
    early = rpc_error(lambda: call(town.worker, "ResolveTicket", id=ticket_id, resolution="x"))
    assert early.code() == grpc.StatusCode.FAILED_PRECONDITION
    before = town.tickets().find_one({"_id": ticket_id})
    assert before["state"] == "ASSIGNED"
    call(town.worker, "StartTicket", id=ticket_id, note="with the property company")
    resolved = call(town.worker, "ResolveTicket", id=ticket_id, resolution="valve replaced")
    assert resolved["state"] == "RESOLVED" and "clock" not in resolved
    not_reporter = rpc_error(lambda: call(town.worker, "SubmitTicketFeedback", id=ticket_id, satisfaction=5))
    assert not_reporter.code() == grpc.StatusCode.PERMISSION_DENIED
    out_of_range = rpc_error(lambda: call(town.resident, "SubmitTicketFeedback", id=ticket_id, satisfaction=7))
    assert out_of_range.code() == grpc.StatusCode.INVALID_ARGUMENT
    happy = call(town.resident, "SubmitTicketFeedback", id=ticket_id, satisfaction=5, comment="warm again")
    assert happy["state"] == "FEEDBACK" and happy["feedback"]["satisfaction"] == 5
    closed = call(town.worker, "CloseTicket", id=ticket_id, closing_reason="FIXED")
    assert closed["state"] == "CLOSED" and closed["closing_reason"] == "FIXED"
    assert actions(closed) == ["created", "triaged", "assigned", "started", "resolved", "feedback_given", "closed"]
    assert [e["actor"] for e in closed["timeline"]] == ["resident-li", "worker-1", "worker-1", "worker-1",
                                                        "worker-1", "resident-li", "worker-1"]
    assert closed["timeline"][1] == {**closed["timeline"][1], "from_state": "SUBMITTED", "to_state": "TRIAGED",
                                     "note": "on it"}
    timeline = call(town.resident, "ListTicketTimeline", id=ticket_id)
    assert timeline["entries"] == closed["timeline"]
    wanted = [f"civicgrid.tickets.ticket.{a}.v1" for a in
              ("created", "triaged", "assigned", "started", "resolved", "feedback_given", "closed")]
    # Delivery is at least once (a relayed event keeps its id): events count by distinct id.
    events = tap.drain(town.tenant, dict.fromkeys(wanted, 1))
    assert [e["type"] for e in events] == wanted
    assert events[-1]["data"]["previous_state"] == "FEEDBACK" and events[-1]["data"]["closing_reason"] == "FIXED"
    assert all(e["subject"] == f"tickets/{ticket_id}" for e in events)


def test_wrong_transition_changes_nothing_and_races_transition_once(platform, town):
    ticket = town.report()
    before = town.tickets().find_one({"_id": ticket["id"]})
    error = rpc_error(lambda: call(town.worker, "CloseTicket", id=ticket["id"], closing_reason="FIXED"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert town.tickets().find_one({"_id": ticket["id"]}) == before
    outcomes = []

    def triage(decision):
        try:
            call(town.worker, "TriageTicket", id=ticket["id"], decision=decision, reason="not ours")
            outcomes.append("ok")
        except grpc.RpcError as exc:
            outcomes.append(exc.code())

    racers = [threading.Thread(target=triage, args=(d,)) for d in ("ACCEPT", "REJECT") * 3]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert outcomes.count("ok") == 1
    assert set(outcomes) - {"ok"} == {grpc.StatusCode.FAILED_PRECONDITION}
    after = town.tickets().find_one({"_id": ticket["id"]})
    assert len(after["timeline"]) == 2 and after["version"] == 1


def test_low_score_reopens_with_a_call_back_and_reporter_can_reopen(town):
    ticket = town.report()
    for method, body in [("TriageTicket", {"decision": "ACCEPT"}), ("AssignTicket", {}), ("StartTicket", {}),
                         ("ResolveTicket", {"resolution": "bled the radiator"})]:
        call(town.worker, method, id=ticket["id"], **body)
    unhappy = call(town.resident, "SubmitTicketFeedback", id=ticket["id"], satisfaction=2, comment="still cold")
    assert unhappy["state"] == "ASSIGNED" and unhappy["callback_requested"] is True
    assert unhappy["clock"]["stage"] == "RESOLUTION"
    assert actions(unhappy)[-2:] == ["feedback_given", "reopened"]
    assert unhappy["timeline"][-1]["from_state"] == "FEEDBACK"
    call(town.worker, "StartTicket", id=ticket["id"])
    resolved = call(town.worker, "ResolveTicket", id=ticket["id"], resolution="new valve")
    assert "callback_requested" not in resolved  # proto3 leaves out false
    reopened = call(town.resident, "ReopenTicket", id=ticket["id"], reason="cold again at night")
    assert reopened["state"] == "ASSIGNED" and actions(reopened)[-1] == "reopened"


def test_rejection_duplicates_and_closing_reasons(town):
    original = town.report(description="Leak from above")
    copy = town.report(description="Leak in kitchen ceiling")
    stray = town.report(description="Noise from the road")
    missing = rpc_error(lambda: call(town.worker, "TriageTicket", id=stray["id"], decision="REJECT"))
    assert missing.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in field_violations(missing)
    rejected = call(town.worker, "TriageTicket", id=stray["id"], decision="REJECT", reason="city road works")
    assert rejected["state"] == "REJECTED" and rejected["rejection_reason"] == "city road works"
    unreferred = rpc_error(lambda: call(town.worker, "CloseTicket", id=stray["id"],
                                        closing_reason="NOT_OUR_RESPONSIBILITY"))
    assert "referred_to" in field_violations(unreferred)
    wrong_reason = rpc_error(lambda: call(town.worker, "CloseTicket", id=stray["id"], closing_reason="FIXED"))
    assert "closing_reason" in field_violations(wrong_reason)
    closed = call(town.worker, "CloseTicket", id=stray["id"], closing_reason="NOT_OUR_RESPONSIBILITY",
                  referred_to="city roads department")
    assert closed["referred_to"] == "city roads department"
    duplicate = call(town.worker, "TriageTicket", id=copy["id"], decision="MARK_DUPLICATE",
                     duplicate_of=original["id"])
    assert duplicate["state"] == "DUPLICATE" and duplicate["duplicate_of"] == original["id"]
    assert call(town.worker, "CloseTicket", id=copy["id"], closing_reason="DUPLICATE_REPORT")["state"] == "CLOSED"
    unknown = rpc_error(lambda: call(town.worker, "TriageTicket", id=original["id"], decision="MARK_DUPLICATE",
                                     duplicate_of="nosuchticket"))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    assert town.tickets().find_one({"_id": original["id"]})["state"] == "SUBMITTED"


# Queues


def test_queues_mine_scope_filters_overdue_first_and_pages(platform, town, unique):
    other_grid = town.operator.call(f"{GRIDS}/CreateNode", {"kind": "GRID", "display_name": "Far grid",
                                                            "parent_id": town.ids["COMMUNITY"]})
    far = town.report(client=town.operator, channel="HOTLINE", node_id=other_grid["id"])
    mine = [town.report() for _ in range(4)]
    call(town.worker, "TriageTicket", id=mine[0]["id"], decision="ACCEPT")
    call(town.worker, "AssignTicket", id=mine[0]["id"])
    overdue_moment = datetime.now(timezone.utc) - timedelta(days=1)
    town.tickets().update_one({"_id": mine[3]["id"]}, {"$set": {
        "queue_due": overdue_moment, "clock.missed_notified": True, "clock.approaching_notified": True,
        "clock.level": "STREET", "level": "STREET", "clock.due_at": overdue_moment}})
    read_by_id(town, mine[3])
    pages, token = [], ""
    while True:
        page = call(town.worker, "ListTickets", page_size=2, page_token=token)
        pages.append([t["id"] for t in page["tickets"]])
        token = page.get("next_page_token", "")
        if not token:
            break
    listed = [ticket_id for page in pages for ticket_id in page]
    assert sorted(listed) == sorted(t["id"] for t in mine) and far["id"] not in listed
    assert listed[0] == mine[3]["id"]  # overdue first
    assert all(len(page) <= 2 for page in pages) and len(pages) == 2
    assert [t["id"] for t in call(town.worker, "ListTickets", queue="MINE")["tickets"]] == [mine[0]["id"]]
    assert len(call(town.resident, "ListTickets", queue="MINE")["tickets"]) == 4
    assigned = call(town.operator, "ListTickets", states=["ASSIGNED"], category_id=town.category["id"])
    assert [t["id"] for t in assigned["tickets"]] == [mine[0]["id"]]
    assert "timeline" not in assigned["tickets"][0]
    by_node = call(town.operator, "ListTickets", node_id=other_grid["id"], kind="REQUEST")
    assert [t["id"] for t in by_node["tickets"]] == [far["id"]]
    assert call(town.operator, "ListTickets", priority="URGENT") == {}
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert call(town.operator, "ListTickets", created_after=future) == {}
    assert rpc_error(lambda: call(town.operator, "ListTickets", page_token="%%%")).code() == \
        grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error(lambda: call(town.worker, "GetTicket", id=far["id"])).code() == grpc.StatusCode.NOT_FOUND


def test_a_transition_moves_the_ticket_in_the_queue_at_once_and_figures_follow(town):
    first, second, third = (town.report(description=f"queue {number}") for number in range(3))

    def in_queue():
        return [t["id"] for t in call(town.worker, "ListTickets", node_id=town.ids["FLAT"])["tickets"]]
    assert in_queue() == [first["id"], second["id"], third["id"]]
    call(town.worker, "TriageTicket", id=first["id"], decision="ACCEPT")  # on to the longer resolution clock
    assert in_queue() == [second["id"], third["id"], first["id"]]
    triaged = call(town.worker, "ListTickets", node_id=town.ids["FLAT"], states=["TRIAGED"])["tickets"]
    assert [t["id"] for t in triaged] == [first["id"]]
    today = datetime.now(timezone.utc)
    figures = call(town.operator, "GetTicketFigures", node_id=town.ids["FLAT"],
                   start_time=(today - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   end_time=(today + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert figures["total"] == 3 and figures["first_response"]["count"] == 1
    assert {(c["state"], c["count"]) for c in figures["counts"]} == {("SUBMITTED", 2), ("TRIAGED", 1)}


# Promised times


def read_by_id(town, ticket):
    """The service's queue index learns a ticket's changes from its writes and events; a write
    behind its back, as these tests make to stand in for time passing, is learnt when the
    service next reads the ticket by id."""
    assert call(town.operator, "GetTicket", id=ticket["id"])["id"] == ticket["id"]


def test_deadlines_are_announced_once_and_escalate_with_a_new_clock(platform, town, tap):
    ticket = town.report()
    past = datetime.now(timezone.utc) - timedelta(seconds=5)
    town.tickets().update_one({"_id": ticket["id"]}, {"$set": {"clock.warn_at": past}})
    read_by_id(town, ticket)
    warned = eventually(lambda: town.tickets().find_one({"_id": ticket["id"], "clock.approaching_notified": True}),
                        timeout=40, interval=0.3)
    assert warned
    assert warned["clock"]["level"] == "GRID"
    # The flag is set again with the clock: FerretDB v1 may lose one of two concurrent updates, and
    # this write (standing in for time passing) must not undo the service's.
    town.tickets().update_one({"_id": ticket["id"]}, {"$set": {"clock.due_at": past, "queue_due": past,
                                                               "clock.approaching_notified": True}})
    read_by_id(town, ticket)
    escalated = eventually(lambda: town.tickets().find_one({"_id": ticket["id"], "level": "COMMUNITY"}),
                           timeout=40, interval=0.3)
    assert escalated
    assert escalated["clock"]["stage"] == "FIRST_RESPONSE" and escalated["clock"]["missed_notified"] is False
    new_due = escalated["clock"]["due_at"].replace(tzinfo=timezone.utc)
    assert new_due - datetime.now(timezone.utc) > timedelta(minutes=55)
    wanted = ["civicgrid.tickets.ticket.deadline_approaching.v1", "civicgrid.tickets.ticket.deadline_missed.v1",
              "civicgrid.tickets.ticket.escalated.v1"]
    events = tap.drain(town.tenant, dict.fromkeys(wanted, 1))
    assert [e["type"] for e in events if e["type"] in wanted] == wanted
    shown = call(town.worker, "GetTicket", id=ticket["id"])
    assert actions(shown) == ["created", "deadline_approaching", "deadline_missed", "escalated"]
    assert shown["timeline"][-1]["actor"] == "system"
    # Through the gateway, the service's own steps carry what a client words in its reader's language.
    assert shown["timeline"][2]["details"] == {"stage": "FIRST_RESPONSE", "level": "GRID",
                                               "due_at": shown["timeline"][2]["details"]["due_at"]}
    assert shown["timeline"][3]["details"] == {"reason": "deadline_missed", "level": "COMMUNITY"}
    by_hand = call(town.worker, "EscalateTicket", id=ticket["id"], reason="needs the community")
    assert by_hand["clock"]["level"] == "STREET"
    top = rpc_error(lambda: call(town.worker, "EscalateTicket", id=ticket["id"], reason="again"))
    assert top.code() == grpc.StatusCode.FAILED_PRECONDITION
    gauges = requests.get(platform.metrics_url("tickets"), timeout=5).text
    assert 'civicgrid_tickets_open{state="SUBMITTED"}' in gauges and "civicgrid_tickets_overdue " in gauges


@pytest.fixture
def tickets_on_the_store():
    """The tickets service over a real repository in a database of its own, its other services
    replaced; what it writes stays in the tickets' outboxes, as nothing publishes them."""
    client = MongoClient(required_env("MONGO_URI"), tz_aware=True)
    database = client[f"tickets_{uuid.uuid4().hex[:8]}"]
    repository = TicketsRepository(database)
    repository.ensure_indexes()
    service = worker_factory(TicketsService, store=repository.for_worker(WorkerWrites(outbox=None)))
    service.grids.place.return_value = {"id": "f1", "path": ["c1", "g1", "b1", "f1"], "building_id": "b1"}
    yield service, database.tickets
    client.drop_database(database.name)


def test_each_deadline_is_announced_once_whatever_the_timer_rounds(tickets_on_the_store):
    service, tickets = tickets_on_the_store
    operator = {"subject": "operator-1", "tenant": "t1", "role": "city_operator", "scope": ["*"]}
    category = service.create_category(operator, {"name": "Heating", "promises": PROMISES,
                                                  "routing": {"assignee_kind": "GRID_WORKER"}})
    ticket = service.create_ticket(operator, {"kind": "REQUEST", "channel": "HOTLINE", "category_id": category["id"],
                                              "node_id": "f1", "description": "The radiator is cold"})
    past = datetime.now(timezone.utc) - timedelta(seconds=5)

    def announced():
        stored = tickets.find_one({"_id": ticket["id"]})
        return [entry["action"] for entry in stored["timeline"]], [event["type"] for event in stored["outbox"]]

    def as_time_passes(changes):
        """Stands in for time passing; the service learns of the change as from the ticket's event."""
        tickets.update_one({"_id": ticket["id"]}, {"$set": changes})
        service.store.mirror_ticket(ticket["id"], "time-passed")

    as_time_passes({"clock.warn_at": past})
    service.watch_deadlines()
    as_time_passes({"clock.due_at": past, "queue_due": past})
    service.watch_deadlines()
    once = announced()
    assert once == (["created", "deadline_approaching", "deadline_missed", "escalated"],
                    ["civicgrid.tickets.ticket.created.v1", "civicgrid.tickets.ticket.deadline_approaching.v1",
                     "civicgrid.tickets.ticket.deadline_missed.v1", "civicgrid.tickets.ticket.escalated.v1"])
    service.watch_deadlines()
    service.watch_deadlines()
    assert announced() == once


def test_clock_pauses_with_a_reason_and_resumes_with_what_was_left(town):
    ticket = town.report()
    call(town.worker, "TriageTicket", id=ticket["id"], decision="ACCEPT")
    call(town.worker, "AssignTicket", id=ticket["id"])
    not_assignee = rpc_error(lambda: call(town.other_worker, "PauseTicketClock", id=ticket["id"], reason="x"))
    assert not_assignee.code() == grpc.StatusCode.PERMISSION_DENIED
    paused = call(town.worker, "PauseTicketClock", id=ticket["id"], reason="waiting for the resident")
    assert paused["clock"]["paused"] is True and paused["clock"]["pause_reason"] == "waiting for the resident"
    assert 239 * 60 <= int(paused["clock"]["remaining_seconds"]) <= 240 * 60
    assert town.tickets().find_one({"_id": ticket["id"]})["queue_due"].year == 9999
    again = rpc_error(lambda: call(town.worker, "PauseTicketClock", id=ticket["id"], reason="x"))
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
    resumed = call(town.worker, "ResumeTicketClock", id=ticket["id"], note="resident is back")
    assert "paused" not in resumed["clock"]  # proto3 leaves out false
    due = datetime.fromisoformat(resumed["clock"]["due_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=238) < due - datetime.now(timezone.utc) <= timedelta(minutes=240)
    assert actions(resumed)[-2:] == ["clock_paused", "clock_resumed"]


# Several parties and following


def test_parties_see_the_ticket_and_neighbours_follow_instead_of_reporting_again(platform, town, unique):
    ticket = town.report(description="Water through the kitchen ceiling")
    upstairs_flat = town.operator.call(f"{GRIDS}/CreateFlat", {"building_id": town.ids["BUILDING"], "unit": "1",
                                                              "floor": 5, "number": "501"})
    upstairs = town.operator.call(f"{RESIDENTS}/CreateHousehold", {"flat_id": upstairs_flat["id"],
                                                                  "display_name": "Zhao family"})
    with_household = call(town.worker, "AddTicketParty", id=ticket["id"], household_id=upstairs["id"])
    assert with_household["household_ids"] == [upstairs["id"]]
    bad_household = rpc_error(lambda: call(town.worker, "AddTicketParty", id=ticket["id"],
                                           household_id="nosuchhousehold"))
    assert "household_id" in field_violations(bad_household)
    for company in ("property-a", "property-b"):
        call(town.worker, "AddTicketParty", id=ticket["id"], organisation_id=company)
    company_b = platform.client(tenant=town.tenant, role="partner", subject="clerk-b", grants=("org:property-b",))
    queue = call(company_b, "ListTickets", queue="ORGANISATION_QUEUE", organisation_id="property-b")
    assert [t["id"] for t in queue["tickets"]] == [ticket["id"]]
    assert [t["id"] for t in call(company_b, "ListTickets", queue="MINE")["tickets"]] == [ticket["id"]]
    assert call(company_b, "GetTicket", id=ticket["id"])["organisation_ids"] == ["property-a", "property-b"]
    denied = rpc_error(lambda: call(company_b, "ListTickets", queue="ORGANISATION_QUEUE",
                                    organisation_id="property-a"))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    call(town.worker, "TriageTicket", id=ticket["id"], decision="ACCEPT")
    to_company = call(town.worker, "AssignTicket", id=ticket["id"], organisation_id="property-b")
    assert to_company["assignee_organisation_id"] == "property-b"
    assert call(company_b, "StartTicket", id=ticket["id"])["state"] == "IN_PROGRESS"
    neighbour = platform.client(tenant=town.tenant, role="resident", scope=(upstairs_flat["id"],),
                                subject="resident-zhao")
    similar = call(neighbour, "ListSimilarTickets", node_id=upstairs_flat["id"], category_id=town.category["id"])
    assert [t["id"] for t in similar["tickets"]] == [ticket["id"]]
    assert "timeline" not in similar["tickets"][0] and "reporter_subject" not in similar["tickets"][0]
    followed = call(neighbour, "FollowTicket", id=ticket["id"])
    assert followed["followers"] == ["resident-zhao"]
    assert call(neighbour, "FollowTicket", id=ticket["id"])["followers"] == ["resident-zhao"]
    assert [t["id"] for t in call(neighbour, "ListTickets", queue="MINE")["tickets"]] == [ticket["id"]]
    elsewhere = Town(platform, f"{unique}e", prefix="tkfar")
    outsider = platform.client(tenant=town.tenant, role="resident", scope=(elsewhere.ids["FLAT"],),
                               subject="resident-far")
    assert rpc_error(lambda: call(outsider, "FollowTicket", id=ticket["id"])).code() == grpc.StatusCode.NOT_FOUND


# Figures


def test_figures_on_known_data(platform, unique):
    town = Town(platform, unique, prefix="tkfig")
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    # (state, minutes to first response, minutes to resolution, satisfaction, overdue)
    known = [("CLOSED", 10, 100, 5, False), ("CLOSED", 20, 200, 4, False), ("FEEDBACK", 30, 300, 3, False),
             ("RESOLVED", 40, 400, None, False), ("ASSIGNED", 50, None, None, True),
             ("SUBMITTED", None, None, None, False)]
    for number, (state, responded, resolved, score, overdue) in enumerate(known):
        ticket = town.report(description=f"known {number}")
        created = start + timedelta(days=number)
        changes = {"state": state, "create_time": created, "clock.missed_notified": True,
                   "queue_due": created if overdue else datetime(9999, 12, 31, tzinfo=timezone.utc)}
        if overdue:
            changes["clock.due_at"] = created
        if responded is not None:
            changes["first_response_time"] = created + timedelta(minutes=responded)
        if resolved is not None:
            changes["resolve_time"] = created + timedelta(minutes=resolved)
        if score is not None:
            changes["feedback"] = {"satisfaction": score, "comment": "", "time": created}
        town.tickets().update_one({"_id": ticket["id"]}, {"$set": changes})
        # Figures are counted from the service's queue index, which learns of a change made
        # behind the service's back when the service next writes the ticket.
        call(town.operator, "FollowTicket", id=ticket["id"])
    outside = town.report(description="outside the period")
    town.tickets().update_one({"_id": outside["id"]}, {"$set": {"create_time": start - timedelta(days=1)}})
    figures = call(town.operator, "GetTicketFigures", node_id=town.ids["GRID"],
                   start_time="2026-01-01T00:00:00Z", end_time="2026-02-01T00:00:00Z")
    assert figures["total"] == 6
    assert {(c["state"], c["count"]) for c in figures["counts"]} == {
        ("CLOSED", 2), ("FEEDBACK", 1), ("RESOLVED", 1), ("ASSIGNED", 1), ("SUBMITTED", 1)}
    assert figures["completion_rate"] == pytest.approx(4 / 6)
    assert figures["first_response"] == {"count": 5, "median_minutes": 30, "p90_minutes": 50}
    assert figures["resolution"] == {"count": 4, "median_minutes": 250, "p90_minutes": 400}
    assert figures["satisfaction_average"] == pytest.approx(4.0) and figures["satisfaction_count"] == 3
    assert figures["overdue_count"] == 1
    elsewhere = call(town.operator, "GetTicketFigures", node_id=town.ids["GRID"],
                     start_time="2025-01-01T00:00:00Z", end_time="2025-02-01T00:00:00Z")
    assert elsewhere["node_id"] == town.ids["GRID"] and "total" not in elsewhere
    backwards = rpc_error(lambda: call(town.operator, "GetTicketFigures", start_time="2026-02-01T00:00:00Z",
                                       end_time="2026-01-01T00:00:00Z"))
    assert "end_time" in field_violations(backwards)
