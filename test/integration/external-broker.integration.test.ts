/**
 * External-broker mode against a real Mosquitto (Debian package) on 127.0.0.1:
 * the gateway runs in-process (buildGateway, mqtt.mode external) and subscribes
 * to the broker with a persistent session; plain mqtt.js clients publish like
 * devices or bridges would.
 *
 * Proves: QoS 1 readings reach the store and the device state; bad messages are
 * counted and do not stall the loop; the gateway survives a broker restart (with
 * and without the broker's persisted session) on its own, without reconnecting in
 * lockstep with other gateways; messages queued by the broker while the gateway
 * was stopped arrive exactly once after it restarts.
 */
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../../gateway/build.js';
import { hashToken, newToken } from '../../gateway/credentials.js';
import { settingsFrom } from '../../gateway/settings/load.js';
import type { Settings } from '../../gateway/settings/schema.js';
import {
  Cleanup,
  connectMqtt,
  connectionRecorder,
  endMqtt,
  freePort,
  memoryLogger,
  metricValue,
  Mosquitto,
  mosquittoBinary,
  powerReading,
  publish,
  removeDir,
  sleep,
  tempDir,
  waitFor,
  type LogLine,
} from './helpers.js';

const CLIENT_ID = 'commune-edge-itest';
const viewerToken = newToken();
const officerToken = newToken();

function settingsFor(url: string, dataDir: string, over: { id?: string; clientId?: string; minMs?: number; maxMs?: number } = {}): Settings {
  return settingsFrom({
    commune: { code: '70001', name: 'Xã Thử Nghiệm', province: { code: '75', name: 'Đồng Nai' } },
    gateway: { id: over.id ?? 'gw-itest', dataDir, heartbeatS: 5 },
    log: { level: 'info', rejectLogIntervalS: 0 },
    hamlets: [{ id: 'ap-01', name: 'Ấp 1' }],
    devices: [
      { id: 'ups-1', name: 'UPS văn phòng', kind: 'power', hamlet: 'ap-01', role: 'office' },
      { id: 'ups-2', name: 'UPS tủ mạng', kind: 'power', hamlet: 'ap-01', role: 'rack' },
    ],
    mqtt: {
      mode: 'external',
      external: { url, clientId: over.clientId ?? CLIENT_ID, reconnectMinMs: over.minMs ?? 200, reconnectMaxMs: over.maxMs ?? 2000 },
    },
    api: {
      host: '127.0.0.1',
      port: 0,
      docs: false,
      tokens: [
        { name: 'itest-viewer', role: 'viewer', tokenHash: hashToken(viewerToken) },
        { name: 'itest-officer', role: 'officer', tokenHash: hashToken(officerToken) },
      ],
    },
  });
}

async function get(gw: Gateway, url: string, token: string | null = viewerToken): Promise<{ status: number; body: any; text: string }> {
  const r = await gw.api.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
  let body: unknown;
  try {
    body = r.json();
  } catch {
    body = undefined;
  }
  return { status: r.statusCode, body, text: r.body };
}

/** Sequence numbers (uptime_s) of a device's stored readings, in commit order. */
function storedSeqs(gw: Gateway, deviceId: string): number[] {
  return gw.ctx.store
    .spoolRows('readings', 0, 1_000_000).map((r) => ({ ...r.reading!, id: r.id }))
    .filter((r) => r.deviceId === deviceId)
    .map((r) => r.fields['uptime_s'] as number);
}

function inRange(seqs: number[], lo: number, hi: number): number[] {
  return seqs.filter((s) => s >= lo && s <= hi);
}

const range = (lo: number, hi: number) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

function connected(gw: Gateway): boolean {
  return gw.sources.every((s) => s.status().connected);
}

