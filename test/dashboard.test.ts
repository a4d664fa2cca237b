/**
 * Dashboard routes on the real gateway in-process: the history routes (state
 * timeline, downsampled readings, incidents) over a history made by the real
 * pipeline with a fake clock, so every expected figure is computed by hand; the
 * session route; the static page (CSP, font, no path escapes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fields } from '../devices/define.js';
import { dashboardPlugin } from '../gateway/api/dashboard.js';
import { READINGS_SCAN_BUDGET, historyPlugin } from '../gateway/api/history.js';
import { publish, removeDir, startTestGateway, TOKENS, type TestGateway } from './helpers/gateway.js';

const H = 3_600_000;
// 10 May 2026 00:00 in Asia/Ho_Chi_Minh (UTC+7).
const T0 = Date.parse('2026-05-10T00:00:00+07:00');
let now = T0;
const clock = { now: () => now };

let t: TestGateway;

/** A reading through the real pipeline (kind schema, store, health) at the fake time `at`. */
function submit(deviceId: string, fields: Fields, at: number): Promise<void> {
  now = at;
  return new Promise((resolve, reject) =>
    t.gw.ctx.pipeline.submit({ deviceId, fields, transport: 'test', commitNow: true }, (o) => (o.accepted ? resolve() : reject(new Error(o.detail)))),
  );
}

const healthy = (supply_v: number) => ({ supply_v, amp_temp_c: 40, amp_ok: true, rsrp_dbm: -90 });

beforeAll(async () => {
  // Heartbeat timeouts are driven by the 1 s timer: off, so only the scenario changes states.
  t = await startTestGateway((s) => s, { clock, timers: false, apiPlugins: [dashboardPlugin, historyPlugin] });
  // loa-01, by hand:
  //   [0 h, 1 h)   UNKNOWN (never seen)
  //   [1 h, 3 h)   UP        readings 12.0 at 1 h, 12.4 at 1 h 30
  //   [3 h, 5 h)   DOWN      amp-fault
  //   [5 h, 6 h)   UP        reading 13.0 at 5 h
  //   [6 h, 6.5 h) DOWN      offline (MQTT last-will payload on its status topic)
  //   [6.5 h, 8 h) UP        online
  await submit('loa-01', healthy(12.0), T0 + 1 * H);
  await submit('loa-01', healthy(12.4), T0 + 1.5 * H);
  await submit('loa-01', { amp_ok: false }, T0 + 3 * H);
  await submit('loa-01', healthy(13.0), T0 + 5 * H);
  const c = await t.connect('loa-01');
  now = T0 + 6 * H;
  await publish(c, 'ce/loa-01/status', 'offline');
  now = T0 + 6.5 * H;
  await publish(c, 'ce/loa-01/status', 'online');
  await t.gw.ctx.store.flush();
  now = T0 + 8 * H;
});

afterAll(async () => {
  await t.close();
  removeDir(t.dir);
});

