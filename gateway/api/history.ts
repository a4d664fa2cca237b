/**
 * History for the dashboard's device page: the state timeline (24 h / 7 d /
 * 30 d), downsampled readings for sparklines, and incidents (DOWN periods).
 *
 * Everything is read from the local store (`ctx.store.database`, better-sqlite3,
 * synchronous: every query here must stay short, because it runs on the thread
 * that ingests). So:
 * - transitions are read through the `transitions_device_ts (device_id, ts)`
 *   index, one device at a time, streamed (`iterate`), never loaded whole;
 * - readings have no index but their rowid: the spool is appended in commit
 *   order, so `received_at` grows with `id` and a time bound becomes an id bound
 *   by binary search (O(log n) rowid look-ups). Each sparkline bucket then scans
 *   at most `READINGS_SCAN_BUDGET / buckets` rows of its id span: exact while
 *   the spool is small, a sample of the newest rows of each bucket (flagged
 *   `sampled`) when it is large. The work is bounded whatever the range.
 * - readings are a bounded spool (store.maxBytes evicts the oldest first):
 *   `spoolStartsAt` tells the page where the readings stop.
 */
import type { Statement } from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEVICE_STATES, type DeviceState } from '../../devices/define.js';
import { KIND_IDS } from '../../devices/registry.js';
import type { GatewayContext } from '../context.js';
import { CodedError } from '../errors.js';
import type { ApiPlugin } from './server.js';

const DAY_MS = 86_400_000;
/** The longest range a history query may ask for (a year and a bit: the yearly report). */
export const MAX_RANGE_MS = 400 * DAY_MS;
/**
 * Rows of the readings spool one sparkline request may scan. Measured on the
 * dev machine (x86, shared) with a 1,000,000-row spool over 30 days, 96 buckets,
 * 4 numeric fields, best of 3: 13–18 ms for a device sending 1 % of the rows,
 * ~35 ms for one sending a quarter of them (JSON.parse of each of its rows);
 * expect a Pi 4 to be 3–4× slower.
 */
export const READINGS_SCAN_BUDGET = 120_000;

const StateEnum = z.enum(DEVICE_STATES as [DeviceState, ...DeviceState[]]);
const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };
const Durations = z.object({ UP: z.number(), DEGRADED: z.number(), DOWN: z.number(), UNKNOWN: z.number() });

const RangeQuery = {
  from: z.string().optional().describe('Start (ISO 8601 or epoch ms); default: 24 h before `to`'),
  to: z.string().optional().describe('End, exclusive (ISO 8601 or epoch ms); default: now'),
};

/** Drawing order when a bucket holds several states: the worst one shows. */
const STATE_RANK: Record<DeviceState, number> = { UP: 0, UNKNOWN: 1, DEGRADED: 2, DOWN: 3 };
const RANK_STATE: DeviceState[] = ['UP', 'UNKNOWN', 'DEGRADED', 'DOWN'];

const iso = (ms: number) => new Date(ms).toISOString();

/** A time given as ISO 8601 or epoch milliseconds. */
export function parseInstant(v: string, what: string): number {
  const ms = /^\d{1,15}$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new CodedError('CE_BAD_REQUEST', `${what}: "${v}" is not an ISO 8601 time or epoch milliseconds`);
  return ms;
}

/** `[from, to)` from the query, defaults filled, bounded. */
export function parseRange(q: { from?: string | undefined; to?: string | undefined }, now: number, defaultMs = DAY_MS): { from: number; to: number } {
  const to = q.to === undefined ? now : parseInstant(q.to, 'to');
  const from = q.from === undefined ? to - defaultMs : parseInstant(q.from, 'from');
  if (from >= to) throw new CodedError('CE_BAD_REQUEST', 'from must be before to');
  if (to - from > MAX_RANGE_MS) throw new CodedError('CE_BAD_REQUEST', `range longer than ${MAX_RANGE_MS / DAY_MS} days`);
  return { from, to };
}

interface TransitionRow {
  ts: number;
  to_state: DeviceState;
  reason: string;
}

export interface Segment {
  from: number;
  to: number;
  state: DeviceState;
  reason: string | null;
}

export interface Timeline {
  from: number;
  /** min(to, now): the timeline does not extend into the future. */
  end: number;
  stateAtFrom: DeviceState;
  segments: Segment[];
  compacted: boolean;
  transitions: number;
  durationsMs: Record<DeviceState, number>;
  availability: number | null;
  coverage: number | null;
}

