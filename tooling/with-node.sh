#!/usr/bin/env bash
# Runs a command with another Node.js major first on PATH, so it and every child process (pnpm's
# scripts, turbo's tasks, vitest's workers, the servers the tests and the bench start) use that runtime.
#   tooling/with-node.sh 24 pnpm test
#   tooling/with-node.sh 24 node packages/bench/dist/main.js --only 2,3
# The binary comes from the npm registry's `node` package (it ships the official build for this
# platform), so nothing is downloaded from anywhere but the registry CI already uses. It is cached
# outside the repository, in $TESSERA_NODE_CACHE (default ~/.cache/tessera/node)/<major>, so reruns
# start at once; delete that folder to pick up a newer release of the major.
# node_modules installed under Node 20 are reused as they are: the native dependencies (argon2,
# rolldown, lightningcss) are prebuilt N-API addons, which load on any later Node.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: tooling/with-node.sh <major> <command> [args...]" >&2
  exit 2
fi
major="$1"
shift
dir="${TESSERA_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/node}/$major"
bin="$dir/node_modules/node/bin"

if [ ! -x "$bin/node" ]; then
  mkdir -p "$dir"
  # The package's preinstall script installs the platform's binary. npm 12 skips dependency install
  # scripts unless package.json's `allowScripts` names the package (npm 11 only warns).
  printf '{ "private": true, "allowScripts": { "node": true } }\n' >"$dir/package.json"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$dir" "node@$major" >&2
  if [ ! -x "$bin/node" ]; then
    echo "with-node: npm installed node@$major but $bin/node is missing (were install scripts blocked?)" >&2
    exit 1
  fi
fi

export PATH="$bin:$PATH"
echo "with-node: $(command -v node) $(node -v)" >&2
exec "$@"
