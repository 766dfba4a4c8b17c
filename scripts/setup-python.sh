#!/usr/bin/env bash
# Creates .venv with grpcio-tools, for the test that drives the server from a generated
# Python client. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
GRPC_VERSION=1.85.1
if .venv/bin/python -c "import grpc_tools, grpc; assert grpc.__version__ == '$GRPC_VERSION'" 2>/dev/null; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check "grpcio==$GRPC_VERSION" "grpcio-tools==$GRPC_VERSION"
.venv/bin/python -c "import grpc_tools, grpc; print('python client deps: grpcio', grpc.__version__)"
