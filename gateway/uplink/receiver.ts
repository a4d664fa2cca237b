/**
 * The reference IOC receiver (`commune-edge ioc-receiver`): what a province IOC
 * must do with the feed, small enough to read, so an integrator can try the feed
 * and the tests and the benchmark run against a real peer.
 *
 * POST /v1/messages, in this order (cheap checks before expensive ones):
 *   1. bearer token → the commune(s) it may send for         401 CE_IOC_TOKEN
 *   2. X-CE-Timestamp within ±clockSkewS of our clock        401 CE_IOC_TIMESTAMP
 *   3. body read with limits, HMAC computed while streaming  413 CE_IOC_TOO_LARGE, 415
 *      (gzip decoded after the HMAC: the signature covers the bytes as sent)
 *   4. X-CE-Signature                                         401 CE_IOC_SIGNATURE
 *   5. JSON, then the envelope schema                         400 CE_IOC_JSON / CE_IOC_SCHEMA (with the path)
 *   6. the commune of the body is the token's                 403 CE_IOC_COMMUNE_FORBIDDEN
 *   7. Idempotency-Key = messageId                            400 CE_IOC_IDEMPOTENCY_KEY
 *   8. idempotency: a known messageId with the same body → 200 with the stored
 *      result (Idempotent-Replayed: true), never stored twice; with another body
 *      → 422 CE_IOC_IDEMPOTENCY_CONFLICT (draft-ietf-httpapi-idempotency-key-header §2.7)
 *   9. stored in the commune's SQLite file, then 200 {"status":"stored", ...}
 *
 * Read side: GET /communes, GET /communes/:code/status, GET /communes/:code/messages,
 * GET /province/indicators?period= (re-aggregated across communes by summing
 * numerators and denominators — never by averaging percentages), GET /stats.
 */
