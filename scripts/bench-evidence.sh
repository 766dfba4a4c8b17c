#!/usr/bin/env bash
# The cost of evidence, and how far the two ways of scoring a sentence agree. The full analysis
# path in-process (`rapport score`, 2 threads) with evidence off (`--no-evidence`), pooled
# (`--evidence-mode pooled`, the default) and encoded (`--evidence-mode encoded`), on the
# benchmark tweets (scripts/bench-texts.sh), the first 500 Stack Exchange requests of the
# Stanford politeness corpus (mostly two sentences) and the first 500 CEDR test texts (Russian).
# Prints messages/s (from the "models loaded" to the "score finished" log line, so model loading
# is not counted) and the evidence tokens beside the messages' own; then, over every result of
# every message cut into several stretches, how often pooled and encoded cite the same stretch
# first, beside what picking a stretch at random would give. Run on a quiet machine.
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
cedr = [r["text"] for r in csv.DictReader(open("../shared/datasets/cedr/cedr-main-test.csv",
                                               encoding="utf-8"))][:500]
for name, texts in (("tweets", tweets), ("requests", requests), ("cedr", cedr)):
    with open(f"{d}/evidence-{name}.jsonl", "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": str(i), "text": t}) + "\n")
PY
echo "| texts | evidence | msgs/s | tokens | evidence tokens |"
echo "|---|---|---|---|---|"
for name in tweets requests cedr; do
  for mode in off pooled encoded; do
    flags=(--evidence-mode "$mode")
    [ "$mode" = off ] && flags=(--no-evidence)
    log=$(RAPPORT_LOG_FORMAT=json "$bin" score --threads 2 --input $dir/evidence-$name.jsonl \
      --output $dir/evidence-$name-$mode.out.jsonl "${flags[@]}" 2>&1)
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
echo
python3 - "$dir" <<'PY'
import json, sys
from collections import defaultdict
d = sys.argv[1]

def signals(a):
    """result name -> first cited stretch (its first sentence)."""
    out = {}
    def take(name, s):
        if isinstance(s, dict) and s.get("evidence"):
            out[name] = s["evidence"][0].get("sentence", 0)
    for k, s in a.get("labelSignals", {}).items():
        take(k, s)
    for k, s in (a.get("style") or {}).items():
        take(f"style.{k}", s)
    take("toxicity", a.get("toxicity"))
    return out

print("| texts | messages with several stretches | results compared | same first stretch | by chance |")
print("|---|---|---|---|---|")
groups = defaultdict(lambda: [0, 0, 0.0])
for name in ("tweets", "requests", "cedr"):
    pooled = [json.loads(l) for l in open(f"{d}/evidence-{name}-pooled.out.jsonl")]
    encoded = [json.loads(l) for l in open(f"{d}/evidence-{name}-encoded.out.jsonl")]
    msgs = same = total = 0
    chance = 0.0
    for p, e in zip(pooled, encoded):
        n = len((p.get("text") or {}).get("sentences", []))
        if n < 2:
            continue
        msgs += 1
        # as many stretches as the evidence could pick from: the sentences, at most 8
        k = min(n, 8)
        sp, se = signals(p), signals(e)
        for key in sp.keys() & se.keys():
            total += 1
            same += sp[key] == se[key]
            chance += 1 / k
            g = groups[key.split(".")[0]]
            g[0] += 1
            g[1] += sp[key] == se[key]
            g[2] += 1 / k
    if total:
        print(f"| {name} | {msgs} | {total} | {same / total:.3f} | {chance / total:.3f} |")
print()
print("| result group | compared | same first stretch | by chance |")
print("|---|---|---|---|")
for g, (n, same, chance) in sorted(groups.items()):
    print(f"| {g} | {n} | {same / n:.3f} | {chance / n:.3f} |")
PY
