// rapport-client: a Node client for rapport over @grpc/grpc-js, its stubs loaded at run time from
// the .proto files by @grpc/proto-loader (no code generation step).
//
// Field names are those of the .proto files (snake_case), enums are their names as strings
// ('CHANNEL_CHAT'), 64-bit integers are Numbers, and unset message fields come back with their
// defaults.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const DEFAULT_ADDRESS = '127.0.0.1:50051';
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * The folder holding rapport/v1/*.proto and grpc/health/v1/health.proto: `RAPPORT_PROTO_DIR`,
 * else the copy `npm pack` puts in the package, else the repository's proto/ (this package
 * lives in clients/node of the rapport repository).
 */
function protoDir() {
  const candidates = [
    process.env.RAPPORT_PROTO_DIR,
    path.join(__dirname, 'proto'),
    path.join(__dirname, '..', '..', 'proto'),
  ].filter(Boolean);
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'rapport', 'v1', 'common.proto')));
  if (!found) throw new Error(`rapport-client: no rapport/v1/*.proto in ${candidates.join(', ')}`);
  return found;
}

const loaded = new Map();

/** Loads the rapport and grpc.health.v1 protos; returns grpc-js's package object. */
function loadProtos(dir = protoDir()) {
  if (loaded.has(dir)) return loaded.get(dir);
  const files = fs
    .readdirSync(path.join(dir, 'rapport', 'v1'))
    .filter((f) => f.endsWith('.proto'))
    .sort()
    .map((f) => `rapport/v1/${f}`);
  const definition = protoLoader.loadSync([...files, 'grpc/health/v1/health.proto'], {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [dir], // google/protobuf/*.proto come with protobufjs
  });
  const pkg = grpc.loadPackageDefinition(definition);
  loaded.set(dir, pkg);
  return pkg;
}

// ------------------------------------------------------------------------------- conversions

/** 'chat' | 'CHAT' | 'CHANNEL_CHAT' -> 'CHANNEL_CHAT' (numbers pass through). */
function enumName(prefix, value) {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number') return value;
  const name = String(value).trim().toUpperCase().replace(/[- ]/g, '_');
  return name.startsWith(prefix) ? name : prefix + name;
}

/** A google.protobuf.Timestamp from a Date, epoch seconds, an RFC 3339 string or {seconds, nanos}. */
function timestamp(value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && !(value instanceof Date)) return value;
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value * 1000 : Date.parse(value);
  if (Number.isNaN(ms)) throw new TypeError(`not a time: ${value}`);
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/**
 * A rapport.v1.Message from a string or an object with friendly values: `channel` 'email' |
 * 'chat' | 'call_transcript' | 'sms' | 'social', `role` 'customer' | 'agent' | 'bot', `timestamp`
 * a Date, epoch seconds or RFC 3339 string, `subject` (the email's), `format` 'rfc822' | 'html' |
 * ...; other fields as in the .proto (`customer_id`, `conversation_id`, `raw`, ...).
 */
function message(value, defaultId = '') {
  const m = typeof value === 'string' ? { text: value } : { ...value };
  if (!m.id) m.id = defaultId;
  if ('channel' in m) m.channel = enumName('CHANNEL_', m.channel);
  if ('role' in m) m.role = enumName('ROLE_', m.role);
  if ('format' in m) m.format = enumName('TEXT_FORMAT_', m.format);
  if ('timestamp' in m) m.timestamp = timestamp(m.timestamp);
  if ('subject' in m) {
    m.email = { ...(m.email || {}), subject: m.subject };
    delete m.subject;
  }
  return m;
}

/** A rapport.v1.BehaviourEvent: `kind` 'purchase' | 'refund' | 'csat' | 'nps' | ... */
function event(value) {
  const e = { ...value, kind: enumName('EVENT_KIND_', value.kind), timestamp: timestamp(value.timestamp) };
  if ('channel' in e) e.channel = enumName('CHANNEL_', e.channel);
  return e;
}

