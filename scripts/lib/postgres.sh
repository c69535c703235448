# shellcheck shell=bash
# PostgreSQL for FerretDB's postgresql backend, for scripts/servers.sh. Needs lib/common.sh,
# ROOT and RUN_DIR.
#
# Why PostgreSQL rather than FerretDB's SQLite backend: measured on this 2-core machine with
# 10,000 documents, FerretDB-on-PostgreSQL answered a find_one by (tenant, request_id) in 14 ms
# against 590 ms on SQLite, a (tenant, path) page in 126 ms against 1.2 s, and an update by _id
# in 11 ms against 150 ms, with every operation civicgrid uses working on both. Neither backend
# keeps concurrent updates of one document (FerretDB v1). On PostgreSQL, ferretdb-gin-indexes.sql
# gives every index FerretDB creates a GIN twin that its equality filters can use.

PG_PORT=${CIVICGRID_PG_PORT:-54329}
PG_DATA="$ROOT/.run/postgres"
PG_LOG="$RUN_DIR/postgres.log"
PG_MARKER="$RUN_DIR/postgres.started"
# A FerretDB process assumes it alone writes its database's metadata, so each has a database of
# its own: the shared one, and one per store that fault tests and benches start on another port.
if [[ "${CIVICGRID_MONGO_PORT:-27017}" == 27017 ]]; then PG_DATABASE=ferretdb; else PG_DATABASE="ferretdb_$CIVICGRID_MONGO_PORT"; fi
# FerretDB v1 hangs for good, every command and ping included, once more requests are in flight
# than its PostgreSQL pool holds (50 by default): requests holding pool connections wait on ones
# that wait for a connection. Its pool is therefore far larger than what the services can have in
# flight (each caps its MongoDB pool, services/storage.py), and PostgreSQL takes full pools for the
# shared store and for the store of a fault test or bench beside it, with room to spare for the
# connections of a store just killed, until PostgreSQL notices they are gone.
FERRET_PG_POOL=200
PG_MAX_CONNECTIONS=1000

pg_url() { printf 'postgres://postgres@127.0.0.1:%s/%s?pool_max_conns=%s' "$PG_PORT" "$PG_DATABASE" "$FERRET_PG_POOL"; }

pg_bin_dir() {
  local dir
  dir=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$dir" ]] && printf '%s' "$dir"
}

# Runs a PostgreSQL tool as the postgres user (root) or as ourselves (non-root installs).
pg_as_owner() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_ensure_installed() {
  [[ -n "$(pg_bin_dir)" ]] && return 0
  log "PostgreSQL not installed; installing Debian's postgresql package"
  apt_install postgresql ||
    die "PostgreSQL is needed for FerretDB's backend: install it (e.g. \`sudo apt-get install postgresql\`), or set MONGO_URI to a MongoDB server"
}

pg_ready() { pg_as_owner "$(pg_bin_dir)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

pg_up() {
  pg_ensure_installed
  local bin
  bin=$(pg_bin_dir)
  if ! pg_ready; then
    pg_start "$bin"
  fi
  if ! pg_as_owner "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'" | grep -q 1; then
    pg_as_owner "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE $PG_DATABASE" >&2
  fi
  pg_as_owner "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$PG_DATABASE" -q -v ON_ERROR_STOP=1 \
    -f "$LIB_DIR/ferretdb-gin-indexes.sql" >&2 || die "the GIN index trigger could not be installed in $PG_DATABASE"
}

pg_start() {
  local bin=$1
  mkdir -p "$PG_DATA" "$RUN_DIR"
  if is_root; then chown postgres:postgres "$PG_DATA"; fi
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    log "initialising a PostgreSQL cluster in ${PG_DATA#"$ROOT"/}"
    pg_as_owner "$bin/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 >>"$PG_LOG" 2>&1 ||
      die "initdb failed; see $PG_LOG"
  fi
  touch "$PG_LOG" && if is_root; then chown postgres:postgres "$PG_LOG"; fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  pg_as_owner "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
    -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=$PG_MAX_CONNECTIONS" start >/dev/null ||
    die "PostgreSQL did not start; see $PG_LOG"
  touch "$PG_MARKER"
}

pg_down() {
  [[ -f "$PG_MARKER" ]] || return 0
  log "stopping PostgreSQL"
  pg_as_owner "$(pg_bin_dir)/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  rm -f "$PG_MARKER"
}
