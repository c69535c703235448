# shellcheck shell=bash
# Helpers shared by scripts/servers.sh. Source it; do not execute it.
# All messages go to stderr: stdout is reserved for `export ...` lines.

log() { printf '[servers] %s\n' "$*" >&2; }
warn() { printf '[servers] WARNING: %s\n' "$*" >&2; }
die() { printf '[servers] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# port_open HOST PORT: true if something accepts a TCP connection.
port_open() {
  local host=$1 port=$2
  # shellcheck disable=SC2016 # $0/$1 expand in the child bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
}

# pid_alive PIDFILE: true if the file holds the pid of a live process.
pid_alive() {
  local f=$1 pid
  [[ -s "$f" ]] || return 1
  pid=$(<"$f")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null
}

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# wait_until SECONDS CMD...: poll CMD every 0.5 s; false on timeout.
wait_until() {
  local secs=$1
  shift
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.5
  done
}

# A python3 for the stdlib-only helpers (any python3 >= 3.6 will do).
find_python() {
  local p
  for p in "${PYTHON:-}" python3 python; do
    [[ -n "$p" ]] || continue
    if command -v "$p" >/dev/null 2>&1; then
      command -v "$p"
      return 0
    fi
  done
  return 1
}

# apt_install PKG...: `apt-get update` once per run, then install.
_APT_UPDATED=0
apt_install() {
  is_root || return 1
  command -v apt-get >/dev/null 2>&1 || return 1
  local aptopts=(-o DPkg::Lock::Timeout=600)
  if ((_APT_UPDATED == 0)); then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get "${aptopts[@]}" update -qq >&2 || warn "apt-get update failed; trying to install anyway"
    _APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get "${aptopts[@]}" install -y -qq "$@" >&2
}
