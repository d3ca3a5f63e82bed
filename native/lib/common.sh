# shellcheck shell=bash
# Shared helpers of the native infrastructure scripts. Sourced, not run.
# Paths, ports, logging, pid files, background processes, readiness waits.

NATIVE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT_DIR="$(cd "$NATIVE_DIR/.." && pwd)"
RUN_DIR="$NATIVE_DIR/.run"
CACHE_DIR="$NATIVE_DIR/.cache"
LOG_DIR="$RUN_DIR/logs"
PID_DIR="$RUN_DIR/pids"
SECRETS_DIR="$RUN_DIR/secrets"
export NATIVE_DIR ROOT_DIR RUN_DIR CACHE_DIR LOG_DIR PID_DIR SECRETS_DIR

# shellcheck source=ports.sh
. "$NATIVE_DIR/lib/ports.sh"

log() { printf '[infra] %s\n' "$*" >&2; }
warn() { printf '[infra] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[infra] ERROR: %s\n' "$*" >&2
  exit 1
}

ensure_run_dirs() {
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$PID_DIR" "$SECRETS_DIR" "$CACHE_DIR"
  chmod 755 "$RUN_DIR"
  chmod 700 "$SECRETS_DIR"
}

pid_file() { printf '%s/%s.pid' "$PID_DIR" "$1"; }

# Prints the pid of component $1 if its pid file names a live process, else fails.
running_pid() {
  local f pid
  f="$(pid_file "$1")"
  [[ -s "$f" ]] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # A zombie or a recycled pid of another program does not count.
  [[ -r "/proc/$pid/stat" ]] || return 1
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]] || return 1
  local want cmdline
  case "$1" in
    kafka | kafka-[0-9]) want=kafka.Kafka ;;
    redis | redis-replica | redis-sentinel-[0-9]) want=redis-server ;;
    alertmanager) want=alertmanager ;;
    postgres-replica) want=postgres ;;
    *) want="$1" ;;
  esac
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"$want"* ]] || return 1
  printf '%s\n' "$pid"
}

is_running() { running_pid "$1" >/dev/null; }

# True when something listens on TCP port $1 of 127.0.0.1 (or on any address).
port_listening() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# start_bg NAME LOGFILE CMD... : starts CMD detached (own session), stdout+stderr appended to
# LOGFILE, and records its pid. With job control off, `setsid` execs CMD in the same process,
# so $! is CMD's pid.
start_bg() {
  local name="$1" logfile="$2"
  shift 2
  printf '\n===== %s start %s =====\n' "$name" "$(date -Is)" >>"$logfile"
  # 9>&-: the daemon must not inherit the lock of infra.sh (see lock_infra).
  setsid "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
  local pid=$!
  printf '%s\n' "$pid" >"$(pid_file "$name")"
  sleep 0.2
  if ! kill -0 "$pid" 2>/dev/null; then
    die "$name exited right after start; see $logfile: $(tail -n 5 "$logfile" | tr '\n' ' ')"
  fi
}

# stop_component NAME [SIGNAL] [TIMEOUT_S]: signal, wait, then SIGKILL. Removes the pid file.
stop_component() {
  local name="$1" sig="${2:-TERM}" timeout="${3:-30}" pid i
  if ! pid="$(running_pid "$name")"; then
    rm -f "$(pid_file "$name")"
    return 0
  fi
  log "stopping $name (pid $pid, SIG$sig)"
  kill -"$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "$name (pid $pid) still alive after ${timeout}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$(pid_file "$name")"
}

# wait_for NAME TIMEOUT_S LOGFILE CMD...: retries CMD until it succeeds. On timeout, fails
# with the tail of LOGFILE. Also fails early if the component's process died.
wait_for() {
  local name="$1" timeout="$2" logfile="$3"
  shift 3
  local deadline=$((SECONDS + timeout))
  while true; do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    if [[ -f "$(pid_file "$name")" ]] && ! is_running "$name"; then
      printf '%s\n' "----- last lines of $logfile -----" >&2
      tail -n 30 "$logfile" >&2 || true
      die "$name died while starting; see $logfile"
    fi
    if ((SECONDS >= deadline)); then
      printf '%s\n' "----- last lines of $logfile -----" >&2
      tail -n 30 "$logfile" >&2 || true
      die "$name not ready after ${timeout}s; see $logfile"
    fi
    sleep 0.5
  done
}

# http_ok URL: true on a 2xx answer.
http_ok() {
  curl -fsS --max-time 2 -o /dev/null "$1"
}

# Refuses to start NAME on PORT when a process we do not own already listens there.
check_port_free() {
  local name="$1" port="$2"
  if port_listening "$port"; then
    die "port $port (for $name) is already in use by another process: $(ss -Hltnp "sport = :$port" | head -n 1)"
  fi
}

# Serialises concurrent `up`/`down` runs (fd 9, closed in the daemons by start_bg).
lock_infra() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  if ! flock -w 600 9; then
    die "another native/infra.sh is still running (lock $RUN_DIR/.lock)"
  fi
}
