#!/usr/bin/env python3
"""Times a community import from CSV through the real gateway and services.

    .venv/bin/python bench/registry_import_bench.py [--residents 6812 --households 2911 --buildings 86]

Starts its own platform (scripts/devstack.py, private RabbitMQ vhost and database prefix, on the
servers named by AMQP_URI and MONGO_URI), writes a synthetic community CSV of the given size
(the default is the real community in shared/DOMAIN.md: 10 grids, 86 buildings, 2,911
households, 6,812 people), imports it with `cli.importer.import_csv`, re-imports it (which
must write nothing), checks the figures, and tears everything down.
"""
import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

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
    return parser.parse_args()


def build_community(client, grids, buildings):
    def node(kind, name, parent=""):
        return client.call(f"{GRIDS}/CreateNode", {"kind": kind, "display_name": name, "parent_id": parent})["id"]
    city = node("CITY", "Bench City")
    community = node("COMMUNITY", "Bench Community", node("STREET", "Bench Street", city))
    grid_ids = [node("GRID", f"Grid {g + 1}", community) for g in range(grids)]
    building_map = {f"{b + 1}号楼": node("BUILDING", f"{b + 1}号楼", grid_ids[b % grids]) for b in range(buildings)}
    return community, building_map


def write_csv(path, residents, households, buildings, rng):
    """Households spread over the buildings' flats; residents spread over households, 1 to 6 each."""
    sizes = [1] * households
    for _ in range(residents - households):
        sizes[rng.randrange(households)] += 1
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        serial = 0
        for h, size in enumerate(sizes):
            building, flat = f"{h % buildings + 1}号楼", h // buildings
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
                    "", rng.choice(["FEMALE", "MALE"]), with_check_digit(f"110101{born}{serial % 1000:03d}"),
                    f"13{rng.randint(0, 9)}{serial:08d}", ";".join(tags)])


def main():
    args = parse_args()
    with tempfile.TemporaryDirectory() as state, private_platform(state) as platform:
        client = platform.client(tenant="bench")
        community, building_map = build_community(client, args.grids, args.buildings)
        csv_path = Path(state) / "community.csv"
        write_csv(csv_path, args.residents, args.households, args.buildings, random.Random(7))

        started = time.perf_counter()
        first = import_csv(client, csv_path, building_map, progress=sys.stderr)
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = import_csv(client, csv_path, building_map, progress=sys.stderr)
        again_seconds = time.perf_counter() - started
        started = time.perf_counter()
        figures = client.call(f"{GRIDS}/GetNodeFigures", {"node_id": community})
        figures_ms = (time.perf_counter() - started) * 1000
    print(json.dumps({
        "residents_in_file": args.residents, "households_in_file": args.households,
        "first_import": {key: first[key] for key in first if key != "errors"} | {
            "errors": len(first["errors"]), "seconds": round(first_seconds, 1),
            "residents_per_second": round(first["residents_created"] / first_seconds)},
        "re_import": {key: again[key] for key in again if key != "errors"} | {"seconds": round(again_seconds, 1)},
        "community_figures": {key: figures.get(key) for key in ("buildings", "flats", "households", "residents")},
        "figures_ms": round(figures_ms, 1),
    }, ensure_ascii=False, indent=2))
    return 0 if not first["errors"] and int(figures["residents"]) == args.residents else 1


if __name__ == "__main__":
    sys.exit(main())
