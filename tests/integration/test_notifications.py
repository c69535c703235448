"""Notifications and partner subscriptions through the real gateway, RabbitMQ and FerretDB."""
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import grpc
import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection, Exchange
from nameko.testing.services import worker_factory
from standardwebhooks import Webhook

from services.events import envelope
from services.notifications.catalog import load_contracts
from services.notifications.inbox import notice_message
from services.notifications.service import NotificationsService
from services.notifications.store import UNREAD_COUNTED_UP_TO, NotificationsRepository
from services.storage import new_id, now
from services.storage.ageing import SWEEP_SECONDS
from services.storage.repository import HANDLED_MARK_BUCKET_SECONDS, PUBLISHED_MARK_BUCKET_SECONDS
from tests.support.errors import field_violations, rpc_error
from tests.support.hierarchy import add_residents, build_hierarchy
from tests.support.partners import organisation_grant, partner_connection, remove_partner_users
from tests.support.polling import eventually

pytestmark = pytest.mark.integration
load_contracts()
GRIDS = "civicgrid.grids.v1.Grids"
RESIDENTS = "civicgrid.residents.v1.Residents"
NOTIFICATIONS = "civicgrid.notifications.v1.Notifications"
ASSIGNED = "civicgrid.tickets.ticket.assigned.v1"
RESIDENT_REGISTERED = "civicgrid.residents.resident.registered.v1"


def publish(platform, service, event, times=1):
    """Publishes an envelope the way Nameko's event dispatcher does; `times` > 1 is a redelivery."""
    with Connection(platform.amqp_uri) as connection:
        producer = connection.Producer()
        exchange = Exchange(f"{service}.events", type="topic", durable=True)
        for _ in range(times):
            producer.publish(event, exchange=exchange, routing_key=event["type"], serializer="json",
                             declare=[exchange])


def assignment(tenant, assignee, path):
    """A tickets event as the tickets service will publish it (no contract registered yet)."""
    return {"specversion": "1.0", "id": new_id(), "source": "/civicgrid/tickets", "type": ASSIGNED,
            "time": "2026-01-01T00:00:00.000000Z", "subject": "tickets/t1", "tenant": tenant,
            "datacontenttype": "application/json",
            "data": {"id": "t1", "kind": "REQUEST", "priority": "URGENT", "note": "Cold radiator",
                     "assignee_subject": assignee, "path": path}}


@pytest.fixture(scope="module", autouse=True)
def partner_users(platform):
    yield
    remove_partner_users(platform)


def logged(platform, event_id):
    return platform.database("notifications").event_log.find_one({"_id": event_id})


def scratch_repository(platform, unique):
    """The notifications store in a database of this test's own."""
    repository = NotificationsRepository(platform.database(f"scratch_{unique}"))
    repository.ensure_indexes()
    return repository


def driven(repository):
    """The service's entrypoints to call directly, on `repository`: its timers and consumer
    run when the test says, so a second round is seen to do nothing."""
    return worker_factory(NotificationsService, store=repository)


def test_every_event_is_logged_once_with_increasing_positions(platform, unique):
    tenant = f"log-{unique}"
    ids = build_hierarchy(platform.client(tenant=tenant), unique)
    log = platform.database("notifications").event_log
    entries = eventually(lambda: (found := list(log.find({"tenant": tenant}).sort("position", 1)))
                         and len(found) == 6 and found, timeout=20)
    assert entries
    assert [e["type"] for e in entries] == ["civicgrid.grids.node.created.v1"] * 5 + ["civicgrid.grids.flat.created.v1"]
    assert [e["event"]["data"]["id"] for e in entries[:5]] == [ids[k] for k in ("CITY", "STREET", "COMMUNITY",
                                                                                "GRID", "BUILDING")]
    positions = [e["position"] for e in entries]
    assert positions == sorted(set(positions))

    redelivered = entries[0]["event"]
    publish(platform, "grids", redelivered, times=2)
    marker = assignment(tenant, "nobody", [])
    publish(platform, "tickets", marker)
    assert eventually(lambda: logged(platform, marker["id"]), timeout=20)
    assert log.count_documents({"_id": redelivered["id"]}) == 1
    assert logged(platform, redelivered["id"])["position"] == positions[0]


