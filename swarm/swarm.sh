#!/usr/bin/env bash
# The platform on a single-node Docker Swarm, exactly as docs/operations.md deploys it.
#
#   npm run swarm -- up       engine (installed and started when none runs), swarm (init when
#                             none), node labels, secrets (generated, never printed), images (built
#                             without a registry when none answers), one stack `trading` of
#                             swarm/stack.yml + swarm/monitoring.yml + swarm/single-node.yml; waits
#                             until every service has converged with healthy tasks, prints URLs
#   npm run swarm -- status   services, replicas and published URLs (exit 3 when not converged)
#   npm run swarm -- build    only the images
#   npm run swarm -- down     removes the stack, its secrets and volumes; leaves the swarm and stops
#                             dockerd only when `up` created them
#
# Variables: STACK (trading), GATEWAY_PORT (8080), PROMETHEUS_PORT (9090), ALERTMANAGER_PORT
# (9093), TAG (0.1.0), SWARM_WAIT_S (900), SWARM_BUILD_ALL=1 (build even where a registry answers),
# SWARM_KEEP_ENGINE=1 (down leaves dockerd running), SWARM_OVERLAYS (more compose files, deployed
# after the others: swarm/like-native.yml is the native platform's shape, one broker).
set -euo pipefail
# shellcheck source=swarm/lib/engine.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/engine.sh"
# shellcheck source=swarm/lib/images.sh
. "$SWARM_DIR/lib/images.sh"
# shellcheck source=scripts/lib/node-runtime.sh
. "$ROOT_DIR/scripts/lib/node-runtime.sh"
node_runtime_use

STACK="${STACK:-trading}"
SECRETS_DIR="$SWARM_RUN/secrets"
SECRETS=(pg_password redis_password grafana_admin_password api_key_encryption_key operator_token pgbouncer_userlist)
export GATEWAY_PORT="${GATEWAY_PORT:-8080}" PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"
export ALERTMANAGER_PORT="${ALERTMANAGER_PORT:-9093}"
STACK_FILES=(-c "$SWARM_DIR/stack.yml" -c "$SWARM_DIR/monitoring.yml" -c "$SWARM_DIR/single-node.yml")
# More compose files deployed last, e.g. SWARM_OVERLAYS=swarm/like-native.yml (space-separated).
for f in ${SWARM_OVERLAYS:-}; do STACK_FILES+=(-c "$f"); done

swarm_init() {
  local state
  state="$("$DOCKER" info --format '{{.Swarm.LocalNodeState}}')"
  if [[ "$state" != active ]]; then
    log "docker swarm init --advertise-addr 127.0.0.1"
    "$DOCKER" swarm init --advertise-addr 127.0.0.1 >/dev/null
    touch "$SWARM_RUN/swarm.created"
  fi
  local node label
  node="$("$DOCKER" info --format '{{.Swarm.NodeID}}')"
  # One node holds every pinned service (docs/operations.md labels three nodes).
  for label in edge=true kafka-1=true kafka-2=true kafka-3=true timescaledb=true timescaledb-replica=true \
    redis=true redis-replica=true monitoring=true; do
    "$DOCKER" node update --label-add "$label" "$node" >/dev/null
  done
}

# Generated once per machine, kept root-only under swarm/.run/secrets (the tests read the
# operator token there), created as versioned Swarm secrets; no value is ever printed.
secrets_create() {
  mkdir -p "$SECRETS_DIR"
  chmod 700 "$SECRETS_DIR"
  local s f
  [[ -s "$SECRETS_DIR/pg_password" ]] || orphan_volumes_check
  (
    umask 077
    for s in pg_password redis_password grafana_admin_password; do
      [[ -s "$SECRETS_DIR/$s" ]] || od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$SECRETS_DIR/$s"
    done
    for s in api_key_encryption_key operator_token; do
      [[ -s "$SECRETS_DIR/$s" ]] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$SECRETS_DIR/$s"
    done
    printf '"exchange" "%s"\n' "$(cat "$SECRETS_DIR/pg_password")" >"$SECRETS_DIR/pgbouncer_userlist"
  )
  for s in "${SECRETS[@]}"; do
    f="$SECRETS_DIR/$s"
    if ! "$DOCKER" secret inspect "${s}_v1" >/dev/null 2>&1; then
      "$DOCKER" secret create "${s}_v1" "$f" >/dev/null
      touch "$SECRETS_DIR/.$s.created"
    elif [[ ! -f "$SECRETS_DIR/.$s.created" ]]; then
      # A Swarm secret cannot be read back: one made elsewhere would not match the file here.
      die "secret ${s}_v1 exists in this swarm but was not made from swarm/.run/secrets (another checkout's stack?); remove that stack and its secrets first (npm run swarm -- down there)"
    fi
  done
}

