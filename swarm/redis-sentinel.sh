#!/bin/bash
# One Redis Sentinel of the Swarm stack (services redis-sentinel-1..3, a Swarm config run by the
# redis image as its command; docs/operations.md "Redis with Sentinel on Swarm"): watches the
# primary of REDIS_SENTINEL_NAME with quorum 2. Clients reach it by its service name. Its id is
# fixed per service (the SHA-1 of the name), so a replaced task, at a new address, is the same
# sentinel to the others (they drop the old address of that id).
#
# It watches addresses, not names (no resolve-hostnames): Sentinel resolves in its event loop,
# and Swarm's DNS takes ~10 s to give up on the name of a service whose task is down, which puts
# every sentinel in TILT (no failover) exactly when the primary is gone. Addresses change when
# Swarm replaces a task; the sentinels follow: a promoted replica is known by its address, and a
# replaced node joins as a replica at its new one (the primary lists it, they add it).
#
# Its configuration is written anew at each start (Sentinel rewrites it with what it learns, and
# learns it again within seconds): the primary is what another sentinel names if that answers as
# a primary, else the node that runs as primary; none yet (a fresh deploy): it waits.
#
# SENTINEL_NAME: this sentinel's service name; REDIS_NODES: the Redis nodes' service names;
# REDIS_SENTINELS, REDIS_SENTINEL_NAME as the services get them.
set -euo pipefail

me="${SENTINEL_NAME:?}"
name="${REDIS_SENTINEL_NAME:-exchange}"
IFS=, read -r -a sentinels <<<"${REDIS_SENTINELS:?}"
IFS=, read -r -a nodes <<<"${REDIS_NODES:-redis,redis-replica}"
log() { printf '[sentinel %s] %s\n' "$me" "$*" >&2; }

umask 077
password="$(cat "${REDIS_PASSWORD_FILE:-/run/secrets/redis_password}")"
export REDISCLI_AUTH="$password"
cli() { timeout 3 redis-cli "$@" 2>/dev/null | tr -d '\r'; }
is_primary() { cli -h "$1" -p 6379 info replication | grep -q '^role:master'; }

# The primary's address.
primary_now() {
  local s n answer
  for s in "${sentinels[@]}"; do
    [[ "${s%:*}" == "$me" ]] && continue
    answer="$(cli -h "${s%:*}" -p "${s##*:}" sentinel get-master-addr-by-name "$name" | head -n 1)" || true
    if [[ -n "$answer" ]] && is_primary "$answer"; then
      printf '%s\n' "$answer"
      return
    fi
  done
  for n in "${nodes[@]}"; do
    if is_primary "$n"; then
      getent hosts "$n" | awk '{print $1; exit}'
      return
    fi
  done
}

until primary="$(primary_now)" && [[ -n "$primary" ]]; do
  log "waiting for a primary to watch"
  sleep 2
done

conf=/tmp/sentinel.conf
cat >"$conf" <<EOF
port 26379
dir /tmp
sentinel myid $(printf '%s' "$me" | sha1sum | cut -c1-40)
requirepass "$password"
sentinel monitor $name $primary 6379 2
sentinel auth-pass $name $password
sentinel down-after-milliseconds $name ${SENTINEL_DOWN_AFTER_MS:-3000}
sentinel failover-timeout $name 10000
sentinel parallel-syncs $name 1
EOF
log "watching $primary as the primary of $name"
exec redis-server "$conf" --sentinel
