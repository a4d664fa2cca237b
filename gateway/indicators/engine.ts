/**
 * The indicators engine: stored transitions, gateway runs and the readings
 * rollups → one IndicatorReport for a period (types.ts, docs/indicators.md).
 *
 * Time-weighted, three-valued. Per device, the state at `from` is the last
 * transition before it; the walk goes through the transitions in [from, end)
 * (end = min(to, now)), ordered by ts (ids are not in ts order after a power cut).
 * UP and DEGRADED count as available: a degraded device still does its job (a
 * loudspeaker with one horn line open still broadcasts, a line with 5 % loss still
 * carries the IOC stream, a UPS on battery still powers the rack); DOWN does not;
 * UNKNOWN (gateway off, device never seen) is neither and lowers data coverage.
 * Planned maintenance is left out of all three. A device counts from its first
 * transition (the gateway writes `UNKNOWN never-seen` when a device enters the
 * inventory), so one added mid-period is not blamed for the time before.
 *
 * Async: it yields to the event loop every ~15 ms of work, so the gateway keeps
 * acknowledging MQTT messages while the API computes a half-year, and reports
 * progress (done/total devices) for the CLI's bar. It reads through the store's
 * own connection without a transaction (the store's group commit shares it), so a
 * transition committed during the computation may or may not be seen; `now` is
 * fixed at the start, and transitions still in the group-commit queue (the last
 * ~50 ms) are not seen.
 */
import type Database from 'better-sqlite3';
import type { InventoryDevice } from '../pipeline/inventory.js';
import type { Settings } from '../settings/schema.js';
import { DEFINITIONS, NOT_INCIDENT_KINDS, type IndicatorId } from './definitions.js';
import { dayStartOf, isoWithOffset, localParts, parsePeriod, wallToEpoch } from './periods.js';
import { readRollupMeta, rollupAllAsync, type RollupStore } from './rollup.js';
import {
  availableMs,
  codeAt,
  DEGRADED,
  downMs,
  DOWN_POWER,
  emptyTimes,
  isAvailable,
  isDown,
  knownMs,
  mergeIntervals,
  overlapMs,
  POWER_LOSS_REASONS,
  timesIn,
  UNKNOWN,
  UP,
  walkIncidents,
  type IncidentStats,
  type Intervals,
  type Segments,
  type StateTimes,
} from './timeline.js';
import type { Breakdown, DeviceBreakdown, IndicatorDefinition, IndicatorReport, IndicatorResult, IndicatorStatus, Period, Target } from './types.js';

export interface IndicatorInput {
  settings: Settings;
  /** The store (or any holder of the SQLite handle: the CLI opens the file itself). */
  store: RollupStore;
  inventory: { devices: ReadonlyMap<string, InventoryDevice> };
  /** Epoch ms; figures cover [from, min(to, now)). */
  now: number;
  onProgress?: (p: { done: number; total: number }) => void;
  /** Roll up waiting readings first (default true; false for a read-only database). */
  rollup?: boolean;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** How far back count-at-end looks for a known state when the end instant itself is UNKNOWN. */
const END_LOOKBACK_MS = DAY;
/** Work between two yields to the event loop. */
const SLICE_MS = 15;

interface DeviceData {
  device: InventoryDevice;
  kind: string;
  seg: Segments;
  /** Merged maintenance windows of this device (not clipped). */
  maintenance: Intervals;
  times: StateTimes;
  incidents: IncidentStats;
  /** The device has time in the period (lo < hi). */
  present: boolean;
}

interface Selector {
  kind: string;
  roles?: string[] | undefined;
}

// ---------------------------------------------------------------------------
// Inputs: gateway runs, maintenance windows, transitions
// ---------------------------------------------------------------------------

/**
 * When the gateway itself was running (gateway_runs). The last run, if it neither
 * stopped cleanly nor beat recently, crashed and was not restarted yet: its devices'
 * last states must end at its last sign of life (the restart would write that
 * UNKNOWN transition; until then we apply it here).
 */
function gatewayObservation(db: Database.Database, now: number, heartbeatS: number): { runs: Intervals; observedUntil: number } {
  const rows = db.prepare('SELECT started_at, last_beat_at, stopped_at FROM gateway_runs ORDER BY run_id').raw().all() as [number, number, number | null][];
  if (rows.length === 0) return { runs: [], observedUntil: Infinity };
  const runs: Intervals = [];
  let observedUntil = Infinity;
  rows.forEach(([started, beat, stopped], i) => {
    let until = stopped ?? beat;
    if (i === rows.length - 1 && stopped === null) {
      // Alive: beat within 3 heartbeats (the API runs inside the gateway; the CLI beside it).
      if (now - beat <= 3 * heartbeatS * 1000) until = Math.max(beat, now);
      else {
        const r = db.prepare('SELECT received_at FROM readings ORDER BY id DESC LIMIT 1').get() as { received_at: number } | undefined;
        until = Math.max(beat, r && r.received_at >= started ? r.received_at : 0);
        observedUntil = until;
      }
    }
    runs.push([started, Math.max(started, until)]);
  });
  return { runs: mergeIntervals(runs), observedUntil };
}

interface Window {
  from: number;
  to: number;
  all: boolean;
  devices: Set<string>;
  hamlets: Set<string>;
  kinds: { kind: string; role: string | undefined }[];
}

function parseWindows(settings: Settings): Window[] {
  return settings.indicators.maintenance.map((w) => ({
    from: Date.parse(w.from),
    to: Date.parse(w.to),
    all: !w.devices?.length && !w.kinds?.length && !w.hamlets?.length,
    devices: new Set(w.devices ?? []),
    hamlets: new Set(w.hamlets ?? []),
    kinds: (w.kinds ?? []).map((k) => {
      const [kind, role] = k.split(':', 2) as [string, string | undefined];
      return { kind, role };
    }),
  }));
}

function windowsFor(device: InventoryDevice, windows: Window[]): Intervals {
  const list: Intervals = [];
  for (const w of windows) {
    const hit =
      w.all ||
      w.devices.has(device.id) ||
      w.hamlets.has(device.hamlet) ||
      w.kinds.some((k) => k.kind === device.kind.id && (k.role === undefined || k.role === device.role));
    if (hit) list.push([w.from, w.to]);
  }
  return mergeIntervals(list);
}

/** State code straight from SQL: no per-row strings to allocate. */
const CODE_SQL = `CASE to_state WHEN 'UP' THEN ${UP} WHEN 'DEGRADED' THEN ${DEGRADED}
  WHEN 'DOWN' THEN (CASE WHEN reason IN (${POWER_LOSS_REASONS.map((r) => `'${r}'`).join(', ')}) THEN ${DOWN_POWER} ELSE 2 END)
  ELSE ${UNKNOWN} END`;

class TransitionReader {
  private readonly before: Database.Statement;
  private readonly beforeKnown: Database.Statement;
  private readonly lastAvailableBefore: Database.Statement;
  private readonly range: Database.Statement;