import Database from 'better-sqlite3';
import { createHash, type Hmac } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import pino, { type Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CodedError, ERRORS, type ErrorCode } from '../errors.js';
import { createLogger } from '../logger.js';
import { describeIssues, IocEnvelopeSchema, type IocEnvelope } from './envelope.js';
import { signatureMatches, signer, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './signature.js';

export interface CommuneCredential {
  token: string;
  hmacKey: string;
}

export interface IocReceiverOptions {
  host?: string;
  /** 0 = a free port. */
  port?: number;
  dataDir: string;
  /** Per-commune credentials, by 5-digit commune code. */
  communes?: Record<string, CommuneCredential>;
  /** One credential valid for every commune (a province that issues one key, or a test). */
  shared?: CommuneCredential;
  /** Limit of the body, compressed and decompressed (default 8 MiB). */
  maxBodyBytes?: number;
  /** Accepted distance between X-CE-Timestamp and our clock (default 300 s). */
  clockSkewS?: number;
  /** When set, the GET routes need `Authorization: Bearer <readToken>`. */
  readToken?: string;
  /** PRAGMA synchronous of the commune files: FULL (default) makes a 2xx survive a power cut. */
  synchronous?: 'FULL' | 'NORMAL';
  tls?: { cert: Buffer | string; key: Buffer | string };
  logger?: Logger;
  /** Receiver clock (epoch ms), for the timestamp window. */
  now?: () => number;
  /** Tests: wait this long after storing before answering (a sender can die in between). */
  answerDelayMs?: number;
  /** Tests and tools: called after a message is stored, before the answer. */
  onStored?: (m: StoredMessage, commune: string) => void;
}

export interface ReceiverStats {
  received: number;
  stored: number;
  duplicates: number;
  rejected: Record<string, number>;
  bytesIn: number;
}

export interface StoredMessage {
  arrival: number;
  messageId: string;
  feedId: string;
  seq: number;
  type: string;
  receivedAt: number;
  inOrder: boolean;
}

export interface IocReceiver {
  app: FastifyInstance;
  url: string;
  port: number;
  stats(): ReceiverStats;
  /** Messages of one commune in arrival order (tests). */
  messages(code: string): StoredMessage[];
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    iocCredential?: { commune: string | '*'; hmacKey: string };
    iocTimestamp?: string;
    iocHmac?: Hmac;
    iocWireBytes?: number;
    /** The gzip bytes as received (kept: they are what is stored). */
    iocWireChunks?: Buffer[];
    iocEncoding?: 'identity' | 'gzip';
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS commune (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  code TEXT NOT NULL, name TEXT NOT NULL, province_code TEXT NOT NULL, province_name TEXT NOT NULL, updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  arrival INTEGER PRIMARY KEY,          -- arrival order at this receiver
  message_id TEXT NOT NULL UNIQUE,      -- idempotency key
  feed_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  gateway_id TEXT NOT NULL,
  generated_at TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  body_sha256 TEXT NOT NULL,            -- of the decoded JSON: tells a replay from a conflict
  bytes INTEGER NOT NULL,               -- of the JSON
  in_order INTEGER NOT NULL,            -- 1: seq above every seq seen before on its feed
  encoding TEXT NOT NULL,               -- identity | gzip
  wire BLOB NOT NULL                    -- the body exactly as received (signed bytes; ~7x smaller than the JSON when gzip)
);
CREATE INDEX IF NOT EXISTS messages_type ON messages (type, arrival);
CREATE TABLE IF NOT EXISTS feeds (
  feed_id TEXT PRIMARY KEY, gateway_id TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
  messages INTEGER NOT NULL, gaps INTEGER NOT NULL, out_of_order INTEGER NOT NULL, last_received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS status_latest (
  id INTEGER PRIMARY KEY CHECK (id = 1), message_id TEXT NOT NULL, generated_ms INTEGER NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS period_latest (
  period_id TEXT PRIMARY KEY, message_id TEXT NOT NULL, generated_ms INTEGER NOT NULL, seq INTEGER NOT NULL,
  partial INTEGER NOT NULL, gateway_coverage REAL NOT NULL, period TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS indicator_latest (
  period_id TEXT NOT NULL, indicator_id TEXT NOT NULL,
  name_vi TEXT NOT NULL, name_en TEXT NOT NULL, unit_vi TEXT NOT NULL, unit_en TEXT NOT NULL, method TEXT NOT NULL,
  value REAL, numerator REAL NOT NULL, denominator REAL NOT NULL, target TEXT, status TEXT NOT NULL, coverage REAL,
  devices INTEGER NOT NULL, responsible_unit TEXT NOT NULL,
  PRIMARY KEY (period_id, indicator_id)
);
`;

const FILE_RE = /^commune-(\d{5})\.db$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One commune's SQLite file and its statements. */
class CommuneStore {
  readonly db: Database.Database;
  readonly code: string;
  private readonly s: ReturnType<CommuneStore['prepare']>;

  constructor(dataDir: string, code: string, synchronous: 'FULL' | 'NORMAL') {
    this.code = code;
    this.db = new Database(join(dataDir, `commune-${code}.db`));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${synchronous}`);
    // A province has ~100 communes, each its own file and connection: SQLite's
    // default 2 MB page cache per connection would be 200 MB of cache for little
    // gain (writes append; reads are small per-period lookups).
    this.db.pragma('cache_size = -256');
    this.db.exec(SCHEMA);
    this.s = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      byId: db.prepare('SELECT arrival, body_sha256, seq, received_at FROM messages WHERE message_id = ?'),
      insert: db.prepare(
        `INSERT INTO messages (message_id, feed_id, seq, type, gateway_id, generated_at, received_at, body_sha256, bytes, in_order, encoding, wire)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      feed: db.prepare('SELECT last_seq FROM feeds WHERE feed_id = ?').pluck(),
      upsertFeed: db.prepare(
        `INSERT INTO feeds (feed_id, gateway_id, first_seq, last_seq, messages, gaps, out_of_order, last_received_at) VALUES (?, ?, ?, ?, 1, 0, 0, ?)
         ON CONFLICT (feed_id) DO UPDATE SET gateway_id = excluded.gateway_id, messages = messages + 1,
           gaps = gaps + MAX(0, excluded.last_seq - last_seq - 1), out_of_order = out_of_order + (excluded.last_seq <= last_seq),
           last_seq = MAX(last_seq, excluded.last_seq), last_received_at = excluded.last_received_at`,
      ),
      commune: db.prepare(
        `INSERT INTO commune (id, code, name, province_code, province_name, updated_at) VALUES (1, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, province_code = excluded.province_code, province_name = excluded.province_name, updated_at = excluded.updated_at`,
      ),
      statusAt: db.prepare('SELECT generated_ms, seq FROM status_latest WHERE id = 1'),
      setStatus: db.prepare('INSERT OR REPLACE INTO status_latest (id, message_id, generated_ms, seq, body) VALUES (1, ?, ?, ?, ?)'),
      periodAt: db.prepare('SELECT generated_ms, seq FROM period_latest WHERE period_id = ?'),
      setPeriod: db.prepare(
        'INSERT OR REPLACE INTO period_latest (period_id, message_id, generated_ms, seq, partial, gateway_coverage, period) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      clearIndicators: db.prepare('DELETE FROM indicator_latest WHERE period_id = ?'),
      setIndicator: db.prepare(
        `INSERT INTO indicator_latest (period_id, indicator_id, name_vi, name_en, unit_vi, unit_en, method, value, numerator, denominator, target, status, coverage, devices, responsible_unit)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    };
  }

  /** The stored answer for a known messageId, or null. */
  known(messageId: string): { arrival: number; sha: string; seq: number; receivedAt: number } | null {
    const r = this.s.byId.get(messageId) as { arrival: number; body_sha256: string; seq: number; received_at: number } | undefined;
    return r ? { arrival: r.arrival, sha: r.body_sha256, seq: r.seq, receivedAt: r.received_at } : null;
  }

  /** Store one message and update the latest views, in one transaction. */
  store(env: IocEnvelope, jsonBytes: number, sha: string, wire: { bytes: Buffer; encoding: 'identity' | 'gzip' }, receivedAt: number): { arrival: number; inOrder: boolean } {
    return this.db.transaction(() => {
      const last = this.s.feed.get(env.feedId) as number | undefined;
      const inOrder = last === undefined || env.seq > last;
      const info = this.s.insert.run(
        env.messageId, env.feedId, env.seq, env.type, env.gatewayId, env.generatedAt, receivedAt, sha, jsonBytes, inOrder ? 1 : 0, wire.encoding, wire.bytes,
      );
      this.s.upsertFeed.run(env.feedId, env.gatewayId, env.seq, env.seq, receivedAt);
      this.s.commune.run(env.commune.code, env.commune.name, env.commune.province.code, env.commune.province.name, receivedAt);
      const generatedMs = Date.parse(env.generatedAt);
      const newer = (prev: { generated_ms: number; seq: number } | undefined) =>
        !prev || generatedMs > prev.generated_ms || (generatedMs === prev.generated_ms && env.seq > prev.seq);
      if (env.type === 'status' && newer(this.s.statusAt.get() as { generated_ms: number; seq: number } | undefined)) {
        this.s.setStatus.run(env.messageId, generatedMs, env.seq, JSON.stringify({ generatedAt: env.generatedAt, ...env.body }));
      }
      if (env.type === 'indicators') {
        const b = env.body;
        if (newer(this.s.periodAt.get(b.period.id) as { generated_ms: number; seq: number } | undefined)) {
          this.s.setPeriod.run(b.period.id, env.messageId, generatedMs, env.seq, b.partial ? 1 : 0, b.gatewayCoverage, JSON.stringify(b.period));
          this.s.clearIndicators.run(b.period.id);
          for (const r of b.indicators) {
            this.s.setIndicator.run(
              b.period.id, r.id, r.name.vi, r.name.en, r.unit.vi, r.unit.en, r.method, r.value, r.numerator, r.denominator,
              r.target ? JSON.stringify(r.target) : null, r.status, r.coverage, r.byDevice.length, r.responsibleUnit,
            );
          }
        }
      }
      return { arrival: Number(info.lastInsertRowid), inOrder };
    })();
  }

  close(): void {
    this.db.close();
  }
}

interface IndicatorRow {
  indicator_id: string;
  name_vi: string;
  name_en: string;
  unit_vi: string;
  unit_en: string;
  method: string;
  value: number | null;
  numerator: number;
  denominator: number;
  target: string | null;
  status: string;
  coverage: number | null;
  devices: number;
  responsible_unit: string;
}

const TargetJson = z.object({ op: z.enum(['>=', '<=']), value: z.number() });

export async function startIocReceiver(opts: IocReceiverOptions): Promise<IocReceiver> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const maxBodyBytes = opts.maxBodyBytes ?? 8 * 1024 * 1024;
  const clockSkewS = opts.clockSkewS ?? 300;
  const now = opts.now ?? Date.now;
  const log = opts.logger ?? pino({ level: 'silent' });
  const synchronous = opts.synchronous ?? 'FULL';
  const stats: ReceiverStats = { received: 0, stored: 0, duplicates: 0, rejected: {}, bytesIn: 0 };

  // Tokens are looked up by their SHA-256: no token comparison that leaks timing.
  const tokenHash = (t: string) => createHash('sha256').update(t, 'utf8').digest('hex');
  const credentials = new Map<string, { commune: string; hmacKey: string }>();
  for (const [code, c] of Object.entries(opts.communes ?? {})) {
    if (!/^\d{5}$/.test(code)) throw new Error(`commune code "${code}" is not a 5-digit code`);
    credentials.set(tokenHash(c.token), { commune: code, hmacKey: c.hmacKey });
  }
  if (opts.shared) credentials.set(tokenHash(opts.shared.token), { commune: '*', hmacKey: opts.shared.hmacKey });
  if (credentials.size === 0) throw new Error('the IOC receiver needs credentials: `communes` and/or `shared`');
  const readTokenHash = opts.readToken ? tokenHash(opts.readToken) : null;

  const stores = new Map<string, CommuneStore>();
  const storeOf = (code: string, create: boolean): CommuneStore | null => {
    let s = stores.get(code);
    if (!s && create) {
      s = new CommuneStore(dataDir, code, synchronous);
      stores.set(code, s);
    }
    return s ?? null;
  };
  for (const f of readdirSync(dataDir)) {
    const m = FILE_RE.exec(f);
    if (m) storeOf(m[1]!, true);
  }

  const app = Fastify({
    // Requests are not logged one by one (fastify logs them at info); errors are.
    loggerInstance: log.child({ part: 'http' }, { level: log.isLevelEnabled('warn') ? 'warn' : log.level }) as FastifyBaseLogger,
    bodyLimit: maxBodyBytes,
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
    // With `https` fastify's type is FastifyInstance<https.Server>; the routes below
    // use nothing server-specific, so one type serves both.
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  const reject = (code: ErrorCode, detail?: string): never => {
    throw new CodedError(code, detail);
  };
  const send = (reply: FastifyReply, code: ErrorCode, detail?: string) => {
    stats.rejected[code] = (stats.rejected[code] ?? 0) + 1;
    const e = ERRORS[code];
    return reply.status(e.status).send({ error: { code, message: detail ? `${e.message}: ${detail}` : e.message } });
  };

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    if (err instanceof CodedError) return send(reply, err.code, err.detail);
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return send(reply, 'CE_IOC_TOO_LARGE', `limit ${maxBodyBytes} bytes`);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return send(reply, err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'CE_IOC_CONTENT_TYPE' : 'CE_IOC_JSON', err.message);
      case 'Z_DATA_ERROR':
      case 'Z_BUF_ERROR':
        return send(reply, 'CE_IOC_JSON', `gzip: ${err.message}`);
    }
    if (err.statusCode && err.statusCode < 500) return send(reply, 'CE_BAD_REQUEST', err.message);
    req.log.error({ err }, 'IOC receiver request failed');
    return send(reply, 'CE_INTERNAL', err.message);
  });
  app.setNotFoundHandler((req, reply) => send(reply, 'CE_NOT_FOUND', `${req.method} ${req.url}`));

  // The body stays bytes until the signature is checked; nothing but JSON is parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, done) => done(null, body));

  app.post(
    '/v1/messages',
    {
      onRequest: async (req) => {
        stats.received++;
        const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
        const cred = m ? credentials.get(tokenHash(m[1]!)) : undefined;
        if (!cred) reject('CE_IOC_TOKEN', m ? 'unknown token' : 'send "Authorization: Bearer <token>"');
        const ts = req.headers[TIMESTAMP_HEADER];
        if (typeof ts !== 'string' || !/^\d{1,12}$/.test(ts)) reject('CE_IOC_TIMESTAMP', `send ${TIMESTAMP_HEADER}: <unix seconds>`);
        const skew = Math.abs(now() / 1000 - Number(ts));
        if (skew > clockSkewS) reject('CE_IOC_TIMESTAMP', `${Math.round(skew)} s from the receiver clock (window ±${clockSkewS} s); check NTP`);
        req.iocCredential = cred!;
        req.iocTimestamp = ts as string;
      },
      preParsing: async (req, _reply, payload) => {
        const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
        if (encoding !== 'identity' && encoding !== 'gzip') reject('CE_IOC_CONTENT_TYPE', `Content-Encoding "${encoding}"`);
        const declared = Number(req.headers['content-length']);
        if (declared > maxBodyBytes) reject('CE_IOC_TOO_LARGE', `Content-Length ${declared} > ${maxBodyBytes} bytes`);
        const hmac = signer(req.iocCredential!.hmacKey, req.iocTimestamp!);
        req.iocHmac = hmac;
        req.iocWireBytes = 0;
        req.iocEncoding = encoding === 'gzip' ? 'gzip' : 'identity';
        const keep: Buffer[] | null = encoding === 'gzip' ? (req.iocWireChunks = []) : null;
        // The signature covers the bytes as sent: hash them on the way in, then decode.
        const tap = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            req.iocWireBytes! += chunk.length;
            if (req.iocWireBytes! > maxBodyBytes) return cb(new CodedError('CE_IOC_TOO_LARGE', `more than ${maxBodyBytes} bytes`));
            hmac.update(chunk);
            keep?.push(chunk);
            cb(null, chunk);
          },
        });
        // fastify listens for 'error' on the stream it reads; the others forward theirs
        // to it (and must never throw an unhandled 'error' when nobody reads any more).
        payload.on('error', (err) => tap.destroy(err));
        tap.on('error', () => undefined);
        let out: Readable = payload.pipe(tap);
        if (encoding === 'gzip') {
          const gunzip = createGunzip();
          gunzip.on('error', () => undefined);
          tap.on('error', (err) => gunzip.destroy(err));
          out = tap.pipe(gunzip);
          // fastify compares this with Content-Length, and the decoded length with bodyLimit (zip bombs).
          Object.defineProperty(out, 'receivedEncodedLength', { get: () => req.iocWireBytes });
        }
        return out;
      },
    },
    async (req, reply) => {
      if (!Buffer.isBuffer(req.body)) return reject('CE_IOC_CONTENT_TYPE', 'send Content-Type: application/json');
      const raw = req.body;
      stats.bytesIn += req.iocWireBytes ?? 0;
      if (!signatureMatches(req.headers[SIGNATURE_HEADER] as string | undefined, req.iocHmac!.digest('hex'))) {
        reject('CE_IOC_SIGNATURE', `expected sha256=<hex HMAC-SHA256 of "${req.iocTimestamp}." + body>`);
      }
      let json: unknown;
      try {
        json = JSON.parse(utf8.decode(raw));
      } catch (err) {
        return reject('CE_IOC_JSON', (err as Error).message);
      }
      const parsed = IocEnvelopeSchema.safeParse(json);
      if (!parsed.success) return reject('CE_IOC_SCHEMA', describeIssues(parsed.error.issues));
      const env = parsed.data;
      const cred = req.iocCredential!;
      if (cred.commune !== '*' && cred.commune !== env.commune.code) {
        reject('CE_IOC_COMMUNE_FORBIDDEN', `the token is for commune ${cred.commune}, the message is from ${env.commune.code}`);
      }
      if (req.headers['idempotency-key'] !== env.messageId) {
        reject('CE_IOC_IDEMPOTENCY_KEY', `Idempotency-Key "${String(req.headers['idempotency-key'] ?? '')}" vs messageId "${env.messageId}"`);
      }
      const store = storeOf(env.commune.code, true)!;
      const sha = createHash('sha256').update(raw).digest('hex');
      const known = store.known(env.messageId);
      if (known) {
        if (known.sha !== sha) reject('CE_IOC_IDEMPOTENCY_CONFLICT', `messageId ${env.messageId} was stored with another body`);
        stats.duplicates++;
        reply.header('idempotent-replayed', 'true');
        return { status: 'duplicate', messageId: env.messageId, seq: known.seq, receivedAt: new Date(known.receivedAt).toISOString() };
      }
      const receivedAt = now();
      const wire = req.iocEncoding === 'gzip' ? { bytes: Buffer.concat(req.iocWireChunks!), encoding: 'gzip' as const } : { bytes: raw, encoding: 'identity' as const };
      const { arrival, inOrder } = store.store(env, raw.length, sha, wire, receivedAt);
      stats.stored++;
      opts.onStored?.({ arrival, messageId: env.messageId, feedId: env.feedId, seq: env.seq, type: env.type, receivedAt, inOrder }, env.commune.code);
      if (!inOrder) log.warn({ commune: env.commune.code, feedId: env.feedId, seq: env.seq }, 'IOC message out of order');
      if (opts.answerDelayMs) await new Promise((r) => setTimeout(r, opts.answerDelayMs));
      return { status: 'stored', messageId: env.messageId, seq: env.seq, receivedAt: new Date(receivedAt).toISOString() };
    },
  );

  // --- read side -------------------------------------------------------------
  const readAuth = async (req: FastifyRequest) => {
    if (!readTokenHash) return;
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m || tokenHash(m[1]!) !== readTokenHash) reject('CE_AUTH_INVALID', 'the read routes need the receiver read token');
  };
  const communeOr404 = (code: string): CommuneStore => {
    const s = /^\d{5}$/.test(code) ? storeOf(code, false) : null;
    if (!s) return reject('CE_NOT_FOUND', `commune ${code}`);
    return s;
  };

  app.get('/healthz', async () => ({ ok: true, communes: stores.size }));
  app.get('/stats', { onRequest: readAuth }, async () => stats);

  app.get('/communes', { onRequest: readAuth }, async () => {
    const out = [];
    for (const s of [...stores.values()].sort((a, b) => a.code.localeCompare(b.code))) {
      const c = s.db.prepare('SELECT code, name, province_code, province_name FROM commune WHERE id = 1').get() as
        | { code: string; name: string; province_code: string; province_name: string }
        | undefined;
      const feeds = s.db.prepare('SELECT * FROM feeds ORDER BY last_received_at DESC').all() as Record<string, unknown>[];
      const status = s.db.prepare('SELECT body FROM status_latest WHERE id = 1').pluck().get() as string | undefined;
      const st = status ? (JSON.parse(status) as { generatedAt: string; counts: Record<string, number>; total: number }) : null;
      out.push({
        code: s.code,
        name: c?.name ?? null,
        province: c ? { code: c.province_code, name: c.province_name } : null,
        messages: s.db.prepare('SELECT COUNT(*) FROM messages').pluck().get() as number,
        lastReceivedAt: feeds[0] ? new Date(feeds[0]['last_received_at'] as number).toISOString() : null,
        feeds: feeds.map((f) => ({
          feedId: f['feed_id'],
          gatewayId: f['gateway_id'],
          lastSeq: f['last_seq'],
          messages: f['messages'],
          gaps: f['gaps'],
          outOfOrder: f['out_of_order'],
        })),
        status: st ? { generatedAt: st.generatedAt, total: st.total, counts: st.counts } : null,
      });
    }
    return { communes: out };
  });

  app.get<{ Params: { code: string }; Querystring: { events?: string } }>('/communes/:code/status', { onRequest: readAuth }, async (req) => {
    const s = communeOr404(req.params.code);
    const status = s.db.prepare('SELECT body FROM status_latest WHERE id = 1').pluck().get() as string | undefined;
    const limit = Math.min(1000, Math.max(0, Number(req.query.events ?? 50) || 0));
    const rows = s.db.prepare(`SELECT encoding, wire FROM messages WHERE type = 'event' ORDER BY arrival DESC LIMIT ?`).all(limit) as { encoding: string; wire: Buffer }[];
    const events = rows.map((r) => {
      const env = JSON.parse((r.encoding === 'gzip' ? gunzipSync(r.wire) : r.wire).toString('utf8')) as { seq: number; generatedAt: string; body: unknown };
      return { seq: env.seq, generatedAt: env.generatedAt, ...(env.body as object) };
    });
    return { code: s.code, status: status ? (JSON.parse(status) as unknown) : null, events };
  });

  app.get<{ Params: { code: string }; Querystring: { after?: string; limit?: string } }>(
    '/communes/:code/messages',
    { onRequest: readAuth },
    async (req) => {
      const s = communeOr404(req.params.code);
      const after = Number(req.query.after ?? 0) || 0;
      const limit = Math.min(100_000, Math.max(1, Number(req.query.limit ?? 1000) || 1000));
      const rows = s.db
        .prepare('SELECT arrival, message_id, feed_id, seq, type, received_at, in_order FROM messages WHERE arrival > ? ORDER BY arrival LIMIT ?')
        .all(after, limit) as Record<string, number | string>[];
      return { code: s.code, messages: rows.map(rowToStored) };
    },
  );

  app.get<{ Querystring: { period?: string } }>('/province/indicators', { onRequest: readAuth }, async (req) => {
    const period = req.query.period;
    if (!period) return reject('CE_BAD_REQUEST', 'period is required, e.g. ?period=2026-H1');
    return aggregate(period, [...stores.values()]);
  });

  await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  const host = opts.host ?? '127.0.0.1';
  return {
    app,
    port,
    url: `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}/v1/messages`,
    stats: () => structuredClone(stats),
    messages(code) {
      const s = stores.get(code);
      if (!s) return [];
      return (s.db.prepare('SELECT arrival, message_id, feed_id, seq, type, received_at, in_order FROM messages ORDER BY arrival').all() as Record<
        string,
        number | string
      >[]).map(rowToStored);
    },
    async close() {
      await app.close();
      for (const s of stores.values()) s.close();
      stores.clear();
    },
  };
}

