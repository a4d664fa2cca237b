/**
 * The IT officer's dashboard in headless Chromium (Debian `chromium`, driven by
 * playwright-core; no browser download) against the real gateway in-process,
 * with real MQTT clients publishing a day of history for a small commune:
 * - the overview renders every hamlet and device with the API's states;
 * - a device going DOWN (its MQTT last-will payload) turns its tile red within
 *   seconds, without a reload;
 * - the device page shows the timeline, availability and incidents the API says;
 * - the indicators page shows the same figures as GET /api/indicators;
 * - a viewer sees no officer/admin action, and the API refuses them (403);
 * - the English switch, the 360 px phone layout, and the page weight.
 * Screenshots go to test-artifacts/dashboard/ (gitignored).
 *
 * Two stand-ins, registered only while the real routes are not wired into
 * buildGateway (app.hasRoute): GET /api/indicators serves a fixed
 * IndicatorReport (gateway/indicators/types.ts) and GET /api/reports/:file a
 * small file, so the page's contract (figures, download with the bearer header)
 * is tested now; with the real routes the same assertions compare the page with
 * whatever the engine computes.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fields } from '../../devices/define.js';
import { kindById } from '../../devices/registry.js';
import { dashboardPlugin } from '../../gateway/api/dashboard.js';
import { historyPlugin } from '../../gateway/api/history.js';
import { livePlugin } from '../../gateway/api/live.js';
import type { ApiPlugin } from '../../gateway/api/server.js';
import { hashPassword } from '../../gateway/credentials.js';
import type { IndicatorReport, IndicatorResult, IndicatorStatus } from '../../gateway/indicators/types.js';
import type { SettingsInput } from '../../gateway/settings/schema.js';
import { CHEAP, pw, publish, removeDir, startTestGateway, TOKENS, type TestGateway } from '../helpers/gateway.js';
import { artifactsDir, launchChromium, type Browser } from './browser.js';
import { Cleanup, waitFor } from './helpers.js';
import { mulberry32 as mulberry } from '../../devices/prng.js';

const MIN = 60_000;
const H = 60 * MIN;
const SHOTS = artifactsDir('dashboard');

const HAMLETS = [
  { id: 'ap-01', name: 'Ấp 1 (trung tâm xã)' },
  { id: 'ap-02', name: 'Ấp Suối Tre' },
  { id: 'ap-03', name: 'Ấp Bàu Sen' },
  { id: 'ap-04', name: 'Ấp Lộc Hòa' },
  { id: 'ap-05', name: 'Ấp Tân Lập' },
  { id: 'ap-06', name: 'Ấp Đồng Xoài' },
];

interface DeviceSpec {
  id: string;
  name: string;
  kind: string;
  hamlet: string;
  role?: string;
  bridge?: string;
}

const DEVICES: DeviceSpec[] = [
  { id: 'cam-mc-1', name: 'Camera một cửa 1', kind: 'camera', hamlet: 'ap-01', role: 'onestop', bridge: 'nvr-1' },
  { id: 'cam-mc-2', name: 'Camera một cửa 2', kind: 'camera', hamlet: 'ap-01', role: 'onestop', bridge: 'nvr-1' },
  { id: 'tslcd', name: 'Mạng truyền số liệu chuyên dùng', kind: 'network', hamlet: 'ap-01', role: 'tslcd' },
  { id: 'wan-vnpt', name: 'Internet VNPT', kind: 'network', hamlet: 'ap-01', role: 'wan' },
  { id: 'ups-01', name: 'UPS văn phòng UBND', kind: 'power', hamlet: 'ap-01', role: 'office' },
  { id: 'hntt', name: 'Hội nghị truyền hình phòng họp', kind: 'vconf', hamlet: 'ap-01', role: 'office' },
  ...HAMLETS.map((h, i) => ({ id: `loa-0${i + 1}`, name: `Cụm loa ${h.name.replace(/ \(.*\)$/, '')}`, kind: 'loudspeaker', hamlet: h.id, role: 'hamlet' })),
  { id: 'cam-an-1', name: 'Camera an ninh ngã ba', kind: 'camera', hamlet: 'ap-03', role: 'security', bridge: 'nvr-1' },
  { id: 'wifi-04', name: 'Wi-Fi nhà văn hóa Lộc Hòa', kind: 'wifi_ap', hamlet: 'ap-04', role: 'public' },
  { id: 'dat-1', name: 'Cảm biến độ ẩm đất 1', kind: 'soil_probe', hamlet: 'ap-05', role: 'farm' },
];

/** The commune of this test: the helper's settings with more hamlets and devices, and one alert rule. */
function commune(webhookPort: number) {
  return (s: SettingsInput): SettingsInput => ({
    ...s,
    hamlets: HAMLETS,
    bridges: [{ id: 'nvr-1', name: 'Đầu ghi NVR', passwordHash: hashPassword(pw('nvr-1'), CHEAP) }],
    profiles: {},
    devices: DEVICES.map((d) => ({
      ...d,
      // A long reporting interval: no heartbeat timeout while the test runs on a busy machine.
      heartbeatS: 3600,
      ...(d.bridge ? {} : { passwordHash: hashPassword(pw(d.id), CHEAP) }),
    })),
    mqtt: { ...s.mqtt, rateLimit: { msgsPerS: 5000, burst: 10_000 } },
    store: { commitIntervalMs: 5, durability: 'crash-safe' },
    alerts: {
      channels: [{ id: 'hook', type: 'webhook', url: `http://127.0.0.1:${webhookPort}/alerts` }],
      rules: [{ id: 'loa-mat-ket-noi', type: 'device-down', kinds: ['loudspeaker'], delayS: 0, severity: 'critical', channels: ['hook'] }],
      evaluateS: 1,
    },
  });
}

