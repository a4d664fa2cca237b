/**
 * The simulator drives the demo commune as real MQTT clients against the real
 * gateway (in-process), with fault injection.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../gateway/build.js';
import { applyProfile } from '../gateway/pipeline/profile.js';
import { DEMO_PASSWORD } from '../gateway/settings/demo.js';
import { settingsFrom } from '../gateway/settings/load.js';
import type { Settings } from '../gateway/settings/schema.js';
import { parseFault, Simulation, toVendorPayload } from '../gateway/simulate/runner.js';
import { until } from './helpers/gateway.js';

const ROOT = new URL('..', import.meta.url).pathname;

describe('fault specs and vendor payloads', () => {
  it('parses --fault specs and rejects bad ones', () => {
    expect(parseFault('power:ap-07@120+240')).toEqual({ type: 'power', target: 'ap-07', atS: 120, forS: 240 });
    expect(parseFault('flap:wan-viettel')).toEqual({ type: 'flap', target: 'wan-viettel', atS: 0 });
    expect(() => parseFault('explode:x')).toThrow(/TYPE one of silent, offline, power, flap, degrade/);
  });

  it('writes the vendor layout that the profile reads back to the same canonical fields', () => {
    const demo = parseYaml(readFileSync(join(ROOT, 'config/demo-commune.yaml'), 'utf8'));
    const settings = settingsFrom(demo);
    const profile = settings.profiles['loa-4g']!;
    const fields = { supply_v: 12.61, amp_ok: false, rsrp_dbm: -97.5, network_type: '4G', uptime_s: 100 };
    const now = Date.parse('2026-05-01T10:00:00Z');
    const vendor = toVendorPayload(profile, fields, now);
    expect(vendor).toMatchObject({ power: { mv: 12610 }, amp: { status: 'FAULT' }, modem: { rsrp: -97.5 }, time: now / 1000 });
    expect(applyProfile(profile, vendor)).toEqual({ values: expect.objectContaining(fields), ts: now });
  });
});

describe('simulate the demo commune against the gateway', () => {
  let gw: Gateway;
  let sim: Simulation;
  let settings: Settings;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-sim-'));
    const demo = parseYaml(readFileSync(join(ROOT, 'config/demo-commune.yaml'), 'utf8'));
    settings = settingsFrom({ ...demo, gateway: { ...demo.gateway, dataDir: dir }, mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 }, log: { level: 'silent' } });
    gw = await buildGateway(settings, { logger: pino({ level: 'silent' }) });
    await gw.start();
    sim = new Simulation({
      settings,
      url: `mqtt://127.0.0.1:${gw.ports().mqtt}`,
      password: DEMO_PASSWORD,
      speed: 30,
      faults: [
        { type: 'offline', target: 'wifi-ap-09', atS: 4 },
        { type: 'power', target: 'ap-07', atS: 4 },
        { type: 'flap', target: 'wan-viettel', atS: 0 },
        { type: 'degrade', target: 'cam-motcua-2', atS: 0 },
      ],
      log: pino({ level: 'silent' }),
    });
    sim.start();
  });
  afterAll(async () => {
    await sim.stop();
    await gw.stop();
  });

  const state = (id: string) => gw.ctx.health.get(id)!;

  it('brings every healthy device UP within seconds', async () => {
    await until(() => gw.ctx.health.countsByState().UP >= 50 && state('loa-ap-01').lastReading, 10_000, '50 devices UP');
    expect(state('tslcd').state).toBe('UP');
    expect(state('dat-1').state).toBe('UP');
    expect(state('loa-ap-01').lastReading!.tsSource).toBe('device'); // the vendor profile's timestamp
  });

  it('a device that drops off is DOWN through its last-will; a hamlet power cut shows on battery and offline', async () => {
    await until(() => state('wifi-ap-09').state === 'DOWN', 10_000, 'wifi-ap-09 DOWN');
    expect(state('wifi-ap-09').reason).toBe('offline');
    await until(() => state('loa-ap-07').state === 'DOWN', 10_000, 'loa-ap-07 DOWN');
    await until(() => state('cam-giaothong-2').state === 'DOWN', 10_000, 'camera behind the NVR DOWN');
    await until(() => ['DEGRADED', 'DOWN'].includes(state('dien-ap-07').state), 10_000, 'hamlet power DEGRADED');
    expect(['on-battery', 'battery-exhausting']).toContain(state('dien-ap-07').reason);
    // The rest of the commune is unaffected.
    expect(state('loa-ap-08').state).toBe('UP');
  });

  it('a flapping link produces transitions both ways, and degraded values show', async () => {
    await until(() => gw.ctx.store.recentTransitions('wan-viettel', 50).filter((t) => t.to === 'DOWN').length >= 2, 15_000, 'flaps');
    const ts = gw.ctx.store.recentTransitions('wan-viettel', 50);
    expect(ts.some((t) => t.to === 'UP' && t.from === 'DOWN')).toBe(true);
    // A one-stop-shop camera whose stream no longer reaches the IOC.
    await until(() => state('cam-motcua-2').state === 'DEGRADED', 15_000, 'cam-motcua-2 degraded');
    expect(sim.stats.acked).toBeGreaterThan(60);
    expect(sim.stats.errors).toBe(0);
  });
});
