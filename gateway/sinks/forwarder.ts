/**
 * Store-and-forward: drains the spool (readings, transitions, heartbeats in the
 * local store) into one sink, and never loses or blocks on a point.
 *
 * - Durable cursors per sink and stream (store.sink_cursors): a row is
 *   delivered when the sink said so; after a crash the rows after the cursor are
 *   sent again, and InfluxDB overwrites them (same measurement, tags, time).
 * - Batches by size (batchPoints) and age (batchAgeMs).
 * - Transport errors, timeouts, 429 and 5xx: the whole batch is retried after a
 *   jittered exponential backoff (retryMinMs .. retryMaxMs).
 * - A batch the server rejects as bad (4xx) is split in halves until the points
 *   that fail alone are found; those are quarantined with the server's reason
 *   (store.quarantine, counted) and the rest flows on.
 * - After an outage the backlog is replayed at replayPointsPerS while a live
 *   lane sends what arrives now, unpaced: the split point divides the two, and
 *   the lanes merge when the backlog is drained.
 */
import type { GatewayContext } from '../context.js';
import type { SinkSettings } from '../settings/schema.js';
import { STREAMS, type SinkCursor, type SpoolRow, type Stream } from '../store/store.js';
import type { Sink, SinkPoint, WriteResult } from './contract.js';
import type { PointMapper } from './points.js';

export interface SinkStatus {
  id: string;
  type: Sink['type'];
  connected: boolean;
  lastSuccessAt: number | null;
  lastError: string | null;
  backlogPoints: number;
  /** Rough: backlog rows × average stored row size. */
  backlogBytes: number;
  oldestBacklogAgeS: number | null;
  retries: number;
  quarantined: number;
  catchingUp: boolean;
  pointsWritten: number;
}

type Outcome = 'ok' | 'retry';

const SMALL_STREAMS: Stream[] = ['transitions', 'beats'];
/** Average stored size of a reading row (bytes), for the backlog-bytes estimate. */
const ROW_BYTES_ESTIMATE = 180;

export class Forwarder {
  readonly sink: Sink;
  private readonly ctx: GatewayContext;
  private readonly mapper: PointMapper;
  private readonly opts: SinkSettings['forwarding'];
  private stopping = false;
  private backingOff = false;
  private retryAfterMs = 0;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private failures = 0;
  private retries = 0;
  private connected = false;
  private lastSuccessAt: number | null = null;
  private lastError: string | null = null;
  private pointsWritten = 0;
  private tokens: number;
  private tokensAt = Date.now();

  constructor(ctx: GatewayContext, sink: Sink, settings: SinkSettings, mapper: PointMapper) {
    this.ctx = ctx;
    this.sink = sink;
    this.mapper = mapper;
    this.opts = settings.forwarding;
    this.tokens = this.opts.batchPoints;
  }

