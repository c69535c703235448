#!/usr/bin/env bash
# Local backing services for civicgrid: RabbitMQ and a MongoDB-compatible
# server (FerretDB v1 on PostgreSQL, or on SQLite with CIVICGRID_FERRETDB_BACKEND=sqlite).
#
#   eval "$(scripts/servers.sh up)"   # start what is missing; prints
#                                     #   export MONGO_URI=... / export AMQP_URI=...
#   scripts/servers.sh status         # what runs, and who started it
#   scripts/servers.sh down           # stop only what `up` started
#
# Optional: `up|down|status mongo|rabbitmq` acts on one service only.
#
# Environment:
#   MONGO_URI / AMQP_URI    already set: used as is, nothing is installed or
#                           started for that service.
#   CIVICGRID_MONGO_PORT    port for FerretDB (default 27017).
#   CIVICGRID_AMQP_PORT     port for RabbitMQ (default 5672); its management
#                           API is on CIVICGRID_AMQP_MGMT_PORT (default
#                           AMQP port + 10000, i.e. 15672).
#   CIVICGRID_FERRETDB_BACKEND  postgresql (default; Debian's postgresql, data in
#                           .run/postgres, port CIVICGRID_PG_PORT=54329) or sqlite.
#   FERRETDB_BIN            FerretDB binary to use/build (default
#                           $(go env GOPATH)/bin/ferretdb).
#
# State lives in .run/ (git-ignored): .run/servers/ (pids, markers, logs) and
# .run/postgres or .run/ferretdb-data/ (the data; `down` keeps it). Non-default ports
# get their own files, so run `down` with the same CIVICGRID_*_PORT as `up`.
# Progress goes to stderr; stdout carries only the export lines.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIB_DIR="$ROOT/scripts/lib"
RUN_DIR="$ROOT/.run/servers"

# shellcheck source=scripts/lib/common.sh
source "$LIB_DIR/common.sh"
# shellcheck source=scripts/lib/postgres.sh
source "$LIB_DIR/postgres.sh"
# shellcheck source=scripts/lib/ferretdb.sh
source "$LIB_DIR/ferretdb.sh"
# shellcheck source=scripts/lib/rabbitmq.sh
source "$LIB_DIR/rabbitmq.sh"

usage() {
  sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

services_from_args() {
  local want_mongo=0 want_rabbit=0 a
  if (($# == 0)); then
    want_mongo=1 want_rabbit=1
  fi
  for a in "$@"; do
    case "$a" in
      mongo | mongodb | ferretdb) want_mongo=1 ;;
      rabbit | rabbitmq | amqp) want_rabbit=1 ;;
      *) usage; die "unknown service: $a" ;;
    esac
  done
  WANT_MONGO=$want_mongo WANT_RABBIT=$want_rabbit
}

cmd_up() {
  services_from_args "$@"
  mkdir -p "$RUN_DIR"
  local mongo_uri="" amqp_uri=""
  if ((WANT_RABBIT)); then amqp_uri=$(rabbit_up); fi
  if ((WANT_MONGO)); then mongo_uri=$(mongo_up); fi
  if ((WANT_MONGO)); then printf 'export MONGO_URI=%q\n' "$mongo_uri"; fi
  if ((WANT_RABBIT)); then printf 'export AMQP_URI=%q\n' "$amqp_uri"; fi
}

cmd_down() {
  services_from_args "$@"
  if ((WANT_MONGO)); then mongo_down; fi
  if ((WANT_RABBIT)); then rabbit_down; fi
}

cmd_status() {
  services_from_args "$@"
  if ((WANT_MONGO)); then mongo_status; fi
  if ((WANT_RABBIT)); then rabbit_status; fi
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    -h | --help | help) usage ;;
    *) usage; die "unknown command: ${cmd:-<none>}" ;;
  esac
}

main "$@"