describe('GET /api/devices/:id/timeline', () => {
  it('returns the segments, time in each state and availability computed by hand', async () => {
    const r = await t.get(`/api/devices/loa-01/timeline?from=${T0}&to=${T0 + 8 * H}`);
    expect(r.status).toBe(200);
    const seg = r.json.segments.map((s: { from: string; to: string; state: string }) => [(Date.parse(s.from) - T0) / H, (Date.parse(s.to) - T0) / H, s.state]);
    expect(seg).toEqual([
      [0, 1, 'UNKNOWN'],
      [1, 3, 'UP'],
      [3, 5, 'DOWN'],
      [5, 6, 'UP'],
      [6, 6.5, 'DOWN'],
      [6.5, 8, 'UP'],
    ]);
    expect(r.json.stateAtFrom).toBe('UNKNOWN');
    expect(r.json.durationsMs).toEqual({ UP: 4.5 * H, DEGRADED: 0, DOWN: 2.5 * H, UNKNOWN: 1 * H });
    // Available 4.5 h of 7 h known; UNKNOWN excluded.
    expect(r.json.availability).toBeCloseTo(4.5 / 7, 12);
    expect(r.json.coverage).toBeCloseTo(7 / 8, 12);
    expect(r.json.compacted).toBe(false);
    expect(r.json.segments[2].reason).toBe('amp-fault');
    expect(r.json.segments[4].reason).toBe('offline');
  });

  it('starts from the state in force at `from` and stops at now when `to` is in the future', async () => {
    const r = await t.get(`/api/devices/loa-01/timeline?from=${new Date(T0 + 4 * H).toISOString()}&to=${T0 + 10 * H}`);
    expect(r.status).toBe(200);
    expect(r.json.stateAtFrom).toBe('DOWN');
    expect(Date.parse(r.json.end)).toBe(T0 + 8 * H);
    expect(r.json.durationsMs).toEqual({ UP: 2.5 * H, DEGRADED: 0, DOWN: 1.5 * H, UNKNOWN: 0 });
    expect(r.json.availability).toBeCloseTo(2.5 / 4, 12);
  });

  it('does not compact while the segments fit, and bounds `segments`', async () => {
    const r = await t.get(`/api/devices/loa-01/timeline?from=${T0}&to=${T0 + 8 * H}&segments=10`);
    expect(r.json.compacted).toBe(false);
    expect(r.json.segments).toHaveLength(6);
    expect((await t.get(`/api/devices/loa-01/timeline?segments=5`)).status).toBe(400);
    expect((await t.get(`/api/devices/loa-01/timeline?segments=99999`)).status).toBe(400);
  });

  it('answers 404 for an unknown device, 400 for a bad time or an empty range, 401 without a token', async () => {
    expect((await t.get('/api/devices/nope/timeline')).json.error.code).toBe('CE_NOT_FOUND');
    const bad = await t.get('/api/devices/loa-01/timeline?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('CE_BAD_REQUEST');
    expect((await t.get(`/api/devices/loa-01/timeline?from=${T0 + H}&to=${T0}`)).status).toBe(400);
    expect((await t.get(`/api/devices/loa-01/timeline?from=${T0 - 500 * 24 * H}&to=${T0}`)).status).toBe(400);
    expect((await t.get('/api/devices/loa-01/timeline', null)).status).toBe(401);
  });
});

describe('compaction of a flapping device', () => {
  it('keeps exact durations and draws the worst state per bucket', async () => {
    // ups-01 flaps every 6 minutes for 4 hours, through the real pipeline: 40
    // transitions, more than the 10 segments asked for.
    const base = T0 + 8 * H;
    for (let i = 0; i < 40; i++) {
      await submit('ups-01', { mains_ok: true, input_v: 228, on_battery: false, battery_pct: 100, load_pct: 20 }, base + i * 6 * 60_000);
      await submit('ups-01', { mains_ok: false, on_battery: true, battery_pct: 2 }, base + i * 6 * 60_000 + 60_000);
    }
    now = base + 4 * H;
    await t.gw.ctx.store.flush();
    const r = await t.get(`/api/devices/ups-01/timeline?from=${base}&to=${base + 4 * H}&segments=10`);
    expect(r.status).toBe(200);
    expect(r.json.compacted).toBe(true);
    expect(r.json.segments.length).toBeLessThanOrEqual(10);
    expect(r.json.transitions).toBe(80);
    const d = r.json.durationsMs;
    expect(d.UP + d.DEGRADED + d.DOWN + d.UNKNOWN).toBe(4 * H);
    // Each 6-minute cycle: 1 min UP, 5 min in the failing state.
    expect(d.UP).toBe(40 * 60_000);
    const failing = r.json.segments.filter((s: { state: string }) => s.state !== 'UP');
    expect(failing.length).toBeGreaterThan(0);
    // Every bucket had the failing state: the whole bar shows it.
    expect(r.json.segments.every((s: { state: string }) => s.state !== 'UP')).toBe(true);
  });
});

describe('GET /api/devices/:id/readings', () => {
  it('buckets a numeric field: min, max, mean, last and count per bucket; empty buckets omitted', async () => {
    const r = await t.get(`/api/devices/loa-01/readings?from=${T0}&to=${T0 + 8 * H}&field=supply_v&max=8`);
    expect(r.status).toBe(200);
    expect(r.json.bucketMs).toBe(H);
    expect(r.json.sampled).toBe(false);
    const s = r.json.series[0];
    expect(s).toMatchObject({ name: 'supply_v', unit: 'V' });
    expect(s.label.vi.length).toBeGreaterThan(0);
    expect(s.points).toEqual([
      { t: new Date(T0 + 1 * H).toISOString(), n: 2, min: 12.0, max: 12.4, avg: 12.2, last: 12.4 },
      { t: new Date(T0 + 5 * H).toISOString(), n: 1, min: 13.0, max: 13.0, avg: 13.0, last: 13.0 },
    ]);
  });

  it('defaults to every numeric field of the kind and rejects a field that is not one', async () => {
    const all = await t.get(`/api/devices/loa-01/readings?from=${T0}&to=${T0 + 8 * H}`);
    const names = all.json.series.map((s: { name: string }) => s.name);
    expect(names).toContain('supply_v');
    expect(names).toContain('amp_temp_c');
    expect(names).not.toContain('amp_ok'); // boolean
    const bad = await t.get(`/api/devices/loa-01/readings?field=amp_ok`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/amp_ok.*numeric/);
  });

  it('bounds the rows it scans and says when a bucket was sampled', async () => {
    // More rows in one bucket than the per-bucket budget (budget / buckets), written
    // through the store's own append path as the pipeline does.
    const store = t.gw.ctx.store;
    const at = T0 + 20 * H;
    const perBucket = READINGS_SCAN_BUDGET / 1000;
    for (let i = 0; i < perBucket * 3; i++) {
      store.appendReading(
        { deviceId: 'cam-2', kind: 'camera', ts: at + i, tsSource: 'gateway', receivedAt: at + i, quality: 'good', fields: { fps: i % 30 } },
        false,
        () => undefined,
      );
    }
    await store.flush();
    now = at + H;
    const r = await t.get(`/api/devices/cam-2/readings?from=${at - 500 * 1000}&to=${at + 500 * 1000}&field=fps&max=1000`);
    expect(r.status).toBe(200);
    expect(r.json.sampled).toBe(true);
    expect(r.json.rowsScanned).toBeLessThanOrEqual(READINGS_SCAN_BUDGET);
    const pts = r.json.series[0].points;
    // The newest rows of the crowded bucket were used, so the last value is the real last one.
    expect(pts[pts.length - 1].last).toBe((perBucket * 3 - 1) % 30);
    expect(r.json.spoolStartsAt).not.toBeNull();
  });
});

describe('GET /api/incidents', () => {
  it('lists DOWN periods newest first with their duration and reason', async () => {
    const r = await t.get(`/api/incidents?from=${T0}&to=${T0 + 8 * H}&device=loa-01`);
    expect(r.status).toBe(200);
    expect(r.json.total).toBe(2);
    expect(r.json.incidents).toEqual([
      expect.objectContaining({ deviceId: 'loa-01', start: new Date(T0 + 6 * H).toISOString(), end: new Date(T0 + 6.5 * H).toISOString(), durationS: 1800, reason: 'offline', endState: 'UP', ongoing: false, hamlet: 'ap-01', kind: 'loudspeaker' }),
      expect.objectContaining({ start: new Date(T0 + 3 * H).toISOString(), end: new Date(T0 + 5 * H).toISOString(), durationS: 7200, reason: 'amp-fault' }),
    ]);
    expect(r.json.downS).toBe(2.5 * 3600);
  });

  it('includes a DOWN period that began before `from` with its real start, counting only the part in range', async () => {
    const r = await t.get(`/api/incidents?from=${T0 + 4 * H}&to=${T0 + 5.5 * H}&kind=loudspeaker`);
    expect(r.json.incidents).toHaveLength(1);
    expect(r.json.incidents[0]).toMatchObject({ deviceId: 'loa-01', start: new Date(T0 + 3 * H).toISOString(), durationS: 7200 });
    expect(r.json.downS).toBe(3600);
  });

  it('marks an incident still open as ongoing, with its duration up to now', async () => {
    const r = await t.get(`/api/incidents?from=${T0 + 8 * H}&to=${T0 + 24 * H}&device=ups-01`);
    const open = r.json.incidents.filter((i: { ongoing: boolean }) => i.ongoing);
    expect(open).toHaveLength(1);
    expect(open[0].end).toBeNull();
    expect(open[0].durationS).toBe((now - Date.parse(open[0].start)) / 1000);
  });

  it('filters by kind and validates hamlet and device', async () => {
    expect((await t.get(`/api/incidents?from=${T0}&to=${T0 + 8 * H}&kind=camera`)).json.total).toBe(0);
    expect((await t.get('/api/incidents?hamlet=ap-99')).status).toBe(404);
    expect((await t.get('/api/incidents?device=nope')).status).toBe(404);
    expect((await t.get('/api/incidents?kind=toaster')).status).toBe(400);
  });
});

describe('GET /api/session', () => {
  it("says the token's name and role, and the commune", async () => {
    for (const role of ['viewer', 'officer', 'admin'] as const) {
      const r = await t.get('/api/session', role);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ name: role, role, commune: { code: '12345', name: 'Xã Thử Nghiệm' }, timezone: 'Asia/Ho_Chi_Minh' });
    }
    expect((await t.get('/api/session', null)).json.error.code).toBe('CE_AUTH_REQUIRED');
    const wrong = await t.gw.api.inject({ url: '/api/session', headers: { authorization: 'Bearer not-a-token' } });
    expect(wrong.json().error.code).toBe('CE_AUTH_INVALID');
  });
});

