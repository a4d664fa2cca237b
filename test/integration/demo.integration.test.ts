/**
 * The demo, as a new user runs it: `commune-edge start` with no config (the demo
 * commune, config/demo-commune.yaml, with its built-in simulator), on free ports
 * and a temp data dir. Within 30 s the API reports the demo commune with most
 * devices UP; the printed viewer token works, roles are enforced with coded
 * errors; SIGTERM stops it cleanly within 10 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cleanup,
  ensureDist,
  freePort,
  httpGet,
  jsonLines,
  removeDir,
  spawnGateway,
  tempDir,
  waitFor,
  waitForHealth,
  withTimeout,
  type Child,
  type HealthBody,
} from './helpers.js';

describe('demo commune (no config)', () => {
  const cleanup = new Cleanup();
  let gw: Child;
  let httpPort: number;
  let mqttPort: number;
  let viewer: string;
  let officer: string;
  let startedAt: number;

  beforeAll(async () => {
    ensureDist();
    const dir = tempDir('demo');
    cleanup.add('remove demo data dir', () => removeDir(dir));
    httpPort = await freePort();
    mqttPort = await freePort();
    startedAt = Date.now();
    gw = spawnGateway('demo-gateway', ['--mqtt-port', String(mqttPort), '--http-port', String(httpPort), '--data-dir', dir]);
    cleanup.add('kill demo gateway', async () => {
      if (gw.running) {
        gw.signal('SIGKILL');
        await gw.exited;
      }
    });
    await waitForHealth(gw, httpPort, 20_000);
    viewer = (await gw.waitForOutput(/viewer token:\s+(\S+)/, 10_000))[1]!;
    officer = (await gw.waitForOutput(/officer token:\s+(\S+)/, 10_000))[1]!;
  });

  afterAll(async () => {
    await cleanup.run();
  });

  it('within 30 s the health endpoint shows the demo commune with most devices UP', async () => {
    let last: HealthBody | undefined;
    try {
      await waitFor(
        'most demo devices UP and telemetry in the store',
        async () => {
          last = (await httpGet(httpPort, '/api/health')).body as HealthBody;
          // (a device's retained "online" status alone makes it UP; readings come with the first telemetry)
          return last.devices.byState.UP > last.devices.total / 2 && last.store.readings > 0;
        },
        Math.max(1000, 30_000 - (Date.now() - startedAt)),
        250,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last health: ${JSON.stringify(last)}\n${gw.tail()}`);
    }
    const h = last!;
    expect(h.demo).toBe(true);
    expect(h.devices.total).toBeGreaterThanOrEqual(55);
    expect(h.devices.byState.UP).toBeGreaterThan(h.devices.total / 2);
    expect(h.inputs.find((i) => i.name === 'mqtt-embedded')?.connected).toBe(true);
    expect(h.inputs.find((i) => i.name === 'mqtt-embedded')?.clients).toBeGreaterThan(0);
    expect(h.store.readings).toBeGreaterThan(0);
    // The banner names the ports it was given.
    expect(gw.stdout).toContain(`http://127.0.0.1:${httpPort}/api/health`);
    expect(gw.stdout).toContain(`MQTT broker on port ${mqttPort}`);
  });

  it('the printed viewer token reads devices and the 19 hamlets', async () => {
    const devices = await httpGet(httpPort, '/api/devices', viewer);
    expect(devices.status, devices.text).toBe(200);
    const list = (devices.body as { devices: { id: string; state: string }[] }).devices;
    expect(list.length).toBeGreaterThanOrEqual(55);
    expect(new Set(list.map((d) => d.id)).size).toBe(list.length);

    const hamlets = await httpGet(httpPort, '/api/hamlets', viewer);
    expect(hamlets.status, hamlets.text).toBe(200);
    const hs = (hamlets.body as { hamlets: { id: string; devices: unknown[] }[] }).hamlets;
    expect(hs).toHaveLength(19);
    expect(hs.map((h) => h.id)).toEqual(Array.from({ length: 19 }, (_, i) => `ap-${String(i + 1).padStart(2, '0')}`));
    expect(hs.reduce((n, h) => n + h.devices.length, 0)).toBe(list.length);
  });

  it('roles: no token → 401 CE_AUTH_REQUIRED, a wrong token → 401 CE_AUTH_INVALID, viewer on /api/rejects → 403 CE_FORBIDDEN', async () => {
    const anon = await httpGet(httpPort, '/api/devices');
    expect(anon.status).toBe(401);
    expect((anon.body as { error: { code: string } }).error.code).toBe('CE_AUTH_REQUIRED');

    const wrong = await httpGet(httpPort, '/api/devices', `${viewer}x`);
    expect(wrong.status).toBe(401);
    expect((wrong.body as { error: { code: string } }).error.code).toBe('CE_AUTH_INVALID');

    const forbidden = await httpGet(httpPort, '/api/rejects', viewer);
    expect(forbidden.status).toBe(403);
    expect((forbidden.body as { error: { code: string } }).error.code).toBe('CE_FORBIDDEN');

    // The printed officer token may.
    const allowed = await httpGet(httpPort, '/api/rejects', officer);
    expect(allowed.status, allowed.text).toBe(200);
  });

  it('SIGTERM: exit code 0 within 10 s, store flushed', async () => {
    gw.signal('SIGTERM');
    const exit = await withTimeout(gw.exited, 10_000, 'the demo gateway to exit within 10 s of SIGTERM');
    expect(exit, gw.tail()).toEqual({ code: 0, signal: null });
    expect(jsonLines(gw.stdout).some((l) => l.msg === 'gateway stopped; store flushed' && l['reason'] === 'SIGTERM'), gw.tail()).toBe(true);
  });
});
