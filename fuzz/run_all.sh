#!/usr/bin/env bash
# Runs the fuzz targets one after another (one core: the machine is shared), SECONDS each.
# Usage: fuzz/run_all.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")"
SECS=${1:-660}; shift || true
TARGETS=${*:-email chat transcript pii_sentences}
mkdir -p logs
for t in $TARGETS; do
  echo "== $t start $(date -u +%FT%TZ)" >> logs/summary.txt
  nice -n 10 cargo +nightly fuzz run -O -a "$t" --target-dir target -- \
    -max_total_time="$SECS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    > "logs/$t.log" 2>&1
  echo "== $t exit $? $(date -u +%FT%TZ)" >> logs/summary.txt
  tail -n 12 "logs/$t.log" | grep -E "stat::|Done|SUMMARY|crash|timeout|leak" >> logs/summary.txt
done
