/**
 * Per-device state timelines and the time arithmetic of the indicators.
 *
 * A device's timeline over [lo, hi) is a list of change points (ts, code); each
 * code holds until the next point (the last one until hi). Codes: UP, DEGRADED,
 * DOWN, UNKNOWN, and DOWN_POWER — DOWN because the site lost power (a power
 * device's `mains-lost` / `battery-exhausting`), which the mains indicator reads
 * as "mains known lost", unlike a silent device (DOWN `heartbeat-timeout`), whose
 * mains state is unknown.
 */

export const UP = 0;
export const DEGRADED = 1;
export const DOWN = 2;
export const UNKNOWN = 3;
export const DOWN_POWER = 4;
export type StateCode = 0 | 1 | 2 | 3 | 4;

export const isAvailable = (c: number) => c === UP || c === DEGRADED;
export const isDown = (c: number) => c === DOWN || c === DOWN_POWER;
export const isKnown = (c: number) => c !== UNKNOWN;

/** Reasons of a power device's DOWN that say the mains is gone (devices/power/kind.ts). */
export const POWER_LOSS_REASONS = ['mains-lost', 'battery-exhausting'] as const;

/** Sorted, non-overlapping [from, to) intervals. */
export type Intervals = [number, number][];

export function mergeIntervals(list: Intervals): Intervals {
  const sorted = list.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: Intervals = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** Milliseconds of [a, b) inside `list` (merged). */
export function overlapMs(list: Intervals, a: number, b: number): number {
  let ms = 0;
  for (const [x, y] of list) {
    if (x >= b) break;
    if (y <= a) continue;
    ms += Math.min(b, y) - Math.max(a, x);
  }
  return ms;
}

/** The merged interval containing t, or undefined. */
export function intervalAt(list: Intervals, t: number): [number, number] | undefined {
  for (const iv of list) {
    if (iv[0] > t) return undefined;
    if (t < iv[1]) return iv;
  }
  return undefined;
}

/** Time in each state code over a range, maintenance excluded from all of them. */
export interface StateTimes {
  /** Indexed by state code (UP, DEGRADED, DOWN, UNKNOWN, DOWN_POWER). */
  ms: [number, number, number, number, number];
  maintenanceMs: number;
}

export interface Segments {
  /** First instant counted (the period start, or the device's first transition). */
  lo: number;
  hi: number;
  ts: number[];
  code: number[];
}

export const emptyTimes = (): StateTimes => ({ ms: [0, 0, 0, 0, 0], maintenanceMs: 0 });

/** State times of `seg` within [a, b) ∩ [seg.lo, seg.hi), `excluded` left out (and counted as maintenance). */
export function timesIn(seg: Segments, excluded: Intervals, a = seg.lo, b = seg.hi): StateTimes {
  const out = emptyTimes();
  const lo = Math.max(a, seg.lo);
  const hi = Math.min(b, seg.hi);
  if (hi <= lo) return out;
  const n = seg.ts.length;
  for (let i = 0; i < n; i++) {
    const s = Math.max(seg.ts[i]!, lo);
    const e = Math.min(i + 1 < n ? seg.ts[i + 1]! : seg.hi, hi);
    if (e <= s) continue;
    const m = excluded.length ? overlapMs(excluded, s, e) : 0;
    out.maintenanceMs += m;
    out.ms[seg.code[i]! as StateCode] += e - s - m;
  }
  return out;
}

export const knownMs = (t: StateTimes) => t.ms[UP] + t.ms[DEGRADED] + t.ms[DOWN] + t.ms[DOWN_POWER];
export const availableMs = (t: StateTimes) => t.ms[UP] + t.ms[DEGRADED];
export const downMs = (t: StateTimes) => t.ms[DOWN] + t.ms[DOWN_POWER];

/** Code at instant t (t within [lo, hi)), or undefined before lo. */
export function codeAt(seg: Segments, t: number): number | undefined {
  if (t < seg.lo || seg.ts.length === 0) return undefined;
  let lo = 0;
  let hi = seg.ts.length - 1;
  if (seg.ts[0]! > t) return undefined;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (seg.ts[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  return seg.code[lo];
}

/**
 * Incidents of one device, walking its transitions in ts order.
 *
 * - An incident starts at a transition into DOWN when the last *known* state was
 *   not DOWN: DOWN → UNKNOWN (gateway stopped) → DOWN (still silent after the
 *   restart) is one outage, not two.
 * - A DOWN that starts inside planned maintenance is not an incident; if the device
 *   is still DOWN when the window ends, the incident starts then.
 * - It is repaired at the next transition into UP or DEGRADED. The repair time is
 *   the DOWN time observed in between: UNKNOWN stretches (the gateway off) and
 *   maintenance are not counted, consistently with availability; repairs that
 *   spanned UNKNOWN time are counted in `repairsAcrossUnknown`.
 * - An incident is counted in the period it starts in; its repair in the period it
 *   ends in (the earlier part of the walk, before `from`, only feeds repair times).
 */
export interface IncidentStats {
  incidents: number;
  repairs: number;
  repairMs: number;
  repairsAcrossUnknown: number;
  /** An incident is still open at the end of the range. */
  openAtEnd: boolean;
}

export function walkIncidents(
  points: { ts: number; code: number }[],
  /** Last known (non-UNKNOWN) state before points[0], if any. */
  lastKnown0: number | null,
  from: number,
  end: number,
  maintenance: Intervals,
): IncidentStats {
  const out: IncidentStats = { incidents: 0, repairs: 0, repairMs: 0, repairsAcrossUnknown: 0, openAtEnd: false };
  let lastKnown = lastKnown0;
  let open: { downMs: number; acrossUnknown: boolean } | null = null;
  let suppressedUntil: number | null = null;
  const inRange = (t: number) => t >= from && t < end;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    const segEnd = i + 1 < points.length ? points[i + 1]!.ts : end;
    // 1. the new state at p.ts
    if (isDown(p.code)) {
      if (lastKnown === null || !isDown(lastKnown)) {
        const window = intervalAt(maintenance, p.ts);
        if (window) suppressedUntil = window[1];
        else {
          open = { downMs: 0, acrossUnknown: false };
          if (inRange(p.ts)) out.incidents++;
        }
      }
      lastKnown = p.code;
    } else if (isAvailable(p.code)) {
      if (open) {
        if (inRange(p.ts)) {
          out.repairs++;
          out.repairMs += open.downMs;
          if (open.acrossUnknown) out.repairsAcrossUnknown++;
        }
        open = null;
      }
      suppressedUntil = null;
      lastKnown = p.code;
    }
    // 2. the segment [p.ts, segEnd) in that state
    if (segEnd <= p.ts) continue;
    if (suppressedUntil !== null && lastKnown !== null && isDown(lastKnown) && segEnd > suppressedUntil) {
      // Still down when the maintenance window closed: a failure from then on.
      if (inRange(suppressedUntil)) out.incidents++;
      open = { downMs: 0, acrossUnknown: false };
      suppressedUntil = null;
    }
    if (open) {
      if (isDown(p.code)) open.downMs += segEnd - p.ts - (maintenance.length ? overlapMs(maintenance, p.ts, segEnd) : 0);
      else if (p.code === UNKNOWN) open.acrossUnknown = true;
    }
  }
  out.openAtEnd = open !== null;
  return out;
}
