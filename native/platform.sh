#!/usr/bin/env bash
# The whole platform as processes on this machine.
#
#   npm run platform              install what is missing, start the infrastructure, migrate,
#                                 build and start the four services, wait until each is ready,
#                                 print the URLs (a second run is a no-op plus checks)
#   npm run platform -- down      stop the services, then the infrastructure
#   npm run platform -- status    one line per process
#   npm run platform -- stop-services   stop the services, keep the infrastructure
#
# MATCHING_WORKERS=N starts N matching-worker instances (default 3, one per scrape target).
# SCALE_OUT=1 starts the scaled-out topology (docs/operations.md): two api-gateways
# (API_GATEWAY_BASE_PORT + 0, 1) behind Debian's HAProxy on API_GATEWAY_PORT (native/haproxy.cfg,
# installed when missing), two order-routers sharing the co-partitioned partitions and two
# market-data instances (ORDER_ROUTER_1_PORT, MARKET_DATA_1_PORT). `status`, `down` and
# `stop-services` follow whichever topology is running (native/.run/scale-out).
# Every service runs under native/lib/supervise.sh: whenever it exits (SIGKILL, crash) it is
# started again after 1 s, doubling to 30 s for a crash loop (the production units' Restart=).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=lib/ports.sh
. native/lib/ports.sh
RUN="$ROOT/native/.run"
PIDS="$RUN/pids"
LOGS="$RUN/logs"
MATCHING_WORKERS="${MATCHING_WORKERS:-3}"
# Present while the scaled-out topology runs; status and down read it.
SCALE_OUT_MARK="$RUN/scale-out"
if [[ -z "${SCALE_OUT:-}" && -e "$SCALE_OUT_MARK" ]]; then SCALE_OUT=1; fi
SCALE_OUT="${SCALE_OUT:-0}"
[[ "$SCALE_OUT" == 0 || "$SCALE_OUT" == 1 ]] || {
  echo "SCALE_OUT must be 0 or 1, got '$SCALE_OUT'" >&2
  exit 1
}
export NX_NO_CLOUD=true
# The services, the build and the demo run on the pinned Node.js (.node-version).
# shellcheck source=scripts/lib/node-runtime.sh
. scripts/lib/node-runtime.sh
node_runtime_use

say() { printf '[platform] %s\n' "$*"; }
die() {
  printf '[platform] ERROR: %s\n' "$*" >&2
  exit 1
}

# name:port:entry:instance for every service process, in start order (SCALE_OUT=1: the second
# instances, the gateways on their own ports and HAProxy, entry `haproxy`, on API_GATEWAY_PORT).
service_list() {
  echo "order-router:$ORDER_ROUTER_PORT:order-router:0"
  ((SCALE_OUT)) && echo "order-router-1:$ORDER_ROUTER_1_PORT:order-router:1"
  local i
  for ((i = 0; i < MATCHING_WORKERS; i++)); do
    echo "matching-worker-$i:$((MATCHING_WORKER_BASE_PORT + i)):matching-worker:$i"
  done
  echo "market-data:$MARKET_DATA_PORT:market-data:0"
  if ((SCALE_OUT)); then
    echo "market-data-1:$MARKET_DATA_1_PORT:market-data:1"
    echo "api-gateway:$API_GATEWAY_BASE_PORT:api-gateway:0"
    echo "api-gateway-1:$((API_GATEWAY_BASE_PORT + 1)):api-gateway:1"
    echo "haproxy:$API_GATEWAY_PORT:haproxy:0"
  else
    echo "api-gateway:$API_GATEWAY_PORT:api-gateway:0"
  fi
}