  start(): void {
    this.loop = this.run().catch((err: Error) => {
      this.ctx.log.error({ sink: this.sink.id, err: err.message }, 'forwarder stopped by an unexpected error');
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    await this.sink.close();
  }

  /** New rows were committed (does not cut a retry backoff short). */
  notify(): void {
    if (!this.backingOff) this.wake?.();
  }

  /** The lowest reading id not yet delivered (for eviction accounting). */
  readingsCursor(): number {
    return this.ctx.store.getCursor(this.sink.id, 'readings').cursor;
  }

  status(): SinkStatus {
    const store = this.ctx.store;
    let backlogPoints = 0;
    let oldest: number | null = null;
    let catchingUp = false;
    for (const stream of STREAMS) {
      const c = store.getCursor(this.sink.id, stream);
      const b = store.backlog(stream, c.cursor);
      let rows = b.rows;
      if (c.split !== null && c.liveCursor !== null) {
        catchingUp = true;
        rows -= Math.max(0, c.liveCursor - c.split); // the live lane is delivered
      }
      backlogPoints += Math.max(0, rows);
      if (b.oldestAt !== null) oldest = oldest === null ? b.oldestAt : Math.min(oldest, b.oldestAt);
    }
    return {
      id: this.sink.id,
      type: this.sink.type,
      connected: this.connected,
      lastSuccessAt: this.lastSuccessAt,
      lastError: this.lastError,
      backlogPoints,
      backlogBytes: backlogPoints * ROW_BYTES_ESTIMATE,
      oldestBacklogAgeS: oldest === null ? null : Math.max(0, Math.round((this.ctx.clock.now() - oldest) / 1000)),
      retries: this.retries,
      quarantined: store.quarantineCount(this.sink.id),
      catchingUp,
      pointsWritten: this.pointsWritten,
    };
  }

  private async run(): Promise<void> {
    await this.sink.open();
    while (!this.stopping) {
      let waitMs: number;
      try {
        waitMs = await this.cycle();
      } catch (err) {
        // A bug must not stop forwarding for good: log, back off, go on.
        this.ctx.log.error({ sink: this.sink.id, err: (err as Error).message }, 'forwarder cycle failed');
        waitMs = this.backoffMs();
      }
      if (waitMs > 0 && !this.stopping) await this.sleep(waitMs);
      this.backingOff = false;
    }
  }

  /** One pass over the streams; returns how long to wait before the next. */
  private async cycle(): Promise<number> {
    let progressed = false;
    for (const stream of SMALL_STREAMS) {
      const c = this.ctx.store.getCursor(this.sink.id, stream);
      const rows = this.ctx.store.spoolRows(stream, c.cursor, this.opts.batchPoints);
      if (rows.length === 0) continue;
      if ((await this.deliver(stream, rows)) === 'retry') return this.backoffMs();
      c.cursor = rows[rows.length - 1]!.id;
      this.ctx.store.saveCursor(this.sink.id, stream, c);
      progressed = true;
    }
    const r = await this.readingsCycle();
    if (r === 'retry') return this.backoffMs();
    if (r === 'progress' || progressed) return 0;
    return typeof r === 'number' ? r : this.opts.batchAgeMs || 1000;
  }

  /** 'progress' | 'retry' | 'idle' | ms to wait (a young partial batch, or pacing). */
  private async readingsCycle(): Promise<'progress' | 'retry' | 'idle' | number> {
    const store = this.ctx.store;
    const c: SinkCursor = store.getCursor(this.sink.id, 'readings');
    const maxId = store.maxId('readings');
    const batch = this.opts.batchPoints;

    if (c.split === null && this.failures === 0 && maxId - c.cursor > 2 * batch) {
      // A backlog (an outage, or a gateway that ran without its sink), and the
      // sink answers again: replay the backlog paced below, and start a live
      // lane for what arrives from now on. (While the sink is down the split
      // waits: everything spooled during the outage is backlog.)
      c.split = maxId;
      c.liveCursor = maxId;
      store.saveCursor(this.sink.id, 'readings', c);
      this.ctx.log.info({ sink: this.sink.id, backlog: maxId - c.cursor, paceS: this.opts.replayPointsPerS }, 'replaying backlog');
    }

    if (c.split !== null && c.liveCursor !== null) {
      let progressed = false;
      const live = store.spoolRows('readings', c.liveCursor, batch);
      if (live.length > 0) {
        if ((await this.deliver('readings', live)) === 'retry') return 'retry';
        c.liveCursor = live[live.length - 1]!.id;
        store.saveCursor(this.sink.id, 'readings', c);
        progressed = true;
      }
      // Whole batches only: waiting for a full batch's tokens keeps the pace
      // without thousands of tiny writes (a request costs InfluxDB far more
      // than a point).
      const want = Math.min(batch, c.split - c.cursor);
      const budget = this.takeTokens(want);
      if (budget === 0) return progressed ? 'progress' : this.tokenWaitMs(want);
      const backlog = store.spoolRows('readings', c.cursor, budget, c.split);
      if (backlog.length > 0) {
        if ((await this.deliver('readings', backlog)) === 'retry') return 'retry';
        c.cursor = backlog[backlog.length - 1]!.id;
        this.returnTokens(budget - backlog.length);
      } else {
        c.cursor = c.split; // rows evicted meanwhile
        this.returnTokens(budget);
      }
      if (c.cursor >= c.split) {
        this.ctx.log.info({ sink: this.sink.id }, 'backlog replayed; live and backlog lanes merged');
        c.cursor = c.liveCursor;
        c.split = null;
        c.liveCursor = null;
      }
      store.saveCursor(this.sink.id, 'readings', c);
      return 'progress';
    }

    const rows = store.spoolRows('readings', c.cursor, batch);
    if (rows.length === 0) return 'idle';
    const age = this.ctx.clock.now() - rows[0]!.at;
    if (rows.length < batch && age < this.opts.batchAgeMs && !this.stopping) return this.opts.batchAgeMs - age;
    if ((await this.deliver('readings', rows)) === 'retry') return 'retry';
    c.cursor = rows[rows.length - 1]!.id;
    store.saveCursor(this.sink.id, 'readings', c);
    return 'progress';
  }

  /** Write rows; find and quarantine the points the server rejects. */
  private async deliver(stream: Stream, rows: SpoolRow[]): Promise<Outcome> {
    const items: { row: SpoolRow; point: SinkPoint }[] = [];
    for (const row of rows) {
      const point = this.mapper.toPoint(row);
      if (point) items.push({ row, point });
    }
    if (items.length === 0) return 'ok';
    return this.settle(stream, items);
  }

  private async settle(stream: Stream, items: { row: SpoolRow; point: SinkPoint }[]): Promise<Outcome> {
    const m = this.ctx.metrics;
    const result = await this.writeWithTimeout(items.map((i) => i.point));
    if (result.kind === 'ok') {
      this.failures = 0;
      this.connected = true;
      this.lastSuccessAt = this.ctx.clock.now();
      this.pointsWritten += items.length;
      m.sinkPoints.inc({ sink: this.sink.id, stream }, items.length);
      return 'ok';
    }
    if (result.kind === 'retry') {
      this.retryAfterMs = result.retryAfterMs ?? 0;
      this.failures++;
      this.retries++;
      this.connected = false;
      this.lastError = result.reason;
      m.sinkFailures.inc({ sink: this.sink.id, kind: 'retry' });
      if (this.failures === 1 || this.failures % 20 === 0) {
        this.ctx.log.warn({ sink: this.sink.id, reason: result.reason, failures: this.failures }, 'sink write failed; will retry');
      }
      if (/database not found/i.test(result.reason)) await this.sink.open();
      return 'retry';
    }
    // Rejected as bad input: the server is up and answering.
    this.connected = true;
    m.sinkFailures.inc({ sink: this.sink.id, kind: 'rejected' });
    if (items.length === 1) {
      const { row, point } = items[0]!;
      this.ctx.store.quarantinePoint({
        sinkId: this.sink.id,
        stream,
        rowId: row.id,
        ts: this.ctx.clock.now(),
        reason: `${result.status ? `HTTP ${result.status}: ` : ''}${result.reason}`,
        point: JSON.stringify(point),
      });
      m.sinkQuarantined.inc({ sink: this.sink.id });
      this.lastError = result.reason;
      this.ctx.log.warn({ sink: this.sink.id, stream, rowId: row.id, measurement: point.measurement, reason: result.reason }, 'point quarantined');
      return 'ok';
    }
    // InfluxDB may have written the good points of a partial write; writing
    // them again is harmless (idempotent points).
    const half = Math.ceil(items.length / 2);
    if ((await this.settle(stream, items.slice(0, half))) === 'retry') return 'retry';
    return this.settle(stream, items.slice(half));
  }

  private async writeWithTimeout(points: SinkPoint[]): Promise<WriteResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<{ kind: 'retry'; reason: string }>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'retry', reason: `no answer within ${this.opts.timeoutMs} ms` }), this.opts.timeoutMs + 1000);
    });
    try {
      return await Promise.race([this.sink.write(points).catch((err: Error) => ({ kind: 'retry' as const, reason: err.message })), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Full jitter over a doubling cap (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
  private backoffMs(): number {
    this.backingOff = true;
    // A server that says when to come back (Retry-After on 429/503) is obeyed.
    const serverSays = this.retryAfterMs;
    this.retryAfterMs = 0;
    if (serverSays > 0) return Math.min(this.opts.retryMaxMs, serverSays);
    const cap = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** Math.min(Math.max(0, this.failures - 1), 20));
    return Math.round(this.opts.retryMinMs / 2 + Math.random() * (cap - this.opts.retryMinMs / 2));
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.opts.batchPoints, this.tokens + ((now - this.tokensAt) / 1000) * this.opts.replayPointsPerS);
    this.tokensAt = now;
  }

  /** All `want` tokens or none. */
  private takeTokens(want: number): number {
    this.refill();
    if (this.tokens < want) return 0;
    this.tokens -= want;
    return want;
  }

  private returnTokens(n: number): void {
    this.tokens += n;
  }

  private tokenWaitMs(want: number): number {
    this.refill();
    return Math.max(1, Math.ceil(((Math.max(1, want) - this.tokens) / this.opts.replayPointsPerS) * 1000));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }
}