function rowToStored(r: Record<string, number | string>): StoredMessage {
  return {
    arrival: r['arrival'] as number,
    messageId: r['message_id'] as string,
    feedId: r['feed_id'] as string,
    seq: r['seq'] as number,
    type: r['type'] as string,
    receivedAt: r['received_at'] as number,
    inOrder: r['in_order'] === 1,
  };
}

/**
 * The province view of one period: per indicator, Σ numerators / Σ denominators
 * over the communes that reported it (× 100 when the unit is %), each commune's
 * own figures, and the communes without a report for the period.
 */
function aggregate(periodId: string, stores: CommuneStore[]) {
  const started = performance.now();
  type Acc = {
    first: IndicatorRow;
    numerator: number;
    denominator: number;
    coverageWeighted: number;
    coverageDevices: number;
    targets: Set<string>;
    communes: { code: string; value: number | null; numerator: number; denominator: number; status: string; coverage: number | null }[];
  };
  const acc = new Map<string, Acc>();
  const reporting: { code: string; partial: boolean; generatedAt: string }[] = [];
  const missing: string[] = [];
  for (const s of stores) {
    const p = s.db.prepare('SELECT partial, generated_ms FROM period_latest WHERE period_id = ?').get(periodId) as
      | { partial: number; generated_ms: number }
      | undefined;
    if (!p) {
      missing.push(s.code);
      continue;
    }
    reporting.push({ code: s.code, partial: p.partial === 1, generatedAt: new Date(p.generated_ms).toISOString() });
    for (const r of s.db.prepare('SELECT * FROM indicator_latest WHERE period_id = ? ORDER BY rowid').all(periodId) as IndicatorRow[]) {
      let a = acc.get(r.indicator_id);
      if (!a) {
        a = { first: r, numerator: 0, denominator: 0, coverageWeighted: 0, coverageDevices: 0, targets: new Set(), communes: [] };
        acc.set(r.indicator_id, a);
      }
      a.numerator += r.numerator;
      a.denominator += r.denominator;
      if (r.coverage !== null) {
        a.coverageWeighted += r.coverage * Math.max(1, r.devices);
        a.coverageDevices += Math.max(1, r.devices);
      }
      a.targets.add(r.target ?? 'null');
      a.communes.push({ code: s.code, value: r.value, numerator: r.numerator, denominator: r.denominator, status: r.status, coverage: r.coverage });
    }
  }
  const indicators = [...acc.entries()].map(([id, a]) => {
    const scale = a.first.unit_en === '%' || a.first.unit_vi === '%' ? 100 : 1;
    const value = a.denominator > 0 ? (a.numerator / a.denominator) * scale : null;
    // A province target exists only when every commune has the same one.
    const target = a.targets.size === 1 && a.first.target !== null ? TargetJson.parse(JSON.parse(a.first.target)) : null;
    const status = value === null ? 'KHONG_DU_DU_LIEU' : target === null ? null : (target.op === '>=' ? value >= target.value : value <= target.value) ? 'DAT' : 'CHUA_DAT';
    return {
      id,
      name: { vi: a.first.name_vi, en: a.first.name_en },
      unit: { vi: a.first.unit_vi, en: a.first.unit_en },
      method: a.first.method,
      value,
      numerator: a.numerator,
      denominator: a.denominator,
      target,
      status,
      coverage: a.coverageDevices > 0 ? a.coverageWeighted / a.coverageDevices : null,
      communes: a.communes,
    };
  });
  return {
    period: periodId,
    communes: { reporting: reporting.length, missing },
    reporting,
    indicators,
    computeMs: Math.round((performance.now() - started) * 100) / 100,
  };
}

