/**
 * The local store: SQLite (better-sqlite3) on the Pi's SD card or SSD.
 *
 * Holds accepted readings (the spool later drained to InfluxDB), device state
 * transitions, the gateway's own runs and heartbeats, the last state of every
 * device, and recent rejected messages.
 *
 * Durability (README "What survives a power cut"):
 * - WAL journal. Every write goes through a *group commit*: callers enqueue rows
 *   and get their callback only after the transaction holding them has
 *   committed. The MQTT input acknowledges a QoS 1 PUBLISH (PUBACK, MQTT 3.1.1
 *   §4.3.2) from that callback, so an acknowledged reading is always on disk.
 * - `durability: power-safe` (default) sets `synchronous=FULL`: the WAL is
 *   fsync'ed at every commit, so a committed transaction survives a power cut
 *   as long as the medium honours fsync. `crash-safe` sets `synchronous=NORMAL`:
 *   it survives kill -9 and OS-level crashes of the process, but a power cut may
 *   roll back the transactions since the last checkpoint (SQLite docs, "WAL
 *   mode ... synchronous=NORMAL": durable across application crashes, not
 *   across power loss). Neither setting can corrupt the database.
 * - Batching (commitIntervalMs, commitMaxRows) is what keeps SD-card writes and
 *   fsyncs few: at 500 msgs/s and the default 50 ms window there are at most 20
 *   commits/s, each appending the new pages to the WAL.
 */
import Database from 'better-sqlite3';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DeviceState } from '../../devices/define.js';
import type { Reading } from '../reading.js';

export interface StoreOptions {
  path: string;
  maxBytes: number;
  commitIntervalMs: number;
  commitMaxRows: number;
  durability: 'power-safe' | 'crash-safe';
  rejectsKept: number;
  /** SQLite page cache (KiB); default 2048. */
  cacheKiB?: number;
  /** Called after eviction, with rows evicted per kind. */
  onEvict?: (perKind: Record<string, number>, freedBytes: number) => void;
  /** Called when a commit fails (the waiting callbacks receive the error too). */
  onCommitError?: (err: Error) => void;
}

export interface Transition {
  deviceId: string;
  ts: number;
  from: DeviceState | null;
  to: DeviceState;
  reason: string;
  runId: number;
}

export interface StoredDeviceState {
  deviceId: string;
  state: DeviceState;
  since: number;
  reason: string;
  lastSeen: number | null;
  lastReading: Reading | null;
}

export interface GatewayRun {
  runId: number;
  startedAt: number;
  lastBeatAt: number;
  stoppedAt: number | null;
  stopReason: string | null;
  version: string | null;
}

export interface Reject {
  ts: number;
  code: string;
  client: string | null;
  topic: string | null;
  detail: string;
}

type Done = (err: Error | null) => void;

