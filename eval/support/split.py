#!/usr/bin/env python3
"""Support-domain evaluation set: (re)compute the split field, validate, print counts.

    python3 eval/support/split.py            # rewrite `split` in place, validate, print counts
    python3 eval/support/split.py --check    # validate only; fail if a stored split is wrong

Split rule (by pair_id, so both languages of a pair land on the same side):
    split = "test" if int(sha256(("support-v1:" + pair_id).encode()).hexdigest(), 16) % 2 == 0 else "dev"
`test` is for evaluation only: never used to fit, tune, select or threshold anything.
Standard library only. Exit status 1 if any check fails (files are then left untouched).
"""
import argparse
import hashlib
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

SALT = "support-v1:"
KEYS = ["id", "pair_id", "lang", "domain", "channel", "role", "text", "sentiment", "emotions",
        "frustration", "urgency", "formality", "politeness", "empathy", "apology", "tags", "split"]
DOMAINS = {"banking": "bank", "telecom": "tel", "ecommerce": "shop", "delivery": "dlv",
           "utilities": "util", "insurance": "ins", "travel": "trv", "public_services": "gov"}
LANGS = {"en", "ru"}
CHANNELS = {"chat", "email", "call"}
ROLES = {"customer", "agent"}
SENTIMENTS = ["negative", "neutral", "positive"]
EMOTIONS = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
FORMALITY = ["formal", "neutral", "informal"]
POLITENESS = ["polite", "neutral", "rude"]
TAGS = ["polite_complaint", "complaint", "sarcasm", "ultimatum", "fraud_fear", "grief", "thanks",
        "thanks_but", "praise", "neutral_request", "how_to", "typos", "slang", "profanity", "emoji",
        "emoji_only", "caps", "mixed_language", "urgent", "agent_apology", "agent_ack",
        "agent_procedure", "agent_good_news", "agent_rude", "short", "long"]
# Labels the two sides of a parallel pair share by construction (README, "Parallel pairs").
PAIR_SHARED = ["domain", "channel", "role", "sentiment", "emotions", "frustration", "urgency",
               "politeness", "empathy", "apology"]


def split_of(pair_id: str) -> str:
    h = int(hashlib.sha256((SALT + pair_id).encode()).hexdigest(), 16)
    return "test" if h % 2 == 0 else "dev"


def dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def validate(rec, domain, where, errors):
    def err(msg):
        errors.append(f"{where}: {msg}")

    if list(rec.keys()) != KEYS:
        err(f"keys {list(rec.keys())} != {KEYS}")
        return
    prefix = DOMAINS[domain]
    m = re.fullmatch(rf"({prefix}-\d{{4}})-(en|ru)", str(rec["id"]))
    if not m:
        err(f"bad id {rec['id']!r}")
    else:
        if rec["pair_id"] != m.group(1):
            err(f"pair_id {rec['pair_id']!r} does not match id {rec['id']!r}")
        if rec["lang"] != m.group(2):
            err(f"lang {rec['lang']!r} does not match id {rec['id']!r}")
    if rec["lang"] not in LANGS:
        err(f"lang {rec['lang']!r}")
    if rec["domain"] != domain:
        err(f"domain {rec['domain']!r} in {domain}.jsonl")
    if rec["channel"] not in CHANNELS:
        err(f"channel {rec['channel']!r}")
    if rec["role"] not in ROLES:
        err(f"role {rec['role']!r}")
    if not isinstance(rec["text"], str) or not rec["text"].strip():
        err("empty text")
    if rec["sentiment"] not in SENTIMENTS:
        err(f"sentiment {rec['sentiment']!r}")
    emo = rec["emotions"]
    if not isinstance(emo, list) or not emo or any(e not in EMOTIONS for e in emo):
        err(f"emotions {emo!r}")
    else:
        if len(set(emo)) != len(emo):
            err(f"duplicate emotions {emo!r}")
        if "neutral" in emo and len(emo) > 1:
            err(f"neutral combined with others {emo!r}")
        if emo != sorted(emo, key=EMOTIONS.index):
            err(f"emotions not in canonical order {emo!r}")
    for k in ("frustration", "urgency"):
        if rec[k] not in (0, 1) or isinstance(rec[k], bool):
            err(f"{k} {rec[k]!r}")
    if rec["formality"] not in FORMALITY:
        err(f"formality {rec['formality']!r}")
    if rec["politeness"] not in POLITENESS:
        err(f"politeness {rec['politeness']!r}")
    for k in ("empathy", "apology"):
        v = rec[k]
        if rec["role"] == "agent":
            if v not in (0, 1) or isinstance(v, bool):
                err(f"agent {k} must be 0/1, got {v!r}")
        elif v is not None:
            err(f"customer {k} must be null, got {v!r}")
    tags = rec["tags"]
    if not isinstance(tags, list) or any(t not in TAGS for t in tags) or len(set(tags)) != len(tags):
        err(f"tags {tags!r}")
        return
    # consistency rules (README, "tags")
    if ("urgent" in tags) != (rec["urgency"] == 1):
        err("tag 'urgent' must be set exactly when urgency is 1")
    if rec["role"] == "agent" and ("agent_apology" in tags) != (rec["apology"] == 1):
        err("tag 'agent_apology' must be set exactly when apology is 1")
    if rec["role"] == "customer" and any(t.startswith("agent_") for t in tags):
        err("agent_* tag on a customer message")
    if "emoji_only" in tags:
        if any(ch.isalnum() for ch in rec["text"]):
            err("emoji_only but the text has letters or digits")
        if "emoji" not in tags:
            err("emoji_only without emoji")
    if "polite_complaint" in tags and rec["politeness"] != "polite":
        err("polite_complaint but politeness is not polite")
    if "thanks_but" in tags and rec["sentiment"] != "negative":
        err("thanks_but but sentiment is not negative")
    if "sarcasm" in tags and rec["sentiment"] != "negative":
        err("sarcasm but sentiment is not negative")