/** Resolves when a stream that refused a write takes more, or closes. */
function drained(stream) {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

const STATUS_NAME = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

// ------------------------------------------------------------------------------- the client

class RapportClient {
  /**
   * @param {string} [address] host:port of the server (default 127.0.0.1:50051)
   * @param {object} [opts]
   * @param {import('@grpc/grpc-js').ChannelCredentials} [opts.credentials] e.g.
   *   grpc.credentials.createSsl(ca) for TLS; plaintext by default
   * @param {string} [opts.token] sent as `authorization: Bearer <token>` with every call
   * @param {number|null} [opts.timeoutMs] default deadline of each unary call (30 s; null: none)
   * @param {string} [opts.protoDir] where the .proto files are (see protoDir())
   */
  constructor(address = DEFAULT_ADDRESS, opts = {}) {
    this.address = address;
    this.timeoutMs = opts.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : opts.timeoutMs;
    this.pkg = loadProtos(opts.protoDir);
    const v1 = this.pkg.rapport.v1;
    const creds = opts.credentials || grpc.credentials.createInsecure();
    const options = { 'grpc.max_receive_message_length': 64 << 20 };
    this.metadata = new grpc.Metadata();
    if (opts.token) this.metadata.set('authorization', `Bearer ${opts.token}`);
    /** The raw grpc-js clients, for anything the helpers do not cover. */
    this.stubs = {
      analyzer: new v1.Analyzer(address, creds, options),
      scoring: new v1.Scoring(address, creds, options),
      info: new v1.Info(address, creds, options),
      profiles: new v1.Profiles(address, creds, options),
      live: new v1.LiveAssist(address, creds, options),
      health: new this.pkg.grpc.health.v1.Health(address, creds, options),
    };
    this.profiles = new Profiles(this);
  }

  _options(timeoutMs) {
    const t = timeoutMs === undefined ? this.timeoutMs : timeoutMs;
    return t === null ? {} : { deadline: Date.now() + t };
  }

  _unary(stub, method, request, timeoutMs) {
    return new Promise((resolve, reject) => {
      this.stubs[stub][method](request, this.metadata, this._options(timeoutMs), (err, res) =>
        err ? reject(err) : resolve(res),
      );
    });
  }

  /** Resolves once the channel is connected. */
  waitForReady(timeoutMs = DEFAULT_TIMEOUT_MS) {
    return new Promise((resolve, reject) =>
      this.stubs.analyzer.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())),
    );
  }

  close() {
    for (const s of Object.values(this.stubs)) s.close();
  }

  /** grpc.health.v1 status ('SERVING', 'NOT_SERVING') of the server ('') or one service. */
  async health(service = '', { timeoutMs } = {}) {
    return (await this._unary('health', 'Check', { service }, timeoutMs)).status;
  }

  /** Server and model versions, languages, label sets and limits. */
  info({ timeoutMs } = {}) {
    return this._unary('info', 'GetInfo', {}, timeoutMs);
  }

  /**
   * Analyses a batch (a string, a message object, or an array of them): one MessageAnalysis
   * each, in order. A bad message fails the call with INVALID_ARGUMENT naming it.
   */
  async analyze(messages, { skipEvidence = false, timeoutMs } = {}) {
    const list = Array.isArray(messages) ? messages : [messages];
    const request = { messages: list.map((m, i) => message(m, `m${i}`)), options: { skip_evidence: skipEvidence } };
    return (await this._unary('analyzer', 'Analyze', request, timeoutMs)).analyses;
  }

  /** The ordered turns of one conversation: per-turn analyses, trajectories and turn metrics. */
  analyzeConversation(turns, { conversationId = '', skipEvidence = false, timeoutMs } = {}) {
    const request = {
      conversation_id: conversationId,
      turns: turns.map((m, i) => message(m, `t${i}`)),
      options: { skip_evidence: skipEvidence },
    };
    return this._unary('analyzer', 'AnalyzeConversation', request, timeoutMs);
  }

  /**
   * Scores any number of messages (an iterable or async iterable) over one Score stream and
   * yields a result per message, in order: `{ sequence, id, ok, analysis, error, code }`. A
   * message the server cannot score comes back with `error` and `code` ('INVALID_ARGUMENT':
   * fix it; 'RESOURCE_EXHAUSTED' or 'DEADLINE_EXCEEDED': send it again later) and the stream
   * goes on. Input is read only as fast as the server takes it (HTTP/2 flow control).
   */
  async *score(messages, { skipEvidence = false, timeoutMs = null } = {}) {
    const call = this.stubs.scoring.Score(this.metadata, this._options(timeoutMs));
    const ids = new Map();
    let stopped = false;
    let inputError = null;
    const options = { skip_evidence: skipEvidence };
    const pump = (async () => {
      let i = 0;
      for await (const m of messages) {
        if (stopped) return;
        const msg = message(m, String(i));
        ids.set(i, msg.id);
        i += 1;
        if (!call.write({ message: msg, options })) await drained(call);
      }
      if (!stopped) call.end();
    })().catch((err) => {
      inputError = err;
      call.cancel();
    });
    try {
      for await (const r of call) {
        const ok = !r.error;
        yield {
          sequence: r.sequence,
          id: ids.get(r.sequence) ?? r.analysis?.id ?? '',
          ok,
          analysis: ok ? r.analysis : null,
          error: r.error,
          code: ok ? null : STATUS_NAME[r.error_code] ?? String(r.error_code),
        };
        ids.delete(r.sequence);
      }
    } catch (err) {
      throw inputError || err;
    } finally {
      stopped = true;
      call.cancel(); // a no-op once the stream has ended; stops it when the caller breaks off
      await pump;
    }
    if (inputError) throw inputError;
  }

  /**
   * A LiveAssist session: `const conv = client.conversation('c-1'); await conv.open();
   * await conv.turn('customer', 'Hi'); await conv.end();`
   * @param {string} conversationId
   * @param {{customerId?: string, channel?: string, languages?: string[], updateProfile?: boolean}} [opts]
   */
  conversation(conversationId, { customerId = '', channel = 'chat', languages = [], updateProfile = false } = {}) {
    return new Conversation(this, {
      conversation_id: conversationId,
      customer_id: customerId,
      channel: enumName('CHANNEL_', channel),
      languages,
      update_profile: updateProfile,
    });
  }
}