describe('external broker (real Mosquitto)', () => {
  const cleanup = new Cleanup();
  let broker: Mosquitto;
  let dataDir: string;
  let settings: Settings;
  let gw: Gateway | null = null;
  const { log, lines } = memoryLogger('info');

  const logsSince = (from: number, msg: string): LogLine[] => lines.slice(from).filter((l) => l.msg === msg);

  /** waitFor, and on timeout say where the messages got lost. */
  async function waitStored(g: Gateway, what: string, check: () => boolean, timeoutMs: number): Promise<void> {
    try {
      await waitFor(what, check, timeoutMs);
    } catch (err) {
      const text = (await get(g, '/metrics')).text;
      const received = metricValue(text, 'ce_messages_received_total', { transport: 'mqtt-external' }) ?? 0;
      throw new Error(
        `${(err as Error).message}\n` +
          `  messages that reached the gateway pipeline from Mosquitto (ce_messages_received_total{transport="mqtt-external"}): ${received}\n` +
          `  readings in the store: ${g.ctx.store.readingCount()}\n` +
          `  gateway log (tail):\n    ${lines.slice(-8).map((l) => JSON.stringify(l)).join('\n    ')}\n` +
          `  mosquitto log (tail):\n    ${broker.currentLog.trim().split('\n').filter((l) => !l.includes('Saving in-memory database')).slice(-8).join('\n    ')}`,
      );
    }
  }

  async function startGateway(): Promise<Gateway> {
    const g = await buildGateway(settings, { logger: log });
    gw = g;
    await g.start();
    return g;
  }

  /** The gateway's subscriptions as Mosquitto logged them ("<client> 1 <filter>"), in the current broker instance. */
  const subscribed = () =>
    broker.currentLog.includes(`${CLIENT_ID} 1 ce/+/telemetry`) && broker.currentLog.includes(`${CLIENT_ID} 1 ce/+/status`);

  beforeAll(async () => {
    mosquittoBinary(); // a missing Mosquitto fails here, with the install hint
    broker = new Mosquitto(await freePort());
    cleanup.add('remove mosquitto dir', () => removeDir(broker.dir));
    cleanup.add('stop mosquitto', () => broker.stop());
    await broker.start();
    dataDir = tempDir('gw-ext');
    cleanup.add('remove gateway data dir', () => removeDir(dataDir));
    cleanup.add('stop gateway', () => gw?.stop('test-cleanup'));
    settings = settingsFor(broker.url, dataDir);
    const g = await startGateway();
    await waitFor('the gateway to connect to Mosquitto', () => connected(g), 10_000);
    await waitFor(`Mosquitto to log the gateway's subscriptions\n${broker.log}`, subscribed, 10_000);
  });

  afterAll(async () => {
    await cleanup.run();
  });

  it('(a) QoS 1 readings published to Mosquitto are committed to the store and make the device UP', async () => {
    const g = gw!;
    const before = g.ctx.store.readingCount();
    const pub = await connectMqtt(broker.url, { clientId: 'itest-pub-a' });
    try {
      for (const seq of range(1, 50)) await publish(pub, 'ce/ups-1/telemetry', powerReading(seq));
    } finally {
      await endMqtt(pub);
    }
    await waitStored(g, '50 readings of ups-1 in the store', () => storedSeqs(g, 'ups-1').length >= 50, 10_000);
    await sleep(300); // nothing more (no duplicates) should follow
    expect(g.ctx.store.readingCount() - before).toBe(50);
    expect(storedSeqs(g, 'ups-1')).toEqual(range(1, 50));

    // On disk, seen through a second (read-only) connection to the store file.
    const db = new Database(join(dataDir, 'commune-edge.db'), { readonly: true, fileMustExist: true });
    try {
      const n = db.prepare("SELECT count(*) AS n FROM readings WHERE device_id = 'ups-1'").get() as { n: number };
      expect(n.n).toBe(50);
    } finally {
      db.close();
    }

    const dev = await get(g, '/api/devices/ups-1');
    expect(dev.status, dev.text).toBe(200);
    expect(dev.body.state).toBe('UP');
    expect(dev.body.lastReading?.fields).toMatchObject({ mains_ok: true, input_v: 228.5, uptime_s: 50 });
    expect(dev.body.transitions.map((t: { to: string }) => t.to)).toContain('UP');
    // A device that said nothing is still UNKNOWN: the state comes from its own readings.
    const quiet = await get(g, '/api/devices/ups-2');
    expect(quiet.body.state).toBe('UNKNOWN');
    expect(quiet.body.lastReading).toBeNull();

    const health = await get(g, '/api/health', null);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    expect(health.body.inputs).toEqual([{ name: 'mqtt-external', connected: true }]);
    expect(health.body.store.readings).toBe(g.ctx.store.readingCount());
  });

  it('(b) malformed JSON, an unknown device, a schema violation and a bad status are counted and do not stop good messages', async () => {
    const g = gw!;
    const metricsBefore = (await get(g, '/metrics')).text;
    const rejected = (text: string, reason: string) => metricValue(text, 'ce_messages_rejected_total', { reason }) ?? 0;
    const accepted = (text: string) => metricValue(text, 'ce_readings_accepted_total', { kind: 'power' }) ?? 0;

    const pub = await connectMqtt(broker.url, { clientId: 'itest-pub-b' });
    try {
      await publish(pub, 'ce/ups-1/telemetry', powerReading(101));
      await publish(pub, 'ce/ups-1/telemetry', '{"mains_ok": true, "input_v": 23'); // cut off
      await publish(pub, 'ce/ups-1/telemetry', powerReading(102));
      await publish(pub, 'ce/ghost-7/telemetry', powerReading(999)); // not in the inventory
      await publish(pub, 'ce/ups-2/telemetry', '{"mains_ok": "maybe", "uptime_s": 998}'); // wrong type
      await publish(pub, 'ce/ups-2/status', 'banana');
      await publish(pub, 'ce/ups-2/telemetry', powerReading(103));
    } finally {
      await endMqtt(pub);
    }
    await waitStored(g, 'the last good reading (103) in the store', () => storedSeqs(g, 'ups-2').includes(103), 10_000);
    await sleep(200);

    const after = (await get(g, '/metrics')).text;
    expect(rejected(after, 'CE_PAYLOAD_JSON') - rejected(metricsBefore, 'CE_PAYLOAD_JSON')).toBe(1);
    expect(rejected(after, 'CE_DEVICE_UNKNOWN') - rejected(metricsBefore, 'CE_DEVICE_UNKNOWN')).toBe(1);
    expect(rejected(after, 'CE_PAYLOAD_SCHEMA') - rejected(metricsBefore, 'CE_PAYLOAD_SCHEMA')).toBe(1);
    expect(rejected(after, 'CE_STATUS_INVALID') - rejected(metricsBefore, 'CE_STATUS_INVALID')).toBe(1);
    expect(accepted(after) - accepted(metricsBefore)).toBe(3);

    expect(inRange(storedSeqs(g, 'ups-1'), 100, 1000)).toEqual([101, 102]);
    expect(inRange(storedSeqs(g, 'ups-2'), 100, 1000)).toEqual([103]);

    // The officer sees why; the viewer may not.
    const rejects = await get(g, '/api/rejects?limit=20', officerToken);
    expect(rejects.status, rejects.text).toBe(200);
    const codes = (rejects.body.rejects as { code: string; topic: string | null }[]).map((r) => `${r.code} ${r.topic}`);
    expect(codes).toEqual(
      expect.arrayContaining([
        'CE_PAYLOAD_JSON ce/ups-1/telemetry',
        'CE_DEVICE_UNKNOWN ce/ghost-7/telemetry',
        'CE_PAYLOAD_SCHEMA ce/ups-2/telemetry',
        'CE_STATUS_INVALID ce/ups-2/status',
      ]),
    );
    expect((await get(g, '/api/rejects', viewerToken)).status).toBe(403);
    // Rejected messages were acknowledged to the broker (not redelivered forever): the loop is still live.
    expect(connected(g)).toBe(true);
  });

  it('(c) Mosquitto restarts on the same port: the gateway reconnects by itself and keeps its subscriptions', async () => {
    const g = gw!;
    const from = lines.length;
    await broker.stop(); // SIGTERM: Mosquitto saves the sessions to its persistence file
    await waitFor('the gateway to notice the broker is gone', () => !connected(g), 5000);
    const down = await get(g, '/api/health', null);
    expect(down.body.status).toBe('degraded');
    expect(down.body.inputs[0].connected).toBe(false);

    await broker.start();
    // Published as soon as the broker is back: queued for the gateway's session if it is not connected yet.
    const pub = await connectMqtt(broker.url, { clientId: 'itest-pub-c' });
    try {
      for (const seq of range(201, 220)) await publish(pub, 'ce/ups-1/telemetry', powerReading(seq));
    } finally {
      await endMqtt(pub);
    }
    await waitFor('the gateway to reconnect', () => connected(g), 10_000);
    await waitStored(g, 'readings 201..220', () => inRange(storedSeqs(g, 'ups-1'), 201, 220).length >= 20, 10_000);
    await sleep(300);
    expect(inRange(storedSeqs(g, 'ups-1'), 201, 220)).toEqual(range(201, 220));

    expect(logsSince(from, 'external MQTT broker connection lost')).toHaveLength(1);
    const reconnects = logsSince(from, 'connected to external MQTT broker');
    expect(reconnects.length).toBeGreaterThanOrEqual(1);
    expect(reconnects[0]!['sessionPresent']).toBe(true);
    expect(broker.currentLog).toMatch(new RegExp(`New client connected from 127\\.0\\.0\\.1:\\d+ as ${CLIENT_ID} \\(p2, c0,`));
    expect((await get(g, '/api/health', null)).body.status).toBe('ok');
  });

  it('(c) Mosquitto restarts without its session (state lost): the gateway subscribes again', async () => {
    const g = gw!;
    const from = lines.length;
    await broker.stop();
    rmSync(join(broker.dir, 'mosquitto.db'), { force: true }); // a replaced or wiped broker
    await waitFor('the gateway to notice the broker is gone', () => !connected(g), 5000);
    await broker.start();
    await waitFor('the gateway to reconnect', () => connected(g), 10_000);
    await waitFor(`the gateway to subscribe again (Mosquitto log)\n${broker.currentLog}`, subscribed, 10_000);
    const reconnects = logsSince(from, 'connected to external MQTT broker');
    expect(reconnects[0]?.['sessionPresent']).toBe(false);

    const pub = await connectMqtt(broker.url, { clientId: 'itest-pub-c2' });
    try {
      for (const seq of range(301, 310)) await publish(pub, 'ce/ups-2/telemetry', powerReading(seq));
    } finally {
      await endMqtt(pub);
    }
    await waitStored(g, 'readings 301..310', () => inRange(storedSeqs(g, 'ups-2'), 301, 310).length >= 10, 10_000);
    expect(inRange(storedSeqs(g, 'ups-2'), 301, 310)).toEqual(range(301, 310));
  });

  it('(d) QoS 1 messages published while the gateway is stopped arrive exactly once after it restarts (persistent session)', async () => {
    const first = gw!;
    const seqsBefore = storedSeqs(first, 'ups-1').length + storedSeqs(first, 'ups-2').length;
    await first.stop('test-restart');
    gw = null;
    await waitFor(`Mosquitto to see the gateway disconnect\n${broker.currentLog}`, () => broker.currentLog.includes(`Client ${CLIENT_ID} disconnected`), 5000);

    // 200 readings, acknowledged by Mosquitto and queued for the gateway's session.
    const pub = await connectMqtt(broker.url, { clientId: 'itest-pub-d' });
    try {
      for (const seq of range(401, 600)) await publish(pub, seq % 2 ? 'ce/ups-1/telemetry' : 'ce/ups-2/telemetry', powerReading(seq));
    } finally {
      await endMqtt(pub);
    }

    const from = lines.length;
    const second = await startGateway(); // same settings: same clientId, same data dir
    const queued = () => inRange(storedSeqs(second, 'ups-1'), 401, 600).length + inRange(storedSeqs(second, 'ups-2'), 401, 600).length;
    await waitStored(second, 'the 200 queued readings to arrive', () => queued() >= 200, 20_000);
    await sleep(1000); // a duplicate would be redelivered by now
    const got = [...inRange(storedSeqs(second, 'ups-1'), 401, 600), ...inRange(storedSeqs(second, 'ups-2'), 401, 600)].sort((a, b) => a - b);
    expect(got).toEqual(range(401, 600)); // each exactly once
    expect(storedSeqs(second, 'ups-1').length + storedSeqs(second, 'ups-2').length).toBe(seqsBefore + 200);
    expect(logsSince(from, 'connected to external MQTT broker')[0]?.['sessionPresent']).toBe(true);
    const dev = await get(second, '/api/devices/ups-2');
    expect(dev.body.state).toBe('UP');
    expect(dev.body.lastReading.fields.uptime_s).toBe(600);
  });
});

