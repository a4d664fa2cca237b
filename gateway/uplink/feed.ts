/**
 * The province IOC feed (docs/ioc-feed.md): produces envelopes into the durable
 * outbox (outbox.ts) and delivers them, one at a time and in seq order, to the
 * receiver over HTTPS (http.ts), signed (signature.ts).
 *
 * Producer
 * - events: every device state change the health tracker emits (except the
 *   gateway's own UNKNOWN bookkeeping: `gateway-*` reasons), batched per turn of
 *   the event loop into one transaction (a power cut in a hamlet takes dozens of
 *   devices down in one health tick: one fsync, not dozens);
 * - status snapshots: at start, every `statusIntervalS`, and `statusDebounceS`
 *   after a change (changes within that window coalesce into one snapshot);
 * - indicator reports: the current period of each `indicatorPeriods` kind every
 *   `indicatorsIntervalS`, and a closed period once, final, after its boundary
 *   (also after a restart across the boundary). The engine is injected
 *   (`computeReport`), so this module does not depend on it.
 *
 * Delivery: strict FIFO by seq; a retryable failure keeps the head and waits a
 * jittered backoff; a rejection parks the head and goes on at once. The loop
 * survives restarts because the outbox is the only state it needs.
 *
 * Clocks: `clock` (default ctx.clock) drives the schedule and `generatedAt`;
 * tests inject a simulated one to run a day in seconds. Signatures use
 * ctx.clock: the receiver checks their timestamps against its real clock.
 */
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock, GatewayContext, Source, SourceStatus } from '../context.js';
import type { ErrorCode } from '../errors.js';
import type { IndicatorReport } from '../indicators/types.js';
import type { Transition } from '../store/store.js';
import { buildEnvelope, indicatorsBody, type BodyOf, type EnvelopeHeader, type EventBody, type MessageType, type StatusBody } from './envelope.js';
import { backoffDelay, IocHttpClient, type PostResult } from './http.js';
import { IocMqttUplink, type MqttUplinkStatus } from './mqtt.js';
import { Outbox, type Encoding, type EnqueueResult, type OutboxMessage, type ParkedMessage } from './outbox.js';
import type { FeedPeriodKind, IocSettings } from './settings.js';
import { isoWithOffset, periodIdAt } from './time.js';

export type ComputeReport = (periodId: string) => IndicatorReport | Promise<IndicatorReport>;

export interface IocFeedOptions {
  settings: IocSettings;
  /** The indicators engine (wired by the gateway); without it no indicator reports are sent. */
  computeReport?: ComputeReport;
  /** Schedule and generatedAt clock; default ctx.clock. */
  clock?: Clock;
  /** Run the schedule timer (default true); tests call tick() themselves. */
  timers?: boolean;
  /** Where the secrets are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Jitter source (tests). */
  random?: () => number;
}

/** Bodies over this size are gzipped when `ioc.gzip` (smaller ones gain nothing). */
const GZIP_MIN_BYTES = 1024;

export interface IocOutboxStatus {
  url: string;
  feedId: string;
  connected: boolean;
  depth: number;
  bytes: number;
  byType: Record<MessageType, number>;
  oldestAgeS: number | null;
  lastSeq: number;
  lastSuccessAt: number | null;
  lastAttemptAt: number | null;
  lastError: string | null;
  lastErrorCode: ErrorCode | null;
  lastErrorAt: number | null;
  consecutiveFailures: number;
  nextAttemptAt: number | null;
  head: { seq: number; type: MessageType; attempts: number; createdAt: number } | null;
  parked: number;
  sinceStart: { enqueued: number; delivered: number; parked: number; evicted: number; retries: number };
  mqtt: MqttUplinkStatus | null;
}

interface FeedMetrics {
  messages: Counter<'type' | 'result'>;
  failures: Counter<'code'>;
  parked: Counter<'type'>;
  indicatorFailures: Counter;
  deliverySeconds: Histogram;
  lastSuccess: Gauge;
  mqttConnected: Gauge;
  mqttPublished: Counter;
}

type Job = { periodId: string; kind: FeedPeriodKind; final: boolean; meta: [string, string][] };

