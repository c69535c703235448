# shellcheck shell=bash
# MongoDB-compatible server for scripts/servers.sh: FerretDB v1 with its PostgreSQL
# (default) or SQLite backend. Needs lib/common.sh, lib/postgres.sh, ROOT, RUN_DIR and LIB_DIR.

FERRETDB_VERSION=v1.24.2
FERRETDB_MODULE=github.com/FerretDB/FerretDB
MONGO_HOST=127.0.0.1
MONGO_PORT=${CIVICGRID_MONGO_PORT:-27017}
if [[ "$MONGO_PORT" == 27017 ]]; then _sfx=""; else _sfx="-$MONGO_PORT"; fi
FERRET_DATA="$ROOT/.run/ferretdb-data$_sfx"
FERRET_STATE="$RUN_DIR/ferretdb-state$_sfx"
FERRET_LOG="$RUN_DIR/ferretdb$_sfx.log"
FERRET_PIDFILE="$RUN_DIR/ferretdb$_sfx.pid"
unset _sfx
FERRET_TIMEOUT=${CIVICGRID_FERRET_TIMEOUT:-60}
# postgresql (default, see lib/postgres.sh for why) or sqlite.
FERRET_BACKEND=${CIVICGRID_FERRETDB_BACKEND:-postgresql}

mongo_default_uri() { printf 'mongodb://%s:%s/' "$MONGO_HOST" "$MONGO_PORT"; }

# mongo_ping: a real `ping` command when python3 is around, else a port check.
mongo_ping() {
  local py
  if py=$(find_python); then
    "$py" "$LIB_DIR/mongo_ping.py" "$MONGO_HOST" "$MONGO_PORT" 2
  else
    port_open "$MONGO_HOST" "$MONGO_PORT"
  fi
}

# Pid of the FerretDB we started, if it is still alive.
ferret_our_pid() {
  pid_alive "$FERRET_PIDFILE" || return 1
  local pid
  pid=$(<"$FERRET_PIDFILE")
  # Guard against a recycled pid.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q ferretdb || return 1
  printf '%s' "$pid"
}

# Where the binary is cached: $(go env GOPATH)/bin/ferretdb (or FERRETDB_BIN).
ferret_bin_path() {
  if [[ -n "${FERRETDB_BIN:-}" ]]; then
    printf '%s' "$FERRETDB_BIN"
    return
  fi
  local gopath=""
  if command -v go >/dev/null 2>&1; then
    gopath=$(GOTOOLCHAIN=local go env GOPATH 2>/dev/null || true)
  fi
  gopath=${gopath%%:*}
  printf '%s/bin/ferretdb' "${gopath:-$HOME/go}"
}

ferret_bin_ok() {
  # The output is read whole before it is searched: `--version | grep -q` under pipefail fails
  # whenever grep exits on its match before ferretdb has written its last line (SIGPIPE), which
  # a loaded machine makes happen, and a good binary is then rebuilt and refused.
  local reported
  [[ -x "$1" ]] && reported=$("$1" --version 2>/dev/null) && grep -qx "version: $FERRETDB_VERSION" <<<"$reported"
}

# Build FerretDB into $1.
#
# Why not plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`:
#  * the binary it makes panics at start-up ("Invalid build/version/version.txt
#    file content"): v1's build/version package wants a generated version.txt,
#    which the module zip does not contain;
#  * `go install pkg@version` also asks the proxy for the module's version list
#    (deprecation check), which some proxies/mirrors refuse.
# So: `go mod download` the module, copy it, write version.txt, `go build`.
ferret_build() {
  local out=$1
  if ! command -v go >/dev/null 2>&1; then
    die "FerretDB $FERRETDB_VERSION is not built and Go is missing: install Go >= 1.24 (from go.dev/dl; Debian bookworm's golang package is 1.19, too old) and re-run, or set MONGO_URI to a MongoDB you have"
  fi
  local gov
  gov=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null || echo unknown)
  if [[ "$gov" =~ ^go1\.([0-9]+) ]] && ((BASH_REMATCH[1] < 24)); then
    die "FerretDB $FERRETDB_VERSION needs Go >= 1.24 to build, found $gov: install Go >= 1.24 from go.dev/dl (Debian bookworm's golang package is 1.19, too old), or set MONGO_URI"
  fi
  local tmp build_log="$RUN_DIR/ferretdb-build.log"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferretdb-build.XXXXXX")
  log "building FerretDB $FERRETDB_VERSION with $gov (a few minutes the first time; log: $build_log)"
  local dir
  if ! dir=$(cd "$tmp" && GOTOOLCHAIN=local GOFLAGS="" go mod download -json "$FERRETDB_MODULE@$FERRETDB_VERSION" 2>>"$build_log" \
      | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || [[ -z "$dir" ]]; then
    rm -rf "$tmp"
    tail -n 20 "$build_log" >&2
    die "go mod download $FERRETDB_MODULE@$FERRETDB_VERSION failed (is the Go module proxy reachable?)"
  fi
  cp -r "$dir" "$tmp/src"
  chmod -R u+w "$tmp/src"
  echo "$FERRETDB_VERSION" >"$tmp/src/build/version/version.txt"
  echo "civicgrid-source" >"$tmp/src/build/version/package.txt"
  mkdir -p "$(dirname "$out")"
  if ! (cd "$tmp/src" && GOTOOLCHAIN=local GOFLAGS=-buildvcs=false go build -o "$out.tmp" ./cmd/ferretdb) >>"$build_log" 2>&1; then
    rm -rf "$tmp" "$out.tmp"
    tail -n 20 "$build_log" >&2
    die "building FerretDB failed; see $build_log"
  fi
  mv -f "$out.tmp" "$out"
  rm -rf "$tmp"
  ferret_bin_ok "$out" || die "the FerretDB binary built at $out does not report version $FERRETDB_VERSION"
  log "FerretDB built: $out"
}

