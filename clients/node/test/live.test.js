// rapport-client against a running rapport server: RAPPORT_ADDR=HOST:PORT npm test.
// tests/node_client.rs (cargo test) starts a server on a tiny random model and runs these; its
// labels are arbitrary, so the checks are about shape, order, errors and what does not depend
// on the model (languages, redaction, counts, latencies).
'use strict';
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, test } = require('node:test');
const { RapportClient, grpc } = require('..');

const ADDR = process.env.RAPPORT_ADDR;
const skip = ADDR ? false : 'set RAPPORT_ADDR=HOST:PORT of a running rapport server';
const SENTIMENT = ['negative', 'neutral', 'positive'];
const T0 = 1_793_610_000; // 2026-11-02
const EN = 'The new plan is great, thanks for the help!';
const RU = 'Третий день не могу дозвониться в поддержку.';

let client;
before(async () => {
  if (skip) return;
  client = new RapportClient(ADDR, { timeoutMs: 60_000 });
  await client.waitForReady(30_000);
});
after(() => client?.close());

function check(a, id, lang) {
  const where = JSON.stringify(a);
  assert.equal(a.id, id, where);
  assert.equal(a.language.code, lang, where);
  assert.ok(SENTIMENT.includes(a.sentiment.label), where);
  assert.ok(a.sentiment.score >= -1 && a.sentiment.score <= 1, where);
  const p = Object.values(a.sentiment.probabilities);
  assert.ok(Math.abs(p.reduce((s, x) => s + x, 0) - 1) < 1e-4, where);
  assert.ok(a.emotion_labels.every((l) => l in a.emotions), where);
  assert.ok(a.model_version, where);
  assert.ok(a.timings.total_us > 0, where);
}

async function rejects(promise, code, prefix) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `${err.code} ${err.details}`);
    if (prefix) assert.ok(err.details.startsWith(prefix), err.details);
    return true;
  });
}