export interface Incident {
  deviceId: string;
  start: number;
  end: number | null;
  endState: DeviceState | null;
  reason: string;
}

/** Prepared statements over the store's tables (read-only). */
export class History {
  private readonly ctx: GatewayContext;
  private readonly stateBefore;
  private readonly inRange;
  private readonly nextNotDown;
  private readonly readingSpan;
  private readonly readingProbe;
  private readonly readingRows: Statement;

  constructor(ctx: GatewayContext) {
    this.ctx = ctx;
    const db = ctx.store.database;
    // All three use transitions_device_ts (device_id, ts).
    this.stateBefore = db.prepare('SELECT ts, to_state, reason FROM transitions WHERE device_id = ? AND ts < ? ORDER BY ts DESC, id DESC LIMIT 1');
    this.inRange = db.prepare('SELECT ts, to_state, reason FROM transitions WHERE device_id = ? AND ts >= ? AND ts < ? ORDER BY ts, id');
    this.nextNotDown = db.prepare(
      "SELECT ts, to_state, reason FROM transitions WHERE device_id = ? AND ts >= ? AND to_state <> 'DOWN' ORDER BY ts, id LIMIT 1",
    );
    this.readingSpan = db.prepare('SELECT (SELECT min(id) FROM readings) AS lo, (SELECT max(id) FROM readings) AS hi');
    this.readingProbe = db.prepare('SELECT id, received_at FROM readings WHERE id >= ? ORDER BY id LIMIT 1');
    // Rows as arrays; one JSON.parse per row of this device (measured faster than
    // SQLite's json_extract once a page asks for several fields).
    this.readingRows = db.prepare('SELECT ts, fields FROM readings WHERE id >= ? AND id < ? AND device_id = ?').raw(true);
  }

  /**
   * The device's states over [from, min(to, now)): the state at `from` (the
   * last transition before it; UNKNOWN when there is none: never seen) and each
   * transition after. More than `maxSegments` segments are compacted into
   * `maxSegments` equal buckets showing the worst state of each (a 30-day bar is
   * about a thousand pixels wide: shorter segments would not be visible anyway);
   * durations are always exact.
   */
  timeline(deviceId: string, from: number, to: number, maxSegments: number): Timeline {
    const now = this.ctx.clock.now();
    const end = Math.min(to, now);
    const before = this.stateBefore.get(deviceId, from) as TransitionRow | undefined;
    let state: DeviceState = before?.to_state ?? 'UNKNOWN';
    let reason = before?.reason ?? 'never-seen';
    const stateAtFrom = state;
    const durationsMs: Record<DeviceState, number> = { UP: 0, DEGRADED: 0, DOWN: 0, UNKNOWN: 0 };
    let raw: Segment[] | null = [];
    const span = Math.max(1, end - from);
    const bucketMs = span / maxSegments;
    const worst = new Int8Array(maxSegments).fill(-1);
    let count = 0;
    let at = from;

    const emit = (a: number, b: number, s: DeviceState, r: string) => {
      if (b <= a) return;
      durationsMs[s] += b - a;
      if (raw) {
        const last = raw[raw.length - 1];
        if (last && last.state === s && last.to === a) last.to = b;
        else raw.push({ from: a, to: b, state: s, reason: r });
        if (raw.length > maxSegments) raw = null;
      }
      const first = Math.max(0, Math.floor((a - from) / bucketMs));
      const lastBucket = Math.min(maxSegments - 1, Math.floor((b - 1 - from) / bucketMs));
      const rank = STATE_RANK[s];
      for (let i = first; i <= lastBucket; i++) if (worst[i]! < rank) worst[i] = rank;
    };

    if (end > from) {
      for (const row of this.inRange.iterate(deviceId, from, end) as IterableIterator<TransitionRow>) {
        emit(at, row.ts, state, reason);
        state = row.to_state;
        reason = row.reason;
        at = row.ts;
        count++;
      }
      // A transition still waiting for the next group commit (≤ commitIntervalMs)
      // is not in the table yet; the tracker already has it.
      const live = this.ctx.health.get(deviceId);
      if (live && live.state !== state && live.since >= at && live.since < end) {
        emit(at, live.since, state, reason);
        state = live.state;
        reason = live.reason;
        at = live.since;
        count++;
      }
      emit(at, end, state, reason);
    }

    let segments: Segment[];
    if (raw) segments = raw;
    else {
      segments = [];
      for (let i = 0; i < maxSegments; i++) {
        const s = RANK_STATE[Math.max(0, worst[i]!)]!;
        const a = Math.round(from + i * bucketMs);
        const b = i === maxSegments - 1 ? end : Math.round(from + (i + 1) * bucketMs);
        const last = segments[segments.length - 1];
        if (last && last.state === s) last.to = b;
        else segments.push({ from: a, to: b, state: s, reason: null });
      }
    }
    const known = durationsMs.UP + durationsMs.DEGRADED + durationsMs.DOWN;
    return {
      from,
      end,
      stateAtFrom,
      segments,
      compacted: raw === null,
      transitions: count,
      durationsMs,
      // DEGRADED still serves (a loudspeaker with weak 4G plays); UNKNOWN time is
      // excluded, as in the indicators (issue 5): the gateway could not see it.
      availability: known > 0 ? (durationsMs.UP + durationsMs.DEGRADED) / known : null,
      coverage: end > from ? known / (end - from) : null,
    };
  }