export class IocFeed implements Source {
  readonly name = 'ioc-feed';
  private readonly settings: IocSettings;
  private readonly computeReport: ComputeReport | undefined;
  private readonly opts: IocFeedOptions;
  private readonly random: () => number;
  private ctx!: GatewayContext;
  private clock!: Clock;
  private outbox!: Outbox;
  private client: IocHttpClient | null = null;
  private mqtt: IocMqttUplink | null = null;
  private m!: FeedMetrics;
  private feedId = '';
  private header!: Omit<EnvelopeHeader, 'messageId' | 'seq' | 'generatedAt'>;
  private started = false;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private backingOff = false;
  private abort: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;
  private configError: string | null = null;
  // delivery state
  private connected = false;
  private failures = 0;
  private lastAttemptAt: number | null = null;
  private lastError: string | null = null;
  private lastErrorCode: ErrorCode | null = null;
  private lastErrorAt: number | null = null;
  private nextAttemptAt: number | null = null;
  private lastFailureLogAt = 0;
  private lastEvictLogAt = -Infinity;
  private evictedUnlogged: Record<string, number> = {};
  private readonly counts = { enqueued: 0, delivered: 0, parked: 0, evicted: 0, retries: 0 };
  // producer state
  private lastStatusAt = -Infinity;
  private statusDirtyAt: number | null = null;
  private pendingEvents: Transition[] = [];
  private eventFlush: NodeJS.Immediate | null = null;
  private computing: Promise<void> | null = null;
  /** The indicator schedule (period:<kind>, indicators_at), mirrored from ioc_meta: tick() reads it every second. */
  private readonly schedule = new Map<string, string | null>();
  private readonly onTransition = (t: Transition) => this.transition(t);

  constructor(opts: IocFeedOptions) {
    this.opts = opts;
    this.settings = opts.settings;
    this.computeReport = opts.computeReport;
    this.random = opts.random ?? Math.random;
  }

  async start(ctx: GatewayContext): Promise<void> {
    if (this.started) return;
    this.ctx = ctx;
    this.clock = this.opts.clock ?? ctx.clock;
    const s = this.settings;
    this.outbox = new Outbox(ctx.store.database, { maxMessages: s.maxOutboxMessages, maxBytes: s.maxOutboxBytes, maxParked: s.maxParkedMessages });
    this.feedId = s.feedId ?? this.outbox.getMeta('feed_id') ?? randomUUID();
    if (this.outbox.getMeta('feed_id') !== this.feedId) this.outbox.setMeta('feed_id', this.feedId);
    const { commune, gateway } = ctx.settings;
    this.header = {
      feedId: this.feedId,
      gatewayId: gateway.id,
      commune: { code: commune.code, name: commune.name, province: { code: commune.province.code, name: commune.province.name } },
    };
    this.m = this.createMetrics(ctx.metrics.registry);
    const last = this.outbox.getMeta('last_success_at');
    if (last !== null) this.m.lastSuccess.set(Number(last) / 1000);
    this.client = this.createClient();
    this.started = true;

    ctx.health.on('transition', this.onTransition);
    if (s.mqtt) {
      this.mqtt = new IocMqttUplink(s.mqtt, {
        onConnected: (c) => this.m.mqttConnected.set(c ? 1 : 0),
        onPublished: () => this.m.mqttPublished.inc(),
        env: this.opts.env ?? process.env,
      });
      await this.mqtt.start(ctx);
    }
    const st = this.outbox.stats();
    ctx.log.info(
      { url: this.client?.target ?? s.url, feedId: this.feedId, backlog: st.messages, parked: st.parked },
      st.messages ? 'IOC feed started; resuming the outbox' : 'IOC feed started',
    );
    this.safely('start snapshot', () => this.enqueueStatus('start'));
    if (this.client) {
      this.loop = this.run().catch((err: Error) => ctx.log.error({ err: err.message }, 'IOC delivery loop stopped by an unexpected error'));
    }
    if (this.opts.timers !== false) {
      const tickMs = Math.min(1000, Math.max(100, (s.statusDebounceS * 1000) / 2));
      this.timer = setInterval(() => this.tick(), tickMs);
      this.tick();
    }
  }

