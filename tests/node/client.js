#!/usr/bin/env node
// A Node gRPC client, its stubs loaded from proto/ at run time by @grpc/proto-loader, calls a
// running rapport server (tests/node_client.rs starts one and runs this).
//
// usage: node client.js HOST:PORT [PROTO_DIR]
// Prints a JSON summary on stdout; exits non-zero, with the reason, on any mismatch.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [addr, protoArg] = process.argv.slice(2);
if (!addr) {
  console.error('usage: node client.js HOST:PORT [PROTO_DIR]');
  process.exit(2);
}
const protoRoot = path.resolve(protoArg || path.join(__dirname, '..', '..', 'proto'));
const rapportFiles = fs
  .readdirSync(path.join(protoRoot, 'rapport', 'v1'))
  .filter((f) => f.endsWith('.proto'))
  .sort()
  .map((f) => `rapport/v1/${f}`);
// grpc.health.v1 ships in proto/grpc/health/v1 (the canonical file; the server serves it through
// tonic-health), so clients need no copy of their own. google/protobuf/*.proto come with
// protobufjs.
const definition = protoLoader.loadSync([...rapportFiles, 'grpc/health/v1/health.proto'], {
  keepCase: true, // field names as in the .proto (snake_case), in requests and responses
  longs: Number, // uint64 timings and sequence numbers fit a double
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoRoot],
});
const loaded = grpc.loadPackageDefinition(definition);
const v1 = loaded.rapport.v1;
const creds = grpc.credentials.createInsecure();
const analyzer = new v1.Analyzer(addr, creds);
const scoring = new v1.Scoring(addr, creds);
const info = new v1.Info(addr, creds);
const profiles = new v1.Profiles(addr, creds);
const live = new v1.LiveAssist(addr, creds);
const health = new loaded.grpc.health.v1.Health(addr, creds);

const TIMEOUT_MS = 30_000;
const deadline = () => Date.now() + TIMEOUT_MS;

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: deadline() }, (err, response) =>
      err ? reject(err) : resolve(response),
    );
  });
}

/** Calls `method` expecting it to fail; returns the gRPC error. */
async function expectError(client, method, request) {
  try {
    await unary(client, method, request);
  } catch (err) {
    return err;
  }
  throw new Error(`${method} accepted ${JSON.stringify(request)}`);
}

function waitForReady(client) {
  return new Promise((resolve, reject) =>
    client.waitForReady(deadline(), (err) => (err ? reject(err) : resolve())),
  );
}

/** Runs one Score stream: writes `requests`, half-closes, collects answers until the end. */
function score(requests) {
  return new Promise((resolve) => {
    const call = scoring.Score({ deadline: deadline() });
    const answers = [];
    call.on('data', (r) => answers.push(r));
    call.on('error', (error) => resolve({ answers, error }));
    call.on('end', () => resolve({ answers, error: null }));
    for (const r of requests) call.write(r);
    call.end();
  });
}

const summary = { ok: false, grpc_js: require('@grpc/grpc-js/package.json').version };

/** Checks the parts of an analysis every test message must have. */
function checkAnalysis(a, id, lang, ctx) {
  const where = `${ctx} ${id}: ${JSON.stringify(a)}`;
  assert.equal(a.id, id, where);
  assert.equal(a.language.code, lang, where);
  assert.ok(ctx.sentimentLabels.includes(a.sentiment?.label), where);
  assert.ok(a.sentiment.score >= -1 && a.sentiment.score <= 1, where);
  const p = Object.values(a.sentiment.probabilities);
  assert.equal(p.length, ctx.sentimentLabels.length, where);
  assert.ok(Math.abs(p.reduce((s, x) => s + x, 0) - 1) < 1e-4, where);
  assert.equal(a.model_version, ctx.modelVersion, where);
  // the emotions shown are decisions on the seven probabilities
  assert.ok(Array.isArray(a.emotion_labels), where);
  assert.ok(a.emotion_labels.every((l) => l in a.emotions), where);
  const t = a.timings;
  for (const k of ['prepare_us', 'tokenize_us', 'queue_us', 'inference_us', 'total_us']) {
    assert.ok(Number.isInteger(t[k]) && t[k] >= 0, `${k} ${where}`);
  }
  assert.ok(t.prepare_us > 0 && t.inference_us > 0 && t.total_us > 0, where);
  assert.ok(t.total_us >= t.prepare_us && t.total_us >= t.inference_us, where);
  return { id: a.id, language: a.language.code, sentiment: a.sentiment.label, total_us: t.total_us };
}