def test_an_event_delivered_twice_reaches_the_inbox_once(platform, unique):
    tenant = f"inbox-{unique}"
    assignee = f"worker-{unique}"
    event = assignment(tenant, assignee, ["c1", "g1"])
    publish(platform, "tickets", event, times=2)
    worker = platform.client(tenant=tenant, role="grid_worker", scope=("g1",), subject=assignee)
    inbox = eventually(lambda: (page := worker.call(f"{NOTIFICATIONS}/ListInbox", {})).get("messages") and page,
                       timeout=20)
    assert inbox
    assert len(inbox["messages"]) == 1 and inbox["unread_count"] == 1
    message = inbox["messages"][0]
    assert message["event_id"] == event["id"] and message["event_type"] == ASSIGNED
    assert "Cold radiator" in message["body"] and message["urgent"] is True
    assert platform.database("notifications").inbox.count_documents({"origin": event["id"]}) == 1

    someone_else = platform.client(tenant=tenant, role="grid_worker", subject=f"other-{unique}")
    assert someone_else.call(f"{NOTIFICATIONS}/ListInbox", {}) == {}
    assert someone_else.call(f"{NOTIFICATIONS}/MarkRead", {"message_ids": [message["id"]]}) == {}

    marked = worker.call(f"{NOTIFICATIONS}/MarkRead", {"message_ids": [message["id"]]})
    assert marked == {"marked": 1}
    assert worker.call(f"{NOTIFICATIONS}/ListInbox", {"unread_only": True}) == {}
    assert worker.call(f"{NOTIFICATIONS}/ListInbox", {})["messages"][0]["read_time"]


def test_unread_messages_are_counted_up_to_a_hundred_and_read_ones_leave_the_count(platform, unique):
    repository = scratch_repository(platform, unique)
    notices = [{"_id": f"n{number}", "title": "停水通知", "body": "明日停水", "urgent": False} for number in range(102)]
    assert repository.deliver_to_inbox([notice_message("t1", notice, "resident-li") for notice in notices]) == 102
    assert repository.unread_count("t1", "resident-li") == UNREAD_COUNTED_UP_TO == 100
    page, _ = repository.inbox_page("t1", "resident-li", True, 50, "")
    assert repository.mark_read("t1", "resident-li", [message["_id"] for message in page]) == 50
    assert repository.unread_count("t1", "resident-li") == 52 and repository.unread_count("t1", "resident-wang") == 0


def test_an_event_taken_twice_writes_one_message_and_sends_one_text(platform, unique):
    repository = scratch_repository(platform, unique)
    service = driven(repository)
    repository.set_preferences("t1", "a", {"sms_enabled": True, "sms_phone": "13800000009"})
    event = assignment("t1", "a", ["g1"])
    service.take_event(event)
    service.deliver_sms()
    service.take_event(event)
    service.deliver_sms()
    assert repository.inbox.count_documents({}) == 1 and repository.event_log.count_documents({}) == 1
    assert [delivery["state"] for delivery in repository.sms_deliveries.find()] == ["SENT"]
    assert repository.sms_sink.count_documents({"to": "13800000009"}) == 1


