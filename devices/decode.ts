/**
 * Kind-level decoding: a JSON object already mapped to canonical field names (by
 * the config profile) is normalised by the kind and validated by its telemetry
 * schema. Vendor mapping happens before this (gateway/pipeline/profile.ts).
 */
import type { DeviceKind, Fields } from './define.js';
import { implausibleFields } from './define.js';

export type DecodeResult =
  | { ok: true; fields: Fields; implausible: readonly string[] }
  | { ok: false; code: 'CE_PAYLOAD_SCHEMA'; message: string };

export function decodeFields(kind: DeviceKind, raw: unknown): DecodeResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, code: 'CE_PAYLOAD_SCHEMA', message: 'payload must be a JSON object' };
  }
  const normalized = kind.normalize(raw as Record<string, unknown>);
  // The compiled check answers for every valid payload; zod decides (and words) the rest.
  const checked = kind.check(normalized);
  if (checked) return { ok: true, fields: checked.fields, implausible: checked.implausible };
  const parsed = kind.schema.safeParse(normalized);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length ? `${issue.path.join('.')}: ` : '';
    return { ok: false, code: 'CE_PAYLOAD_SCHEMA', message: `${where}${issue?.message ?? 'invalid'}` };
  }
  const fields: Fields = {};
  for (const k in parsed.data) {
    const v = parsed.data[k];
    if (v !== undefined) fields[k] = v;
  }
  return { ok: true, fields, implausible: implausibleFields(kind, fields) };
}
