#!/usr/bin/env python3
"""Ticket creation and queue reads through the real gateway: requests per second, p50 and p99.

    .venv/bin/python bench/tickets_bench.py [--tickets 500] [--reads 500] [--concurrency 8]

Starts a private stack (own RabbitMQ vhost and database prefix, as the tests do) on the
servers named by AMQP_URI and MONGO_URI (`eval "$(scripts/servers.sh up)"`), and removes it after.
"""
import argparse
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from tests.conftest import private_platform  # noqa: E402

TICKETS = "civicgrid.tickets.v1.Tickets"
GRIDS = "civicgrid.grids.v1.Grids"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    return parser.parse_args()


def city(client, tag):
    parent, ids = "", {}
    for kind in ("CITY", "STREET", "COMMUNITY", "GRID", "BUILDING"):
        ids[kind] = parent = client.call(f"{GRIDS}/CreateNode", {
            "kind": kind, "display_name": f"{kind.title()} {tag}", "parent_id": parent})["id"]
    category = client.call(f"{TICKETS}/CreateCategory", {
        "name": f"Heating {tag}", "promises": [{"priority": "NORMAL", "first_response_minutes": 60,
                                                "resolution_minutes": 240}],
        "routing": {"assignee_kind": "GRID_WORKER"}})
    return ids, category["id"]


def measure(label, count, concurrency, work):
    latencies = []

    def timed(number):
        started = time.perf_counter()
        work(number)
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(timed, range(count)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(f"{label:<22} {count:>6} calls  {count / elapsed:8.1f} rps  "
          f"p50 {statistics.median(ordered) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms")


def run(platform, args):
    tag = uuid.uuid4().hex[:6]
    operator = platform.client(tenant=f"bench-{tag}", subject="bench-operator")
    ids, category_id = city(operator, tag)
    worker = platform.client(tenant=f"bench-{tag}", role="grid_worker", scope=(ids["GRID"],), subject="w1")

    def create(number):
        operator.call(f"{TICKETS}/CreateTicket", {
            "request_id": f"{tag}-{number}", "kind": "REQUEST", "channel": "HOTLINE", "category_id": category_id,
            "node_id": ids["BUILDING"], "description": f"bench ticket {number}"})

    def read_queue(number):
        worker.call(f"{TICKETS}/ListTickets", {"page_size": 50, "states": ["SUBMITTED"]})

    def figures(number):
        operator.call(f"{TICKETS}/GetTicketFigures", {"node_id": ids["COMMUNITY"],
                                                      "start_time": "2000-01-01T00:00:00Z",
                                                      "end_time": "2100-01-01T00:00:00Z"})

    print(f"tickets bench: concurrency {args.concurrency}")
    measure("CreateTicket", args.tickets, args.concurrency, create)
    measure("ListTickets (50/page)", args.reads, args.concurrency, read_queue)
    measure(f"GetTicketFigures ({args.tickets})", max(1, args.reads // 10), args.concurrency, figures)


def main():
    args = parse_args()
    with tempfile.TemporaryDirectory() as state_dir, private_platform(state_dir) as platform:
        run(platform, args)


if __name__ == "__main__":
    main()