def test_notice_reaches_its_audience_with_delivery_and_read_counts(platform, unique):
    tenant = f"notice-{unique}"
    operator = platform.client(tenant=tenant)
    ids = build_hierarchy(operator, unique)
    other_building = operator.call(f"{GRIDS}/CreateNode", {"kind": "BUILDING", "display_name": "B2",
                                                           "parent_id": ids["GRID"]})
    other_flat = operator.call(f"{GRIDS}/CreateFlat", {"building_id": other_building["id"], "number": "101"})
    here = add_residents(operator, ids["FLAT"], unique, [["elderly"], [], ["elderly", "living_alone"]])
    there = add_residents(operator, other_flat["id"], unique, [["elderly"]])

    staff = platform.client(tenant=tenant, role="community_staff", scope=(ids["COMMUNITY"],))
    notice = staff.call(f"{NOTIFICATIONS}/CreateNotice", {
        "request_id": f"{unique}-fire", "audience": {"node_id": ids["BUILDING"], "tags": ["elderly"]},
        "title": "Fire safety", "body": "Clear the stairwell by Friday", "urgent": True})
    assert notice["recipient_count"] == 2 and notice["delivered_count"] == 2
    again = staff.call(f"{NOTIFICATIONS}/CreateNotice", {
        "request_id": f"{unique}-fire", "audience": {"node_id": ids["BUILDING"], "tags": ["elderly"]},
        "title": "Fire safety", "body": "Clear the stairwell by Friday", "urgent": True})
    assert again["id"] == notice["id"] and again["delivered_count"] == 2

    reader = platform.client(tenant=tenant, role="resident", scope=(ids["FLAT"],), subject=here[0]["id"])
    message = reader.call(f"{NOTIFICATIONS}/ListInbox", {})["messages"][0]
    assert (message["notice_id"], message["title"], message["urgent"]) == (notice["id"], "Fire safety", True)
    reader.call(f"{NOTIFICATIONS}/MarkRead", {"message_ids": [message["id"]]})
    counts = staff.call(f"{NOTIFICATIONS}/GetNotice", {"id": notice["id"]})
    assert (counts["recipient_count"], counts["delivered_count"], counts["read_count"]) == (2, 2, 1)
    left_out = [here[1]["id"], there[0]["id"]]
    assert platform.database("notifications").inbox.count_documents({"recipient": {"$in": left_out}}) == 0

    grid_wide = staff.call(f"{NOTIFICATIONS}/CreateNotice", {
        "audience": {"node_id": ids["GRID"]}, "title": "Free clinic", "body": "Saturday 9:00"})
    assert grid_wide["recipient_count"] == 4

    outsider = platform.client(tenant=tenant, role="grid_worker", scope=(new_id(),))
    assert rpc_error(lambda: outsider.call(f"{NOTIFICATIONS}/GetNotice", {"id": notice["id"]})).code() == \
        grpc.StatusCode.NOT_FOUND
    error = rpc_error(lambda: outsider.call(f"{NOTIFICATIONS}/CreateNotice", {
        "audience": {"node_id": ids["BUILDING"]}, "title": "x", "body": "y"}))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "audience.node_id" in field_violations(error)
    error = rpc_error(lambda: staff.call(f"{NOTIFICATIONS}/CreateNotice", {
        "audience": {"node_id": ids["BUILDING"]}, "title": "", "body": "y"}))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "title" in field_violations(error)
    assert platform.database("notifications").notices.count_documents({"tenant": tenant}) == 2


def drain(connection, queue, timeout=3):
    channel = connection.channel()
    bodies, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = channel.basic_get(queue, no_ack=True)
        if message is None:
            time.sleep(0.2)
            continue
        bodies.append(json.loads(message.body))
    return bodies


@pytest.fixture
def partner_city(platform, unique):
    tenant = f"partner-{unique}"
    operator = platform.client(tenant=tenant)
    ids = build_hierarchy(operator, unique)
    other_building = operator.call(f"{GRIDS}/CreateNode", {"kind": "BUILDING", "display_name": "B2",
                                                           "parent_id": ids["GRID"]})
    ids["OTHER_FLAT"] = operator.call(f"{GRIDS}/CreateFlat", {"building_id": other_building["id"],
                                                              "number": "101"})["id"]
    household = operator.call(f"{RESIDENTS}/CreateHousehold", {"flat_id": ids["FLAT"], "display_name": "H"})
    ids["HOUSEHOLD"] = household["id"]
    return tenant, operator, ids


