# shellcheck shell=bash
# Installs the Debian packages the native platform needs, only where a binary is missing, and
# keeps the distro's own service instances from running (we run our own, on our own ports).

PG_BIN_DIR="/usr/lib/postgresql/15/bin"
export PG_BIN_DIR

# binary-path:package pairs
_REQUIRED=(
  "$PG_BIN_DIR/postgres:postgresql"
  "$PG_BIN_DIR/initdb:postgresql"
  "/usr/bin/psql:postgresql-client"
  "/usr/sbin/pgbouncer:pgbouncer"
  "/usr/bin/redis-server:redis-server"
  "/usr/bin/redis-cli:redis-tools"
  "/usr/bin/prometheus:prometheus"
  "/usr/bin/promtool:prometheus"
  "/usr/bin/prometheus-alertmanager:prometheus-alertmanager"
  "/usr/bin/amtool:prometheus-alertmanager"
  "/usr/bin/prometheus-node-exporter:prometheus-node-exporter"
  "/usr/bin/java:openjdk-17-jre-headless"
  "/usr/bin/mvn:maven"
  "/usr/bin/curl:curl"
  "/usr/bin/ss:iproute2"
  "/usr/bin/setpriv:util-linux"
)

_POLICY_RC=/usr/sbin/policy-rc.d
_POLICY_RC_CREATED=0

_restore_policy_rc() {
  if ((_POLICY_RC_CREATED)); then
    rm -f "$_POLICY_RC"
    _POLICY_RC_CREATED=0
  fi
}

# install_missing_packages [BINARY:PACKAGE...]: the infrastructure's packages, or only those
# given (native/platform.sh asks for haproxy when SCALE_OUT=1).
install_missing_packages() {
  local entry bin pkg missing=() wanted=("${_REQUIRED[@]}")
  (($#)) && wanted=("$@")
  for entry in "${wanted[@]}"; do
    bin="${entry%%:*}"
    pkg="${entry#*:}"
    if [[ ! -x "$bin" ]]; then
      [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  [[ "$(id -u)" == 0 ]] || die "missing packages (${missing[*]}) and not root: install them or run as root"
  log "installing Debian packages: ${missing[*]}"
  # Keep maintainer scripts from auto-starting the distro services (invoke-rc.d honours it).
  if [[ ! -e "$_POLICY_RC" ]]; then
    printf '#!/bin/sh\n# added by native/infra.sh during apt-get install\nexit 101\n' >"$_POLICY_RC"
    chmod 755 "$_POLICY_RC"
    _POLICY_RC_CREATED=1
    trap _restore_policy_rc EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  local apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends)
  if ! apt-get install "${apt_opts[@]}" "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1; then
    log "apt-get install failed; refreshing package lists and retrying"
    apt-get update -q >>"$LOG_DIR/apt.log" 2>&1 || die "apt-get update failed; see $LOG_DIR/apt.log"
    apt-get install "${apt_opts[@]}" "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1 ||
      die "apt-get install ${missing[*]} failed; see $LOG_DIR/apt.log"
  fi
  _restore_policy_rc
  stop_distro_services
}

# Stops and disables the package-provided instances (they would hold 5432, 6379, 9090, 9093...).
stop_distro_services() {
  local svc
  for svc in postgresql pgbouncer redis-server prometheus prometheus-alertmanager prometheus-node-exporter haproxy; do
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    elif [[ -x "/etc/init.d/$svc" ]]; then
      service "$svc" stop >/dev/null 2>&1 || true
      if command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d "$svc" disable >/dev/null 2>&1 || true
      fi
    fi
  done
  # The Debian postgresql package creates cluster 15/main; never start it automatically.
  if [[ -f /etc/postgresql/15/main/start.conf ]] && ! grep -qx 'manual' /etc/postgresql/15/main/start.conf; then
    if command -v pg_ctlcluster >/dev/null 2>&1; then
      pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
    fi
    echo manual >/etc/postgresql/15/main/start.conf
  fi
}

# Warns (does not fail) when something listens on the default ports of these programs.
check_default_ports() {
  local p
  for p in 5432 6432 6379 9092 9093 9090 9094; do
    if port_listening "$p"; then
      warn "something listens on default port $p: $(ss -Hltnp "sport = :$p" | head -n 1)"
    fi
  done
}
