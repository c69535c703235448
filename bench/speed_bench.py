#!/usr/bin/env python3
"""Does every list, queue and figure answer fast at real scale? Measured side by side in one run,
on the real-scale demo community and on a city of N of them, through the real gateway.

    .venv/bin/python bench/speed_bench.py                   # a city of 15 communities (~100,000 people)
    .venv/bin/python bench/speed_bench.py --quick           # a city of 2, fewer calls: a smoke run
    .venv/bin/python bench/speed_bench.py --communities 5 --keep
    .venv/bin/python bench/speed_bench.py --seed-only       # seed a city of 15 and keep it, unmeasured
    .venv/bin/python bench/speed_bench.py --reuse /tmp/speed-bench-XXXX  # measure a kept seed (again)

Starts a private platform (own RabbitMQ vhost and database prefix, on the servers AMQP_URI and
MONGO_URI name), seeds the city through the gateway (bench/seeding.py: residents, households,
flats, tickets, volunteers, tasks, an inbox), then measures with ghz (latency distribution per
call), and prints two tables:

1. measure | community | city | target | met?
   - a first and a deep page (page 10, found by following next_page_token first) of each list
     and queue, at concurrency 8: p50 <= 100 ms, p99 <= 300 ms, a city page within 2x of a
     community page;
   - node figures and ticket figures, one call at a time: p50 <= 200 ms for a community,
     <= 500 ms for the city;
   - each process's resident memory (VmRSS) after everything above: <= 200 MB.
2. single-record reads (>= 500 calls/s) and creates (>= 200 calls/s) through the gateway at
   concurrency 16; the same calls made directly over Nameko RPC (gateway p50 within 1.3x); every
   figure also as a ratio to this machine's floor (bench/floor.py: a store read plus a bare
   broker round trip).

The community measured is the city's first, so one seed serves both columns. Measuring starts once
the seed's events are worked through (at most `--settle` seconds). `--keep` leaves the platform
running and says how to reach it; `--reuse` restarts a kept platform's processes (so they run the
code as it is now) on its seeded store and measures again without seeding.
"""
import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
import requests
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.api import Gateway  # noqa: E402
from gateway_bench import ghz_binary, run_direct  # noqa: E402
from floor import broker_floor, store_floor  # noqa: E402
from seeding import ALL_ROUNDER, Retrying, SeededCity, seed_city  # noqa: E402
from services.access import Caller  # noqa: E402
from tests.conftest import SERVICES, Broker, Platform, required_env  # noqa: E402