const TS_SOURCES: Reading['tsSource'][] = ['device', 'gateway', 'restamped'];
const TS_SOURCE_CODE: Record<Reading['tsSource'], number> = { device: 0, gateway: 1, restamped: 2 };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS readings (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  ts INTEGER NOT NULL,
  ts_source INTEGER NOT NULL,      -- 0 device, 1 gateway, 2 restamped
  received_at INTEGER NOT NULL,
  quality INTEGER NOT NULL,        -- 0 good, 1 uncertain
  fields TEXT NOT NULL             -- JSON object of canonical fields
);
CREATE TABLE IF NOT EXISTS transitions (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL,
  run_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_device_ts ON transitions (device_id, ts);
CREATE TABLE IF NOT EXISTS gateway_runs (
  run_id INTEGER PRIMARY KEY,
  started_at INTEGER NOT NULL,
  last_beat_at INTEGER NOT NULL,
  stopped_at INTEGER,
  stop_reason TEXT,
  version TEXT
);
CREATE TABLE IF NOT EXISTS device_state (
  device_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  since INTEGER NOT NULL,
  reason TEXT NOT NULL,
  last_seen INTEGER,
  last_reading TEXT
);
CREATE TABLE IF NOT EXISTS rejects (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  code TEXT NOT NULL,
  client TEXT,
  topic TEXT,
  detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evictions (kind TEXT PRIMARY KEY, rows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS gateway_beats (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, ts INTEGER NOT NULL);
-- Per sink and stream: everything with id <= cursor is delivered. During a replay
-- after an outage, ids in (split, live_cursor] are delivered too (the live lane).
CREATE TABLE IF NOT EXISTS sink_cursors (
  sink_id TEXT NOT NULL,
  stream TEXT NOT NULL,
  cursor INTEGER NOT NULL,
  split INTEGER,
  live_cursor INTEGER,
  PRIMARY KEY (sink_id, stream)
);
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY,
  sink_id TEXT NOT NULL,
  stream TEXT NOT NULL,
  row_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  point TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evicted_undelivered (kind TEXT PRIMARY KEY, rows INTEGER NOT NULL);
`;

/** The spooled streams a sink drains, each in commit (id) order. */
export type Stream = 'readings' | 'transitions' | 'beats';
export const STREAMS: readonly Stream[] = ['readings', 'transitions', 'beats'];

export interface SinkCursor {
  cursor: number;
  split: number | null;
  liveCursor: number | null;
}

export interface SpoolRow {
  id: number;
  stream: Stream;
  /** For readings: the Reading; transitions: the Transition; beats: { runId, ts }. */
  reading?: Reading;
  transition?: Transition;
  beat?: { runId: number; ts: number };
  /** Gateway time the row was committed at (received_at / ts). */
  at: number;
}

export class Store {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly opts: StoreOptions;
  private readonly insertReading: Database.Statement;
  private readonly insertTransition: Database.Statement;
  private readonly insertReject: Database.Statement;
  private readonly upsertState: Database.Statement;
  private readonly beatStmt: Database.Statement;
  private readonly insertBeat: Database.Statement;
  private readonly upsertCursor: Database.Statement;
  private readonly commitTx: () => void;
  private readonly statements = new Map<string, Database.Statement>();

  private readings: Reading[] = [];
  private transitions: Transition[] = [];
  private rejects: Reject[] = [];
  private states = new Map<string, StoredDeviceState>();
  private beat: { runId: number; at: number } | null = null;
  private cursors = new Map<string, SinkCursor>();
  private waiting: Done[] = [];
  private timer: NodeJS.Timeout | null = null;
  private committing = false;
  private immediate = false;
  private closed = false;
  private lastSizeCheck = 0;
  private rejectsSinceTrim = 0;
  private readonly commitListeners: (() => void)[] = [];
  /** Lowest delivered id of readings over all sinks (eviction counts what goes undelivered). */
  private undeliveredFrom: () => number | null = () => null;

  /**
   * The SQLite handle, for modules that own tables of their own in the same file
   * (indicator rollups, the IOC outbox, the alert outbox). They create their tables
   * with IF NOT EXISTS, keep their writes batched (SD-card wear) and never touch
   * the tables above; everything stays in one file, one WAL, one backup.
   */
  get database(): Database.Database {
    return this.db;
  }

  /** Counters for metrics (cumulative since open). */
  readonly stats = { commits: 0, commitErrors: 0, lastCommitMs: 0 };

  constructor(opts: StoreOptions) {
    this.opts = opts;
    this.path = opts.path;
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    this.db = new Database(opts.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.durability === 'power-safe' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('busy_timeout = 5000');
    // better-sqlite3 compiles SQLite with a 16 MB page cache (SQLITE_DEFAULT_CACHE_SIZE
    // = -16000, its docs/compilation.md). The store is append-mostly: inserts touch
    // the rightmost pages, the sinks read rows just written, and anything older is
    // served by the OS page cache anyway. The full 16 MB was 14 MB of the gateway's
    // resident memory after five minutes of the realistic bench load (heaptrack).
    this.db.pragma(`cache_size = -${Math.floor(opts.cacheKiB ?? 2048)}`);
    // Keep freed pages for reuse instead of shrinking the file: the size stays
    // under maxBytes and the SD card is not rewritten by VACUUM.
    this.db.pragma('auto_vacuum = NONE');
    this.db.exec(SCHEMA);
    this.sql(`INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1')`).run();

    this.insertReading = this.sql(
      'INSERT INTO readings (device_id, kind, ts, ts_source, received_at, quality, fields) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertTransition = this.sql(
      'INSERT INTO transitions (device_id, ts, from_state, to_state, reason, run_id) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.insertReject = this.sql('INSERT INTO rejects (ts, code, client, topic, detail) VALUES (?, ?, ?, ?, ?)');
    this.upsertState = this.sql(
      `INSERT INTO device_state (device_id, state, since, reason, last_seen, last_reading) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET state = excluded.state, since = excluded.since, reason = excluded.reason,
         last_seen = excluded.last_seen, last_reading = excluded.last_reading`,
    );
    this.beatStmt = this.sql('UPDATE gateway_runs SET last_beat_at = ? WHERE run_id = ?');
    this.insertBeat = this.sql('INSERT INTO gateway_beats (run_id, ts) VALUES (?, ?)');
    this.upsertCursor = this.sql(
      `INSERT INTO sink_cursors (sink_id, stream, cursor, split, live_cursor) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (sink_id, stream) DO UPDATE SET cursor = excluded.cursor, split = excluded.split, live_cursor = excluded.live_cursor`,
    );
    this.commitTx = this.db.transaction(() => this.writePending());
  }

  /** Prepared once, reused (preparing costs more than running the small queries here). */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  // ---------------------------------------------------------------------------
  // Writes (group commit)
  // ---------------------------------------------------------------------------

  /** Queue a reading; `done` runs after the transaction holding it committed. */
  appendReading(reading: Reading, commitNow: boolean, done: Done): void {
    this.readings.push(reading);
    this.waiting.push(done);
    this.schedule(commitNow);
  }

  appendTransition(t: Transition): void {
    this.transitions.push(t);
    this.schedule();
  }

  appendReject(r: Reject): void {
    if (this.opts.rejectsKept === 0) return;
    this.rejects.push(r);
    this.schedule();
  }

  /** Latest known state of a device; coalesced, written with the next commit. */
  saveDeviceState(s: StoredDeviceState): void {
    this.states.set(s.deviceId, s);
    this.schedule();
  }

  recordBeat(runId: number, at: number): void {
    this.beat = { runId, at };
    this.schedule();
  }

  /** Commit everything queued now; resolves when it is on disk. */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pendingRows() === 0 && !this.committing) return resolve();
      this.waiting.push((err) => (err ? reject(err) : resolve()));
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.commit();
    });
  }

  private pendingRows(): number {
    return (
      this.readings.length + this.transitions.length + this.rejects.length + this.states.size + this.cursors.size + (this.beat ? 1 : 0)
    );
  }

  private schedule(now = false): void {
    if (this.closed) return;
    if (now || this.readings.length >= this.opts.commitMaxRows) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      if (!this.immediate) {
        this.immediate = true;
        setImmediate(() => {
          this.immediate = false;
          this.commit();
        });
      }
      return;
    }
    if (!this.timer) this.timer = setTimeout(() => this.commit(), this.opts.commitIntervalMs);
  }

  private writePending(): void {
    for (const r of this.readings) {
      this.insertReading.run(
        r.deviceId,
        r.kind,
        r.ts,
        TS_SOURCE_CODE[r.tsSource],
        r.receivedAt,
        r.quality === 'good' ? 0 : 1,
        JSON.stringify(r.fields),
      );
    }
    for (const t of this.transitions) this.insertTransition.run(t.deviceId, t.ts, t.from, t.to, t.reason, t.runId);
    for (const j of this.rejects) this.insertReject.run(j.ts, j.code, j.client, j.topic, j.detail.slice(0, 500));
    for (const s of this.states.values()) {
      this.upsertState.run(s.deviceId, s.state, s.since, s.reason, s.lastSeen, s.lastReading ? JSON.stringify(s.lastReading) : null);
    }
    if (this.beat) {
      this.beatStmt.run(this.beat.at, this.beat.runId);
      this.insertBeat.run(this.beat.runId, this.beat.at);
    }
    for (const [key, c] of this.cursors) {
      const [sinkId, stream] = key.split('\u0000') as [string, Stream];
      this.upsertCursor.run(sinkId, stream, c.cursor, c.split, c.liveCursor);
    }
  }

  private commit(): void {
    this.timer = null;
    if (this.committing) return;
    if (this.pendingRows() === 0) {
      this.release(this.waiting, null);
      this.waiting = [];
      return;
    }
    this.committing = true;
    const waiting = this.waiting;
    const rejectsAdded = this.rejects.length;
    const started = performance.now();
    let error: Error | null = null;
    try {
      this.commitTx();
      this.stats.commits++;
    } catch (err) {
      error = err as Error;
      this.stats.commitErrors++;
      this.opts.onCommitError?.(error);
    }
    // On failure the rows are dropped from the queue: their callers get the
    // error, so nothing was acknowledged and the publisher will send them again.
    this.readings = [];
    this.transitions = [];
    this.rejects = [];
    this.states = new Map();
    this.cursors = new Map();
    this.beat = null;
    this.waiting = [];
    this.stats.lastCommitMs = performance.now() - started;
    this.committing = false;
    this.release(waiting, error);
    if (!error) for (const l of this.commitListeners) l();
    if (!error) {
      this.rejectsSinceTrim += rejectsAdded;
      this.housekeeping();
    }
    if (this.pendingRows() > 0 || this.waiting.length > 0) this.schedule();
  }

  private release(waiting: Done[], err: Error | null): void {
    for (const done of waiting) {
      try {
        done(err);
      } catch {
        // a caller's exception must not break the commit loop
      }
    }
  }

  private housekeeping(): void {
    const now = Date.now();
    if (this.rejectsSinceTrim > 100) {
      this.rejectsSinceTrim = 0;
      this.sql('DELETE FROM rejects WHERE id <= (SELECT max(id) FROM rejects) - ?').run(this.opts.rejectsKept);
    }
    if (now - this.lastSizeCheck < 1000) return;
    this.lastSizeCheck = now;
    this.enforceCap();
  }

  /**
   * Oldest-first eviction of readings once the used size passes maxBytes, down
   * to 90 % of it. Transitions, runs and device states are kept: they are small
   * and the availability indicators are computed from them.
   */
  enforceCap(): void {
    const used = this.usedBytes();
    if (used <= this.opts.maxBytes) return;
    const readingsLeft = this.sql('SELECT 1 FROM readings LIMIT 1').get();
    if (!readingsLeft) return this.evictSmallStreams(used);
    const target = this.opts.maxBytes * 0.9;
    const span = this.sql('SELECT (SELECT min(id) FROM readings) AS lo, (SELECT max(id) FROM readings) AS hi').get() as { lo: number | null; hi: number | null };
    if (span.lo === null || span.hi === null) return;
    const rows = span.hi - span.lo + 1;
    const perRow = Math.max(1, used / rows);
    const toEvict = Math.min(rows, Math.ceil((used - target) / perRow));
    const cutoff = span.lo + toEvict - 1;
    const perKind: Record<string, number> = {};
    const evict = this.db.transaction(() => {
      for (const r of this.sql('SELECT kind, count(*) AS n FROM readings WHERE id <= ? GROUP BY kind').all(cutoff) as {
        kind: string;
        n: number;
      }[]) {
        perKind[r.kind] = r.n;
        this.db
          .prepare('INSERT INTO evictions (kind, rows) VALUES (?, ?) ON CONFLICT (kind) DO UPDATE SET rows = rows + excluded.rows')
          .run(r.kind, r.n);
      }
      const from = this.undeliveredFrom();
      if (from !== null && from < cutoff) {
        for (const r of this.db
          .prepare('SELECT kind, count(*) AS n FROM readings WHERE id > ? AND id <= ? GROUP BY kind')
          .all(from, cutoff) as { kind: string; n: number }[]) {
          this.db
            .prepare('INSERT INTO evicted_undelivered (kind, rows) VALUES (?, ?) ON CONFLICT (kind) DO UPDATE SET rows = rows + excluded.rows')
            .run(r.kind, r.n);
        }
      }
      this.sql('DELETE FROM readings WHERE id <= ?').run(cutoff);
    });
    evict();
    this.opts.onEvict?.(perKind, used - this.usedBytes());
  }

  /**
   * With no readings left, heartbeats go next, then transitions (the
   * availability history), oldest first, a tenth of each table at a time.
   */
  private evictSmallStreams(used: number): void {
    for (const [table, label] of [
      ['gateway_beats', '(heartbeats)'],
      ['transitions', '(transitions)'],
    ] as const) {
      const span = this.sql(`SELECT (SELECT min(id) FROM ${table}) AS lo, (SELECT max(id) FROM ${table}) AS hi`).get() as { lo: number | null; hi: number | null };
      if (span.lo === null || span.hi === null) continue;
      const n = Math.max(1, Math.ceil((span.hi - span.lo + 1) / 10));
      this.sql(`DELETE FROM ${table} WHERE id < ?`).run(span.lo + n);
      this.db
        .prepare('INSERT INTO evictions (kind, rows) VALUES (?, ?) ON CONFLICT (kind) DO UPDATE SET rows = rows + excluded.rows')
        .run(label, n);
      this.opts.onEvict?.({ [label]: n }, used - this.usedBytes());
      return;
    }
  }

  // ---------------------------------------------------------------------------
  // Spool for sinks
  // ---------------------------------------------------------------------------

  /** Called after every successful commit (sinks wake up for new rows). */
  onCommit(listener: () => void): void {
    this.commitListeners.push(listener);
  }

  setUndeliveredFrom(fn: () => number | null): void {
    this.undeliveredFrom = fn;
  }

  getCursor(sinkId: string, stream: Stream): SinkCursor {
    const pending = this.cursors.get(`${sinkId}\u0000${stream}`);
    if (pending) return { ...pending };
    const r = this.sql('SELECT cursor, split, live_cursor FROM sink_cursors WHERE sink_id = ? AND stream = ?').get(sinkId, stream) as
      | { cursor: number; split: number | null; live_cursor: number | null }
      | undefined;
    return r ? { cursor: r.cursor, split: r.split, liveCursor: r.live_cursor } : { cursor: 0, split: null, liveCursor: null };
  }

  /** Coalesced; written with the next group commit (a lost update only means an idempotent re-send). */
  saveCursor(sinkId: string, stream: Stream, c: SinkCursor): void {
    this.cursors.set(`${sinkId}\u0000${stream}`, { ...c });
    this.schedule();
  }

  maxId(stream: Stream): number {
    const table = STREAM_TABLE[stream];
    const r = this.sql(`SELECT max(id) AS hi FROM ${table}`).get() as { hi: number | null };
    return r.hi ?? 0;
  }

  /** Rows with afterId < id <= upTo, in id order. */
  spoolRows(stream: Stream, afterId: number, limit: number, upTo = Number.MAX_SAFE_INTEGER): SpoolRow[] {
    const table = STREAM_TABLE[stream];
    const rows = this.sql(`SELECT * FROM ${table} WHERE id > ? AND id <= ? ORDER BY id LIMIT ?`).all(afterId, upTo, limit);
    switch (stream) {
      case 'readings':
        return (rows as ReadingRow[]).map((r) => {
          const reading = readingFromRow(r);
          return { id: r.id, stream, reading, at: reading.receivedAt };
        });
      case 'transitions':
        return (rows as (TransitionRow & { id: number })[]).map((r) => ({ id: r.id, stream, transition: transitionFromRow(r), at: r.ts }));
      case 'beats':
        return (rows as { id: number; run_id: number; ts: number }[]).map((r) => ({ id: r.id, stream, beat: { runId: r.run_id, ts: r.ts }, at: r.ts }));
    }
  }

  /** Rows waiting after `cursor` (an id span: ids only grow) and the time the oldest was committed. */
  backlog(stream: Stream, cursor: number): { rows: number; oldestAt: number | null } {
    const table = STREAM_TABLE[stream];
    const hi = this.maxId(stream);
    if (hi <= cursor) return { rows: 0, oldestAt: null };
    const first = this.sql(`SELECT * FROM ${table} WHERE id > ? ORDER BY id LIMIT 1`).get(cursor) as
      | { id: number; received_at?: number; ts: number }
      | undefined;
    if (!first) return { rows: 0, oldestAt: null };
    return { rows: hi - first.id + 1, oldestAt: first.received_at ?? first.ts };
  }

  quarantinePoint(q: { sinkId: string; stream: Stream; rowId: number; ts: number; reason: string; point: string }): void {
    this.db
      .prepare('INSERT INTO quarantine (sink_id, stream, row_id, ts, reason, point) VALUES (?, ?, ?, ?, ?, ?)')
      .run(q.sinkId, q.stream, q.rowId, q.ts, q.reason.slice(0, 1000), q.point);
  }

  quarantined(sinkId: string, limit: number): { rowId: number; stream: Stream; ts: number; reason: string; point: string }[] {
    return (
      this.db
        .prepare('SELECT row_id, stream, ts, reason, point FROM quarantine WHERE sink_id = ? ORDER BY id DESC LIMIT ?')
        .all(sinkId, limit) as { row_id: number; stream: Stream; ts: number; reason: string; point: string }[]
    ).map((r) => ({ rowId: r.row_id, stream: r.stream, ts: r.ts, reason: r.reason, point: r.point }));
  }

  quarantineCount(sinkId: string): number {
    return (this.sql('SELECT count(*) AS n FROM quarantine WHERE sink_id = ?').get(sinkId) as { n: number }).n;
  }

  evictedUndelivered(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.sql('SELECT kind, rows FROM evicted_undelivered').all() as { kind: string; rows: number }[]) out[r.kind] = r.rows;
    return out;
  }

  // ---------------------------------------------------------------------------
  // Gateway runs (its own heartbeat: tells UNKNOWN time from DOWN time)
  // ---------------------------------------------------------------------------

  lastRun(): GatewayRun | null {
    const r = this.sql('SELECT * FROM gateway_runs ORDER BY run_id DESC LIMIT 1').get() as RunRow | undefined;
    return r ? runFromRow(r) : null;
  }

  startRun(at: number, version: string): number {
    const info = this.sql('INSERT INTO gateway_runs (started_at, last_beat_at, version) VALUES (?, ?, ?)').run(at, at, version);
    return Number(info.lastInsertRowid);
  }

  stopRun(runId: number, at: number, reason: string): void {
    this.sql('UPDATE gateway_runs SET stopped_at = ?, last_beat_at = ?, stop_reason = ? WHERE run_id = ?').run(at, at, reason, runId);
  }

  runs(): GatewayRun[] {
    return (this.sql('SELECT * FROM gateway_runs ORDER BY run_id').all() as RunRow[]).map(runFromRow);
  }

  // ---------------------------------------------------------------------------
  // Reads
  // ---------------------------------------------------------------------------

  deviceStates(): StoredDeviceState[] {
    const rows = this.sql('SELECT * FROM device_state').all() as {
      device_id: string;
      state: DeviceState;
      since: number;
      reason: string;
      last_seen: number | null;
      last_reading: string | null;
    }[];
    return rows.map((r) => ({
      deviceId: r.device_id,
      state: r.state,
      since: r.since,
      reason: r.reason,
      lastSeen: r.last_seen,
      lastReading: r.last_reading ? (JSON.parse(r.last_reading) as Reading) : null,
    }));
  }

  /** Newest first; includes transitions still waiting for the next group commit. */
  recentTransitions(deviceId: string, limit: number): Transition[] {
    const pending = this.transitions.filter((t) => t.deviceId === deviceId).reverse();
    const rows = this.db
      .prepare('SELECT * FROM transitions WHERE device_id = ? ORDER BY ts DESC, id DESC LIMIT ?')
      .all(deviceId, limit) as TransitionRow[];
    return [...pending, ...rows.map(transitionFromRow)].sort((a, b) => b.ts - a.ts).slice(0, limit);
  }

  /**
   * The latest moment the gateway is known to have been alive: its last heartbeat,
   * or a later committed reading (readings are in commit order, so the last row
   * is the newest: an O(1) look-up).
   */
  lastSignOfLife(run: GatewayRun): number {
    const r = this.sql('SELECT received_at FROM readings ORDER BY id DESC LIMIT 1').get() as { received_at: number } | undefined;
    return Math.max(run.lastBeatAt, r && r.received_at >= run.startedAt ? r.received_at : 0);
  }

  lastTransitionTs(): Map<string, number> {
    const rows = this.sql('SELECT device_id, max(ts) AS ts FROM transitions GROUP BY device_id').all() as {
      device_id: string;
      ts: number;
    }[];
    return new Map(rows.map((r) => [r.device_id, r.ts]));
  }

  recentRejects(limit: number): Reject[] {
    return this.sql('SELECT ts, code, client, topic, detail FROM rejects ORDER BY id DESC LIMIT ?').all(limit) as Reject[];
  }

  readingCount(): number {
    const r = this.sql('SELECT (SELECT min(id) FROM readings) AS lo, (SELECT max(id) FROM readings) AS hi').get() as { lo: number | null; hi: number | null };
    // ids only grow and eviction deletes from the head, so the span is the count
    return r.lo === null || r.hi === null ? 0 : r.hi - r.lo + 1;
  }

  evictionTotals(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.sql('SELECT kind, rows FROM evictions').all() as { kind: string; rows: number }[]) out[r.kind] = r.rows;
    return out;
  }

  /** Pages in use (excludes free pages kept for reuse). */
  usedBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /** Bytes on disk: database file plus WAL. */
  fileBytes(): number {
    if (this.path === ':memory:') return this.usedBytes();
    let total = 0;
    for (const f of [this.path, `${this.path}-wal`]) {
      try {
        total += statSync(f).size;
      } catch {
        // the WAL may not exist yet
      }
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.db.close();
  }
}

