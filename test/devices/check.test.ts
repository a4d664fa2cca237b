/**
 * The compiled telemetry check (`kind.check`, the per-message path) and the kind's
 * zod schema (the contract, and the wording of every rejection) must give the same
 * verdict and the same canonical fields on every input. Generated payloads mix valid
 * values, the edges zod v4 draws (NaN, ±Infinity, unsafe integers, 256 vs 257 UTF-16
 * units, enum members), wrong types, undefined and unknown keys, for every kind.
 */
import { describe, expect, it } from 'vitest';
import { decodeFields } from '../../devices/decode.js';
import { defineKind, implausibleFields, type DeviceKind, type FieldSpec, type Fields } from '../../devices/define.js';
import { mulberry32 } from '../../devices/prng.js';
import { KINDS } from '../../devices/registry.js';

const WRONG: unknown[] = [null, {}, [], '1', 1, 1.5, true, false, '', Number.NaN];

function candidates(f: FieldSpec): unknown[] {
  switch (f.type) {
    case 'float':
      return [0, -0, 1.5, -273.15, f.min ?? -1, f.max ?? 1e6, (f.max ?? 100) + 1, (f.min ?? 0) - 1, Number.NaN, Infinity, -Infinity, 1e308];
    case 'integer':
      return [0, 1, -1, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1.5, 1.0, f.min ?? 0, f.max ?? 10, (f.max ?? 10) + 1, (f.min ?? 0) - 1];
    case 'boolean':
      return [true, false, 'true', 0, 1];
    case 'string':
      return f.values
        ? [...f.values, `${f.values[0]}x`, f.values[0]!.toUpperCase(), '']
        : ['', 'ok', 'x'.repeat(256), 'x'.repeat(257), '😀'.repeat(128), '😀'.repeat(129)];
  }
}

/** Values every field of this type accepts (out-of-range numbers included: they are kept, flagged implausible). */
function valid(f: FieldSpec): unknown[] {
  switch (f.type) {
    case 'float':
      return [0, 1.5, -3.25, f.min ?? 0, f.max ?? 100, (f.max ?? 100) + 1];
    case 'integer':
      return [0, 1, f.min ?? 0, f.max ?? 10, (f.min ?? 0) - 1];
    case 'boolean':
      return [true, false];
    case 'string':
      return f.values ? [...f.values] : ['ok', ''];
  }
}

function zodVerdict(kind: DeviceKind, raw: Record<string, unknown>): Fields | null {
  const parsed = kind.schema.safeParse(raw);
  if (!parsed.success) return null;
  const out: Fields = {};
  for (const [k, v] of Object.entries(parsed.data)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * No registered kind has a free-text field yet (all strings are enums); this one
 * covers that branch, and every type with and without a plausible range.
 */
const SYNTHETIC = defineKind({
  id: 'synthetic',
  label: { vi: 'Thử', en: 'Synthetic' },
  capabilities: [
    {
      id: 'all-types',
      fields: [
        { name: 'note', type: 'string', label: { vi: 'Ghi chú', en: 'Note' } },
        { name: 'mode', type: 'string', values: ['auto', 'manual'], label: { vi: 'Chế độ', en: 'Mode' } },
        { name: 'temp_c', type: 'float', min: -40, max: 85, label: { vi: 'Nhiệt độ', en: 'Temperature' } },
        { name: 'gain_db', type: 'float', label: { vi: 'Độ lợi', en: 'Gain' } },
        { name: 'count', type: 'integer', min: 0, label: { vi: 'Số', en: 'Count' } },
        { name: 'armed', type: 'boolean', label: { vi: 'Bật', en: 'Armed' } },
      ],
    },
  ],
  simulator: () => ({ next: () => ({}) }),
});

describe('kind.check agrees with the zod schema', () => {
  for (const kind of [...KINDS, SYNTHETIC]) {
    it(`${kind.id}: same verdict and fields on 3,000 generated payloads`, () => {
      const rng = mulberry32(kind.id.length * 7919 + kind.fields.length);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
      let accepted = 0;
      let rejected = 0;
      for (let n = 0; n < 3000; n++) {
        const raw: Record<string, unknown> = {};
        // Mostly valid payloads with a few fields, some with one bad value, some empty.
        const density = pick([0, 0.1, 0.3, 0.7, 1]);
        const onlyValid = rng() < 0.5;
        for (const f of kind.fields) {
          if (rng() >= density) continue;
          const r = rng();
          raw[f.name] = onlyValid ? pick(valid(f)) : r < 0.7 ? pick(candidates(f)) : r < 0.85 ? pick(WRONG) : undefined;
        }
        if (rng() < 0.3) raw[pick(['vendor_x', 'rssi', 'Voltage', '__proto__', 'constructor'])] = pick([1, 'a', null]);
        const expected = zodVerdict(kind, raw);
        const got = kind.check(raw);
        const decoded = decodeFields(kind, raw);
        const why = JSON.stringify(raw);
        if (expected === null) {
          rejected++;
          expect(got, why).toBeNull();
        } else {
          accepted++;
          // The one valid input the check leaves to zod: a free text over 256 UTF-16 units.
          const deferred = kind.fields.some((f) => f.type === 'string' && !f.values && typeof raw[f.name] === 'string' && (raw[f.name] as string).length > 256);
          if (deferred) expect(got, why).toBeNull();
          else {
            expect(got, why).not.toBeNull();
            expect(got!.fields).toStrictEqual(expected);
            expect([...got!.implausible]).toStrictEqual([...implausibleFields(kind, expected)]);
          }
        }
        // decodeFields (normalize, check, zod for the rest) = zod on the normalized payload.
        const viaZod = zodVerdict(kind, kind.normalize(raw));
        expect(decoded.ok ? decoded.fields : null, why).toStrictEqual(viaZod);
      }
      // The generator must exercise both sides, or the agreement proves nothing.
      expect(accepted).toBeGreaterThan(300);
      expect(rejected).toBeGreaterThan(300);
    });
  }

  it('a rejection still carries the zod message', () => {
    const power = KINDS.find((k) => k.id === 'power')!;
    const field = power.fields.find((f) => f.type === 'float')!;
    const bad = decodeFields(power, { [field.name]: 'high' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.message).toMatch(new RegExp(`^${field.name}: `));
    const empty = decodeFields(power, { vendor_only: 1 });
    expect(empty.ok).toBe(false);
    if (!empty.ok) expect(empty.message).toMatch(/no known telemetry field/);
  });
});