// --- stand-ins for routes of other parts (see the header) ----------------------------

function periodOf(id: string): IndicatorReport['period'] {
  const at = (y: number, m: number) => Date.parse(`${y}-${String(m).padStart(2, '0')}-01T00:00:00+07:00`);
  let m: RegExpExecArray | null;
  if ((m = /^(\d{4})-H([12])$/.exec(id))) {
    const y = Number(m[1]);
    const first = m[2] === '1' ? 1 : 7;
    return { id, kind: 'half', from: at(y, first), to: first === 1 ? at(y, 7) : at(y + 1, 1), timezone: 'Asia/Ho_Chi_Minh' };
  }
  const y = Number(id.slice(0, 4)) || 2026;
  return { id, kind: 'year', from: at(y, 1), to: at(y + 1, 1), timezone: 'Asia/Ho_Chi_Minh' };
}

function indicator(id: string, vi: string, en: string, unit: [string, string], method: IndicatorResult['method'], value: number | null, num: number, den: number, target: IndicatorResult['target'], status: IndicatorStatus, coverage: number | null, perHamlet: [number | null, number, number][]): IndicatorResult {
  return {
    id,
    name: { vi, en },
    unit: { vi: unit[0], en: unit[1] },
    method,
    value,
    numerator: num,
    denominator: den,
    target,
    status,
    coverage,
    responsibleUnit: 'Phòng Văn hóa - Xã hội',
    byHamlet: perHamlet.map(([v, n, d], i) => ({ id: HAMLETS[i]!.id, name: HAMLETS[i]!.name, value: v, numerator: n, denominator: d, coverage })),
    byDevice: [],
  };
}

