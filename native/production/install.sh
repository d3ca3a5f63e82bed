#!/usr/bin/env bash
# Native production install of the trading platform on a Debian 12 machine with systemd:
# systemd units under a dedicated user, Kafka from Maven Central's jars, PostgreSQL, PgBouncer and
# Redis from Debian (their own units), journald retention, kernel settings. Idempotent: a second
# run changes nothing but a new release. docs/operations.md, "Native production".
#
#   bash native/production/install.sh             install or upgrade to this checkout, start
#   bash native/production/install.sh --rollback  point /opt/trading/current at the release
#                                                 before it and restart the services
#   bash native/production/uninstall.sh [--purge] the reverse
#
# Options: --workers N (matching-worker instances, default 3; more than before enables the new
# ones, fewer disables the rest), --units-only (units, configuration, users, secrets, sysctl and
# journald files only: no packages, release, database or start), --root DIR (install into DIR
# instead of /, implies --units-only: how the tests check the installer without touching /).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHECKOUT="$(cd "$HERE/../.." && pwd)"
ROOT=""
UNITS_ONLY=0
ROLLBACK=0
WORKERS="${MATCHING_WORKERS:-3}"
SERVICES=(trading-api-gateway trading-order-router trading-market-data)

say() { printf '[install] %s\n' "$*"; }
die() {
  printf '[install] ERROR: %s\n' "$*" >&2
  exit 1
}

while (($#)); do
  case "$1" in
    --root)
      ROOT="${2:?--root needs a directory}"
      UNITS_ONLY=1
      shift
      ;;
    --units-only) UNITS_ONLY=1 ;;
    --rollback) ROLLBACK=1 ;;
    --workers)
      WORKERS="${2:?--workers needs a number}"
      shift
      ;;
    -h | --help)
      sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[[ "$WORKERS" =~ ^[1-9][0-9]?$ ]] || die "--workers must be 1-99, got '$WORKERS'"
[[ -z "$ROOT" ]] || ROOT="$(mkdir -p "$ROOT" && cd "$ROOT" && pwd)"

ETC="$ROOT/etc/trading"
OPT="$ROOT/opt/trading"
UNIT_DIR="$ROOT/etc/systemd/system"
# systemd runs as PID 1 (not in a container or a chroot): units can be started.
systemd_running() { [[ -z "$ROOT" && -d /run/systemd/system ]]; }
sctl() {
  if [[ -n "$ROOT" ]]; then systemctl --root="$ROOT" "$@"; else systemctl "$@"; fi
}

# install_file SRC DEST MODE: copies when the content differs (then prints DEST), else nothing.
install_file() {
  local src=$1 dest=$2 mode=$3
  mkdir -p "$(dirname "$dest")"
  if ! cmp -s "$src" "$dest"; then
    install -m "$mode" "$src" "$dest"
    printf '%s\n' "$dest"
  fi
  chmod "$mode" "$dest"
}

# Configuration the operator owns: copied the first time only.
install_config_once() {
  local src=$1 dest=$2
  [[ -e "$dest" ]] && return 0
  mkdir -p "$(dirname "$dest")"
  install -m 0644 "$src" "$dest"
  say "wrote $dest (yours to edit; later installs keep it)"
}

secret() {
  local f="$ETC/secrets/$1" bytes=$2
  [[ -s "$f" ]] && return 0
  (umask 077 && od -An -tx1 -N"$bytes" /dev/urandom | tr -d ' \n' >"$f")
  say "generated secret $f"
}

install_users() {
  install_file "$HERE/config/sysusers.conf" "$ROOT/etc/sysusers.d/trading.conf" 0644 >/dev/null
  if [[ -n "$ROOT" ]]; then
    mkdir -p "$ROOT/etc"
    touch "$ROOT/etc/passwd" "$ROOT/etc/group"
    systemd-sysusers --root="$ROOT" "$ROOT/etc/sysusers.d/trading.conf"
  else
    systemd-sysusers /etc/sysusers.d/trading.conf
  fi
}

