#!/usr/bin/env node
// `npm pack` / `npm publish` (prepack): copies the repository's proto/ (rapport/v1 and
// grpc/health/v1) into the package, so an installed package carries the protos it loads.
// `--clean` (postpack) removes the copy again, so that in the repository index.js keeps
// reading ../../proto, the one source of truth.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dest = path.join(__dirname, '..', 'proto');
fs.rmSync(dest, { recursive: true, force: true });
if (process.argv.includes('--clean')) process.exit(0);
const src = path.join(__dirname, '..', '..', '..', 'proto');
for (const dir of ['rapport/v1', 'grpc/health/v1']) {
  const from = path.join(src, dir);
  if (!fs.existsSync(from)) {
    console.error(`copy-proto: ${from} is missing (run it inside the rapport repository)`);
    process.exit(1);
  }
  fs.mkdirSync(path.join(dest, dir), { recursive: true });
  for (const f of fs.readdirSync(from).filter((f) => f.endsWith('.proto'))) {
    fs.copyFileSync(path.join(from, f), path.join(dest, dir, f));
  }
}
