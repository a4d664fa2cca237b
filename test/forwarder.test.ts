/**
 * The forwarder's algorithm (cursors, retries, bisecting rejected batches,
 * paced replay with a live lane) against a scripted sink. The InfluxDB writers
 * themselves are tested against a real InfluxDB in
 * test/integration/influx-sink.integration.test.ts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../gateway/build.js';
import type { Sink, SinkPoint, WriteResult } from '../gateway/sinks/contract.js';
import { Forwarder } from '../gateway/sinks/forwarder.js';
import { PointMapper } from '../gateway/sinks/points.js';
import { settingsFrom } from '../gateway/settings/load.js';
import { SinkSchema } from '../gateway/settings/schema.js';
import { testSettingsInput, until } from './helpers/gateway.js';

/** A sink whose answers the test scripts; it keeps what it "stored" by point identity. */
class ScriptedSink implements Sink {
  readonly id = 'scripted';
  readonly type = 'influxdb-v1' as const;
  readonly stored = new Map<string, SinkPoint>();
  writes = 0;
  down = false;
  hang = false;
  rejectIf: (p: SinkPoint) => boolean = () => false;
  async open() {}
  async close() {}
  async write(batch: SinkPoint[]): Promise<WriteResult> {
    this.writes++;
    if (this.hang) return new Promise(() => undefined);
    if (this.down) return { kind: 'retry', reason: 'connect ECONNREFUSED' };
    const bad = batch.filter((p) => this.rejectIf(p));
    // Like InfluxDB's partial write: the good points are written, the answer is 400.
    for (const p of batch) if (!this.rejectIf(p)) this.stored.set(key(p), p);
    if (bad.length) return { kind: 'rejected', status: 400, reason: `partial write: field type conflict dropped=${bad.length}` };
    return { kind: 'ok' };
  }
  count(measurement: string) {
    return [...this.stored.values()].filter((p) => p.measurement === measurement).length;
  }
}
const key = (p: SinkPoint) => `${p.measurement}|${JSON.stringify(p.tags)}|${p.ts}`;

let gw: Gateway | null = null;
let fwd: Forwarder | null = null;
afterEach(async () => {
  await fwd?.stop();
  await gw?.stop();
  fwd = null;
  gw = null;
});

async function setup(forwarding: Record<string, number> = {}, dir = mkdtempSync(join(tmpdir(), 'ce-fwd-'))) {
  const settings = settingsFrom(testSettingsInput(dir));
  gw = await buildGateway(settings, { logger: pino({ level: 'silent' }), timers: false });
  const sinkSettings = SinkSchema.parse({
    id: 'scripted',
    type: 'influxdb-v1',
    url: 'http://127.0.0.1:1',
    forwarding: { batchPoints: 500, batchAgeMs: 20, retryMinMs: 50, retryMaxMs: 200, timeoutMs: 300, ...forwarding },
  });
  const sink = new ScriptedSink();
  const f = new Forwarder(gw.ctx, sink, sinkSettings, new PointMapper(settings, gw.ctx.inventory));
  gw.ctx.store.onCommit(() => f.notify());
  return { gw, sink, f, dir };
}

let seq = 0;
const T_BASE = Date.now() - 3600_000;
/** Device-stamped 1 ms apart: points of one series with the same time overwrite each other (as in InfluxDB). */
function ingest(g: Gateway, device = 'ups-01', fields: Record<string, unknown> = { load_pct: seq % 100 }) {
  const payload = { ts: T_BASE + seq++, ...fields };
  return new Promise((resolve) =>
    g.ctx.pipeline.ingest({ topic: `ce/${device}/telemetry`, payload: Buffer.from(JSON.stringify(payload)), client: 't', transport: 'test' }, resolve),
  );
}