install_config() {
  local s i
  mkdir -p "$ETC"
  chmod 0755 "$ETC"
  install_config_once "$HERE/config/trading.env" "$ETC/trading.env"
  for s in api-gateway order-router market-data matching-worker; do
    install_config_once "$HERE/config/$s.env" "$ETC/$s.env"
  done
  for ((i = 0; i < WORKERS; i++)); do
    [[ -e "$ETC/matching-worker@$i.env" ]] ||
      printf '# matching-worker instance %s (install.sh)\nHTTP_PORT=%s\n' "$i" "$((8090 + i))" >"$ETC/matching-worker@$i.env"
  done
  # Secrets: root-only directory; the units read them with LoadCredential= (systemd hands each
  # service a private copy under $CREDENTIALS_DIRECTORY, %d in the units).
  install -d -m 0700 "$ETC/secrets"
  secret pg_password 24
  secret api_key_encryption_key 32
  secret operator_token 32
  chmod 0600 "$ETC"/secrets/*
  # Kafka: settings once, the log configuration always, the cluster id once.
  install -d -m 0755 "$ETC/kafka"
  install_config_once "$HERE/kafka/server.properties" "$ETC/kafka/server.properties"
  install_file "$HERE/kafka/log4j2.properties" "$ETC/kafka/log4j2.properties" 0644 >/dev/null
  if [[ ! -s "$ETC/kafka/cluster.id" ]]; then
    # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
    local id
    while :; do
      id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
      [[ "$id" != -* ]] && break
    done
    printf '%s\n' "$id" >"$ETC/kafka/cluster.id"
  fi
}

install_system_files() {
  local f changed=()
  for f in "$HERE"/systemd/*; do
    if [[ -n "$(install_file "$f" "$UNIT_DIR/${f##*/}" 0644)" ]]; then changed+=("${f##*/}"); fi
  done
  ((${#changed[@]} == 0)) || say "units installed or changed: ${changed[*]}"
  if [[ -n "$(install_file "$HERE/config/sysctl.conf" "$ROOT/etc/sysctl.d/60-trading.conf" 0644)" && -z "$ROOT" ]]; then
    sysctl -q -p /etc/sysctl.d/60-trading.conf || say "could not apply the kernel settings now (a container?); they apply at boot"
  fi
  if [[ -n "$(install_file "$HERE/config/journald.conf" "$ROOT/etc/systemd/journald.conf.d/60-trading.conf" 0644)" ]] && systemd_running; then
    systemctl restart systemd-journald
  fi
}

enable_units() {
  local i unit wanted=()
  for ((i = 0; i < WORKERS; i++)); do wanted+=("trading-matching-worker@$i.service"); done
  # Instances beyond --workers from an earlier install.
  for unit in "$UNIT_DIR"/trading.target.wants/trading-matching-worker@*.service; do
    [[ -e "$unit" || -L "$unit" ]] || continue
    unit="${unit##*/}"
    [[ " ${wanted[*]} " == *" $unit "* ]] && continue
    if systemd_running; then systemctl disable --now "$unit" >/dev/null 2>&1 || true; else sctl disable "$unit" >/dev/null 2>&1; fi
    say "disabled $unit"
  done
  systemd_running && systemctl daemon-reload
  sctl enable --quiet trading.target trading-kafka.service "${SERVICES[@]/%/.service}" "${wanted[@]}"
}

ensure_packages() {
  local missing=() entry
  for entry in /usr/bin/java:openjdk-17-jre-headless /usr/bin/mvn:maven /usr/lib/postgresql/15/bin/postgres:postgresql \
    /usr/sbin/pgbouncer:pgbouncer /usr/bin/redis-server:redis-server /usr/bin/psql:postgresql-client; do
    [[ -x "${entry%%:*}" ]] || missing+=("${entry#*:}")
  done
  if ((${#missing[@]})); then
    say "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
      { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; }
  fi
  # The pinned Node.js (.node-version), fetched from the npm registry when the machine has another:
  # each release carries its own copy (build_release), so a rollback rolls the runtime back too.
  # shellcheck source=scripts/lib/node-runtime.sh
  . "$CHECKOUT/scripts/lib/node-runtime.sh"
  node_runtime_use || die "the pinned Node.js ($(cat "$CHECKOUT/.node-version")) could not be had"
}

# The Kafka jars (native/kafka/pom.xml) in /opt/trading/kafka/libs, once per pom content.
install_kafka_jars() {
  local want stamp="$OPT/kafka/libs.sha256"
  want="$(sha256sum "$CHECKOUT/native/kafka/pom.xml" | cut -d' ' -f1)"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && return 0
  say "resolving the Kafka jars with mvn"
  rm -rf "$OPT/kafka/libs.tmp"
  mvn -q -B -f "$CHECKOUT/native/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$OPT/kafka/libs.tmp"
  rm -rf "$OPT/kafka/libs"
  mv "$OPT/kafka/libs.tmp" "$OPT/kafka/libs"
  chmod -R a+rX "$OPT/kafka"
  printf '%s\n' "$want" >"$stamp"
}

# A release: this checkout's build and production dependencies in /opt/trading/releases/<rev>,
# root-owned and read-only to the services. Prints its path.
build_release() {
  local rev dir
  rev="$(git -C "$CHECKOUT" rev-parse --short=12 HEAD 2>/dev/null || date -u +%Y%m%d%H%M%S)"
  if [[ -n "$(git -C "$CHECKOUT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then rev="$rev-dirty"; fi
  dir="$OPT/releases/$rev"
  if [[ -f "$dir/.complete" && "$rev" != *-dirty ]]; then
    printf '%s\n' "$dir"
    return 0
  fi
  say "building release $rev" >&2
  (cd "$CHECKOUT" && node scripts/build.mjs >/dev/null)
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  cp -a "$CHECKOUT/dist" "$CHECKOUT/package.json" "$CHECKOUT/package-lock.json" "$CHECKOUT/docs" "$dir.tmp/"
  [[ -d "$CHECKOUT/patches" ]] && cp -a "$CHECKOUT/patches" "$dir.tmp/"
  # The runtime the units start: /opt/trading/current/node/bin/node.
  install -D -m 0755 "$(command -v node)" "$dir.tmp/node/bin/node"
  [[ "$("$dir.tmp/node/bin/node" -p process.versions.node)" == "$(tr -d '[:space:]' <"$CHECKOUT/.node-version")" ]] ||
    die "the release's node is not the pinned Node.js"
  # Exactly the lock, without dev tools.
  (cd "$dir.tmp" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >&2)
  chown -R root:root "$dir.tmp"
  chmod -R go-w,a+rX "$dir.tmp"
  touch "$dir.tmp/.complete"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  printf '%s\n' "$dir"
}

# PostgreSQL (Debian's cluster 15/main on 5432), its role and database with the secret's
# password; PgBouncer (Debian's unit, 6432) in transaction pooling in front of it. Redis: Debian's
# unit as shipped (127.0.0.1:6379).
configure_infrastructure() {
  local pw
  pw="$(cat "$ETC/secrets/pg_password")"
  install_file "$HERE/config/postgresql.conf" /etc/postgresql/15/main/conf.d/60-trading.conf 0644 >/dev/null
  systemctl enable --now postgresql.service redis-server.service pgbouncer.service >/dev/null
  systemctl reload-or-restart postgresql@15-main.service
  runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -v pw="$pw" -d postgres <<'SQL'
SELECT 'CREATE ROLE exchange LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'exchange') \gexec
ALTER ROLE exchange WITH LOGIN PASSWORD :'pw';
SELECT 'CREATE DATABASE exchange OWNER exchange' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'exchange') \gexec
SQL
  runuser -u postgres -- psql -X -q -d exchange -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' \
    -c 'GRANT pg_read_all_stats TO exchange' >/dev/null
  local tmp
  tmp="$(mktemp)"
  printf '"exchange" "%s"\n' "$pw" >"$tmp"
  install -o postgres -g postgres -m 0600 "$tmp" /etc/pgbouncer/userlist.txt
  rm -f "$tmp"
  if [[ -n "$(install_file "$HERE/config/pgbouncer.ini" /etc/pgbouncer/pgbouncer.ini 0640)" ]]; then
    chown root:postgres /etc/pgbouncer/pgbouncer.ini
    systemctl restart pgbouncer.service
  fi
}

switch_release() {
  local dir=$1 current
  current="$(readlink "$OPT/current" 2>/dev/null || true)"
  [[ "$current" == "$dir" ]] && return 1
  [[ -n "$current" ]] && ln -sfn "$current" "$OPT/previous"
  ln -sfn "$dir" "$OPT/current.tmp"
  mv -T "$OPT/current.tmp" "$OPT/current"
  say "current release: $dir (previous: ${current:-none})"
}

start_platform() {
  local restart=$1
  systemctl start trading-kafka.service
  systemctl start trading-migrate.service
  if ((restart)); then systemctl restart trading.target; else systemctl start trading.target; fi
  say "waiting for the services' readiness"
  local port deadline=$((SECONDS + 120)) i
  local ports=(8080 8081 8082)
  for ((i = 0; i < WORKERS; i++)); do ports+=($((8090 + i))); done
  for port in "${ports[@]}"; do
    until curl -fs -o /dev/null "http://127.0.0.1:$port/health/ready"; do
      ((SECONDS < deadline)) || die "port $port not ready after 120 s: journalctl -u 'trading-*' -n 100"
      sleep 1
    done
  done
  say "ready: http://127.0.0.1:8080 (journalctl -u 'trading-*' -f for the logs)"
}

main() {
  [[ "$(id -u)" == 0 || -n "$ROOT" ]] || die "run as root"
  if ! command -v systemctl >/dev/null || ! command -v systemd-sysusers >/dev/null; then
    die "systemctl and systemd-sysusers are needed (Debian package systemd)"
  fi
  if ((ROLLBACK)); then
    local prev
    prev="$(readlink "$OPT/previous" 2>/dev/null)" || die "no previous release in $OPT/previous"
    switch_release "$prev" || true
    systemd_running && systemctl restart trading.target
    say "rolled back to $prev (migrations are not undone: they are backwards compatible)"
    return 0
  fi
  install_users
  install_config
  install_system_files
  enable_units
  if ((UNITS_ONLY)); then
    say "units, configuration and system files in place under ${ROOT:-/} (--units-only: nothing started)"
    return 0
  fi
  ensure_packages
  install_kafka_jars
  local release restart=0
  release="$(build_release)"
  switch_release "$release" && restart=1
  if ! systemd_running; then
    say "systemd is not running as PID 1 here: everything is installed and enabled, nothing started"
    return 0
  fi
  configure_infrastructure
  start_platform "$restart"
}

main
