#!/usr/bin/env bash
# Creates .venv for the Python client's tests (tests/python_client.rs): grpcio-tools (to check
# and regenerate clients/python's committed stubs), pytest, and the client package itself
# (`pip install ./clients/python`, which brings grpcio and protobuf). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
GRPC_VERSION=1.85.1
PYTEST_VERSION=9.2.0
want() {
  .venv/bin/python - "$GRPC_VERSION" "$PYTEST_VERSION" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
assert version("grpcio") == sys.argv[1] and version("grpcio-tools") == sys.argv[1]
assert version("pytest") == sys.argv[2]
import rapport_client  # noqa: F401
PY
}
if want; then
  exit 0
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check \
  "grpcio==$GRPC_VERSION" "grpcio-tools==$GRPC_VERSION" "pytest==$PYTEST_VERSION"
# The test installs the working tree's package again into a temporary folder; this copy is for
# running clients/python/examples by hand.
.venv/bin/pip install --quiet --disable-pip-version-check ./clients/python
rm -rf clients/python/build clients/python/*.egg-info
.venv/bin/python -c "import grpc, rapport_client; print('python client: rapport-client', rapport_client.__version__, 'grpcio', grpc.__version__)"
