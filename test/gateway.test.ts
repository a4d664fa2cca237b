/**
 * Component tests: the real gateway in-process (buildGateway), real MQTT clients
 * over loopback TCP, the API through fastify inject().
 */
import { connect as netConnect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric, publish, removeDir, startTestGateway, until, type TestGateway } from './helpers/gateway.js';

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t.close();
  removeDir(t.dir);
});

const rejected = async (reason: string) => metric((await t.get('/metrics')).body, `ce_messages_rejected_total{reason="${reason}"}`);

describe('accepted readings', () => {
  it('stores a QoS 1 reading before the PUBACK and shows the device UP', async () => {
    const before = t.gw.ctx.store.readingCount();
    const c = await t.connect('loa-01');
    await publish(c, 'ce/loa-01/telemetry', JSON.stringify({ supply_v: 12.5, amp_temp_c: 40, amp_ok: true, rsrp_dbm: -95 }));
    // The PUBACK has arrived: the reading must already be committed.
    expect(t.gw.ctx.store.readingCount()).toBe(before + 1);
    const d = await t.get('/api/devices/loa-01');
    expect(d.status).toBe(200);
    expect(d.json.state).toBe('UP');
    expect(d.json.lastReading.fields).toMatchObject({ supply_v: 12.5, amp_temp_c: 40, amp_ok: true, rsrp_dbm: -95 });
    expect(d.json.lastReading.tsSource).toBe('gateway');
    expect(d.json.transitions[0]).toMatchObject({ to: 'UP' });
  });

  it('maps a vendor payload through its profile (topic, paths, scale, enum, timestamp in seconds)', async () => {
    const c = await t.connect('loa-02');
    const ts = Math.floor(Date.now() / 1000) - 5;
    await publish(c, 'vendor/loa-02/data', JSON.stringify({ time: ts, pwr: { mv: 12600 }, amp: 'OK' }));
    let d = await t.get('/api/devices/loa-02');
    expect(d.json.lastReading.fields).toEqual({ supply_v: 12.6, amp_ok: true });
    expect(d.json.lastReading.tsSource).toBe('device');
    expect(Date.parse(d.json.lastReading.ts)).toBe(ts * 1000);
    expect(d.json.state).toBe('UP');
    await publish(c, 'vendor/loa-02/data', JSON.stringify({ amp: 'FAULT' }));
    d = await t.get('/api/devices/loa-02');
    expect(d.json).toMatchObject({ state: 'DOWN', reason: 'amp-fault' });
  });

  it('accepts a bridge publishing for its devices and applies role-specific health', async () => {
    const nvr = await t.connect('nvr-1');
    await publish(nvr, 'ce/cam-1/telemetry', JSON.stringify({ online: true, stream_ok: true, recording: true, fps: 25, ioc_link: false }));
    await publish(nvr, 'ce/cam-2/telemetry', JSON.stringify({ online: true, stream_ok: true, recording: true, fps: 25, ioc_link: false }));
    // One-stop-shop cameras must reach the IOC; a security camera need not.
    expect((await t.get('/api/devices/cam-1')).json).toMatchObject({ state: 'DEGRADED', reason: 'ioc-link-down' });
    expect((await t.get('/api/devices/cam-2')).json).toMatchObject({ state: 'UP' });
  });

  it('re-stamps a reading whose device clock is implausible and marks it uncertain', async () => {
    const c = await t.connect('ups-01');
    const restampedBefore = metric((await t.get('/metrics')).body, 'ce_clock_restamped_total');
    await publish(c, 'ce/ups-01/telemetry', JSON.stringify({ ts: 86_400_000, mains_ok: true, on_battery: false, battery_pct: 100 }));
    const d = await t.get('/api/devices/ups-01');
    expect(d.json.lastReading.tsSource).toBe('restamped');
    expect(d.json.lastReading.quality).toBe('uncertain');
    expect(Math.abs(Date.parse(d.json.lastReading.ts) - Date.now())).toBeLessThan(5000);
    expect(metric((await t.get('/metrics')).body, 'ce_clock_restamped_total')).toBe(restampedBefore + 1);
  });

  it('goes DOWN at once when the broker publishes the last-will', async () => {
    const c = await t.connect('ups-01', undefined, { will: { topic: 'ce/ups-01/status', payload: Buffer.from('offline'), qos: 1, retain: true } });
    await publish(c, 'ce/ups-01/telemetry', JSON.stringify({ mains_ok: true, on_battery: false }));
    expect((await t.get('/api/devices/ups-01')).json.state).toBe('UP');
    c.stream.destroy(); // no DISCONNECT: the will is published (MQTT 3.1.1 §3.1.2.5)
    await until(async () => (await t.get('/api/devices/ups-01')).json.state === 'DOWN', 5000, 'DOWN after last-will');
    expect((await t.get('/api/devices/ups-01')).json.reason).toBe('offline');
  });

  it('keeps retained state and lets a device subscribe inside its own namespace only', async () => {
    const c = await t.connect('loa-01');
    await publish(c, 'ce/loa-01/status', 'online');
    await new Promise<void>((r) => c.publish('ce/loa-01/status', 'online', { qos: 1, retain: true }, () => r()));
    const sub = await t.connect('loa-01');
    const got = new Promise<string>((resolve) => sub.on('message', (topic, msg) => topic === 'ce/loa-01/status' && resolve(msg.toString())));
    const grantedOwn = await new Promise<number>((r) => sub.subscribe('ce/loa-01/#', { qos: 1 }, (_e, g) => r(g![0]!.qos)));
    expect(grantedOwn).toBe(1);
    expect(await got).toBe('online');
    const before = await rejected('CE_MQTT_ACL');
    // SUBACK return code 0x80 (failure) for that filter, connection kept (MQTT 3.1.1 §3.9.3);
    // mqtt.js reports a SUBACK failure as an error.
    const other = await new Promise<Error | null>((r) => sub.subscribe('ce/ups-01/#', { qos: 1 }, (e) => r(e ?? null)));
    expect(other?.message).toMatch(/Unspecified error/);
    expect(sub.connected).toBe(true);
    expect(await rejected('CE_MQTT_ACL')).toBe(before + 1);
  });
});

