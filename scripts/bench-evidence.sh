#!/usr/bin/env bash
# The cost of evidence: the full analysis path in-process (`rapport score`, 2 threads) with and
# without `--no-evidence`, on the benchmark tweets (scripts/bench-texts.sh) and on the first 500
# Stack Exchange requests of the Stanford politeness corpus (mostly two sentences). Prints
# messages/s (from the "models loaded" to the "score finished" log line, so model loading is not
# counted) and the evidence tokens beside the messages' own. Run on a quiet machine.
# usage: scripts/bench-evidence.sh   (RAPPORT_BIN overrides target/release/rapport)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${RAPPORT_BIN:-${CARGO_TARGET_DIR:-target}/release/rapport}
dir=/tmp/rapport-bench
[ -f $dir/tweets.txt ] || bash scripts/bench-texts.sh
python3 - "$dir" <<'PY'
import csv, json, sys
d = sys.argv[1]
tweets = open(f"{d}/tweets.txt", encoding="utf-8").read().splitlines()
rows = csv.DictReader(open("../shared/datasets/politeness/stack-exchange.annotated.csv",
                           encoding="utf-8", errors="replace"))
requests = [" ".join(r["Request"].split()) for r in rows][:500]
for name, texts in (("tweets", tweets), ("requests", requests)):
    with open(f"{d}/evidence-{name}.jsonl", "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": str(i), "text": t}) + "\n")
PY
echo "| texts | evidence | msgs/s | tokens | evidence tokens |"
echo "|---|---|---|---|---|"
for name in tweets requests; do
  for mode in off on; do
    flag=""
    [ $mode = off ] && flag="--no-evidence"
    log=$(RAPPORT_LOG_FORMAT=json "$bin" score --threads 2 --input $dir/evidence-$name.jsonl \
      --output $dir/evidence-$name-$mode.out.jsonl $flag 2>&1)
    python3 - "$name" "$mode" "$dir" "$log" <<'PY'
import datetime, json, sys
name, mode, d, log = sys.argv[1:]
events = [json.loads(l) for l in log.splitlines() if l.startswith("{")]
def at(message):
    ts = next(e["timestamp"] for e in events if e["fields"].get("message") == message)
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
secs = (at("score finished") - at("models loaded")).total_seconds()
out = [json.loads(l) for l in open(f"{d}/evidence-{name}-{mode}.out.jsonl")]
tokens = sum(a.get("tokens", 0) for a in out)
extra = sum(a.get("evidenceTokens", 0) for a in out)
print(f"| {name} ({len(out)}) | {mode} | {len(out) / secs:.1f} | {tokens} | {extra} |")
PY
  done
done