stack_volumes() { "$DOCKER" volume ls -q --filter "label=com.docker.stack.namespace=$STACK"; }

# Stopped containers of the stack that Swarm no longer manages hold its volumes: the exited task
# containers of a swarm that was left (`swarm leave` does not remove them) or of a removal that
# was still under way. Running ones are never touched.
stack_leftover_containers_rm() {
  "$DOCKER" ps -aq --filter "label=com.docker.stack.namespace=$STACK" --filter status=exited \
    --filter status=created --filter status=dead | xargs -r "$DOCKER" rm -f >/dev/null 2>&1 || true
}

# Volumes of an earlier stack whose secrets are gone (a `down` that could not remove them, or a
# `docker stack rm` by hand) hold a database initialised with another password and a Kafka
# metadata log of another quorum: new secrets cannot open them, and a broker starting on one
# diverges from the two fresh ones. Never removed silently: `down` removes them, or
# SWARM_DROP_ORPHAN_VOLUMES=1 (the tests' disposable stack) lets `up` do it.
orphan_volumes_check() {
  local volumes
  volumes="$(stack_volumes | tr '\n' ' ')"
  [[ -n "${volumes// /}" ]] || return 0
  if [[ "${SWARM_DROP_ORPHAN_VOLUMES:-0}" == 1 ]]; then
    log "removing volumes left by an earlier stack whose secrets are gone: $volumes"
    stack_leftover_containers_rm
    # shellcheck disable=SC2086
    "$DOCKER" volume rm $volumes >/dev/null
    return 0
  fi
  die "volumes of an earlier stack exist but its secrets are gone, so new ones could not open them: $volumes; remove them with \`npm run swarm -- down\` (or docker volume rm) after keeping what you need"
}

load_images_env() {
  [[ -s "$IMAGES_ENV" ]] || die "no swarm/.run/images.env: run \`npm run swarm -- build\` first"
  set -a
  # shellcheck source=/dev/null
  . "$IMAGES_ENV"
  set +a
  # Grafana is pulled or left out: it has no source here to build it from (docs/operations.md).
  if [[ -z "${GRAFANA_REPLICAS:-}" ]]; then
    if pull_upstream grafana/grafana:12.3.1; then GRAFANA_REPLICAS=1; else GRAFANA_REPLICAS=0; fi
  fi
  export GRAFANA_REPLICAS TAG REGISTRY
}

# Swarm configs are immutable: each config name carries the hash of its files, so a changed
# file becomes a new config and the services using it roll (docs/operations.md).
content_hash() { cat "$@" | sha256sum | cut -c1-10; }

