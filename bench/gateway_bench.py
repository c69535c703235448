"""What the gateway costs: ghz load on a read and a write of the vertical slice, and the
same calls made directly over Nameko RPC, side by side.

    make up && make bench          # or: .venv/bin/python bench/gateway_bench.py --total 2000

Needs ghz (`go install github.com/bojand/ghz/cmd/ghz@v0.121.0`; installed on first use).
Prints requests per second, p50 and p99 latency and errors, and the gateway/direct ratios.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.api import Gateway, demo_token  # noqa: E402
from gateway.backends import RpcPool  # noqa: E402
from services.access import Caller  # noqa: E402

GHZ_MODULE = "github.com/bojand/ghz/cmd/ghz@v0.121.0"


def ghz_binary():
    found = shutil.which("ghz") or (Path(os.popen("go env GOPATH").read().strip() or "~/go") / "bin/ghz")
    if not Path(found).exists():
        subprocess.run(["go", "install", GHZ_MODULE], check=True, env={**os.environ, "GOTOOLCHAIN": "local"})
    return str(found)


def run_ghz(address, token, method, data, total, concurrency):
    output = subprocess.run(
        [ghz_binary(), "--insecure", "--proto", str(ROOT / method["proto"]), "--import-paths", str(ROOT / "protos"),
         "--call", method["name"], "--data", json.dumps(data), "--metadata",
         json.dumps({"authorization": f"Bearer {token}"}), "--total", str(total),
         "--concurrency", str(concurrency), "--format", "json", address],
        check=True, capture_output=True, text=True).stdout
    report = json.loads(output)
    percentiles = {p["percentage"]: p["latency"] / 1e6 for p in report.get("latencyDistribution") or []}
    errors = sum(report.get("statusCodeDistribution", {}).get(code, 0)
                 for code in report.get("statusCodeDistribution", {}) if code != "OK")
    return {"rps": report["rps"], "p50_ms": percentiles.get(50), "p99_ms": percentiles.get(99), "errors": errors}


def run_direct(amqp_uri, service, method, make_request, caller, total, concurrency):
    pool = RpcPool(amqp_uri, size=concurrency)
    latencies, errors = [], 0

    def one(number):
        started = time.perf_counter()
        pool.call(service, method, 10, caller, make_request(number))
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as executor:
        for future in [executor.submit(one, n) for n in range(total)]:
            try:
                latencies.append(future.result())
            except Exception:
                errors += 1
    elapsed = time.perf_counter() - started
    pool.close()
    latencies.sort()
    return {"rps": total / elapsed, "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1], "errors": errors}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default="127.0.0.1:50051")
    parser.add_argument("--total", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    amqp_uri = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    tenant = f"bench-{uuid.uuid4().hex[:6]}"
    token = demo_token(tenant=tenant)
    caller = Caller(subject="bench", tenant=tenant, role="city_operator", scope=("*",)).model_dump(mode="json")
    city = Gateway(args.gateway, token).call("civicgrid.grids.v1.Grids/CreateNode",
                                             {"kind": "CITY", "display_name": "Bench City"})
    grids_proto = {"proto": "protos/civicgrid/grids/v1/grids.proto"}
    read = {**grids_proto, "name": "civicgrid.grids.v1.Grids.GetNode"}
    write = {**grids_proto, "name": "civicgrid.grids.v1.Grids.CreateNode"}
    results = {
        "read GetNode via gateway": run_ghz(args.gateway, token, read, {"id": city["id"]}, args.total, args.concurrency),
        "read get_node direct RPC": run_direct(amqp_uri, "grids", "get_node", lambda n: {"id": city["id"]},
                                               caller, args.total, args.concurrency),
        "write CreateNode via gateway": run_ghz(
            args.gateway, token, write,
            {"kind": "STREET", "display_name": "Street {{.RequestNumber}}", "parent_id": city["id"]},
            args.total, args.concurrency),
        "write create_node direct RPC": run_direct(
            amqp_uri, "grids", "create_node",
            lambda n: {"kind": "STREET", "display_name": f"Direct {n}", "parent_id": city["id"]},
            caller, args.total, args.concurrency),
    }
    print(f"{'':32} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, figures in results.items():
        print(f"{name:32} {figures['rps']:8.1f} {figures['p50_ms']:8.2f} {figures['p99_ms']:8.2f} {figures['errors']:7d}")
    for kind in ("read", "write"):
        via, direct = [figures for name, figures in results.items() if name.startswith(kind)]
        print(f"{kind}: gateway/direct p50 ratio {via['p50_ms'] / direct['p50_ms']:.2f}, "
              f"rps ratio {via['rps'] / direct['rps']:.2f}")


if __name__ == "__main__":
    main()