class Profiles {
  constructor(client) {
    this.c = client;
  }

  /** Analyses a customer's messages (each needs an `id`) and folds them into the profile. */
  ingestMessages(customerId, messages, { agent = false, timeoutMs } = {}) {
    const request = {
      customer_id: customerId,
      messages: messages.map((m) => message(m)),
      subject: agent ? 'SUBJECT_AGENT' : 'SUBJECT_UNSPECIFIED',
    };
    return this.c._unary('profiles', 'IngestMessages', request, timeoutMs);
  }

  /** Adds behavioural events (`{ id, kind: 'purchase', timestamp, amount_minor, currency }`). */
  ingestEvents(customerId, events, { timeoutMs } = {}) {
    return this.c._unary('profiles', 'IngestEvents', { customer_id: customerId, events: events.map(event) }, timeoutMs);
  }

  /** The stored profile, or null for a customer the store does not know. */
  async get(customerId, { timeoutMs } = {}) {
    try {
      return await this.c._unary('profiles', 'GetProfile', { customer_id: customerId }, timeoutMs);
    } catch (err) {
      if (err.code === grpc.status.NOT_FOUND) return null;
      throw err;
    }
  }

  /** Everything stored about the customer: `{ profile, data }` (data: the store's JSON, parsed). */
  async export(customerId, { timeoutMs } = {}) {
    const r = await this.c._unary('profiles', 'ExportProfile', { customer_id: customerId }, timeoutMs);
    return { profile: r.profile, data: r.data_json ? JSON.parse(r.data_json) : {} };
  }

  /** Deletes everything stored about the customer: `{ erased, rows }`. */
  erase(customerId, { timeoutMs } = {}) {
    return this.c._unary('profiles', 'EraseProfile', { customer_id: customerId }, timeoutMs);
  }

