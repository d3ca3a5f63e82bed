#!/usr/bin/env bash
# `node` on the project's runtime (scripts/lib/node-runtime.sh): what npm scripts call, so that
# `npm run load` started from a shell whose node is older still runs on the pinned release.
set -euo pipefail
# shellcheck source=scripts/lib/node-runtime.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/node-runtime.sh"
node_runtime_use
exec node "$@"
