/**
 * The OPC UA client transport against a real node-opcua server (the irrigation PLC
 * simulator, devices/irrigation/opcua-server.ts) on a free 127.0.0.1 port, feeding a
 * real in-process gateway: values flow into the store, the health tracker and the
 * API; a bad node id is reported by name while the other items flow; Bad values are
 * left out; steady values keep a device UP past its heartbeat timeout; username
 * authentication (right and wrong) over SignAndEncrypt; the PLC stops (devices DOWN,
 * plc-offline) and restarts on the same port (the subscription comes back without
 * restarting the gateway); a peer that accepts TCP and never answers; a prompt stop.
 *
 * One PLC server and one gateway for the whole file (node-opcua's server takes
 * about a second to start); the tests run in order and build on each other.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { existsSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startIrrigationController, type IrrigationController, type IrrigationTag } from '../../devices/irrigation/opcua-server.js';
import { OpcuaSource } from '../../gateway/inputs/opcua/source.js';
import { OpcuaSchema } from '../../gateway/inputs/opcua/settings.js';
import type { SettingsInput } from '../../gateway/settings/schema.js';
import { metric, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Cleanup, freePort, memoryLogger, removeDir, sleep, tempDir, waitFor, type LogLine } from './helpers.js';

const PASSWORD_ENV = 'CE_TEST_OPCUA_PLC_PASSWORD';
const WRONG_PASSWORD_ENV = 'CE_TEST_OPCUA_WRONG_PASSWORD';
const USER = 'gateway';
const PASSWORD = 'mật-khẩu-đúng-2024';

const STATION_TAGS: Array<[string, IrrigationTag]> = [
  ['pump_running', 'Pump.Running'],
  ['pump_fault', 'Pump.Fault'],
  ['valve_open', 'Valve.Open'],
  ['flow_l_min', 'Flow'],
  ['tank_level_pct', 'TankLevel'],
  ['pressure_bar', 'Pressure'],
];

/** Short timings so the file runs in seconds, not minutes. */
const FAST = { reconnectMinMs: 200, reconnectMaxMs: 1000, publishingIntervalMs: 200, samplingIntervalMs: 100, connectTimeoutMs: 2000 };

const cleanup = new Cleanup();
let dir: string;
let plc: IrrigationController;
let t: TestGateway;
let source: OpcuaSource;
let logs: LogLine[];
let station: (deviceId: string, name: string) => { device: string; field: string; nodeId: string }[];
let hangPort: number;
let proxy: { port: number; frozen: boolean };
const consoleLines: string[] = [];

const device = (id: string) => t.gw.ctx.health.get(id)!;
const fields = (id: string) => device(id).lastReading?.fields ?? {};
const metricsText = async () => (await t.get('/metrics')).body;

function irrigationDevice(id: string, heartbeatS = 2): NonNullable<SettingsInput['devices']>[number] {
  return { id, name: `Trạm bơm ${id}`, kind: 'irrigation', hamlet: 'ap-02', role: 'pump_station', heartbeatS };
}

