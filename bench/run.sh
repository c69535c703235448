#!/usr/bin/env bash
# Runs every benchmark with its defaults, or only the one named with the arguments after it
# (`bench/run.sh speed_bench --quick`); each prints its own figures. gateway_bench.py measures
# the platform `make up` started; the others start a private stack of their own.
set -euo pipefail
cd "$(dirname "$0")/.."
benches=(bench/*_bench.py)
if [ $# -gt 0 ]; then
  benches=("bench/${1%.py}.py")
  shift
fi
for bench in "${benches[@]}"; do
  if [ "$bench" = bench/gateway_bench.py ] && [ ! -f .run/stack/pids.json ]; then
    echo "start the platform first: make up" >&2
    exit 1
  fi
  echo "== $bench"
  .venv/bin/python "$bench" "$@"
done
