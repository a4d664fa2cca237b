/**
 * The InfluxDB sinks end to end (README "Data in InfluxDB", "What survives a
 * crash"): real MQTT clients (mqtt.js, QoS 1) publish to the gateway's embedded
 * broker, the gateway spools and forwards, and the data is read back from a real
 * InfluxDB 1.6 over InfluxQL.
 *
 * - schema: measurements, tags, field types (an integer field stays integer when
 *   the JSON sent 3, a float field stays float when it sent 12), device_state
 *   and gateway_heartbeat points;
 * - an InfluxDB outage mid-stream: every acknowledged reading arrives exactly
 *   once after the restart; /api/health shows the outage and the recovery;
 * - after an outage the backlog is replayed at replayPointsPerS, with only
 *   what arrives after the outage on the unpaced live lane;
 * - SIGKILL of a gateway child process while InfluxDB has some but not all of
 *   the spool (influxd answering; or a write in flight, influxd paused): after
 *   a restart on the same data dir, no loss and no duplicate;
 * - a field type conflict: the points carrying the field are quarantined with
 *   InfluxDB's reason, the rest keeps flowing;
 * - the spool cap reached during an outage: the oldest readings are evicted, the
 *   newest all arrive without a gap, the counters say so, transitions and
 *   heartbeats are kept;
 * - the InfluxDB 2.x writer, as a contract test against the v2 write-API
 *   stand-in (no InfluxDB 2 can run here): the documented request, gzip, 503
 *   retried, 422 partial write quarantined.
 */
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { hashPassword } from '../../gateway/credentials.js';
import { settingsFrom } from '../../gateway/settings/load.js';
import type { SettingsInput } from '../../gateway/settings/schema.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import {
  Cleanup,
  connectMqtt,
  endMqtt,
  ensureDist,
  freePort,
  httpGet,
  memoryLogger,
  metricValue,
  publish,
  removeDir,
  sleep,
  spawnGateway,
  tempDir,
  waitFor,
  waitForHealth,
  withTimeout,
  type Child,
} from './helpers.js';
import { parseLine, startInfluxV1, startInfluxV2Contract, type InfluxV1, type InfluxV2Contract, type Row } from './influx.js';

/** Fast forwarding, so that every test is bounded in time. */
const FAST = { batchPoints: 500, batchAgeMs: 100, retryMinMs: 100, retryMaxMs: 1000, timeoutMs: 1000 };
const COMMUNE = '12345'; // testSettingsInput's commune code

interface SinkHealth {
  id: string;
  type: string;
  connected: boolean;
  lastSuccessAt: string | null;
  lastError: string | null;
  backlogPoints: number;
  backlogBytes: number;
  oldestBacklogAgeS: number | null;
  retries: number;
  quarantined: number;
  catchingUp: boolean;
  pointsWritten: number;
}
interface Health {
  status: string;
  sinks: SinkHealth[];
  store: {
    readings: number;
    usedBytes: number;
    maxBytes: number;
    evictedReadings: Record<string, number>;
    evictedUndelivered: Record<string, number>;
  };
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** An in-process gateway (small test commune) with the given sinks; rate limits out of the way. */
async function gatewayWith(
  cleanup: Cleanup,
  sinks: SettingsInput['sinks'],
  more: (s: SettingsInput) => SettingsInput = (s) => s,
  opts: { timers?: boolean; logger?: Logger } = {},
): Promise<TestGateway> {
  const tg = await startTestGateway(
    (s) => more({ ...s, mqtt: { ...s.mqtt, rateLimit: { msgsPerS: 1_000_000, burst: 1_000_000 } }, sinks }),
    { timers: opts.timers ?? false, ...(opts.logger ? { logger: opts.logger } : {}) },
  );
  cleanup.add(`remove ${tg.dir}`, () => removeDir(tg.dir));
  cleanup.add('stop the in-process gateway', () => tg.close());
  return tg;
}

async function health(tg: TestGateway): Promise<Health> {
  const r = await tg.get('/api/health', null);
  expect(r.status).toBe(200);
  return r.json as Health;
}

/**
 * /api/health once the forwarder has caught up: a peer makes data visible (and
 * the v2 stand-in records lines) before the forwarder has handled the response
 * and moved its cursor, so status checks wait for it.
 */
async function settledHealth(tg: TestGateway): Promise<Health> {
  return waitFor('sink settled (connected, backlog 0)', async () => {
    const h = await health(tg);
    return h.sinks.every((k) => k.connected && k.backlogPoints === 0) ? h : null;
  }, 10_000);
}

async function metrics(tg: TestGateway): Promise<string> {
  const r = await tg.get('/metrics');
  expect(r.status).toBe(200);
  return r.body;
}

/** A full `power` reading: every field of the kind, seq in uptime_s (integer), device time `ts`. */
function powerPayload(seq: number, ts: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    ts,
    mains_ok: true,
    input_v: 228.5,
    on_battery: false,
    battery_pct: 100,
    runtime_min: 42.5,
    load_pct: 30,
    output_v: 230,
    uptime_s: seq,
    ...extra,
  });
}

/**
 * Publishes seq = first, first+1, ... at QoS 1 (at most `window` in flight, at
 * most `rate` per second when given) until stopped or `max` sent. `acked` holds
 * every seq whose PUBACK arrived. `done` resolves when nothing is in flight
 * after a stop, or when the connection closed.
 */
function seqStream(
  client: MqttClient,
  topic: string,
  payload: (seq: number) => string,
  o: { first?: number; max?: number; window?: number; rate?: number } = {},
) {
  const first = o.first ?? 1;
  const max = o.max ?? Number.MAX_SAFE_INTEGER;
  const window = o.window ?? 100;
  const acked = new Set<number>();
  const failed: string[] = [];
  let next = first;
  let inflight = 0;
  let stopped = false;
  let finished = false;
  const t0 = Date.now();
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const finish = () => {
    if (finished) return;
    finished = true;
    clearInterval(timer);
    resolveDone();
  };
  const check = () => {
    if ((stopped || next >= first + max) && inflight === 0) finish();
  };
  const pump = () => {
    const allowed = o.rate ? first + Math.floor(((Date.now() - t0) / 1000) * o.rate) + 1 : Number.MAX_SAFE_INTEGER;
    while (!finished && !stopped && client.connected && inflight < window && next < allowed && next < first + max) {
      const seq = next++;
      inflight++;
      client.publish(topic, payload(seq), { qos: 1 }, (err) => {
        inflight--;
        if (err) failed.push(`${seq}: ${err.message}`);
        else acked.add(seq);
        if (!stopped) pump();
        check();
      });
    }
    check();
  };
  const timer = setInterval(pump, 5);
  client.once('close', finish);
  pump();
  return {
    acked,
    failed,
    done,
    get sent() {
      return next - first;
    },
    async stop() {
      stopped = true;
      check();
      await withTimeout(done, 15_000, `the stream on ${topic} to settle`);
    },
  };
}

