#!/usr/bin/env bash
# Side-by-side load runs of two (or more) variants of the platform on this machine, interleaved:
# the measurement behind every before/after table in docs/performance.md.
#
#   bash loadtest/ab.sh [options] NAME=DIR[,VAR=VALUE...] NAME=DIR[,VAR=VALUE...] ...
#
#   NAME=DIR     a checkout (a git worktree of another commit, or this one) and the environment
#                its platform and load driver run with, e.g.
#                  node24=. node20=.,NODE_RUNTIME=system
#                  after=. before=/tmp/before       (git worktree add /tmp/before <commit>)
#                With LOAD_TARGET=swarm the variant is the Swarm stack (`npm run swarm -- up` and
#                `-- down` instead of `npm run platform`; `npm run load` measures the stack):
#                  native=. swarm=.,LOAD_TARGET=swarm
#                  swarm1=.,LOAD_TARGET=swarm,SWARM_OVERLAYS=swarm/like-native.yml
#   --rates 400,1000,5000   the measured runs of each round, in this order (default 1000)
#   --duration 30s          each measured run (default 30s)
#   --warmup 1000:20s       a run first in each round, not reported ("" for none; default 1000:20s)
#   --pairs N               rounds per variant (default 2); the order alternates: A B, B A, ...
#   --out FILE              the Markdown table (default loadtest/reports/ab-<time>.md)
#   --load-args "..."       more options for every `npm run load` (e.g. --no-ws against an old
#                           checkout whose driver has no subscriber, so that both sides match)
#
# Each round: every variant's platform down (only one may hold the ports), a fresh
# `npm run platform` of this variant, the warm-up, then `npm run load` at each rate; each run's
# reconciliation must pass (a failed one is reported as such). Machine quiet: nothing else runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RATES=1000 DURATION=30s WARMUP=1000:20s PAIRS=2 OUT="" LOAD_ARGS=""
variants=()
while (($#)); do
  case "$1" in
    --rates) RATES="$2" && shift ;;
    --duration) DURATION="$2" && shift ;;
    --warmup) WARMUP="$2" && shift ;;
    --pairs) PAIRS="$2" && shift ;;
    --out) OUT="$2" && shift ;;
    --load-args) LOAD_ARGS="$2" && shift ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' && exit 0 ;;
    *=*) variants+=("$1") ;;
    *) echo "ab: unknown argument $1 (see --help)" >&2 && exit 2 ;;
  esac
  shift