describe('static page', () => {
  it('serves the page at /ui/ with a strict Content-Security-Policy, and its modules', async () => {
    const page = await t.gw.api.inject({ url: '/ui/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('<script type="module" src="/ui/app.js">');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.headers['content-security-policy']).toMatch(/connect-src 'self'/);
    const js = await t.gw.api.inject({ url: '/ui/app.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    // Revalidated on every load (no build step, no hashed names): ETag for 304s.
    const again = await t.gw.api.inject({ url: '/ui/app.js', headers: { 'if-none-match': String(js.headers['etag']) } });
    expect(again.statusCode).toBe(304);
  });

  it('serves the Vietnamese typeface from the npm package, cached for a year', async () => {
    const f = await t.gw.api.inject({ url: '/ui/fonts/be-vietnam-pro-400.ttf' });
    expect(f.statusCode).toBe(200);
    expect(f.rawPayload.subarray(0, 4).toString('hex')).toBe('00010000'); // TrueType sfnt version 1.0
    expect(f.headers['cache-control']).toMatch(/max-age=31536000.*immutable/);
    expect((await t.gw.api.inject({ url: '/ui/fonts/../../package.json' })).statusCode).toBe(404);
    expect((await t.gw.api.inject({ url: '/ui/fonts/other.ttf' })).statusCode).toBe(404);
  });

  it('serves nothing outside dashboards/web', async () => {
    for (const url of ['/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/..%2fgateway/build.ts']) {
      const r = await t.gw.api.inject({ url });
      expect([400, 403, 404]).toContain(r.statusCode);
      expect(r.body).not.toContain('"name": "commune-edge"');
    }
  });

  it('keeps API routes JSON with coded errors (the static wildcard does not swallow them)', async () => {
    const r = await t.gw.api.inject({ url: '/api/nope', headers: { authorization: `Bearer ${TOKENS.viewer}` } });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('CE_NOT_FOUND');
  });
});