/** `SELECT count(<field>)` (0 when the measurement or database does not exist yet). */
async function count(inf: InfluxV1, db: string, from: string, field = 'uptime_s'): Promise<number> {
  try {
    const rows = await inf.rows(`SELECT count(${field}) AS n FROM ${from}`, db);
    return (rows[0]?.['n'] as number | undefined) ?? 0;
  } catch (err) {
    if (/database not found/.test((err as Error).message)) return 0;
    throw err;
  }
}

/** Every (time, uptime_s) of a series. */
async function seqRows(inf: InfluxV1, db: string, where: string): Promise<{ time: number; seq: number }[]> {
  const rows = await inf.rows(`SELECT uptime_s FROM power WHERE ${where}`, db);
  return rows.map((r) => ({ time: r['time'] as number, seq: r['uptime_s'] as number }));
}

const sorted = (xs: Iterable<number>) => [...xs].sort((a, b) => a - b);

/** a − b, sorted (callers show the first few in messages). */
function minus(a: Iterable<number>, b: Set<number>): number[] {
  const out: number[] = [];
  for (const x of a) if (!b.has(x)) out.push(x);
  return sorted(out);
}

// ---------------------------------------------------------------------------
// InfluxDB 1.6 (real influxd)
// ---------------------------------------------------------------------------

