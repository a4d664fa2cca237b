/**
 * The indicators API (through the real gateway's fastify instance, its auth hook
 * and error handler, via inject) and the CLI function (against a store file the
 * "gateway" still holds open, as when the officer runs it beside a running gateway).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../gateway/build.js';
import { openIndicatorStore, runIndicatorsCommand } from '../gateway/indicators/cli.js';
import { reportComputer } from '../gateway/indicators/engine.js';
import { Inventory } from '../gateway/pipeline/inventory.js';
import type { IndicatorReport } from '../gateway/indicators/types.js';
import { settingsFrom } from '../gateway/settings/load.js';
import { testSettingsInput, TOKENS } from './helpers/gateway.js';
import { H, scenario, t, type Scenario } from './indicators-scenario.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function gateway(): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'ce-ind-api-'));
  const now = t('2026-07-02 08:00');
  const settings = settingsFrom(testSettingsInput(dir, { indicators: { targets: { loudspeaker_availability: { value: 99.9 } } } }));
  // Not started: no listeners needed, inject() goes through the same hooks.
  const gw = await buildGateway(settings, { logger: pino({ level: 'silent' }), clock: { now: () => now }, timers: false });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => gw.stop('test'));
  // buildGateway registers the indicator routes (gateway/indicators/routes.ts) in its API.
  const db = gw.ctx.store.database;
  // H1 history: a run all half-year; loa-01 DOWN 12 h in May.
  db.prepare('INSERT INTO gateway_runs (started_at, last_beat_at, stopped_at) VALUES (?, ?, ?)').run(t('2026-01-01 00:00'), t('2026-07-01 00:00'), t('2026-07-01 00:00'));
  const tr = db.prepare("INSERT INTO transitions (device_id, ts, from_state, to_state, reason, run_id) VALUES (?, ?, NULL, ?, 'ok', 1)");
  tr.run('loa-01', t('2026-01-01 00:00'), 'UP');
  tr.run('loa-01', t('2026-05-10 06:00'), 'DOWN');
  tr.run('loa-01', t('2026-05-10 18:00'), 'UP');
  tr.run('loa-01', t('2026-07-01 00:00'), 'UNKNOWN');
  return gw;
}

const get = async (gw: Gateway, url: string, token: string | null = TOKENS.viewer) => {
  const res = await gw.api.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.statusCode, json: res.json() as Record<string, unknown> };
};

describe('GET /api/indicators', () => {
  it('returns the report of a period, with the target from config', async () => {
    const gw = await gateway();
    const { status, json } = await get(gw, '/api/indicators?period=2026-H1');
    expect(status).toBe(200);
    const report = json as unknown as IndicatorReport;
    expect(report.period).toEqual({ id: '2026-H1', kind: 'half', from: t('2026-01-01 00:00'), to: t('2026-07-01 00:00'), timezone: 'Asia/Ho_Chi_Minh' });
    expect(report.partial).toBe(false);
    expect(report.generatedAt).toBe('2026-07-02T08:00:00+07:00');
    expect(report.commune).toEqual({ code: '12345', name: 'Xã Thử Nghiệm', province: { code: '75', name: 'Đồng Nai' } });
    expect(report.indicators).toHaveLength(15);
    // H1 = 181 days = 4344 h; loa-01 down 12 h; loa-02 never seen in H1 (no time at all).
    const a = report.indicators.find((i) => i.id === 'loudspeaker_availability')!;
    expect([a.numerator, a.denominator]).toEqual([4332 * H, 4344 * H]);
    expect(a.target).toEqual({ op: '>=', value: 99.9 });
    expect(a.status).toBe('CHUA_DAT'); // 99.72 % < 99.9 %
    expect(a.byDevice.map((d) => d.id)).toEqual(['loa-01', 'loa-02']);
  });

  it('defaults to the current month; devices=false drops the per-device rows', async () => {
    const gw = await gateway();
    const { status, json } = await get(gw, '/api/indicators?devices=false');
    expect(status).toBe(200);
    const report = json as unknown as IndicatorReport;
    expect(report.period.id).toBe('2026-07');
    expect(report.partial).toBe(true);
    expect(report.indicators.every((i) => i.byDevice.length === 0)).toBe(true);
  });

  it('a bad period is 400 CE_PERIOD_INVALID; no token is 401', async () => {
    const gw = await gateway();
    const bad = await get(gw, '/api/indicators?period=2026-13');
    expect(bad.status).toBe(400);
    expect(bad.json['error']).toMatchObject({ code: 'CE_PERIOD_INVALID', message: expect.stringContaining('month 13 does not exist') });
    expect((await get(gw, '/api/indicators?period=2026-H1', null)).status).toBe(401);
    expect((await get(gw, '/api/indicators?period=2026-H1', 'wrong-token')).status).toBe(401);
  });

  it('definitions: every indicator with the target and units in force; in the OpenAPI document', async () => {
    const gw = await gateway();
    const { status, json } = await get(gw, '/api/indicators/definitions');
    expect(status).toBe(200);
    const defs = json['definitions'] as { id: string; target: unknown; defaultTarget: unknown; responsibleUnit: string }[];
    expect(defs).toHaveLength(15);
    expect(defs.find((d) => d.id === 'loudspeaker_availability')).toMatchObject({
      defaultTarget: { op: '>=', value: 95 },
      target: { op: '>=', value: 99.9 },
      responsibleUnit: 'Phòng Văn hóa - Xã hội',
    });
    const doc = (await gw.api.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/indicators', '/api/indicators/definitions']));
  });

  it('counts its computations in /metrics', async () => {
    const gw = await gateway();
    await get(gw, '/api/indicators?period=2026-05');
    const text = await gw.ctx.metrics.registry.metrics();
    expect(text).toMatch(/^ce_indicators_compute_seconds_count\{period="month"\} 1$/m);
  });
});

describe('commune-edge indicators (runIndicatorsCommand)', () => {
  const sink = (tty = false) => {
    let text = '';
    return { write: (s: string) => void (text += s), isTTY: tty, get text() { return text; } };
  };

  function commune(): Scenario {
    // Two loudspeakers (one DOWN 6 h), one WAN line, a week; the Store stays open like a running gateway's.
    const s = scenario(['ap-01', 'ap-02'], [
      { id: 'loa-1', kind: 'loudspeaker', hamlet: 'ap-01' },
      { id: 'loa-2', kind: 'loudspeaker', hamlet: 'ap-02' },
      { id: 'wan-1', kind: 'network', hamlet: 'ap-01', role: 'wan' },
    ]);
    cleanups.push(() => s.close());
    s.run(t('2026-03-01 00:00'), t('2026-03-08 01:00'), null);
    for (const id of ['loa-1', 'loa-2', 'wan-1']) s.transition(id, t('2026-03-01 00:00'), 'UP');
    s.transition('loa-1', t('2026-03-02 08:00'), 'DOWN', 'amp-fault');
    s.transition('loa-1', t('2026-03-02 14:00'), 'UP');
    s.reading('loa-1', t('2026-03-03 10:00'), { rsrp_dbm: -118.4, network_type: '4G' });
    s.reading('loa-2', t('2026-03-03 10:00'), { rsrp_dbm: -92.5, network_type: '4G' });
    return s;
  }

  it('prints the Vietnamese table with the decimal comma', async () => {
    const s = commune();
    const out = sink();
    const code = await runIndicatorsCommand({ settings: s.settings, periodId: '2026-03-01..2026-03-07', format: 'table', out, now: t('2026-03-08 01:00') });
    expect(code).toBe(0);
    const lines = out.text.split('\n');
    expect(lines[0]).toBe('KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU HẠ TẦNG SỐ — Xã Thử Nghiệm (26999), Đồng Nai');
    expect(lines[1]).toBe('Kỳ báo cáo: 2026-03-01..2026-03-07 (từ 01/03/2026 đến 07/03/2026)');
    expect(out.text).toMatch(/^STT \| Nội dung chỉ tiêu +\| Đơn vị tính +\| Chỉ tiêu +\| Kết quả +\| Đánh giá +\| Độ phủ dữ liệu$/m);
    // Loudspeakers: (168 − 6 + 168) / 336 = 98.2142… % → "98,21%", target "≥ 95%", Đạt.
    const row1 = lines.find((l) => l.startsWith('1 '))!;
    expect(row1.split('|').map((c) => c.trim())).toEqual([
      '1',
      'Tỷ lệ thời gian hoạt động của hệ thống loa',
      '%',
      '≥ 95%',
      '98,21%',
      'Đạt',
      '100,0%',
    ]);
    // Cellular: ap-01 −118.4 dBm is a dead zone, ap-02 usable: 1/2 (50,00%), Chưa đạt.
    const cell = lines.find((l) => l.startsWith('13 '))!;
    expect(cell).toContain('1/2 (50,00%)');
    expect(cell).toContain('Chưa đạt');
    // MTTR: 360 minutes, target "≤ 1.440 phút" (dot for thousands).
    expect(lines.find((l) => l.startsWith('15 '))).toMatch(/≤ 1\.440 phút \| 360,0 phút \(1 sự cố\)/);
    expect(out.text).toContain('Không đủ dữ liệu');
    expect(out.text).toContain('- (13) Vùng lõm sóng: Ấp 01');
  });

  it('prints the report as JSON, the same as the engine computes', async () => {
    const s = commune();
    const out = sink();
    expect(await runIndicatorsCommand({ settings: s.settings, periodId: '2026-03-02', format: 'json', out, now: t('2026-03-08 01:00') })).toBe(0);
    const report = JSON.parse(out.text) as IndicatorReport;
    expect(report).toEqual(JSON.parse(JSON.stringify(await s.compute('2026-03-02', t('2026-03-08 01:00')))));
    const a = report.indicators.find((i) => i.id === 'loudspeaker_availability')!;
    expect([a.numerator, a.denominator]).toEqual([42 * H, 48 * H]);
  });

  it('shows a progress bar on a terminal, and clears it', async () => {
    const s = commune();
    const err = sink(true);
    await runIndicatorsCommand({ settings: s.settings, periodId: '2026-03', format: 'json', out: sink(), err, now: t('2026-03-08 01:00') });
    expect(err.text).toMatch(/^\rĐang tính chỉ tiêu \[#+\.*\] \d+%/);
    expect(err.text).toContain('[##############################] 100%');
    expect(err.text.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('a bad period exits 2 with CE_PERIOD_INVALID; a missing store exits 1', async () => {
    const s = commune();
    const err = sink();
    expect(await runIndicatorsCommand({ settings: s.settings, periodId: '2026-H3', format: 'table', out: sink(), err })).toBe(2);
    expect(err.text).toMatch(/^CE_PERIOD_INVALID: .*half-year 3 does not exist/);
    const elsewhere = settingsFrom(testSettingsInput(join(tmpdir(), 'ce-ind-none-' + process.pid)));
    const err2 = sink();
    expect(await runIndicatorsCommand({ settings: elsewhere, periodId: '2026-H1', format: 'table', out: sink(), err: err2 })).toBe(1);
    expect(err2.text).toMatch(/^no store at .*commune-edge\.db: the gateway has not run with this config yet/);
  });

  it('a file that is not a commune-edge store exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-ind-notstore-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'commune-edge.db'), '');
    const err = sink();
    expect(await runIndicatorsCommand({ settings: settingsFrom(testSettingsInput(dir)), periodId: '2026-H1', format: 'table', out: sink(), err })).toBe(1);
    expect(err.text).toMatch(/is not a commune-edge store/);
  });
});

describe('reportComputer: the computeReport(periodId, onProgress) the report and the IOC feed take', () => {
  it('parses the id in the commune zone, computes up to the clock, reports progress as a fraction', async () => {
    const s = scenario(['ap-01'], [{ id: 'loa-1', kind: 'loudspeaker', hamlet: 'ap-01' }]);
    cleanups.push(() => s.close());
    s.run(t('2026-03-01 00:00'), t('2026-03-08 01:00'), null);
    s.transition('loa-1', t('2026-03-01 00:00'), 'UP');
    s.transition('loa-1', t('2026-03-02 08:00'), 'DOWN', 'amp-fault');
    s.transition('loa-1', t('2026-03-02 14:00'), 'UP');
    // As the report CLI would: open the file beside the "running" gateway, then compute.
    const opened = openIndicatorStore(s.settings);
    cleanups.push(() => opened.close());
    const compute = reportComputer({ settings: s.settings, store: opened.store, inventory: new Inventory(s.settings), clock: { now: () => t('2026-03-05 00:00') }, rollup: false });
    const fractions: number[] = [];
    const report = await compute('2026-03', (fraction, label) => {
      expect(label).toBe('Đang tính chỉ tiêu');
      fractions.push(fraction);
    });
    expect(report.partial).toBe(true);
    const a = report.indicators.find((i) => i.id === 'loudspeaker_availability')!;
    // 4 days so far = 96 h, 6 h down.
    expect([a.numerator / H, a.denominator / H]).toEqual([90, 96]);
    expect(fractions.at(-1)).toBe(1);
    expect(fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= fractions[i - 1]!))).toBe(true);
    await expect(compute('2026-H3')).rejects.toMatchObject({ code: 'CE_PERIOD_INVALID' });
  });
});