  /** DOWN periods of one device overlapping [from, to), oldest first. */
  incidents(deviceId: string, from: number, to: number): Incident[] {
    const out: Incident[] = [];
    const before = this.stateBefore.get(deviceId, from) as TransitionRow | undefined;
    let open: Incident | null = before?.to_state === 'DOWN' ? { deviceId, start: before.ts, end: null, endState: null, reason: before.reason } : null;
    for (const row of this.inRange.iterate(deviceId, from, to) as IterableIterator<TransitionRow>) {
      if (row.to_state === 'DOWN') {
        if (!open) open = { deviceId, start: row.ts, end: null, endState: null, reason: row.reason };
      } else if (open) {
        open.end = row.ts;
        open.endState = row.to_state;
        out.push(open);
        open = null;
      }
    }
    if (open) {
      // Still DOWN at `to`: find its end after the range, if it has one.
      const next = this.nextNotDown.get(deviceId, to) as TransitionRow | undefined;
      const live = this.ctx.health.get(deviceId);
      if (next) {
        open.end = next.ts;
        open.endState = next.to_state;
      } else if (live && live.state !== 'DOWN' && live.since >= open.start) {
        open.end = live.since;
        open.endState = live.state;
      }
      out.push(open);
    }
    return out;
  }

  /**
   * Numeric fields of one device in `buckets` equal time buckets over [from, to):
   * min, max, mean, last and count per bucket; buckets without data are omitted.
   */
  readings(deviceId: string, fields: string[], from: number, to: number, buckets: number) {
    const span = this.readingSpan.get() as { lo: number | null; hi: number | null };
    const bucketMs = (to - from) / buckets;
    type Acc = { n: number; min: number; max: number; sum: number; last: number; lastTs: number };
    const acc = fields.map(() => new Array<Acc | undefined>(buckets));
    let scanned = 0;
    let sampled = false;
    let spoolStartsAt: number | null = null;
    if (span.lo !== null && span.hi !== null) {
      const lo = span.lo;
      const hi = span.hi;
      spoolStartsAt = (this.readingProbe.get(lo) as { received_at: number } | undefined)?.received_at ?? null;
      const cap = Math.max(1, Math.floor(READINGS_SCAN_BUDGET / buckets));
      // Rows arrive up to a little after their bucket (commit delay, device
      // clocks): bounds are found on received_at, rows are placed by ts.
      let startId = this.firstIdAtOrAfter(from, lo, hi);
      for (let b = 0; b < buckets; b++) {
        const endId = this.firstIdAtOrAfter(from + (b + 1) * bucketMs, lo, hi);
        if (endId > startId) {
          let scanFrom = startId;
          if (endId - startId > cap) {
            scanFrom = endId - cap;
            sampled = true;
          }
          scanned += endId - scanFrom;
          for (const [ts, json] of this.readingRows.all(scanFrom, endId, deviceId) as [number, string][]) {
            const i = Math.floor((ts - from) / bucketMs);
            if (i < 0 || i >= buckets) continue;
            let values: Record<string, unknown>;
            try {
              values = JSON.parse(json) as Record<string, unknown>;
            } catch {
              continue; // the store writes JSON.stringify output; never expected
            }
            for (let k = 0; k < fields.length; k++) {
              const v = values[fields[k]!];
              if (typeof v !== 'number' || !Number.isFinite(v)) continue;
              const a = acc[k]![i];
              if (!a) acc[k]![i] = { n: 1, min: v, max: v, sum: v, last: v, lastTs: ts };
              else {
                a.n++;
                a.sum += v;
                if (v < a.min) a.min = v;
                if (v > a.max) a.max = v;
                if (ts >= a.lastTs) {
                  a.last = v;
                  a.lastTs = ts;
                }
              }
            }
          }
        }
        startId = endId;
      }
    }
    return {
      bucketMs,
      sampled,
      rowsScanned: scanned,
      spoolStartsAt,
      series: fields.map((name, k) => ({
        name,
        points: acc[k]!.flatMap((a, i) =>
          a ? [{ t: iso(Math.round(from + i * bucketMs)), n: a.n, min: a.min, max: a.max, avg: a.sum / a.n, last: a.last }] : [],
        ),
      })),
    };
  }