live_pid() {
  local f="$PIDS/$1.pid" pid
  [[ -s "$f" ]] || return 1
  pid="$(cat "$f")"
  kill -0 "$pid" 2>/dev/null || return 1
  grep -qa -e "$ROOT/dist/services/" -e "$ROOT/native/haproxy.cfg" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

ensure_node_modules() {
  if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
    say "installing npm dependencies"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# Each service runs under native/lib/supervise.sh: restarted whenever it exits (SIGKILL, crash),
# after 1 s doubling to 30 s, as systemd's Restart=always does for the production units.
supervisor_pid() {
  local f="$PIDS/$1.pid.supervisor" pid
  [[ -s "$f" ]] || return 1
  pid="$(cat "$f")"
  kill -0 "$pid" 2>/dev/null || return 1
  grep -qa "supervise.sh" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

start_service() {
  local name=$1 port=$2 entry=$3 instance=$4
  if supervisor_pid "$name" >/dev/null; then
    return 0
  fi
  # A service left from before supervision (or whose supervisor was killed): replaced.
  if live_pid "$name" >/dev/null; then
    stop_pid "$name"
  fi
  (
    set -a
    # shellcheck source=/dev/null
    . "$RUN/env"
    set +a
    export HTTP_PORT="$port" INSTANCE_ID="$instance" NODE_ENV=production LOG_LEVEL="${LOG_LEVEL:-info}"
    if [[ "$entry" == haproxy ]]; then
      export API_GATEWAY_PORT API_GATEWAY_0_PORT="$API_GATEWAY_BASE_PORT" API_GATEWAY_1_PORT="$((API_GATEWAY_BASE_PORT + 1))"
      exec setsid bash "$ROOT/native/lib/supervise.sh" "$name" "$PIDS/$name.pid" "$LOGS/$name.log" \
        /usr/sbin/haproxy -db -f "$ROOT/native/haproxy.cfg"
    fi
    if ((SCALE_OUT)) && [[ "$entry" == api-gateway ]]; then
      # Behind the edge: /health/serving answers 503 for 5 s on SIGTERM while requests are still
      # served, so HAProxy's checks take the gateway out first; X-Forwarded-For from 127.0.0.1.
      export SHUTDOWN_DRAIN_MS="${SHUTDOWN_DRAIN_MS:-5000}" TRUSTED_PROXIES="${TRUSTED_PROXIES:-127.0.0.1}"
    fi
    # A 32 MB young generation (V8 default 16): fewer scavenges of the per-order garbage
    # (docs/performance.md, "Third pass"); the flags of the Dockerfile and the systemd units.
    exec setsid bash "$ROOT/native/lib/supervise.sh" "$name" "$PIDS/$name.pid" "$LOGS/$name.log" \
      node --enable-source-maps --max-semi-space-size=32 "$ROOT/dist/services/$entry/src/main.js"
  ) </dev/null >/dev/null 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do
    live_pid "$name" >/dev/null && return 0
    sleep 0.1
  done
  die "$name did not start; see $LOGS/$name.log"
}

wait_ready() {
  local name=$1 port=$2 deadline=$((SECONDS + 90))
  until curl -fs -o /dev/null "http://127.0.0.1:$port/health/ready"; do
    supervisor_pid "$name" >/dev/null || die "$name is not supervised any more; see $LOGS/$name.log"
    ((SECONDS < deadline)) || die "$name not ready after 90 s; see $LOGS/$name.log and http://127.0.0.1:$port/health/ready"
    sleep 0.5
  done
}

# One topology at a time: the scaled one's HAProxy and the default gateway both want
# API_GATEWAY_PORT.
check_topology() {
  if ((SCALE_OUT)); then
    if ! supervisor_pid haproxy >/dev/null && ss -Hltn "sport = :$API_GATEWAY_PORT" | grep -q .; then
      die "port $API_GATEWAY_PORT is taken (the default topology's gateway?): npm run platform -- stop-services first"
    fi
  elif [[ -e "$SCALE_OUT_MARK" ]]; then
    die "the scaled-out topology is running: npm run platform -- stop-services first"
  fi
}

# SCALE_OUT=1: Debian's haproxy (native/lib/install.sh), its config checked, and the extra
# instances as Prometheus scrape targets (file_sd files the native config reads from
# native/.run/scrape/, picked up without a reload).
prepare_scale_out() {
  (
    # shellcheck source=lib/common.sh
    . native/lib/common.sh
    # shellcheck source=lib/install.sh
    . native/lib/install.sh
    ensure_run_dirs
    install_missing_packages /usr/sbin/haproxy:haproxy
  )
  API_GATEWAY_0_PORT="$API_GATEWAY_BASE_PORT" API_GATEWAY_1_PORT="$((API_GATEWAY_BASE_PORT + 1))" \
    API_GATEWAY_PORT="$API_GATEWAY_PORT" /usr/sbin/haproxy -c -q -f native/haproxy.cfg ||
    die "haproxy -c -f native/haproxy.cfg failed"
  mkdir -p "$RUN/scrape"
  printf '[{"targets":["127.0.0.1:%s","127.0.0.1:%s"]}]\n' "$API_GATEWAY_BASE_PORT" "$((API_GATEWAY_BASE_PORT + 1))" >"$RUN/scrape/api-gateway.json"
  printf '[{"targets":["127.0.0.1:%s"]}]\n' "$ORDER_ROUTER_1_PORT" >"$RUN/scrape/order-router.json"
  printf '[{"targets":["127.0.0.1:%s"]}]\n' "$MARKET_DATA_1_PORT" >"$RUN/scrape/market-data.json"
  touch "$SCALE_OUT_MARK"
}

cmd_up() {
  ensure_node_modules
  bash native/infra.sh up
  mkdir -p "$PIDS" "$LOGS"
  check_topology
  if ((SCALE_OUT)); then prepare_scale_out; fi
  say "migrating the database (direct connection)"
  node scripts/build.mjs >/dev/null
  (
    set -a
    # shellcheck source=/dev/null
    . "$RUN/env"
    set +a
    node dist/libs/db/src/migrate.main.js
    # Assets, the BTC-USDT and ETH-USDT markets, the fee account and demo keys (idempotent).
    node dist/services/api-gateway/src/seed.main.js >/dev/null
  )
  local entry name port svc instance
  while IFS=: read -r name port svc instance; do
    start_service "$name" "$port" "$svc" "$instance"
  done < <(service_list)
  while IFS=: read -r name port svc instance; do
    wait_ready "$name" "$port"
    say "$(printf '%-18s ready  http://127.0.0.1:%s  (/health/ready, /metrics)  log %s' "$name" "$port" "native/.run/logs/$name.log")"
  done < <(service_list)
  if [[ "${PLATFORM_DEMO:-1}" == 1 ]]; then
    say "demo: two fresh accounts, a crossing pair on BTC-USDT"
    API_GATEWAY_PORT="$API_GATEWAY_PORT" node -r @swc-node/register scripts/demo.ts || die "the demo trade did not happen; see $LOGS/"
  fi
  say "API           http://127.0.0.1:$API_GATEWAY_PORT  (OpenAPI: /docs, /docs/openapi.json)"
  if ((SCALE_OUT)); then
    say "              HAProxy in front of the gateways on :$API_GATEWAY_BASE_PORT and :$((API_GATEWAY_BASE_PORT + 1))"
  fi
  say "Prometheus    http://127.0.0.1:$PROMETHEUS_PORT/targets"
  say "Alertmanager  http://127.0.0.1:$ALERTMANAGER_PORT"
  say "stop everything with: npm run platform -- down"
}

# Stops a service: its supervisor first (which stops the process and ends the restarts), then a
# process without one.
stop_pid() {
  local name=$1 pid sup
  if sup="$(supervisor_pid "$name")"; then
    kill -TERM "$sup" 2>/dev/null || true
    local deadline=$((SECONDS + 25))
    while kill -0 "$sup" 2>/dev/null; do
      ((SECONDS < deadline)) || break
      sleep 0.2
    done
  fi
  rm -f "$PIDS/$name.pid.supervisor"
  pid="$(live_pid "$name")" || {
    rm -f "$PIDS/$name.pid"
    return 0
  }
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 20))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      say "$name did not stop in 20 s, killing"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$PIDS/$name.pid"
}

stop_services() {
  local f name
  # Every service pid file, including workers beyond the current MATCHING_WORKERS and the
  # scaled-out topology's (the edge first).
  for f in "$PIDS"/haproxy.pid "$PIDS"/api-gateway.pid "$PIDS"/api-gateway-*.pid "$PIDS"/market-data.pid \
    "$PIDS"/market-data-*.pid "$PIDS"/matching-worker-*.pid "$PIDS"/order-router.pid "$PIDS"/order-router-*.pid; do
    [[ -e "$f" ]] || continue
    name="$(basename "$f" .pid)"
    stop_pid "$name"
  done
  # A supervisor or service whose pid file was lost (a purge, a crash of this script) is still ours.
  pkill -TERM -f "native/lib/supervise.sh [a-z0-9-]+ $PIDS/" 2>/dev/null && sleep 3
  if pkill -TERM -f "$ROOT/dist/services/" 2>/dev/null; then
    sleep 3
    pkill -KILL -f "$ROOT/dist/services/" 2>/dev/null || true
  fi
  pkill -TERM -f "haproxy -db -f $ROOT/native/haproxy.cfg" 2>/dev/null || true
  rm -f "$SCALE_OUT_MARK" "$RUN"/scrape/*.json
}

cmd_down() {
  stop_services
  bash native/infra.sh down "$@"
  say "stopped"
}

cmd_status() {
  local name port svc instance pid
  while IFS=: read -r name port svc instance; do
    if pid="$(live_pid "$name")"; then
      printf '%-18s up    pid=%-8s port=%-6s supervisor=%s\n' "$name" "$pid" "$port" "$(supervisor_pid "$name" || echo none)"
    elif supervisor_pid "$name" >/dev/null; then
      printf '%-18s restarting (supervised)  port=%s\n' "$name" "$port"
    else
      printf '%-18s down  port=%s\n' "$name" "$port"
    fi
  done < <(service_list)
  bash native/infra.sh status || true
}

case "${1:-up}" in
  up) cmd_up ;;
  down) shift; cmd_down "$@" ;;
  stop-services) stop_services ;;
  status) cmd_status ;;
  *) die "usage: npm run platform [-- up|down|status|stop-services]" ;;
esac