function indicatorFixture(period: string): IndicatorReport {
  const day = 24 * H;
  return {
    commune: { code: '12345', name: 'Xã Thử Nghiệm', province: { code: '75', name: 'Đồng Nai' } },
    gatewayId: 'gw-test',
    period: periodOf(period),
    generatedAt: new Date().toISOString(),
    gatewayCoverage: 0.9712,
    partial: true,
    indicators: [
      indicator('loudspeaker_availability', 'Tỷ lệ thời gian hoạt động của hệ thống loa truyền thanh thông minh', 'Smart loudspeaker availability', ['%', '%'], 'time-weighted', 97.846, 5.8 * day * 0.97846, 5.8 * day, { op: '>=', value: 95 }, 'DAT', 0.9371, [[96.5, 0.965 * day, day], [99.25, 0.9925 * day, day], [91.04, 0.9104 * day, day], [100, day, day], [98.7, 0.987 * day, day], [null, 0, 0]]),
      indicator('hamlets_with_loudspeaker', 'Số ấp được phủ loa truyền thanh hoạt động', 'Hamlets covered by a working loudspeaker', ['ấp', 'hamlets'], 'count-in-period', 6, 6, 6, { op: '>=', value: 6 }, 'DAT', null, [[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]]),
      indicator('onestop_cameras_ioc', 'Tỷ lệ camera bộ phận một cửa kết nối về IOC tỉnh', 'One-stop-shop cameras connected to the IOC', ['%', '%'], 'count-at-end', 50, 1, 2, { op: '>=', value: 100 }, 'CHUA_DAT', null, [[50, 1, 2], [null, 0, 0], [null, 0, 0], [null, 0, 0], [null, 0, 0], [null, 0, 0]]),
      indicator('tslcd_availability', 'Mạng truyền số liệu chuyên dùng hoạt động ổn định, thông suốt', 'Dedicated data line (TSLCD) availability', ['%', '%'], 'time-weighted', 99.318, 0.99318 * day, day, { op: '>=', value: 99 }, 'DAT', 0.998, [[99.318, 0.99318 * day, day], [null, 0, 0], [null, 0, 0], [null, 0, 0], [null, 0, 0], [null, 0, 0]]),
      indicator('wan_availability', 'Đường truyền Internet hoạt động ổn định', 'Internet uplink availability', ['%', '%'], 'time-weighted', 96.42, 0.9642 * day, day, { op: '>=', value: 98 }, 'CHUA_DAT', 0.995, [[96.42, 0.9642 * day, day], [null, 0, 0], [null, 0, 0], [null, 0, 0], [null, 0, 0], [null, 0, 0]]),
      indicator('soil_probe_completeness', 'Tỷ lệ dữ liệu cảm biến độ ẩm đất nhận được', 'Soil-probe data completeness', ['%', '%'], 'completeness', null, 0, 0, { op: '>=', value: 90 }, 'KHONG_DU_DU_LIEU', 0.12, [[null, 0, 0], [null, 0, 0], [null, 0, 0], [null, 0, 0], [null, 0, 0], [null, 0, 0]]),
      indicator('mttr_loudspeaker', 'Thời gian khắc phục sự cố trung bình (loa truyền thanh)', 'Mean time to repair (loudspeakers)', ['phút', 'min'], 'mean-duration', 42.5, 85, 2, { op: '<=', value: 60 }, 'DAT', null, [[null, 0, 0], [null, 0, 0], [42.5, 85, 2], [null, 0, 0], [null, 0, 0], [null, 0, 0]]),
    ],
  };
}

/** GET /api/indicators from the fixture, only while the real engine's route is not registered. */
const indicatorsStandIn: ApiPlugin = (app: FastifyInstance) => {
  if (app.hasRoute({ method: 'GET', url: '/api/indicators' })) return;
  app.get('/api/indicators', { config: { role: 'viewer' }, schema: { hide: true } }, async (req) => {
    const period = String((req.query as { period?: string }).period ?? '2026-H1');
    return indicatorFixture(period);
  });
};

