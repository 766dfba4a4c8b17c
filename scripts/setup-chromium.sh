#!/usr/bin/env bash
# Installs Debian's chromium for the test that renders the profile card headless
# (tests/report.rs) and for scripts/card-example.sh. Idempotent: does nothing when `chromium`
# is already on PATH.
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "setup-chromium.sh: install Debian's chromium package (apt-get is not here)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
chromium --version
