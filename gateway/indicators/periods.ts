/**
 * Reporting periods: `2026-05-14` (day), `2026-05` (month), `2026-Q2`, `2026-H1`,
 * `2026-H2`, `2026` (year) and `2026-01-01..2026-03-31` (custom, both days
 * inclusive). Boundaries are 00:00 of the first day and 00:00 of the day after the
 * last one, in the commune's time zone (`commune.timezone`, Asia/Ho_Chi_Minh).
 *
 * Viet Nam has had no daylight saving time since 1975 (UTC+7 all year), but the
 * arithmetic below never assumes a fixed offset: it asks the IANA database (Intl,
 * ECMA-402) for the offset at each instant, so the same code is right for a zone
 * with DST, including a day whose midnight does not exist (America/Santiago moves
 * its clocks from 24:00 to 01:00; that day starts at 01:00).
 */
import { CodedError } from '../errors.js';
import type { Period, PeriodKind } from './types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const PERIOD_FORMS = '2026-05-14, 2026-05, 2026-Q2, 2026-H1, 2026-H2, 2026 or 2026-01-01..2026-03-31';

/** Wall-clock parts of an instant in a zone. `weekday`: ISO 8601, 1 = Monday … 7 = Sunday. */
export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new CodedError('CE_CONFIG_INVALID', `commune.timezone "${timezone}" is not an IANA time zone (e.g. Asia/Ho_Chi_Minh)`);
    }
    formatters.set(timezone, f);
  }
  return f;
}

/**
 * Zones with one fixed UTC offset over the years this gateway deals with, read
 * without ICU: the first Intl.DateTimeFormat with a `timeZone` touches about 8 MB
 * of ICU time-zone data (measured with node --expose-gc), a noticeable share of a
 * Pi gateway's memory, for arithmetic that is a constant here. Asia/Ho_Chi_Minh has
 * been UTC+7 since 13 June 1975 (IANA tz `asia` file; no DST since); before that
 * date, and for any other zone, ICU answers.
 */
const FIXED_ZONES: Record<string, { offsetMs: number; since: number }> = {
  'Asia/Ho_Chi_Minh': { offsetMs: 7 * 3_600_000, since: Date.UTC(1975, 5, 12, 16) },
  'Asia/Saigon': { offsetMs: 7 * 3_600_000, since: Date.UTC(1975, 5, 12, 16) },
  UTC: { offsetMs: 0, since: -Infinity },
  'Etc/UTC': { offsetMs: 0, since: -Infinity },
};

export function localParts(timezone: string, t: number): LocalParts {
  const fixed = FIXED_ZONES[timezone];
  if (fixed && t >= fixed.since) {
    const d = new Date(t + fixed.offsetMs);
    const dow = d.getUTCDay();
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      weekday: dow === 0 ? 7 : dow,
    };
  }
  const p: Record<string, number> = {};
  for (const part of formatter(timezone).formatToParts(t)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const year = p['year']!;
  const month = p['month']!;
  const day = p['day']!;
  const dow = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  return { year, month, day, hour: p['hour']!, minute: p['minute']!, second: p['second']!, weekday: dow === 0 ? 7 : dow };
}

/** The local wall-clock time of `t` read as if it were UTC (for comparisons of wall times). */
function wallOf(timezone: string, t: number): number {
  const p = localParts(timezone, t);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) + (((t % 1000) + 1000) % 1000);
}

/** Offset of the zone at instant `t` (local wall time − UTC), ms. */
export function zoneOffsetMs(timezone: string, t: number): number {
  return wallOf(timezone, t) - t;
}

/**
 * The first instant whose local wall-clock time is `year-month-day hour:minute`.
 * When that wall time happens twice (clocks set back), the earlier instant; when it
 * does not happen at all (clocks set forward over it), the instant the clocks jump,
 * i.e. the first instant after the gap.
 */