function checkInvalid(name, err, detailsPrefix) {
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `${name}: ${err.code} ${err.details}`);
  assert.ok(err.details.startsWith(detailsPrefix), `${name}: ${err.details}`);
  return { case: name, code: 'INVALID_ARGUMENT', details: err.details };
}

const EN = 'The new plan is great, thanks for the help!';
const RU = 'Третий день не могу дозвониться в поддержку.';

async function main() {
  await waitForReady(analyzer);

  // Health: the server as a whole and each service it names, through grpc.health.v1.
  summary.health = {};
  for (const service of ['', 'rapport.v1.Analyzer', 'rapport.v1.Scoring', 'rapport.v1.Info']) {
    const r = await unary(health, 'Check', { service });
    assert.equal(r.status, 'SERVING', `health of "${service}"`);
    summary.health[service || '(server)'] = r.status;
  }
  const unknown = await expectError(health, 'Check', { service: 'no.such.Service' });
  assert.equal(unknown.code, grpc.status.NOT_FOUND, `health of an unknown service: ${unknown.details}`);

  // Info.
  const got = await unary(info, 'GetInfo', {});
  assert.ok(got.version && got.model_version, JSON.stringify(got));
  const sentimentSet = got.label_sets.find((ls) => ls.task === 'sentiment');
  assert.ok(sentimentSet, `no sentiment label set: ${JSON.stringify(got.label_sets)}`);
  assert.deepEqual([...sentimentSet.labels].sort(), ['negative', 'neutral', 'positive']);
  assert.ok(got.limits.max_batch_messages >= 4 && got.limits.max_text_chars > 0, JSON.stringify(got.limits));
  summary.info = {
    version: got.version,
    model_version: got.model_version,
    languages: got.languages,
    label_sets: got.label_sets.map((ls) => ls.task),
    max_batch_messages: got.limits.max_batch_messages,
  };
  const ctx = { sentimentLabels: sentimentSet.labels, modelVersion: got.model_version };

  // Analyze: one English, one Russian message, each in its own call.
  summary.analyze = [];
  const single = [
    { id: 'node-en', text: EN, channel: 'CHANNEL_EMAIL', role: 'ROLE_CUSTOMER', email: { subject: 'Plan change' } },
    { id: 'node-ru', text: RU, channel: 'CHANNEL_CHAT', role: 'ROLE_CUSTOMER' },
  ];
  for (const [message, lang] of [[single[0], 'en'], [single[1], 'ru']]) {
    const r = await unary(analyzer, 'Analyze', { messages: [message] });
    assert.equal(r.analyses.length, 1);
    summary.analyze.push(checkAnalysis(r.analyses[0], message.id, lang, ctx));
  }

  // Analyze: a batch, answered in request order.
  const batch = [
    { id: 'b0', text: 'Where is my order? I paid two weeks ago.' },
    { id: 'b1', text: 'Спасибо, всё заработало!' },
    { id: 'b2', text: 'Please cancel my subscription today.', language_hint: 'en' },
    { id: 'b3', text: 'Я очень недоволен качеством обслуживания.' },
  ];
  const br = await unary(analyzer, 'Analyze', { messages: batch });
  assert.deepEqual(br.analyses.map((a) => a.id), batch.map((m) => m.id));
  br.analyses.forEach((a, i) => checkAnalysis(a, batch[i].id, ['en', 'ru', 'en', 'ru'][i], ctx));
  assert.equal(br.analyses[2].language.from_hint, true);
  summary.batch = { ids: br.analyses.map((a) => a.id), labels: br.analyses.map((a) => a.sentiment.label) };

  // AnalyzeConversation: turns of a customer and an agent, a minute apart.
  const t0 = Math.floor(Date.now() / 1000) - 600;
  const turn = (id, role, text, s) => ({ id, role, text, channel: 'CHANNEL_CHAT', timestamp: { seconds: t0 + s, nanos: 0 } });
  const conv = await unary(analyzer, 'AnalyzeConversation', {
    conversation_id: 'node-conv',
    turns: [
      turn('c0', 'ROLE_CUSTOMER', 'My internet has been down since morning.', 0),
      turn('a0', 'ROLE_AGENT', 'Sorry to hear that, let me check your line.', 60),
      turn('c1', 'ROLE_CUSTOMER', 'Thanks, it works again now!', 180),
    ],
  });
  assert.deepEqual(conv.turns.map((a) => a.id), ['c0', 'a0', 'c1']);
  conv.turns.forEach((a) => checkAnalysis(a, a.id, 'en', ctx));
  const c = conv.conversation;
  assert.equal(c.conversation_id, 'node-conv', JSON.stringify(c));
  assert.equal(c.model_version, ctx.modelVersion);
  assert.deepEqual([c.metrics.turns, c.metrics.customer_turns, c.metrics.agent_turns], [3, 2, 1], JSON.stringify(c.metrics));
  assert.ok(Math.abs(c.metrics.mean_agent_response_seconds - 60) < 1e-6, JSON.stringify(c.metrics));
  assert.ok(Math.abs(c.metrics.mean_customer_response_seconds - 120) < 1e-6, JSON.stringify(c.metrics));
  const customer = c.trajectories.find((t) => t.role === 'ROLE_CUSTOMER');
  assert.ok(customer && customer.scores.length === 2, JSON.stringify(c.trajectories));
  summary.conversation = {
    turns: c.metrics.turns,
    trajectories: c.trajectories.map((t) => ({ role: t.role, scores: t.scores.length })),
    mean_agent_response_seconds: c.metrics.mean_agent_response_seconds,
  };

  // Scoring.Score: a bidirectional stream, answered in arrival order with sequence numbers.
  const texts = [EN, RU, 'I will never buy from you again.', 'Можно узнать статус заявки?', 'OK, thank you.'];
  const langs = ['en', 'ru', 'en', 'ru', 'en'];
  const stream = await score(texts.map((text, i) => ({ message: { id: `s${i}`, text } })));
  assert.equal(stream.error, null, `Score failed: ${stream.error?.details}`);
  assert.deepEqual(stream.answers.map((r) => r.sequence), [0, 1, 2, 3, 4]);
  stream.answers.forEach((r, i) => checkAnalysis(r.analysis, `s${i}`, langs[i], ctx));
  summary.score = { sequences: stream.answers.map((r) => r.sequence), ids: stream.answers.map((r) => r.analysis.id) };

  // Invalid requests: INVALID_ARGUMENT naming the field.
  summary.invalid = [
    checkInvalid('empty messages', await expectError(analyzer, 'Analyze', { messages: [] }), 'messages'),
    checkInvalid('empty text', await expectError(analyzer, 'Analyze', { messages: [{ id: 'e', text: '' }] }), 'messages[0].text'),
    checkInvalid(
      'text and raw',
      await expectError(analyzer, 'Analyze', { messages: [{ id: 'ok', text: EN }, { id: 'both', text: EN, raw: Buffer.from(EN) }] }),
      'messages[1]',
    ),
    checkInvalid('no turns', await expectError(analyzer, 'AnalyzeConversation', { conversation_id: 'x', turns: [] }), 'turns: at least one turn'),
  ];
  // A bad message in a Score stream is answered in its place with its error; the stream goes on.
  const bad = await score([{ message: { id: 'good', text: EN } }, { message: { id: 'bad', text: ' ' } }, { message: { id: 'after', text: RU } }]);
  assert.equal(bad.error, null, `Score failed: ${bad.error?.details}`);
  assert.deepEqual(bad.answers.map((r) => r.analysis?.id ?? null), ['good', null, 'after']);
  summary.invalid.push(
    checkInvalid('score stream blank message', { code: bad.answers[1].error_code, details: bad.answers[1].error }, 'requests[1].message.text'),
  );

  // Profiles: events in (a map of attributes, an optional score), the profile out, exported, erased.
  const p0 = 1_793_610_000;
  const ingested = await unary(profiles, 'IngestEvents', {
    customer_id: 'node-crm-1',
    events: [
      { id: 'n1', kind: 'EVENT_KIND_PURCHASE', timestamp: { seconds: p0 - 86_400 }, amount_minor: 1500, currency: 'EUR', attributes: { sku: 'B-2' } },
      { id: 'n2', kind: 'EVENT_KIND_NPS', timestamp: { seconds: p0 }, score: 9 },
      { id: 'n2', kind: 'EVENT_KIND_NPS', timestamp: { seconds: p0 }, score: 9 },
    ],
  });
  assert.deepEqual([ingested.accepted, ingested.duplicates, ingested.version], [2, 1, 1]);
  const profile = await unary(profiles, 'GetProfile', { customer_id: 'node-crm-1' });
  assert.equal(profile.events, 2);
  const nps = profile.behaviour.find((f) => f.name === 'nps_mean');
  assert.equal(nps.value, 9);
  const exported = await unary(profiles, 'ExportProfile', { customer_id: 'node-crm-1' });
  assert.ok(JSON.parse(exported.data_json).export.events.some((e) => e.attributes.sku === 'B-2'));
  assert.equal((await unary(profiles, 'EraseProfile', { customer_id: 'node-crm-1' })).erased, true);
  const gone = await expectError(profiles, 'GetProfile', { customer_id: 'node-crm-1' });
  assert.equal(gone.code, grpc.status.NOT_FOUND);
  summary.profiles = { events: profile.events, nps: nps.value };

  // LiveAssist: start, two turns, end on one bidirectional stream; answers come in order.
  const replies = await new Promise((resolve, reject) => {
    const got = [];
    const call = live.Assist();
    call.on('data', (r) => got.push(r));
    call.on('error', reject);
    call.on('end', () => resolve(got));
    call.write({ start: { conversation_id: 'node-live-1', channel: 'CHANNEL_CHAT', languages: ['ru'] } });
    call.write({ turn: { turn_id: 't1', role: 'ROLE_CUSTOMER', text: 'Здравствуйте, где мой заказ?' } });
    call.write({ turn: { turn_id: 't1', role: 'ROLE_CUSTOMER', text: 'Здравствуйте, где мой заказ?' } });
    call.write({ end: { reason: 'resolved' } });
    call.end();
  });
  assert.deepEqual(replies.map((r) => r.kind), ['opened', 'turn', 'turn', 'closed']);
  assert.equal(replies[1].turn.analysis.id, 't1');
  assert.equal(replies[2].turn.duplicate, true);
  assert.equal(replies[1].turn.state.language, 'ru');
  summary.live = { turns: replies.length - 2 };

  summary.ok = true;
}

main()
  .catch((err) => {
    summary.error = err.details ? `${err.code} ${err.details}` : String(err.stack || err);
  })
  .finally(() => {
    for (const client of [analyzer, scoring, info, health, profiles, live]) client.close();
    console.log(JSON.stringify(summary, null, 2));
    process.exitCode = summary.ok ? 0 : 1;
  });
