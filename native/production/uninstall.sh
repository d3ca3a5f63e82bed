#!/usr/bin/env bash
# Removes the native production install (native/production/install.sh): stops and disables the
# units, removes them and the kernel, journald and sysusers files. Keeps by default what cannot
# be made again: /etc/trading (settings, secrets, Kafka's cluster id), /opt/trading (releases)
# and Kafka's data in /var/lib/trading-kafka; --purge deletes those and the two users too.
# PostgreSQL, PgBouncer and Redis are Debian's: left installed, running and with their data.
# Idempotent.
#
#   bash native/production/uninstall.sh [--purge] [--root DIR]
set -euo pipefail

ROOT=""
PURGE=0
while (($#)); do
  case "$1" in
    --purge) PURGE=1 ;;
    --root)
      ROOT="${2:?--root needs a directory}"
      shift
      ;;
    *)
      printf '[uninstall] unknown option %s\n' "$1" >&2
      exit 2
      ;;
  esac
  shift
done
[[ "$(id -u)" == 0 || -n "$ROOT" ]] || {
  echo '[uninstall] run as root' >&2
  exit 1
}
[[ -z "$ROOT" ]] || ROOT="$(cd "$ROOT" && pwd)"
say() { printf '[uninstall] %s\n' "$*"; }
sctl() {
  if [[ -n "$ROOT" ]]; then systemctl --root="$ROOT" "$@"; else systemctl "$@"; fi
}
UNIT_DIR="$ROOT/etc/systemd/system"

units=()
for f in "$UNIT_DIR"/trading.target "$UNIT_DIR"/trading-*.service "$UNIT_DIR"/trading.target.wants/*; do
  [[ -e "$f" || -L "$f" ]] && units+=("${f##*/}")
done
if ((${#units[@]})); then
  if [[ -z "$ROOT" && -d /run/systemd/system ]]; then
    systemctl stop trading.target 'trading-*.service' >/dev/null 2>&1 || true
  fi
  for u in "${units[@]}"; do
    [[ "$u" == *@.service ]] && continue
    sctl disable "$u" >/dev/null 2>&1 || true
  done
  rm -rf "$UNIT_DIR"/trading.target "$UNIT_DIR"/trading-*.service "$UNIT_DIR"/trading.target.wants
  say "removed units: ${units[*]}"
fi
rm -f "$ROOT/etc/sysctl.d/60-trading.conf" "$ROOT/etc/systemd/journald.conf.d/60-trading.conf" \
  "$ROOT/etc/sysusers.d/trading.conf" "$ROOT/etc/postgresql/15/main/conf.d/60-trading.conf"
if [[ -z "$ROOT" && -d /run/systemd/system ]]; then
  systemctl daemon-reload
  systemctl restart systemd-journald || true
fi
if ((PURGE)); then
  rm -rf "$ROOT/etc/trading" "$ROOT/opt/trading" "$ROOT/var/lib/trading-kafka" "$ROOT/var/lib/private/trading-kafka"
  if [[ -z "$ROOT" ]]; then
    for u in trading trading-kafka; do
      if id "$u" >/dev/null 2>&1; then userdel "$u"; fi
    done
  fi
  say "purged settings, secrets, releases and Kafka data"
else
  say "kept /etc/trading, /opt/trading and /var/lib/trading-kafka (--purge deletes them)"
fi
say "done (kernel settings already applied stay until the next boot)"