describe('bad input: rejected with a reason, counted, never stored, never stops the others', () => {
  it('malformed JSON, wrong types and oversize payloads are acknowledged, dropped and counted', async () => {
    const c = await t.connect('loa-01');
    const watcher = await t.connect('loa-01');
    const seen: string[] = [];
    watcher.on('message', (_topic, m) => seen.push(m.toString()));
    await new Promise((r) => watcher.subscribe('ce/loa-01/telemetry', { qos: 0 }, r));
    const stored = t.gw.ctx.store.readingCount();
    const [json0, schema0, size0] = [await rejected('CE_PAYLOAD_JSON'), await rejected('CE_PAYLOAD_SCHEMA'), await rejected('CE_PAYLOAD_TOO_LARGE')];

    await publish(c, 'ce/loa-01/telemetry', '{"supply_v": 12.1,');
    await publish(c, 'ce/loa-01/telemetry', JSON.stringify({ supply_v: 'twelve' }));
    await publish(c, 'ce/loa-01/telemetry', JSON.stringify({ nothing_known: 1 }));
    await publish(c, 'ce/loa-01/telemetry', JSON.stringify([1, 2]));
    await publish(c, 'ce/loa-01/telemetry', JSON.stringify({ supply_v: 12, pad: 'x'.repeat(3000) }));
    expect(c.connected).toBe(true); // positively acknowledged (MQTT-3.3.5-2), not disconnected
    expect(t.gw.ctx.store.readingCount()).toBe(stored);
    expect(await rejected('CE_PAYLOAD_JSON')).toBe(json0 + 1);
    expect(await rejected('CE_PAYLOAD_SCHEMA')).toBe(schema0 + 3);
    expect(await rejected('CE_PAYLOAD_TOO_LARGE')).toBe(size0 + 1);

    // The same client keeps being served, and only the good message is forwarded.
    await publish(c, 'ce/loa-01/telemetry', JSON.stringify({ supply_v: 12.2 }));
    expect(t.gw.ctx.store.readingCount()).toBe(stored + 1);
    await until(() => seen.length >= 1, 2000, 'forwarded message');
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([JSON.stringify({ supply_v: 12.2 })]);

    const rejects = await t.get('/api/rejects?limit=10', 'officer');
    expect(rejects.status).toBe(200);
    const codes = rejects.json.rejects.map((r: { code: string }) => r.code);
    expect(codes).toContain('CE_PAYLOAD_JSON');
    expect(rejects.json.rejects.find((r: { code: string }) => r.code === 'CE_PAYLOAD_SCHEMA').detail).toMatch(/loa-01/);
  });

  it('refuses wrong credentials and unknown users with CONNACK 4, counted', async () => {
    const before = await rejected('CE_MQTT_AUTH');
    await expect(t.connect('loa-01', 'wrong-password')).rejects.toThrow(/username or password/i);
    await expect(t.connect('nobody', 'x')).rejects.toThrow(/username or password/i);
    await expect(t.connect('', '')).rejects.toThrow();
    expect(await rejected('CE_MQTT_AUTH')).toBe(before + 3);
  });

  it('closes a client that publishes outside its ACL; the reading is not stored', async () => {
    const before = await rejected('CE_MQTT_ACL');
    const stored = t.gw.ctx.store.readingCount();
    const c = await t.connect('loa-01');
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish('ce/ups-01/telemetry', JSON.stringify({ mains_ok: false }), { qos: 1 });
    await closed;
    expect(t.gw.ctx.store.readingCount()).toBe(stored);
    expect(await rejected('CE_MQTT_ACL')).toBe(before + 1);
    expect((await t.get('/api/devices/ups-01')).json.lastReading?.fields?.mains_ok).not.toBe(false);
  });

  it('closes a connection that announces a packet above maxPacketBytes before buffering it', async () => {
    const before = await rejected('CE_PACKET_TOO_LARGE');
    const port = t.gw.ports().mqtt!;
    const sock = netConnect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    // A CONNECT whose fixed header claims 10 MB; only the header is ever sent.
    const header = Buffer.from([0x10, 0x80, 0xad, 0xe2, 0x04]); // remaining length 10,000,000 (§2.2.3 encoding)
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.write(header);
    await closed;
    expect(await rejected('CE_PACKET_TOO_LARGE')).toBe(before + 1);
    // ... and the broker still serves others.
    const c = await t.connect('loa-01');
    await publish(c, 'ce/loa-01/telemetry', JSON.stringify({ supply_v: 12.3 }));
    expect((await t.get('/api/devices/loa-01')).json.lastReading.fields.supply_v).toBe(12.3);
  });

  it('drops a malformed MQTT packet stream without affecting other clients', async () => {
    const port = t.gw.ports().mqtt!;
    const sock = netConnect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')); // serial noise on the MQTT port
    await closed;
    const c = await t.connect('loa-01');
    await publish(c, 'ce/loa-01/telemetry', JSON.stringify({ supply_v: 12.4 }));
    expect((await t.get('/api/devices/loa-01')).json.lastReading.fields.supply_v).toBe(12.4);
  });

  it('rate-limits a flooding client while other devices keep flowing', async () => {
    const before = await rejected('CE_RATE_LIMITED');
    const flooder = await t.connect('ups-01');
    const other = await t.connect('loa-01');
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 400; i++) sends.push(publish(flooder, 'ce/ups-01/telemetry', JSON.stringify({ load_pct: i % 100 }), 1));
    const otherStored = t.gw.ctx.store.readingCount();
    await publish(other, 'ce/loa-01/telemetry', JSON.stringify({ supply_v: 12.7 }));
    expect(t.gw.ctx.store.readingCount()).toBeGreaterThan(otherStored);
    await Promise.all(sends); // every flood message is still acknowledged
    const limited = (await rejected('CE_RATE_LIMITED')) - before;
    // burst 100 + 50/s refill: most of the 400 are dropped, and counted.
    expect(limited).toBeGreaterThan(200);
    expect(limited).toBeLessThan(400 - 100 + 1);
    expect((await t.get('/api/devices/loa-01')).json.lastReading.fields.supply_v).toBe(12.7);
  });

  it('counts messages on unknown topics and unknown devices (pipeline used by every transport)', async () => {
    const [dev0, topic0] = [await rejected('CE_DEVICE_UNKNOWN'), await rejected('CE_TOPIC_UNKNOWN')];
    const ingest = (topic: string) =>
      new Promise((r) => t.gw.ctx.pipeline.ingest({ topic, payload: Buffer.from('{}'), client: 'test', transport: 'test' }, r));
    expect(await ingest('ce/ghost-device/telemetry')).toMatchObject({ accepted: false, code: 'CE_DEVICE_UNKNOWN' });
    expect(await ingest('random/topic')).toMatchObject({ accepted: false, code: 'CE_TOPIC_UNKNOWN' });
    expect(await ingest('ce/loa-01/status')).toMatchObject({ accepted: false, code: 'CE_STATUS_INVALID' });
    expect(await rejected('CE_DEVICE_UNKNOWN')).toBe(dev0 + 1);
    expect(await rejected('CE_TOPIC_UNKNOWN')).toBe(topic0 + 1);
  });

  it('uses raw MQTT QoS 1 PUBLISH/PUBACK ids as a device would', async () => {
    // A hand-written client: CONNECT, then PUBLISH with packet id 7; expect PUBACK 7.
    const port = t.gw.ports().mqtt!;
    const sock = netConnect(port, '127.0.0.1');
    const parser = mqttPacket.parser();
    const packets: mqttPacket.Packet[] = [];
    parser.on('packet', (p) => packets.push(p));
    sock.on('data', (d) => parser.parse(d));
    await new Promise((r) => sock.once('connect', r));
    sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'raw-1', keepalive: 30, username: 'loa-01', password: Buffer.from('pw-loa-01') }));
    await until(() => packets.find((p) => p.cmd === 'connack'), 3000, 'CONNACK');
    sock.write(mqttPacket.generate({ cmd: 'publish', topic: 'ce/loa-01/telemetry', payload: Buffer.from('{"volume_pct": 55}'), qos: 1, messageId: 7, retain: false, dup: false }));
    const ack = await until(() => packets.find((p) => p.cmd === 'puback'), 3000, 'PUBACK');
    expect((ack as mqttPacket.IPubackPacket).messageId).toBe(7);
    sock.destroy();
  });
});