def test_partner_queue_gets_only_its_tenant_scope_and_types_redacted(platform, unique, partner_city):
    tenant, operator, ids = partner_city
    partner = platform.client(tenant=tenant, role="partner", scope=(ids["COMMUNITY"],), subject=f"property-{unique}",
                              grants=organisation_grant(operator, ids["COMMUNITY"], "PROPERTY_COMPANY"))
    subscription = partner.call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
        "request_id": f"{unique}-sub", "event_types": [RESIDENT_REGISTERED], "scope_node_ids": [ids["BUILDING"]]})
    assert subscription["partner_kind"] == "property_company" and subscription["broker_password"]
    assert subscription["webhook_state"] == "WEBHOOK_NONE"

    inside = add_residents(operator, ids["FLAT"], unique, [["elderly"]])[0]
    outside = add_residents(operator, ids["OTHER_FLAT"], unique, [[]])[0]
    forged = envelope("residents", RESIDENT_REGISTERED, f"elsewhere-{unique}", "residents/x", {
        "id": "x", "household_id": "h", "display_name": "Stranger", "relation": "head",
        "birth_date": "1950-01-01", "gender": "MALE", "tags": [], "path": list(inside["path"])})
    publish(platform, "residents", forged)
    for event_id in (forged["id"],):
        assert eventually(lambda: logged(platform, event_id), timeout=20)
    assert eventually(lambda: platform.database("notifications").event_log.find_one(
        {"type": RESIDENT_REGISTERED, "event.data.id": outside["id"]}), timeout=20)

    with partner_connection(platform, subscription) as connection:
        received = drain(connection, subscription["queue"])
    assert [event["data"]["id"] for event in received] == [inside["id"]]
    data = received[0]["data"]
    assert "birth_date" not in data and "tags" not in data and "gender" not in data
    assert received[0]["tenant"] == tenant and data["display_name"] == inside["display_name"]

    replay = partner.call(f"{NOTIFICATIONS}/ListPartnerEvents", {"from_position": 0})
    assert [event["id"] for event in replay["events"]] == [received[0]["id"]]
    assert "birth_date" not in replay["events"][0]["data"]
    after = partner.call(f"{NOTIFICATIONS}/ListPartnerEvents", {"from_position": replay["next_position"]})
    assert "events" not in after


def test_partner_broker_user_cannot_read_another_queue(platform, unique, partner_city):
    tenant, operator, ids = partner_city
    first, second = (platform.client(tenant=tenant, role="partner", scope=(ids["COMMUNITY"],), subject=f"{name}-{unique}",
                                     grants=organisation_grant(operator, ids["COMMUNITY"], "PROPERTY_COMPANY"))
                     for name in ("a", "b"))
    request = {"event_types": [RESIDENT_REGISTERED], "scope_node_ids": [ids["GRID"]]}
    mine = first.call(f"{NOTIFICATIONS}/CreatePartnerSubscription", request)
    theirs = second.call(f"{NOTIFICATIONS}/CreatePartnerSubscription", request)
    assert mine["queue"] != theirs["queue"]
    for forbidden in (theirs["queue"], "notifications.event-log"):
        with partner_connection(platform, mine) as connection:
            with pytest.raises(AccessRefused):
                connection.channel().basic_get(forbidden, no_ack=True)
    with partner_connection(platform, mine) as connection:
        assert connection.channel().basic_get(mine["queue"], no_ack=True) is None

    assert rpc_error(lambda: first.call(f"{NOTIFICATIONS}/DeletePartnerSubscription", {"id": theirs["id"]})).code() \
        == grpc.StatusCode.NOT_FOUND
    second.call(f"{NOTIFICATIONS}/DeletePartnerSubscription", {"id": theirs["id"]})
    assert second.call(f"{NOTIFICATIONS}/ListPartnerSubscriptions", {}) == {}
    assert [s["id"] for s in first.call(f"{NOTIFICATIONS}/ListPartnerSubscriptions", {})["subscriptions"]] == \
        [mine["id"]]


def test_partner_subscription_input_is_checked(platform, unique, partner_city):
    tenant, operator, ids = partner_city
    partner = platform.client(tenant=tenant, role="partner", scope=(ids["GRID"],), subject=f"p-{unique}",
                              grants=organisation_grant(operator, ids["GRID"], "PROPERTY_COMPANY"))
    error = rpc_error(lambda: partner.call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
        "event_types": ["not a type"], "scope_node_ids": [ids["BUILDING"]], "webhook_url": "ftp://x"}))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"event_types.0", "webhook_url"} <= set(field_violations(error))
    error = rpc_error(lambda: partner.call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
        "event_types": [RESIDENT_REGISTERED], "scope_node_ids": [ids["COMMUNITY"]]}))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "scope_node_ids.0" in field_violations(error)
    staff = platform.client(tenant=tenant, role="community_staff", scope=(ids["COMMUNITY"],))
    assert rpc_error(lambda: staff.call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
        "event_types": [RESIDENT_REGISTERED], "scope_node_ids": [ids["BUILDING"]]})).code() == \
        grpc.StatusCode.PERMISSION_DENIED
    assert platform.database("notifications").subscriptions.count_documents({"tenant": tenant}) == 0