  /** Records consent granted (true) or withdrawn (false); resolves to the profile's version. */
  async setConsent(customerId, granted, { timeoutMs } = {}) {
    const consent = granted ? 'CONSENT_STATE_GRANTED' : 'CONSENT_STATE_WITHDRAWN';
    return (await this.c._unary('profiles', 'SetConsent', { customer_id: customerId, consent }, timeoutMs)).version;
  }

  /** The latest `rapport segment` run's segments (empty before any run). */
  async segments({ timeoutMs } = {}) {
    return (await this.c._unary('profiles', 'ListSegments', {}, timeoutMs)).segments;
  }

  /** The lifecycle stages with how many customers are in each. */
  async lifecycle({ timeoutMs } = {}) {
    return (await this.c._unary('profiles', 'ListSegments', {}, timeoutMs)).lifecycle;
  }
}

/**
 * One LiveAssist stream. Every request is answered in order, so turns may be sent without
 * waiting for the one before; each promise resolves to that turn's TurnResult.
 */
class Conversation {
  constructor(client, start) {
    this.client = client;
    this.start = start;
    this.call = null;
    this.openedPromise = null;
    this.closedPromise = null;
    this.pending = [];
    this.nextId = 1;
    this.opened = null;
    this.closed = null;
    this.failure = null;
  }

  _send(request, want) {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({ want, resolve, reject });
      this.call.write(request);
    });
  }

  _fail(err) {
    this.failure = err;
    for (const p of this.pending.splice(0)) p.reject(err);
  }

  /** Opens the stream and the session (or resumes a detached one); resolves to SessionOpened. */
  open() {
    if (!this.openedPromise) {
      this.call = this.client.stubs.live.Assist(this.client.metadata);
      this.call.on('data', (r) => {
        const p = this.pending.shift();
        if (!p) return;
        if (r.kind === p.want) p.resolve(r[r.kind]);
        else p.reject(new Error(`expected ${p.want}, the server answered ${r.kind}: ${JSON.stringify(r)}`));
      });
      this.call.on('error', (err) => this._fail(err));
      this.call.on('end', () => this._fail(new Error('the LiveAssist stream ended')));
      this.openedPromise = this._send({ start: this.start }, 'opened').then((o) => {
        this.opened = o;
        return o;
      });
      this.openedPromise.catch(() => {}); // a failed start also rejects the turns sent behind it
    }
    return this.openedPromise;
  }

  /**
   * Sends one turn: role 'customer' | 'agent', its text; `timestamp` defaults to now, `turnId`
   * to t1, t2, ... in the order of the calls. Resolves to its TurnResult (analysis, state,
   * hints, withdrawn); a turn the server cannot analyse resolves with `error` set, and the
   * stream goes on. Opens the session first where `open` was not called.
   */
  turn(role, text, { turnId, timestamp: ts, ...fields } = {}) {
    try {
      const turn = {
        ...fields,
        turn_id: turnId || `t${this.nextId++}`,
        role: enumName('ROLE_', role),
        text,
        timestamp: timestamp(ts ?? new Date()),
      };
      this.open();
      return this._send({ turn }, 'turn');
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Ends the session; resolves to SessionClosed (whether the profile was updated). */
  end(reason = '') {
    if (!this.closedPromise) {
      this.open();
      this.closedPromise = this._send({ end: { reason } }, 'closed').then((c) => {
        this.closed = c;
        return c;
      });
      this.call.end();
    }
    return this.closedPromise;
  }

  /** Breaks the stream without `end`: a new conversation with the same id resumes the session. */
  cancel() {
    if (this.call) this.call.cancel();
  }
}

/** `new RapportClient(address, opts)`. */
function createClient(address, opts) {
  return new RapportClient(address, opts);
}

module.exports = {
  DEFAULT_ADDRESS,
  RapportClient,
  Profiles,
  Conversation,
  createClient,
  loadProtos,
  protoDir,
  message,
  event,
  timestamp,
  grpc,
};
