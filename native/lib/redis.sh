# shellcheck shell=bash
# Redis with Sentinel on 127.0.0.1: a primary (REDIS_PORT), a replica (REDIS_REPLICA_PORT) and
# three sentinels (REDIS_SENTINEL_BASE_PORT + 0..2) watching them as REDIS_SENTINEL_NAME, quorum
# 2. Data dirs native/.run/redis and native/.run/redis-replica (AOF off, default RDB snapshots).
# The services connect through the sentinels (REDIS_SENTINELS in native/.run/env) and follow a
# failover without a restart (docs/reliability.md "Redis failover").
#
# Which node is the primary is the sentinels' business once they run: a node started while they
# run is started as a replica of the primary they name (an old primary coming back after a
# failover rejoins as a replica). With no sentinel running (a fresh `up`), the node that still
# runs as primary stays it, else REDIS_PORT becomes the primary.

REDIS_SENTINEL_NAME="${REDIS_SENTINEL_NAME:-exchange}"
REDIS_SENTINELS_N=3
REDIS_LOG="$LOG_DIR/redis.log"

redis_node_port() {
  case "$1" in
    redis) printf '%s\n' "$REDIS_PORT" ;;
    redis-replica) printf '%s\n' "$REDIS_REPLICA_PORT" ;;
  esac
}
redis_sentinel_name() { printf 'redis-sentinel-%s\n' "$(($1 + 1))"; }
redis_sentinel_port() { printf '%s\n' "$((REDIS_SENTINEL_BASE_PORT + $1))"; }

# host:port of every sentinel, comma-separated (REDIS_SENTINELS).
redis_sentinels_list() {
  local i out=()
  for ((i = 0; i < REDIS_SENTINELS_N; i++)); do out+=("127.0.0.1:$(redis_sentinel_port "$i")"); done
  (
    IFS=,
    printf '%s\n' "${out[*]}"
  )
}

redis_ready() {
  [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

# The primary's port: as the first sentinel that answers names it, else the node that runs as
# primary, else REDIS_PORT.
redis_primary_port() {
  local i answer port
  for ((i = 0; i < REDIS_SENTINELS_N; i++)); do
    answer="$(redis-cli -h 127.0.0.1 -p "$(redis_sentinel_port "$i")" sentinel get-master-addr-by-name \
      "$REDIS_SENTINEL_NAME" 2>/dev/null | sed -n 2p || true)"
    if [[ "$answer" =~ ^[0-9]+$ ]]; then
      printf '%s\n' "$answer"
      return
    fi
  done
  for port in "$REDIS_PORT" "$REDIS_REPLICA_PORT"; do
    if redis-cli -h 127.0.0.1 -p "$port" info replication 2>/dev/null | grep -q '^role:master'; then
      printf '%s\n' "$port"
      return
    fi
  done
  printf '%s\n' "$REDIS_PORT"
}

# A replica is ready once its link to the primary is up (the initial sync done).
redis_replica_ready() {
  local port="$1"
  local info
  info="$(redis-cli -h 127.0.0.1 -p "$port" info replication 2>/dev/null)" || return 1
  grep -q '^role:master' <<<"$info" || grep -q '^master_link_status:up' <<<"$info"
}

redis_node_start() {
  local name="$1" port dir primary role_args=()
  port="$(redis_node_port "$name")"
  dir="$RUN_DIR/$name"
  mkdir -p "$dir"
  if is_running "$name"; then return 0; fi
  check_port_free "$name" "$port"
  primary="$(redis_primary_port)"
  if [[ "$primary" != "$port" ]]; then
    role_args=(--replicaof 127.0.0.1 "$primary")
    log "starting $name on 127.0.0.1:$port (replica of 127.0.0.1:$primary)"
  else
    log "starting $name on 127.0.0.1:$port (primary)"
  fi
  start_bg "$name" "$LOG_DIR/$name.log" /usr/bin/redis-server --bind 127.0.0.1 --port "$port" \
    --protected-mode yes --daemonize no --supervised no --dir "$dir" \
    --appendonly no --dbfilename dump.rdb --logfile '' --unixsocket '' --maxmemory 512mb \
    --maxmemory-policy noeviction --replica-announce-ip 127.0.0.1 "${role_args[@]}"
}

redis_sentinel_start() {
  local i="$1" name port dir conf primary
  name="$(redis_sentinel_name "$i")"
  port="$(redis_sentinel_port "$i")"
  dir="$RUN_DIR/$name"
  conf="$dir/sentinel.conf"
  mkdir -p "$dir"
  if is_running "$name"; then return 0; fi
  check_port_free "$name" "$port"
  primary="$(redis_primary_port)"
  # Sentinel rewrites its file with what it learns (replicas, other sentinels, epochs): written
  # anew at each start, it learns them again within seconds from the primary.
  cat >"$conf" <<EOF
port $port
bind 127.0.0.1
daemonize no
dir $dir
logfile ""
sentinel announce-ip 127.0.0.1
sentinel monitor $REDIS_SENTINEL_NAME 127.0.0.1 $primary 2
sentinel down-after-milliseconds $REDIS_SENTINEL_NAME ${REDIS_SENTINEL_DOWN_AFTER_MS:-2000}
sentinel failover-timeout $REDIS_SENTINEL_NAME 10000
sentinel parallel-syncs $REDIS_SENTINEL_NAME 1
EOF
  log "starting $name on 127.0.0.1:$port (watching 127.0.0.1:$primary)"
  start_bg "$name" "$LOG_DIR/$name.log" /usr/bin/redis-server "$conf" --sentinel
}

redis_sentinel_ready() {
  [[ "$(redis-cli -h 127.0.0.1 -p "$1" sentinel get-master-addr-by-name "$REDIS_SENTINEL_NAME" 2>/dev/null |
    sed -n 2p)" =~ ^[0-9]+$ ]]
}

# The primary first (a replica is started against it), then the replica and the sentinels; then
# everything ready (the replica synced, every sentinel naming the primary).
redis_start() {
  local i
  redis_node_start redis
  wait_for redis 30 "$REDIS_LOG" redis_ready
  redis_node_start redis-replica
  for ((i = 0; i < REDIS_SENTINELS_N; i++)); do redis_sentinel_start "$i"; done
  redis_wait
}

redis_wait() {
  local i
  wait_for redis 30 "$REDIS_LOG" redis_ready
  wait_for redis-replica 60 "$LOG_DIR/redis-replica.log" redis_replica_ready "$REDIS_REPLICA_PORT"
  for ((i = 0; i < REDIS_SENTINELS_N; i++)); do
    wait_for "$(redis_sentinel_name "$i")" 30 "$LOG_DIR/$(redis_sentinel_name "$i").log" \
      redis_sentinel_ready "$(redis_sentinel_port "$i")"
  done
}

# Sentinels first: a primary stopped under watching sentinels would be failed over.
redis_stop() {
  local i
  for ((i = REDIS_SENTINELS_N - 1; i >= 0; i--)); do stop_component "$(redis_sentinel_name "$i")" TERM 10; done
  stop_component redis-replica TERM 20
  stop_component redis TERM 20
}
