# shellcheck shell=bash
# RabbitMQ part of scripts/servers.sh. Needs lib/common.sh and RUN_DIR.
#
# We start Debian's rabbitmq-server with `rabbitmq-server -detached` (there is
# no systemd here) and record that in $RUN_DIR/rabbitmq.started, so that
# `down` stops only a broker that `up` started.

AMQP_HOST=127.0.0.1
AMQP_PORT=${CIVICGRID_AMQP_PORT:-5672}
RABBIT_MGMT_PORT=${CIVICGRID_AMQP_MGMT_PORT:-$((AMQP_PORT + 10000))}
RABBIT_MGMT_URL="http://127.0.0.1:$RABBIT_MGMT_PORT/api/overview"
RABBIT_MARKER="$RUN_DIR/rabbitmq.started"
[[ "$AMQP_PORT" == 5672 ]] || RABBIT_MARKER="$RUN_DIR/rabbitmq-$AMQP_PORT.started"
RABBIT_TIMEOUT=${CIVICGRID_RABBIT_TIMEOUT:-120}

# Debian keeps the admin tools in /usr/sbin, which may be missing from PATH.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

rabbit_default_uri() { printf 'amqp://guest:guest@%s:%s/' "$AMQP_HOST" "$AMQP_PORT"; }

rabbit_port_open() { port_open "$AMQP_HOST" "$AMQP_PORT"; }

rabbit_mgmt_ok() {
  curl -fsS -o /dev/null --max-time 3 -u guest:guest "$RABBIT_MGMT_URL" 2>/dev/null
}

rabbit_ready() { rabbit_port_open && rabbit_mgmt_ok; }

# The Erlang node name: rabbit@<short hostname>, or rabbit@localhost when the
# short hostname does not resolve (common in containers); rabbit_<port>@... for
# a non-default CIVICGRID_AMQP_PORT, so a second broker can run beside the
# default one. Exported so every rabbitmq-* command (run through Debian's su
# wrapper, which keeps the environment) agrees on it.
if [[ -z "${RABBITMQ_NODENAME:-}" ]]; then
  _n=rabbit
  [[ "$AMQP_PORT" == 5672 ]] || _n="rabbit_$AMQP_PORT"
  _h=$(hostname -s 2>/dev/null || hostname 2>/dev/null || echo localhost)
  if getent hosts "$_h" >/dev/null 2>&1; then
    RABBITMQ_NODENAME="$_n@$_h"
  else
    RABBITMQ_NODENAME="$_n@localhost"
  fi
  unset _h _n
fi
export RABBITMQ_NODENAME

rabbit_nodename() { printf '%s' "$RABBITMQ_NODENAME"; }

rabbit_pidfile() {
  printf '%s' "${RABBITMQ_PID_FILE:-/var/lib/rabbitmq/mnesia/$(rabbit_nodename).pid}"
}

# Pid of our broker's Erlang VM, if the marker says we started one and it lives.
rabbit_our_pid() {
  [[ -f "$RABBIT_MARKER" ]] || return 1
  local pf pid
  pf=$(sed -n 's/^PIDFILE=//p' "$RABBIT_MARKER")
  [[ -n "$pf" && -s "$pf" ]] || return 1
  pid=$(<"$pf")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  printf '%s' "$pid"
}

rabbit_log_tail() {
  local f
  for f in "/var/log/rabbitmq/$(rabbit_nodename).log" /var/log/rabbitmq/startup_err /var/log/rabbitmq/startup_log "${RABBIT_MARKER%.started}-start.log"; do
    if [[ -s "$f" ]]; then
      printf -- '--- last lines of %s ---\n' "$f" >&2
      tail -n 20 "$f" >&2
    fi
  done
}

rabbit_ensure_installed() {
  if command -v rabbitmq-server >/dev/null 2>&1; then
    return 0
  fi
  if ! is_root; then
    die "RabbitMQ is not running on $AMQP_HOST:$AMQP_PORT and not installed: install rabbitmq-server (e.g. \`sudo apt-get install rabbitmq-server\`) or set AMQP_URI"
  fi
  apt_install rabbitmq-server || die "could not install rabbitmq-server with apt-get; install it yourself or set AMQP_URI"
  command -v rabbitmq-server >/dev/null 2>&1 || die "rabbitmq-server still not found after apt-get install"
}

rabbit_mgmt_enabled_in_file() {
  local f=${RABBITMQ_ENABLED_PLUGINS_FILE:-/etc/rabbitmq/enabled_plugins}
  [[ -f "$f" ]] && grep -q 'rabbitmq_management\b' "$f"
}

# Offline enable (broker stopped). rabbitmq-plugins needs ~20-30 s here, so it
# is skipped when the enabled_plugins file already lists the plugin.
rabbit_enable_mgmt_offline() {
  rabbit_mgmt_enabled_in_file && return 0
  log "enabling rabbitmq_management (rabbitmq-plugins is slow, ~30 s)"
  rabbitmq-plugins enable --offline rabbitmq_management >&2 \
    || die "rabbitmq-plugins enable rabbitmq_management failed"
}