describe('API', () => {
  it('serves /api/health without a token, with counts by state', async () => {
    const h = await t.get('/api/health', null);
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ status: 'ok', demo: false, gateway: { id: 'gw-test', commune: { code: '12345' } } });
    expect(h.json.devices.total).toBe(5);
    const sum = Object.values(h.json.devices.byState as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(sum).toBe(5);
    expect(h.json.inputs[0]).toMatchObject({ name: 'mqtt-embedded', connected: true });
  });

  it('requires a valid bearer token with the right role, with coded errors', async () => {
    expect((await t.get('/api/devices', null)).json.error.code).toBe('CE_AUTH_REQUIRED');
    const bad = await t.gw.api.inject({ url: '/api/devices', headers: { authorization: 'Bearer nope' } });
    expect(bad.statusCode).toBe(401);
    expect(bad.json().error.code).toBe('CE_AUTH_INVALID');
    const viewerOnRejects = await t.get('/api/rejects', 'viewer');
    expect(viewerOnRejects.status).toBe(403);
    expect(viewerOnRejects.json.error.code).toBe('CE_FORBIDDEN');
    expect((await t.get('/api/rejects', 'admin')).status).toBe(200);
    expect((await t.get('/metrics', null)).status).toBe(401);
  });

  it('filters devices by kind, hamlet and state, and reports 404 and 400 with codes', async () => {
    const cams = await t.get('/api/devices?kind=camera');
    expect(cams.json.devices.map((d: { id: string }) => d.id).sort()).toEqual(['cam-1', 'cam-2']);
    const ap3 = await t.get('/api/devices?hamlet=ap-03');
    expect(ap3.json.devices.map((d: { id: string }) => d.id)).toEqual(['cam-2']);
    const up = await t.get('/api/devices?state=UP');
    expect(up.json.devices.every((d: { state: string }) => d.state === 'UP')).toBe(true);
    expect((await t.get('/api/devices?hamlet=ap-99')).json.error.code).toBe('CE_NOT_FOUND');
    expect((await t.get('/api/devices/nope')).status).toBe(404);
    const badKind = await t.get('/api/devices?kind=toaster');
    expect(badKind.status).toBe(400);
    expect(badKind.json.error.code).toBe('CE_BAD_REQUEST');
    expect((await t.get('/api/nothing-here')).json.error.code).toBe('CE_NOT_FOUND');
  });

  it('groups devices by hamlet', async () => {
    const h = await t.get('/api/hamlets');
    expect(h.json.hamlets.map((x: { id: string }) => x.id)).toEqual(['ap-01', 'ap-02', 'ap-03']);
    const ap1 = h.json.hamlets[0];
    expect(ap1.devices.map((d: { id: string }) => d.id).sort()).toEqual(['cam-1', 'loa-01', 'ups-01']);
    const total = Object.values(ap1.byState as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(total).toBe(3);
    expect(Object.keys(ap1.byKind).sort()).toEqual(['camera', 'loudspeaker', 'power']);
  });

  it('exposes Prometheus metrics: messages in, rejected by reason, store size, broker clients', async () => {
    const m = (await t.get('/metrics')).body;
    expect(metric(m, 'ce_messages_received_total{transport="mqtt"}')).toBeGreaterThan(0);
    expect(metric(m, 'ce_readings_accepted_total{kind="loudspeaker"}')).toBeGreaterThan(0);
    expect(metric(m, 'ce_store_bytes')).toBeGreaterThan(0);
    expect(metric(m, 'ce_store_readings')).toBe(t.gw.ctx.store.readingCount());
    expect(metric(m, 'ce_broker_clients')).toBe(t.gw.broker!.clients);
    expect(m).toMatch(/ce_devices\{state="UP"\} \d+/);
    expect(metric(m, 'ce_store_commit_seconds_count')).toBeGreaterThan(0);
    expect(metric(m, 'ce_store_commit_errors_total')).toBe(0);
  });

  it('publishes an OpenAPI document of every route', async () => {
    const doc = await t.gw.api.inject({ url: '/docs/json' });
    expect(doc.statusCode).toBe(200);
    const paths = Object.keys(doc.json().paths);
    for (const p of ['/api/health', '/api/devices', '/api/devices/{id}', '/api/hamlets', '/api/rejects', '/metrics']) expect(paths).toContain(p);
  });
});