  /**
   * Smallest id boundary B such that readings with id < B arrived before `t` and
   * those with id >= B at or after it (ids grow in commit order, so does
   * received_at); hi + 1 when none arrived at or after `t`. Gaps in ids are fine.
   */
  private firstIdAtOrAfter(t: number, lo: number, hi: number): number {
    let a = lo;
    let b = hi + 1;
    while (a < b) {
      const mid = Math.floor((a + b) / 2);
      const r = this.readingProbe.get(mid) as { id: number; received_at: number } | undefined;
      if (!r || r.received_at >= t) b = mid;
      else a = r.id + 1;
    }
    return a;
  }
}

const SegmentOut = z.object({ from: z.string(), to: z.string(), state: StateEnum, reason: z.string().nullable() });

const IncidentOut = z.object({
  deviceId: z.string(),
  name: z.string(),
  kind: z.string(),
  role: z.string().nullable(),
  hamlet: z.string(),
  start: z.string().describe('When the device went DOWN (may be before `from`)'),
  end: z.string().nullable().describe('When it left DOWN; null while still DOWN'),
  endState: StateEnum.nullable().describe('State it left DOWN for; UNKNOWN = the gateway stopped watching (the end is not known)'),
  ongoing: z.boolean(),
  durationS: z.number().describe('Seconds DOWN, up to now when ongoing'),
  reason: z.string(),
});

