#!/usr/bin/env bash
# Seeds each fuzz target's corpus from tests/corpus (the selector byte first, as the targets read it).
set -euo pipefail
cd "$(dirname "$0")"
C=../tests/corpus
mkdir -p corpus/email corpus/chat corpus/transcript corpus/pii_sentences
for f in $C/email/*; do { printf '\x00'; cat "$f"; } > "corpus/email/plain_$(basename "$f")"; done
for f in $C/html/*; do { printf '\x01'; cat "$f"; } > "corpus/email/html_$(basename "$f")"; done
# MIME templates are fed as they are (their markers are just more bytes to the parser).
for f in $C/mime/*; do { printf '\x02'; cat "$f"; } > "corpus/email/mime_$(basename "$f")"; done
for f in $C/chat/*; do { printf '\x00'; cat "$f"; } > "corpus/chat/$(basename "$f")"; done
for f in $C/transcript/*; do { printf '\x00'; cat "$f"; } > "corpus/transcript/$(basename "$f")"; done
for f in $C/email/* $C/plain/*; do cp "$f" "corpus/pii_sentences/$(basename "$f")"; done