ferret_start() {
  local bin
  bin=$(ferret_bin_path)
  if ! ferret_bin_ok "$bin"; then
    ferret_build "$bin"
  fi
  mkdir -p "$FERRET_DATA" "$FERRET_STATE"
  local backend=(--handler=sqlite --sqlite-url="file:$FERRET_DATA/")
  if [[ "$FERRET_BACKEND" == postgresql ]]; then
    pg_up
    backend=(--handler=postgresql --postgresql-url="$(pg_url)")
  fi
  log "starting FerretDB $FERRETDB_VERSION ($FERRET_BACKEND backend) on $MONGO_HOST:$MONGO_PORT; log: $FERRET_LOG"
  # stdio must not stay attached to our caller's $(...), or eval "$(...)" hangs.
  setsid "$bin" \
    "${backend[@]}" \
    --listen-addr="$MONGO_HOST:$MONGO_PORT" \
    --state-dir="$FERRET_STATE" \
    --debug-addr=- \
    --telemetry=disable \
    --log-level=warn \
    </dev/null >>"$FERRET_LOG" 2>&1 &
  echo $! >"$FERRET_PIDFILE"
}

ferret_wait_ready() {
  log "waiting for FerretDB to answer ping (up to ${FERRET_TIMEOUT}s)"
  local deadline=$((SECONDS + FERRET_TIMEOUT))
  until mongo_ping; do
    if ! ferret_our_pid >/dev/null; then
      tail -n 20 "$FERRET_LOG" >&2 || true
      rm -f "$FERRET_PIDFILE"
      die "FerretDB exited during start-up; see $FERRET_LOG"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 20 "$FERRET_LOG" >&2 || true
      die "FerretDB did not answer ping on $MONGO_HOST:$MONGO_PORT within ${FERRET_TIMEOUT}s; see $FERRET_LOG"
    fi
    sleep 0.3
  done
}

# mongo_up: ensure a MongoDB-compatible server answers; prints the URI.
mongo_up() {
  if [[ -n "${MONGO_URI:-}" ]]; then
    log "MongoDB: using MONGO_URI from the environment"
    printf '%s' "$MONGO_URI"
    return 0
  fi
  if mongo_ping; then
    if ferret_our_pid >/dev/null; then
      log "MongoDB: FerretDB already running (started by us)"
    else
      log "MongoDB: reusing the server already answering on $MONGO_HOST:$MONGO_PORT"
    fi
  elif ferret_our_pid >/dev/null; then
    log "MongoDB: our FerretDB is still starting"
    ferret_wait_ready
  elif port_open "$MONGO_HOST" "$MONGO_PORT"; then
    die "something listens on $MONGO_HOST:$MONGO_PORT but does not answer a MongoDB ping; stop it, set CIVICGRID_MONGO_PORT to another port, or set MONGO_URI"
  else
    rm -f "$FERRET_PIDFILE"
    ferret_start
    ferret_wait_ready
    log "MongoDB: FerretDB ready"
  fi
  mongo_default_uri
}

# True while a FerretDB started by servers.sh on another port still lives: the PostgreSQL
# cluster is shared and must outlive it.
ferret_others_alive() {
  local f
  for f in "$RUN_DIR"/ferretdb*.pid; do
    [[ "$f" != "$FERRET_PIDFILE" ]] && pid_alive "$f" && return 0
  done
  return 1
}

pg_down_unless_shared() {
  if ferret_others_alive; then
    log "PostgreSQL: still used by another FerretDB; leaving it running"
  else
    pg_down
  fi
}

mongo_down() {
  local pid
  if ! pid=$(ferret_our_pid); then
    if [[ -f "$FERRET_PIDFILE" ]]; then
      log "MongoDB: our FerretDB is no longer running"
      rm -f "$FERRET_PIDFILE"
    else
      log "MongoDB: not started by us; leaving it alone"
    fi
    pg_down_unless_shared
    return 0
  fi
  log "MongoDB: stopping FerretDB (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until 15 pid_gone "$pid"; then
    warn "FerretDB (pid $pid) still alive after 15 s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$FERRET_PIDFILE"
  pg_down_unless_shared
}

mongo_status() {
  local who="external" pid
  if pid=$(ferret_our_pid); then who="FerretDB started by servers.sh, pid $pid"; fi
  if [[ -n "${MONGO_URI:-}" ]]; then
    echo "mongodb: MONGO_URI is set in the environment ($MONGO_URI); up uses it"
    return 0
  fi
  if mongo_ping; then
    echo "mongodb: answering ping on $MONGO_HOST:$MONGO_PORT ($who)"
  elif [[ "$who" != external ]]; then
    echo "mongodb: $who, not answering ping yet"
  elif port_open "$MONGO_HOST" "$MONGO_PORT"; then
    echo "mongodb: something listens on $MONGO_HOST:$MONGO_PORT but does not answer ping"
  else
    echo "mongodb: not running"
  fi
}
