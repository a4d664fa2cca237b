/**
 * The health state machine and the gateway's own heartbeat, on a hand-driven
 * clock: timeouts, last-will, and UNKNOWN (not DOWN) time across a power cut.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../gateway/build.js';
import { settingsFrom } from '../gateway/settings/load.js';
import { testSettingsInput } from './helpers/gateway.js';

const T0 = Date.parse('2026-03-02T00:00:00+07:00');

function clock(start = T0) {
  let now = start;
  return { now: () => now, set: (t: number) => (now = t), advance: (ms: number) => (now += ms) };
}

async function boot(dir: string, c: { now: () => number }): Promise<Gateway> {
  const settings = settingsFrom(testSettingsInput(dir));
  // Not started: no listeners needed; the pipeline is fed directly.
  return buildGateway(settings, { logger: pino({ level: 'silent' }), clock: c, timers: false });
}

function feed(gw: Gateway, topic: string, payload: unknown) {
  return new Promise((resolve) =>
    gw.ctx.pipeline.ingest({ topic, payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), client: 't', transport: 'test' }, resolve),
  );
}

const history = (gw: Gateway, id: string) => gw.ctx.store.recentTransitions(id, 100).reverse().map((t) => ({ at: t.ts - T0, from: t.from, to: t.to, reason: t.reason }));

describe('health tracking', () => {
  it('never-seen devices stay UNKNOWN; a reading makes them UP; silence beyond 3 intervals makes them DOWN', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-health-'));
    const c = clock();
    const gw = await boot(dir, c);
    c.advance(10 * 60_000);
    gw.tick();
    expect(gw.ctx.health.get('loa-01')).toMatchObject({ state: 'UNKNOWN', reason: 'never-seen' });

    c.set(T0 + 60_000);
    await feed(gw, 'ce/loa-01/telemetry', { supply_v: 12.6 });
    expect(gw.ctx.health.get('loa-01')).toMatchObject({ state: 'UP', since: T0 + 60_000 });

    c.set(T0 + 60_000 + 179_000); // loudspeaker: 60 s interval × 3
    gw.tick();
    expect(gw.ctx.health.get('loa-01')!.state).toBe('UP');
    c.set(T0 + 60_000 + 181_000);
    gw.tick();
    // DOWN is dated when the timeout expired, not when the tick noticed it.
    expect(gw.ctx.health.get('loa-01')).toMatchObject({ state: 'DOWN', reason: 'heartbeat-timeout', since: T0 + 60_000 + 180_000 });

    c.advance(5000);
    await feed(gw, 'ce/loa-01/telemetry', { supply_v: 10.2 });
    expect(gw.ctx.health.get('loa-01')).toMatchObject({ state: 'DEGRADED', reason: 'supply-low' });
    await gw.ctx.store.flush();
    expect(history(gw, 'loa-01')).toEqual([
      { at: 0, from: null, to: 'UNKNOWN', reason: 'never-seen' },
      { at: 60_000, from: 'UNKNOWN', to: 'UP', reason: 'ok' },
      { at: 240_000, from: 'UP', to: 'DOWN', reason: 'heartbeat-timeout' },
      { at: 246_000, from: 'DOWN', to: 'DEGRADED', reason: 'supply-low' },
    ]);
    await gw.stop();
  });

  it('status offline (last-will) is DOWN at once; online brings a DOWN device back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-health-'));
    const c = clock();
    const gw = await boot(dir, c);
    await feed(gw, 'ce/ups-01/telemetry', { mains_ok: true, on_battery: false });
    c.advance(1000);
    await feed(gw, 'ce/ups-01/status', 'offline');
    expect(gw.ctx.health.get('ups-01')).toMatchObject({ state: 'DOWN', reason: 'offline' });
    c.advance(1000);
    await feed(gw, 'ce/ups-01/status', '{"online": true}');
    expect(gw.ctx.health.get('ups-01')).toMatchObject({ state: 'UP', reason: 'online' });
    await gw.stop();
  });

  it('judges health on the latest value of every field, across partial messages', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-health-'));
    const gw = await boot(dir, clock());
    await feed(gw, 'ce/ups-01/telemetry', { on_battery: true, battery_pct: 80 });
    expect(gw.ctx.health.get('ups-01')).toMatchObject({ state: 'DEGRADED', reason: 'on-battery' });
    await feed(gw, 'ce/ups-01/telemetry', { battery_pct: 15 });
    expect(gw.ctx.health.get('ups-01')).toMatchObject({ state: 'DOWN', reason: 'battery-exhausting' });
    await gw.stop();
  });

  it('after a power cut the gap is UNKNOWN from the last gateway heartbeat, not DOWN', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-health-'));
    const c = clock();
    const gw1 = await boot(dir, c);
    await feed(gw1, 'ce/loa-01/telemetry', { supply_v: 12.6 });
    // The gateway runs 10 minutes, beating every 5 s (settings), the loudspeaker reporting every minute.
    for (let s = 1; s <= 600; s++) {
      c.advance(1000);
      if (s % 60 === 0) await feed(gw1, 'ce/loa-01/telemetry', { supply_v: 12.6 });
      gw1.tick();
    }
    await gw1.ctx.store.flush();
    const lastBeat = gw1.ctx.store.lastRun()!.lastBeatAt;
    // Beats every gateway.heartbeatS (5 s here): the last one is at most 5 s before the cut.
    expect(T0 + 600_000 - lastBeat).toBeLessThan(5000);
    expect(T0 + 600_000 - lastBeat).toBeGreaterThanOrEqual(0);
    // Power cut: the process vanishes; no stop, no final transitions.
    await gw1.ctx.store.close();

    c.set(T0 + 3 * 3600_000); // power back three hours later
    const gw2 = await boot(dir, c);
    // The last sign of life is the reading committed at 600 s, after the last beat.
    expect(gw2.ctx.health.get('loa-01')).toMatchObject({ state: 'UNKNOWN', reason: 'gateway-down', since: T0 + 600_000 });
    // The loudspeaker was silent for hours, but the gateway could not see: no DOWN yet.
    gw2.tick();
    expect(gw2.ctx.health.get('loa-01')!.state).toBe('UNKNOWN');
    // It does not report after the restart: DOWN once its timeout has passed *in this run*.
    c.advance(181_000);
    gw2.tick();
    expect(gw2.ctx.health.get('loa-01')).toMatchObject({ state: 'DOWN', reason: 'heartbeat-timeout', since: T0 + 3 * 3600_000 + 180_000 });
    await gw2.ctx.store.flush();
    expect(history(gw2, 'loa-01')).toEqual([
      { at: 0, from: null, to: 'UNKNOWN', reason: 'never-seen' },
      { at: 0, from: 'UNKNOWN', to: 'UP', reason: 'ok' },
      { at: 600_000, from: 'UP', to: 'UNKNOWN', reason: 'gateway-down' },
      { at: 3 * 3600_000 + 180_000, from: 'UNKNOWN', to: 'DOWN', reason: 'heartbeat-timeout' },
    ]);
    await gw2.stop();
  });

  it('a clean stop closes every state as UNKNOWN (gateway-stopped) and the run as stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-health-'));
    const c = clock();
    const gw1 = await boot(dir, c);
    await feed(gw1, 'ce/loa-01/telemetry', { supply_v: 12.6 });
    c.advance(30_000);
    await gw1.stop('SIGTERM');
    c.advance(60_000);
    const gw2 = await boot(dir, c);
    const runs = gw2.ctx.store.runs();
    expect(runs[0]).toMatchObject({ stoppedAt: T0 + 30_000, stopReason: 'SIGTERM' });
    expect(history(gw2, 'loa-01').slice(-1)[0]).toEqual({ at: 30_000, from: 'UP', to: 'UNKNOWN', reason: 'gateway-stopped' });
    expect(gw2.ctx.health.get('loa-01')!.state).toBe('UNKNOWN');
    await gw2.stop();
  });
});
