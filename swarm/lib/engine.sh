# shellcheck shell=bash
# The Docker engine for the Swarm scripts. Sourced, not run.
#
# A machine that already runs Docker is used as it is and left as it was. Where no engine
# answers, Debian's docker.io is installed (with debootstrap, for the base image) and dockerd is
# started directly (systemd need not be PID 1); engine_stop stops only a dockerd this file started.
#
# Two roles, chosen whatever comes first on PATH:
#   $DOCKER        the newest client here, for everything but builds: `docker stack deploy` of
#                  the stack's one-shot jobs (mode: replicated-job) needs a client >= 23.
#   $DOCKER_BUILD  a client that builds with BuildKit: Debian's 20.10 client at /usr/bin/docker
#                  does (DOCKER_BUILDKIT=1) without the buildx plugin; a newer client on PATH
#                  without buildx refuses BuildKit builds.

SWARM_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT_DIR="$(cd "$SWARM_DIR/.." && pwd)"
SWARM_RUN="$SWARM_DIR/.run"
export SWARM_DIR ROOT_DIR SWARM_RUN

log() { printf '[swarm] %s\n' "$*" >&2; }
die() {
  printf '[swarm] ERROR: %s\n' "$*" >&2
  exit 1
}

client_major() { "$1" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1 || true; }

pick_client() {
  if [[ -n "${DOCKER:-}" && -n "${DOCKER_BUILD:-}" ]]; then return; fi
  local c best="" best_major=0 major
  for c in "$(command -v docker || true)" /usr/bin/docker /usr/local/bin/docker; do
    [[ -n "$c" && -x "$c" ]] || continue
    major="$(client_major "$c")"
    [[ "$major" =~ ^[0-9]+$ ]] || continue
    if ((major > best_major)); then
      best="$c"
      best_major="$major"
    fi
    if [[ -z "${DOCKER_BUILD:-}" ]]; then
      if "$c" buildx version >/dev/null 2>&1; then
        DOCKER_BUILD="$c"
      elif ((major < 23)) && DOCKER_BUILDKIT=1 "$c" build --help 2>/dev/null | grep -q -- '--secret'; then
        DOCKER_BUILD="$c"
      fi
    fi
  done
  DOCKER="$best"
  DOCKER_BUILD="${DOCKER_BUILD:-}"
  export DOCKER DOCKER_BUILD
}

engine_answers() { [[ -n "${DOCKER:-}" ]] && timeout 10 "$DOCKER" info >/dev/null 2>&1; }

install_engine() {
  log "no Docker engine here: installing Debian's docker.io and debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io debootstrap >/dev/null
}

# Starts dockerd unless an engine answers; remembers whether it did.
engine_up() {
  mkdir -p "$SWARM_RUN"
  pick_client
  if engine_answers; then
    [[ -f "$SWARM_RUN/dockerd.pid" ]] || log "using the Docker engine already running here"
    return
  fi
  if ! command -v dockerd >/dev/null || [[ ! -x /usr/bin/docker ]]; then install_engine; fi
  command -v debootstrap >/dev/null || install_engine
  unset DOCKER DOCKER_BUILD
  pick_client
  [[ -n "$DOCKER_BUILD" ]] || die "no Docker client that builds with BuildKit (Debian's docker.io, or buildx)"
  log "starting dockerd (log: swarm/.run/dockerd.log)"
  # setsid: the daemon outlives this shell; its containers outlive a crash of this script.
  # --userland-proxy=false: published ports reach 127.0.0.1 through iptables, not a docker-proxy
  # process per port that copies every byte (it cost CPU per request and, under load, died and
  # left 127.0.0.1:8080 refusing while [::1]:8080 still answered).
  setsid dockerd --log-level=warn --userland-proxy=false >"$SWARM_RUN/dockerd.log" 2>&1 </dev/null &
  echo $! >"$SWARM_RUN/dockerd.pid"
  local i
  for ((i = 0; i < 60; i++)); do
    engine_answers && return
    sleep 1
  done
  die "dockerd did not answer within 60 s (swarm/.run/dockerd.log)"
}

# Stops dockerd if engine_up started it; an engine that was here before is left alone.
engine_down() {
  local f="$SWARM_RUN/dockerd.pid" pid i
  [[ -s "$f" ]] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping the dockerd this script started (pid $pid)"
    kill -TERM "$pid"
    for ((i = 0; i < 60; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
  fi
  rm -f "$f"
}