  constructor(db: Database.Database) {
    // Each is an index seek or range scan on transitions (device_id, ts); rowid is
    // the index's last column, so "ORDER BY ts, id" needs no sort.
    this.before = db.prepare(`SELECT ts, ${CODE_SQL} FROM transitions WHERE device_id = ? AND ts < ? ORDER BY ts DESC, id DESC LIMIT 1`).raw();
    this.beforeKnown = db
      .prepare(`SELECT ts, ${CODE_SQL} FROM transitions WHERE device_id = ? AND ts < ? AND to_state != 'UNKNOWN' ORDER BY ts DESC, id DESC LIMIT 1`)
      .raw();
    this.lastAvailableBefore = db
      .prepare(`SELECT ts FROM transitions WHERE device_id = ? AND ts < ? AND to_state IN ('UP', 'DEGRADED') ORDER BY ts DESC LIMIT 1`)
      .pluck();
    this.range = db.prepare(`SELECT ts, ${CODE_SQL} FROM transitions WHERE device_id = ? AND ts >= ? AND ts < ? ORDER BY ts, id`).raw();
  }

  /**
   * The points of the device's walk: the transitions in [from, end), preceded by the
   * state at `from` — or, when the device was DOWN at `from`, by every transition
   * since its last UP/DEGRADED (the open incident's start, for its repair time).
   */
  read(deviceId: string, from: number, end: number): { prefix: [number, number][]; inRange: [number, number][]; lastKnown0: number | null } {
    const prev = this.before.get(deviceId, from) as [number, number] | undefined;
    const inRange = this.range.all(deviceId, from, end) as [number, number][];
    if (!prev) return { prefix: [], inRange, lastKnown0: null };
    const known = prev[1] === UNKNOWN ? (this.beforeKnown.get(deviceId, from) as [number, number] | undefined) : prev;
    if (!known || !isDown(known[1])) return { prefix: [prev], inRange, lastKnown0: known ? known[1] : null };
    const lastUp = this.lastAvailableBefore.get(deviceId, from) as number | undefined;
    const prefix = this.range.all(deviceId, lastUp ?? Number.MIN_SAFE_INTEGER, from) as [number, number][];
    return { prefix, inRange, lastKnown0: null };
  }
}

function readDevice(
  reader: TransitionReader,
  device: InventoryDevice,
  from: number,
  end: number,
  observedUntil: number,
  maintenance: Intervals,
): DeviceData {
  const { prefix, inRange, lastKnown0 } = reader.read(device.id, from, end);
  const points = [...prefix, ...inRange].map(([ts, code]) => ({ ts, code }));
  // After a crash the gateway has not restarted yet: nothing is known since its last sign of life.
  if (observedUntil < end && points.length > 0) {
    while (points.length > 1 && points[points.length - 1]!.ts >= observedUntil) points.pop();
    points.push({ ts: Math.max(observedUntil, points[0]!.ts), code: UNKNOWN });
  }
  const lo = prefix.length > 0 ? from : inRange.length > 0 ? inRange[0]![0] : end;
  const seg: Segments = { lo, hi: end, ts: [], code: [] };
  for (const p of points) {
    const ts = Math.max(p.ts, lo);
    if (seg.ts.length > 0 && seg.ts[seg.ts.length - 1] === ts) seg.code[seg.code.length - 1] = p.code;
    else {
      seg.ts.push(ts);
      seg.code.push(p.code);
    }
  }
  const present = lo < end;
  return {
    device,
    kind: device.kind.id,
    seg,
    maintenance,
    times: present ? timesIn(seg, maintenance) : emptyTimes(),
    incidents: walkIncidents(points, lastKnown0, from, end, maintenance),
    present,
  };
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

const EPSILON = 1e-9;

function meets(value: number, t: Target): boolean {
  return t.op === '>=' ? value >= t.value - EPSILON : value <= t.value + EPSILON;
}

export function statusOf(value: number | null, denominator: number, coverage: number | null, target: Target | null, minCoverage: number): IndicatorStatus {
  if (value === null || denominator === 0) return 'KHONG_DU_DU_LIEU';
  if (coverage !== null && coverage < minCoverage - EPSILON) return 'KHONG_DU_DU_LIEU';
  if (!target) return 'DAT';
  return meets(value, target) ? 'DAT' : 'CHUA_DAT';
}

/** The target in force: config override (op defaults to the definition's), else the definition's. */
export function targetFor(def: IndicatorDefinition, settings: Settings): Target | null {
  const o = settings.indicators.targets[def.id];
  if (!o) return def.defaultTarget;
  return { op: o.op ?? def.defaultTarget?.op ?? '>=', value: o.value };
}

const ratio = (n: number, d: number, scale: number) => (d > 0 ? (n / d) * scale : null);

interface Part {
  numerator: number;
  denominator: number;
  /** Known and expected time for coverage (ms); null where coverage is not time-based. */
  knownMs: number | null;
  expectedMs: number | null;
}

class ReportBuilder {
  constructor(
    private readonly settings: Settings,
    private readonly hamletNames: Map<string, string>,
  ) {}

  deviceRow(d: DeviceData, part: Part, scale: number): DeviceBreakdown {
    const t = d.times;
    const inc = d.incidents;
    return {
      id: d.device.id,
      name: d.device.name,
      kind: d.kind,
      role: d.device.role,
      hamlet: d.device.hamlet,
      value: ratio(part.numerator, part.denominator, scale),
      numerator: part.numerator,
      denominator: part.denominator,
      coverage: part.knownMs !== null && part.expectedMs ? part.knownMs / part.expectedMs : null,
      upMs: t.ms[UP],
      degradedMs: t.ms[DEGRADED],
      downMs: downMs(t),
      unknownMs: t.ms[UNKNOWN],
      maintenanceMs: t.maintenanceMs,
      incidents: inc.incidents,
      mttrMin: inc.repairs > 0 ? inc.repairMs / inc.repairs / 60_000 : null,
    };
  }

  hamletRows(parts: Map<string, Part>, scale: number): Breakdown[] {
    const out: Breakdown[] = [];
    const ids = [...this.hamletNames.keys(), ...[...parts.keys()].filter((h) => !this.hamletNames.has(h))];
    for (const id of ids) {
      const p = parts.get(id);
      if (!p) continue;
      out.push({
        id,
        name: this.hamletNames.get(id) ?? id,
        value: ratio(p.numerator, p.denominator, scale),
        numerator: p.numerator,
        denominator: p.denominator,
        coverage: p.knownMs === null ? null : p.expectedMs ? p.knownMs / p.expectedMs : null,
      });
    }
    return out;
  }

  result(
    def: IndicatorDefinition,
    total: Part,
    scale: number,
    byHamlet: Breakdown[],
    byDevice: DeviceBreakdown[],
    detail?: Record<string, unknown>,
    coverageOverride?: number | null,
  ): IndicatorResult {
    const s = this.settings.indicators;
    const target = targetFor(def, this.settings);
    const value = ratio(total.numerator, total.denominator, scale);
    const coverage =
      coverageOverride !== undefined ? coverageOverride : total.knownMs !== null && total.expectedMs ? total.knownMs / total.expectedMs : null;
    const cooperating = s.cooperatingUnits[def.id] ?? def.cooperatingUnit;
    const r: IndicatorResult = {
      id: def.id,
      name: def.name,
      unit: def.unit,
      method: def.method,
      value,
      numerator: total.numerator,
      denominator: total.denominator,
      target,
      status: statusOf(value, total.denominator, coverage, target, s.minCoverage),
      coverage,
      responsibleUnit: s.responsibleUnits[def.id] ?? def.responsibleUnit,
      byHamlet,
      byDevice,
    };
    if (cooperating !== undefined) r.cooperatingUnit = cooperating;
    if (detail) r.detail = detail;
    return r;
  }
}

function addPart(map: Map<string, Part>, key: string, p: Part): void {
  const q = map.get(key);
  if (!q) {
    map.set(key, { ...p });
    return;
  }
  q.numerator += p.numerator;
  q.denominator += p.denominator;
  if (q.knownMs !== null && p.knownMs !== null) q.knownMs += p.knownMs;
  if (q.expectedMs !== null && p.expectedMs !== null) q.expectedMs += p.expectedMs;
}

function sumParts(parts: Iterable<Part>, timeBased: boolean): Part {
  const t: Part = { numerator: 0, denominator: 0, knownMs: timeBased ? 0 : null, expectedMs: timeBased ? 0 : null };
  for (const p of parts) {
    t.numerator += p.numerator;
    t.denominator += p.denominator;
    if (timeBased) {
      t.knownMs! += p.knownMs ?? 0;
      t.expectedMs! += p.expectedMs ?? 0;
    }
  }
  return t;
}

const matches = (d: DeviceData, sel: readonly Selector[]) =>
  sel.some((s) => s.kind === d.kind && (!s.roles || (d.device.role !== undefined && s.roles.includes(d.device.role))));

const expectedOf = (t: StateTimes) => knownMs(t) + t.ms[UNKNOWN];

// ---------------------------------------------------------------------------
// The computation
// ---------------------------------------------------------------------------

export async function computeIndicators(input: IndicatorInput, period: Period): Promise<IndicatorReport> {
  const { settings, now } = input;
  const db = input.store.database;
  const tz = period.timezone;
  const cfg = settings.indicators;
  if (input.rollup !== false) await rollupAllAsync(input.store, { timezone: tz });

  const from = period.from;
  const end = Math.max(from, Math.min(period.to, now));
  const gw = gatewayObservation(db, now, settings.gateway.heartbeatS);
  const gatewayCoverage = end > from ? overlapMs(gw.runs, from, end) / (end - from) : 0;
  const windows = parseWindows(settings);
  const reader = new TransitionReader(db);

  const inventory = [...input.inventory.devices.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const total = inventory.length + 1;
  const data = new Map<string, DeviceData>();
  let slice = performance.now();
  for (let i = 0; i < inventory.length; i++) {
    const device = inventory[i]!;
    data.set(device.id, readDevice(reader, device, from, end, gw.observedUntil, windowsFor(device, windows)));
    if (performance.now() - slice > SLICE_MS) {
      input.onProgress?.({ done: i + 1, total });
      await new Promise((r) => setImmediate(r));
      slice = performance.now();
    }
  }
  input.onProgress?.({ done: inventory.length, total });

  const hamletNames = new Map(settings.hamlets.map((h) => [h.id, h.name]));
  const build = new ReportBuilder(settings, hamletNames);
  const all = [...data.values()];
  const ctx: Ctx = { settings, db, tz, from, end, all, build, hamletNames, gatewayRuns: gw.runs };
  const indicators = DEFINITIONS.map((def) => COMPUTE[def.id](def, ctx));
  input.onProgress?.({ done: total, total });

  return {
    commune: {
      code: settings.commune.code,
      name: settings.commune.name,
      province: { code: settings.commune.province.code, name: settings.commune.province.name },
    },
    gatewayId: settings.gateway.id,
    period,
    generatedAt: isoWithOffset(now, tz),
    gatewayCoverage,
    partial: now < period.to,
    indicators,
  };
}

interface Ctx {
  settings: Settings;
  db: Database.Database;
  tz: string;
  from: number;
  end: number;
  all: DeviceData[];
  build: ReportBuilder;
  hamletNames: Map<string, string>;
  /** When the gateway was running (merged). */
  gatewayRuns: Intervals;
  daily?: Map<string, DailySum>;
}

type Compute = (def: IndicatorDefinition, ctx: Ctx) => IndicatorResult;

// ---------------------------------------------------------------------------
// Per-indicator computations
// ---------------------------------------------------------------------------

/** Σ available device-time / Σ known device-time (ms), per device, hamlet, commune. */
const timeWeighted: Compute = (def, ctx) => {
  const devices = ctx.all.filter((d) => matches(d, def.kinds));
  const hamlets = new Map<string, Part>();
  const rows: DeviceBreakdown[] = [];
  const parts: Part[] = [];
  for (const d of devices) {
    const t = d.times;
    const part: Part = { numerator: availableMs(t), denominator: knownMs(t), knownMs: knownMs(t), expectedMs: expectedOf(t) };
    parts.push(part);
    rows.push(ctx.build.deviceRow(d, part, 100));
    addPart(hamlets, d.device.hamlet, part);
  }
  return ctx.build.result(def, sumParts(parts, true), 100, ctx.build.hamletRows(hamlets, 100), rows);
};

/** Share of the known time a device was available, in percent (null when nothing is known). */
const availabilityPct = (t: StateTimes) => (knownMs(t) > 0 ? (availableMs(t) / knownMs(t)) * 100 : null);

/**
 * Hamlets covered by at least one working loudspeaker. Per hamlet, the loudspeakers'
 * timelines are combined with three-valued OR: covered while any is available; not
 * covered while all are known and none is available; unknown otherwise. A hamlet
 * counts when covered for at least serviceThresholdPct % of its known time. A hamlet
 * with no loudspeaker is known not covered for the whole period.
 */
const hamletsLoudspeakerCoverage: Compute = (def, ctx) => {
  const threshold = ctx.settings.indicators.serviceThresholdPct;
  const byHamlet = new Map<string, DeviceData[]>();
  const inInventory = new Set<string>();
  for (const d of ctx.all) {
    if (!matches(d, def.kinds)) continue;
    inInventory.add(d.device.hamlet);
    if (d.present) (byHamlet.get(d.device.hamlet) ?? byHamlet.set(d.device.hamlet, []).get(d.device.hamlet)!).push(d);
  }
  const parts = new Map<string, Part>();
  const uncovered: string[] = [];
  const withoutLoudspeaker: string[] = [];
  const span = ctx.end - ctx.from;
  for (const hamletId of ctx.hamletNames.keys()) {
    const devices = byHamlet.get(hamletId) ?? [];
    if (devices.length === 0) {
      // No loudspeaker in the inventory: known not covered, for as long as the gateway
      // was watching (its inventory is what says so; before it ran nothing is known).
      // Loudspeakers in the inventory with no data in the period: unknown.
      const none = !inInventory.has(hamletId);
      const known = none ? overlapMs(ctx.gatewayRuns, ctx.from, ctx.end) : 0;
      parts.set(hamletId, { numerator: 0, denominator: span > 0 ? 1 : 0, knownMs: known, expectedMs: span });
      if (span > 0) (none ? withoutLoudspeaker : uncovered).push(hamletId);
      continue;
    }
    const u = unionCoverage(devices, ctx.end);
    const known = u.coveredMs + u.uncoveredMs;
    const covered = known > 0 && (u.coveredMs / known) * 100 >= threshold - EPSILON;
    parts.set(hamletId, { numerator: covered ? 1 : 0, denominator: 1, knownMs: known, expectedMs: known + u.unknownMs });
    if (!covered) uncovered.push(hamletId);
  }
  const result = ctx.build.result(def, sumParts(parts.values(), true), 100, ctx.build.hamletRows(parts, 100), [], {
    uncovered,
    withoutLoudspeaker,
    serviceThresholdPct: threshold,
  });
  return result;
};

function unionCoverage(devices: DeviceData[], end: number): { coveredMs: number; uncoveredMs: number; unknownMs: number; maintenanceMs: number } {
  const points = new Set<number>();
  for (const d of devices) {
    points.add(d.seg.lo);
    for (const t of d.seg.ts) points.add(t);
    for (const [a, b] of d.maintenance) {
      points.add(a);
      points.add(b);
    }
  }
  const sorted = [...points].filter((t) => t < end).sort((a, b) => a - b);
  const out = { coveredMs: 0, uncoveredMs: 0, unknownMs: 0, maintenanceMs: 0 };
  const start = Math.min(...devices.map((d) => d.seg.lo));
  // One sweep: each device keeps its position in its own change points and windows.
  const at = devices.map(() => 0);
  const inWindow = devices.map(() => 0);
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i]!;
    if (a < start) continue;
    const b = i + 1 < sorted.length ? sorted[i + 1]! : end;
    if (b <= a) continue;
    let present = 0;
    let started = 0;
    let available = false;
    let unknown = false;
    for (let j = 0; j < devices.length; j++) {
      const d = devices[j]!;
      if (d.seg.lo > a) continue;
      started++;
      const m = d.maintenance;
      let w = inWindow[j]!;
      while (w < m.length && m[w]![1] <= a) w++;
      inWindow[j] = w;
      if (w < m.length && m[w]![0] <= a) continue;
      present++;
      const ts = d.seg.ts;
      let k = at[j]!;
      while (k + 1 < ts.length && ts[k + 1]! <= a) k++;
      at[j] = k;
      const c = d.seg.code[k] ?? UNKNOWN;
      if (isAvailable(c)) available = true;
      else if (c === UNKNOWN) unknown = true;
    }
    if (started === 0) continue;
    const ms = b - a;
    if (present === 0) out.maintenanceMs += ms;
    else if (available) out.coveredMs += ms;
    else if (unknown) out.unknownMs += ms;
    else out.uncoveredMs += ms;
  }
  return out;
}

interface DailySum {
  readings: number;
  rsrpN: number;
  rsrpSum: number;
  rsrpMin: number | null;
  ioc: number | null;
  iocTs: number | null;
}

/** Per-device daily rollup sums over the period's days (readings, RSRP, last IOC flag); read once per report. */
function dailySums(ctx: Ctx): Map<string, DailySum> {
  if (ctx.daily) return ctx.daily;
  const out = new Map<string, DailySum>();
  ctx.daily = out;
  if (ctx.end <= ctx.from) return out;
  const rows = ctx.db
    .prepare(
      `SELECT device_id, sum(readings), sum(rsrp_n), sum(rsrp_sum), min(rsrp_min) FROM indicator_daily
       WHERE day >= ? AND day < ? GROUP BY device_id`,
    )
    .raw()
    .all(ctx.from, ctx.end) as [string, number, number, number, number | null][];
  for (const [id, readings, n, sum, min] of rows) out.set(id, { readings, rsrpN: n, rsrpSum: sum, rsrpMin: min, ioc: null, iocTs: null });
  // Last IOC flag before the end (a partial day's flag may be later than `now`: not in a past period's end).
  const ioc = ctx.db
    .prepare(
      `SELECT device_id, ioc_last, ioc_last_ts FROM indicator_daily
       WHERE day >= ? AND day < ? AND ioc_last_ts IS NOT NULL AND ioc_last_ts < ? ORDER BY ioc_last_ts`,
    )
    .raw()
    .all(ctx.from, ctx.end, ctx.end) as [string, number, number][];
  for (const [id, flag, ts] of ioc) {
    const e = out.get(id);
    if (e) {
      e.ioc = flag;
      e.iocTs = ts;
    }
  }
  return out;
}

/**
 * The state a device ended the range in: the state at the end instant or, when
 * that is UNKNOWN (the gateway was off at midnight), the last known state within
 * the final day. Null when nothing is known then; 'maintenance' when the device was
 * under planned maintenance at the end.
 */
function endState(d: DeviceData, end: number): number | 'maintenance' | null {
  if (!d.present) return null;
  if (overlapMs(d.maintenance, end - 1, end) > 0) return 'maintenance';
  const floor = Math.max(d.seg.lo, end - END_LOOKBACK_MS);
  for (let i = d.seg.ts.length - 1; i >= 0; i--) {
    const segEnd = i + 1 < d.seg.ts.length ? d.seg.ts[i + 1]! : d.seg.hi;
    if (segEnd <= floor) break;
    const c = d.seg.code[i]!;
    if (c !== UNKNOWN) return c;
  }
  return null;
}

/**
 * One-stop-shop cameras connected to the IOC at the end of the period: working
 * (UP or DEGRADED) at the end and the last ioc_link reported in the period true.
 * Cameras with no known end state or no ioc_link in the period are counted in the
 * denominator, not the numerator, and lower the coverage (known / counted).
 */
const onestopCameraIoc: Compute = (def, ctx) => {
  const sums = dailySums(ctx);
  const hamlets = new Map<string, Part>();
  const rows: DeviceBreakdown[] = [];
  let known = 0;
  let counted = 0;
  const notConnected: string[] = [];
  const unknown: string[] = [];
  for (const d of ctx.all.filter((x) => matches(x, def.kinds) && x.present)) {
    const state = endState(d, ctx.end);
    if (state === 'maintenance') continue;
    const ioc = sums.get(d.device.id)?.ioc ?? null;
    const isKnown = state !== null && (ioc !== null || isDown(state));
    const connected = state !== null && isAvailable(state) && ioc === 1;
    counted++;
    if (isKnown) known++;
    if (!isKnown) unknown.push(d.device.id);
    else if (!connected) notConnected.push(d.device.id);
    const part: Part = { numerator: connected ? 1 : 0, denominator: 1, knownMs: null, expectedMs: null };
    rows.push(ctx.build.deviceRow(d, part, 100));
    addPart(hamlets, d.device.hamlet, part);
  }
  const total = sumParts(rows.map((r) => ({ numerator: r.numerator, denominator: r.denominator, knownMs: null, expectedMs: null })), false);
  const coverage = counted > 0 ? known / counted : null;
  return ctx.build.result(def, total, 100, ctx.build.hamletRows(hamlets, 100), rows, { notConnected, unknown, at: isoWithOffset(ctx.end, ctx.tz) }, coverage);
};

/** The office-hours window of the last working day that started before `end`, within [from, end). */
export function lastOfficeWindow(settings: Settings, tz: string, from: number, end: number): [number, number] | null {
  const h = settings.indicators.officeHours;
  const [fh, fm] = h.from.split(':').map(Number) as [number, number];
  const [th, tm] = h.to.split(':').map(Number) as [number, number];
  let day = dayStartOf(tz, Math.max(from, end - 1));
  for (let i = 0; i < 31 && day >= from - DAY; i++) {
    const p = localParts(tz, day);
    if (h.days.includes(p.weekday)) {
      const a = Math.max(from, wallToEpoch(tz, p.year, p.month, p.day, fh, fm));
      const b = Math.min(end, wallToEpoch(tz, p.year, p.month, p.day, th, tm));
      if (b > a) return [a, b];
    }
    day = dayStartOf(tz, day - 1);
  }
  return null;
}

/**
 * Office computers on the LAN: seen (UP or DEGRADED) at some time during office
 * hours of the last working day of the period. PCs are switched off at night and at
 * weekends (DOWN then is expected), so a state at midnight would say nothing.
 */
const officeComputersLan: Compute = (def, ctx) => {
  const window = lastOfficeWindow(ctx.settings, ctx.tz, ctx.from, ctx.end);
  const hamlets = new Map<string, Part>();
  const rows: DeviceBreakdown[] = [];
  const parts: Part[] = [];
  const notSeen: string[] = [];
  for (const d of ctx.all.filter((x) => matches(x, def.kinds) && x.present)) {
    const t = window ? timesIn(d.seg, d.maintenance, window[0], window[1]) : emptyTimes();
    const expected = expectedOf(t);
    if (window && expected === 0 && t.maintenanceMs > 0) continue; // under maintenance the whole window
    const seen = availableMs(t) > 0;
    if (!seen) notSeen.push(d.device.id);
    const part: Part = { numerator: seen ? 1 : 0, denominator: 1, knownMs: knownMs(t), expectedMs: window ? expected : 0 };
    parts.push(part);
    rows.push(ctx.build.deviceRow(d, part, 100));
    addPart(hamlets, d.device.hamlet, part);
  }
  return ctx.build.result(def, sumParts(parts, true), 100, ctx.build.hamletRows(hamlets, 100), rows, {
    window: window ? { from: isoWithOffset(window[0], ctx.tz), to: isoWithOffset(window[1], ctx.tz) } : null,
    notSeen,
  });
};

/** Public Wi-Fi points in service: available for at least serviceThresholdPct % of their known time. */
const publicWifiInService: Compute = (def, ctx) => {
  const threshold = ctx.settings.indicators.serviceThresholdPct;
  const hamlets = new Map<string, Part>();
  const rows: DeviceBreakdown[] = [];
  const parts: Part[] = [];
  const outOfService: string[] = [];
  for (const d of ctx.all.filter((x) => matches(x, def.kinds) && x.present)) {
    const a = availabilityPct(d.times);
    const inService = a !== null && a >= threshold - EPSILON;
    if (!inService) outOfService.push(d.device.id);
    const part: Part = { numerator: inService ? 1 : 0, denominator: 1, knownMs: knownMs(d.times), expectedMs: expectedOf(d.times) };
    parts.push(part);
    rows.push(ctx.build.deviceRow(d, part, 100));
    addPart(hamlets, d.device.hamlet, part);
  }
  return ctx.build.result(def, sumParts(parts, true), 100, ctx.build.hamletRows(hamlets, 100), rows, { outOfService, serviceThresholdPct: threshold });
};

/** Spans whose readings are not known to the rollup: before it started, and evicted gaps. */
function readingsUnknown(ctx: Ctx): { since: number | null; gaps: Intervals } {
  const meta = readRollupMeta(ctx.db);
  return { since: meta.since, gaps: mergeIntervals(meta.gaps.map(([a, b]) => [a, b] as [number, number])) };
}

/**
 * Soil-probe completeness: readings received / readings expected, per probe capped
 * at 100 % (a probe reporting faster than its interval must not hide another's
 * gaps). Expected = known time (UP, DEGRADED or DOWN: a silent probe is DOWN and
 * owes its readings; UNKNOWN time owes none) / the probe's reporting interval,
 * counted only where the rollup knows the readings.
 */
const soilProbeCompleteness: Compute = (def, ctx) => {
  const sums = dailySums(ctx);
  const ru = readingsUnknown(ctx);
  const hamlets = new Map<string, Part>();
  const rows: DeviceBreakdown[] = [];
  const parts: Part[] = [];
  for (const d of ctx.all.filter((x) => matches(x, def.kinds) && x.present)) {
    const intervalMs = d.device.heartbeatS * 1000;
    const lo = ru.since === null ? ctx.end : Math.max(d.seg.lo, ru.since);
    // A gap starts at the last reading rolled up before it; that reading (this
    // device's, or a later one) accounts for the slot it starts, so the readings
    // this probe may have lost begin one interval later.
    const gaps: Intervals = ru.gaps.map(([a, b]) => [a + intervalMs, b]);
    const excluded = mergeIntervals([...d.maintenance, ...gaps]);
    const t = lo < ctx.end ? timesIn(d.seg, excluded, lo, ctx.end) : emptyTimes();
    const expectedReadings = knownMs(t) / intervalMs;
    const received = Math.min(sums.get(d.device.id)?.readings ?? 0, expectedReadings);
    // Coverage over the whole of the device's time: time before the rollup started is unknown.
    const part: Part = { numerator: received, denominator: expectedReadings, knownMs: knownMs(t), expectedMs: expectedOf(d.times) };
    parts.push(part);
    rows.push(ctx.build.deviceRow(d, part, 100));
    addPart(hamlets, d.device.hamlet, part);
  }
  return ctx.build.result(def, sumParts(parts, true), 100, ctx.build.hamletRows(hamlets, 100), rows, {
    readingsSince: ru.since === null ? null : isoWithOffset(ru.since, ctx.tz),
    evictedGaps: ru.gaps.length,
  });
};

/**
 * Mains availability: time on mains / time with a known mains state, per power
 * device. The state comes from the mains changes rolled up from readings
 * (indicator_mains) while the device reports (UP / DEGRADED); a DOWN because of
 * power loss (mains-lost, battery-exhausting) is mains lost; any other DOWN (the
 * UPS bridge silent) and UNKNOWN leave the mains state unknown.
 */
const mainsPowerAvailability: Compute = (def, ctx) => {
  const lastBefore = ctx.db.prepare('SELECT mains_ok FROM indicator_mains WHERE device_id = ? AND ts < ? ORDER BY ts DESC LIMIT 1').pluck();
  const changes = ctx.db.prepare('SELECT ts, mains_ok FROM indicator_mains WHERE device_id = ? AND ts >= ? AND ts < ? ORDER BY ts').raw();
  const hamlets = new Map<string, Part>();
  const rows: DeviceBreakdown[] = [];
  const parts: Part[] = [];
  for (const d of ctx.all.filter((x) => matches(x, def.kinds) && x.present)) {
    const lo = d.seg.lo;
    const m0 = lastBefore.get(d.device.id, lo) as number | undefined;
    const ch = changes.all(d.device.id, lo, ctx.end) as [number, number][];
    const points = new Set<number>([lo, ...d.seg.ts, ...ch.map((c) => c[0])]);
    for (const [a, b] of d.maintenance) {
      points.add(a);
      points.add(b);
    }
    const sorted = [...points].filter((t) => t >= lo && t < ctx.end).sort((a, b) => a - b);
    let okMs = 0;
    let lostMs = 0;
    let k = 0;
    let mains: number | null = m0 ?? null;
    for (let i = 0; i < sorted.length; i++) {
      const a = sorted[i]!;
      const b = i + 1 < sorted.length ? sorted[i + 1]! : ctx.end;
      while (k < ch.length && ch[k]![0] <= a) mains = ch[k++]![1];
      if (overlapMs(d.maintenance, a, a + 1) > 0) continue;
      const c = codeAt(d.seg, a) ?? UNKNOWN;
      const state = c === DOWN_POWER ? 0 : isAvailable(c) ? mains : null;
      if (state === 1) okMs += b - a;
      else if (state === 0) lostMs += b - a;
    }
    const part: Part = { numerator: okMs, denominator: okMs + lostMs, knownMs: okMs + lostMs, expectedMs: expectedOf(d.times) };
    parts.push(part);
    rows.push(ctx.build.deviceRow(d, part, 100));
    addPart(hamlets, d.device.hamlet, part);
  }
  return ctx.build.result(def, sumParts(parts, true), 100, ctx.build.hamletRows(hamlets, 100), rows);
};

/**
 * Hamlets with usable cellular signal, from the loudspeakers' LTE modems (each pole
 * a measuring point): a point is usable when its mean RSRP over the period is at or
 * above rsrpUsableDbm; a hamlet when all its measured points are. Hamlets with a
 * weak point are the dead zones (vùng lõm sóng) to report to the operators; hamlets
 * without a measured point are left out of the denominator and lower the coverage.
 */
const cellularCoverageHamlets: Compute = (def, ctx) => {
  const threshold = ctx.settings.indicators.rsrpUsableDbm;
  const sums = dailySums(ctx);
  const points: { deviceId: string; hamlet: string; meanDbm: number; minDbm: number | null; samples: number; usable: boolean }[] = [];
  for (const d of ctx.all.filter((x) => matches(x, def.kinds))) {
    const s = sums.get(d.device.id);
    if (!s || s.rsrpN === 0) continue;
    const mean = s.rsrpSum / s.rsrpN;
    points.push({ deviceId: d.device.id, hamlet: d.device.hamlet, meanDbm: Math.round(mean * 10) / 10, minDbm: s.rsrpMin, samples: s.rsrpN, usable: mean >= threshold });
  }
  const parts = new Map<string, Part>();
  const deadZones: string[] = [];
  const unmeasured: string[] = [];
  for (const hamletId of ctx.hamletNames.keys()) {
    const ps = points.filter((p) => p.hamlet === hamletId);
    if (ps.length === 0) {
      unmeasured.push(hamletId);
      parts.set(hamletId, { numerator: 0, denominator: 0, knownMs: null, expectedMs: null });
      continue;
    }
    const usable = ps.every((p) => p.usable);
    if (!usable) deadZones.push(hamletId);
    parts.set(hamletId, { numerator: usable ? 1 : 0, denominator: 1, knownMs: null, expectedMs: null });
  }
  const hamletCount = ctx.hamletNames.size;
  const measured = hamletCount - unmeasured.length;
  return ctx.build.result(
    def,
    sumParts(parts.values(), false),
    100,
    ctx.build.hamletRows(parts, 100),
    [],
    { deadZones, unmeasured, rsrpUsableDbm: threshold, points },
    hamletCount > 0 ? measured / hamletCount : null,
  );
};

interface KindTally {
  kind: string;
  devices: number;
  incidents: number;
  repairs: number;
  repairMin: number;
  mttrMin: number | null;
  openAtEnd: number;
  repairsAcrossUnknown: number;
}

function incidentDevices(ctx: Ctx): DeviceData[] {
  return ctx.all.filter((d) => !NOT_INCIDENT_KINDS.includes(d.kind) && d.present);
}

function byKind(devices: DeviceData[]): KindTally[] {
  const m = new Map<string, KindTally>();
  for (const d of devices) {
    const k = m.get(d.kind) ?? { kind: d.kind, devices: 0, incidents: 0, repairs: 0, repairMin: 0, mttrMin: null, openAtEnd: 0, repairsAcrossUnknown: 0 };
    k.devices++;
    k.incidents += d.incidents.incidents;
    k.repairs += d.incidents.repairs;
    k.repairMin += d.incidents.repairMs / 60_000;
    k.openAtEnd += d.incidents.openAtEnd ? 1 : 0;
    k.repairsAcrossUnknown += d.incidents.repairsAcrossUnknown;
    m.set(d.kind, k);
  }
  for (const k of m.values()) k.mttrMin = k.repairs > 0 ? k.repairMin / k.repairs : null;
  return [...m.values()].sort((a, b) => a.kind.localeCompare(b.kind));
}

/** Incidents per device: transitions into DOWN starting in the period / devices; per kind in detail.byKind. */
const incidentsPerDevice: Compute = (def, ctx) => {
  const devices = incidentDevices(ctx);
  const hamlets = new Map<string, Part>();
  const rows: DeviceBreakdown[] = [];
  const parts: Part[] = [];
  for (const d of devices) {
    const part: Part = { numerator: d.incidents.incidents, denominator: 1, knownMs: knownMs(d.times), expectedMs: expectedOf(d.times) };
    parts.push(part);
    rows.push(ctx.build.deviceRow(d, part, 1));
    addPart(hamlets, d.device.hamlet, part);
  }
  return ctx.build.result(def, sumParts(parts, true), 1, ctx.build.hamletRows(hamlets, 1), rows, { byKind: byKind(devices) });
};

/** Mean time to repair: Σ observed DOWN minutes of repairs ending in the period / repairs. */
const mttr: Compute = (def, ctx) => {
  const devices = incidentDevices(ctx);
  const hamlets = new Map<string, Part>();
  const rows: DeviceBreakdown[] = [];
  const parts: Part[] = [];
  for (const d of devices) {
    const part: Part = { numerator: d.incidents.repairMs / 60_000, denominator: d.incidents.repairs, knownMs: knownMs(d.times), expectedMs: expectedOf(d.times) };
    parts.push(part);
    rows.push(ctx.build.deviceRow(d, part, 1));
    addPart(hamlets, d.device.hamlet, part);
  }
  const tallies = byKind(devices);
  return ctx.build.result(def, sumParts(parts, true), 1, ctx.build.hamletRows(hamlets, 1), rows, {
    byKind: tallies,
    openAtEnd: tallies.reduce((n, k) => n + k.openAtEnd, 0),
    repairsAcrossUnknown: tallies.reduce((n, k) => n + k.repairsAcrossUnknown, 0),
  });
};

const COMPUTE: Record<IndicatorId, Compute> = {
  loudspeaker_availability: timeWeighted,
  hamlets_loudspeaker_coverage: hamletsLoudspeakerCoverage,
  onestop_camera_ioc: onestopCameraIoc,
  onestop_camera_availability: timeWeighted,
  security_camera_availability: timeWeighted,
  office_computers_lan: officeComputersLan,
  wan_availability: timeWeighted,
  tslcd_availability: timeWeighted,
  public_wifi_in_service: publicWifiInService,
  vconf_availability: timeWeighted,
  soil_probe_completeness: soilProbeCompleteness,
  mains_power_availability: mainsPowerAvailability,
  cellular_coverage_hamlets: cellularCoverageHamlets,
  incidents_per_device: incidentsPerDevice,
  mttr,
};


// ---------------------------------------------------------------------------
// Glue for the parts that take a `computeReport(periodId, onProgress?)`
// (the half-year report: gateway/report/cli.ts; the IOC feed: gateway/uplink/feed.ts)
// ---------------------------------------------------------------------------

export type ComputeReportFn = (periodId: string, onProgress?: (fraction: number, label: string) => void) => Promise<IndicatorReport>;

export interface ReportSource {
  settings: Settings;
  store: RollupStore;
  inventory: { devices: ReadonlyMap<string, InventoryDevice> };
  /** The gateway's guarded clock; default the system clock. */
  clock?: { now(): number };
  /** false when the caller has rolled up already (or the file is read-only). */
  rollup?: boolean;
}

/** `(periodId, onProgress) => IndicatorReport`: parses the id (CE_PERIOD_INVALID), computes up to now. */
export function reportComputer(src: ReportSource): ComputeReportFn {
  return async (periodId, onProgress) => {
    const now = (src.clock ?? Date).now();
    const period = parsePeriod(periodId, src.settings.commune.timezone);
    return computeIndicators(
      {
        settings: src.settings,
        store: src.store,
        inventory: src.inventory,
        now,
        ...(src.rollup === undefined ? {} : { rollup: src.rollup }),
        ...(onProgress ? { onProgress: ({ done, total }: { done: number; total: number }) => onProgress(total > 0 ? done / total : 1, 'Đang tính chỉ tiêu') } : {}),
      },
      period,
    );
  };
}
