/**
 * Crash safety of the gateway process (dist/gateway/main.js, embedded broker):
 *
 * - SIGKILL in the middle of a QoS 1 stream: every reading the gateway
 *   acknowledged (PUBACK) is in the `readings` table after a restart, exactly
 *   once; the next run records that the previous one ended without a clean stop
 *   (gateway_runs.stopped_at NULL) and closes the device states with transitions
 *   to UNKNOWN ('gateway-down') at the previous run's last heartbeat.
 * - SIGTERM in the middle of a stream: exit code 0, every acknowledged reading
 *   stored, the run closed (stopped_at, stop_reason) and every device UNKNOWN
 *   with reason 'gateway-stopped' at the stop time.
 */
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { hashPassword, hashToken, newToken } from '../../gateway/credentials.js';
import { settingsFrom } from '../../gateway/settings/load.js';
import type { SettingsInput } from '../../gateway/settings/schema.js';
import {
  Cleanup,
  connectMqtt,
  endMqtt,
  ensureDist,
  freePort,
  httpGet,
  jsonLines,
  powerReading,
  publish,
  removeDir,
  spawnGateway,
  tempDir,
  waitFor,
  waitForHealth,
  withTimeout,
  type Child,
} from './helpers.js';

const DEVICES = ['ups-a', 'ups-b'] as const;
const password = (id: string) => `pw-${id}-itest`;
const viewerToken = newToken();

interface Setup {
  dir: string;
  config: string;
  mqttPort: number;
  httpPort: number;
  dbPath: string;
}

async function makeSetup(cleanup: Cleanup, name: string): Promise<Setup> {
  const dir = tempDir(name);
  cleanup.add(`remove ${dir}`, () => removeDir(dir));
  const mqttPort = await freePort();
  const httpPort = await freePort();
  const input: SettingsInput = {
    commune: { code: '70002', name: 'Xã Thử Nghiệm', province: { code: '75', name: 'Đồng Nai' } },
    gateway: { id: `gw-${name}`, dataDir: join(dir, 'data'), heartbeatS: 5 },
    log: { level: 'info', rejectLogIntervalS: 0 },
    hamlets: [{ id: 'ap-01', name: 'Ấp 1' }],
    devices: DEVICES.map((id) => ({
      id,
      name: `UPS ${id}`,
      kind: 'power' as const,
      hamlet: 'ap-01',
      passwordHash: hashPassword(password(id), { N: 1024, r: 8, p: 1 }),
    })),
    // Rate limiting drops (and acknowledges) excess messages: out of the way here.
    mqtt: { host: '127.0.0.1', port: mqttPort, rateLimit: { msgsPerS: 1_000_000, burst: 1_000_000 } },
    api: { host: '127.0.0.1', port: httpPort, docs: false, tokens: [{ name: 'itest', role: 'viewer', tokenHash: hashToken(viewerToken) }] },
  };
  settingsFrom(input); // fail here, with the problems, if the test config is wrong
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, stringifyYaml(input));
  return { dir, config, mqttPort, httpPort, dbPath: join(dir, 'data', 'commune-edge.db') };
}

async function startGateway(cleanup: Cleanup, setup: Setup, name: string): Promise<Child> {
  const child = spawnGateway(name, ['-c', setup.config]);
  cleanup.add(`stop ${name}`, async () => {
    if (child.running) {
      child.signal('SIGKILL');
      await child.exited;
    }
  });
  await waitForHealth(child, setup.httpPort, 20_000);
  return child;
}

function deviceClient(setup: Setup, id: string): Promise<MqttClient> {
  return connectMqtt(`mqtt://127.0.0.1:${setup.mqttPort}`, { clientId: `itest-${id}`, username: id, password: password(id) });
}

/**
 * Publish `seqs` at QoS 1 with at most `window` in flight; `acked` gets every
 * sequence number whose publish callback reported a PUBACK. Resolves when all
 * were acknowledged or the connection closed.
 */
