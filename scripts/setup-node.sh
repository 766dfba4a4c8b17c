#!/usr/bin/env bash
# Installs tests/node's pinned gRPC packages (@grpc/grpc-js, @grpc/proto-loader) from its
# lockfile, for the test that drives the server from a Node client. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../tests/node"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup-node.sh: node and npm are needed for tests/node_client.rs (Node 18 or later)" >&2
  exit 1
fi
# Up to date when npm's record of the last install is newer than the lockfile.
if [ node_modules/.package-lock.json -nt package-lock.json ] \
  && node -e "require.resolve('@grpc/grpc-js'); require.resolve('@grpc/proto-loader')" 2>/dev/null; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error >/dev/null
node -e "console.log('node client deps: @grpc/grpc-js', require('@grpc/grpc-js/package.json').version)"