beforeAll(async () => {
  // node-opcua prints to the console unless routed: nothing of it may reach the console.
  for (const m of ['log', 'warn', 'error', 'info'] as const) {
    const original = console[m].bind(console);
    vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
      consoleLines.push(args.map(String).join(' '));
      original(...args);
    });
  }
  dir = tempDir('opcua');
  cleanup.add('temp dir', () => removeDir(dir));
  process.env[PASSWORD_ENV] = PASSWORD;
  process.env[WRONG_PASSWORD_ENV] = 'not-the-password';
  cleanup.add('env', () => {
    delete process.env[PASSWORD_ENV];
    delete process.env[WRONG_PASSWORD_ENV];
  });

  plc = await startIrrigationController({
    pkiDir: join(dir, 'plc-pki'),
    simulate: false,
    stations: [{ name: 'PumpStation1' }, { name: 'PumpStation2' }, { name: 'PumpStation3', seed: 7 }],
    users: { [USER]: PASSWORD },
  });
  cleanup.add('PLC simulator', () => plc.stop());
  // A deterministic start: a healthy station 1.
  plc.set('PumpStation1', 'Pump.Running', true);
  plc.set('PumpStation1', 'Pump.Fault', false);
  plc.set('PumpStation1', 'Valve.Open', true);
  plc.set('PumpStation1', 'Flow', 512.5);
  plc.set('PumpStation1', 'TankLevel', 80);
  plc.set('PumpStation1', 'Pressure', 3.25);

  // A peer that accepts TCP and never answers (a hung PLC or a wrong port behind a firewall).
  hangPort = await freePort();
  const sockets = new Set<Socket>();
  const hang: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => hang.listen(hangPort, '127.0.0.1', () => r()));
  cleanup.add('hanging peer', () => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    hang.close(() => r());
  }));

  // A TCP relay to the PLC that can freeze: sockets stay open, nothing passes (a
  // radio link or a switch port that hangs without closing the connection).
  const relayPort = await freePort();
  proxy = { port: relayPort, frozen: false };
  const relaySockets = new Set<Socket>();
  const relay: Server = createServer((inbound) => {
    const outbound = connect({ host: '127.0.0.1', port: plc.port });
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
      relaySockets.add(from);
      from.on('data', (d: Buffer) => {
        if (!proxy.frozen) to.write(d);
      });
      from.on('error', () => to.destroy());
      from.on('close', () => {
        relaySockets.delete(from);
        to.destroy();
      });
    }
  });
  await new Promise<void>((r) => relay.listen(relayPort, '127.0.0.1', () => r()));
  cleanup.add('relay', () => new Promise<void>((r) => {
    for (const s of relaySockets) s.destroy();
    relay.close(() => r());
  }));

  const mem = memoryLogger('debug');
  logs = mem.lines;
  t = await startTestGateway(
    (s) => ({
      ...s,
      health: { missedHeartbeats: 2, kinds: {} },
      devices: [
        ...(s.devices ?? []),
        irrigationDevice('tuoi-01'),
        irrigationDevice('tuoi-02'),
        irrigationDevice('tuoi-03'),
        irrigationDevice('tuoi-04'),
        irrigationDevice('tuoi-05'),
        irrigationDevice('tuoi-06'),
      ],
    }),
    { logger: mem.log },
    join(dir, 'gw'),
  );
  cleanup.add('gateway', () => t.close());

  station = (deviceId: string, name: string) => STATION_TAGS.map(([field, tag]) => ({ device: deviceId, field, nodeId: plc.nodeId(name, tag) }));
  const settings = OpcuaSchema.parse({
    servers: [
      { id: 'plc-anon', endpoint: plc.endpointUrl, ...FAST, items: [
        ...station('tuoi-01', 'PumpStation1'),
        // Station 2: pressure on a node that does not exist; tank level by namespace URI.
        ...station('tuoi-02', 'PumpStation2').map((i) =>
          i.field === 'pressure_bar' ? { ...i, nodeId: 'ns=3;s="PumpStation2"."Nope"' } : i.field === 'tank_level_pct' ? { ...i, nodeId: plc.expandedNodeId('PumpStation2', 'TankLevel') } : i,
        ),
      ] },
      {
        id: 'plc-secure', endpoint: plc.endpointUrl, ...FAST,
        securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256', trustServerCertificate: 'auto',
        auth: { type: 'username', username: USER, passwordEnv: PASSWORD_ENV },
        items: station('tuoi-03', 'PumpStation3'),
      },
      {
        id: 'plc-wrong-password', endpoint: plc.endpointUrl, ...FAST,
        auth: { type: 'username', username: USER, passwordEnv: WRONG_PASSWORD_ENV },
        items: station('tuoi-04', 'PumpStation3').slice(0, 2),
      },
      { id: 'plc-relay', endpoint: `opc.tcp://127.0.0.1:${relayPort}/irrigation`, ...FAST, publishingIntervalMs: 1000, items: station('tuoi-06', 'PumpStation1').slice(3, 4) },
      { id: 'plc-hung', endpoint: `opc.tcp://127.0.0.1:${hangPort}/irrigation`, ...FAST, connectTimeoutMs: 1000, items: station('tuoi-05', 'PumpStation1').slice(0, 1) },
    ],
  });
  source = new OpcuaSource(settings);
  const t0 = Date.now();
  await source.start(t.gw.ctx);
  // start must not wait for any peer (one of them hangs).
  expect(Date.now() - t0).toBeLessThan(1000);
  cleanup.add('opcua source', () => source.stop());
}, 60_000);

afterAll(async () => {
  vi.restoreAllMocks();
  // For diagnosing a failure: CE_DUMP_LOGS=/tmp/opcua.jsonl keeps the gateway log of the run.
  if (process.env['CE_DUMP_LOGS']) writeFileSync(process.env['CE_DUMP_LOGS'], logs.map((l) => JSON.stringify(l)).join('\n'));
  await cleanup.run();
});