function stream(client: MqttClient, topic: string, seqs: number[], acked: Set<number>, onAck: () => void, window = 200): Promise<void> {
  return new Promise((resolve) => {
    let next = 0;
    let inflight = 0;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      resolve();
    };
    client.once('close', finish);
    const pump = () => {
      while (!finished && client.connected && inflight < window && next < seqs.length) {
        const seq = seqs[next++]!;
        inflight++;
        client.publish(topic, powerReading(seq), { qos: 1 }, (err) => {
          inflight--;
          if (!err) {
            acked.add(seq);
            onAck();
          }
          if (next >= seqs.length && inflight === 0) finish();
          else pump();
        });
      }
    };
    pump();
  });
}

/** Stream N readings over two device connections; `at(ackedSoFar)` is called after each PUBACK. */
async function streamAll(setup: Setup, total: number, at: (acked: number) => void): Promise<{ acked: Map<string, Set<number>>; clients: MqttClient[] }> {
  const clients = await Promise.all(DEVICES.map((id) => deviceClient(setup, id)));
  const acked = new Map(DEVICES.map((id) => [id, new Set<number>()]));
  let n = 0;
  const onAck = () => at(++n);
  const streams = DEVICES.map((id, i) => {
    const seqs = Array.from({ length: total / DEVICES.length }, (_, k) => k * DEVICES.length + i + 1);
    return stream(clients[i]!, `ce/${id}/telemetry`, seqs, acked.get(id)!, onAck);
  });
  await withTimeout(Promise.all(streams), 90_000, 'the publish streams to end');
  return { acked, clients };
}

interface ReadingRow {
  device_id: string;
  seq: number;
  n: number;
}

function readDb(dbPath: string) {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare("SELECT device_id, json_extract(fields, '$.uptime_s') AS seq, count(*) AS n FROM readings GROUP BY device_id, seq")
      .all() as ReadingRow[];
    const runs = db.prepare('SELECT * FROM gateway_runs ORDER BY run_id').all() as {
      run_id: number;
      started_at: number;
      last_beat_at: number;
      stopped_at: number | null;
      stop_reason: string | null;
    }[];
    const transitions = db.prepare('SELECT * FROM transitions ORDER BY id').all() as {
      device_id: string;
      ts: number;
      from_state: string | null;
      to_state: string;
      reason: string;
      run_id: number;
    }[];
    const states = db.prepare('SELECT device_id, state, reason, since FROM device_state ORDER BY device_id').all() as {
      device_id: string;
      state: string;
      reason: string;
      since: number;
    }[];
    return { rows, runs, transitions, states };
  } finally {
    db.close();
  }
}

/** received_at of the newest reading committed before `before` (0 if none). */
function lastReceivedBefore(dbPath: string, before: number): number {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const r = db.prepare('SELECT max(received_at) AS t FROM readings WHERE received_at < ?').get(before) as { t: number | null };
    return r.t ?? 0;
  } finally {
    db.close();
  }
}

