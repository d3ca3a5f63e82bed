# shellcheck shell=bash
# Redis on 127.0.0.1:REDIS_PORT, data dir native/.run/redis (AOF off, default RDB snapshots).

REDIS_DIR="$RUN_DIR/redis"
REDIS_LOG="$LOG_DIR/redis.log"

redis_ready() {
  [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

redis_start() {
  mkdir -p "$REDIS_DIR"
  if ! is_running redis; then
    check_port_free redis "$REDIS_PORT"
    log "starting redis on 127.0.0.1:$REDIS_PORT"
    start_bg redis "$REDIS_LOG" /usr/bin/redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
      --protected-mode yes --daemonize no --supervised no --dir "$REDIS_DIR" \
      --appendonly no --dbfilename dump.rdb --logfile '' --unixsocket '' --maxmemory 512mb \
      --maxmemory-policy noeviction
  fi
  wait_for redis 30 "$REDIS_LOG" redis_ready
}

redis_stop() { stop_component redis TERM 20; }
