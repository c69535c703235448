#!/usr/bin/env python3
"""Chaos bench: bounded write load, retried by request_id, while one thing at a time breaks.

On a private platform with its own RabbitMQ node and FerretDB process (tests/private_servers.py),
writers create buildings through the gateway for `--seconds` per fault while the bench, halfway:
  kill-<service>   kills -9 each service in turn (supervisord starts it again)
  broker-restart   stops RabbitMQ (SIGTERM to its pid) and starts it again
  store-restart    kills -9 FerretDB and starts it again
  consumer-burst   kills -9 notifications, the consumer of every node.created, in a burst of them
Per fault it prints: sent, acknowledged, stored, lost (acknowledged, not stored), duplicated
(a request stored twice), events owed (one node.created per stored building) and handled (in
notifications' event log), calls that hung (past their deadline + 1 s), and seconds from the
fault until the platform served again and every owed event was handled, with no human action.
Target: 0 lost, 0 duplicated, 0 owed unhandled, 0 hung, recovery under 30 s.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import SERVICES  # noqa: E402
from tests.support.hierarchy import build_hierarchy  # noqa: E402
from tests.support.polling import eventually  # noqa: E402
from tests.private_servers import CreateLoad, breakable_platform, serving  # noqa: E402

CREATED = "civicgrid.grids.node.created.v1"
RECOVERY_LIMIT_SECONDS = 120


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=16, help="load per fault")
    parser.add_argument("--writers", type=int, default=3, help="concurrent writers (three times that in the burst)")
    parser.add_argument("--deadline", type=float, default=5, help="per call, seconds")
    return parser.parse_args()


def faults(platform, broker, store):
    """(name, the break itself, how many writers load it)."""
    table = [(f"kill-{service}", lambda service=service: platform.kill(service), 1) for service in SERVICES]
    table += [("broker-restart", broker.restart, 1),
              ("store-restart", lambda: (store.kill(), store.start()), 1),
              ("consumer-burst", lambda: platform.kill("notifications"), 3)]
    return table


def run_fault(platform, operator, grid_id, name, inflict, load_factor, args):
    load = CreateLoad(operator, grid_id, f"{name}-{time.time_ns()}", writers=args.writers * load_factor,
                      deadline=args.deadline, patience=RECOVERY_LIMIT_SECONDS)
    with load:
        time.sleep(args.seconds / 2)
        struck = time.monotonic()
        inflict()
        time.sleep(args.seconds / 2)
    recovered = eventually(lambda: serving(platform) and not owed_unhandled(platform, load), RECOVERY_LIMIT_SECONDS)
    return figures(platform, load, name, time.monotonic() - struck if recovered else None)


def stored_ids(platform, load):
    nodes = platform.database("grids").nodes
    return {request_id: [node["_id"] for node in nodes.find({"request_id": request_id}, {"_id": 1})]
            for request_id in load.sent}


def owed_unhandled(platform, load):
    owed = {node_id for ids in stored_ids(platform, load).values() for node_id in ids}
    return owed - handled(platform, owed)


def handled(platform, node_ids):
    log = platform.database("notifications").event_log
    return {entry["event"]["data"]["id"] for entry in log.find({"type": CREATED}, {"event.data.id": 1})} & node_ids


def figures(platform, load, name, recovery):
    stored = stored_ids(platform, load)
    owed = {node_id for ids in stored.values() for node_id in ids}
    acknowledged = dict(load.acknowledged)
    return {
        "fault": name, "sent": len(load.sent), "acknowledged": len(acknowledged),
        "stored": sum(1 for ids in stored.values() if ids),
        "lost": sum(1 for request_id in acknowledged if not stored[request_id]),
        "duplicated": sum(1 for ids in stored.values() if len(ids) > 1),
        "events owed": len(owed), "handled": len(handled(platform, owed)), "hung": load.hung(),
        "recovery s": f"{recovery:.1f}" if recovery is not None else f">{RECOVERY_LIMIT_SECONDS}",
    }


def print_table(rows):
    columns = list(rows[0])
    widths = {column: max(len(column), *(len(str(row[column])) for row in rows)) for column in columns}
    print("  ".join(column.rjust(widths[column]) for column in columns))
    for row in rows:
        print("  ".join(str(row[column]).rjust(widths[column]) for column in columns))


def main():
    args = parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as state_dir, breakable_platform(state_dir) as (platform, broker, store):
        operator = platform.client(tenant="chaos")
        grid_id = build_hierarchy(operator, "chaos")["GRID"]
        for name, inflict, load_factor in faults(platform, broker, store):
            rows.append(run_fault(platform, operator, grid_id, name, inflict, load_factor, args))
            print(f"{name}: done", file=sys.stderr)
    print_table(rows)
    failed = [row["fault"] for row in rows if row["lost"] or row["duplicated"] or row["hung"]
              or row["events owed"] != row["handled"] or row["recovery s"].startswith(">")]
    print("all faults survived" if not failed else f"targets missed in: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
