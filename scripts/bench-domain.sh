#!/usr/bin/env bash
# The throughput cost of the support domain's calibration (issue 20): `rapport score`
# in-process on the first N messages of scripts/bench-score-server.sh's archive (default
# 10,000), alternating --domain general and --domain support twice, 2 compute threads. Prints
# messages/s per run (model loading excluded) and the ratio of the means. Run on a quiet machine.
# usage: scripts/bench-domain.sh [N]   (RAPPORT_BIN overrides target/release/rapport)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
bin=${RAPPORT_BIN:-${CARGO_TARGET_DIR:-target}/release/rapport}
dir=/tmp/rapport-bench
[ -f $dir/archive-100000.jsonl ] || { echo "run scripts/bench-score-server.sh first" >&2; exit 1; }
head -n "$n" $dir/archive-100000.jsonl > $dir/domain-$n.jsonl
export RAPPORT_LOG=warn
for round in 1 2; do
  for domain in general support; do
    "$bin" score --threads 2 --domain $domain --input $dir/domain-$n.jsonl \
      --output $dir/domain-$domain.jsonl --restart --summary $dir/domain-$domain-$round.json 2>/dev/null
  done
done
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
rates = {"general": [], "support": []}
for round in (1, 2):
    for domain in rates:
        r = json.load(open(f"{d}/domain-{domain}-{round}.json"))["this_run"]["messages_per_second"]
        rates[domain].append(r)
        print(f"| {round} | {domain} | {r:.1f} |")
g, s = (sum(v) / len(v) for v in rates.values())
print(f"support / general: {s / g:.3f}")
PY
