#!/usr/bin/env bash
# Native (no Docker) infrastructure of the trading platform: PostgreSQL 15 (a primary and a
# hot-standby replica) + PgBouncer, Redis,
# Kafka 4.x (KRaft), Prometheus, Alertmanager; all on 127.0.0.1, ports from native/ports.env,
# data, logs and pid files under native/.run/.
#
#   bash native/infra.sh up        install what is missing, start what is not running, wait
#                                  until everything is ready, create the Kafka topics, write
#                                  native/.run/env. A no-op (plus checks) when already up.
#   bash native/infra.sh wait      only the readiness checks
#   bash native/infra.sh status    one line per component (exit 0 all up, 3 otherwise)
#   bash native/infra.sh down      stop everything it started (data kept)
#   bash native/infra.sh down --purge | reset   stop and delete native/.run data
#   bash native/infra.sh replica-rebuild   throw the PostgreSQL replica away, copy it again
#
# PG_REPLICA=0 bash native/infra.sh up   no hot standby: the replica is stopped (its data and
#                                  slot kept, so PG_REPLICA=1 catches up again; the slot holds at
#                                  most max_slot_wal_keep_size of WAL) and native/.run/env names
#                                  no DATABASE_REPLICA_NAME, so history reads stay on the primary.
# KAFKA_NODES=3 bash native/infra.sh up   runs Kafka as three KRaft nodes (replication 3, min ISR
#                                  2) instead of one; later runs follow the data on disk. Switching
#                                  between 1 and 3 nodes needs a reset (see native/lib/kafka.sh).
set -euo pipefail

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/install.sh
. "$NATIVE_DIR/lib/install.sh"
# shellcheck source=lib/postgres.sh
. "$NATIVE_DIR/lib/postgres.sh"
# shellcheck source=lib/redis.sh
. "$NATIVE_DIR/lib/redis.sh"
# shellcheck source=lib/kafka.sh
. "$NATIVE_DIR/lib/kafka.sh"
# shellcheck source=lib/monitoring.sh
. "$NATIVE_DIR/lib/monitoring.sh"

ENV_FILE="$RUN_DIR/env"
PG_REPLICA="${PG_REPLICA:-1}"
[[ "$PG_REPLICA" == 0 || "$PG_REPLICA" == 1 ]] || die "PG_REPLICA must be 0 or 1, not '$PG_REPLICA'"

# name:port, in start order
COMPONENTS=("postgres:$PG_PORT")
((PG_REPLICA)) && COMPONENTS+=("postgres-replica:$PG_REPLICA_PORT")
COMPONENTS+=(
  "pgbouncer:$PGBOUNCER_PORT"
  "redis:$REDIS_PORT"
  "redis-replica:$REDIS_REPLICA_PORT"
)
for ((_i = 0; _i < REDIS_SENTINELS_N; _i++)); do
  COMPONENTS+=("$(redis_sentinel_name "$_i"):$(redis_sentinel_port "$_i")")
done
for ((_i = 0; _i < KAFKA_NODES; _i++)); do
  COMPONENTS+=("$(kafka_node_name "$_i"):$(kafka_node_port "$_i")")
done
unset _i
COMPONENTS+=(
  "alertmanager:$ALERTMANAGER_PORT"
  "node-exporter:$NODE_EXPORTER_PORT"
  "prometheus:$PROMETHEUS_PORT"
)

write_env_file() {
  local tmp="$ENV_FILE.tmp" key="$SECRETS_DIR/api_key_encryption_key"
  # The platform key that encrypts API secrets at rest: made once, kept with the other secrets.
  if [[ ! -s "$key" ]]; then
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$key")
  fi
  # The operator API's credential (X-Operator-Token), separate from every API key.
  if [[ ! -s "$SECRETS_DIR/operator_token" ]]; then
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$SECRETS_DIR/operator_token")
  fi
  # History reads (docs/operations.md "PostgreSQL replica natively"): PgBouncer's database on the
  # replica; none with PG_REPLICA=0.
  local replica_env="# PG_REPLICA=0: no replica, history reads on the primary."
  if ((PG_REPLICA)); then
    replica_env="DATABASE_REPLICA_NAME=$PG_REPLICA_DATABASE
DATABASE_REPLICA_DIRECT_PORT=$PG_REPLICA_PORT"
  fi
  cat >"$tmp" <<EOF
# Written by native/infra.sh up. Connection settings of the native infrastructure.
KAFKA_BROKERS=$KAFKA_BROKERS
KAFKA_NODES=$KAFKA_NODES
KAFKA_PARTITIONS=${KAFKA_PARTITIONS:-12}
KAFKA_REPLICATION_FACTOR=$KAFKA_RF
DATABASE_HOST=127.0.0.1
DATABASE_PORT=$PGBOUNCER_PORT
DATABASE_DIRECT_PORT=$PG_PORT
DATABASE_NAME=$PG_DATABASE
$replica_env
DATABASE_USER=$PG_USER
DATABASE_PASSWORD_FILE=$PG_PASSWORD_FILE
API_KEY_ENCRYPTION_KEY_FILE=$SECRETS_DIR/api_key_encryption_key
OPERATOR_TOKEN_FILE=$SECRETS_DIR/operator_token
REDIS_URL=redis://127.0.0.1:$REDIS_PORT
REDIS_SENTINELS=$(redis_sentinels_list)
REDIS_SENTINEL_NAME=$REDIS_SENTINEL_NAME
PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT
ALERTMANAGER_URL=http://127.0.0.1:$ALERTMANAGER_PORT
# Where the native services listen (native/platform.sh, tests); NATIVE_PORT_OFFSET applied.
NATIVE_PORT_OFFSET=$NATIVE_PORT_OFFSET
API_GATEWAY_PORT=$API_GATEWAY_PORT
ORDER_ROUTER_PORT=$ORDER_ROUTER_PORT
MARKET_DATA_PORT=$MARKET_DATA_PORT
MATCHING_WORKER_BASE_PORT=$MATCHING_WORKER_BASE_PORT
EOF
  mv "$tmp" "$ENV_FILE"
}

