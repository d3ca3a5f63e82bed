#!/usr/bin/env bash
# The development runner's supervisor: what Restart=always with a backoff is to the production
# units (native/production/systemd), for one service of `npm run platform`.
#
#   supervise.sh NAME PIDFILE LOGFILE CMD...
#
# Starts CMD with stdout and stderr appended to LOGFILE and its pid in PIDFILE (what
# native/platform.sh, the tests and the chaos drills read), and starts it again whenever it
# exits, however it exits (SIGKILL, a crash, an OOM kill): first after SUPERVISE_MIN_DELAY_S (1),
# doubling each time up to SUPERVISE_MAX_DELAY_S (30), and back to the first once a run lasted
# SUPERVISE_STABLE_S (60) — a crash loop costs little, a single crash is repaired in a second.
# Its own pid is in PIDFILE.supervisor. SIGTERM or SIGINT to it stops CMD (SIGTERM, SIGKILL after
# SUPERVISE_STOP_TIMEOUT_S, 20) and ends supervision. Every restart is one JSON line in LOGFILE.
set -uo pipefail

name=$1 pidfile=$2 logfile=$3
shift 3
min_delay="${SUPERVISE_MIN_DELAY_S:-1}"
max_delay="${SUPERVISE_MAX_DELAY_S:-30}"
stable="${SUPERVISE_STABLE_S:-60}"
stop_timeout="${SUPERVISE_STOP_TIMEOUT_S:-20}"

child=""
stopping=0

note() {
  printf '{"level":"warn","time":%s,"msg":"%s","service":"%s"%s}\n' "$(date +%s%3N)" "$1" "$name" "${2:-}" >>"$logfile"
}

stop() {
  stopping=1
  [[ -n "$child" ]] || return 0
  kill -TERM "$child" 2>/dev/null || return 0
  local i
  for ((i = 0; i < stop_timeout * 10; i++)); do
    kill -0 "$child" 2>/dev/null || return 0
    sleep 0.1
  done
  note "supervisor: no exit ${stop_timeout} s after SIGTERM, SIGKILL" ',"pid":'"$child"
  kill -KILL "$child" 2>/dev/null || true
}
trap stop TERM INT

printf '%s\n' "$$" >"$pidfile.supervisor"
delay=$min_delay
restarts=0
while ((!stopping)); do
  started=$SECONDS
  "$@" >>"$logfile" 2>&1 </dev/null &
  child=$!
  printf '%s\n' "$child" >"$pidfile"
  # A trapped signal interrupts wait (the handler has stopped the child by then).
  while :; do
    wait "$child" 2>/dev/null
    rc=$?
    if ((stopping)) || ! kill -0 "$child" 2>/dev/null; then break; fi
  done
  ((stopping)) && break
  ran=$((SECONDS - started))
  ((ran >= stable)) && delay=$min_delay
  how=',"exitCode":'"$rc"
  ((rc > 128)) && how=',"signal":"'"$(kill -l "$((rc - 128))" 2>/dev/null || echo "$((rc - 128))")"'"'
  restarts=$((restarts + 1))
  note "supervisor: exited, restarting" "$how"',"pid":'"$child"',"ranSeconds":'"$ran"',"restartInSeconds":'"$delay"',"restarts":'"$restarts"
  # Interruptible pause: a stop during it ends supervision at once.
  sleep "$delay" &
  wait $! 2>/dev/null
  delay=$((delay * 2 > max_delay ? max_delay : delay * 2))
done
wait "$child" 2>/dev/null
rm -f "$pidfile" "$pidfile.supervisor"
