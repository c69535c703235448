#!/usr/bin/env bash
# Runs every benchmark with its defaults; each prints its own figures. gateway_bench.py measures
# the platform `make up` started; the others start a private stack of their own.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .run/stack/pids.json ] || { echo "start the platform first: make up" >&2; exit 1; }
for bench in bench/*_bench.py; do
  echo "== $bench"
  .venv/bin/python "$bench"
done