const STREAM_TABLE: Record<Stream, string> = { readings: 'readings', transitions: 'transitions', beats: 'gateway_beats' };

interface RunRow {
  run_id: number;
  started_at: number;
  last_beat_at: number;
  stopped_at: number | null;
  stop_reason: string | null;
  version: string | null;
}
function runFromRow(r: RunRow): GatewayRun {
  return {
    runId: r.run_id,
    startedAt: r.started_at,
    lastBeatAt: r.last_beat_at,
    stoppedAt: r.stopped_at,
    stopReason: r.stop_reason,
    version: r.version,
  };
}

interface TransitionRow {
  device_id: string;
  ts: number;
  from_state: DeviceState | null;
  to_state: DeviceState;
  reason: string;
  run_id: number;
}
function transitionFromRow(r: TransitionRow): Transition {
  return { deviceId: r.device_id, ts: r.ts, from: r.from_state, to: r.to_state, reason: r.reason, runId: r.run_id };
}

interface ReadingRow {
  id: number;
  device_id: string;
  kind: string;
  ts: number;
  ts_source: number;
  received_at: number;
  quality: number;
  fields: string;
}
function readingFromRow(r: ReadingRow): Reading & { id: number } {
  return {
    id: r.id,
    deviceId: r.device_id,
    kind: r.kind,
    ts: r.ts,
    tsSource: TS_SOURCES[r.ts_source] ?? 'gateway',
    receivedAt: r.received_at,
    quality: r.quality === 0 ? 'good' : 'uncertain',
    fields: JSON.parse(r.fields) as Reading['fields'],
  };
}