describe('forwarder', () => {
  it('delivers readings, transitions and heartbeats once, and resumes from its durable cursor', async () => {
    const s = await setup();
    fwd = s.f;
    for (let i = 0; i < 100; i++) await ingest(s.gw);
    s.gw.tick(); // a heartbeat
    s.f.start();
    await until(() => s.sink.count('power') === 100, 5000, '100 readings');
    await until(() => s.sink.count('device_state') > 0 && s.sink.count('gateway_heartbeat') > 0, 5000, 'transitions and beats');
    const writes = s.sink.writes;
    await s.f.stop();
    fwd = null;
    await s.gw.ctx.store.flush();
    // A second forwarder on the same store sends nothing again.
    const again = new ScriptedSink();
    const sinkSettings = SinkSchema.parse({ id: 'scripted', type: 'influxdb-v1', url: 'http://127.0.0.1:1', forwarding: { batchAgeMs: 20 } });
    fwd = new Forwarder(s.gw.ctx, again, sinkSettings, new PointMapper(s.gw.ctx.settings, s.gw.ctx.inventory));
    fwd.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(again.writes).toBe(0);
    expect(writes).toBeGreaterThan(0);
  });

  it('retries a failing sink with backoff, then delivers every reading exactly once', async () => {
    const s = await setup();
    fwd = s.f;
    s.sink.down = true;
    s.f.start();
    for (let i = 0; i < 300; i++) await ingest(s.gw);
    await until(() => s.f.status().retries >= 3, 5000, 'retries');
    expect(s.f.status()).toMatchObject({ connected: false, backlogPoints: expect.any(Number) });
    expect(s.f.status().backlogPoints).toBeGreaterThanOrEqual(300);
    expect(s.f.status().lastError).toMatch(/ECONNREFUSED/);
    s.sink.down = false;
    await until(() => s.sink.count('power') === 300, 10_000, 'all 300 after recovery');
    await until(() => s.f.status().backlogPoints === 0, 5000, 'empty backlog');
    expect(s.f.status().connected).toBe(true);
  });

  it('quarantines exactly the points the server rejects, and keeps the rest flowing', async () => {
    const s = await setup();
    fwd = s.f;
    s.sink.rejectIf = (p) => p.fields['load_pct']?.value === 13 || p.fields['load_pct']?.value === 77;
    for (let i = 0; i < 200; i++) await ingest(s.gw, 'ups-01', { load_pct: i });
    s.f.start();
    await until(() => s.f.status().quarantined === 2, 5000, '2 quarantined');
    await until(() => s.sink.count('power') === 198, 10_000, 'the other 198');
    const q = s.gw.ctx.store.quarantined('scripted', 10);
    expect(q.map((x) => JSON.parse(x.point).fields.load_pct.value).sort()).toEqual([13, 77]);
    expect(q[0]!.reason).toMatch(/HTTP 400: partial write: field type conflict/);
    // The next readings still flow.
    await ingest(s.gw, 'ups-01', { load_pct: 500 });
    await until(() => s.sink.count('power') === 199, 5000, 'later reading');
  });

  it('a sink that hangs is abandoned after its timeout and retried', async () => {
    const s = await setup({ timeoutMs: 100 });
    fwd = s.f;
    s.sink.hang = true;
    await ingest(s.gw);
    s.f.start();
    await until(() => s.f.status().retries >= 1, 5000, 'timeout counted as a retry');
    expect(s.f.status().lastError).toMatch(/no answer within 100 ms/);
    s.sink.hang = false;
    await until(() => s.sink.count('power') === 1, 5000, 'delivered after the hang');
  });

  it('replays a backlog at the configured pace while live readings go first', async () => {
    const s = await setup({ batchPoints: 500, replayPointsPerS: 4000, batchAgeMs: 10 });
    fwd = s.f;
    // 6,000 readings spooled while the sink was away (device-stamped 1 ms apart:
    // points with the same series and time would overwrite each other, as in InfluxDB).
    for (let i = 0; i < 6000; i++) void ingest(s.gw, 'ups-01', { load_pct: i % 100 });
    await s.gw.ctx.store.flush();
    const t0 = Date.now();
    s.f.start();
    await until(() => s.f.status().catchingUp, 2000, 'replay mode');
    // A live reading during the replay is delivered long before the backlog is done.
    await ingest(s.gw, 'loa-01', { supply_v: 12.3 });
    await until(() => s.sink.count('loudspeaker') === 1, 1000, 'live reading within 1 s');
    expect(s.sink.count('power')).toBeLessThan(6000);
    await until(() => s.sink.count('power') === 6000, 10_000, 'backlog replayed');
    const elapsed = (Date.now() - t0) / 1000;
    // 6,000 points at 4,000/s with a 500-point initial bucket: at least ~1.3 s.
    expect(elapsed).toBeGreaterThan(1.2);
    await until(() => !s.f.status().catchingUp, 2000, 'lanes merged');
  });
});