// ---------------------------------------------------------------------------
// CLI: commune-edge ioc-receiver
// ---------------------------------------------------------------------------

export const IOC_RECEIVER_USAGE = `commune-edge ioc-receiver — the reference receiver of the IOC feed (docs/ioc-feed.md)

Usage:
  commune-edge ioc-receiver [--host 127.0.0.1] [--port 8090] [--data-dir ./ioc-data]
                            [--credentials FILE.yaml] [--token-env CE_IOC_TOKEN] [--hmac-key-env CE_IOC_HMAC_KEY]
                            [--read-token-env VAR] [--max-body-bytes N] [--clock-skew-s N]
                            [--tls-cert FILE --tls-key FILE] [--synchronous FULL|NORMAL]

  Without --credentials: one token and HMAC key for every commune, from the two
  environment variables. A credentials file gives one per commune:
    communes:
      "26734": { tokenEnv: TA_LAI_TOKEN, hmacKeyEnv: TA_LAI_KEY }
  Feeds POST to http(s)://HOST:PORT/v1/messages.
`;

const CredentialsFile = z.strictObject({
  communes: z.record(
    z.string().regex(/^\d{5}$/),
    z.strictObject({ tokenEnv: z.string().min(1), hmacKeyEnv: z.string().min(1) }),
  ),
});