test('health and info', { skip }, async () => {
  assert.equal(await client.health(), 'SERVING');
  for (const s of ['rapport.v1.Analyzer', 'rapport.v1.Scoring', 'rapport.v1.LiveAssist']) {
    assert.equal(await client.health(s), 'SERVING', s);
  }
  // Profiles turns SERVING once the store has answered, which may come a moment later.
  let profiles;
  for (let i = 0; i < 100 && (profiles = await client.health('rapport.v1.Profiles')) !== 'SERVING'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(profiles, 'SERVING', 'rapport.v1.Profiles');
  await rejects(client.health('no.such.Service'), grpc.status.NOT_FOUND);
  const info = await client.info();
  assert.ok(info.version && info.model_version, JSON.stringify(info));
  const sentiment = info.label_sets.find((ls) => ls.task === 'sentiment');
  assert.deepEqual([...sentiment.labels].sort(), SENTIMENT);
});

test('analyze', { skip }, async () => {
  const got = await client.analyze([
    { id: 'node-en', text: EN, channel: 'email', role: 'customer', subject: 'Plan change' },
    { id: 'node-ru', text: RU, channel: 'chat', role: 'customer' },
  ]);
  assert.deepEqual(got.map((a) => a.id), ['node-en', 'node-ru']);
  check(got[0], 'node-en', 'en');
  check(got[1], 'node-ru', 'ru');
  const [one] = await client.analyze('Call me at +7 915 123-45-67, please.', { skipEvidence: true });
  assert.equal(one.id, 'm0');
  assert.ok(one.text.redacted.includes('[PHONE]'), one.text.redacted);
  await rejects(client.analyze([EN, '']), grpc.status.INVALID_ARGUMENT, 'messages[1].text');
});

test('analyzeConversation', { skip }, async () => {
  const r = await client.analyzeConversation(
    [
      { id: 'c0', role: 'customer', text: 'My internet has been down since morning.', timestamp: T0 },
      { id: 'a0', role: 'agent', text: 'Sorry to hear that, let me check your line.', timestamp: T0 + 60 },
      { id: 'c1', role: 'customer', text: 'Thanks, it works again now!', timestamp: T0 + 180 },
    ],
    { conversationId: 'node-conv' },
  );
  assert.deepEqual(r.turns.map((a) => a.id), ['c0', 'a0', 'c1']);
  const m = r.conversation.metrics;
  assert.deepEqual([m.turns, m.customer_turns, m.agent_turns], [3, 2, 1]);
  assert.ok(Math.abs(m.mean_agent_response_seconds - 60) < 1e-6, JSON.stringify(m));
});

test('a Score stream goes on past a bad message', { skip }, async () => {
  const texts = [EN, RU, ' ', 'I will never buy from you again.', 'Можно узнать статус заявки?'];
  async function* messages() {
    for (const [i, text] of texts.entries()) yield { id: `s${i}`, text };
  }
  const results = [];
  for await (const r of client.score(messages())) results.push(r);
  assert.deepEqual(results.map((r) => r.sequence), [0, 1, 2, 3, 4]);
  assert.deepEqual(results.map((r) => r.id), ['s0', 's1', 's2', 's3', 's4']);
  assert.deepEqual(results.map((r) => r.ok), [true, true, false, true, true]);
  ['en', 'ru', null, 'en', 'ru'].forEach((lang, i) => lang && check(results[i].analysis, `s${i}`, lang));
  assert.equal(results[2].analysis, null);
  assert.equal(results[2].code, 'INVALID_ARGUMENT');
  assert.ok(results[2].error.startsWith('requests[2].message.text'), results[2].error);
});

test('a Score stream stops when the caller stops reading', { skip }, async () => {
  function* endless() {
    for (let i = 0; ; i++) yield `Message number ${i}, all fine.`;
  }
  const first = [];
  for await (const r of client.score(endless(), { skipEvidence: true })) {
    first.push([r.sequence, r.id, r.ok]);
    if (first.length === 3) break;
  }
  assert.deepEqual(first, [[0, '0', true], [1, '1', true], [2, '2', true]]);
});

test('profiles: ingest, get, export, consent, erase', { skip }, async () => {
  const p = client.profiles;
  const cid = 'node-crm-1';
  const msg = (id, role, text, s) => ({ id, role, text, channel: 'chat', conversation_id: 'c1', timestamp: T0 + s });
  const got = await p.ingestMessages(cid, [
    msg('nm1', 'customer', 'Where is my refund? I was promised it last week.', 0),
    msg('na1', 'agent', 'Let me check that for you.', 60),
    msg('nm2', 'customer', 'Thanks, waiting.', 90),
  ]);
  assert.deepEqual([got.accepted, got.duplicates, got.version], [3, 0, 1]);
  const ev = await p.ingestEvents(cid, [
    { id: 'n1', kind: 'purchase', timestamp: T0 - 86_400, amount_minor: 1500, currency: 'EUR', attributes: { sku: 'B-2' } },
    { id: 'n2', kind: 'nps', timestamp: T0, score: 9 },
    { id: 'n2', kind: 'nps', timestamp: T0, score: 9 },
  ]);
  assert.deepEqual([ev.accepted, ev.duplicates], [2, 1]);
  const profile = await p.get(cid);
  assert.deepEqual([profile.messages, profile.events], [2, 2]);
  const features = Object.fromEntries(profile.behaviour.map((f) => [f.name, f]));
  assert.ok(Math.abs(features.reply_latency_seconds.value - 30) < 1e-6, JSON.stringify(features.reply_latency_seconds));
  assert.equal(features.nps_mean.value, 9);
  await rejects(
    p.ingestEvents(cid, [{ id: 'bad', kind: 'purchase', timestamp: T0, amount_minor: -1 }]),
    grpc.status.INVALID_ARGUMENT,
    'events[0].amount_minor',
  );
  assert.ok((await p.setConsent(cid, true)) >= profile.version);
  const exported = await p.export(cid);
  assert.equal(exported.profile.customer_id, cid);
  assert.ok(exported.data.export.events.some((e) => e.attributes?.sku === 'B-2'), JSON.stringify(exported.data));
  assert.ok((await p.lifecycle()).length > 0);
  assert.deepStrictEqual(await p.segments(), []);
  const erased = await p.erase(cid);
  assert.equal(erased.erased, true);
  assert.equal(await p.get(cid), null);
});

test('a LiveAssist conversation', { skip }, async () => {
  const conv = client.conversation('node-live-1', { channel: 'chat', languages: ['en'] });
  const opened = await conv.open();
  assert.equal(opened.conversation_id, 'node-live-1');
  assert.equal(opened.resumed, false);
  // Turns may be sent without waiting: the answers come in order.
  const [t1, t2, dup, bad, t3] = await Promise.all([
    conv.turn('customer', 'My refund is three weeks late. Where is it?', { timestamp: T0 }),
    conv.turn('agent', "I'm sorry, I'll check it now.", { timestamp: T0 + 400 }),
    conv.turn('customer', 'My refund is three weeks late.', { turnId: 't1', timestamp: T0 }),
    conv.turn('customer', '', { timestamp: T0 + 410 }),
    conv.turn('customer', 'OK, thank you.', { timestamp: T0 + 420 }),
  ]);
  assert.deepEqual([t1, t2, bad, t3].map((t) => t.turn_id), ['t1', 't2', 't3', 't4']);
  assert.equal(t1.analysis.id, 't1');
  assert.equal(t1.role, 'ROLE_CUSTOMER');
  assert.equal(t2.state.agent_metrics.apologies, 1);
  assert.ok(t2.hints.some((h) => h.kind === 'HINT_KIND_SLOW_REPLY'), JSON.stringify(t2.hints));
  assert.equal(dup.duplicate, true);
  assert.equal(dup.analysis, null);
  assert.ok(bad.error, JSON.stringify(bad));
  assert.equal(t3.state.customer.turns, 2);
  const closed = await conv.end('resolved');
  assert.deepEqual([closed.conversation_id, closed.reason], ['node-live-1', 'ended']);
});

test('the score-lines example', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-node-'));
  const file = path.join(dir, 'lines.txt');
  fs.writeFileSync(file, `${EN}\n\n${RU}\n`);
  const example = path.join(__dirname, '..', 'examples', 'score-lines.js');
  const stdout = await new Promise((resolve, reject) =>
    execFile(process.execPath, [example, file, ADDR], { timeout: 120_000 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
    ),
  );
  const rows = stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.id), ['line-1', 'line-2', 'line-3']);
  assert.deepEqual([rows[0].language, rows[2].language], ['en', 'ru']);
  assert.equal(rows[1].code, 'INVALID_ARGUMENT');
  fs.rmSync(dir, { recursive: true });
});