config_versions() {
  export HAPROXY_CONFIG_VERSION="${HAPROXY_CONFIG_VERSION:-$(content_hash "$SWARM_DIR/haproxy.cfg")}"
  export PGBOUNCER_CONFIG_VERSION="${PGBOUNCER_CONFIG_VERSION:-$(content_hash "$SWARM_DIR/pgbouncer.ini")}"
  export POSTGRES_CONFIG_VERSION="${POSTGRES_CONFIG_VERSION:-$(content_hash "$SWARM_DIR/pg_hba.conf" "$SWARM_DIR/postgres-replica.sh")}"
  export REDIS_CONFIG_VERSION="${REDIS_CONFIG_VERSION:-$(content_hash "$SWARM_DIR/redis-node.sh" "$SWARM_DIR/redis-sentinel.sh")}"
  export PROMETHEUS_CONFIG_VERSION="${PROMETHEUS_CONFIG_VERSION:-$(content_hash "$ROOT_DIR"/monitoring/prometheus/prometheus.swarm.yml "$ROOT_DIR"/monitoring/prometheus/rules/*.yml)}"
  export ALERTMANAGER_CONFIG_VERSION="${ALERTMANAGER_CONFIG_VERSION:-$(content_hash "$ROOT_DIR"/monitoring/alertmanager/alertmanager.yml)}"
  export GRAFANA_CONFIG_VERSION="${GRAFANA_CONFIG_VERSION:-$(content_hash "$SWARM_DIR"/grafana/*.yml "$ROOT_DIR"/monitoring/grafana/dashboards/*.json)}"
}

deploy() {
  config_versions
  log "docker stack deploy ${STACK} (stack + monitoring overlay + single-node overrides)"
  "$DOCKER" stack deploy "${STACK_FILES[@]}" "$STACK" >"$SWARM_RUN/deploy.log" 2>&1 ||
    die "stack deploy failed: $(tail -5 "$SWARM_RUN/deploy.log")"
}

# Prints the services that have not converged: a job not complete, a replicated or global
# service whose running tasks are fewer than desired or not healthy yet.
not_converged() {
  local name mode want running
  while read -r name mode; do
    case "$mode" in
      *job*)
        "$DOCKER" service ps --filter desired-state=running --format '{{.CurrentState}}' "$name" |
          grep -q . && echo "$name (job running)"
        "$DOCKER" service ps --format '{{.CurrentState}}' "$name" | grep -q '^Complete' ||
          echo "$name (job not complete)"
        continue
        ;;
    esac
    case "$("$DOCKER" service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$name")" in
      updating | rollback_started)
        echo "$name (rolling out)"
        continue
        ;;
    esac
    want="$("$DOCKER" service inspect --format '{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}global{{end}}' "$name")"
    [[ "$want" == global ]] && want="$("$DOCKER" node ls -q | wc -l)"
    running=0
    local cid health
    for cid in $("$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=$name"); do
      health="$("$DOCKER" inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$cid" 2>/dev/null || echo gone)"
      [[ "$health" == healthy || "$health" == none ]] && running=$((running + 1))
    done
    ((running >= want)) || echo "$name ($running/$want healthy)"
  done < <("$DOCKER" service ls --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Name}} {{.Mode}}')
}

# The last log lines of each service with a failed task: what a CI log needs to tell why.
failing_logs() {
  local name
  for name in $("$DOCKER" stack ps "$STACK" --filter desired-state=shutdown --format '{{.Name}} {{.Error}}' |
    awk '$2 != "" {sub(/\.[^.]*$/, "", $1); print $1}' | sort -u); do
    log "last lines of $name:"
    "$DOCKER" service logs --no-task-ids --tail 15 "$name" 2>&1 | cut -c1-400 >&2 || true
  done
}

wait_converged() {
  local deadline=$((SECONDS + ${SWARM_WAIT_S:-900})) left started=$SECONDS last=""
  while :; do
    left="$(not_converged)"
    if [[ -z "$left" ]]; then
      log "every service converged with healthy tasks ($((SECONDS - started)) s)"
      return 0
    fi
    if [[ "$left" != "$last" ]]; then
      log "waiting for: $(echo "$left" | tr '\n' ' ')"
      last="$left"
    fi
    ((SECONDS < deadline)) || {
      log "not converged after ${SWARM_WAIT_S:-900} s; recent task errors:"
      "$DOCKER" stack ps "$STACK" --no-trunc --format '{{.Name}} {{.CurrentState}} {{.Error}}' | grep -v Running | head -20 >&2
      failing_logs
      return 1
    }
    sleep 5
  done
}