rabbit_start() {
  is_root || die "RabbitMQ is installed but not running, and only root can start it here: run \`sudo rabbitmq-server -detached\` (with rabbitmq_management enabled) or set AMQP_URI"
  rabbit_enable_mgmt_offline
  local nodename epmd_was_running=0
  nodename=$(rabbit_nodename)
  pgrep -x epmd >/dev/null 2>&1 && epmd_was_running=1
  mkdir -p "$RUN_DIR"
  {
    echo "NODENAME=$nodename"
    echo "PIDFILE=$(rabbit_pidfile)"
    echo "EPMD_STARTED=$((1 - epmd_was_running))"
    echo "STARTED_AT=$(date -u +%FT%TZ)"
  } >"$RABBIT_MARKER"
  log "starting RabbitMQ ($nodename, AMQP $AMQP_PORT, management $RABBIT_MGMT_PORT): rabbitmq-server -detached"
  export RABBITMQ_NODE_PORT=$AMQP_PORT
  if [[ "$RABBIT_MGMT_PORT" != 15672 ]]; then
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="${RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS:-} -rabbitmq_management tcp_config [{port,$RABBIT_MGMT_PORT}]"
  fi
  # -detached daemonizes; keep its stdio away from our caller's $(...).
  if ! (cd / && rabbitmq-server -detached </dev/null >"${RABBIT_MARKER%.started}-start.log" 2>&1); then
    rabbit_log_tail
    rm -f "$RABBIT_MARKER"
    die "rabbitmq-server -detached failed"
  fi
}

rabbit_wait_ready() {
  log "waiting for RabbitMQ on $AMQP_HOST:$AMQP_PORT and its management API (up to ${RABBIT_TIMEOUT}s)"
  if ! wait_until "$RABBIT_TIMEOUT" rabbit_ready; then
    rabbit_log_tail
    if rabbit_port_open; then
      die "RabbitMQ accepts AMQP on $AMQP_PORT but the management API ($RABBIT_MGMT_URL) did not answer within ${RABBIT_TIMEOUT}s; is rabbitmq_management enabled?"
    fi
    die "RabbitMQ did not accept connections on $AMQP_HOST:$AMQP_PORT within ${RABBIT_TIMEOUT}s"
  fi
}

# rabbit_up: ensure a broker with the management API runs; prints the URI.
rabbit_up() {
  if [[ -n "${AMQP_URI:-}" ]]; then
    log "RabbitMQ: using AMQP_URI from the environment"
    printf '%s' "$AMQP_URI"
    return 0
  fi
  if rabbit_ready; then
    if rabbit_our_pid >/dev/null; then
      log "RabbitMQ: already running (started by us)"
    else
      log "RabbitMQ: reusing the broker already on $AMQP_HOST:$AMQP_PORT"
    fi
  elif rabbit_our_pid >/dev/null; then
    log "RabbitMQ: ours is still starting"
    rabbit_wait_ready
  elif rabbit_port_open; then
    # Someone else's broker, without the management API.
    warn "a broker listens on $AMQP_PORT but its management API does not answer; trying to enable rabbitmq_management"
    if is_root && command -v rabbitmq-plugins >/dev/null 2>&1; then
      rabbitmq-plugins enable rabbitmq_management >&2 || true
    fi
    RABBIT_TIMEOUT=60 rabbit_wait_ready
  else
    rm -f "$RABBIT_MARKER"
    rabbit_ensure_installed
    rabbit_start
    rabbit_wait_ready
    log "RabbitMQ: ready"
  fi
  rabbit_default_uri
}

rabbit_down() {
  if [[ ! -f "$RABBIT_MARKER" ]]; then
    log "RabbitMQ: not started by us; leaving it alone"
    return 0
  fi
  local nodename pidfile epmd_started pid
  nodename=$(sed -n 's/^NODENAME=//p' "$RABBIT_MARKER")
  pidfile=$(sed -n 's/^PIDFILE=//p' "$RABBIT_MARKER")
  epmd_started=$(sed -n 's/^EPMD_STARTED=//p' "$RABBIT_MARKER")
  if pid=$(rabbit_our_pid); then
    log "RabbitMQ: stopping $nodename (pid $pid)"
    if ! RABBITMQ_NODENAME="$nodename" rabbitmqctl stop "$pidfile" >&2; then
      warn "rabbitmqctl stop failed; sending SIGTERM to $pid"
      kill -TERM "$pid" 2>/dev/null || true
    fi
    if ! wait_until 30 pid_gone "$pid"; then
      warn "RabbitMQ (pid $pid) still alive after 30 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  else
    log "RabbitMQ: ours is no longer running"
  fi
  if [[ "$epmd_started" == 1 ]] && command -v epmd >/dev/null 2>&1 && pgrep -x epmd >/dev/null 2>&1; then
    epmd -kill >/dev/null 2>&1 || true
  fi
  rm -f "$RABBIT_MARKER"
}

rabbit_status() {
  local who="external" pid
  if pid=$(rabbit_our_pid); then who="started by servers.sh, pid $pid"; fi
  if [[ -n "${AMQP_URI:-}" ]]; then
    echo "rabbitmq: AMQP_URI is set in the environment ($AMQP_URI); up uses it"
    return 0
  fi
  if rabbit_port_open; then
    if rabbit_mgmt_ok; then
      echo "rabbitmq: running on $AMQP_HOST:$AMQP_PORT ($who), management API ok"
    else
      echo "rabbitmq: running on $AMQP_HOST:$AMQP_PORT ($who), management API NOT answering"
    fi
  elif [[ "$who" != external ]]; then
    echo "rabbitmq: starting ($who), not yet accepting on $AMQP_PORT"
  else
    echo "rabbitmq: not running"
  fi
}
