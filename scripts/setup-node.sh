#!/usr/bin/env bash
# Installs clients/node's pinned dependencies (@grpc/grpc-js, @grpc/proto-loader) from its
# lockfile, for the test that runs the Node client package against a server
# (tests/node_client.rs). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../clients/node"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup-node.sh: node and npm are needed for tests/node_client.rs (Node 18 or later)" >&2
  exit 1
fi
# Up to date when npm's record of the last install is newer than the lockfile.
if [ node_modules/.package-lock.json -nt package-lock.json ] \
  && node -e "require.resolve('@grpc/grpc-js'); require.resolve('@grpc/proto-loader')" 2>/dev/null; then
  exit 0
fi
# --ignore-scripts: no dependency runs code at install (the package's own prepack still runs at `npm pack`).
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
node -e "console.log('node client: @grpc/grpc-js', require('@grpc/grpc-js/package.json').version)"
