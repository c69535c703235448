#!/usr/bin/env bash
# Runs every benchmark against the platform `make up` started; each prints its own figures.
set -euo pipefail
cd "$(dirname "$0")/.."
for bench in bench/*_bench.py; do
  echo "== $bench"
  .venv/bin/python "$bench" "$@"
done
