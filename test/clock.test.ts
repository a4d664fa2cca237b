/**
 * Clock sanity without a real-time clock: device timestamps before the last
 * known good time or in the future are re-stamped and flagged; a gateway whose
 * own clock is behind keeps time from the last known good time.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../gateway/build.js';
import { ClockGuard } from '../gateway/clock-guard.js';
import { settingsFrom } from '../gateway/settings/load.js';
import { PointMapper } from '../gateway/sinks/points.js';
import { testSettingsInput } from './helpers/gateway.js';

const T0 = Date.parse('2026-06-01T08:00:00+07:00');

async function boot(dir: string, now: () => number): Promise<Gateway> {
  return buildGateway(settingsFrom(testSettingsInput(dir)), { logger: pino({ level: 'silent' }), clock: { now }, timers: false });
}
function feed(gw: Gateway, payload: unknown) {
  return new Promise((resolve) =>
    gw.ctx.pipeline.ingest({ topic: 'ce/ups-01/telemetry', payload: Buffer.from(JSON.stringify(payload)), client: 't', transport: 'test' }, resolve),
  );
}

describe('clock guard', () => {
  it('accepts device times between the last known good time and 10 minutes ahead', () => {
    const g = new ClockGuard({ now: () => T0 }, T0 - 3600_000);
    expect(g.acceptDeviceTs(T0 - 60_000, T0)).toBe(true);
    expect(g.acceptDeviceTs(T0 - 2 * 3600_000, T0)).toBe(false); // before the last known good time
    expect(g.acceptDeviceTs(T0 + 9 * 60_000, T0)).toBe(true);
    expect(g.acceptDeviceTs(T0 + 11 * 60_000, T0)).toBe(false);
    expect(new ClockGuard({ now: () => T0 }, null).acceptDeviceTs(86_400_000, T0)).toBe(false); // 1970 from a sensor that lost its time
    expect(g.status()).toEqual({ state: 'ok', lastKnownGood: T0 - 3600_000, restamped: 0 });
  });

  it('re-stamps a device reading dated before the previous run, and flags it in the InfluxDB point', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-clock-'));
    let now = T0;
    const gw1 = await boot(dir, () => now);
    await feed(gw1, { load_pct: 10 });
    now += 600_000;
    gw1.tick();
    await gw1.stop();
    now += 3600_000;
    const gw2 = await boot(dir, () => now);
    await feed(gw2, { ts: T0 - 86_400_000, load_pct: 20 }); // a sensor whose clock reset to yesterday
    await feed(gw2, { ts: now - 5000, load_pct: 30 });
    await gw2.ctx.store.flush();
    const rows = gw2.ctx.store.spoolRows('readings', 1, 10);
    expect(rows.map((r) => [r.reading!.fields['load_pct'], r.reading!.tsSource, r.reading!.ts - now])).toEqual([
      [20, 'restamped', 0],
      [30, 'device', -5000],
    ]);
    const point = new PointMapper(gw2.ctx.settings, gw2.ctx.inventory).toPoint(rows[0]!)!;
    expect(point.fields['clock_restamped']).toEqual({ type: 'boolean', value: true });
    expect(point.tags).toMatchObject({ commune: '12345', hamlet: 'ap-01', device: 'ups-01', role: 'office' });
    const health = await gw2.api.inject({ url: '/api/health' });
    expect(health.json().clock).toMatchObject({ state: 'ok', restampedReadings: 1 });
    await gw2.stop();
  });

  it('a Pi that boots with its clock behind keeps time from the last known good time and says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-clock-'));
    let now = T0;
    const gw1 = await boot(dir, () => now);
    await feed(gw1, { load_pct: 10 });
    await gw1.stop();
    const lastGood = now;
    now = Date.parse('2026-05-20T00:00:00Z'); // fake-hwclock restored an old time; no NTP yet
    const gw2 = await boot(dir, () => now);
    const health = await gw2.api.inject({ url: '/api/health' });
    expect(health.json().clock).toMatchObject({ state: 'behind-last-known-good', lastKnownGood: new Date(lastGood).toISOString() });
    expect(health.json().status).toBe('degraded');
    expect(gw2.ctx.clock.now()).toBeGreaterThanOrEqual(lastGood);
    await feed(gw2, { ts: now, load_pct: 11 }); // the device agrees with the wrong clock: not believed either
    await gw2.ctx.store.flush();
    const r = gw2.ctx.store.spoolRows('readings', 1, 10)[0]!.reading!;
    expect(r.tsSource).toBe('restamped');
    expect(r.ts).toBeGreaterThanOrEqual(lastGood);
    now = lastGood + 60_000; // NTP answered
    expect(gw2.ctx.clockGuard.status().state).toBe('ok');
    expect(gw2.ctx.clock.now()).toBe(now);
    await gw2.stop();
  });
});
