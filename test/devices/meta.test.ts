/**
 * The shape of devices/ (Telegraf's plugins/all_test.go idea): every kind folder is
 * complete and registered, and its fields follow the naming rules (unit in the name,
 * bilingual labels, plausible ranges).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { KINDS, kindById } from '../../devices/registry.js';
import { DEVICES_DIR, kindFolders } from './helpers.js';

/** Unit suffixes a numeric field name may end with. */
const UNIT_SUFFIXES = ['_pct', '_ms', '_s', '_min', '_v', '_c', '_mbps', '_kbps', '_dbm', '_db', '_us_cm', '_mg_kg', '_l_min', '_l', '_m', '_bar', '_kw', '_kwh'];
/** Numeric fields without a unit suffix, and why. */
const UNITLESS: Record<string, string> = {
  clients: 'a count',
  sessions: 'a count',
  speaker_faults: 'a count',
  ph: 'dimensionless',
  fps: 'the name is the unit (frames per second)',
  http_status: 'a code (RFC 9110 status)',
};
/** Numeric fields allowed without a max: they come from shared capabilities (devices/capabilities.ts). */
const NO_MAX = new Set(['uptime_s']);

const folders = kindFolders();

describe('devices/ layout', () => {
  it('has kind folders', () => {
    expect(folders.length).toBeGreaterThan(0);
  });

  it('registers exactly the kind folders', () => {
    expect(KINDS.map((k) => k.id).sort()).toStrictEqual(folders);
  });

  describe.each(folders)('%s', (folder) => {
    const dir = join(DEVICES_DIR, folder);

    it('has kind.ts, simulator.ts and README.md', () => {
      for (const f of ['kind.ts', 'simulator.ts', 'README.md']) expect(existsSync(join(dir, f)), f).toBe(true);
    });

    it('has golden cases: at least 4, including bad input', () => {
      const casesDir = join(dir, 'cases');
      const files = existsSync(casesDir) ? readdirSync(casesDir).filter((f) => f.endsWith('.json')) : [];
      expect(files.length).toBeGreaterThanOrEqual(4);
      const errors = files.filter((f) => {
        const c = JSON.parse(readFileSync(join(casesDir, f), 'utf8')) as { expect?: { error?: string } };
        return c.expect?.error !== undefined;
      });
      expect(errors.length, 'cases expecting an error').toBeGreaterThan(0);
    });

    it('is in the registry, and kind.ts exports that kind', async () => {
      const kind = kindById(folder);
      expect(kind, `${folder} missing from devices/registry.ts`).toBeDefined();
      const mod = (await import(pathToFileURL(join(dir, 'kind.ts')).href)) as Record<string, unknown>;
      expect(Object.values(mod)).toContain(kind);
    });

    it('labels the kind in Vietnamese (with diacritics) and English', () => {
      const kind = kindById(folder)!;
      expect(kind.label.en.trim()).not.toBe('');
      expect(kind.label.vi).toMatch(/[^\x00-\x7f]/);
    });

    it('names fields in snake_case with a unit suffix, labels them, and bounds numbers', () => {
      const kind = kindById(folder)!;
      for (const f of kind.fields) {
        expect(f.name, 'snake_case').toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
        expect(f.label.vi.trim(), `${f.name}: label.vi`).not.toBe('');
        expect(f.label.en.trim(), `${f.name}: label.en`).not.toBe('');
        if (f.type !== 'float' && f.type !== 'integer') continue;
        const suffixed = UNIT_SUFFIXES.some((s) => f.name.endsWith(s));
        expect(suffixed || f.name in UNITLESS, `${f.name}: numeric field without a unit suffix`).toBe(true);
        expect(f.min, `${f.name}: min`).toBeTypeOf('number');
        if (!NO_MAX.has(f.name)) expect(f.max, `${f.name}: max`).toBeTypeOf('number');
      }
    });

    it('documents every canonical field in its README', () => {
      const kind = kindById(folder)!;
      const readme = existsSync(join(dir, 'README.md')) ? readFileSync(join(dir, 'README.md'), 'utf8') : '';
      for (const f of kind.fields) expect(readme, `README.md does not mention ${f.name}`).toContain(`\`${f.name}\``);
    });

    it('has README profile sketches that parse and map only canonical fields of this kind', () => {
      const kind = kindById(folder)!;
      const readme = existsSync(join(dir, 'README.md')) ? readFileSync(join(dir, 'README.md'), 'utf8') : '';
      const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
      expect(blocks.length, 'a ```yaml profile sketch').toBeGreaterThan(0);
      for (const block of blocks) {
        const doc = parseYaml(block) as { profiles?: Record<string, { kind?: string; fields?: Record<string, unknown> }> };
        for (const [id, profile] of Object.entries(doc.profiles ?? {})) {
          expect(profile.kind, `profile ${id}: kind`).toBe(folder);
          for (const name of Object.keys(profile.fields ?? {})) {
            expect(kind.fieldByName.has(name), `profile ${id}: ${name} is not a field of ${folder}`).toBe(true);
          }
        }
      }
    });
  });
});
