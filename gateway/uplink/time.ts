/**
 * Wall-clock helpers in the commune's zone (Asia/Ho_Chi_Minh): ISO 8601 times
 * with the local offset (`2026-05-14T08:00:00.000+07:00`, RFC 3339 §5.6), and
 * the id of the period an instant falls in, in the format of
 * gateway/indicators/types.ts `Period.id` (`2026-05-14`, `2026-05`, `2026-Q2`,
 * `2026-H1`, `2026`).
 */
import { localParts, type LocalParts } from '../indicators/periods.js';
import type { FeedPeriodKind } from './settings.js';

/** The zone's wall time of an instant: the indicators' reader (no ICU for fixed-offset zones). */
function wall(ms: number, timeZone: string): Omit<LocalParts, 'weekday'> {
  return localParts(timeZone, ms);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `2026-05-14T08:00:00.123+07:00`: the instant in the zone's wall time with its UTC offset. */
export function isoWithOffset(ms: number, timeZone: string): string {
  const w = wall(ms, timeZone);
  const msPart = ((ms % 1000) + 1000) % 1000;
  // Offset = wall time read as UTC minus the instant (whole seconds).
  const offsetMin = Math.round((Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - (ms - msPart)) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return (
    `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}.${pad(msPart, 3)}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/** The id of the period of `kind` that contains `ms`, in `timeZone`. */
export function periodIdAt(ms: number, kind: FeedPeriodKind, timeZone: string): string {
  const w = wall(ms, timeZone);
  switch (kind) {
    case 'day':
      return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
    case 'month':
      return `${pad(w.year, 4)}-${pad(w.month)}`;
    case 'quarter':
      return `${pad(w.year, 4)}-Q${Math.ceil(w.month / 3)}`;
    case 'half':
      return `${pad(w.year, 4)}-H${w.month <= 6 ? 1 : 2}`;
    case 'year':
      return pad(w.year, 4);
  }
}