describe('external broker: reconnect after a broker restart', () => {
  const cleanup = new Cleanup();
  afterAll(async () => {
    await cleanup.run();
  });

  // Six gateways of a province lose the same broker at the same instant. The
  // module promises "jittered exponential backoff (a province's worth of gateways
  // must not reconnect in lockstep after the broker restarts)": their first
  // retries must be spread over [reconnectMinMs, 2 × reconnectMinMs], not all at
  // reconnectMinMs. (A spread under 60 ms over a 500 ms window has probability
  // ~2e-4 with full jitter.)
  it('the first reconnect attempts of several gateways are jittered, not in lockstep', async () => {
    mosquittoBinary();
    const port = await freePort();
    const broker = new Mosquitto(port);
    cleanup.add('remove mosquitto dir', () => removeDir(broker.dir));
    cleanup.add('stop mosquitto', () => broker.stop());
    await broker.start();

    const minMs = 500;
    const gateways: Gateway[] = [];
    for (let i = 1; i <= 6; i++) {
      const dir = tempDir(`gw-jitter-${i}`);
      cleanup.add(`remove ${dir}`, () => removeDir(dir));
      const g = await buildGateway(
        settingsFor(broker.url, dir, { id: `gw-jitter-${i}`, clientId: `ce-jitter-${i}`, minMs, maxMs: 8000 }),
        { logger: memoryLogger('warn').log },
      );
      cleanup.add(`stop gw-jitter-${i}`, () => g.stop('test-cleanup'));
      await g.start();
      gateways.push(g);
    }
    await waitFor('six gateways connected', () => gateways.every(connected), 10_000);

    await broker.stop();
    const lostAt = Date.now();
    // The port answers again at once, but as a recorder of CONNECT attempts.
    const rec = await connectionRecorder(port);
    cleanup.add('close recorder', () => rec.close());
    await waitFor(
      'a reconnect attempt from each gateway',
      () => new Set(rec.attempts.map((a) => a.clientId)).size === 6,
      5 * minMs + 5000,
    );
    const firstDelay = (id: string) => rec.attempts.find((a) => a.clientId === id)!.at - lostAt;
    const delays = range(1, 6).map((i) => firstDelay(`ce-jitter-${i}`));
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(minMs - 50);
    const spread = Math.max(...delays) - Math.min(...delays);
    expect(spread, `first reconnect delays after the broker went away: ${delays.join(', ')} ms`).toBeGreaterThan(60);
  });
});