class FlakyReceiver(BaseHTTPRequestHandler):
    """Refuses the first `failures` posts, then logs each delivery it accepts."""

    failures = 3
    attempts = []
    accepted = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.attempts.append(body)
        if len(self.attempts) <= self.failures:
            self.send_response(503)
        else:
            self.accepted.append((body, dict(self.headers)))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = HTTPServer(("127.0.0.1", 0), FlakyReceiver)
    FlakyReceiver.attempts, FlakyReceiver.accepted = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", FlakyReceiver
    server.shutdown()
    server.server_close()


def test_webhook_failing_three_times_then_ok_gets_the_event_exactly_once(platform, unique, partner_city,
                                                                         receiver):
    tenant, operator, ids = partner_city
    url, log = receiver
    partner = platform.client(tenant=tenant, role="partner", scope=(ids["COMMUNITY"],), subject=f"clinic-{unique}",
                              grants=organisation_grant(operator, ids["COMMUNITY"], "CLINIC"))
    subscription = partner.call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
        "event_types": [RESIDENT_REGISTERED], "scope_node_ids": [ids["GRID"]], "webhook_url": url})
    assert subscription["webhook_secret"].startswith("whsec_")
    resident = add_residents(operator, ids["FLAT"], unique, [["elderly"]])[0]

    assert eventually(lambda: log.accepted, timeout=40)
    deliveries = platform.database("notifications").webhook_deliveries
    assert eventually(lambda: deliveries.find_one({"subscription_id": subscription["id"], "state": "SENT"}))
    driven(NotificationsRepository(platform.database("notifications"))).deliver_webhooks()
    assert len(log.attempts) == 4 and len(log.accepted) == 1
    body, headers = log.accepted[0]
    event = Webhook(subscription["webhook_secret"]).verify(body, headers)
    assert event["data"]["id"] == resident["id"] and event["data"]["birth_date"] == "1940-01-01"
    assert "tags" in event["data"] and "phone" not in event["data"]
    listed = partner.call(f"{NOTIFICATIONS}/ListPartnerSubscriptions", {})["subscriptions"]
    assert listed[0]["webhook_state"] == "WEBHOOK_ACTIVE" and "webhook_secret" not in listed[0]
    delivery = platform.database("notifications").webhook_deliveries.find_one(
        {"subscription_id": subscription["id"]})
    assert (delivery["state"], delivery["attempts"]) == ("SENT", 4)


def test_event_log_forgets_whole_hours_older_than_the_retention(platform, unique):
    repository = scratch_repository(platform, unique)
    first = repository.append_event(assignment("t", "a", []))
    second = repository.append_event(assignment("t", "b", []))
    assert second["position"] == first["position"] + 1
    assert repository.append_event(first["event"])["position"] == first["position"]
    hour = first["age_bucket"]
    repository.event_log.update_many({}, {"$set": {"received_time": now() - timedelta(hours=3), "age_bucket": hour - 3}})
    third = repository.append_event(assignment("t", "c", []))
    assert repository.purge_events_older_than(3600) == 2
    assert [e["_id"] for e in repository.event_log.find()] == [third["_id"]]
    # Beyond the buckets a purge visits (a process down for days): swept by range when a sweep is due.
    repository.event_log.update_one({"_id": third["_id"]}, {"$set": {"received_time": now() - timedelta(days=30),
                                                                     "age_bucket": 0}})
    assert repository.purge_events_older_than(3600) == 0
    repository.log.ages.swept_at -= SWEEP_SECONDS + 1
    assert repository.purge_events_older_than(3600) == 1
    assert repository.event_log.count_documents({}) == 0


