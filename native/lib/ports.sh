# shellcheck shell=bash
# Loads native/ports.env and applies NATIVE_PORT_OFFSET (default 0) to every port, so a second
# checkout (a git worktree, a CI clone next to a developer's platform) can run its own native
# platform on the same machine: NATIVE_PORT_OFFSET=3000 bash native/infra.sh up. Offsets 3000,
# 5000 and 7000 do not overlap each other or the default. Sourced.

# shellcheck source=../ports.env
. "$(dirname "${BASH_SOURCE[0]}")/../ports.env"

# A checkout can keep its offset in native/ports.local.env (git-ignored): NATIVE_PORT_OFFSET=3000
if [[ -z "${NATIVE_PORT_OFFSET:-}" && -f "$(dirname "${BASH_SOURCE[0]}")/../ports.local.env" ]]; then
  # shellcheck source=/dev/null
  . "$(dirname "${BASH_SOURCE[0]}")/../ports.local.env"
fi
NATIVE_PORT_OFFSET="${NATIVE_PORT_OFFSET:-0}"
[[ "$NATIVE_PORT_OFFSET" =~ ^[0-9]{1,5}$ ]] || {
  echo "NATIVE_PORT_OFFSET must be a number, got '$NATIVE_PORT_OFFSET'" >&2
  exit 1
}
for _port_var in PG_PORT PG_REPLICA_PORT PGBOUNCER_PORT REDIS_PORT REDIS_REPLICA_PORT REDIS_SENTINEL_BASE_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT PROMETHEUS_PORT \
  ALERTMANAGER_PORT NODE_EXPORTER_PORT API_GATEWAY_PORT ORDER_ROUTER_PORT MARKET_DATA_PORT \
  MATCHING_WORKER_BASE_PORT API_GATEWAY_BASE_PORT ORDER_ROUTER_1_PORT MARKET_DATA_1_PORT; do
  printf -v "$_port_var" '%s' "$((${!_port_var} + NATIVE_PORT_OFFSET))"
done
unset _port_var
# Browsers and Node's fetch refuse some ports outright (the Fetch standard's "bad ports").
case " $API_GATEWAY_PORT $ORDER_ROUTER_PORT $MARKET_DATA_PORT $MATCHING_WORKER_BASE_PORT $API_GATEWAY_BASE_PORT $((API_GATEWAY_BASE_PORT + 1)) $ORDER_ROUTER_1_PORT $MARKET_DATA_1_PORT " in
  *" 10080 "* | *" 6000 "* | *" 6665 "* | *" 6666 "* | *" 6667 "* | *" 6668 "* | *" 6669 "*)
    echo "NATIVE_PORT_OFFSET=$NATIVE_PORT_OFFSET puts a service on a port fetch() refuses; pick another" >&2
    exit 1
    ;;
esac
export NATIVE_PORT_OFFSET