/** GET /api/reports/:file: a small fixed file, only while the real report route is not registered. */
const REPORT_BYTES = Buffer.from('PK\u0003\u0004 stand-in report for the dashboard download test');
const reportsStandIn: ApiPlugin = (app: FastifyInstance) => {
  if (app.hasRoute({ method: 'GET', url: '/api/reports/:file' })) return;
  app.get('/api/reports/:file', { config: { role: 'viewer' }, schema: { hide: true } }, async (req, reply) => {
    const file = (req.params as { file: string }).file;
    return reply
      .header('content-type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
      .header('content-disposition', `attachment; filename="bao-cao-${file}"`)
      .send(REPORT_BYTES);
  });
};

// --- a day of history, published over MQTT with the gateway clock running ahead ----

/** Healthy telemetry from the kind's own simulator, with `over` applied (a fault). */
function makeTelemetry() {
  const sims = new Map(
    DEVICES.map((d, i) => [d.id, kindById(d.kind)!.simulator({ deviceId: d.id, hamlet: d.hamlet, role: d.role, rng: mulberry(1 + i * 7919) })]),
  );
  return (id: string, now: number, dtS: number, over: Fields = {}): Fields => ({ ...sims.get(id)!.next({ now, dtS, fault: 'none' }), ...over });
}


// ------------------------------------------------------------------------------------------

describe('dashboard in headless Chromium', () => {
  const cleanup = new Cleanup();
  let t: TestGateway;
  let base: string;
  let browser: Browser;
  let offsetMs = 25 * H;
  const clock = { now: () => Date.now() - offsetMs };
  const webhookHits: string[] = [];

  async function login(page: Page, role: keyof typeof TOKENS, path = '/ui/') {
    await page.goto(base + path);
    await page.locator('#token').fill(TOKENS[role]);
    await page.locator('#login-submit').click();
    await page.locator('.user[data-role]').waitFor();
  }

  const api = async (path: string, role: keyof typeof TOKENS = 'viewer') => {
    const r = await t.get(path, role);
    expect(r.status, `${path}: ${r.body}`).toBe(200);
    return r.json;
  };

  beforeAll(async () => {
    // Alert notices go to a loopback webhook that accepts them.
    const hook: Server = createServer((req, res) => {
      webhookHits.push(req.url ?? '');
      req.resume();
      req.on('end', () => res.writeHead(200).end('{}'));
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    cleanup.add('webhook', () => new Promise<void>((r) => hook.close(() => r())));
    const hookPort = (hook.address() as { port: number }).port;

    t = await startTestGateway(commune(hookPort), { clock, apiPlugins: [dashboardPlugin, livePlugin, historyPlugin, indicatorsStandIn, reportsStandIn] });
    cleanup.add('gateway', async () => {
      await t.close();
      removeDir(t.dir);
    });
    base = `http://127.0.0.1:${t.gw.ports().http}`;

    // Every device (or its bridge) connects with its own credentials.
    const clients = new Map<string, Awaited<ReturnType<TestGateway['connect']>>>();
    for (const user of new Set(DEVICES.map((d) => d.bridge ?? d.id))) clients.set(user, await t.connect(user));
    const telemetry = makeTelemetry();
    const pub = (d: DeviceSpec, fields: Fields) => publish(clients.get(d.bridge ?? d.id)!, `ce/${d.id}/telemetry`, JSON.stringify(fields));
    const status = (id: string, s: 'online' | 'offline') => publish(clients.get(id)!, `ce/${id}/status`, s);

    // 24 h of 15-minute steps, the clock running 24 h behind and catching up. By hand:
    // loa-03 offline 10 h → 8 h ago; wan-vnpt link down 5 h → 4.5 h ago; cam-mc-2
    // without IOC link 3 h → 2 h ago; ups-01 on battery 7.5 h → 7 h ago.
    const STEP = 15 * MIN;
    for (let k = 96; k >= 0; k--) {
      offsetMs = k * STEP;
      const now = clock.now();
      if (k === 40) await status('loa-03', 'offline');
      if (k === 32) await status('loa-03', 'online');
      await Promise.all(
        DEVICES.filter((d) => !(d.id === 'loa-03' && k <= 40 && k > 32)).map((d) => {
          let over: Fields = {};
          if (d.id === 'wan-vnpt' && k <= 20 && k > 18) over = { link_up: false, loss_pct: 100 };
          if (d.id === 'cam-mc-2' && k <= 12 && k > 8) over = { ioc_link: false };
          if (d.id === 'ups-01' && k <= 30 && k > 28) over = { mains_ok: false, on_battery: true, battery_pct: 64 };
          return pub(d, telemetry(d.id, now, STEP / 1000, over));
        }),
      );
    }
    offsetMs = 0;
    await t.gw.ctx.store.flush();
    // From here on the gateway runs on real time.
    const health = await api('/api/health');
    expect(health.devices.byState.UP).toBe(DEVICES.length);

    browser = await launchChromium();
    cleanup.add('chromium', () => browser.close());
  }, 120_000);

  afterAll(async () => {
    await cleanup.run();
  });

  it('logs in with a viewer token and renders every hamlet and device with the API states (and measures the page weight)', async () => {
    const page = await browser.newPage();
    const responses: { url: string; bytes: number; type: string }[] = [];
    page.on('response', async (res) => {
      const body = await res.body().catch(() => Buffer.alloc(0));
      responses.push({ url: res.url(), bytes: body.length, type: res.headers()['content-type'] ?? '' });
    });
    await page.goto(`${base}/ui/`);
    await hasAttr(page.locator('html'), 'lang', 'vi');
    await page.locator('#token').waitFor();
    await page.screenshot({ path: join(SHOTS, '01-login.png') });
    await page.locator('#token').fill(TOKENS.viewer);
    await page.locator('#login-submit').click();
    await page.locator('.tiles [data-hamlet]').first().waitFor();
    await page.locator('.tiles [data-device]').nth(DEVICES.length - 1).waitFor();

    const hamlets = await page.locator('.tiles [data-hamlet]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-hamlet'), e.querySelector('h3')?.textContent]));
    expect(hamlets).toEqual(HAMLETS.map((h) => [h.id, h.name]));
    const chips = await page.locator('.tiles [data-device]').evaluateAll((els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-device'), e.getAttribute('data-state')])));
    const apiDevices = (await api('/api/devices')).devices as { id: string; state: string }[];
    expect(chips).toEqual(Object.fromEntries(apiDevices.map((d) => [d.id, d.state])));
    // Counts by state as /api/health has them.
    const health = await api('/api/health');
    for (const st of ['UP', 'DEGRADED', 'DOWN', 'UNKNOWN']) {
      expect(await page.locator(`[data-stat="${st}"] .stat-n`).textContent()).toBe(String(health.devices.byState[st]));
    }
    // Counts by kind.
    expect(await page.locator('[data-kind="loudspeaker"] td').last().textContent()).toBe('6');
    await waitFor('live stream open', () => page.locator('#live-status[data-status="open"]').count(), 10_000);
    await page.screenshot({ path: join(SHOTS, '02-overview.png'), fullPage: true });

    // Page weight of this first load (nothing cached: a fresh profile). Not
    // "networkidle": the live stream stays open by design.
    await page.evaluate(() => (globalThis as unknown as Win).document.fonts.ready.then(() => undefined));
    await waitFor('font responses', () => responses.some((r) => r.url.endsWith('.ttf')), 5000);
    const isFont = (r: { url: string }) => r.url.endsWith('.ttf');
    const isApi = (r: { url: string }) => new URL(r.url).pathname.startsWith('/api/');
    const sum = (xs: { bytes: number }[]) => xs.reduce((n, r) => n + r.bytes, 0);
    const assets = responses.filter((r) => !isFont(r) && !isApi(r));
    const weight = { assetsBytes: sum(assets), assetFiles: assets.length, fontBytes: sum(responses.filter(isFont)), apiBytes: sum(responses.filter(isApi)) };
    console.log(`page weight (uncompressed): ${JSON.stringify(weight)}`);
    expect(weight.assetsBytes).toBeLessThan(200 * 1024);
    expect(weight.assetsBytes).toBeGreaterThan(10 * 1024); // the measurement saw the page
    // Everything came from the gateway: no third-party request.
    expect(responses.every((r) => r.url.startsWith(base))).toBe(true);
    await page.close();
  });

  it('turns a tile red within seconds when its device goes DOWN, without reloading', async () => {
    const page = await browser.newPage();
    await login(page, 'viewer');
    const chip = page.locator('.tiles [data-device="loa-02"]');
    await chip.waitFor();
    expect(await chip.getAttribute('data-state')).toBe('UP');
    await waitFor('live stream open', () => page.locator('#live-status[data-status="open"]').count(), 10_000);
    // A marker that a reload would wipe.
    await page.evaluate(() => ((globalThis as unknown as Win).__noReload = true));

    const mqtt = await t.connect('loa-02');
    const sent = Date.now();
    await publish(mqtt, 'ce/loa-02/status', 'offline');
    await page.locator('.tiles [data-device="loa-02"][data-state="DOWN"]').waitFor({ timeout: 10_000 });
    const latencyMs = Date.now() - sent;
    console.log(`DOWN on screen ${latencyMs} ms after the MQTT publish`);
    expect(latencyMs).toBeLessThan(5000);
    expect(await page.evaluate(() => (globalThis as unknown as Win).__noReload)).toBe(true);
    // Red, with an icon and words (not colour alone).
    const bg = await chip.evaluate((e) => (globalThis as unknown as Win).getComputedStyle(e).backgroundColor);
    expect(bg).toBe('rgb(198, 40, 40)');
    expect(await chip.getAttribute('aria-label')).toMatch(/Mất kết nối/);
    expect(await chip.locator('svg.icon.st-DOWN').count()).toBe(1);
    await hasAttr(page.locator('[data-hamlet="ap-02"]'), 'data-worst', 'DOWN');
    await page.locator('.down-list [data-down="loa-02"]').waitFor();
    expect(await page.locator('[data-stat="DOWN"] .stat-n').textContent()).toBe('1');
    // The alert rule (device-down, delay 0) opens an alert; the card shows it.
    await page.locator('[data-section="alerts"] [data-alert="loa-mat-ket-noi:loa-02"]').waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(SHOTS, '03-overview-device-down.png'), fullPage: true });
    await page.close();
  });

  it('shows the device page: timeline, availability and incidents as the API computes them', async () => {
    const page = await browser.newPage();
    await login(page, 'viewer');
    await page.locator('.tiles [data-device="loa-03"]').click();
    await page.locator('.timeline rect.seg-DOWN').first().waitFor();
    expect(page.url()).toContain('#/device/loa-03');
    // The range the page asked for is "the last 24 h"; the API's answer for it:
    const to = Date.now();
    const tl = await api(`/api/devices/loa-03/timeline?from=${to - 24 * H}&to=${to}`);
    const shown = await page.locator('[data-kpi="availability"] .kpi-n').textContent();
    // Within a rounding step: the page computed its range a moment earlier.
    expect(parseViNumber(shown!)).toBeCloseTo(tl.availability * 100, 0);
    const inc = await api(`/api/incidents?device=loa-03&from=${to - 24 * H}&to=${to}`);
    expect(inc.total).toBe(1);
    expect(inc.incidents[0].durationS).toBe(2 * 3600);
    const rows = page.locator('table.incidents tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().locator('td').nth(2).textContent()).toBe('2 giờ');
    expect(await rows.first().locator('td').nth(3).textContent()).toBe('Thiết bị báo ngắt kết nối');
    // Current readings with the kind's Vietnamese labels; sparklines of numeric fields.
    expect(await page.locator('table.readings [data-field="supply_v"] th').textContent()).toMatch(/Điện áp/);
    expect(await page.locator('.sparks [data-series="supply_v"] svg polyline').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, '04-device-loudspeaker.png'), fullPage: true });

    // 7-day range by keyboard: the range links are focusable and follow Enter.
    await page.locator('[data-range="7d"]').focus();
    await page.keyboard.press('Enter');
    await page.locator('[data-range="7d"].active').waitFor();
    await page.locator('.timeline rect.seg-DOWN').first().waitFor();
    // A DEGRADED episode on another device.
    await go(page, '#/device/cam-mc-2');
    await page.locator('.timeline rect.seg-DEGRADED').first().waitFor();
    await page.screenshot({ path: join(SHOTS, '05-device-onestop-camera.png'), fullPage: true });
    await page.close();
  });

  it('shows the indicators with the same figures as GET /api/indicators, and downloads the half-year report', async () => {
    const page = await browser.newPage();
    await login(page, 'viewer');
    await page.locator('[data-nav="indicators"]').click();
    await page.locator('#period-kind').selectOption('half');
    await page.locator('#period-sub').selectOption('1');
    await page.locator('#period-year').selectOption('2026');
    await page.locator('#period-show').click();
    // The default period's table may still be on the page until 2026-H1 replaces it.
    await page.locator('#indicators-table[data-period="2026-H1"] tbody tr[data-indicator]').first().waitFor();
    const report = (await api('/api/indicators?period=2026-H1')) as IndicatorReport;
    const rows = page.locator('#indicators-table[data-period="2026-H1"] tbody tr[data-indicator]');
    expect(await rows.count()).toBe(report.indicators.length);
    for (const [i, ind] of report.indicators.entries()) {
      const row = page.locator(`tr[data-indicator="${ind.id}"]`);
      expect(await row.locator('th').textContent()).toBe(ind.name.vi);
      const result = (await row.locator('td.result').textContent())!;
      if (ind.value === null) expect(result).toBe('—');
      else {
        expect(parseViNumber(result)).toBeCloseTo(ind.value, 1);
        expect(result.endsWith(ind.unit.vi)).toBe(true);
      }
      const status = { DAT: 'Đạt', CHUA_DAT: 'Chưa đạt', KHONG_DU_DU_LIEU: 'Không đủ dữ liệu' }[ind.status];
      expect(await row.locator('[data-status]').textContent()).toContain(status);
      expect(await row.locator('[data-status]').getAttribute('data-status')).toBe(ind.status);
      if (ind.target) expect(parseViNumber((await row.locator('td.target').textContent())!)).toBe(ind.target.value);
      if (ind.coverage !== null) expect(parseViNumber((await row.locator('td.coverage').textContent())!)).toBeCloseTo(ind.coverage * 100, 1);
      expect(await row.locator('td').first().textContent()).toBe(String(i + 1));
      // Per-hamlet breakdown.
      for (const b of ind.byHamlet) {
        const cell = (await page.locator(`[data-breakdown="${ind.id}"] tr[data-hamlet="${b.id}"] td`).first().textContent({ timeout: 2000 }))!;
        if (b.value === null) expect(cell).toBe('—');
        else expect(parseViNumber(cell)).toBeCloseTo(b.value, 1);
      }
    }
    // The status summary adds up.
    expect(Number(await page.locator('[data-summary="DAT"] .stat-n').textContent())).toBe(report.indicators.filter((x) => x.status === 'DAT').length);
    await page.locator('[data-breakdown="loudspeaker_availability"] summary').click();
    await page.screenshot({ path: join(SHOTS, '06-indicators.png'), fullPage: true });

    // The report download goes through fetch with the bearer header and a blob.
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-download="xlsx"]').click()]);
    expect(download.suggestedFilename()).toMatch(/2026-H1\.xlsx$/);
    const saved = await download.path();
    expect(saved).toBeTruthy();
    await page.close();
  });

  it('gives a viewer no officer or admin action, and the API refuses them (403)', async () => {
    const viewer = await browser.newPage();
    await login(viewer, 'viewer');
    await viewer.locator('[data-section="alerts"] [data-alert]').first().waitFor({ timeout: 15_000 });
    expect(await viewer.locator('[data-nav="admin"]').count()).toBe(0);
    expect(await viewer.locator('[data-action="ack"]').count()).toBe(0);
    // The hidden page is not reachable by URL either.
    await go(viewer, '#/admin');
    await viewer.locator('.msg-error').waitFor();
    expect(await viewer.locator('main').textContent()).toContain('không có quyền');
    expect(await viewer.locator('[data-section="rejects"]').count()).toBe(0);
    // And the API says no, whatever the page shows.
    const { alerts } = await api('/api/alerts');
    const key = alerts[0].key as string;
    const ack = await t.gw.api.inject({ method: 'POST', url: `/api/alerts/${encodeURIComponent(key)}/ack`, headers: { authorization: `Bearer ${TOKENS.viewer}` } });
    expect(ack.statusCode).toBe(403);
    expect(ack.json().error.code).toBe('CE_FORBIDDEN');
    for (const path of ['/api/rejects', '/api/alerts/outbox']) {
      const r = await t.get(path, 'viewer');
      expect(r.status, path).toBe(403);
      expect(r.json.error.code).toBe('CE_FORBIDDEN');
    }
    // From the browser, with the page's own token: 403 as well.
    const fromPage = await viewer.evaluate(async (k) => {
      const res = await fetch(`/api/alerts/${encodeURIComponent(k)}/ack`, { method: 'POST', headers: { authorization: `Bearer ${(globalThis as unknown as Win).sessionStorage.getItem('ce.token')}` } });
      return res.status;
    }, key);
    expect(fromPage).toBe(403);
    await viewer.screenshot({ path: join(SHOTS, '07-viewer-admin-refused.png') });
    await viewer.close();

    // An officer sees the actions and may use them.
    const officer = await browser.newPage();
    await login(officer, 'officer');
    await officer.locator('[data-nav="admin"]').waitFor();
    const ackButton = officer.locator(`[data-alert="${key}"] [data-action="ack"]`);
    await ackButton.click();
    await officer.locator(`[data-alert="${key}"] .acked`).waitFor();
    expect((await api('/api/alerts')).alerts.find((a: { key: string }) => a.key === key).ackedBy).toBe('officer');
    await officer.locator('[data-nav="admin"]').click();
    await officer.locator('[data-section="rejects"]').waitFor();
    await officer.locator('[data-section="alert-outbox"] table').waitFor({ timeout: 15_000 });
    await officer.screenshot({ path: join(SHOTS, '08-officer-admin.png'), fullPage: true });
    await officer.close();
    expect(webhookHits.length).toBeGreaterThan(0);
  });

  it('switches to English and back, and remembers the choice', async () => {
    const page = await browser.newPage();
    await login(page, 'viewer');
    await page.locator('#lang-switch').click();
    await hasAttr(page.locator('html'), 'lang', 'en');
    expect(await page.locator('[data-nav="overview"]').textContent()).toBe('Overview');
    expect(await page.locator('[data-stat="UP"] .stat-l').textContent()).toBe('Up');
    await page.reload();
    await page.locator('.tiles [data-hamlet]').first().waitFor();
    await hasAttr(page.locator('html'), 'lang', 'en');
    // This month's indicators (the test's history is there): an indicator with a fractional value shows the
    // decimal point in English and the decimal comma in Vietnamese, the same number as the API's.
    const month = (await api('/api/indicators')) as IndicatorReport;
    const ind = month.indicators.find((x) => x.value !== null && Math.abs(x.value * 10 - Math.round(x.value * 10)) < 1e-9 && Math.round(x.value * 10) % 10 !== 0)
      ?? month.indicators.find((x) => x.value !== null && !Number.isInteger(x.value));
    expect(ind, 'an indicator with a fractional value this month').toBeDefined();
    await go(page, `#/indicators?period=${month.period.id}`);
    const cell = page.locator(`tr[data-indicator="${ind!.id}"] td.result`);
    await cell.waitFor();
    const en = (await cell.textContent())!;
    expect(en).toMatch(/^\d{1,3}(,\d{3})*\.\d+/);
    expect(Number(/^[\d,]+\.\d+/.exec(en)![0].replace(/,/g, ''))).toBeCloseTo(ind!.value!, 1);
    const statusEn = { DAT: 'Met', CHUA_DAT: 'Not met', KHONG_DU_DU_LIEU: 'Insufficient data' }[ind!.status];
    expect(await page.locator(`tr[data-indicator="${ind!.id}"] [data-status]`).textContent()).toContain(statusEn);
    await page.screenshot({ path: join(SHOTS, '09-indicators-english.png'), fullPage: true });
    await page.locator('#lang-switch').click();
    await hasAttr(page.locator('html'), 'lang', 'vi');
    const vi = (await cell.textContent())!;
    expect(vi).toMatch(/^\d{1,3}(\.\d{3})*,\d+/);
    expect(parseViNumber(vi)).toBeCloseTo(ind!.value!, 1);
    await page.close();
  });

  it('fits a 360 px phone without horizontal scrolling', async () => {
    const page = await browser.newPage({ width: 360, height: 780 });
    await login(page, 'officer');
    for (const [name, hash, ready] of [
      ['10-phone-overview', '#/', '.tiles [data-hamlet]'],
      ['11-phone-device', '#/device/loa-03', '.timeline'],
      ['12-phone-indicators', '#/indicators?period=2026-H1', 'tr[data-indicator]'],
      ['13-phone-admin', '#/admin', '[data-section="rejects"]'],
    ] as const) {
      await go(page, hash);
      await page.locator(ready).first().waitFor();
      const width = await page.evaluate(() => (globalThis as unknown as Win).document.documentElement.scrollWidth);
      expect(width, name).toBeLessThanOrEqual(360);
      await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    }
    await page.close();
  });

  it('logged no console error, page error or CSP violation', () => {
    // Chromium logs every 4xx as "Failed to load resource": the 403s this test
    // provoked and the 404s of parts not enabled here (the IOC feed), which the
    // page shows as "not enabled". Anything else (a script error, a CSP
    // violation: "Refused to ...") fails.
    const unexpected = browser.errors.filter((e) => !/Failed to load resource: the server responded with a status of (403|404)/.test(e));
    expect(unexpected).toEqual([]);
  });
});