describe('InfluxDB 1.x sink against a real influxd 1.6 (MQTT → gateway → InfluxDB)', () => {
  const cleanup = new Cleanup();
  let inf: InfluxV1;
  const pids: (number | undefined)[] = [];

  beforeAll(async () => {
    ensureDist();
    inf = await startInfluxV1(cleanup);
    pids.push(inf.pid);
  }, 60_000);

  afterAll(async () => {
    await cleanup.run();
    for (const pid of pids) expect(alive(pid), `influxd pid ${pid} still running after cleanup`).toBe(false);
  }, 60_000);

  /** Start influxd again if a test left it stopped (a failed outage test must not break the next). */
  async function ensureInfluxUp(): Promise<void> {
    if (inf.paused) inf.resume();
    if (!inf.running) {
      await inf.start();
      pids.push(inf.pid);
    }
  }

  const v1Sink = (database: string, forwarding: Record<string, number> = {}) => ({
    id: 'influx',
    type: 'influxdb-v1' as const,
    url: inf.url,
    database,
    forwarding: { ...FAST, ...forwarding },
  });

  it('writes readings, transitions and heartbeats with the documented measurements, tags and field types', async () => {
    await ensureInfluxUp();
    const db = 'schema';
    const tg = await gatewayWith(cleanup, [v1Sink(db)]);
    const [loa1, loa2, ups] = await Promise.all([tg.connect('loa-01'), tg.connect('loa-02'), tg.connect('ups-01')]);
    const now = Date.now();
    const t1 = now - 60_000; // device times: within the clock guard's window
    const t2Secs = Math.floor((now - 30_000) / 1000); // the vendor profile sends seconds

    // JSON integers into float fields (supply_v: 12, volume_pct: 80, battery_pct: 100, load_pct: 30),
    // an integer field sent as 3 (speaker_faults), an integer field with the seq (uptime_s).
    await publish(
      loa1,
      'ce/loa-01/telemetry',
      JSON.stringify({
        ts: t1,
        supply_v: 12,
        speaker_faults: 3,
        amp_ok: true,
        playing: false,
        volume_pct: 80,
        amp_temp_c: 41.5,
        rsrp_dbm: -95,
        network_type: '4G',
        uptime_s: 3600,
      }),
    );
    // Vendor profile: pwr.mv × 0.001 → supply_v, amp "OK" → amp_ok, time in seconds.
    // 40 V is outside supply_v's plausible range (0..36): quality_uncertain=true.
    await publish(loa2, 'vendor/loa-02/data', JSON.stringify({ time: t2Secs, pwr: { mv: 40_000 }, amp: 'OK', speaker_faults: 0 }));
    await publish(ups, 'ce/ups-01/telemetry', powerPayload(3, t1 + 1));
    // A device clock a day ahead: re-stamped with the gateway's time, clock_restamped=true.
    const beforeRestamp = Date.now();
    await publish(ups, 'ce/ups-01/telemetry', powerPayload(4, now + 86_400_000));
    const afterRestamp = Date.now();

    // The start beat arrives first; then one more (tick() beats: the last one is long enough ago).
    await waitFor('the first gateway_heartbeat point', async () => (await count(inf, db, 'gateway_heartbeat', 'run_id')) >= 1, 15_000);
    await sleep(20);
    tg.gw.tick();
    await waitFor(
      'every point in InfluxDB',
      async () =>
        (await count(inf, db, 'loudspeaker')) === 1 &&
        (await count(inf, db, 'loudspeaker', 'supply_v')) === 2 &&
        (await count(inf, db, 'power')) === 2 &&
        (await count(inf, db, 'gateway_heartbeat', 'run_id')) === 2 &&
        (await count(inf, db, 'device_state', 'state')) >= 6,
      15_000,
    );

    expect(await inf.rows('SHOW MEASUREMENTS', db)).toEqual([
      { name: 'device_state' },
      { name: 'gateway_heartbeat' },
      { name: 'loudspeaker' },
      { name: 'power' },
    ]);

    expect(await inf.rows('SHOW FIELD KEYS FROM loudspeaker', db)).toEqual([
      { fieldKey: 'amp_ok', fieldType: 'boolean' },
      { fieldKey: 'amp_temp_c', fieldType: 'float' },
      { fieldKey: 'network_type', fieldType: 'string' },
      { fieldKey: 'playing', fieldType: 'boolean' },
      { fieldKey: 'quality_uncertain', fieldType: 'boolean' },
      { fieldKey: 'rsrp_dbm', fieldType: 'float' },
      { fieldKey: 'speaker_faults', fieldType: 'integer' },
      { fieldKey: 'supply_v', fieldType: 'float' },
      { fieldKey: 'uptime_s', fieldType: 'integer' },
      { fieldKey: 'volume_pct', fieldType: 'float' },
    ]);
    expect(await inf.rows('SHOW FIELD KEYS FROM power', db)).toEqual([
      { fieldKey: 'battery_pct', fieldType: 'float' },
      { fieldKey: 'clock_restamped', fieldType: 'boolean' },
      { fieldKey: 'input_v', fieldType: 'float' },
      { fieldKey: 'load_pct', fieldType: 'float' },
      { fieldKey: 'mains_ok', fieldType: 'boolean' },
      { fieldKey: 'on_battery', fieldType: 'boolean' },
      { fieldKey: 'output_v', fieldType: 'float' },
      { fieldKey: 'runtime_min', fieldType: 'float' },
      { fieldKey: 'uptime_s', fieldType: 'integer' },
    ]);
    expect(await inf.rows('SHOW FIELD KEYS FROM device_state', db)).toEqual([
      { fieldKey: 'from', fieldType: 'string' },
      { fieldKey: 'reason', fieldType: 'string' },
      { fieldKey: 'state', fieldType: 'string' },
      { fieldKey: 'state_code', fieldType: 'integer' },
    ]);
    expect(await inf.rows('SHOW FIELD KEYS FROM gateway_heartbeat', db)).toEqual([
      { fieldKey: 'run_id', fieldType: 'integer' },
      { fieldKey: 'up', fieldType: 'boolean' },
    ]);

    const tagKeys = async (m: string) => (await inf.rows(`SHOW TAG KEYS FROM ${m}`, db)).map((r) => r['tagKey']);
    expect(await tagKeys('loudspeaker')).toEqual(['commune', 'device', 'hamlet', 'role']);
    expect(await tagKeys('power')).toEqual(['commune', 'device', 'hamlet', 'role']);
    expect(await tagKeys('device_state')).toEqual(['commune', 'device', 'hamlet', 'kind', 'role']);
    expect(await tagKeys('gateway_heartbeat')).toEqual(['commune', 'gateway']);

    // The values, at the device's time (ms precision).
    expect(await inf.rows(`SELECT * FROM loudspeaker WHERE device='loa-01'`, db)).toEqual([
      {
        time: t1,
        amp_ok: true,
        amp_temp_c: 41.5,
        commune: COMMUNE,
        device: 'loa-01',
        hamlet: 'ap-01',
        network_type: '4G',
        playing: false,
        quality_uncertain: null,
        role: 'hamlet',
        rsrp_dbm: -95,
        speaker_faults: 3,
        supply_v: 12,
        uptime_s: 3600,
        volume_pct: 80,
      },
    ]);
    expect(await inf.rows(`SELECT supply_v, amp_ok, speaker_faults, quality_uncertain, role, hamlet FROM loudspeaker WHERE device='loa-02'`, db)).toEqual([
      { time: t2Secs * 1000, supply_v: 40, amp_ok: true, speaker_faults: 0, quality_uncertain: true, role: 'hamlet', hamlet: 'ap-02' },
    ]);
    const power = await inf.rows(`SELECT * FROM power WHERE device='ups-01'`, db);
    expect(power[0]).toEqual({
      time: t1 + 1,
      battery_pct: 100,
      clock_restamped: null,
      commune: COMMUNE,
      device: 'ups-01',
      hamlet: 'ap-01',
      input_v: 228.5,
      load_pct: 30,
      mains_ok: true,
      on_battery: false,
      output_v: 230,
      role: 'office',
      runtime_min: 42.5,
      uptime_s: 3,
    });
    expect(power[1]).toMatchObject({ uptime_s: 4, clock_restamped: true });
    expect(power[1]!['time']).toBeGreaterThanOrEqual(beforeRestamp);
    expect(power[1]!['time']).toBeLessThanOrEqual(afterRestamp);

    // device_state: one point per transition, with kind; state_code as documented.
    const states = await inf.rows(`SELECT "from", reason, state, state_code, kind, role, hamlet FROM device_state WHERE device='loa-01'`, db);
    expect(states.map(({ time: _t, ...r }) => r)).toEqual([
      { from: '', reason: 'never-seen', state: 'UNKNOWN', state_code: 0, kind: 'loudspeaker', role: 'hamlet', hamlet: 'ap-01' },
      { from: 'UNKNOWN', reason: 'speaker-line-fault', state: 'DEGRADED', state_code: 2, kind: 'loudspeaker', role: 'hamlet', hamlet: 'ap-01' },
    ]);
    const upsStates = await inf.rows(`SELECT state, state_code, kind FROM device_state WHERE device='ups-01'`, db);
    expect(upsStates.map((r) => `${r['state']}/${r['state_code']}/${r['kind']}`)).toEqual(['UNKNOWN/0/power', 'UP/3/power']);
    const cams = await inf.rows(`SELECT state, kind, role, hamlet FROM device_state WHERE device='cam-2'`, db);
    expect(cams.map(({ time: _t, ...r }) => r)).toEqual([{ state: 'UNKNOWN', kind: 'camera', role: 'security', hamlet: 'ap-03' }]);

    // gateway_heartbeat: tags commune and gateway, run_id integer, up=true; times are the beats'.
    const beats = await inf.rows('SELECT * FROM gateway_heartbeat', db);
    expect(beats).toHaveLength(2);
    for (const b of beats) expect(b).toMatchObject({ commune: COMMUNE, gateway: 'gw-test', run_id: tg.gw.ctx.runId, up: true });
    expect(beats[0]!['time'] as number).toBeLessThan(beats[1]!['time'] as number);

    const h = await settledHealth(tg);
    expect(h.sinks).toHaveLength(1);
    expect(h.sinks[0]).toMatchObject({ id: 'influx', type: 'influxdb-v1', connected: true, backlogPoints: 0, quarantined: 0, lastError: null });
    await tg.close();
  }, 60_000);

  it('InfluxDB stopped mid-stream, then restarted: every acknowledged reading arrives exactly once; /api/health shows outage and recovery', async () => {
    await ensureInfluxUp();
    const db = 'outage';
    // batchPoints 100: the outage's backlog (> 2 batches) is replayed beside a live lane.
    const logs = memoryLogger('info');
    const tg = await gatewayWith(cleanup, [v1Sink(db, { batchPoints: 100 })], undefined, { logger: logs.log });
    const ups = await tg.connect('ups-01');
    const T0 = Date.now() - 3_600_000;
    const s = seqStream(ups, 'ce/ups-01/telemetry', (seq) => powerPayload(seq, T0 + seq, { load_pct: seq % 100 }), { rate: 300, window: 50 });
    try {
      await waitFor('readings to flow into InfluxDB', async () => (await count(inf, db, 'power')) >= 200, 20_000);
      const beforeOutage = await count(inf, db, 'power');

      const stopAt = Date.now();
      const exit = await inf.stop();
      expect(exit?.signal ?? null, 'influxd stops on SIGTERM').toBeNull();
      const ackedAtStop = s.acked.size;

      // During the outage: disconnected, a growing backlog, retries counted.
      const during = await waitFor(
        '/api/health to show the outage',
        async () => {
          const h = (await health(tg)).sinks[0]!;
          const longEnough = Date.now() - stopAt >= 3000 && s.acked.size > ackedAtStop + 600;
          return longEnough && !h.connected && h.backlogPoints > 600 && h.retries >= 3 ? h : null;
        },
        20_000,
      );
      expect(during.lastError).toMatch(/ECONNREFUSED|No host available/);
      expect(during.oldestBacklogAgeS).not.toBeNull();
      expect((await health(tg)).status).toBe('degraded');
      expect(metricValue(await metrics(tg), 'ce_sink_connected', { sink: 'influx' })).toBe(0);
      expect(metricValue(await metrics(tg), 'ce_sink_write_failures_total', { sink: 'influx', kind: 'retry' })).toBeGreaterThanOrEqual(3);
      const outageS = (Date.now() - stopAt) / 1000;

      await inf.start();
      pids.push(inf.pid);
      // Keep publishing a little after the restart (live lane), then stop.
      await sleep(1000);
      await s.stop();
      expect(s.failed).toEqual([]);
      const acked = s.acked;
      expect(acked.size).toBe(s.sent);

      const after = await waitFor(
        '/api/health to show the recovery (connected, backlog 0)',
        async () => {
          const h = (await health(tg)).sinks[0]!;
          return h.connected && h.backlogPoints === 0 && !h.catchingUp ? h : null;
        },
        40_000,
      );
      expect(after.lastSuccessAt).not.toBeNull();
      // The backlog (> 2 batches) was replayed beside a live lane, and the lanes merged.
      const msgs = logs.lines.filter((l) => l['sink'] === 'influx').map((l) => l.msg);
      expect(msgs).toContain('sink write failed; will retry');
      expect(msgs).toContain('replaying backlog');
      expect(msgs).toContain('backlog replayed; live and backlog lanes merged');
      await waitFor('every acknowledged reading in InfluxDB', async () => (await count(inf, db, 'power')) >= acked.size, 20_000);

      const rows = await seqRows(inf, db, `device='ups-01'`);
      const got = rows.map((r) => r.seq);
      const gotSet = new Set(got);
      expect(minus(acked, gotSet).slice(0, 20), 'acknowledged readings missing in InfluxDB').toEqual([]);
      expect(minus(gotSet, acked).slice(0, 20), 'readings in InfluxDB that were never acknowledged').toEqual([]);
      expect(got.length, 'each reading exactly once').toBe(gotSet.size);
      expect(await count(inf, db, 'power')).toBe(acked.size);
      // Every point at its device time, with its own values.
      const wrong = rows.filter((r) => r.time !== T0 + r.seq).slice(0, 5);
      expect(wrong, 'points at the device time T0 + seq').toEqual([]);
      const spot = sorted(acked).filter((_, i, a) => i === 0 || i === a.length - 1 || i % 97 === 0);
      const spotRows: Row[] = [];
      for (const q of spot) {
        spotRows.push(...(await inf.rows(`SELECT uptime_s, load_pct, input_v, mains_ok FROM power WHERE device='ups-01' AND time = ${T0 + q}ms`, db)));
      }
      expect(spotRows).toEqual(spot.map((q) => ({ time: T0 + q, uptime_s: q, load_pct: q % 100, input_v: 228.5, mains_ok: true })));
      console.log(
        `outage: ${beforeOutage} points before, ${outageS.toFixed(1)} s down, ${acked.size} acknowledged in all, ` +
          `${during.retries} retries seen during the outage, backlog peaked ≥ ${during.backlogPoints}`,
      );
    } finally {
      await s.stop().catch(() => undefined);
      await ensureInfluxUp();
      await tg.close();
    }
  }, 120_000);

  it('a field type conflict: the points carrying the field are quarantined with InfluxDB\'s reason; the others keep flowing', async () => {
    await ensureInfluxUp();
    const db = 'conflict';
    await inf.createDatabase(db);
    const T0 = Date.now() - 3_600_000;
    // Someone wrote load_pct as a string before the gateway: InfluxDB keeps that type for the shard.
    const pre = await inf.write(db, `power,commune=${COMMUNE},device=ups-x,hamlet=ap-01,role=office load_pct="text" ${T0}`);
    expect(pre.status, pre.text).toBe(204);

    const tg = await gatewayWith(cleanup, [v1Sink(db)]);
    const [ups, loa] = await Promise.all([tg.connect('ups-01'), tg.connect('loa-01')]);
    // Interleaved, so that good and bad points share batches: seq 1..5 carry load_pct (bad),
    // 6..10 do not (good), loa-01 1..5 (another measurement, good).
    const sends: Promise<void>[] = [];
    for (let i = 1; i <= 5; i++) {
      sends.push(publish(ups, 'ce/ups-01/telemetry', powerPayload(i, T0 + i)));
      sends.push(publish(ups, 'ce/ups-01/telemetry', JSON.stringify({ ts: T0 + 5 + i, mains_ok: true, input_v: 229, uptime_s: 5 + i })));
      sends.push(publish(loa, 'ce/loa-01/telemetry', JSON.stringify({ ts: T0 + i, supply_v: 12.5, amp_ok: true, uptime_s: i })));
    }
    await Promise.all(sends);

    const q = await waitFor(
      'five quarantined points',
      async () => {
        const r = await tg.get('/api/sinks/influx/quarantine', 'officer');
        return r.status === 200 && (r.json as { total: number }).total >= 5 ? r.json : null;
      },
      20_000,
    );
    await waitFor(
      'the good points in InfluxDB',
      async () => (await count(inf, db, `loudspeaker`)) === 5 && (await count(inf, db, `power WHERE device='ups-01'`)) === 5,
      20_000,
    );
    // Quiet for a moment: nothing is retried forever, nothing more is quarantined.
    await sleep(500);

    const body = (await tg.get('/api/sinks/influx/quarantine', 'officer')).json as {
      sink: string;
      total: number;
      points: { rowId: number; stream: string; quarantinedAt: string; reason: string; point: { measurement: string; tags: Record<string, string>; fields: Record<string, { type: string; value: unknown }>; ts: number } }[];
    };
    expect(q).toMatchObject({ sink: 'influx', total: 5 });
    expect(body.total).toBe(5);
    expect(body.points).toHaveLength(5);
    expect(sorted(body.points.map((p) => p.point.fields['uptime_s']!.value as number))).toEqual([1, 2, 3, 4, 5]);
    for (const p of body.points) {
      expect(p.stream).toBe('readings');
      expect(p.reason).toMatch(/^HTTP 400: /);
      expect(p.reason).toMatch(/field type conflict: input field \\?"load_pct\\?" on measurement \\?"power\\?" is type float, already exists as type string/);
      expect(p.point).toMatchObject({
        measurement: 'power',
        tags: { commune: COMMUNE, hamlet: 'ap-01', device: 'ups-01', role: 'office' },
        fields: { load_pct: { type: 'float', value: 30 } },
      });
      expect(p.point.ts).toBe(T0 + (p.point.fields['uptime_s']!.value as number));
    }
    // Officer only.
    const asViewer = await tg.get('/api/sinks/influx/quarantine', 'viewer');
    expect(asViewer.status).toBe(403);
    expect(asViewer.json).toMatchObject({ error: { code: 'CE_FORBIDDEN' } });
    expect((await tg.get('/api/sinks/nope/quarantine', 'officer')).status).toBe(404);

    const m = await metrics(tg);
    expect(metricValue(m, 'ce_sink_quarantined_total', { sink: 'influx' })).toBe(5);
    expect(metricValue(m, 'ce_sink_write_failures_total', { sink: 'influx', kind: 'rejected' })).toBeGreaterThanOrEqual(5);
    const h = (await settledHealth(tg)).sinks[0]!;
    expect(h).toMatchObject({ connected: true, quarantined: 5, backlogPoints: 0 });

    // What InfluxDB has: the good power points, all loudspeaker points, the pre-existing string.
    expect(sorted((await seqRows(inf, db, `device='ups-01'`)).map((r) => r.seq))).toEqual([6, 7, 8, 9, 10]);
    expect(sorted((await inf.rows(`SELECT uptime_s FROM loudspeaker`, db)).map((r) => r['uptime_s'] as number))).toEqual([1, 2, 3, 4, 5]);
    expect(await inf.rows(`SELECT load_pct FROM power WHERE device='ups-x'`, db)).toEqual([{ time: T0, load_pct: 'text' }]);

    // And later points keep flowing (the quarantine blocks nothing).
    await publish(ups, 'ce/ups-01/telemetry', JSON.stringify({ ts: T0 + 100, mains_ok: true, uptime_s: 100 }));
    await publish(loa, 'ce/loa-01/telemetry', JSON.stringify({ ts: T0 + 100, supply_v: 12.5, uptime_s: 100 }));
    await waitFor(
      'later points',
      async () => (await count(inf, db, `power WHERE device='ups-01'`)) === 6 && (await count(inf, db, 'loudspeaker')) === 6,
      15_000,
    );
    expect(await count(inf, db, 'device_state', 'state')).toBeGreaterThanOrEqual(5);
    expect((await tg.get('/api/sinks/influx/quarantine', 'officer')).json).toMatchObject({ total: 5 });
    await tg.close();
  }, 60_000);

  // README "Store-and-forward": "After an outage the backlog is replayed at
  // forwarding.replayPointsPerS while a live lane sends new readings at once."
  it('after an outage the backlog is replayed at replayPointsPerS, not at full speed (readings spooled during the outage are backlog, not live)', async () => {
    await ensureInfluxUp();
    const db = 'pace';
    const PACE = 100; // points/s
    const BATCH = 100;
    const logs = memoryLogger('info');
    const tg = await gatewayWith(cleanup, [v1Sink(db, { batchPoints: BATCH, replayPointsPerS: PACE })], undefined, { logger: logs.log });
    const ups = await tg.connect('ups-01');
    const T0 = Date.now() - 3_600_000;
    const PRE = 20;
    await seqStream(ups, 'ce/ups-01/telemetry', (seq) => powerPayload(seq, T0 + seq), { max: PRE }).done;
    await waitFor('the first readings in InfluxDB', async () => (await count(inf, db, 'power')) === PRE, 15_000);

    await inf.stop();
    let restarted = false;
    try {
      const N = 3000;
      const s = seqStream(ups, 'ce/ups-01/telemetry', (seq) => powerPayload(seq, T0 + seq), { first: PRE + 1, max: N, window: 300 });
      await withTimeout(s.done, 60_000, 'the outage stream');
      expect(s.acked.size).toBe(N);
      await waitFor('a few failed writes', async () => (await health(tg)).sinks[0]!.retries >= 3, 10_000);
      const splitAt = tg.gw.ctx.store.getCursor('influx', 'readings');

      await inf.start();
      pids.push(inf.pid);
      restarted = true;
      // No reading arrives after the restart: everything to send is backlog.
      const first = await waitFor('the first replayed point', async () => ((await count(inf, db, 'power')) > PRE ? Date.now() : 0), 30_000, 20);
      await sleep(Math.max(0, first + 2000 - Date.now()));
      const elapsedS = (Date.now() - first) / 1000;
      const replayed = (await count(inf, db, 'power')) - PRE;
      // A full token bucket (batchPoints), then PACE per second in whole batches (the batch due at
      // the instant of the count may have landed), + one batch of slack.
      const allowed = BATCH + BATCH * Math.ceil((PACE * elapsedS) / BATCH) + BATCH;
      const merged = logs.lines.find((l) => l.msg === 'backlog replayed; live and backlog lanes merged');
      expect(
        replayed,
        `${replayed} of ${N} outage readings in InfluxDB ${elapsedS.toFixed(1)} s after the first replayed point, at replayPointsPerS ${PACE} ` +
          `(at most ~${Math.round(allowed)}); the split was set during the outage at ${JSON.stringify(splitAt)}, so the ` +
          `readings after it went through the unpaced live lane${merged ? '; lanes merged' : ''}`,
      ).toBeLessThanOrEqual(allowed);
    } finally {
      if (!restarted) await ensureInfluxUp();
      await tg.close();
    }
  }, 90_000);

  it('spool cap reached while InfluxDB is down: oldest evicted first, the newest all delivered, no gap; counters; transitions and heartbeats kept', async () => {
    await ensureInfluxUp();
    const db = 'cap';
    const MAX = 1_048_576; // the minimum store.maxBytes
    // Timers on: the gateway beats every heartbeatS (5 s) by itself during the outage.
    const logs = memoryLogger('info');
    const tg = await gatewayWith(cleanup, [v1Sink(db)], (s) => ({ ...s, store: { ...s.store, maxBytes: MAX } }), { timers: true, logger: logs.log });
    const [ups, loa] = await Promise.all([tg.connect('ups-01'), tg.connect('loa-01')]);
    const T0 = Date.now() - 3_600_000;
    const healthy = (ts: number) => JSON.stringify({ ts, supply_v: 12.5, amp_ok: true, speaker_faults: 0, uptime_s: 1 });

    // Before the outage: a few readings delivered; loa-01 UP.
    const PRE = 50;
    const pre = seqStream(ups, 'ce/ups-01/telemetry', (seq) => powerPayload(seq, T0 + seq), { max: PRE });
    await pre.done;
    await publish(loa, 'ce/loa-01/telemetry', healthy(Date.now()));
    await waitFor('the first readings in InfluxDB', async () => (await count(inf, db, 'power')) === PRE && (await count(inf, db, 'loudspeaker')) === 1, 15_000);

    await inf.stop();
    const outageFrom = Date.now();
    try {
      // During the outage: loa-01 goes DOWN (amp fault), and ~4 MB of readings arrive (the cap is 1 MiB).
      await publish(loa, 'ce/loa-01/telemetry', JSON.stringify({ ts: Date.now(), amp_ok: false, uptime_s: 2 }));
      const N = 30_000;
      const s = seqStream(ups, 'ce/ups-01/telemetry', (seq) => powerPayload(seq, T0 + seq), { first: PRE + 1, max: N, window: 300 });
      await withTimeout(s.done, 90_000, 'the outage stream');
      expect(s.failed).toEqual([]);
      expect(s.acked.size).toBe(N);
      // At least one gateway heartbeat during the outage (heartbeatS 5), and one more eviction pass.
      await sleep(Math.max(0, outageFrom + 6000 - Date.now()));
      await publish(ups, 'ce/ups-01/telemetry', powerPayload(PRE + N + 1, T0 + PRE + N + 1));
      const last = PRE + N + 1;
      const during = await health(tg);
      expect(during.sinks[0]!.connected).toBe(false);
      expect(during.store.evictedReadings['power'] ?? 0, 'eviction happened during the outage').toBeGreaterThan(0);
      expect(during.store.evictedUndelivered['power'] ?? 0).toBeGreaterThan(0);
      expect(during.store.usedBytes).toBeLessThanOrEqual(MAX * 1.2);
      const outageTo = Date.now();

      await inf.start();
      pids.push(inf.pid);
      await waitFor(
        'the backlog delivered',
        async () => {
          const h = (await health(tg)).sinks[0]!;
          return h.connected && h.backlogPoints === 0 && !h.catchingUp;
        },
        60_000,
      );

      const got = sorted((await seqRows(inf, db, `device='ups-01'`)).map((r) => r.seq));
      const gotSet = new Set(got);
      expect(got.length, 'no duplicates').toBe(gotSet.size);
      // The pre-outage readings (delivered before) are there.
      expect(got.slice(0, PRE)).toEqual(Array.from({ length: PRE }, (_, i) => i + 1));
      const outage = got.slice(PRE);
      const k = outage[0]!;
      expect(k, 'the oldest outage readings were evicted').toBeGreaterThan(PRE + 1);
      // From the first survivor to the newest: every one, no gap in the middle.
      expect(outage).toEqual(Array.from({ length: last - k + 1 }, (_, i) => k + i));
      const missing = k - (PRE + 1);

      const h = await health(tg);
      const m = await metrics(tg);
      // Evicted oldest first: the delivered pre-outage rows and the `missing` undelivered ones (power);
      // loa-01's UP reading is older than all of them too.
      expect(h.store.evictedUndelivered['power'], 'evicted before any sink had them').toBe(missing);
      expect(h.store.evictedReadings['power']).toBe(PRE + missing);
      expect(h.store.evictedReadings['loudspeaker']).toBeGreaterThanOrEqual(1);
      expect(metricValue(m, 'ce_store_evicted_readings_total', { kind: 'power' })).toBe(PRE + missing);
      expect(metricValue(m, 'ce_store_evicted_undelivered_readings', { kind: 'power' })).toBe(missing);
      expect(h.store.evictedReadings['(heartbeats)'] ?? 0, 'heartbeats are not evicted while readings remain').toBe(0);
      expect(h.store.evictedReadings['(transitions)'] ?? 0).toBe(0);
      const evictLogs = logs.lines.filter((l) => l['code'] === 'CE_STORE_EVICTED');
      expect(evictLogs.length, 'eviction logged with code CE_STORE_EVICTED').toBeGreaterThan(0);
      expect(evictLogs.reduce((n, l) => n + ((l['perKind'] as Record<string, number>)['power'] ?? 0), 0)).toBe(PRE + missing);

      // Transitions and heartbeats of the outage were delivered.
      const down = await inf.rows(`SELECT state, reason FROM device_state WHERE device='loa-01' AND state='DOWN'`, db);
      expect(down).toHaveLength(1);
      expect(down[0]).toMatchObject({ state: 'DOWN', reason: 'amp-fault' });
      expect(down[0]!['time'] as number).toBeGreaterThanOrEqual(outageFrom);
      const beats = await inf.rows(`SELECT run_id FROM gateway_heartbeat WHERE time >= ${outageFrom}ms AND time <= ${outageTo}ms`, db);
      expect(beats.length, 'gateway heartbeats during the outage').toBeGreaterThanOrEqual(1);
      console.log(
        `spool cap: ${N + 1} readings during the outage, ${missing} evicted undelivered (oldest), ${outage.length} delivered after; ` +
          `store used ${h.store.usedBytes} of ${MAX} bytes`,
      );
    } finally {
      await ensureInfluxUp();
      await tg.close();
    }
  }, 180_000);

  const killVariants = [
    // batchAgeMs 1000: after each write InfluxDB lags the store by up to a second of readings.
    { name: 'while influxd answers', db: 'kill9_answering', batchPoints: 5000, batchAgeMs: 1000, holdWrite: false },
    { name: 'with a write in flight (influxd paused at the kill, resumed after: InfluxDB stores a batch the gateway never saw acknowledged)', db: 'kill9_inflight', batchPoints: 100, batchAgeMs: 100, holdWrite: true },
  ] as const;

  it.each(killVariants)('gateway SIGKILLed $name: restarted on the same data dir, no loss and no duplicate in InfluxDB', async (variant) => {
    await ensureInfluxUp();
    const db = variant.db;
    const dir = tempDir('influx-kill9');
    cleanup.add(`remove ${dir}`, () => removeDir(dir));
    const mqttPort = await freePort();
    const httpPort = await freePort();
    const password = 'pw-ups-a-itest';
    const input: SettingsInput = {
      commune: { code: '70003', name: 'Xã Thử Nghiệm', province: { code: '75', name: 'Đồng Nai' } },
      gateway: { id: 'gw-influx-kill9', dataDir: join(dir, 'data'), heartbeatS: 5 },
      log: { level: 'info', rejectLogIntervalS: 0 },
      hamlets: [{ id: 'ap-01', name: 'Ấp 1' }],
      devices: [{ id: 'ups-a', name: 'UPS A', kind: 'power', hamlet: 'ap-01', passwordHash: hashPassword(password, { N: 1024, r: 8, p: 1 }) }],
      mqtt: { host: '127.0.0.1', port: mqttPort, rateLimit: { msgsPerS: 1_000_000, burst: 1_000_000 } },
      api: { host: '127.0.0.1', port: httpPort, docs: false },
      sinks: [{ id: 'influx', type: 'influxdb-v1', url: inf.url, database: db, forwarding: { ...FAST, batchPoints: variant.batchPoints, batchAgeMs: variant.batchAgeMs } }],
    };
    settingsFrom(input); // fail here, with the problems, if the test config is wrong
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, stringifyYaml(input));
    const dbPath = join(dir, 'data', 'commune-edge.db');

    const start = async (name: string): Promise<Child> => {
      const child = spawnGateway(name, ['-c', config]);
      cleanup.add(`stop ${name}`, async () => {
        if (child.running) {
          child.signal('SIGKILL');
          await child.exited;
        }
      });
      await waitForHealth(child, httpPort, 20_000);
      return child;
    };
    const childHealth = async () => (await httpGet(httpPort, '/api/health')).body as Health;
    /** Count once it stopped changing (nothing is writing any more). */
    const settledCount = async () => {
      let prev = -1;
      return waitFor(
        'the InfluxDB count to settle',
        async () => {
          const n = await count(inf, db, 'power');
          const same = n === prev;
          prev = n;
          if (!same) await sleep(300);
          return same ? { n } : null;
        },
        20_000,
      ).then((x) => x.n);
    };

    const run1 = await start(`gateway-${db}-run1`);
    const client = await connectMqtt(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'itest-ups-a', username: 'ups-a', password });
    const T0 = Date.now() - 600_000;
    const s = seqStream(client, 'ce/ups-a/telemetry', (seq) => powerPayload(seq, T0 + seq), { window: 200 });
    // Kill once InfluxDB holds a good part (several batches) of the stream, the stream still running.
    await waitFor(
      'InfluxDB to hold part of the stream',
      async () => {
        if (!run1.running) throw new Error(`run 1 exited\n${run1.tail()}`);
        return (await count(inf, db, 'power')) >= 1500;
      },
      60_000,
      10,
    );
    const beforePause = await count(inf, db, 'power');
    const ackedAtThreshold = s.acked.size;
    if (variant.holdWrite) {
      inf.pause(); // the next write is sent (into the socket) and waits for an answer
      await sleep(400);
    } else {
      // A hundred readings more in the store than InfluxDB had: the next batch is young.
      await waitFor('100 more acknowledged readings', () => s.acked.size >= beforePause + 100, 10_000, 1);
    }
    const ackedAtKill = s.acked.size;
    const diag = () =>
      `InfluxDB had ${beforePause} at the threshold (acked ${ackedAtThreshold}), acked ${ackedAtKill} at the kill\n${run1.tail(15)}`;
    expect(ackedAtKill, `more acknowledged than InfluxDB had; ${diag()}`).toBeGreaterThan(beforePause);
    run1.signal('SIGKILL');
    const exit1 = await withTimeout(run1.exited, 10_000, 'run 1 to die after SIGKILL');
    if (variant.holdWrite) inf.resume(); // influxd now reads and stores the batch run 1 sent
    await s.done;
    await endMqtt(client);
    expect(exit1.signal).toBe('SIGKILL');
    const acked = s.acked;

    // What run 1 left: the spool and its durable cursor; InfluxDB has some but not all of it.
    const influxAfterKill = await settledCount();
    const left = (() => {
      const sq = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        const rows = sq.prepare("SELECT id, json_extract(fields, '$.uptime_s') AS seq FROM readings ORDER BY id").all() as { id: number; seq: number }[];
        const cursor = sq.prepare("SELECT cursor, split, live_cursor FROM sink_cursors WHERE sink_id = 'influx' AND stream = 'readings'").get() as
          | { cursor: number; split: number | null; live_cursor: number | null }
          | undefined;
        return { rows, cursor };
      } finally {
        sq.close();
      }
    })();
    const stored = left.rows.map((r) => r.seq);
    expect(new Set(stored).size, 'each reading stored once').toBe(stored.length);
    expect(minus(acked, new Set(stored)).slice(0, 20), 'acknowledged readings missing from the store').toEqual([]);
    expect(influxAfterKill, 'InfluxDB had some of the spool at the kill').toBeGreaterThan(0);
    expect(influxAfterKill, `InfluxDB had not all of the spool at the kill; ${diag()}`).toBeLessThan(stored.length);
    const atKillSeqs = new Set((await seqRows(inf, db, `device='ups-a'`)).map((r) => r.seq));
    const cursor = left.cursor?.cursor ?? 0;
    const beyondCursor = left.rows.filter((r) => r.id > cursor && atKillSeqs.has(r.seq)).length;
    if (variant.holdWrite) {
      // The write in flight at the kill (stored by influxd before the pause but not answered, or
      // stored after the resume) holds points past run 1's durable cursor: run 2 sends them again.
      expect(beyondCursor, `InfluxDB holds points past the durable cursor; ${diag()}`).toBeGreaterThan(0);
    }

    // Run 2 on the same data dir drains the rest.
    const run2 = await start(`gateway-${db}-run2`);
    const h = await waitFor(
      'run 2 to deliver the backlog',
      async () => {
        const x = (await childHealth()).sinks[0]!;
        return x.connected && x.backlogPoints === 0 && !x.catchingUp ? x : null;
      },
      60_000,
    );
    const rows = await seqRows(inf, db, `device='ups-a'`);
    const got = rows.map((r) => r.seq);
    const gotSet = new Set(got);
    expect(minus(acked, gotSet).slice(0, 20), 'acknowledged readings missing in InfluxDB').toEqual([]);
    expect(minus(stored, gotSet).slice(0, 20), 'stored readings missing in InfluxDB').toEqual([]);
    expect(minus(gotSet, new Set(stored)).slice(0, 20), 'points in InfluxDB that were never stored').toEqual([]);
    // count(*): one count per field, each equal to the number of distinct sequence numbers.
    const [all] = await inf.rows(`SELECT count(*) FROM power WHERE device='ups-a'`, db);
    const counts = Object.entries(all ?? {}).filter(([k]) => k.startsWith('count_'));
    expect(counts.length, JSON.stringify(all)).toBe(8);
    for (const [k, n] of counts) expect(n, `${k} = distinct sequence numbers`).toBe(gotSet.size);
    expect(got.length).toBe(gotSet.size);
    expect(rows.filter((r) => r.time !== T0 + r.seq).slice(0, 5), 'points at the device time').toEqual([]);
    expect(h.pointsWritten, 'run 2 wrote what run 1 had not').toBeGreaterThanOrEqual(stored.length - influxAfterKill);
    console.log(
      `kill -9 ${variant.name.split(' (')[0]}: ${acked.size} acknowledged, ${stored.length} stored, ${influxAfterKill} in InfluxDB after the kill ` +
        `(${beyondCursor} of them past the durable cursor ${cursor}${left.cursor?.split != null ? ` split ${left.cursor.split} live ${left.cursor.live_cursor}` : ''}, ` +
        `sent again by run 2), ${gotSet.size} in InfluxDB after run 2 (which wrote ${h.pointsWritten} points)`,
    );
    const exit2 = await run2.stop();
    expect(exit2, run2.tail()).toEqual({ code: 0, signal: null });
  }, 120_000);
});

