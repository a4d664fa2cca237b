/**
 * The IOC outbox: a durable FIFO of signed-at-send envelopes in the gateway's
 * own SQLite file (Store.database; its tables are ours alone, ioc_*).
 *
 * - Each enqueue is one small transaction: the sequence number is taken, the
 *   envelope is serialised (and gzipped) with it, and the row is written, all or
 *   nothing. The store runs `synchronous=FULL` in power-safe mode, so the
 *   message is on disk when enqueue() returns (SQLite WAL: a transaction is
 *   durable once its commit frame is fsync'ed).
 * - A message stays until the receiver answers 2xx (then it is deleted), or
 *   rejects it as invalid (then it moves to ioc_parked with the reason).
 * - Bounded by count and bytes. When full, the least valuable go first: status
 *   snapshots (a newer one says more), then events, then indicator reports
 *   superseded by a newer report of the same period, then the oldest reports —
 *   never a message more valuable than the one being added (that one is dropped
 *   instead). Every eviction is counted and reported to the caller.
 */
import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import type { MessageType } from './envelope.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ioc_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ioc_outbox (
  seq INTEGER PRIMARY KEY,            -- the envelope's seq: FIFO order
  message_id TEXT NOT NULL UNIQUE,    -- the envelope's messageId: the idempotency key
  type TEXT NOT NULL,                 -- indicators | status | event
  coalesce_key TEXT,                  -- indicators:<period id>: a newer row with the same key supersedes
  created_at INTEGER NOT NULL,        -- epoch ms
  bytes INTEGER NOT NULL,
  encoding TEXT NOT NULL,             -- identity | gzip (the body as sent on the wire)
  body BLOB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  last_attempt_at INTEGER
);
CREATE INDEX IF NOT EXISTS ioc_outbox_type ON ioc_outbox (type, seq);
CREATE INDEX IF NOT EXISTS ioc_outbox_key ON ioc_outbox (coalesce_key, seq);
CREATE TABLE IF NOT EXISTS ioc_parked (
  seq INTEGER PRIMARY KEY,
  message_id TEXT NOT NULL,
  type TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  parked_at INTEGER NOT NULL,
  http_status INTEGER NOT NULL,
  reason TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  encoding TEXT NOT NULL,
  body BLOB NOT NULL
);
`;

/** Eviction value: lower goes first. */
const VALUE: Record<MessageType, number> = { status: 0, event: 1, indicators: 2 };

export type Encoding = 'identity' | 'gzip';

export interface OutboxMessage {
  seq: number;
  messageId: string;
  type: MessageType;
  coalesceKey: string | null;
  createdAt: number;
  bytes: number;
  encoding: Encoding;
  body: Buffer;
  attempts: number;
  lastError: string | null;
  lastAttemptAt: number | null;
}

export interface ParkedMessage {
  seq: number;
  messageId: string;
  type: MessageType;
  createdAt: number;
  parkedAt: number;
  httpStatus: number;
  reason: string;
  attempts: number;
  bytes: number;
  encoding: Encoding;
  body: Buffer;
}

export interface Evicted {
  seq: number | null;
  type: MessageType;
  bytes: number;
  /** false: the message being added was dropped (nothing less valuable to evict). */
  existing: boolean;
}

export interface EnqueueResult {
  /** null when the new message itself was dropped. */
  seq: number | null;
  messageId: string;
  bytes: number;
  evicted: Evicted[];
}

export interface OutboxLimits {
  maxMessages: number;
  maxBytes: number;
  maxParked: number;
}

export interface OutboxStats {
  messages: number;
  bytes: number;
  byType: Record<MessageType, number>;
  oldestCreatedAt: number | null;
  parked: number;
}

interface Row {
  seq: number;
  message_id: string;
  type: MessageType;
  coalesce_key: string | null;
  created_at: number;
  bytes: number;
  encoding: Encoding;
  body: Buffer;
  attempts: number;
  last_error: string | null;
  last_attempt_at: number | null;
}

class Dropped extends Error {}

export class Outbox {
  private readonly db: Database.Database;
  private readonly limits: OutboxLimits;
  private count = 0;
  private totalBytes = 0;
  private readonly byType: Record<MessageType, number> = { indicators: 0, status: 0, event: 0 };
  /** The message being POSTed: never evicted under the delivery loop's feet. */
  private inFlight: number | null = null;
  private readonly stmts: ReturnType<Outbox['prepare']>;

  constructor(db: Database.Database, limits: OutboxLimits) {
    this.db = db;
    this.limits = limits;
    db.exec(SCHEMA);
    db.prepare(`INSERT OR IGNORE INTO ioc_meta (key, value) VALUES ('last_seq', '0')`).run();
    this.stmts = this.prepare();
    this.recount();
  }

  /** Counters from the table (at open, and after a failed outer transaction). */
  recount(): void {
    this.count = 0;
    this.totalBytes = 0;
    this.byType.indicators = this.byType.status = this.byType.event = 0;
    for (const r of this.db.prepare('SELECT type, COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM ioc_outbox GROUP BY type').all() as {
      type: MessageType;
      n: number;
      b: number;
    }[]) {
      this.byType[r.type] = r.n;
      this.count += r.n;
      this.totalBytes += r.b;
    }
  }

  private prepare() {
    const db = this.db;
    return {
      nextSeq: db.prepare(`UPDATE ioc_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'last_seq' RETURNING CAST(value AS INTEGER) AS seq`),
      insert: db.prepare(
        `INSERT INTO ioc_outbox (seq, message_id, type, coalesce_key, created_at, bytes, encoding, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      head: db.prepare('SELECT * FROM ioc_outbox ORDER BY seq LIMIT 1'),
      peek: db.prepare('SELECT seq, type, attempts, created_at FROM ioc_outbox ORDER BY seq LIMIT 1'),
      oldest: db.prepare('SELECT created_at FROM ioc_outbox ORDER BY seq LIMIT 1').pluck(),
      remove: db.prepare('DELETE FROM ioc_outbox WHERE seq = ? RETURNING type, bytes'),
      failed: db.prepare('UPDATE ioc_outbox SET attempts = attempts + 1, last_error = ?, last_attempt_at = ? WHERE seq = ?'),
      // Candidates of one value class, oldest first (an index scan on (type, seq)).
      candidates: db.prepare('SELECT seq, type, bytes FROM ioc_outbox WHERE type = ? AND seq IS NOT ? ORDER BY seq LIMIT 64'),
      // Indicator reports: those superseded by a newer report of the same period
      // (or by the one being added) first, then the oldest.
      reportCandidates: db.prepare(
        `SELECT o.seq, o.type, o.bytes FROM ioc_outbox o WHERE o.type = 'indicators' AND o.seq IS NOT ?
         ORDER BY (o.coalesce_key IS NOT NULL AND (o.coalesce_key = ? OR EXISTS (
           SELECT 1 FROM ioc_outbox n WHERE n.coalesce_key = o.coalesce_key AND n.seq > o.seq))) DESC, o.seq LIMIT 64`,
      ),
      park: db.prepare(
        `INSERT OR REPLACE INTO ioc_parked (seq, message_id, type, created_at, parked_at, http_status, reason, attempts, bytes, encoding, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      trimParked: db.prepare('DELETE FROM ioc_parked WHERE seq NOT IN (SELECT seq FROM ioc_parked ORDER BY seq DESC LIMIT ?)'),
      parked: db.prepare('SELECT * FROM ioc_parked ORDER BY seq DESC LIMIT ?'),
      parkedCount: db.prepare('SELECT COUNT(*) FROM ioc_parked').pluck(),
      getMeta: db.prepare('SELECT value FROM ioc_meta WHERE key = ?').pluck(),
      setMeta: db.prepare('INSERT INTO ioc_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  /**
   * Add a message; `build(seq, messageId)` serialises the envelope with its
   * sequence number. One transaction (with `meta` written in it too): durable on
   * return. Evicts less valuable messages when the outbox is full.
   */
  enqueue(
    type: MessageType,
    build: (seq: number, messageId: string) => { body: Buffer; encoding: Encoding },
    opts: { coalesceKey?: string | null; now: number; meta?: [string, string][] },
  ): EnqueueResult {
    const messageId = randomUUID();
    const evicted: Evicted[] = [];
    let bytes = 0;
    const tx = this.db.transaction((): number => {
      const seq = (this.stmts.nextSeq.get() as { seq: number }).seq;
      const { body, encoding } = build(seq, messageId);
      bytes = body.length;
      this.makeRoom(type, bytes, opts.coalesceKey ?? null, evicted);
      this.stmts.insert.run(seq, messageId, type, opts.coalesceKey ?? null, opts.now, bytes, encoding, body);
      for (const [k, v] of opts.meta ?? []) this.stmts.setMeta.run(k, v);
      return seq;
    });
    try {
      const seq = tx();
      this.account(type, bytes, +1);
      for (const e of evicted) this.account(e.type, e.bytes, -1);
      return { seq, messageId, bytes, evicted };
    } catch (err) {
      if (!(err instanceof Dropped)) throw err;
      // Rolled back (seq not consumed): only the meta of the caller is kept, so a
      // schedule does not retry the same dropped report in a loop.
      if (opts.meta?.length) this.db.transaction(() => opts.meta!.forEach(([k, v]) => this.stmts.setMeta.run(k, v)))();
      return { seq: null, messageId, bytes, evicted: [{ seq: null, type, bytes, existing: false }] };
    }
  }

  /** Delete candidates (inside the enqueue transaction) until `bytes` more fit; throws Dropped when they cannot. */
  private makeRoom(type: MessageType, bytes: number, coalesceKey: string | null, evicted: Evicted[]): void {
    let count = this.count;
    let total = this.totalBytes;
    const fits = () => count + 1 <= this.limits.maxMessages && total + bytes <= this.limits.maxBytes;
    if (bytes > this.limits.maxBytes) throw new Dropped();
    const classes = (Object.keys(VALUE) as MessageType[]).filter((t) => VALUE[t] <= VALUE[type]).sort((a, b) => VALUE[a] - VALUE[b]);
    for (const cls of classes) {
      while (!fits()) {
        const rows = (
          cls === 'indicators' ? this.stmts.reportCandidates.all(this.inFlight, cls === type ? coalesceKey : null) : this.stmts.candidates.all(cls, this.inFlight)
        ) as { seq: number; type: MessageType; bytes: number }[];
        if (!rows.length) break;
        for (const r of rows) {
          if (fits()) break;
          this.stmts.remove.get(r.seq);
          count--;
          total -= r.bytes;
          evicted.push({ seq: r.seq, type: r.type, bytes: r.bytes, existing: true });
        }
      }
      if (fits()) return;
    }
    if (!fits()) throw new Dropped();
  }

  private account(type: MessageType, bytes: number, sign: 1 | -1): void {
    this.count += sign;
    this.totalBytes += sign * bytes;
    this.byType[type] += sign;
  }

  /** The oldest message (lowest seq), marked in flight until delivered/failed/parked. */
  head(): OutboxMessage | null {
    const r = this.stmts.head.get() as Row | undefined;
    if (!r) {
      this.inFlight = null;
      return null;
    }
    this.inFlight = r.seq;
    return toMessage(r);
  }

  /** The head's seq, type, attempts and age, without its body (status pages). */
  peek(): { seq: number; type: MessageType; attempts: number; createdAt: number } | null {
    const r = this.stmts.peek.get() as { seq: number; type: MessageType; attempts: number; created_at: number } | undefined;
    return r ? { seq: r.seq, type: r.type, attempts: r.attempts, createdAt: r.created_at } : null;
  }

  /** The receiver answered 2xx: the message leaves the outbox. */
  delivered(seq: number, now: number): void {
    this.db.transaction(() => {
      const r = this.stmts.remove.get(seq) as { type: MessageType; bytes: number } | undefined;
      if (r) this.account(r.type, r.bytes, -1);
      this.stmts.setMeta.run('last_success_at', String(now));
    })();
    this.inFlight = null;
  }

  /** A retryable failure: counted on the row (visible in the API), the message stays at the head. */
  failed(seq: number, error: string, now: number): void {
    this.stmts.failed.run(error.slice(0, 1000), now, seq);
  }

  /** The receiver rejected the message as invalid: set it aside with the reason; delivery moves on. */
  park(msg: OutboxMessage, httpStatus: number, reason: string, now: number): void {
    this.db.transaction(() => {
      this.stmts.park.run(msg.seq, msg.messageId, msg.type, msg.createdAt, now, httpStatus, reason.slice(0, 2000), msg.attempts + 1, msg.bytes, msg.encoding, msg.body);
      const r = this.stmts.remove.get(msg.seq) as { type: MessageType; bytes: number } | undefined;
      if (r) this.account(r.type, r.bytes, -1);
      this.stmts.trimParked.run(this.limits.maxParked);
    })();
    this.inFlight = null;
  }

  parked(limit: number): ParkedMessage[] {
    return (this.stmts.parked.all(limit) as Record<string, unknown>[]).map((r) => ({
      seq: r['seq'] as number,
      messageId: r['message_id'] as string,
      type: r['type'] as MessageType,
      createdAt: r['created_at'] as number,
      parkedAt: r['parked_at'] as number,
      httpStatus: r['http_status'] as number,
      reason: r['reason'] as string,
      attempts: r['attempts'] as number,
      bytes: r['bytes'] as number,
      encoding: r['encoding'] as Encoding,
      body: r['body'] as Buffer,
    }));
  }

  stats(): OutboxStats {
    return {
      messages: this.count,
      bytes: this.totalBytes,
      byType: { ...this.byType },
      oldestCreatedAt: (this.stmts.oldest.get() as number | undefined) ?? null,
      parked: this.stmts.parkedCount.get() as number,
    };
  }

  getMeta(key: string): string | null {
    return (this.stmts.getMeta.get(key) as string | undefined) ?? null;
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  /** Every queued message in order (tests and tools; the loop uses head()). */
  all(): OutboxMessage[] {
    return (this.db.prepare('SELECT * FROM ioc_outbox ORDER BY seq').all() as Row[]).map(toMessage);
  }
}

function toMessage(r: Row): OutboxMessage {
  return {
    seq: r.seq,
    messageId: r.message_id,
    type: r.type,
    coalesceKey: r.coalesce_key,
    createdAt: r.created_at,
    bytes: r.bytes,
    encoding: r.encoding,
    body: r.body,
    attempts: r.attempts,
    lastError: r.last_error,
    lastAttemptAt: r.last_attempt_at,
  };
}