TENANT = "speed-bench"
DEEP_PAGE = 10
LIST_CONCURRENCY, THROUGHPUT_CONCURRENCY = 8, 16
LIST_P50_MS, LIST_P99_MS, CITY_OVER_COMMUNITY = 100, 300, 2.0
FIGURES_MS = {"community": 200, "city": 500}
READS_PER_SECOND, CREATES_PER_SECOND, GATEWAY_OVER_DIRECT = 500, 200, 1.3
RSS_MB = 200
SEED_RECORD = "seeded.json"
MEASURE_HEADERS = ("measure", "community", "city", "target", "met?")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--communities", type=int, help="communities in the city (default 15, 2 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 communities, fewer calls")
    parser.add_argument("--keep", action="store_true", help="leave the platform running afterwards")
    parser.add_argument("--reuse", type=Path, metavar="STATE_DIR",
                        help="measure the platform a --keep run left in STATE_DIR again, without seeding")
    parser.add_argument("--seed-only", action="store_true",
                        help="seed a city, keep it and stop: measure it later with --reuse")
    parser.add_argument("--settle", type=int, metavar="SECONDS", help="the longest wait for the seed's events "
                        "to be worked through before measuring (default 1800, 120 with --quick)")
    args = parser.parse_args()
    args.communities = args.communities or (2 if args.quick else 15)
    args.settle = args.settle if args.settle is not None else (120 if args.quick else 1800)
    args.list_calls, args.figure_calls, args.throughput_calls = (80, 5, 300) if args.quick else (400, 20, 2000)
    return args


def main():
    args = parse_args()
    args.keep = args.keep or bool(args.reuse) or args.seed_only
    platform, broker, city = reused(args.reuse) if args.reuse else fresh()
    finished = False
    try:
        started = time.perf_counter()
        if args.reuse:
            platform.stop()
        platform.start()
        print(f"platform up in {time.perf_counter() - started:.0f} s ({platform.state_dir})", flush=True)
        run(platform, args, city)
        print(f"\nthe whole run took {time.perf_counter() - started:.0f} s", flush=True)
        finished = True
    finally:
        if args.keep:
            keep_notice(platform, broker)
        else:
            remove(platform, broker)
            if finished:  # a failed run's logs stay, for whoever looks into it
                shutil.rmtree(platform.state_dir)


def fresh():
    broker = Broker(required_env("AMQP_URI"))
    platform = Platform(Path(tempfile.mkdtemp(prefix="speed-bench-")), broker.create(), required_env("MONGO_URI"))
    return platform, broker, None


def reused(state_dir):
    """The platform, broker and seeded city a --keep run recorded in `state_dir`."""
    kept = json.loads((state_dir / SEED_RECORD).read_text())
    broker = Broker(kept["amqp_uri"])
    broker.vhost = kept["vhost"]
    platform = Platform(state_dir, kept["amqp_uri"], kept["mongo_uri"])
    platform.db_prefix, platform.secret = kept["db_prefix"], kept["secret"]
    platform.env.update(CIVICGRID_DB_PREFIX=platform.db_prefix, CIVICGRID_JWT_SECRET=platform.secret)
    return platform, broker, SeededCity(**kept["city"])


def remove(platform, broker):
    """Stops the platform and drops its databases and vhost. A city's databases take a loaded
    store minutes to drop, longer than the suite's client waits."""
    try:
        platform.stop()
        client = MongoClient(platform.mongo_uri, socketTimeoutMS=600_000)
        for name in client.list_database_names():
            if name.startswith(platform.db_prefix):
                client.drop_database(name)
    finally:
        broker.delete()


def run(platform, args, city):
    if city is None:
        city = seed(platform, args)
        if args.seed_only:
            return
    args.communities = len(city.communities)
    queued = wait_until_settled(platform, args.settle)
    bench = Bench(platform, args, city)
    rows = bench.lists() + bench.figures()
    # Shown as soon as measured, so a later failure does not lose them.
    print_table(MEASURE_HEADERS, rows)
    try:
        throughput = bench.throughput()
    except grpc.RpcError as error:
        throughput = [(f"not measured: {error.code().name} {error.details()}", *[""] * 8)]
    rows += bench.memory()
    print(f"\nspeed at real scale: community = {city.counts['residents'] // args.communities:,} residents, "
          f"city = {args.communities} communities ({city.counts['residents']:,} residents, "
          f"{city.counts['tickets']:,} tickets)" + (f"; {queued:,} events still queued" if queued else ""))
    print_table(MEASURE_HEADERS, rows)
    print()
    print_table(("call (concurrency 16)", "calls/s", "target", "p50 ms", "direct p50", "gw/direct",
                 "calls/s ÷ floor", "p50 ÷ floor", "met?"), throughput)


def seed(platform, args):
    staff = platform.client(tenant=TENANT, subject="bench-operator", grants=("sensitive_tags",))
    started = time.perf_counter()
    city = seed_city(staff, args.communities, log=lambda line: print(line, flush=True))
    print(f"seeded {args.communities} communities in {time.perf_counter() - started:.0f} s: {city.counts}",
          flush=True)
    (platform.state_dir / SEED_RECORD).write_text(json.dumps({
        "amqp_uri": platform.amqp_uri, "mongo_uri": platform.mongo_uri, "vhost": platform.amqp_uri.rsplit("/", 1)[1],
        "db_prefix": platform.db_prefix, "secret": platform.secret, "city": dataclasses.asdict(city)}))
    return city


def wait_until_settled(platform, timeout):
    """Every write publishes events that the other services (notifications above all, which logs
    every event) work through after the seed has finished; measuring while they still do would
    time their backlog. Waits, up to `timeout`, until the queues the platform consumes are empty:
    not a queue nobody consumes (a partner's), nor an RPC client's reply queue (late replies to
    calls that timed out stay there until the client is next used)."""
    broker = Broker(platform.amqp_uri)
    vhost = platform.amqp_uri.rsplit("/", 1)[1]
    started = time.monotonic()
    while True:
        queues = requests.get(f"{broker.api}/queues/{vhost}", auth=broker.auth, timeout=10).json()
        waiting = {queue["name"]: queue["messages"] for queue in queues
                   if queue.get("messages") and queue.get("consumers") and not queue["name"].startswith("rpc.reply-")}
        elapsed = time.monotonic() - started
        if not waiting or elapsed > timeout:
            break
        if int(elapsed) % 30 < 5:
            print(f"  waiting for {sum(waiting.values())} queued events ({', '.join(sorted(waiting))})", flush=True)
        time.sleep(5)
    queued = sum(waiting.values())
    print(f"settled for {elapsed:.0f} s: measuring with {queued} events still queued", flush=True)
    return queued


class Bench:
    def __init__(self, platform, args, city):
        self.platform, self.args, self.city = platform, args, city
        self.staff_token = platform.token(tenant=TENANT, subject="bench-operator", grants=("sensitive_tags",))
        self.staff = platform.client(tenant=TENANT, subject="bench-operator", grants=("sensitive_tags",))

    def ghz(self, method, data, total, concurrency, token=None):
        """rps, p50 and p99 in ms, errors; or, when no call succeeded, what they failed with."""
        service, _, name = method.partition("/")
        package = service.rsplit(".", 1)[0]
        proto = ROOT / f"protos/{package.replace('.', '/')}/{package.split('.')[1]}.proto"
        answer = subprocess.run(
            [ghz_binary(), "--insecure", "--proto", str(proto), "--import-paths", str(ROOT / "protos"),
             "--call", f"{service}.{name}", "--data", json.dumps(data), "--metadata",
             json.dumps({"authorization": f"Bearer {token or self.staff_token}"}), "--total", str(total),
             "--concurrency", str(concurrency), "--format", "json", self.platform.address],
            capture_output=True, text=True)
        if answer.returncode:
            return f"ghz failed: {answer.stderr.strip()[:80]}"
        report = json.loads(answer.stdout)
        codes = report.get("statusCodeDistribution") or {}
        errors = sum(count for code, count in codes.items() if code != "OK")
        percentiles = {p["percentage"]: p["latency"] / 1e6 for p in report.get("latencyDistribution") or []}
        if not percentiles:
            return "all failed: " + ", ".join(f"{count} {code}" for code, count in codes.items())
        return {"rps": report["rps"], "p50_ms": percentiles[50], "p99_ms": percentiles[99], "errors": errors}

    # Lists and queues

    def lists(self):
        city, community = self.city.city, self.city.communities[0]
        inbox_tokens = {place: self.platform.token(tenant=TENANT, role="resident", scope=(), subject=subject)
                        for place, subject in self.city.inbox_subjects.items()}
        lists = [
            ("residents tagged elderly", "civicgrid.residents.v1.Residents/ListResidents",
             lambda node: {"node_id": node, "tags": ["elderly"]}),
            ("households below a node", "civicgrid.residents.v1.Residents/ListHouseholds",
             lambda node: {"node_id": node}),
            ("tickets, overdue first", "civicgrid.tickets.v1.Tickets/ListTickets",
             lambda node: {"queue": "SCOPE", "node_id": node}),
            ("volunteers", "civicgrid.volunteers.v1.Volunteers/ListVolunteers", lambda node: {"node_id": node}),
            ("tasks", "civicgrid.volunteers.v1.Volunteers/ListTasks", lambda node: {"node_id": node}),
        ]
        rows = []
        for label, method, request in lists:
            rows += self.list_rows(label, method, {"community": request(community), "city": request(city)},
                                   {"community": self.staff_token, "city": self.staff_token})
        # A building is a building in a community or a city: the first community's first
        # building against the last community's last, in the city's store either way.
        rows += self.list_rows("flats of a building", "civicgrid.grids.v1.Grids/ListFlats",
                               {"community": {"building_id": self.city.buildings[0][0]},
                                "city": {"building_id": self.city.buildings[-1][-1]}},
                               {"community": self.staff_token, "city": self.staff_token})
        # An inbox is a person's: one of the first community's residents against one of the last's.
        rows += self.list_rows("inbox of a resident",
                               "civicgrid.notifications.v1.Notifications/ListInbox",
                               {"community": {}, "city": {}}, inbox_tokens)
        rows.append(self.open_tasks_row())
        return rows

    def list_rows(self, label, method, requests, tokens):
        """A first-page row and a deep-page row, each measured for the community and the city."""
        first, deep, reached = {}, {}, {}
        for place, request in requests.items():
            first[place] = self.ghz(method, request, self.args.list_calls, LIST_CONCURRENCY, tokens[place])
            try:
                token, reached[place] = self.page_token(method, request, tokens[place])
            except grpc.RpcError as error:
                deep[place] = f"paging failed: {error.code().name}"
                continue
            deep[place] = (self.ghz(method, {**request, "page_token": token}, self.args.list_calls,
                                    LIST_CONCURRENCY, tokens[place]) if token else "one page only")
        return [list_row(f"{label}: page 1", first, {}),
                list_row(f"{label}: page {DEEP_PAGE}", deep, reached)]

    def page_token(self, method, request, token):
        """The token of page DEEP_PAGE, or of the last page when there are fewer; and its number."""
        client = Gateway(self.platform.address, token)
        page_token, page = "", 1
        while page < DEEP_PAGE:
            following = client.call(method, {**request, "page_token": page_token}, timeout=60).get(
                "next_page_token", "")
            if not following:
                break
            page_token, page = following, page + 1
        return page_token, page

    def open_tasks_row(self):
        """ListOpenTasks has no node or page: it scans the tenant's open tasks for what the calling
        volunteer qualifies for, so only the city is measured."""
        token = self.platform.token(tenant=TENANT, role="volunteer", scope=(), subject=ALL_ROUNDER)
        figures = self.ghz("civicgrid.volunteers.v1.Volunteers/ListOpenTasks", {}, self.args.list_calls,
                           LIST_CONCURRENCY, token)
        return list_row("open tasks of a volunteer (tenant-wide)", {"community": "—", "city": figures}, {},
                        compare=False)

    # Figures

    def figures(self):
        now = datetime.now(timezone.utc)
        period = {"start_time": rfc3339(now - timedelta(days=30)), "end_time": rfc3339(now + timedelta(days=1))}
        rows = []
        for label, method, extra in (("node figures", "civicgrid.grids.v1.Grids/GetNodeFigures", {}),
                                     ("ticket figures (30 days)", "civicgrid.tickets.v1.Tickets/GetTicketFigures",
                                      period)):
            measured = {place: self.ghz(method, {"node_id": node, **extra}, self.args.figure_calls, 1)
                        for place, node in (("community", self.city.communities[0]), ("city", self.city.city))}
            met = all(isinstance(measured[p], dict) and not measured[p]["errors"]
                      and measured[p]["p50_ms"] <= FIGURES_MS[p] for p in measured)
            rows.append((f"{label}: p50, one at a time", latency_cell(measured["community"], p99=False),
                         latency_cell(measured["city"], p99=False),
                         f"≤{FIGURES_MS['community']} / ≤{FIGURES_MS['city']} ms", yes(met)))
        return rows

    # Reads and creates

    def throughput(self):
        total, concurrency = self.args.throughput_calls, THROUGHPUT_CONCURRENCY
        resident = Retrying(self.staff).call("civicgrid.residents.v1.Residents/ListResidents", {
            "node_id": self.city.communities[0], "page_size": 1})["residents"][0]["id"]
        community = self.city.communities[0]
        floors = {
            "store": store_floor(self.platform.mongo_uri, f"{self.platform.db_prefix}residents", "residents",
                                 resident, total, concurrency),
            "broker": broker_floor(self.platform.amqp_uri, total, concurrency),
        }
        floor = {"rps": 1 / (1 / floors["store"]["rps"] + 1 / floors["broker"]["rps"]),
                 "p50_ms": floors["store"]["p50_ms"] + floors["broker"]["p50_ms"]}
        caller = Caller(subject="bench-operator", tenant=TENANT, role="city_operator", scope=("*",),
                        grants=("sensitive_tags",)).model_dump(mode="json")
        building = {"kind": "BUILDING", "parent_id": self.city.write_grid}
        calls = [
            ("read GetNode", "civicgrid.grids.v1.Grids/GetNode", "grids", "get_node",
             {"id": community}, lambda n: {"id": community}, READS_PER_SECOND),
            ("read GetResident", "civicgrid.residents.v1.Residents/GetResident", "residents", "get_resident",
             {"id": resident}, lambda n: {"id": resident}, READS_PER_SECOND),
            ("create CreateNode BUILDING", "civicgrid.grids.v1.Grids/CreateNode", "grids", "create_node",
             {**building, "display_name": "Gateway {{.RequestNumber}}"},
             lambda n: {**building, "display_name": f"Direct {n}"}, CREATES_PER_SECOND),
            ("create CreateHousehold", "civicgrid.residents.v1.Residents/CreateHousehold", "residents",
             "create_household", {"flat_id": self.city.write_flat, "display_name": "Gateway {{.RequestNumber}}"},
             lambda n: {"flat_id": self.city.write_flat, "display_name": f"Direct {n}"}, CREATES_PER_SECOND),
        ]
        rows = []
        for label, method, service, rpc, data, direct_request, target in calls:
            via = self.ghz(method, data, total, concurrency)
            try:
                direct = run_direct(self.platform.amqp_uri, service, rpc, direct_request, caller, total, concurrency)
            except Exception as error:  # every direct call failed: there is no latency to show
                direct = f"direct failed: {type(error).__name__}"
            rows.append(throughput_row(label, via, direct, floor, target))
        for name, figures in floors.items():
            rows.append((f"floor: {'store find_one by _id' if name == 'store' else 'broker request/reply'}",
                         f"{figures['rps']:.0f}", "", f"{figures['p50_ms']:.2f}", "", "", "", "", ""))
        rows.append(("floor: store + broker", f"{floor['rps']:.0f}", "", f"{floor['p50_ms']:.2f}",
                     "", "", "", "", ""))
        return rows

    # Memory

    def memory(self):
        rows = []
        for name in (*SERVICES, "gateway"):
            pid = self.platform.pid(name)
            megabytes = resident_megabytes(pid) if pid else None
            rows.append((f"memory {name} (VmRSS after the run)", "",
                         f"{megabytes:.0f} MB" if megabytes is not None else "not running",
                         f"≤{RSS_MB} MB", yes(megabytes is not None and megabytes <= RSS_MB)))
        return rows


def list_row(label, measured, reached, compare=True):
    """One table row: p50/p99 per place and whether the targets hold, the city's p50 within
    CITY_OVER_COMMUNITY of the community's."""
    ran = {place: figures for place, figures in measured.items() if isinstance(figures, dict)}
    met = bool(ran) and all(not f["errors"] and f["p50_ms"] <= LIST_P50_MS and f["p99_ms"] <= LIST_P99_MS
                            for f in ran.values())
    target = f"p50≤{LIST_P50_MS}, p99≤{LIST_P99_MS} ms"
    if compare:
        target += f", city≤{CITY_OVER_COMMUNITY:g}×"
        met = met and len(ran) == 2 and ran["city"]["p50_ms"] <= CITY_OVER_COMMUNITY * ran["community"]["p50_ms"]
    cells = []
    for place in ("community", "city"):
        cell = latency_cell(measured[place])
        if 1 < reached.get(place, DEEP_PAGE) < DEEP_PAGE:
            cell += f" (page {reached[place]}: the last)"
        cells.append(cell)
    return (label, *cells, target, yes(met))


def latency_cell(figures, p99=True):
    """p50 (and p99) in ms; or why there is no figure: the measure failed, or has nothing to measure."""
    if isinstance(figures, str):
        return figures
    text = f"{figures['p50_ms']:.0f}" + (f" / {figures['p99_ms']:.0f} ms" if p99 else " ms")
    return text + (f", {figures['errors']} errors" if figures["errors"] else "")


def throughput_row(label, via, direct, floor, target):
    if isinstance(via, str) or isinstance(direct, str):
        shown = [figures if isinstance(figures, str) else f"{figures['p50_ms']:.1f}" for figures in (via, direct)]
        return (label, "", f"≥{target}", *shown, "", "", "", yes(False))
    ratio = via["p50_ms"] / direct["p50_ms"]
    met = not via["errors"] and via["rps"] >= target and ratio <= GATEWAY_OVER_DIRECT
    return (label, f"{via['rps']:.0f}" + (f" ({via['errors']} errors)" if via["errors"] else ""), f"≥{target}",
            f"{via['p50_ms']:.1f}", f"{direct['p50_ms']:.1f}", f"{ratio:.2f} (≤{GATEWAY_OVER_DIRECT})",
            f"{via['rps'] / floor['rps']:.2f}", f"{via['p50_ms'] / floor['p50_ms']:.1f}", yes(met))


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def resident_megabytes(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def yes(met):
    return "yes" if met else "NO"


def print_table(headers, rows):
    widths = [max(len(str(row[i])) for row in (headers, *rows)) for i in range(len(headers))]
    line = "  ".join("-" * width for width in widths)
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths)))
    print(line)
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))


def keep_notice(platform, broker):
    secret_file = platform.state_dir / "jwt-secret"
    secret_file.write_text(platform.secret)
    secret_file.chmod(0o600)
    print(f"\nkept: gateway {platform.address}, tenant {TENANT}, databases {platform.db_prefix}*, "
          f"vhost {broker.vhost}\n  tokens: CIVICGRID_JWT_SECRET=$(cat {secret_file})\n"
          f"  stop: .venv/bin/python scripts/devstack.py down --state-dir {platform.state_dir}")


if __name__ == "__main__":
    main()
