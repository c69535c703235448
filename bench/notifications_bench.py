#!/usr/bin/env python3
"""Events per second from a ticket transition's event on the bus to a partner's queue and to the
assignee's inbox, through the real notifications service, RabbitMQ and FerretDB.

    .venv/bin/python bench/notifications_bench.py [--events 500]

Starts a private stack (own RabbitMQ vhost and database prefix, as the tests do) on the servers
named by AMQP_URI and MONGO_URI (`eval "$(scripts/servers.sh up)"`), and removes it after. The
events are `civicgrid.tickets.ticket.assigned.v1` envelopes built against the tickets contract and
published on `tickets.events` as the tickets service's outbox does, so the figure is the
notifications side alone: log, inbox, partner fan-out.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kombu import Connection, Exchange  # noqa: E402

from services.events import envelope  # noqa: E402
from services.notifications.catalog import load_contracts  # noqa: E402
from tests.conftest import private_platform  # noqa: E402
from tests.support.hierarchy import build_hierarchy  # noqa: E402
from tests.support.partners import organisation_grant, partner_connection, remove_partner_users  # noqa: E402

NOTIFICATIONS = "civicgrid.notifications.v1.Notifications"
ASSIGNED = "civicgrid.tickets.ticket.assigned.v1"
TENANT = f"bench-{uuid.uuid4().hex[:8]}"


def assigned(ids, number):
    return envelope("tickets", ASSIGNED, TENANT, f"tickets/b{number}", {
        "id": f"b{number}", "kind": "REQUEST", "category_id": "c", "node_id": ids["BUILDING"],
        "path": [ids[k] for k in ("CITY", "STREET", "COMMUNITY", "GRID", "BUILDING")], "priority": "NORMAL",
        "state": "ASSIGNED", "previous_state": "TRIAGED", "level": "GRID", "assignee_subject": f"worker{number % 20}",
        "assignee_organisation_id": "", "reporter_subject": "r", "household_ids": [], "organisation_ids": [],
        "followers": [], "actor": "bench", "note": ""})


def arrival_seconds(event):
    sent = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return (datetime.now(timezone.utc) - sent).total_seconds()


def run(platform, count):
    operator = platform.client(tenant=TENANT)
    ids = build_hierarchy(operator, "bench")
    partner = platform.client(tenant=TENANT, role="partner", scope=(ids["COMMUNITY"],), subject="property",
                              grants=organisation_grant(operator, ids["COMMUNITY"], "PROPERTY_COMPANY"))
    subscription = partner.call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
        "event_types": [ASSIGNED], "scope_node_ids": [ids["GRID"]]})
    events = [assigned(ids, n) for n in range(count)]
    inbox = platform.database("notifications").inbox
    started = time.perf_counter()
    with Connection(platform.amqp_uri) as connection:
        producer = connection.Producer()
        exchange = Exchange("tickets.events", type="topic", durable=True)
        for event in events:
            producer.publish(event, exchange=exchange, routing_key=ASSIGNED, serializer="json", declare=[exchange])
    published = time.perf_counter() - started

    latencies = []
    with partner_connection(platform, subscription) as connection:
        channel = connection.channel()
        deadline = time.monotonic() + 300
        while len(latencies) < count and time.monotonic() < deadline:
            message = channel.basic_get(subscription["queue"], no_ack=True)
            if message is None:
                time.sleep(0.05)
                continue
            latencies.append(arrival_seconds(json.loads(message.body)))
    to_queue = time.perf_counter() - started
    while inbox.count_documents({"tenant": TENANT}) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    to_inbox = time.perf_counter() - started
    delivered = inbox.count_documents({"tenant": TENANT})

    latencies.sort()
    print(f"notifications bench: {count} ticket.assigned events published in {published:.2f}s")
    print(f"  partner queue: {len(latencies)}/{count} in {to_queue:.2f}s = {len(latencies) / to_queue:.0f} events/s; "
          f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {latencies[int(0.95 * (len(latencies) - 1))] * 1000:.0f} ms")
    print(f"  inbox:         {delivered}/{count} in {to_inbox:.2f}s = {delivered / to_inbox:.0f} events/s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500)
    args = parser.parse_args()
    load_contracts()
    with tempfile.TemporaryDirectory() as state_dir, private_platform(state_dir) as platform:
        try:
            run(platform, args.events)
        finally:
            remove_partner_users(platform)


if __name__ == "__main__":
    main()
