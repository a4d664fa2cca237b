import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { KINDS } from '../devices/registry.js';
import { demoConfigYaml, settingsJsonSchema } from '../gateway/main.js';
import { keysAt, parseSettingsYaml, validateSettings } from '../gateway/settings/load.js';
import { SettingsSchema, summarizeIds } from '../gateway/settings/schema.js';
import { testSettingsInput } from './helpers/gateway.js';

const ROOT = new URL('..', import.meta.url).pathname;

describe('settings schema', () => {
  it('fills every default from the schema', () => {
    const r = validateSettings({
      commune: { code: '12345', name: 'Xã A', province: { code: '75', name: 'Đồng Nai' } },
      hamlets: [{ id: 'ap-01', name: 'Ấp 1' }],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.settings.commune.timezone).toBe('Asia/Ho_Chi_Minh');
    expect(r.settings.mqtt).toMatchObject({ mode: 'embedded', port: 1883, maxPayloadBytes: 16384 });
    expect(r.settings.api.port).toBe(8080);
    expect(r.settings.store).toMatchObject({ durability: 'power-safe', commitIntervalMs: 50 });
    expect(r.settings.gateway).toMatchObject({ id: 'gw-01', heartbeatS: 30, demo: false });
    expect(Object.isFrozen(r.settings.mqtt)).toBe(true);
  });

  it('accepts per-kind health overrides for any subset of kinds, and applies them', () => {
    // zod 4 makes a record keyed by an enum exhaustive; the schema must not.
    const input = testSettingsInput('/tmp/x');
    const r = validateSettings({ ...input, health: { missedHeartbeats: 4, kinds: { camera: { heartbeatS: 30 } } } });
    expect(r.ok ? [] : r.problems).toEqual([]);
    if (!r.ok) return;
    expect(r.settings.health.kinds.camera).toEqual({ heartbeatS: 30 });
    expect(validateSettings({ ...input, health: { kinds: {} } }).ok).toBe(true);
  });

  it('rejects unknown keys with their path and a "did you mean" hint', () => {
    const input = testSettingsInput('/tmp/x') as Record<string, any>;
    input['mqtt'] = { ...input['mqtt'], maxPayloadByte: 10 };
    input['devices'][1] = { ...input['devices'][1], hamlett: 'ap-01' };
    const r = validateSettings(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const byPath = Object.fromEntries(r.problems.map((p) => [p.path, p.message]));
    expect(byPath['mqtt.maxPayloadByte']).toMatch(/unknown key "maxPayloadByte"; did you mean "maxPayloadBytes"\?/);
    expect(byPath['devices[1].hamlett']).toMatch(/did you mean "hamlet"/);
  });

  it('checks references between parts, with the known ids, in one pass with type errors', () => {
    const input = testSettingsInput('/tmp/x') as Record<string, any>;
    input['hamlets'] = Array.from({ length: 19 }, (_, i) => ({ id: `ap-${String(i + 1).padStart(2, '0')}`, name: `Ấp ${i + 1}` }));
    input['devices'][2] = { ...input['devices'][2], hamlet: 'ap-20' };
    input['devices'][0] = { ...input['devices'][0], profile: 'loa-vendr' };
    input['devices'][3] = { ...input['devices'][3], role: 'onestp' };
    input['devices'][4] = { ...input['devices'][4], bridge: 'nvr-2' };
    input['mqtt'] = { ...input['mqtt'], port: 'eighteen' }; // a type error elsewhere must not hide the rest
    const r = validateSettings(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const byPath = Object.fromEntries(r.problems.map((p) => [p.path, p.message]));
    expect(byPath['devices[2].hamlet']).toBe('unknown hamlet "ap-20"; known: ap-01..ap-19');
    expect(byPath['devices[0].profile']).toMatch(/unknown profile "loa-vendr"; did you mean "loa-vendor"\?/);
    expect(byPath['devices[3].role']).toMatch(/"onestp" is not a role of camera; did you mean "onestop"\?/);
    expect(byPath['devices[4].bridge']).toMatch(/unknown bridge "nvr-2"/);
    expect(byPath['mqtt.port']).toBeDefined();
  });

  it('rejects duplicate ids, shared topics, wrong profile kinds and unknown profile fields', () => {
    const input = testSettingsInput('/tmp/x') as Record<string, any>;
    input['devices'].push({ ...input['devices'][0] });
    input['devices'].push({ id: 'ups-9', name: 'x', kind: 'power', hamlet: 'ap-01', profile: 'loa-vendor' });
    input['profiles']['loa-vendor'].fields['supply_mv'] = 'pwr.mv';
    const r = validateSettings(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const messages = r.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
    expect(messages).toMatch(/devices\[5\]\.id: duplicate device id "loa-01"/);
    expect(messages).toMatch(/topic "ce\/loa-01\/telemetry" is already used by devices\[0\]/);
    expect(messages).toMatch(/devices\[6\]\.profile: profile "loa-vendor" is for kind loudspeaker, but the device is a power/);
    expect(messages).toMatch(/profiles\.loa-vendor\.fields\.supply_mv: "supply_mv" is not a loudspeaker field; did you mean "supply_v"\?/);
  });

  it('gives YAML line numbers and enum hints', () => {
    const yaml = [
      'commune:',
      '  code: "12345"',
      '  name: Xã A',
      '  province: { code: "75", name: Đồng Nai }',
      'hamlets:',
      '  - { id: ap-01, name: Ấp 1 }',
      'devices:',
      '  - id: loa-1',
      '    name: Loa',
      '    kind: loudspeakr',
      '    hamlet: ap-01',
    ].join('\n');
    const r = parseSettingsYaml(yaml);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const p = r.problems.find((x) => x.path === 'devices[0].kind')!;
    expect(p.line).toBe(10);
    expect(p.message).toMatch(/did you mean "loudspeaker"\?/);
  });

  it('summarises id lists', () => {
    expect(summarizeIds(['ap-01', 'ap-02', 'ap-03'])).toBe('ap-01..ap-03');
    expect(summarizeIds(['a', 'b'])).toBe('a, b');
    expect(summarizeIds([])).toBe('(none)');
  });

  it('knows the allowed keys at a path (for hints)', () => {
    expect(keysAt(SettingsSchema, ['mqtt'])).toContain('maxPacketBytes');
    expect(keysAt(SettingsSchema, ['devices', 0])).toContain('hamlet');
  });
});

describe('checked-in config files', () => {
  it('config/schema.json is the JSON Schema generated from the zod schema (regenerate: npm run schema)', () => {
    const checkedIn = JSON.parse(readFileSync(join(ROOT, 'config/schema.json'), 'utf8'));
    expect(checkedIn).toEqual(JSON.parse(JSON.stringify(settingsJsonSchema())));
    expect(checkedIn.properties.devices.items.additionalProperties).toBe(false);
  });

  it('the demo commune has 19 hamlets and about 60 devices of every kind, and matches its generator', () => {
    const r = parseSettingsYaml(readFileSync(join(ROOT, 'config/demo-commune.yaml'), 'utf8'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.settings.gateway.demo).toBe(true);
    expect(r.settings.hamlets).toHaveLength(19);
    expect(r.settings.devices.length).toBeGreaterThanOrEqual(55);
    expect(new Set(r.settings.devices.map((d) => d.kind))).toEqual(new Set(KINDS.map((k) => k.id)));
    // Every hamlet is served by a loudspeaker cluster.
    for (const h of r.settings.hamlets) expect(r.settings.devices.some((d) => d.kind === 'loudspeaker' && d.hamlet === h.id)).toBe(true);
    // Same content as the generator (password salts differ from run to run).
    const strip = (o: any) => JSON.parse(JSON.stringify(o, (k, v) => (k === 'passwordHash' ? 'h' : v)));
    const checkedIn = parseYaml(readFileSync(join(ROOT, 'config/demo-commune.yaml'), 'utf8'));
    expect(strip(checkedIn)).toEqual(strip(parseYaml(demoConfigYaml())));
  });

  it('config/docker/demo-compose.yaml (docker-compose.yml runs it) is the demo plus an InfluxDB 2 sink, and matches its generator', () => {
    const text = readFileSync(join(ROOT, 'config/docker/demo-compose.yaml'), 'utf8');
    const r = parseSettingsYaml(text);
    expect(r.ok ? [] : r.problems).toEqual([]);
    if (!r.ok) return;
    expect(r.settings.gateway.demo).toBe(true);
    expect(r.settings.sinks).toEqual([expect.objectContaining({ type: 'influxdb-v2', url: 'http://influxdb:8086', tokenEnv: 'CE_INFLUX_TOKEN' })]);
    const strip = (o: any) => JSON.parse(JSON.stringify(o, (k, v) => (k === 'passwordHash' ? 'h' : v)));
    expect(strip(parseYaml(text))).toEqual(strip(parseYaml(demoConfigYaml('http://influxdb:8086'))));
  });

  it('every example config validates', () => {
    const dir = join(ROOT, 'config/examples');
    const out = execFileSync('ls', [dir], { encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.yaml'));
    expect(out.length).toBeGreaterThan(0);
    for (const f of out) {
      const r = parseSettingsYaml(readFileSync(join(dir, f), 'utf8'));
      expect(r.ok ? [] : r.problems, f).toEqual([]);
    }
  });
});

describe('commune-edge check-config', () => {
  const cli = join(ROOT, 'dist/gateway/main.js');
  it('prints every problem with path, line and hint, and exits non-zero', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-cfg-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'commune: { code: "1234", name: Xã A, province: { code: "75", name: Đồng Nai } }',
        'hamlets: [{ id: ap-01, name: Ấp 1 }, { id: ap-02, name: Ấp 2 }, { id: ap-03, name: Ấp 3 }]',
        'devices:',
        '  - { id: loa-1, name: Loa, kind: loudspeaker, hamlet: ap-20 }',
        'mqtt: { prot: 1884 }',
      ].join('\n'),
    );
    const r = spawnSync(process.execPath, [cli, 'check-config', file], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${file}:1: commune.code: must be the 5-digit administrative unit code`);
    expect(r.stderr).toContain(`${file}:4: devices[0].hamlet: unknown hamlet "ap-20"; known: ap-01..ap-03`);
    expect(r.stderr).toMatch(/mqtt\.prot: unknown key "prot"; did you mean "port"\?/);
  });

  it('says OK and exits 0 for the demo commune', () => {
    const r = spawnSync(process.execPath, [cli, 'check-config', join(ROOT, 'config/demo-commune.yaml')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/OK — Xã Tà Lài \(DEMO\) \(99999\), 19 hamlets/);
  });
});