// ---------------------------------------------------------------------------
// InfluxDB 2.x writer: contract test (no InfluxDB 2 can run here)
// ---------------------------------------------------------------------------

describe('InfluxDB 2.x sink: contract test against the v2 write-API stand-in (startInfluxV2Contract; no InfluxDB 2 can run here)', () => {
  const cleanup = new Cleanup();
  const TOKEN_ENV = 'CE_ITEST_INFLUX_V2_TOKEN';
  let v2: InfluxV2Contract;
  let tg: TestGateway;
  let ups: MqttClient;
  let loa: MqttClient;
  const T0 = Date.now() - 3_600_000;

  beforeAll(async () => {
    v2 = await startInfluxV2Contract(cleanup, { org: 'commune', bucket: 'edge' });
    process.env[TOKEN_ENV] = v2.token;
    cleanup.add(`unset ${TOKEN_ENV}`, () => delete process.env[TOKEN_ENV]);
    tg = await gatewayWith(cleanup, [
      { id: 'province', type: 'influxdb-v2', url: v2.url, org: 'commune', bucket: 'edge', tokenEnv: TOKEN_ENV, forwarding: FAST },
    ]);
    [ups, loa] = await Promise.all([tg.connect('ups-01'), tg.connect('loa-01')]);
  });

  afterAll(async () => {
    await cleanup.run();
  });

  const writes = () => v2.requests.filter((r) => r.path === '/api/v2/write');
  const powerSeqsWritten = () =>
    v2.lines.filter((l) => l.startsWith('power,')).map((l) => parseLine(l).fields['uptime_s']!.value as number);

  it('POST /api/v2/write with org, bucket, precision=ms, "Authorization: Token", typed line protocol; gzip when large', async () => {
    await publish(
      loa,
      'ce/loa-01/telemetry',
      JSON.stringify({ ts: T0, supply_v: 12, speaker_faults: 3, amp_ok: true, network_type: '4G', uptime_s: 7 }),
    );
    const line = await waitFor('the loudspeaker line', () => v2.lines.find((l) => l.startsWith('loudspeaker,')), 15_000);
    const p = parseLine(line);
    expect(p).toEqual({
      measurement: 'loudspeaker',
      tags: { commune: COMMUNE, device: 'loa-01', hamlet: 'ap-01', role: 'hamlet' },
      fields: {
        amp_ok: { type: 'boolean', value: true },
        network_type: { type: 'string', value: '4G' },
        speaker_faults: { type: 'integer', value: 3 },
        supply_v: { type: 'float', value: 12 },
        uptime_s: { type: 'integer', value: 7 },
      },
      timestamp: String(T0),
    });
    expect(line).toMatch(/speaker_faults=3i/);
    expect(line).not.toMatch(/supply_v=12i/);

    // Many readings at once: one large body, gzipped.
    await Promise.all(Array.from({ length: 60 }, (_, i) => publish(ups, 'ce/ups-01/telemetry', powerPayload(i + 1, T0 + i + 1))));
    await waitFor('60 power lines', () => powerSeqsWritten().length >= 60, 15_000);
    // device_state and gateway_heartbeat go the same way.
    await waitFor('device_state and gateway_heartbeat lines', () => v2.lines.some((l) => l.startsWith('device_state,')) && v2.lines.some((l) => l.startsWith('gateway_heartbeat,')), 15_000);

    const ws = writes();
    expect(ws.length).toBeGreaterThan(0);
    for (const r of ws) {
      expect(r.method).toBe('POST');
      expect(r.query).toEqual({ org: 'commune', bucket: 'edge', precision: 'ms' });
      expect(r.headers['authorization']).toBe(`Token ${v2.token}`);
      expect(r.status).toBe(204);
      for (const l of r.lines) expect(() => parseLine(l), l).not.toThrow();
    }
    // The writer gzips bodies above 1000 bytes (influx-v2.ts: gzipThreshold).
    const large = ws.filter((r) => Buffer.byteLength(r.body) > 1000);
    const small = ws.filter((r) => Buffer.byteLength(r.body) <= 1000);
    expect(large.length, 'a large request').toBeGreaterThan(0);
    expect(small.length, 'a small request').toBeGreaterThan(0);
    for (const r of large) expect(r.headers['content-encoding']).toBe('gzip');
    for (const r of small) expect(r.headers['content-encoding']).toBeUndefined();

    const power = v2.lines.filter((l) => l.startsWith('power,')).map(parseLine);
    expect(power[0]).toEqual({
      measurement: 'power',
      tags: { commune: COMMUNE, device: 'ups-01', hamlet: 'ap-01', role: 'office' },
      fields: {
        battery_pct: { type: 'float', value: 100 },
        input_v: { type: 'float', value: 228.5 },
        load_pct: { type: 'float', value: 30 },
        mains_ok: { type: 'boolean', value: true },
        on_battery: { type: 'boolean', value: false },
        output_v: { type: 'float', value: 230 },
        runtime_min: { type: 'float', value: 42.5 },
        uptime_s: { type: 'integer', value: 1 },
      },
      timestamp: String(T0 + 1),
    });
    const state = parseLine(v2.lines.find((l) => l.startsWith('device_state,') && l.includes('device=loa-01') && l.includes('state="DEGRADED"'))!);
    expect(state.tags).toEqual({ commune: COMMUNE, device: 'loa-01', hamlet: 'ap-01', kind: 'loudspeaker', role: 'hamlet' });
    expect(state.fields).toEqual({
      from: { type: 'string', value: 'UNKNOWN' },
      reason: { type: 'string', value: 'speaker-line-fault' },
      state: { type: 'string', value: 'DEGRADED' },
      state_code: { type: 'integer', value: 2 },
    });
    const beat = parseLine(v2.lines.find((l) => l.startsWith('gateway_heartbeat,'))!);
    expect(beat.tags).toEqual({ commune: COMMUNE, gateway: 'gw-test' });
    expect(beat.fields).toEqual({ run_id: { type: 'integer', value: tg.gw.ctx.runId }, up: { type: 'boolean', value: true } });
  }, 60_000);

  it('503 (Retry-After) is retried and delivered, exactly once', async () => {
    const before = writes().length;
    const retriesBefore = (await health(tg)).sinks[0]!.retries;
    v2.respondNext(503, undefined, 2, { 'Retry-After': '1' });
    await Promise.all(Array.from({ length: 5 }, (_, i) => publish(ups, 'ce/ups-01/telemetry', powerPayload(101 + i, T0 + 101 + i))));
    await waitFor('seq 101..105 delivered', () => [101, 102, 103, 104, 105].every((q) => powerSeqsWritten().includes(q)), 15_000);
    const statuses = writes().slice(before).map((r) => r.status);
    expect(statuses.slice(0, 2)).toEqual([503, 503]);
    expect(statuses.slice(2).every((s) => s === 204)).toBe(true);
    // The refused requests carried lines that a later request delivered.
    const refused = writes().slice(before, before + 2).flatMap((r) => r.lines);
    expect(refused.length).toBeGreaterThan(0);
    for (const l of refused) expect(v2.lines, 'a line refused with 503 was delivered later').toContain(l);
    for (const q of [101, 102, 103, 104, 105]) expect(powerSeqsWritten().filter((x) => x === q), `seq ${q} written once`).toHaveLength(1);
    const h = (await settledHealth(tg)).sinks[0]!;
    expect(h.retries).toBeGreaterThanOrEqual(retriesBefore + 2);
    expect(h).toMatchObject({ connected: true, quarantined: 0 });
    expect(metricValue(await metrics(tg), 'ce_sink_write_failures_total', { sink: 'province', kind: 'retry' })).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('422 partial write rejecting one line: that point is quarantined with the reason, the others are delivered', async () => {
    const bad = 203;
    v2.rejectLinesMatching((l) => l.startsWith('power,') && parseLine(l).fields['uptime_s']?.value === bad);
    try {
      const seqs = [201, 202, 203, 204, 205, 206];
      // Published together: one batch of six, the rejected line in the middle.
      await Promise.all(seqs.map((q) => publish(ups, 'ce/ups-01/telemetry', powerPayload(q, T0 + q))));
      const q = await waitFor(
        'one quarantined point',
        async () => {
          const r = await tg.get('/api/sinks/province/quarantine', 'officer');
          return r.status === 200 && (r.json as { total: number }).total >= 1 ? (r.json as { total: number; points: { reason: string; stream: string; point: { measurement: string; fields: Record<string, { value: unknown }>; ts: number } }[] }) : null;
        },
        15_000,
      );
      await waitFor('the other five delivered', () => [201, 202, 204, 205, 206].every((x) => powerSeqsWritten().includes(x)), 15_000);
      await sleep(500);
      const again = (await tg.get('/api/sinks/province/quarantine', 'officer')).json as typeof q;
      expect(again.total, 'exactly the one point').toBe(1);
      expect(q.points).toHaveLength(1);
      expect(q.points[0]!.stream).toBe('readings');
      expect(q.points[0]!.reason).toMatch(/^HTTP 422: /);
      expect(q.points[0]!.reason).toContain('partial write: field type conflict');
      expect(q.points[0]!.point).toMatchObject({ measurement: 'power', ts: T0 + bad, fields: { uptime_s: { value: bad } } });
      expect(powerSeqsWritten()).not.toContain(bad);
      expect(v2.requests.some((r) => r.status === 422)).toBe(true);
      const h = (await settledHealth(tg)).sinks[0]!;
      expect(h).toMatchObject({ connected: true, quarantined: 1, backlogPoints: 0 });
      expect(metricValue(await metrics(tg), 'ce_sink_quarantined_total', { sink: 'province' })).toBe(1);
    } finally {
      v2.rejectLinesMatching(null);
    }
    // Flow continues after the quarantine.
    await publish(ups, 'ce/ups-01/telemetry', powerPayload(300, T0 + 300));
    await waitFor('seq 300 delivered', () => powerSeqsWritten().includes(300), 15_000);
  }, 30_000);
});
