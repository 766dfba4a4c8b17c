#!/usr/bin/env python3
"""Scores a CSV of messages over one Score stream and writes a CSV of the headline fields.

    python score_csv.py messages.csv scored.csv [--server 127.0.0.1:50051] [--id id --text text]

The input needs a text column; an id column is used where there is one (else the row number).
A row the server cannot score (an empty text, say) gets its error, and the rest go on.
"""
import argparse
import csv

from rapport_client import RapportClient

ap = argparse.ArgumentParser()
ap.add_argument("input")
ap.add_argument("output")
ap.add_argument("--server", default="127.0.0.1:50051")
ap.add_argument("--id", default="id", help="the id column")
ap.add_argument("--text", default="text", help="the text column")
args = ap.parse_args()

with open(args.input, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
with RapportClient(args.server) as client, open(args.output, "w", newline="", encoding="utf-8") as out:
    w = csv.writer(out)
    w.writerow(["id", "language", "sentiment", "score", "emotions", "toxicity", "error"])
    messages = ({"id": r.get(args.id) or str(i), "text": r[args.text]} for i, r in enumerate(rows))
    for r in client.score(messages, skip_evidence=True):
        a = r.analysis
        w.writerow([r.id, a.language.code, a.sentiment.label, f"{a.sentiment.score:.3f}",
                    " ".join(a.emotion_labels), f"{a.toxicity.value:.3f}", ""] if r.ok else
                   [r.id, "", "", "", "", "", r.error])
print(f"scored {len(rows)} rows into {args.output}")