  /** Reads the secrets and TLS files; null (with configError set) when the feed cannot send. */
  private createClient(): IocHttpClient | null {
    const s = this.settings;
    const env = this.opts.env ?? process.env;
    try {
      const token = env[s.tokenEnv];
      const hmacKey = env[s.hmacKeyEnv];
      if (!token) throw new Error(`environment variable ${s.tokenEnv} (ioc.tokenEnv) is unset or empty`);
      if (!hmacKey) throw new Error(`environment variable ${s.hmacKeyEnv} (ioc.hmacKeyEnv) is unset or empty`);
      return new IocHttpClient({
        url: s.url,
        token,
        hmacKey,
        timeoutMs: s.timeoutMs,
        rejectUnauthorized: s.rejectUnauthorized,
        userAgent: `commune-edge/${this.ctx.version} (${this.ctx.settings.commune.code}; ${this.ctx.settings.gateway.id})`,
        ...(s.caFile ? { ca: readFileSync(s.caFile) } : {}),
        ...(s.certFile ? { cert: readFileSync(s.certFile) } : {}),
        ...(s.keyFile ? { key: readFileSync(s.keyFile) } : {}),
      });
    } catch (err) {
      this.configError = (err as Error).message;
      this.lastError = this.configError;
      this.lastErrorCode = 'CE_IOC_CONFIG';
      this.lastErrorAt = this.ctx.clock.now();
      this.ctx.log.error({ code: 'CE_IOC_CONFIG', err: this.configError }, 'IOC feed cannot send; messages are kept in the outbox');
      return null;
    }
  }

  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.ctx.health.off('transition', this.onTransition);
    if (this.eventFlush) clearImmediate(this.eventFlush);
    this.flushEvents();
    this.abort?.abort();
    this.wake?.();
    await this.loop;
    await this.computing?.catch(() => undefined);
    await this.mqtt?.stop();
    this.client?.close();
  }

  status(): SourceStatus {
    if (!this.started) return { name: this.name, connected: false, detail: 'not started' };
    const st = this.outbox.stats();
    const detail = this.configError
      ? `CE_IOC_CONFIG: ${this.configError}`
      : `outbox ${st.messages}, parked ${st.parked}${this.lastError && !this.connected ? `, last error: ${this.lastError}` : ''}`;
    return { name: this.name, connected: this.connected, detail };
  }

  outboxStatus(): IocOutboxStatus {
    const st = this.outbox.stats();
    const now = this.ctx.clock.now();
    const head = this.outbox.peek();
    const last = this.outbox.getMeta('last_success_at');
    return {
      url: this.client?.target ?? this.settings.url.replace(/\/\/[^@/]*@/, '//***@'),
      feedId: this.feedId,
      connected: this.connected,
      depth: st.messages,
      bytes: st.bytes,
      byType: st.byType,
      oldestAgeS: st.oldestCreatedAt === null ? null : Math.max(0, Math.round((now - st.oldestCreatedAt) / 1000)),
      lastSeq: Number(this.outbox.getMeta('last_seq') ?? 0),
      lastSuccessAt: last === null ? null : Number(last),
      lastAttemptAt: this.lastAttemptAt,
      lastError: this.lastError,
      lastErrorCode: this.lastErrorCode,
      lastErrorAt: this.lastErrorAt,
      consecutiveFailures: this.failures,
      nextAttemptAt: this.nextAttemptAt,
      head: head ? { seq: head.seq, type: head.type, attempts: head.attempts, createdAt: head.createdAt } : null,
      parked: st.parked,
      sinceStart: { ...this.counts },
      mqtt: this.mqtt?.status() ?? null,
    };
  }

  parked(limit: number): ParkedMessage[] {
    return this.outbox.parked(limit);
  }

  /** The outbox itself (tests and tools). */
  get queue(): Outbox {
    return this.outbox;
  }

  // -------------------------------------------------------------------------
  // Producer
  // -------------------------------------------------------------------------

  /** The schedule: status snapshots and indicator reports that are due at `clock.now()`. */
  tick(): void {
    if (!this.started || this.stopping) return;
    const now = this.clock.now();
    const s = this.settings;
    this.safely('status snapshot', () => {
      if (this.statusDirtyAt !== null && now - this.statusDirtyAt >= s.statusDebounceS * 1000) this.enqueueStatus('change');
      else if (now - this.lastStatusAt >= s.statusIntervalS * 1000) this.enqueueStatus('periodic');
    });
    if (this.computeReport && !this.computing) {
      const jobs = this.dueReports(now);
      if (jobs.length) {
        this.computing = this.runReports(jobs)
          .catch((err: Error) => this.ctx.log.error({ code: 'CE_STORE_WRITE', err: err.message }, 'IOC indicator reports could not be stored'))
          .finally(() => {
            this.computing = null;
          });
      }
    }
  }

  /**
   * A producer step that writes to the store: a disk error (SQLITE_FULL, I/O) is
   * logged and the next tick tries again; it never escapes into a timer callback.
   */
  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.outbox.recount();
      this.ctx.log.error({ code: 'CE_STORE_WRITE', what, err: (err as Error).message }, 'IOC feed could not store a message');
    }
  }

  /** Resolves when the indicator reports started by tick() are enqueued (tests). */
  async reportsSettled(): Promise<void> {
    await this.computing;
  }

  private dueReports(now: number): Job[] {
    const s = this.settings;
    const tz = this.ctx.settings.commune.timezone;
    const jobs: Job[] = [];
    const lastRun = Number(this.scheduled('indicators_at') ?? -Infinity);
    const intervalDue = now - lastRun >= s.indicatorsIntervalS * 1000;
    for (const kind of s.indicatorPeriods) {
      const current = periodIdAt(now, kind, tz);
      const seen = this.scheduled(`period:${kind}`);
      // A boundary passed since the last report of this kind: the closed period, once, final.
      if (seen !== null && seen !== current) jobs.push({ periodId: seen, kind, final: true, meta: [[`period:${kind}`, current]] });
      if (intervalDue) jobs.push({ periodId: current, kind, final: false, meta: [[`period:${kind}`, current], ['indicators_at', String(now)]] });
    }
    return jobs;
  }

  private scheduled(key: string): string | null {
    if (!this.schedule.has(key)) this.schedule.set(key, this.outbox.getMeta(key));
    return this.schedule.get(key)!;
  }

  private async runReports(jobs: Job[]): Promise<void> {
    for (const job of jobs) {
      if (this.stopping) return;
      try {
        const report = await this.computeReport!(job.periodId);
        if (this.stopping) return;
        // The schedule is written in the same transaction as the report (exactly once across a crash).
        this.enqueue('indicators', indicatorsBody(report), { coalesceKey: `indicators:${report.period.id}`, meta: job.meta });
        for (const [k, v] of job.meta) this.schedule.set(k, v);
      } catch (err) {
        this.m.indicatorFailures.inc();
        // Still mark the schedule, or a failing period would be recomputed every tick.
        for (const [k, v] of job.meta) {
          this.outbox.setMeta(k, v);
          this.schedule.set(k, v);
        }
        this.ctx.log.error({ code: 'CE_IOC_INDICATORS_FAILED', period: job.periodId, final: job.final, err: (err as Error).message }, 'indicator report for the IOC feed failed');
      }
    }
  }

  /** A full device-status snapshot, now. */
  enqueueStatus(trigger: StatusBody['trigger']): EnqueueResult | null {
    if (!this.started) return null;
    const now = this.clock.now();
    this.lastStatusAt = now;
    this.statusDirtyAt = null;
    const tz = this.ctx.settings.commune.timezone;
    const devices: StatusBody['devices'] = [];
    for (const d of this.ctx.inventory.devices.values()) {
      const st = this.ctx.health.get(d.id);
      devices.push({
        id: d.id,
        name: d.name,
        kind: d.kind.id,
        role: d.role ?? null,
        hamlet: d.hamlet,
        state: st?.state ?? 'UNKNOWN',
        since: isoWithOffset(st?.since ?? now, tz),
        reason: st?.reason ?? 'never-seen',
        lastSeen: st?.lastSeen ? isoWithOffset(st.lastSeen, tz) : null,
      });
    }
    const body: StatusBody = {
      trigger,
      total: devices.length,
      counts: this.ctx.health.countsByState(),
      hamlets: this.ctx.settings.hamlets.map((h) => ({ id: h.id, name: h.name })),
      devices,
    };
    return this.enqueue('status', body, { coalesceKey: null });
  }

  /** Indicator report of one period, now (tools and tests; the schedule uses tick()). */
  async enqueueIndicators(periodId: string): Promise<EnqueueResult | null> {
    if (!this.computeReport) return null;
    const report = await this.computeReport(periodId);
    return this.enqueue('indicators', indicatorsBody(report), { coalesceKey: `indicators:${report.period.id}` });
  }

  private transition(t: Transition): void {
    if (this.stopping) return;
    // The gateway's own start/stop bookkeeping is not a device event.
    if (t.to === 'UNKNOWN' && t.reason.startsWith('gateway-')) return;
    if (this.statusDirtyAt === null) this.statusDirtyAt = this.clock.now();
    this.mqtt?.publishDevice(t.deviceId);
    if (!this.settings.events) return;
    this.pendingEvents.push(t);
    this.eventFlush ??= setImmediate(() => this.flushEvents());
  }

  private flushEvents(): void {
    this.eventFlush = null;
    const batch = this.pendingEvents;
    this.pendingEvents = [];
    if (!batch.length || !this.started) return;
    const tz = this.ctx.settings.commune.timezone;
    // One transaction for the batch (savepoints inside): one fsync for a storm.
    // On a disk error nothing of the batch is stored (the transaction rolled back).
    this.safely(`${batch.length} events`, () => this.writeEvents(batch, tz));
  }

  private writeEvents(batch: Transition[], tz: string): void {
    this.ctx.store.database.transaction(() => {
      for (const t of batch) {
        const d = this.ctx.inventory.devices.get(t.deviceId);
        if (!d) continue;
        const body: EventBody = {
          event: t.to === 'DOWN' ? 'down' : t.to === 'UP' ? 'up' : t.to === 'DEGRADED' ? 'degraded' : 'unknown',
          device: { id: d.id, name: d.name, kind: d.kind.id, role: d.role ?? null, hamlet: d.hamlet },
          from: t.from,
          to: t.to,
          at: isoWithOffset(t.ts, tz),
          reason: t.reason,
        };
        this.enqueue('event', body, { coalesceKey: null });
      }
    })();
  }

  private enqueue<T extends MessageType>(type: T, body: BodyOf<T>, opts: { coalesceKey: string | null; meta?: [string, string][] }): EnqueueResult {
    const now = this.clock.now();
    const tz = this.ctx.settings.commune.timezone;
    const generatedAt = isoWithOffset(now, tz);
    const gzip = this.settings.gzip;
    const result = this.outbox.enqueue(
      type,
      (seq, messageId) => {
        const json = Buffer.from(JSON.stringify(buildEnvelope(type, { ...this.header, messageId, seq, generatedAt }, body)), 'utf8');
        const encoding: Encoding = gzip && json.length > GZIP_MIN_BYTES ? 'gzip' : 'identity';
        return { body: encoding === 'gzip' ? gzipSync(json) : json, encoding };
      },
      { coalesceKey: opts.coalesceKey, now, ...(opts.meta ? { meta: opts.meta } : {}) },
    );
    if (result.seq !== null) {
      this.counts.enqueued++;
      this.m.messages.inc({ type, result: 'enqueued' });
    }
    if (result.evicted.length) {
      for (const e of result.evicted) {
        const key = e.existing ? e.type : `${e.type} (new, dropped)`;
        this.evictedUnlogged[key] = (this.evictedUnlogged[key] ?? 0) + 1;
        this.m.messages.inc({ type: e.type, result: 'evicted' });
      }
      this.counts.evicted += result.evicted.length;
      // A full outbox evicts on every enqueue: one log line a minute, with the counts.
      if (now - this.lastEvictLogAt >= 60_000) {
        this.lastEvictLogAt = now;
        const st = this.outbox.stats();
        this.ctx.log.warn(
          { code: 'CE_IOC_OUTBOX_EVICTED', evicted: this.evictedUnlogged, depth: st.messages, bytes: st.bytes },
          'IOC outbox full: least valuable messages evicted',
        );
        this.evictedUnlogged = {};
      }
    }
    if (!this.backingOff) this.wake?.();
    return result;
  }

  // -------------------------------------------------------------------------
  // Delivery
  // -------------------------------------------------------------------------

  private async run(): Promise<void> {
    while (!this.stopping) {
      const msg = this.outbox.head();
      if (!msg) {
        await this.sleep(null);
        continue;
      }
      let waitMs = 0;
      try {
        waitMs = await this.deliver(msg);
      } catch (err) {
        // A bug must not stop the feed for good: log, back off, go on.
        this.ctx.log.error({ err: (err as Error).message, seq: msg.seq }, 'IOC delivery failed unexpectedly');
        this.failures++;
        waitMs = backoffDelay(this.failures, this.settings.retryMinMs, this.settings.retryMaxMs, null, this.random);
      }
      if (waitMs > 0 && !this.stopping) {
        this.backingOff = true;
        this.nextAttemptAt = this.ctx.clock.now() + waitMs;
        await this.sleep(waitMs);
        this.backingOff = false;
        this.nextAttemptAt = null;
      }
    }
  }

  /** One attempt on the head message; returns how long to wait before the next. */
  private async deliver(msg: OutboxMessage): Promise<number> {
    const now = this.ctx.clock.now();
    this.lastAttemptAt = now;
    this.abort = new AbortController();
    const result = await this.client!.post(msg, Math.floor(now / 1000), this.abort.signal);
    this.abort = null;
    if (this.stopping && result.verdict !== 'ok') return 0; // aborted: stays queued for the next run
    const at = this.ctx.clock.now();
    switch (result.verdict) {
      case 'ok':
        this.outbox.delivered(msg.seq, at);
        this.m.messages.inc({ type: msg.type, result: 'delivered' });
        this.m.deliverySeconds.observe(result.ms / 1000);
        this.m.lastSuccess.set(at / 1000);
        this.counts.delivered++;
        if (this.failures > 0) {
          this.ctx.log.info({ after: this.failures, backlog: this.outbox.stats().messages }, 'IOC receiver accepts messages again');
        }
        this.failures = 0;
        this.connected = true;
        return 0;
      case 'park': {
        this.outbox.park(msg, result.status ?? 0, result.reason, at);
        this.m.messages.inc({ type: msg.type, result: 'parked' });
        this.m.parked.inc({ type: msg.type });
        this.counts.parked++;
        this.connected = true; // the receiver answered
        this.failures = 0;
        this.noteError(result, at);
        this.ctx.log.warn(
          { code: 'CE_IOC_PARKED', seq: msg.seq, messageId: msg.messageId, type: msg.type, status: result.status, reason: result.reason },
          'IOC receiver rejected a message; parked, delivery goes on',
        );
        return 0;
      }
      case 'retry': {
        this.outbox.failed(msg.seq, result.reason, at);
        this.failures++;
        this.counts.retries++;
        this.connected = false;
        this.m.failures.inc({ code: result.code ?? 'CE_IOC_UNREACHABLE' });
        this.noteError(result, at);
        const wait = backoffDelay(this.failures, this.settings.retryMinMs, this.settings.retryMaxMs, result.retryAfterMs, this.random);
        // First failure of a streak, then at most once a minute (a day offline is not 10,000 lines).
        if (this.failures === 1 || at - this.lastFailureLogAt >= 60_000) {
          this.lastFailureLogAt = at;
          const level = result.code === 'CE_IOC_AUTH' || result.code === 'CE_IOC_ENDPOINT' ? 'error' : 'warn';
          this.ctx.log[level](
            { code: result.code, status: result.status, reason: result.reason, seq: msg.seq, failures: this.failures, retryInMs: wait, backlog: this.outbox.stats().messages },
            'IOC delivery failed; retrying',
          );
        }
        return wait;
      }
    }
  }

  private noteError(result: PostResult, at: number): void {
    this.lastError = result.reason;
    this.lastErrorCode = result.code;
    this.lastErrorAt = at;
  }

  /** Wait `ms` (null: until woken by an enqueue or stop). */
  private sleep(ms: number | null): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      if (ms !== null) timer = setTimeout(done, ms);
      this.wake = done;
      if (this.stopping) done();
    });
  }

  // -------------------------------------------------------------------------
  // Metrics
  // -------------------------------------------------------------------------

  private createMetrics(registry: Registry): FeedMetrics {
    const outbox = () => this.outbox;
    // One feed per gateway registry; a feed restarted on the same registry replaces its metrics.
    const fresh = <M>(name: string, make: () => M): M => {
      registry.removeSingleMetric(name);
      return make();
    };
    const registers = [registry];
    fresh('ce_ioc_outbox_messages', () => new Gauge({
      name: 'ce_ioc_outbox_messages',
      help: 'Messages waiting in the IOC outbox, by type',
      labelNames: ['type'] as const,
      registers,
      collect() {
        const st = outbox().stats();
        for (const [type, n] of Object.entries(st.byType)) this.set({ type }, n);
      },
    }));
    fresh('ce_ioc_outbox_bytes', () => new Gauge({
      name: 'ce_ioc_outbox_bytes',
      help: 'Stored (compressed) bytes of the IOC outbox',
      registers,
      collect() {
        this.set(outbox().stats().bytes);
      },
    }));
    const clock = () => this.ctx.clock.now();
    fresh('ce_ioc_outbox_oldest_seconds', () => new Gauge({
      name: 'ce_ioc_outbox_oldest_seconds',
      help: 'Age of the oldest message in the IOC outbox (0 when empty)',
      registers,
      collect() {
        const oldest = outbox().stats().oldestCreatedAt;
        this.set(oldest === null ? 0 : Math.max(0, (clock() - oldest) / 1000));
      },
    }));
    fresh('ce_ioc_parked_messages', () => new Gauge({
      name: 'ce_ioc_parked_messages',
      help: 'Parked messages kept (GET /api/ioc/parked)',
      registers,
      collect() {
        this.set(outbox().stats().parked);
      },
    }));
    return {
      messages: fresh('ce_ioc_messages_total', () => new Counter({
        name: 'ce_ioc_messages_total',
        help: 'IOC feed messages by type and result (enqueued, delivered, parked, evicted)',
        labelNames: ['type', 'result'] as const,
        registers,
      })),
      failures: fresh('ce_ioc_delivery_failures_total', () => new Counter({
        name: 'ce_ioc_delivery_failures_total',
        help: 'Failed IOC delivery attempts that will be retried, by CE_* code',
        labelNames: ['code'] as const,
        registers,
      })),
      parked: fresh('ce_ioc_parked_total', () => new Counter({
        name: 'ce_ioc_parked_total',
        help: 'Messages the IOC receiver rejected as invalid and that were parked, by type',
        labelNames: ['type'] as const,
        registers,
      })),
      indicatorFailures: fresh('ce_ioc_indicator_failures_total', () => new Counter({
        name: 'ce_ioc_indicator_failures_total',
        help: 'Indicator reports for the IOC feed that could not be computed',
        registers,
      })),
      deliverySeconds: fresh('ce_ioc_delivery_seconds', () => new Histogram({
        name: 'ce_ioc_delivery_seconds',
        help: 'Duration of a successful IOC POST (request to answer)',
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      })),
      lastSuccess: fresh('ce_ioc_last_success_timestamp_seconds', () => new Gauge({
        name: 'ce_ioc_last_success_timestamp_seconds',
        help: 'Unix time of the last message the IOC receiver accepted',
        registers,
      })),
      mqttConnected: fresh('ce_ioc_mqtt_connected', () => new Gauge({
        name: 'ce_ioc_mqtt_connected',
        help: '1 when the MQTT uplink to the province broker is connected',
        registers,
      })),
      mqttPublished: fresh('ce_ioc_mqtt_published_total', () => new Counter({
        name: 'ce_ioc_mqtt_published_total',
        help: 'Status messages the province broker acknowledged (MQTT uplink)',
        registers,
      })),
    };
  }
}