done
((${#variants[@]} >= 2)) || {
  echo "ab: give at least two variants NAME=DIR[,VAR=VALUE...]" >&2
  exit 2
}
stamp="$(date -u +%Y%m%d-%H%M%S)"
OUT="${OUT:-loadtest/reports/ab-$stamp.md}"
mkdir -p "$(dirname "$OUT")"
log() { printf '[ab] %s\n' "$*" >&2; }

# in_variant SPEC CMD...: runs CMD in the variant's directory with its environment.
in_variant() {
  local spec=$1 dir envs=()
  shift
  IFS=, read -r -a parts <<<"${spec#*=}"
  dir="${parts[0]}"
  envs=("${parts[@]:1}")
  (cd "$dir" && env "${envs[@]}" "$@")
}

# is_swarm SPEC: the variant runs the Swarm stack.
is_swarm() { [[ ",${1#*=}," == *",LOAD_TARGET=swarm,"* ]]; }

all_down() {
  local v
  for v in "${variants[@]}"; do
    if is_swarm "$v"; then
      in_variant "$v" npm run -s swarm -- down >/dev/null 2>&1 || true
    else
      in_variant "$v" npm run -s platform -- down >/dev/null 2>&1 || true
    fi
  done
}

# One reported row from a run's summary.json.
row() {
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const s = require(process.argv[1]);
    const cost = Object.fromEntries(s.cost.byProcess.map((p) => [p.name, p.msPerRequest]));
    const sum = (re) => s.cost.byProcess.filter((p) => re.test(p.name)).reduce((a, p) => a + p.msPerRequest, 0);
    const services = /^(api-gateway|order-router|matching-worker|market-data)/;
    const mem = s.memory ?? null;
    const rss = mem ? mem.filter((m) => services.test(m.name)).reduce((a, m) => a + m.rssMB, 0) : null;
    const pss = mem ? mem.filter((m) => !/^(load-driver|vegeta)/.test(m.name)).reduce((a, m) => a + m.pssMB, 0) : null;
    const stage = (k) => s.pipeline.stagesSecondsFromReceipt?.[k]?.p50 ?? null;
    const ms = (x) => (x == null ? "n/a" : `${Math.round(x * 1000)} ms`);
    const sec = (x) => (x == null ? "n/a" : `${x.toFixed(2)} s`);
    const cells = [process.argv[2], process.argv[3], s.achieved.throughput,
      s.cost.totalMsPerRequest.toFixed(3), sum(/^kafka/).toFixed(3), (cost["order-router"] ?? 0).toFixed(3),
      sum(services).toFixed(3),
      ms(s.pipeline.p99GatewayAckSecondsRun), sec(s.pipeline.p99TradePersistedSecondsRun),
      s.wsDelivery ? sec(s.wsDelivery.p99) : "n/a", s.idle ? `${s.idle.totalPctOfOneCore} %` : "n/a",
      `${Math.round(s.latencyMs.p50)} / ${Math.round(s.latencyMs.p99)} ms`, ms(stage("acknowledged")),
      sec(stage("trade persisted")), rss ?? "n/a", pss ?? "n/a",
      Object.entries(s.costByGroup ?? {}).map(([g, v]) => `${g} ${v.toFixed(3)}`).join(", ") || "n/a",
      s.reconciliation && s.reconciliation.ok ? "clean" : "**FAILED**", s.runId];
    console.log(`| ${cells.join(" | ")} |`);
  ' "$1" "$2" "$3"
}

{
  echo "# Load A/B, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' /etc/os-release)."
  extra=""
  [[ -z "$LOAD_ARGS" ]] || extra=" --load-args '$LOAD_ARGS'"
  echo "Command: \`bash loadtest/ab.sh --rates $RATES --duration $DURATION --warmup '$WARMUP' --pairs $PAIRS$extra ${variants[*]}\`"
  echo
  echo "| variant | offered/s | accepted/s | CPU ms/order, all | Kafka | order-router | the four services | ack p99 | receipt→trade persisted p99 | receipt→WS trade frame p99 | idle, % of a core | client latency p50 / p99 | ack p50 | receipt→trade persisted p50 | RSS MB, the four services | PSS MB, all | CPU ms/order by kind | reconciliation | run |"
  echo "| ------- | --------: | ---------: | ----------------: | ----: | -----------: | ----------------: | ------: | --------------------------: | -------------------------: | ----------------: | -----------------------: | ------: | --------------------------: | ------------------------: | ----------: | -------------------- | -------------- | --- |"
} >"$OUT"

IFS=, read -r -a rates <<<"$RATES"
for ((pair = 0; pair < PAIRS; pair++)); do
  order=("${variants[@]}")
  if ((pair % 2 == 1)); then
    order=()
    for ((i = ${#variants[@]} - 1; i >= 0; i--)); do order+=("${variants[$i]}"); done
  fi
  for v in "${order[@]}"; do
    name="${v%%=*}"
    log "round $((pair + 1)): $name: fresh platform"
    all_down
    if is_swarm "$v"; then
      in_variant "$v" npm run -s swarm -- up >"/tmp/ab$stamp-$name-up.log" 2>&1
    else
      in_variant "$v" npm run -s platform >/dev/null
    fi
    if [[ -n "$WARMUP" ]]; then
      log "$name: warm-up ${WARMUP%%:*}/s for ${WARMUP#*:}"
      in_variant "$v" npm run -s load -- --rate "${WARMUP%%:*}" --duration "${WARMUP#*:}" >/dev/null 2>&1 ||
        log "$name: the warm-up run failed (not reported)"
    fi
    for rate in "${rates[@]}"; do
      id="ab${stamp#*-}-$name-$rate-$pair" # run ids are at most 30 characters
      log "$name: ${rate}/s for $DURATION ($id)"
      # shellcheck disable=SC2086 # LOAD_ARGS is a list of options
      in_variant "$v" npm run -s load -- --rate "$rate" --duration "$DURATION" --run-id "$id" $LOAD_ARGS \
        >"/tmp/$id.log" 2>&1 || log "$name: npm run load exited non-zero (see /tmp/$id.log)"
      dir="$(in_variant "$v" pwd)"
      if [[ -f "$dir/loadtest/reports/$id/summary.json" ]]; then
        row "$dir/loadtest/reports/$id/summary.json" "$name" "$rate" | tee -a "$OUT" >&2
      else
        echo "| $name | $rate | no summary (see /tmp/$id.log) |" | tee -a "$OUT" >&2
      fi
    done
  done
done
all_down
log "table: $OUT"
