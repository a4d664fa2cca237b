/**
 * Golden cases: devices/<kind>/cases/*.json, each a payload and the expected decode
 * (fields, implausible fields, verdict) or the expected error code. Expectations are
 * written by hand from the kind's rules, not recorded from the program.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeFields } from '../../devices/decode.js';
import type { Fields, Verdict } from '../../devices/define.js';
import { kindById } from '../../devices/registry.js';
import { DEVICES_DIR, kindFolders } from './helpers.js';

interface GoldenCase {
  name: string;
  device?: { role?: string };
  payload: unknown;
  expect:
    | { error: 'CE_PAYLOAD_SCHEMA' }
    | { fields: Fields; implausible?: string[]; health: Verdict };
}

function loadCases(kindId: string): Array<{ file: string; c: GoldenCase }> {
  const dir = join(DEVICES_DIR, kindId, 'cases');
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files.sort().map((file) => ({ file, c: JSON.parse(readFileSync(join(dir, file), 'utf8')) as GoldenCase }));
}

for (const folder of kindFolders()) {
  const kind = kindById(folder);
  const cases = loadCases(folder);
  if (!kind || cases.length === 0) continue; // meta.test.ts reports these

  describe(`golden cases: ${folder}`, () => {
    it.each(cases.map(({ file, c }) => [file, c] as const))('%s', (_file, c) => {
      expect(typeof c.name).toBe('string');
      if (c.device?.role !== undefined) expect(kind.roles).toContain(c.device.role);
      const result = decodeFields(kind, c.payload);
      if ('error' in c.expect) {
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.code).toBe(c.expect.error);
        return;
      }
      if (!result.ok) throw new Error(`expected a decode, got ${result.code}: ${result.message}`);
      expect(result.fields).toStrictEqual(c.expect.fields);
      expect([...result.implausible].sort()).toStrictEqual([...(c.expect.implausible ?? [])].sort());
      const verdict = kind.health(result.fields, { id: 't', kind: kind.id, role: c.device?.role });
      expect(verdict).toStrictEqual(c.expect.health);
    });
  });
}
