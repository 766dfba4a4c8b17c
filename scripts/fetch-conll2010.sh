#!/usr/bin/env bash
# Fetch the CoNLL-2010 hedging sentences (Wikipedia, certain vs. uncertain) that the Debian
# package python3-pattern carries as a test corpus, into a cache dir (never into the repo).
# Idempotent. Prefers extracting the .deb (no system install); falls back to apt-get install.
#   usage: scripts/fetch-conll2010.sh [CACHE_DIR]   (default ~/.cache/rapport/data)
set -euo pipefail
CACHE="${1:-${RAPPORT_DATA_CACHE:-$HOME/.cache/rapport/data}}"
OUT="$CACHE/uncertainty-conll2010.csv"
REL="usr/share/doc/python3-pattern/test/corpora/uncertainty-conll2010.csv"
if [[ -s "$OUT" ]]; then echo "$OUT"; exit 0; fi
mkdir -p "$CACHE"
if [[ ! -s "/$REL" ]]; then
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  if (cd "$TMP" && apt-get download python3-pattern >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get download python3-pattern >/dev/null; }); then
    DEB="$(ls "$TMP"/python3-pattern_*.deb)"
    sha256sum "$DEB" >&2
    dpkg-deb -x "$DEB" "$TMP/root"
    SRC="$TMP/root/$REL"
    [[ -s "$SRC" ]] || SRC="$SRC.gz"
  else
    apt-get install -y python3-pattern >/dev/null
    SRC="/$REL"
  fi
else
  SRC="/$REL"
fi
if [[ "$SRC" == *.gz ]]; then gzip -dc "$SRC" >"$OUT.tmp"; else cp "$SRC" "$OUT.tmp"; fi
mv "$OUT.tmp" "$OUT"
echo "$OUT"
