#!/usr/bin/env python3
"""Times a community import from CSV through the real gateway and services.

    .venv/bin/python bench/registry_import_bench.py [--residents 6812 --households 2911 --buildings 86]
    .venv/bin/python bench/registry_import_bench.py --communities 15   # a city of ~100,000 people

Starts its own platform (scripts/devstack.py, private RabbitMQ vhost and database prefix, on the
servers named by AMQP_URI and MONGO_URI), writes a synthetic CSV of the given size (the default
is one real community from shared/DOMAIN.md: 10 grids, 86 buildings, 2,911 households, 6,812
people; `--communities N` makes a city of N such communities), imports it with
`cli.importer.import_csv`, re-imports it (which must write nothing), checks the figures, times
them for a community and the city, and tears everything down.
"""
import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.importer import COLUMNS, import_csv  # noqa: E402
from services.residents.pii import with_check_digit  # noqa: E402
from tests.conftest import private_platform  # noqa: E402

GRIDS = "civicgrid.grids.v1.Grids"
FAMILY_NAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN_NAMES = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=6812)
    parser.add_argument("--households", type=int, default=2911)
    parser.add_argument("--buildings", type=int, default=86)
    parser.add_argument("--grids", type=int, default=10)
    parser.add_argument("--communities", type=int, default=1, help="communities of the size above")
    return parser.parse_args()


def build_city(client, communities, grids, buildings):
    """(city id, community ids, {building label: building id})."""
    def node(kind, name, parent=""):
        return client.call(f"{GRIDS}/CreateNode", {"kind": kind, "display_name": name, "parent_id": parent})["id"]
    city = node("CITY", "Bench City")
    street = node("STREET", "Bench Street", city)
    community_ids, building_map = [], {}
    for c in range(communities):
        community = node("COMMUNITY", f"Community {c + 1}", street)
        grid_ids = [node("GRID", f"Grid {g + 1}", community) for g in range(grids)]
        building_map |= {f"{c + 1}区{b + 1}号楼": node("BUILDING", f"{b + 1}号楼", grid_ids[b % grids])
                         for b in range(buildings)}
        community_ids.append(community)
    return city, community_ids, building_map


def write_csv(path, residents, households, buildings, rng):
    """Households spread over the buildings' flats, listed building by building as a community's
    register is; residents spread over households, 1 to 6 each."""
    sizes = [1] * households
    for _ in range(residents - households):
        sizes[rng.randrange(households)] += 1
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        serial = 0
        flats_listed = {}
        for h, size in enumerate(sizes):
            building = buildings[h * len(buildings) // households]
            flat = flats_listed[building] = flats_listed.get(building, -1) + 1
            floor, unit = flat // 4 + 1, str(flat % 2 + 1)
            family = FAMILY_NAMES[h % len(FAMILY_NAMES)]
            for member in range(size):
                serial += 1
                year = rng.randint(1935, 2020)
                born = f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
                tags = ["elderly"] + (["living_alone"] if size == 1 else []) if year < 1960 else []
                writer.writerow([
                    building, unit, floor, f"{floor}0{flat % 4 + 1}", "OWNER_OCCUPIED", f"{family}家{h}",
                    family + rng.choice(GIVEN_NAMES) + rng.choice(GIVEN_NAMES), "head" if member == 0 else "other",
                    "", rng.choice(["FEMALE", "MALE"]), with_check_digit(f"{110101 + serial // 1000}{born}{serial % 1000:03d}"),
                    f"13{rng.randint(0, 9)}{serial:08d}", ";".join(tags)])


def main():
    args = parse_args()
    with tempfile.TemporaryDirectory() as state, private_platform(state) as platform:
        client = platform.client(tenant="bench")
        city, communities, building_map = build_city(client, args.communities, args.grids, args.buildings)
        csv_path = Path(state) / "community.csv"
        residents = args.residents * args.communities
        write_csv(csv_path, residents, args.households * args.communities, list(building_map), random.Random(7))

        started = time.perf_counter()
        first = import_csv(client, csv_path, building_map, progress=sys.stderr)
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = import_csv(client, csv_path, building_map, progress=sys.stderr)
        again_seconds = time.perf_counter() - started
        report = {
            "residents_in_file": residents, "households_in_file": args.households * args.communities,
            "first_import": {key: first[key] for key in first if key != "errors"} | {
                "errors": len(first["errors"]), "seconds": round(first_seconds, 1),
                "residents_per_second": round(first["residents_created"] / first_seconds)},
            "re_import": {key: again[key] for key in again if key != "errors"} | {"seconds": round(again_seconds, 1)},
        }
        print(json.dumps(report, ensure_ascii=False, indent=2), flush=True)
        figures = {"community": timed_figures(client, communities[0]), "city": timed_figures(client, city)}
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    counted = figures["city"].get("residents")
    return 0 if not first["errors"] and counted is not None and int(counted) == residents else 1


def timed_figures(client, node_id):
    """The node's counts and how long they took, or the error that came instead."""
    started = time.perf_counter()
    try:
        figures = client.call(f"{GRIDS}/GetNodeFigures", {"node_id": node_id}, timeout=60)
        shown = {key: figures.get(key) for key in ("buildings", "flats", "households", "residents")}
    except grpc.RpcError as error:
        shown = {"error": f"{error.code().name}: {error.details()}"}
    return shown | {"ms": round((time.perf_counter() - started) * 1000, 1)}


if __name__ == "__main__":
    sys.exit(main())