export const historyPlugin: ApiPlugin = (app: FastifyInstance, ctx: GatewayContext) => {
  // Registered once per API (buildGateway's, and a test's again, are the same thing).
  if (app.hasRoute({ method: 'GET', url: '/api/devices/:id/timeline' })) return;
  const history = new History(ctx);
  const r = app.withTypeProvider<ZodTypeProvider>();
  const device = (id: string) => {
    const d = ctx.inventory.devices.get(id);
    if (!d) throw new CodedError('CE_NOT_FOUND', `device ${id}`);
    return d;
  };

  r.get(
    '/api/devices/:id/timeline',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'State timeline of one device: the state at `from`, segments, time in each state, availability',
        params: z.object({ id: z.string() }),
        querystring: z.object({
          ...RangeQuery,
          segments: z.coerce.number().int().min(10).max(5000).default(1000).describe('At most this many segments (compacted beyond)'),
        }),
        response: {
          200: z.object({
            deviceId: z.string(),
            from: z.string(),
            to: z.string(),
            end: z.string().describe('min(to, now)'),
            stateAtFrom: StateEnum,
            segments: z.array(SegmentOut),
            compacted: z.boolean().describe('Segments are equal buckets showing the worst state of each'),
            transitions: z.number(),
            durationsMs: Durations,
            availability: z.number().nullable().describe('(UP + DEGRADED) / (UP + DEGRADED + DOWN); UNKNOWN excluded; null when nothing known'),
            coverage: z.number().nullable().describe('Share of [from, end) with a known state'),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const d = device(req.params.id);
      const { from, to } = parseRange(req.query, ctx.clock.now());
      const t = history.timeline(d.id, from, to, req.query.segments);
      return {
        deviceId: d.id,
        from: iso(from),
        to: iso(to),
        end: iso(t.end),
        stateAtFrom: t.stateAtFrom,
        segments: t.segments.map((s) => ({ from: iso(s.from), to: iso(s.to), state: s.state, reason: s.reason })),
        compacted: t.compacted,
        transitions: t.transitions,
        durationsMs: t.durationsMs,
        availability: t.availability,
        coverage: t.coverage,
      };
    },
  );

  r.get(
    '/api/devices/:id/readings',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Numeric readings of one device downsampled into equal time buckets (for sparklines)',
        params: z.object({ id: z.string() }),
        querystring: z.object({
          ...RangeQuery,
          field: z.string().optional().describe("Comma-separated numeric fields of the device's kind; default: all numeric fields"),
          max: z.coerce.number().int().min(2).max(1000).default(120).describe('Buckets (points per series)'),
        }),
        response: {
          200: z.object({
            deviceId: z.string(),
            from: z.string(),
            to: z.string(),
            bucketMs: z.number(),
            sampled: z.boolean().describe('Some buckets held more rows than the scan budget: their newest rows were used'),
            rowsScanned: z.number(),
            spoolStartsAt: z.string().nullable().describe('Oldest reading still in the spool (older ones were evicted or never existed)'),
            series: z.array(
              z.object({
                name: z.string(),
                unit: z.string().nullable(),
                label: z.object({ vi: z.string(), en: z.string() }),
                points: z.array(z.object({ t: z.string(), n: z.number(), min: z.number(), max: z.number(), avg: z.number(), last: z.number() })),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const d = device(req.params.id);
      const { from, to } = parseRange(req.query, ctx.clock.now());
      const numeric = d.kind.fields.filter((f) => f.type === 'float' || f.type === 'integer');
      let specs = numeric;
      if (req.query.field) {
        const names = req.query.field.split(',').map((s) => s.trim()).filter(Boolean);
        specs = names.map((n) => {
          const f = numeric.find((x) => x.name === n);
          if (!f) throw new CodedError('CE_BAD_REQUEST', `field "${n}" is not a numeric field of kind ${d.kind.id}; numeric: ${numeric.map((x) => x.name).join(', ')}`);
          return f;
        });
      }
      const out = history.readings(
        d.id,
        specs.map((f) => f.name),
        from,
        to,
        req.query.max,
      );
      return {
        deviceId: d.id,
        from: iso(from),
        to: iso(to),
        bucketMs: out.bucketMs,
        sampled: out.sampled,
        rowsScanned: out.rowsScanned,
        spoolStartsAt: out.spoolStartsAt === null ? null : iso(out.spoolStartsAt),
        series: out.series.map((s, k) => ({ ...s, unit: specs[k]!.unit ?? null, label: specs[k]!.label })),
      };
    },
  );

  r.get(
    '/api/incidents',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'DOWN periods overlapping [from, to), newest first, with their duration',
        querystring: z.object({
          ...RangeQuery,
          kind: z.enum(KIND_IDS).optional(),
          hamlet: z.string().optional(),
          role: z.string().optional(),
          device: z.string().optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            total: z.number().describe('Incidents found (before `limit`)'),
            downS: z.number().describe('Seconds DOWN within [from, min(to, now)), summed over the devices'),
            incidents: z.array(IncidentOut),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const q = req.query;
      const now = ctx.clock.now();
      const { from, to } = parseRange(q, now);
      if (q.device) device(q.device);
      if (q.hamlet && !ctx.settings.hamlets.some((h) => h.id === q.hamlet)) throw new CodedError('CE_NOT_FOUND', `hamlet ${q.hamlet}`);
      const found: Incident[] = [];
      for (const d of ctx.inventory.devices.values()) {
        if (q.device && d.id !== q.device) continue;
        if (q.kind && d.kind.id !== q.kind) continue;
        if (q.hamlet && d.hamlet !== q.hamlet) continue;
        if (q.role && d.role !== q.role) continue;
        found.push(...history.incidents(d.id, from, to));
      }
      const end = Math.min(to, now);
      let downMs = 0;
      for (const i of found) downMs += Math.max(0, Math.min(i.end ?? now, end) - Math.max(i.start, from));
      found.sort((a, b) => b.start - a.start);
      return {
        from: iso(from),
        to: iso(to),
        total: found.length,
        downS: Math.round(downMs / 1000),
        incidents: found.slice(0, q.limit).map((i) => {
          const d = ctx.inventory.devices.get(i.deviceId)!;
          return {
            deviceId: i.deviceId,
            name: d.name,
            kind: d.kind.id,
            role: d.role ?? null,
            hamlet: d.hamlet,
            start: iso(i.start),
            end: i.end === null ? null : iso(i.end),
            endState: i.endState,
            ongoing: i.end === null,
            durationS: Math.round(((i.end ?? now) - i.start) / 1000),
            reason: i.reason,
          };
        }),
      };
    },
  );
};