export function wallToEpoch(timezone: string, year: number, month: number, day: number, hour = 0, minute = 0): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  // Every offset in use within a day either side (real zones change at most once a day).
  const offsets = new Set([zoneOffsetMs(timezone, wall - DAY), zoneOffsetMs(timezone, wall), zoneOffsetMs(timezone, wall + DAY)]);
  let best: number | null = null;
  for (const o of offsets) {
    const t = wall - o;
    if (wallOf(timezone, t) === wall && (best === null || t < best)) best = t;
  }
  if (best !== null) return best;
  // In a gap: binary search for the first instant whose wall time is past `wall`.
  const candidates = [...offsets].map((o) => wall - o);
  let lo = Math.min(...candidates) - HOUR;
  let hi = Math.max(...candidates) + HOUR;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallOf(timezone, mid) > wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** 00:00 (local) of the day containing `t`. */
export function dayStartOf(timezone: string, t: number): number {
  const p = localParts(timezone, t);
  const start = wallToEpoch(timezone, p.year, p.month, p.day);
  // A day whose midnight is skipped starts later than some of its own instants
  // cannot happen (the day begins when the clocks jump), but guard anyway.
  return start <= t ? start : wallToEpoch(timezone, p.year, p.month, p.day - 1);
}

/** 00:00 (local) of the day after the day containing `t`. */
export function nextDayStart(timezone: string, t: number): number {
  const p = localParts(timezone, t);
  const d = new Date(Date.UTC(p.year, p.month - 1, p.day + 1));
  return wallToEpoch(timezone, d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
}

function invalid(id: string, why: string): CodedError {
  return new CodedError('CE_PERIOD_INVALID', `"${id}": ${why}; expected ${PERIOD_FORMS}`);
}

const MIN_YEAR = 1970;
const MAX_YEAR = 2999;

function checkDate(id: string, y: number, m: number, d: number): void {
  if (y < MIN_YEAR || y > MAX_YEAR) throw invalid(id, `year ${y} is out of range ${MIN_YEAR}..${MAX_YEAR}`);
  if (m < 1 || m > 12) throw invalid(id, `month ${m} does not exist`);
  const probe = new Date(Date.UTC(y, m - 1, d));
  if (d < 1 || probe.getUTCMonth() !== m - 1) throw invalid(id, `${y}-${pad(m)}-${pad(d)} is not a date`);
}

const pad = (n: number) => String(n).padStart(2, '0');
const ymd = (y: number, m: number, d: number) => `${y}-${pad(m)}-${pad(d)}`;

/** [first day, last day] (inclusive, as y/m/d) of a calendar period. */
function span(kind: Exclude<PeriodKind, 'custom'>, y: number, n: number, d = 1): { first: [number, number, number]; afterLast: [number, number, number] } {
  switch (kind) {
    case 'day':
      return { first: [y, n, d], afterLast: [y, n, d + 1] };
    case 'month':
      return { first: [y, n, 1], afterLast: [y, n + 1, 1] };
    case 'quarter':
      return { first: [y, 3 * (n - 1) + 1, 1], afterLast: [y, 3 * n + 1, 1] };
    case 'half':
      return { first: [y, 6 * (n - 1) + 1, 1], afterLast: [y, 6 * n + 1, 1] };
    case 'year':
      return { first: [y, 1, 1], afterLast: [y + 1, 1, 1] };
  }
}

/** Local midnight of a y/m/d that may overflow (month 13, day 32): normalised through Date.UTC. */
function midnight(timezone: string, [y, m, d]: [number, number, number]): number {
  const n = new Date(Date.UTC(y, m - 1, d));
  return wallToEpoch(timezone, n.getUTCFullYear(), n.getUTCMonth() + 1, n.getUTCDate());
}

/**
 * Parse a period id into its boundaries in `timezone`. Throws CE_PERIOD_INVALID
 * (HTTP 400) naming what is wrong and the accepted forms.
 */
export function parsePeriod(input: string, timezone: string): Period {
  const id = input.trim();
  let m: RegExpExecArray | null;
  if ((m = /^(\d{4})-(\d{2})-(\d{2})\.\.(\d{4})-(\d{2})-(\d{2})$/.exec(id))) {
    const [a, b] = [
      [Number(m[1]), Number(m[2]), Number(m[3])] as [number, number, number],
      [Number(m[4]), Number(m[5]), Number(m[6])] as [number, number, number],
    ];
    checkDate(id, ...a);
    checkDate(id, ...b);
    const from = midnight(timezone, a);
    const to = midnight(timezone, [b[0], b[1], b[2] + 1]);
    if (to <= from) throw invalid(id, `the last day ${ymd(...b)} is before the first day ${ymd(...a)}`);
    return { id: `${ymd(...a)}..${ymd(...b)}`, kind: 'custom', from, to, timezone };
  }
  let kind: Exclude<PeriodKind, 'custom'>;
  let year: number;
  let n = 1;
  let day = 1;
  let normalized: string;
  if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(id))) {
    kind = 'day';
    year = Number(m[1]);
    n = Number(m[2]);
    day = Number(m[3]);
    checkDate(id, year, n, day);
    normalized = ymd(year, n, day);
  } else if ((m = /^(\d{4})-(\d{2})$/.exec(id))) {
    kind = 'month';
    year = Number(m[1]);
    n = Number(m[2]);
    checkDate(id, year, n, 1);
    normalized = `${year}-${pad(n)}`;
  } else if ((m = /^(\d{4})-[Qq](\d)$/.exec(id))) {
    kind = 'quarter';
    year = Number(m[1]);
    n = Number(m[2]);
    if (n < 1 || n > 4) throw invalid(id, `quarter ${n} does not exist (Q1..Q4)`);
    checkDate(id, year, 1, 1);
    normalized = `${year}-Q${n}`;
  } else if ((m = /^(\d{4})-[Hh](\d)$/.exec(id))) {
    kind = 'half';
    year = Number(m[1]);
    n = Number(m[2]);
    if (n < 1 || n > 2) throw invalid(id, `half-year ${n} does not exist (H1, H2)`);
    checkDate(id, year, 1, 1);
    normalized = `${year}-H${n}`;
  } else if ((m = /^(\d{4})$/.exec(id))) {
    kind = 'year';
    year = Number(m[1]);
    checkDate(id, year, 1, 1);
    normalized = String(year);
  } else {
    throw invalid(id, 'not a period id');
  }
  const s = span(kind, year, n, day);
  return { id: normalized, kind, from: midnight(timezone, s.first), to: midnight(timezone, s.afterLast), timezone };
}

/** The id of the calendar period of `kind` that contains instant `t` (e.g. `2026-H1`). */
export function periodIdAt(kind: Exclude<PeriodKind, 'custom'>, t: number, timezone: string): string {
  const p = localParts(timezone, t);
  switch (kind) {
    case 'day':
      return ymd(p.year, p.month, p.day);
    case 'month':
      return `${p.year}-${pad(p.month)}`;
    case 'quarter':
      return `${p.year}-Q${Math.ceil(p.month / 3)}`;
    case 'half':
      return `${p.year}-H${p.month <= 6 ? 1 : 2}`;
    case 'year':
      return String(p.year);
  }
}

/** The calendar period of `kind` containing `t` (the API's default is the current month). */
export function periodAt(kind: Exclude<PeriodKind, 'custom'>, t: number, timezone: string): Period {
  return parsePeriod(periodIdAt(kind, t, timezone), timezone);
}

/** ISO 8601 with the zone's offset at that instant, e.g. `2026-07-01T08:15:00+07:00`. */
export function isoWithOffset(t: number, timezone: string): string {
  const off = Math.round(zoneOffsetMs(timezone, t) / 60_000);
  const local = new Date(t + off * 60_000).toISOString().slice(0, 19);
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `${local}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}