/** Every acknowledged sequence number stored exactly once; no sequence number stored twice at all. */
function checkAcked(rows: ReadingRow[], acked: Map<string, Set<number>>): { stored: number; storedNotAcked: number } {
  const count = new Map(rows.map((r) => [`${r.device_id}#${r.seq}`, r.n]));
  const missing: string[] = [];
  let storedNotAcked = 0;
  for (const [dev, seqs] of acked) {
    for (const s of seqs) if (count.get(`${dev}#${s}`) !== 1) missing.push(`${dev}#${s}=${count.get(`${dev}#${s}`) ?? 0}`);
  }
  for (const r of rows) if (!acked.get(r.device_id)?.has(r.seq)) storedNotAcked += r.n;
  expect(missing, `acknowledged readings not stored exactly once (device#seq=rows): ${missing.slice(0, 20).join(', ')}`).toEqual([]);
  const dups = rows.filter((r) => r.n > 1).map((r) => `${r.device_id}#${r.seq}×${r.n}`);
  expect(dups, 'readings stored more than once').toEqual([]);
  return { stored: rows.reduce((a, r) => a + r.n, 0), storedNotAcked };
}

describe('gateway process: kill -9 and SIGTERM (embedded broker, real child process)', () => {
  const cleanup = new Cleanup();

  beforeAll(() => {
    ensureDist();
  });
  afterAll(async () => {
    await cleanup.run();
  });

  it('SIGKILL mid-stream: every acknowledged reading survives exactly once; the next run records the crash', async () => {
    const setup = await makeSetup(cleanup, 'kill9');
    const TOTAL = 20_000;
    const KILL_AT = 2000;

    const run1 = await startGateway(cleanup, setup, 'gateway-run1');
    let killedAtAcks = 0;
    let killAfterMs = 0;
    const t0 = Date.now();
    const { acked, clients } = await streamAll(setup, TOTAL, (n) => {
      if (n >= KILL_AT && killedAtAcks === 0) {
        killedAtAcks = n;
        killAfterMs = Date.now() - t0;
        run1.signal('SIGKILL');
      }
    });
    const exit1 = await withTimeout(run1.exited, 10_000, 'run 1 to die after SIGKILL');
    for (const c of clients) await endMqtt(c);
    const ackedTotal = [...acked.values()].reduce((a, s) => a + s.size, 0);
    expect(killedAtAcks, `the stream ended before ${KILL_AT} acks (run 1 output:\n${run1.tail()})`).toBeGreaterThanOrEqual(KILL_AT);
    expect(exit1.signal).toBe('SIGKILL');
    expect(ackedTotal).toBeGreaterThanOrEqual(KILL_AT);
    expect(ackedTotal, 'the kill happened mid-stream').toBeLessThan(TOTAL);

    // Run 2 on the same data dir.
    const run2 = await startGateway(cleanup, setup, 'gateway-run2');
    const warn = await waitFor(
      'run 2 to log the unclean end of run 1',
      () => jsonLines(run2.stdout).find((l) => l.msg.startsWith('previous run ended without a clean stop')),
      5000,
    );
    expect(warn['previousRun']).toBe(1);

    const health = await httpGet(setup.httpPort, '/api/health');
    expect((health.body as { store: { readings: number } }).store.readings).toBeGreaterThanOrEqual(ackedTotal);
    const dev = await httpGet(setup.httpPort, '/api/devices/ups-a', viewerToken);
    const body = dev.body as { state: string; reason: string; transitions: { to: string; reason: string }[] };
    expect(body.state).toBe('UNKNOWN');
    expect(body.reason).toBe('gateway-down');
    expect(body.transitions[0]).toMatchObject({ to: 'UNKNOWN', reason: 'gateway-down' });

    // Run 2 ingests again (and the devices are UP before its clean stop).
    for (const id of DEVICES) {
      const c = await deviceClient(setup, id);
      try {
        await publish(c, `ce/${id}/telemetry`, powerReading(TOTAL + 1));
      } finally {
        await endMqtt(c);
      }
    }
    for (const id of DEVICES) {
      await waitFor(`${id} UP in run 2`, async () => ((await httpGet(setup.httpPort, `/api/devices/${id}`, viewerToken)).body as { state: string }).state === 'UP', 5000);
    }
    const exit2 = await withTimeout(run2.stop(), 15_000, 'run 2 to stop on SIGTERM');
    expect(exit2, run2.tail()).toEqual({ code: 0, signal: null });

    const { rows, runs, transitions } = readDb(setup.dbPath);
    const { stored, storedNotAcked } = checkAcked(rows, acked);
    for (const id of DEVICES) expect(rows.find((r) => r.device_id === id && r.seq === TOTAL + 1)?.n).toBe(1);
    // Committed but not yet acknowledged when the kill came: allowed (the publisher would resend), but few.
    expect(storedNotAcked).toBeLessThanOrEqual(2 + 2 * 200);

    expect(runs.map((r) => r.run_id)).toEqual([1, 2]);
    const [r1, r2] = [runs[0]!, runs[1]!];
    expect(r1.stopped_at, 'run 1 was killed: no clean stop recorded').toBeNull();
    expect(r1.last_beat_at).toBeGreaterThanOrEqual(r1.started_at);
    expect(r1.last_beat_at).toBeLessThanOrEqual(r2.started_at);
    expect(r2.stopped_at).not.toBeNull();
    expect(r2.stop_reason).toBe('SIGTERM');

    // Run 1's last sign of life: its last heartbeat, or a later committed reading.
    const lastAlive = Math.max(r1.last_beat_at, lastReceivedBefore(setup.dbPath, r2.started_at));
    expect(lastAlive).toBeGreaterThanOrEqual(r1.started_at);
    for (const id of DEVICES) {
      const lastOfRun1 = Math.max(...transitions.filter((t) => t.device_id === id && t.run_id === 1).map((t) => t.ts));
      const down = transitions.filter((t) => t.device_id === id && t.reason === 'gateway-down');
      expect(down, `${id}: one gateway-down transition`).toHaveLength(1);
      expect(down[0]).toMatchObject({ run_id: 2, from_state: 'UP', to_state: 'UNKNOWN' });
      // The gap (UNKNOWN) starts when run 1 was last known alive, not at run 2's start.
      expect(down[0]!.ts, `runs ${JSON.stringify(runs)}\ntransitions of ${id}: ${JSON.stringify(transitions.filter((t) => t.device_id === id))}`).toBe(
        Math.max(lastAlive, lastOfRun1),
      );
      expect(down[0]!.ts).toBeLessThan(r2.started_at);
      const stopped = transitions.filter((t) => t.device_id === id && t.reason === 'gateway-stopped');
      expect(stopped).toHaveLength(1);
      expect(stopped[0]).toMatchObject({ run_id: 2, from_state: 'UP', to_state: 'UNKNOWN', ts: r2.stopped_at });
    }
    console.log(
      `[kill9] run 1 killed after ${killedAtAcks} acks (${killAfterMs} ms of streaming); acked ${ackedTotal}, stored ${stored} ` +
        `(${storedNotAcked} stored but not acknowledged), ${rows.filter((r) => r.n > 1).length} duplicates`,
    );
  });

  it('SIGTERM mid-stream: exit code 0, every acknowledged reading stored, devices UNKNOWN (gateway-stopped)', async () => {
    const setup = await makeSetup(cleanup, 'sigterm');
    const TOTAL = 6000;
    const STOP_AT = 1000;
    const gw = await startGateway(cleanup, setup, 'gateway-sigterm');
    let stoppedAt = 0;
    const { acked, clients } = await streamAll(setup, TOTAL, (n) => {
      if (n >= STOP_AT && stoppedAt === 0) {
        stoppedAt = n;
        gw.signal('SIGTERM');
      }
    });
    const exit = await withTimeout(gw.exited, 10_000, 'the gateway to exit within 10 s of SIGTERM');
    for (const c of clients) await endMqtt(c);
    expect(exit, gw.tail()).toEqual({ code: 0, signal: null });
    expect(stoppedAt).toBeGreaterThanOrEqual(STOP_AT);
    const logs = jsonLines(gw.stdout);
    expect(logs.some((l) => l.msg === 'gateway stopped; store flushed' && l['reason'] === 'SIGTERM'), gw.tail()).toBe(true);

    const { rows, runs, transitions, states } = readDb(setup.dbPath);
    const ackedTotal = [...acked.values()].reduce((a, s) => a + s.size, 0);
    expect(ackedTotal).toBeGreaterThanOrEqual(STOP_AT);
    checkAcked(rows, acked);
    // What the next start restores: every device UNKNOWN since the stop, not UP.
    expect(states.map((x) => `${x.device_id} ${x.state} ${x.reason}`)).toEqual(DEVICES.map((id) => `${id} UNKNOWN gateway-stopped`));
    expect(runs).toHaveLength(1);
    expect(runs[0]!.stopped_at).not.toBeNull();
    expect(runs[0]!.stop_reason).toBe('SIGTERM');
    expect(runs[0]!.last_beat_at).toBe(runs[0]!.stopped_at);
    for (const id of DEVICES) {
      const mine = transitions.filter((t) => t.device_id === id);
      expect(mine.map((t) => `${t.from_state}->${t.to_state} ${t.reason}`), `${id}: transitions in id order`).toEqual([
        'null->UNKNOWN never-seen',
        'UNKNOWN->UP ok',
        'UP->UNKNOWN gateway-stopped',
      ]);
      expect(mine[2]!.ts).toBe(runs[0]!.stopped_at);
    }
    expect(transitions.some((t) => t.reason === 'gateway-down')).toBe(false);
  });
});