/** `commune-edge ioc-receiver ...`: runs until SIGTERM / SIGINT. */
export async function runIocReceiverCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8090' },
      'data-dir': { type: 'string', default: './ioc-data' },
      credentials: { type: 'string' },
      'token-env': { type: 'string', default: 'CE_IOC_TOKEN' },
      'hmac-key-env': { type: 'string', default: 'CE_IOC_HMAC_KEY' },
      'read-token-env': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'clock-skew-s': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      synchronous: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(IOC_RECEIVER_USAGE);
    return;
  }
  const fail = (msg: string): never => {
    console.error(`ioc-receiver: ${msg}`);
    process.exit(2);
  };
  const int = (v: string | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) fail(`${flag}: "${v}" is not a non-negative integer`);
    return n;
  };
  const env = (name: string): string => process.env[name] || fail(`environment variable ${name} is unset`);
  const opts: IocReceiverOptions = { host: values.host!, port: int(values.port, '--port')!, dataDir: values['data-dir']! };
  if (values.credentials) {
    let file: z.infer<typeof CredentialsFile>;
    try {
      file = CredentialsFile.parse(parseYaml(readFileSync(values.credentials, 'utf8')));
    } catch (err) {
      return fail(`${values.credentials}: ${(err as Error).message}`);
    }
    opts.communes = Object.fromEntries(Object.entries(file.communes).map(([code, c]) => [code, { token: env(c.tokenEnv), hmacKey: env(c.hmacKeyEnv) }]));
  } else {
    opts.shared = { token: env(values['token-env']!), hmacKey: env(values['hmac-key-env']!) };
  }
  if (values['read-token-env']) opts.readToken = env(values['read-token-env']);
  const maxBody = int(values['max-body-bytes'], '--max-body-bytes');
  if (maxBody !== undefined) opts.maxBodyBytes = maxBody;
  const skew = int(values['clock-skew-s'], '--clock-skew-s');
  if (skew !== undefined) opts.clockSkewS = skew;
  if (values.synchronous === 'NORMAL' || values.synchronous === 'FULL') opts.synchronous = values.synchronous;
  if (values['tls-cert'] || values['tls-key']) {
    if (!values['tls-cert'] || !values['tls-key']) fail('--tls-cert and --tls-key go together');
    opts.tls = { cert: readFileSync(values['tls-cert']!), key: readFileSync(values['tls-key']!) };
  }
  const log = createLogger(process.env['LOG_LEVEL'] ?? 'info').child({ part: 'ioc-receiver' });
  opts.logger = log;
  const receiver = await startIocReceiver(opts);
  // One parseable line: tests and scripts wait for it.
  console.log(`IOC receiver listening on ${receiver.url} (data in ${resolve(opts.dataDir)})`);
  let closing = false;
  const shutdown = () => {
    if (closing) process.exit(130);
    closing = true;
    receiver.close().then(
      () => process.exit(0),
      (err: Error) => {
        console.error(err.message);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