def table(title, counter, keys=None):
    keys = keys or sorted(counter)
    total = sum(counter.values())
    cells = ", ".join(f"{k} {counter[k]}" for k in keys if counter[k])
    print(f"  {title:<14} {cells}  (n={total})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="validate only, do not rewrite files")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parent / "data"))
    args = ap.parse_args()

    data = Path(args.data)
    errors, warnings = [], []
    files = {}
    for path in sorted(data.glob("*.jsonl")):
        domain = path.stem
        if domain not in DOMAINS:
            errors.append(f"{path.name}: unknown domain file")
            continue
        recs = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{n}"
            if not line.strip():
                errors.append(f"{where}: empty line")
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{where}: does not parse: {e}")
                continue
            if not isinstance(rec, dict):
                errors.append(f"{where}: not an object")
                continue
            validate(rec, domain, where, errors)
            recs.append((where, rec))
        files[path] = recs
    missing = set(DOMAINS) - {p.stem for p in files}
    if missing:
        errors.append(f"missing domain files: {sorted(missing)}")

    allrecs = [(w, r) for recs in files.values() for (w, r) in recs if isinstance(r, dict) and "id" in r]
    ids = Counter(r["id"] for _, r in allrecs)
    for i, c in ids.items():
        if c > 1:
            errors.append(f"duplicate id {i} ({c} times)")
    texts = Counter((r.get("lang"), r.get("text")) for _, r in allrecs)
    for (lang, t), c in texts.items():
        if c > 1 and not all(not ch.isalnum() for ch in str(t)):
            warnings.append(f"duplicate {lang} text ({c} times): {str(t)[:60]!r}")

    pairs = defaultdict(list)
    for w, r in allrecs:
        pairs[r.get("pair_id")].append((w, r))
    unpaired = Counter()
    formality_diff = 0
    for pid, members in pairs.items():
        langs = sorted(r.get("lang") for _, r in members)
        if len(members) == 1:
            unpaired[langs[0]] += 1
            continue
        if langs != ["en", "ru"]:
            errors.append(f"pair {pid}: languages {langs}, want one en and one ru")
            continue
        (_, a), (_, b) = members
        for k in PAIR_SHARED:
            if a.get(k) != b.get(k):
                errors.append(f"pair {pid}: {k} differs ({a.get(k)!r} / {b.get(k)!r})")
        if a.get("formality") != b.get("formality"):
            formality_diff += 1

    stale = 0
    for path, recs in files.items():
        for _, r in recs:
            if isinstance(r, dict) and "pair_id" in r:
                want = split_of(r["pair_id"])
                if r.get("split") != want:
                    stale += 1
                    r["split"] = want

    for w in warnings:
        print("warning:", w)
    if errors:
        for e in errors[:200]:
            print("error:", e)
        print(f"{len(errors)} error(s); files left untouched", file=sys.stderr)
        sys.exit(1)
    if args.check:
        if stale:
            print(f"error: {stale} record(s) carry a wrong split; run without --check", file=sys.stderr)
            sys.exit(1)
    else:
        for path, recs in files.items():
            path.write_text("".join(dump(r) + "\n" for _, r in recs), encoding="utf-8")
        print(f"wrote {len(files)} files ({stale} split value(s) changed)")

    recs = [r for _, r in allrecs]
    print(f"\n{len(recs)} messages, {len(pairs)} pair ids "
          f"({len(pairs) - sum(unpaired.values())} en/ru pairs, unpaired: "
          f"{', '.join(f'{k} {v}' for k, v in sorted(unpaired.items())) or 'none'}); "
          f"pairs whose formality differs between en and ru: {formality_diff}")
    pair_split = Counter(split_of(p) for p in pairs)
    print(f"pair ids per split: dev {pair_split['dev']}, test {pair_split['test']}")

    def section(name, rs):
        print(f"\n[{name}] n={len(rs)}")
        table("lang", Counter(r["lang"] for r in rs), ["en", "ru"])
        table("split", Counter(r["split"] for r in rs), ["dev", "test"])
        table("domain", Counter(r["domain"] for r in rs), list(DOMAINS))
        table("channel", Counter(r["channel"] for r in rs), ["chat", "email", "call"])
        table("role", Counter(r["role"] for r in rs), ["customer", "agent"])
        table("sentiment", Counter(r["sentiment"] for r in rs), SENTIMENTS)
        table("emotions", Counter(e for r in rs for e in r["emotions"]), EMOTIONS)
        table("frustration", Counter(r["frustration"] for r in rs), [0, 1])
        table("urgency", Counter(r["urgency"] for r in rs), [0, 1])
        table("formality", Counter(r["formality"] for r in rs), FORMALITY)
        table("politeness", Counter(r["politeness"] for r in rs), POLITENESS)
        ag = [r for r in rs if r["role"] == "agent"]
        table("empathy", Counter(r["empathy"] for r in ag), [0, 1])
        table("apology", Counter(r["apology"] for r in ag), [0, 1])
        table("tags", Counter(t for r in rs for t in r["tags"]), TAGS)

    section("all", recs)
    for sp in ("dev", "test"):
        for lang in ("en", "ru"):
            section(f"{sp}/{lang}", [r for r in recs if r["split"] == sp and r["lang"] == lang])
    print("\nper domain x split x lang:")
    c = Counter((r["domain"], r["split"], r["lang"]) for r in recs)
    print(f"  {'domain':<16}{'dev/en':>8}{'dev/ru':>8}{'test/en':>9}{'test/ru':>9}{'total':>7}")
    for d in DOMAINS:
        row = [c[(d, s, l)] for s in ("dev", "test") for l in ("en", "ru")]
        print(f"  {d:<16}{row[0]:>8}{row[1]:>8}{row[2]:>9}{row[3]:>9}{sum(row):>7}")


if __name__ == "__main__":
    main()
