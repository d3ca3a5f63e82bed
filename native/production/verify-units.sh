#!/usr/bin/env bash
# `systemd-analyze verify` of every unit of the native production install (or of the units in
# the directory given), failing on any finding: systemd only warns about an unknown key or a bad
# value and still exits 0, so any output counts. Templates are checked as their instance 0.
# Installs Debian's systemd package when systemd-analyze is missing (systemd need not run).
set -euo pipefail
DIR="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/systemd}"
if ! command -v systemd-analyze >/dev/null; then
  [[ "$(id -u)" == 0 ]] || {
    echo "systemd-analyze is missing: apt-get install systemd (as root)" >&2
    exit 1
  }
  echo "installing Debian's systemd package for systemd-analyze" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends systemd >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends systemd >/dev/null; }
fi
# The units start the release's own runtime, /opt/trading/current/node/bin/node, which exists only
# on an installed machine; systemd-analyze refuses a missing executable, so the copies verified
# here name the same pinned Node.js (.node-version) where this checkout keeps it.
# shellcheck source=scripts/lib/node-runtime.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib/node-runtime.sh"
node_runtime_use
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
shopt -s nullglob
for f in "$DIR"/*.service "$DIR"/*.target; do
  sed "s#/opt/trading/current/node/bin/node #$(command -v node) #g" "$f" >"$work/${f##*/}"
done
DIR="$work"
units=("$DIR"/*.service "$DIR"/*.target)
((${#units[@]})) || {
  echo "no units in $DIR" >&2
  exit 1
}
failed=0
for unit in "${units[@]}"; do
  name="${unit##*/}"
  arg="$unit"
  # A template cannot be loaded as itself: verify it as its instance 0.
  [[ "$name" == *@.* ]] && arg="$unit:${name/@./@0.}"
  if ! out="$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no "$arg" 2>&1)" || [[ -n "$out" ]]; then
    printf '%s:\n%s\n' "$name" "${out:-systemd-analyze verify failed}" >&2
    failed=1
  fi
done
((failed == 0)) && echo "systemd-analyze verify: ${#units[@]} units clean"
exit "$failed"