/** "97,8 %", "≥ 95 %", "42,5 phút" → the number (Vietnamese: "." groups, "," decimals). */
function parseViNumber(text: string): number {
  const m = /-?[\d.]+(,\d+)?/.exec(text.replace(/\s/g, ' '));
  if (!m) throw new Error(`no number in "${text}"`);
  return Number(m[0].replace(/\./g, '').replace(',', '.'));
}

/** Browser globals used inside page.evaluate (this test compiles without the DOM lib). */
interface Win {
  location: { hash: string };
  __noReload?: boolean;
  document: { fonts: { ready: Promise<unknown> }; documentElement: { scrollWidth: number } };
  sessionStorage: { getItem(key: string): string | null };
  getComputedStyle(e: unknown): { backgroundColor: string };
}

/** Client-side navigation (hash route), as a link click does: no reload. */
async function go(page: Page, hash: string): Promise<void> {
  await page.evaluate((h) => {
    (globalThis as unknown as Win).location.hash = h;
  }, hash);
}

/** Wait until the element has the attribute value (the page updates asynchronously). */
async function hasAttr(locator: Locator, name: string, value: string, timeoutMs = 5000): Promise<void> {
  await waitFor(`${name}="${value}"`, async () => (await locator.getAttribute(name)) === value, timeoutMs);
}
