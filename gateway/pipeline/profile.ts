/**
 * Applying a vendor profile (config) to a decoded JSON payload: vendor paths,
 * scales and enum values → canonical field names; the device timestamp, if any.
 */
import type { ProfileSettings } from '../settings/schema.js';

export interface Mapped {
  values: Record<string, unknown>;
  /** Device timestamp (epoch ms), undefined when the payload carries none. */
  ts: number | undefined;
  /** Set when a timestamp was present but unreadable. */
  tsInvalid?: boolean;
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  if (!path.includes('.')) return obj[path];
  let cur: unknown = obj;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

export function applyProfile(profile: ProfileSettings, payload: Record<string, unknown>): Mapped {
  const mappings = Object.entries(profile.fields);
  let values: Record<string, unknown>;
  if (mappings.length === 0) {
    values = payload;
  } else {
    // Canonical names are accepted as they are; mapped ones override them.
    values = { ...payload };
    for (const [canonical, m] of mappings) {
      const spec = typeof m === 'string' ? { path: m } : m;
      let v = getPath(payload, spec.path);
      if (v === undefined) continue;
      // Vendor enums come as text ("ON") or numbers (APC upsBasicOutputStatus 3): compare as text.
      if (spec.values && (typeof v === 'string' || typeof v === 'number') && Object.hasOwn(spec.values, String(v))) v = spec.values[String(v)];
      if (typeof v === 'number' && (spec.scale !== undefined || spec.offset !== undefined)) {
        v = v * (spec.scale ?? 1) + (spec.offset ?? 0);
      }
      values[canonical] = v;
    }
  }
  const tsPath = profile.timestamp.path;
  const rawTs = getPath(payload, tsPath);
  if (values === payload && rawTs !== undefined) {
    values = { ...payload };
  }
  if (rawTs !== undefined) delete values[tsPath.split('.')[0]!];
  if (rawTs === undefined) return { values, ts: undefined };
  const ts = parseTimestamp(rawTs, profile.timestamp.unit);
  return ts === undefined ? { values, ts: undefined, tsInvalid: true } : { values, ts };
}

export function parseTimestamp(raw: unknown, unit: 'auto' | 'ms' | 's' | 'iso'): number | undefined {
  if (typeof raw === 'number' && Number.isFinite(raw)) {
    if (unit === 'ms') return Math.round(raw);
    if (unit === 's') return Math.round(raw * 1000);
    if (unit === 'iso') return undefined;
    // auto: 1e11 ms is 1973; 1e11 s is year 5138. Below → seconds.
    return Math.round(raw < 1e11 ? raw * 1000 : raw);
  }
  if (typeof raw === 'string' && (unit === 'auto' || unit === 'iso')) {
    const t = Date.parse(raw);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}