describe('OPC UA client against the irrigation PLC simulator', () => {
  it('delivers the PLC values to the health tracker, the store and the API', async () => {
    await waitFor('tuoi-01 UP with all its fields', () => device('tuoi-01').state === 'UP' && fields('tuoi-01')['flow_l_min'] === 512.5, 20_000);
    expect(fields('tuoi-01')).toMatchObject({
      plc_online: true,
      pump_running: true,
      pump_fault: false,
      valve_open: true,
      flow_l_min: 512.5,
      tank_level_pct: 80,
      pressure_bar: 3.25,
    });
    const res = await t.get('/api/devices/tuoi-01', 'viewer');
    expect(res.status).toBe(200);
    expect(res.json.state).toBe('UP');
    expect(res.json.lastReading.fields).toMatchObject({ pump_running: true, flow_l_min: 512.5, plc_online: true });

    // A change on the PLC reaches the gateway; two tags changed together arrive in ONE reading.
    const before = t.gw.ctx.store.maxId('readings');
    plc.set('PumpStation1', 'Flow', 432.5);
    plc.set('PumpStation1', 'Pressure', 2.75);
    await waitFor('the new flow', () => fields('tuoi-01')['flow_l_min'] === 432.5 && fields('tuoi-01')['pressure_bar'] === 2.75, 10_000);
    await t.gw.ctx.store.flush();
    const rows = t.gw.ctx.store.spoolRows('readings', before, 1000).filter((r) => r.reading?.deviceId === 'tuoi-01');
    const both = rows.find((r) => r.reading!.fields['flow_l_min'] === 432.5);
    expect(both, JSON.stringify(rows.map((r) => r.reading!.fields))).toBeDefined();
    expect(both!.reading!.fields).toMatchObject({ flow_l_min: 432.5, pressure_bar: 2.75, plc_online: true });
    // A fresh change carries the PLC's SourceTimestamp.
    expect(both!.reading!.tsSource).toBe('device');
    expect(Math.abs(both!.reading!.ts - Date.now())).toBeLessThan(10_000);

    // A pump trip on the PLC: the kind's rule makes it DOWN (pump-fault).
    plc.set('PumpStation1', 'Pump.Running', false);
    plc.set('PumpStation1', 'Pump.Fault', true);
    await waitFor('tuoi-01 DOWN pump-fault', () => device('tuoi-01').state === 'DOWN' && device('tuoi-01').reason === 'pump-fault', 10_000);
    plc.set('PumpStation1', 'Pump.Fault', false);
    plc.set('PumpStation1', 'Pump.Running', true);
    await waitFor('tuoi-01 UP again', () => device('tuoi-01').state === 'UP', 10_000);
    expect(metric(await metricsText(), 'ce_messages_received_total{transport="opcua"}')).toBeGreaterThan(0);
  });

  it('reports a bad node id by name at start, and the other items keep flowing', async () => {
    await waitFor('tuoi-02 values', () => fields('tuoi-02')['flow_l_min'] !== undefined && fields('tuoi-02')['tank_level_pct'] !== undefined, 20_000);
    // The nsu= item was resolved through the server's NamespaceArray.
    expect(fields('tuoi-02')['tank_level_pct']).toBe(plc.get('PumpStation2', 'TankLevel'));
    expect(fields('tuoi-02')['flow_l_min']).toBe(plc.get('PumpStation2', 'Flow'));
    expect(fields('tuoi-02')['pressure_bar']).toBeUndefined();
    expect(device('tuoi-02')).toMatchObject({ state: 'DEGRADED', reason: 'opcua-node-rejected' });

    const line = logs.find((l) => l['code'] === 'CE_OPCUA_NODE_REJECTED');
    expect(line).toMatchObject({ device: 'tuoi-02', field: 'pressure_bar', nodeId: 'ns=3;s="PumpStation2"."Nope"', status: 'BadNodeIdUnknown', server: 'plc-anon' });
    expect(logs.filter((l) => l['code'] === 'CE_OPCUA_NODE_REJECTED' && l['server'] === 'plc-anon')).toHaveLength(1);
    const status = source.status();
    expect(status.name).toBe('opcua');
    expect(status.detail).toContain('plc-anon: connected, 11/12 items monitored (rejected: tuoi-02.pressure_bar ns=3;s="PumpStation2"."Nope")');
    const m = await metricsText();
    expect(metric(m, 'ce_opcua_items{server="plc-anon",state="rejected"}')).toBe(1);
    expect(metric(m, 'ce_opcua_items{server="plc-anon",state="monitored"}')).toBe(11);
  });

  it('leaves out a value with a Bad status, counts it, and recovers with the next good value', async () => {
    plc.setStatus('PumpStation1', 'TankLevel', 'BadSensorFailure');
    await waitFor('tuoi-01 DEGRADED opcua-bad-value', () => device('tuoi-01').reason === 'opcua-bad-value', 10_000);
    expect(device('tuoi-01').state).toBe('DEGRADED');
    expect(metric(await metricsText(), 'ce_opcua_values_dropped_total{server="plc-anon",reason="bad"}')).toBeGreaterThanOrEqual(1);
    const line = logs.find((l) => l['code'] === 'CE_OPCUA_BAD_VALUE');
    expect(line).toMatchObject({ device: 'tuoi-01', field: 'tank_level_pct', reason: 'bad', detail: 'BadSensorFailure' });

    plc.setStatus('PumpStation1', 'TankLevel', 'UncertainLastUsableValue');
    await waitFor('an uncertain value counted', async () => metric(await metricsText(), 'ce_opcua_values_dropped_total{server="plc-anon",reason="uncertain"}') >= 1, 10_000);
    expect(device('tuoi-01').reason).toBe('opcua-bad-value');

    plc.set('PumpStation1', 'TankLevel', 61.5);
    await waitFor('tuoi-01 UP with the new level', () => device('tuoi-01').state === 'UP' && fields('tuoi-01')['tank_level_pct'] === 61.5, 10_000);
  });

  it('keeps a device with steady values UP past its heartbeat timeout', async () => {
    const d = t.gw.ctx.inventory.devices.get('tuoi-01')!;
    expect(d.timeoutMs).toBe(4000); // heartbeatS 2 × missedHeartbeats 2
    const before = t.gw.ctx.store.maxId('readings');
    const until = Date.now() + d.timeoutMs * 2;
    while (Date.now() < until) {
      expect(device('tuoi-01').state).toBe('UP');
      await sleep(200);
    }
    await t.gw.ctx.store.flush();
    const keepAlives = t.gw.ctx.store.spoolRows('readings', before, 1000).filter((r) => r.reading?.deviceId === 'tuoi-01');
    // Nothing changed on the PLC: only keep-alives, one per heartbeat (2 s) over 8 s.
    expect(keepAlives.length).toBeGreaterThanOrEqual(3);
    expect(keepAlives.length).toBeLessThanOrEqual(6);
    expect(keepAlives.at(-1)!.reading!.fields).toMatchObject({ plc_online: true, flow_l_min: 432.5, tank_level_pct: 61.5 });
    // Keep-alives are stamped by the gateway: the values did not change at that time.
    expect(keepAlives.every((r) => r.reading!.tsSource === 'gateway')).toBe(true);
  });

  it('authenticates with a user name over SignAndEncrypt, and pins the server certificate', async () => {
    await waitFor('tuoi-03 UP', () => device('tuoi-03').state === 'UP' && fields('tuoi-03')['flow_l_min'] !== undefined, 20_000);
    expect(fields('tuoi-03')['flow_l_min']).toBe(plc.get('PumpStation3', 'Flow'));
    expect(source.status().detail).toContain('plc-secure: connected, 6/6 items monitored');
    expect(existsSync(join(dir, 'gw', 'opcua-pki', 'pinned', 'plc-secure.sha256'))).toBe(true);
    expect(existsSync(join(dir, 'gw', 'opcua-pki', 'own', 'certs'))).toBe(true);
  });

  it('gives a wrong password a coded error, retries it, and never crashes', async () => {
    await waitFor('two failed attempts', async () => metric(await metricsText(), 'ce_opcua_connect_failures_total{server="plc-wrong-password",code="CE_OPCUA_AUTH"}') >= 2, 20_000);
    expect(source.status().detail).toMatch(/plc-wrong-password: CE_OPCUA_AUTH .*BadUserAccessDenied/);
    expect(device('tuoi-04')).toMatchObject({ state: 'DOWN', reason: 'plc-offline' });
    // One warn line for the streak, the retries at debug.
    const warns = logs.filter((l) => l['server'] === 'plc-wrong-password' && l['code'] === 'CE_OPCUA_AUTH' && l.level === 40);
    expect(warns).toHaveLength(1);
    expect(JSON.stringify(logs)).not.toContain('not-the-password');
    expect(JSON.stringify(logs)).not.toContain(PASSWORD);
  });

  it('times out a peer that accepts TCP and never answers, with a coded error', async () => {
    await waitFor('the hung peer reported', () => /plc-hung: CE_OPCUA_CONNECT .*took longer than 1000 ms/.test(source.status().detail ?? ''), 20_000);
    await waitFor('tuoi-05 DOWN plc-offline', () => device('tuoi-05').state === 'DOWN' && device('tuoi-05').reason === 'plc-offline', 5000);
  });

  it('detects a frozen link (socket open, nothing passes) by the missing keep-alives, and recovers', async () => {
    await waitFor('tuoi-06 UP through the relay', () => device('tuoi-06').state === 'UP' && fields('tuoi-06')['flow_l_min'] !== undefined, 20_000);
    const frozenAt = Date.now();
    proxy.frozen = true;
    // Keep-alive every ~5 s (publishing 1 s × maxKeepAliveCount 5); three missing = lost.
    await waitFor('tuoi-06 DOWN plc-offline', () => device('tuoi-06').reason === 'plc-offline', 30_000);
    const detectedAfter = Date.now() - frozenAt;
    expect(detectedAfter).toBeGreaterThan(4000);
    expect(device('tuoi-06').state).toBe('DOWN');
    // Found by the watchdog, not by the socket (which stays open).
    expect(logs.find((l) => l['code'] === 'CE_OPCUA_SESSION_LOST' && l['server'] === 'plc-relay')?.['detail']).toMatch(/^no publish response or keep-alive for 1\d s$/);
    // The other servers are not disturbed.
    expect(device('tuoi-01').state).toBe('UP');
    proxy.frozen = false;
    await waitFor('tuoi-06 UP again', () => device('tuoi-06').state === 'UP', 20_000);
  });

  it('trusts only the PKI folder with trustServerCertificate pki, and sees a certificate the officer moved there', async () => {
    // Its own gateway and PKI folder: the auto-trust servers above already trust this PLC.
    const t2 = await startTestGateway((s) => ({ ...s, devices: [...(s.devices ?? []), irrigationDevice('tuoi-07')] }), {}, join(dir, 'gw2'));
    const pkiDir = join(dir, 'gw2-pki');
    const src = new OpcuaSource(
      OpcuaSchema.parse({
        pkiDir,
        servers: [{ id: 'plc-pki', endpoint: plc.endpointUrl, ...FAST, securityMode: 'Sign', securityPolicy: 'Basic256Sha256', trustServerCertificate: 'pki', items: station('tuoi-07', 'PumpStation1').slice(0, 2) }],
      }),
    );
    await src.start(t2.gw.ctx);
    try {
      await waitFor('the untrusted certificate refused', () => /plc-pki: CE_OPCUA_SECURITY .*BadCertificateUntrusted/.test(src.status().detail ?? ''), 20_000);
      // The submission of plc_online false is committed just after the status is set.
      await waitFor('tuoi-07 DOWN plc-offline', () => t2.gw.ctx.health.get('tuoi-07')?.reason === 'plc-offline', 5000);
      expect(t2.gw.ctx.health.get('tuoi-07')!.state).toBe('DOWN');
      const rejected = readdirSync(join(pkiDir, 'rejected')).filter((f) => f.endsWith('.pem'));
      expect(rejected).toHaveLength(1);
      // What the officer does after checking the thumbprint with the PLC's display/TIA Portal.
      renameSync(join(pkiDir, 'rejected', rejected[0]!), join(pkiDir, 'trusted', 'certs', rejected[0]!));
      await waitFor('tuoi-07 UP without a restart', () => t2.gw.ctx.health.get('tuoi-07')?.state === 'UP', 20_000);
      expect(src.status()).toMatchObject({ connected: true });
    } finally {
      await src.stop();
      await t2.close();
    }
  });

  it('marks the devices DOWN when the PLC stops, and resubscribes when it is back on the same port', async () => {
    const port = plc.port;
    await plc.stop();
    await waitFor('tuoi-01 DOWN plc-offline', () => device('tuoi-01').state === 'DOWN' && device('tuoi-01').reason === 'plc-offline', 10_000);
    await waitFor('tuoi-03 DOWN plc-offline', () => device('tuoi-03').reason === 'plc-offline', 10_000);
    expect(fields('tuoi-01')['plc_online']).toBe(false);
    expect(source.status().connected).toBe(false);
    expect(source.status().detail).toMatch(/plc-anon: CE_OPCUA_(SESSION_LOST|CONNECT)/);
    expect(logs.some((l) => l['code'] === 'CE_OPCUA_SESSION_LOST' && l['server'] === 'plc-anon')).toBe(true);
    // While it is down, the values of the PLC change (someone works on the station).
    plc.set('PumpStation1', 'Flow', 777.5);
    // ... and, for the secure server, the certificate pinned at first use no longer matches.
    const pin = join(dir, 'gw', 'opcua-pki', 'pinned', 'plc-secure.sha256');
    writeFileSync(pin, `${'0'.repeat(64)}\n`);
    await sleep(1500);
    expect(device('tuoi-01').state).toBe('DOWN');

    await plc.start();
    expect(plc.port).toBe(port);
    await waitFor('tuoi-01 UP again with the value changed during the outage', () => device('tuoi-01').state === 'UP' && fields('tuoi-01')['flow_l_min'] === 777.5, 20_000);
    expect(fields('tuoi-01')['plc_online']).toBe(true);
    // Trust on first use: a different server certificate is refused until the pin is removed.
    await waitFor('the changed certificate refused', () => /plc-secure: CE_OPCUA_SECURITY server certificate changed/.test(source.status().detail ?? ''), 20_000);
    expect(device('tuoi-03')).toMatchObject({ state: 'DOWN', reason: 'plc-offline' });
    unlinkSync(pin);
    await waitFor('tuoi-03 (secure, user name) UP again', () => device('tuoi-03').state === 'UP', 20_000);
    expect(readFileSync(pin, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    // The subscription is live again: a new change flows.
    plc.set('PumpStation1', 'Flow', 250);
    await waitFor('a change after the restart', () => fields('tuoi-01')['flow_l_min'] === 250, 10_000);
    // The bad node is reported again for the new session, by name.
    expect(logs.filter((l) => l['code'] === 'CE_OPCUA_NODE_REJECTED' && l['server'] === 'plc-anon').length).toBe(2);
    const m = await metricsText();
    expect(metric(m, 'ce_opcua_sessions_lost_total{server="plc-anon"}')).toBeGreaterThanOrEqual(1);
    expect(metric(m, 'ce_opcua_connected{server="plc-anon"}')).toBe(1);
    const transitions = (await t.get('/api/devices/tuoi-01?transitions=20', 'viewer')).json.transitions as { to: string; reason: string }[];
    expect(transitions.some((x) => x.to === 'DOWN' && x.reason === 'plc-offline')).toBe(true);
  });

  it('stops promptly even with the PLC down and a connect hanging', async () => {
    await plc.stop();
    await waitFor('tuoi-01 DOWN', () => device('tuoi-01').state === 'DOWN', 10_000);
    const t0 = Date.now();
    await source.stop();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(source.status().connected).toBe(false);
  });

  it('kept node-opcua off the console', () => {
    const leaked = consoleLines.filter((l) => /NODE-OPCUA|node-opcua|verify_pcks1|\bW27\b/i.test(l));
    expect(leaked).toStrictEqual([]);
    // ... and routed it to the gateway log at debug level instead.
    expect(logs.some((l) => l['component'] === 'node-opcua' && l.level === 20)).toBe(true);
  });
});

describe('irrigation PLC simulator (simulate: true)', () => {
  it('moves its tags with the kind simulator and shows faults, on its own port', async () => {
    const sim = await startIrrigationController({ pkiDir: join(dir, 'sim-pki'), updateIntervalMs: 50, speed: 600, stations: [{ name: 'Tram1' }] });
    try {
      expect(sim.endpointUrl).toMatch(/^opc\.tcp:\/\/127\.0\.0\.1:\d+\/irrigation$/);
      expect(sim.nodeId('Tram1', 'Pump.Running')).toBe('ns=3;s="Tram1"."Pump"."Running"');
      const level0 = sim.get('Tram1', 'TankLevel');
      // 600× speed: 10 simulated minutes per second.
      await waitFor('the tank level to move', () => sim.get('Tram1', 'TankLevel') !== level0, 5000);
      sim.setFault('Tram1', 'power');
      await waitFor('the pump to trip on mains loss', () => sim.get('Tram1', 'Pump.Fault') === true && sim.get('Tram1', 'Pump.Running') === false, 5000);
      expect(sim.get('Tram1', 'Flow')).toBe(0);
    } finally {
      await sim.stop();
    }
    expect(sim.running).toBe(false);
  });
});
