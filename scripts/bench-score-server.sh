#!/usr/bin/env bash
# `rapport score` on 100,000 messages: in-process against `--server` with one local server
# (BENCH.md, "Archives"). The messages cycle through 2,000 distinct texts (the benchmark tweets,
# the first 500 Stack Exchange requests of the politeness corpus, the first 500 CEDR test texts
# in Russian), each line with its own id. Both runs use 2 compute threads, evidence pooled (the
# default) and JSONL output; the server run's client shares the same 2 cores with the server, as
# a job beside its server would. Prints each run's summary (messages/s counted from the first
# message, model loading excluded) and the ratio. Run on a quiet machine.
# usage: scripts/bench-score-server.sh [N]   (RAPPORT_BIN overrides target/release/rapport)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
bin=${RAPPORT_BIN:-${CARGO_TARGET_DIR:-target}/release/rapport}
dir=/tmp/rapport-bench
[ -f $dir/tweets.txt ] || bash scripts/bench-texts.sh
python3 - "$dir" "$n" <<'PY'
import csv, json, sys
d, n = sys.argv[1], int(sys.argv[2])
tweets = open(f"{d}/tweets.txt", encoding="utf-8").read().splitlines()
rows = csv.DictReader(open("../shared/datasets/politeness/stack-exchange.annotated.csv",
                           encoding="utf-8", errors="replace"))
requests = [" ".join(r["Request"].split()) for r in rows][:500]
cedr = [r["text"] for r in csv.DictReader(open("../shared/datasets/cedr/cedr-main-test.csv",
                                               encoding="utf-8"))][:500]
texts = tweets + requests + cedr
with open(f"{d}/archive-{n}.jsonl", "w", encoding="utf-8") as f:
    for i in range(n):
        f.write(json.dumps({"id": f"m{i:06d}", "text": texts[i % len(texts)]}) + "\n")
print(f"{n} messages ({len(texts)} distinct texts) -> {d}/archive-{n}.jsonl", file=sys.stderr)
PY
input=$dir/archive-$n.jsonl
export RAPPORT_LOG=warn
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --threads 2 --listen 127.0.0.1:$port --metrics-listen off --store off &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
RAPPORT_HEALTH_ADDR=127.0.0.1:$port
for _ in $(seq 1 120); do
  "$bin" health --addr "$RAPPORT_HEALTH_ADDR" --timeout 1 >/dev/null 2>&1 && break
  sleep 1
done
"$bin" health --addr "$RAPPORT_HEALTH_ADDR" --timeout 2

"$bin" score --threads 2 --input "$input" --output $dir/archive-server.jsonl --restart \
  --server http://127.0.0.1:$port --summary $dir/summary-server.json
kill $server; wait $server 2>/dev/null || true
trap - EXIT
"$bin" score --threads 2 --input "$input" --output $dir/archive-inprocess.jsonl --restart \
  --summary $dir/summary-inprocess.json

python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
rate = {}
for name in ("inprocess", "server"):
    s = json.load(open(f"{d}/summary-{name}.json"))
    r = s["this_run"]
    rate[name] = r["messages_per_second"]
    print(f"| {s['engine']} | {s['scored']} | {s['rejected']} | {r['elapsed_seconds']:.1f} | {r['messages_per_second']:.1f} |")
print(f"--server / in-process: {rate['server'] / rate['inprocess']:.3f}")
PY
if diff -q <(python3 -c "
import json,sys
for l in open('$dir/archive-inprocess.jsonl'): print(json.loads(l)['id'])") <(python3 -c "
import json,sys
for l in open('$dir/archive-server.jsonl'): print(json.loads(l)['id'])") >/dev/null; then
  echo "same ids in the same order in both outputs"
else
  echo "the outputs' ids differ" >&2
  exit 1
fi
