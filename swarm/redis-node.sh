#!/bin/bash
# One Redis node of the Swarm stack behind Sentinel (services redis and redis-replica, a Swarm
# config run by the redis image as its command; docs/operations.md "Redis with Sentinel on Swarm").
#
# Which node is primary is the sentinels' business once they run. A node (re)started while they
# name a primary that answers as one starts as its replica (the killed primary rejoins as a
# replica of the promoted one). While they name an address that is no running primary (this
# node's old task, not failed over yet) it gives them 20 s. With no sentinel answering (a fresh
# deploy), the peer that runs as primary stays it, else REDIS_INITIAL_PRIMARY is primary.
#
# Replication and the sentinels use addresses, not names: Swarm's DNS takes ~10 s to give up on the
# name of a service whose task is down (backend is an internal network), and redis-server and
# Sentinel resolve in their event loop, so a name lookup there stalls them (a sentinel stalled
# for 2 s enters TILT and fails nothing over). In the background, a node that runs as primary
# while the sentinels name another running primary replicates that one (what a sentinel tells
# it when it knows its address).
#
# REDIS_NODE: this node's service name; REDIS_PEER: the other node's; REDIS_SENTINELS,
# REDIS_SENTINEL_NAME as the services get them.
set -euo pipefail

me="${REDIS_NODE:?}"
peer="${REDIS_PEER:?}"
first="${REDIS_INITIAL_PRIMARY:-redis}"
name="${REDIS_SENTINEL_NAME:-exchange}"
IFS=, read -r -a sentinels <<<"${REDIS_SENTINELS:?}"
log() { printf '[redis-node %s] %s\n' "$me" "$*" >&2; }

umask 077
password="$(cat "${REDIS_PASSWORD_FILE:-/run/secrets/redis_password}")"
export REDISCLI_AUTH="$password"
# redis-server has no *_FILE option: the password goes into a file in /tmp, not the data volume.
printf 'requirepass "%s"\nmasterauth "%s"\n' "$password" "$password" >/tmp/redis-auth.conf

myip="$(hostname -i | awk '{print $1}')"
cli() { timeout 3 redis-cli "$@" 2>/dev/null | tr -d '\r'; }
# The primary's address as the first sentinel that answers names it (empty when none answers).
sentinel_primary() {
  local s answer
  for s in "${sentinels[@]}"; do
    answer="$(cli -h "${s%:*}" -p "${s##*:}" sentinel get-master-addr-by-name "$name" | head -n 1)" || true
    if [[ -n "$answer" ]]; then
      printf '%s\n' "$answer"
      return
    fi
  done
}
role_of() { cli -h "$1" -p 6379 info replication | sed -n 's/^role://p' || true; }
address_of() { getent hosts "$1" | awk '{print $1; exit}' || true; }

guard() {
  local primary
  while sleep 10; do
    cli -p 6379 info replication | grep -q '^role:master' || continue
    primary="$(sentinel_primary)"
    if [[ -n "$primary" && "$primary" != "$myip" && "$(role_of "$primary")" == master ]]; then
      log "the sentinels name $primary as primary: replicating it"
      cli -p 6379 replicaof "$primary" 6379 >/dev/null || true
    fi
  done
}

primary="" answer=""
for ((i = 0; ; i++)); do
  answer="$(sentinel_primary)"
  # None answers (a fresh deploy), or they name this very address (the task came back on it).
  [[ -n "$answer" && "$answer" != "$myip" ]] || break
  if [[ "$(role_of "$answer")" == master ]]; then
    primary="$answer"
    break
  fi
  ((i < 20)) || break
  ((i % 5)) || log "the sentinels name $answer, which is no running primary: waiting for their failover"
  sleep 1
done
if [[ -z "$primary" && "$answer" != "$myip" ]]; then
  # No sentinel answers, or they name an address that stays dead (no failover was possible).
  if [[ "$(role_of "$peer")" == master ]]; then
    primary="$(address_of "$peer")"
  elif [[ "$me" != "$first" ]]; then
    # A fresh deploy: the initial primary, once Swarm's DNS names it (a task is named once healthy).
    until primary="$(address_of "$first")" && [[ -n "$primary" ]]; do
      log "waiting for $first"
      sleep 2
    done
  fi
fi

args=(/tmp/redis-auth.conf --appendonly yes --tcp-keepalive 60 --maxmemory 1536mb
  --maxmemory-policy noeviction)
if [[ -z "$primary" ]]; then
  log "starting as the primary ($myip)"
else
  log "starting as a replica of $primary ($myip)"
  args+=(--replicaof "$primary" 6379)
fi
guard &
exec redis-server "${args[@]}"