def test_published_and_handled_marks_are_forgotten_by_age_bucket(platform, unique):
    repository = scratch_repository(platform, unique)
    repository.mark_published(["e1", "e2"])
    repository.mark_handled("h1")
    repository.mark_handled("h2")
    assert repository.published_among(["e1", "e2", "e3"]) == {"e1", "e2"}
    for marks, old_id, hours, bucket_seconds in (
            (repository.database.published_events, "e1", 2, PUBLISHED_MARK_BUCKET_SECONDS),
            (repository.database.processed_events, "h1", 8 * 24, HANDLED_MARK_BUCKET_SECONDS)):
        bucket = marks.find_one({"_id": old_id})["age_bucket"]
        marks.update_one({"_id": old_id}, {"$set": {"time": now() - timedelta(hours=hours),
                                                    "age_bucket": bucket - hours * 3600 // bucket_seconds}})
    repository.forget_aged_marks()
    assert repository.published_among(["e1", "e2"]) == {"e2"}
    assert not repository.was_handled("h1") and repository.was_handled("h2")


def test_workers_appending_together_log_each_event_once_in_one_block_of_positions(platform, unique):
    """Every worker has its own copy of the repository; they share one log, its lock and its
    block of positions, and each group commit writes what the others queued meanwhile."""
    repository = scratch_repository(platform, unique)
    events = [assignment("t", f"e{n}", []) for n in range(24)]
    entries, failures = [], []

    def append(event):
        try:
            entries.append(repository.for_worker(None).append_event(event))
        except Exception as failure:  # a worker's failure is the test's
            failures.append(failure)
    workers = [threading.Thread(target=append, args=(event,)) for event in events + events[:4]]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures
    logged = list(repository.event_log.find().sort("position", 1))
    assert sorted(entry["_id"] for entry in logged) == sorted(event["id"] for event in events)
    assert {entry["_id"]: entry["position"] for entry in entries} == {e["_id"]: e["position"] for e in logged}
    assert repository.database.counters.find_one({"_id": "event_log"})["value"] == 100


def watch(platform, client_claims, from_position, count, timeout=20):
    """The first `count` events of a WatchEvents stream, then the stream is cancelled."""
    from civicgrid.notifications.v1 import notifications_pb2
    token = platform.token(**client_claims)
    with grpc.insecure_channel(platform.address) as channel:
        stream = channel.unary_stream(f"/{NOTIFICATIONS}/WatchEvents",
                                      request_serializer=notifications_pb2.WatchEventsRequest.SerializeToString,
                                      response_deserializer=notifications_pb2.PartnerEvent.FromString)
        call = stream(notifications_pb2.WatchEventsRequest(from_position=from_position),
                      metadata=(("authorization", f"Bearer {token}"),), timeout=timeout)
        events = []
        for event in call:
            events.append(event)
            if len(events) == count:
                call.cancel()
                break
        return events


def test_watch_events_streams_and_resumes_from_a_position(platform, unique, partner_city):
    tenant, operator, ids = partner_city
    claims = {"tenant": tenant, "role": "partner", "scope": (ids["COMMUNITY"],), "subject": f"police-{unique}",
              "grants": organisation_grant(operator, ids["COMMUNITY"], "POLICE_POST")}
    platform.client(**claims).call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
        "event_types": [RESIDENT_REGISTERED], "scope_node_ids": [ids["COMMUNITY"]]})
    first = add_residents(operator, ids["FLAT"], unique, [["elderly"]])[0]
    [seen] = watch(platform, claims, 0, 1)
    assert seen.data["id"] == first["id"] and seen.data["birth_date"] == "1940-01-01"
    assert "tags" not in seen.data and seen.tenant == tenant

    second = add_residents(operator, ids["OTHER_FLAT"], unique, [[]])[0]
    [resumed] = watch(platform, claims, seen.position, 1)
    assert resumed.data["id"] == second["id"] and resumed.position > seen.position

    stranger = {**claims, "role": "resident"}
    error = rpc_error(lambda: watch(platform, stranger, 0, 1))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_webhook_pauses_after_repeated_failure_resumes_and_dead_letters(platform, unique, monkeypatch):
    from services.notifications import webhooks
    from services.settings import WebhookSettings
    monkeypatch.setattr(webhooks, "SETTINGS", WebhookSettings(backoff_seconds=0, pause_after=2, max_attempts=3))
    repository = scratch_repository(platform, unique)
    service = driven(repository)
    subscription, _ = repository.subscriptions.create("t1", "", {
        "partner": "p1", "partner_kind": "clinic", "organisation_id": "o1", "event_types": [ASSIGNED],
        "scope_node_ids": ["g1"], "path": ["g1"], "queue": "q", "broker_user": "q",
        "webhook_url": "http://127.0.0.1:9/never", "webhook_secret": webhooks.new_secret(),
        "webhook_state": "WEBHOOK_ACTIVE", "webhook_failures": 0})
    repository.subscriptions.create("t1", "", {  # a colleague's, without a webhook
        "partner": "p2", "partner_kind": "clinic", "organisation_id": "o1", "event_types": [ASSIGNED],
        "scope_node_ids": ["g1"], "path": ["g1"], "queue": "q2", "broker_user": "q2", "webhook_url": "",
        "webhook_secret": "", "webhook_state": "WEBHOOK_NONE", "webhook_failures": 0})
    event = assignment("t1", "a", ["g1"])
    repository.queue_webhook(subscription, event)
    repository.queue_webhook(subscription, event)
    answers = []
    monkeypatch.setattr(webhooks, "send", lambda url, secret, sent: answers.pop(0))

    answers += [False, False]
    service.deliver_webhooks()
    delivery = repository.webhook_deliveries.find_one()
    assert (delivery["state"], delivery["attempts"]) == ("HELD", 2)
    assert repository.subscriptions.collection.find_one({"_id": subscription["_id"]})["webhook_state"] == \
        "WEBHOOK_PAUSED"

    caller = {"subject": "p1", "tenant": "t1", "role": "partner", "scope": ["g1"]}
    resumed = service.resume_partner_subscription(caller, {"id": subscription["_id"]})
    assert (resumed["webhook_state"], resumed["webhook_failures"]) == ("WEBHOOK_ACTIVE", 0)
    answers += [False]
    service.deliver_webhooks()
    delivery = repository.webhook_deliveries.find_one()
    assert (delivery["state"], delivery["attempts"]) == ("DEAD", 3)
    assert repository.webhook_deliveries.count_documents({}) == 1 and answers == []

    raised = repository.subscriptions.collection.find_one({"_id": subscription["_id"]})["outbox"]
    assert [e["type"] for e in raised] == ["civicgrid.notifications.webhook.paused.v1",
                                           "civicgrid.notifications.webhook.dead_lettered.v1"]
    assert raised[1]["data"] | {"webhook_url": ""} == {
        "id": subscription["_id"], "partner": "p1", "contacts": ["p1", "p2"], "webhook_url": "", "path": ["g1"],
        "event_id": event["id"], "attempts": 3}
    for told in raised:
        service.take_event(told)
    for contact in ("p1", "p2"):
        assert sorted(m["title"] for m in repository.inbox.find({"recipient": contact})) == [
            "Webhook 已暂停", "Webhook 推送失败"], contact


def test_partners_read_the_event_catalog_through_the_gateway(platform, unique):
    partner = platform.client(tenant=f"cat-{unique}", role="partner", scope=("n",), subject="p")
    types = partner.call(f"{NOTIFICATIONS}/ListEventTypes", {})["event_types"]
    [assigned] = [t for t in types if t["type"] == ASSIGNED]
    assert assigned["source_service"] == "tickets" and assigned["version"] == 1
    # Only what this test pins: a field's entry also carries its description.
    [assignee] = [field for field in assigned["fields"] if field["name"] == "assignee_subject"]
    assert (assignee["type"], assignee["required"]) == ("string", True)


def test_preferences_choose_language_and_sms_and_quiet_hours_hold_all_but_urgent(platform, unique):
    tenant = f"prefs-{unique}"
    database = platform.database("notifications")
    day_worker, night_worker = f"day-{unique}", f"night-{unique}"
    day = platform.client(tenant=tenant, role="grid_worker", scope=("g1",), subject=day_worker)
    night = platform.client(tenant=tenant, role="grid_worker", scope=("g1",), subject=night_worker)
    assert day.call(f"{NOTIFICATIONS}/GetNotificationPreferences", {})["language"] == "zh-CN"
    shown = day.call(f"{NOTIFICATIONS}/UpdateNotificationPreferences", {
        "preferences": {"language": "en", "sms_enabled": True, "sms_phone": "13800000001"},
        "update_mask": "language,smsEnabled,smsPhone"})
    assert (shown["language"], shown["sms_phone"], shown["time_zone"]) == ("en", "13800000001", "Asia/Shanghai")
    utc_now = datetime.now(timezone.utc)
    night.call(f"{NOTIFICATIONS}/UpdateNotificationPreferences", {"preferences": {
        "sms_enabled": True, "sms_phone": "13800000002", "time_zone": "UTC",
        "quiet_start": (utc_now - timedelta(hours=1)).strftime("%H:%M"),
        "quiet_end": (utc_now + timedelta(hours=1)).strftime("%H:%M")}})

    urgent = assignment(tenant, day_worker, ["g1"])
    publish(platform, "tickets", urgent, times=2)
    messages = eventually(lambda: day.call(f"{NOTIFICATIONS}/ListInbox", {}).get("messages"), timeout=20)
    assert messages
    message = messages[0]
    assert message["title"] == "A ticket was assigned to you"
    assert eventually(lambda: database.sms_sink.find_one({"to": "13800000001"}), timeout=20)

    routine = assignment(tenant, night_worker, ["g1"])
    routine["data"]["priority"] = "NORMAL"
    publish(platform, "tickets", routine)
    held = eventually(lambda: database.sms_deliveries.find_one({"recipient": night_worker, "attempts": 0,
                                                                "next_attempt_time": {"$gt": utc_now + timedelta(minutes=30)}}),
                      timeout=20)
    assert held
    assert held["state"] == "QUEUED" and night.call(f"{NOTIFICATIONS}/ListInbox", {})["messages"][0]["title"] == \
        "新工单指派给您"
    urgent_at_night = assignment(tenant, night_worker, ["g1"])
    publish(platform, "tickets", urgent_at_night)
    assert eventually(lambda: database.sms_sink.find_one({"to": "13800000002"}), timeout=20)
    driven(NotificationsRepository(database)).deliver_sms()
    assert database.sms_sink.count_documents({"to": "13800000001"}) == 1
    assert database.sms_sink.count_documents({"to": "13800000002"}) == 1

    for request, field in [({"preferences": {}, "update_mask": "smsPhone"}, "preferences.sms_phone"),
                           ({"preferences": {"quiet_start": "25:00"}}, "preferences.quiet_start"),
                           ({"preferences": {"time_zone": "Mars/Olympus"}}, "preferences.time_zone"),
                           ({"preferences": {"language": "fr"}}, "preferences.language"),
                           ({"preferences": {}}, "update_mask")]:
        error = rpc_error(lambda: night.call(f"{NOTIFICATIONS}/UpdateNotificationPreferences", request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field in field_violations(error), request


def deadline_event(tenant, event_type, ticket_node, path, level, assignee):
    return {**assignment(tenant, assignee, path), "type": event_type,
            "data": {"id": "t9", "kind": "REQUEST", "priority": "HIGH", "node_id": ticket_node, "path": path,
                     "level": level, "stage": "resolution", "due_at": "2026-01-01T10:00:00.000Z",
                     "assignee_subject": assignee}}


def test_deadlines_reach_the_grid_leader_and_escalations_the_next_level(platform, unique):
    tenant = f"levels-{unique}"
    operator = platform.client(tenant=tenant)
    ids = build_hierarchy(operator, unique)
    for node, kind, subject in ((ids["GRID"], "GRID_LEADER", f"leader-{unique}"),
                                (ids["COMMUNITY"], "COMMUNITY_STAFF", f"community-{unique}")):
        operator.call("civicgrid.grids.v1.Grids/AssignPost", {
            "node_id": node, "kind": kind, "holder": {"subject": subject, "display_name": subject}})
    path = [ids[k] for k in ("CITY", "STREET", "COMMUNITY", "GRID", "BUILDING", "FLAT")]
    publish(platform, "tickets", deadline_event(
        tenant, "civicgrid.tickets.ticket.deadline_approaching.v1", ids["FLAT"], path, "GRID", f"worker-{unique}"))
    publish(platform, "tickets", deadline_event(
        tenant, "civicgrid.tickets.ticket.escalated.v1", ids["FLAT"], path, "COMMUNITY", f"worker-{unique}"))

    def inbox_of(subject):
        client = platform.client(tenant=tenant, role="community_staff", scope=(ids["COMMUNITY"],), subject=subject)
        return [m["event_type"] for m in client.call(f"{NOTIFICATIONS}/ListInbox", {}).get("messages", [])]

    assert eventually(lambda: inbox_of(f"leader-{unique}"), timeout=20) == [
        "civicgrid.tickets.ticket.deadline_approaching.v1"]
    assert eventually(lambda: inbox_of(f"community-{unique}"), timeout=20) == ["civicgrid.tickets.ticket.escalated.v1"]
    assert sorted(eventually(lambda: len(inbox_of(f"worker-{unique}")) == 2 and inbox_of(f"worker-{unique}"),
                             timeout=20)) == [
        "civicgrid.tickets.ticket.deadline_approaching.v1", "civicgrid.tickets.ticket.escalated.v1"]
