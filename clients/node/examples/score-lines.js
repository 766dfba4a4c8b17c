#!/usr/bin/env node
// Scores every line of a text file (or stdin) over one Score stream and prints a JSON line per
// message: its id (the line number), language, sentiment and emotions, or its error.
//
//   node examples/score-lines.js messages.txt [127.0.0.1:50051]
'use strict';
const fs = require('node:fs');
const readline = require('node:readline');
const { RapportClient } = require('..');

async function main() {
  const [file, address] = process.argv.slice(2);
  const client = new RapportClient(address);
  const lines = readline.createInterface({ input: file && file !== '-' ? fs.createReadStream(file) : process.stdin });
  let n = 0;
  async function* messages() {
    for await (const text of lines) yield { id: `line-${++n}`, text };
  }
  try {
    for await (const r of client.score(messages(), { skipEvidence: true })) {
      const out = r.ok
        ? { id: r.id, language: r.analysis.language.code, sentiment: r.analysis.sentiment.label,
            score: Number(r.analysis.sentiment.score.toFixed(3)), emotions: r.analysis.emotion_labels }
        : { id: r.id, error: r.error, code: r.code };
      console.log(JSON.stringify(out));
    }
  } finally {
    client.close();
  }
}

main().catch((err) => {
  console.error(err.details || err);
  process.exitCode = 1;
});