# Assets, the BTC-USDT and ETH-USDT markets, the fee account and two demo keys, idempotently,
# by the gateway image's seed in a running gateway task (its secrets and database settings).
# The demo keys go to swarm/.run/secrets/demo-keys.json, never to the terminal.
seed() {
  local cid
  cid="$("$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=${STACK}_api-gateway" | head -n 1)"
  [[ -n "$cid" ]] || die "no running api-gateway task to seed from"
  (
    umask 077
    "$DOCKER" exec -e DEMO_KEYS_FILE=/tmp/demo-keys.json "$cid" \
      node dist/services/api-gateway/src/seed.main.js >"$SECRETS_DIR/demo-keys.json" 2>"$SWARM_RUN/seed.log"
  ) || die "seed failed: $(tail -3 "$SWARM_RUN/seed.log")"
  log "seeded: BTC-USDT and ETH-USDT markets, the fee account, demo keys (swarm/.run/secrets/demo-keys.json)"
}

urls() {
  cat <<URLS
gateway       http://127.0.0.1:$GATEWAY_PORT   (REST /v1, WebSocket /ws)
prometheus    http://127.0.0.1:$PROMETHEUS_PORT
alertmanager  http://127.0.0.1:$ALERTMANAGER_PORT
secrets       swarm/.run/secrets (root only; operator token: swarm/.run/secrets/operator_token)
URLS
}

cmd_up() {
  local started=$SECONDS
  engine_up
  swarm_init
  secrets_create
  images_build
  load_images_env
  deploy
  wait_converged || die "the stack did not converge (npm run swarm -- status)"
  seed
  urls
  log "up in $((SECONDS - started)) s"
}

cmd_status() {
  pick_client
  engine_answers || {
    echo "no Docker engine answers"
    return 3
  }
  "$DOCKER" stack services "$STACK" --format '{{.Name}} {{.Mode}} {{.Replicas}} {{.Image}}' 2>/dev/null | sort | column -t
  local left
  left="$(not_converged)"
  if [[ -n "$left" ]]; then
    echo "not converged: $(echo "$left" | tr '\n' ' ')"
    return 3
  fi
  urls
}

cmd_down() {
  pick_client
  if engine_answers; then
    if "$DOCKER" stack ls --format '{{.Name}}' 2>/dev/null | grep -qx "$STACK"; then
      log "docker stack rm $STACK"
      "$DOCKER" stack rm "$STACK" >/dev/null
      # Networks and containers go away asynchronously (a broker may take its whole 120 s
      # stop_grace_period); secrets and volumes in use cannot be removed before.
      local deadline=$((SECONDS + 240))
      while [[ -n "$("$DOCKER" ps -q --filter "label=com.docker.stack.namespace=$STACK")" ]] && ((SECONDS < deadline)); do
        sleep 2
      done
    fi
    stack_leftover_containers_rm
    local s
    for s in "${SECRETS[@]}"; do "$DOCKER" secret rm "${s}_v1" >/dev/null 2>&1 || true; done
    "$DOCKER" config ls --format '{{.Name}}' 2>/dev/null | grep -E '^(prometheus|alertmanager|grafana|haproxy|pgbouncer|postgres|redis)_' |
      xargs -r "$DOCKER" config rm >/dev/null 2>&1 || true
    local volumes
    volumes="$(stack_volumes | tr '\n' ' ')"
    # shellcheck disable=SC2086
    [[ -z "${volumes// /}" ]] || "$DOCKER" volume rm $volumes >/dev/null 2>&1 ||
      log "WARNING: volumes still in use, not removed: $(stack_volumes | tr '\n' ' ')(the next up refuses them)"
    if [[ -f "$SWARM_RUN/swarm.created" ]]; then
      log "leaving the swarm this script created"
      "$DOCKER" swarm leave --force >/dev/null 2>&1 || true
      rm -f "$SWARM_RUN/swarm.created"
    fi
  fi
  rm -rf "$SECRETS_DIR"
  [[ "${SWARM_KEEP_ENGINE:-0}" == 1 ]] || engine_down
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  build)
    engine_up
    images_build
    ;;
  *)
    echo "usage: npm run swarm -- up | status | down | build" >&2
    exit 2
    ;;
esac