cmd_up() {
  local t0=$SECONDS
  ensure_run_dirs
  kafka_check_layout
  # shellcheck disable=SC2119 # no arguments: every package of the infrastructure
  install_missing_packages
  command -v node >/dev/null 2>&1 || die "node is required (Kafka readiness and topic creation)"
  [[ -d "$ROOT_DIR/node_modules/kafkajs" && -d "$ROOT_DIR/node_modules/@swc-node/register" ]] ||
    die "kafkajs and @swc-node/register are missing from $ROOT_DIR/node_modules: run 'npm ci' first"
  if port_listening 5432 || port_listening 6379 || port_listening 9090 || port_listening 9093; then
    stop_distro_services
  fi
  pg_start
  if ((PG_REPLICA)); then pg_replica_start; else pg_replica_stop; fi
  pgbouncer_start
  redis_start
  kafka_start
  kafka_create_topics
  alertmanager_start
  node_exporter_start
  prometheus_start
  write_env_file
  check_default_ports
  log "up: all ready in $((SECONDS - t0))s (Kafka $(kafka_version), $KAFKA_NODES node(s)); connection settings in $ENV_FILE"
}

cmd_wait() {
  local entry
  for entry in "${COMPONENTS[@]}"; do
    is_running "${entry%%:*}" || die "${entry%%:*} is not running: run 'bash native/infra.sh up'"
  done
  wait_for postgres 60 "$PG_LOG" pg_ready
  ((PG_REPLICA)) && wait_for postgres-replica 60 "$PG_REPLICA_LOG" pg_replica_ready
  wait_for pgbouncer 30 "$PGBOUNCER_LOG" pgbouncer_ready
  redis_wait
  wait_for "$(kafka_node_name 0)" 120 "$KAFKA_LOG" kafka_ready
  wait_for alertmanager 30 "$ALERTMANAGER_LOG" alertmanager_ready
  wait_for node-exporter 30 "$NODE_EXPORTER_LOG" node_exporter_ready
  wait_for prometheus 60 "$PROMETHEUS_LOG" prometheus_ready
  log "all ready"
}

cmd_down() {
  local purge=0
  [[ "${1:-}" == --purge ]] && purge=1
  # Reverse start order: clients before the servers they use.
  prometheus_stop
  node_exporter_stop
  alertmanager_stop
  kafka_stop
  redis_stop
  pgbouncer_stop
  pg_replica_stop
  pg_stop
  if ((purge)); then
    log "purging $RUN_DIR"
    local real_pg
    real_pg="$(readlink -f "$RUN_DIR/pg" 2>/dev/null || true)"
    if [[ -n "$real_pg" && "$real_pg" != "$RUN_DIR/pg" ]]; then
      rm -rf "$real_pg"
    fi
    rm -rf "$RUN_DIR"
  fi
  log "down"
}

cmd_status() {
  local entry name port pid state rc=0
  for entry in "${COMPONENTS[@]}"; do
    name="${entry%%:*}"
    port="${entry#*:}"
    if pid="$(running_pid "$name")"; then
      if port_listening "$port"; then state=up; else state=starting; fi
    else
      pid=-
      state=down
      rc=3
    fi
    printf '%-16s %-8s pid=%-8s port=%s\n' "$name" "$state" "$pid" "$port"
  done
  return "$rc"
}

usage() {
  sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    up)
      lock_infra
      cmd_up
      ;;
    wait) cmd_wait ;;
    down)
      lock_infra
      cmd_down "$@"
      ;;
    reset)
      lock_infra
      cmd_down --purge
      ;;
    replica-rebuild)
      lock_infra
      pg_replica_rebuild
      ;;
    status) cmd_status ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
