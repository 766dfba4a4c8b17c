#!/usr/bin/env bash
# Writes the benchmark texts: the first 1,000 tweets of the Davidson corpus in
# ../shared/datasets (short English messages, about 22 tokens each), one per line.
# usage: scripts/bench-texts.sh [OUT]   (default /tmp/rapport-bench/tweets.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/rapport-bench/tweets.txt}
mkdir -p "$(dirname "$out")"
python3 - "$out" <<'PY'
import csv, sys
rows = csv.DictReader(open("../shared/datasets/davidson_hate_offensive/labeled_data.csv", encoding="utf-8", errors="replace"))
texts = [" ".join(r["tweet"].split()) for r in rows]
texts = [t for t in texts if t][:1000]
open(sys.argv[1], "w", encoding="utf-8").write("\n".join(texts) + "\n")
print(f"{len(texts)} texts -> {sys.argv[1]}")
PY
