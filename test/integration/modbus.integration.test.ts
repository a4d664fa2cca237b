/**
 * Serial Modbus RTU against a real peer: socat makes a pty pair (the USB-RS485
 * adapter and its bus); the soil-probe slave simulator (devices/soil_probe/
 * modbus-slave.ts) answers three unit ids on one end; the real gateway
 * (buildGateway) with a ModbusSource polls the other end through modbus-serial and
 * serialport. Faults are switched at run time: a silent slave, bad CRCs, noise,
 * exceptions, and the pty vanishing (socat killed) and coming back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSoilProbeBus, type SoilProbeBus } from '../../devices/soil_probe/modbus-slave.js';
import { ModbusSource } from '../../gateway/inputs/modbus/source.js';
import type { SettingsInput } from '../../gateway/settings/schema.js';
import { metric, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Cleanup, removeDir, sleep, tempDir, waitFor } from './helpers.js';
import { PtyPair } from './serial-pty.js';

const POLL_S = 0.5;
const TIMEOUT_MS = 150;

const PINNED_CWT = { moisture_pct: 27.4, soil_temp_c: -3.5, ec_us_cm: 640, ph: 5.8, nitrogen_mg_kg: 42, phosphorus_mg_kg: 17, potassium_mg_kg: 180 };
// The SenseCAP manual's own examples (§5.3): 0xFF05 = -2.51 °C, 0x071D = 18.21 % VWC and 1821 µS/cm.
const PINNED_SENSECAP = { soil_temp_c: -2.51, moisture_pct: 18.21, ec_us_cm: 1821 };
const PINNED_CWT_3 = { moisture_pct: 35, soil_temp_c: 29.1, ec_us_cm: 812, ph: 6.4, nitrogen_mg_kg: 95, phosphorus_mg_kg: 33, potassium_mg_kg: 240 };

function withModbus(port: string) {
  return (s: SettingsInput): SettingsInput => ({
    ...s,
    devices: [
      ...(s.devices ?? []),
      { id: 'dat-01', name: 'Cảm biến 7-in-1 ruộng A', kind: 'soil_probe', hamlet: 'ap-01', role: 'farm' },
      { id: 'dat-02', name: 'Cảm biến SenseCAP ruộng B', kind: 'soil_probe', hamlet: 'ap-01', role: 'farm' },
      { id: 'dat-03', name: 'Cảm biến 7-in-1 ruộng C', kind: 'soil_probe', hamlet: 'ap-02', role: 'farm' },
    ],
    modbus: {
      buses: [
        {
          id: 'farm-1',
          port,
          baudRate: 9600,
          timeoutMs: TIMEOUT_MS,
          reopenMinMs: 200,
          reopenMaxMs: 1000,
          backoffMaxFactor: 8,
          slaves: [
            { device: 'dat-01', unitId: 1, map: 'cwt-7in1', pollS: POLL_S },
            { device: 'dat-02', unitId: 2, map: 'sensecap-3in1', pollS: POLL_S },
            { device: 'dat-03', unitId: 3, map: 'cwt-7in1', pollS: POLL_S },
          ],
        },
      ],
    },
  });
}

describe('serial Modbus RTU over a socat pty pair', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let pty: PtyPair;
  let bus: SoilProbeBus;
  let t: TestGateway;
  let source: ModbusSource;

  const slave = (device: string) => source.snapshot()[0]!.slaves.find((s) => s.device === device)!;
  const health = (device: string) => t.gw.ctx.health.get(device)!;
  const metrics = () => t.gw.ctx.metrics.registry.metrics();
  const requests = async (unit: number, device: string, result: string) =>
    metric(await metrics(), `ce_modbus_requests_total{bus="farm-1",slave="${unit}",device="${device}",result="${result}"}`);
  const readingsOf = (device: string) =>
    t.gw.ctx.store
      .spoolRows('readings', 0, 1_000_000)
      .filter((r) => r.reading?.deviceId === device)
      .map((r) => r.reading!);

  beforeAll(async () => {
    dir = tempDir('modbus');
    cleanup.add('temp dir', () => removeDir(dir));
    pty = new PtyPair(dir);
    await pty.start();
    cleanup.add('socat', () => pty.stop());
    bus = await startSoilProbeBus({
      path: pty.devPath,
      slaves: [
        { unitId: 1, map: 'cwt-7in1' },
        { unitId: 2, map: 'sensecap-3in1' },
        { unitId: 3, map: 'cwt-7in1' },
      ],
    });
    cleanup.add('slave bus', () => bus.close());
    bus.setValues(1, PINNED_CWT);
    bus.setValues(2, PINNED_SENSECAP);
    // buildGateway loads and starts the Modbus source because `modbus:` is configured.
    t = await startTestGateway(withModbus(pty.gwPath));
    cleanup.add('gateway', () => t.close());
    source = t.gw.sources.find((x): x is ModbusSource => x instanceof ModbusSource)!;
    expect(source, 'the gateway wired the Modbus source').toBeDefined();
  });

  afterAll(() => cleanup.run());

  it('decodes each map into canonical fields, stored and judged like any reading', async () => {
    await waitFor('readings from dat-01 and dat-02', () => health('dat-01').lastReading && health('dat-02').lastReading, 5000);
    expect(health('dat-01').lastReading!.fields).toStrictEqual(PINNED_CWT);
    expect(health('dat-02').lastReading!.fields).toStrictEqual(PINNED_SENSECAP);
    expect(health('dat-01').state).toBe('UP');
    // dat-03 drifts (not pinned): what the gateway stored is what the registers carried.
    await waitFor('a reading from dat-03', () => health('dat-03').lastReading, 5000);
    const stored = readingsOf('dat-03');
    expect(stored.length).toBeGreaterThan(0);
    expect(Object.keys(stored[0]!.fields).sort()).toStrictEqual(Object.keys(PINNED_CWT).sort());

    const res = await t.get('/api/devices/dat-02', 'viewer');
    expect(res.status).toBe(200);
    expect(res.json.state).toBe('UP');
    expect(res.json.lastReading.fields).toStrictEqual(PINNED_SENSECAP);
    expect(res.json.lastReading.quality).toBe('good');

    const status = source.status();
    expect(status.connected).toBe(true);
    expect(status.detail).toMatch(/^bus farm-1 \(.*ttyGW\): open, 3\/3 slaves answering$/);
    expect(await requests(1, 'dat-01', 'ok')).toBeGreaterThan(0);
    expect(metric(await metrics(), 'ce_messages_received_total{transport="modbus"}')).toBeGreaterThan(2);
  });

  it('a silent slave ends DOWN while the other two keep their poll rate (at most one cycle lost)', async () => {
    bus.setFault(3, 'silent');
    await waitFor('dat-03 DOWN', () => health('dat-03').state === 'DOWN', 10_000);
    expect(health('dat-03').reason).toBe('modbus-no-answer');
    expect(await requests(3, 'dat-03', 'timeout')).toBeGreaterThanOrEqual(3);

    const WINDOW_S = 6;
    const before = { a: slave('dat-01').okPolls, b: slave('dat-02').okPolls, dead: bus.stats(3).requests };
    await sleep(WINDOW_S * 1000);
    const got = { a: slave('dat-01').okPolls - before.a, b: slave('dat-02').okPolls - before.b, dead: bus.stats(3).requests - before.dead };
    const expected = WINDOW_S / POLL_S; // 12
    expect(got.a, 'dat-01 polls in the window').toBeGreaterThanOrEqual(expected - 1);
    expect(got.b, 'dat-02 polls in the window').toBeGreaterThanOrEqual(expected - 1);
    expect(got.a).toBeLessThanOrEqual(expected + 1);
    // Backed off: the dead slave is asked far less often than every poll (intervals 2, 4, 4 s).
    expect(got.dead, 'requests to the silent slave').toBeLessThanOrEqual(4);
    expect(slave('dat-03').intervalS).toBeGreaterThan(POLL_S);
    expect(source.status().detail).toContain('2/3 slaves answering (dat-03: timeout)');

    // The first good answer brings it back to UP and to its normal interval.
    bus.setFault(3, 'none');
    bus.setValues(3, PINNED_CWT_3);
    await waitFor('dat-03 back UP', () => health('dat-03').state === 'UP', 10_000);
    expect(health('dat-03').lastReading!.fields).toStrictEqual(PINNED_CWT_3);
    expect(slave('dat-03').intervalS).toBe(POLL_S);
  });

  it('bad CRCs are counted per slave and nothing from them is stored; the others are unaffected', async () => {
    bus.setFault(2, 'bad-crc');
    const crcBefore = await requests(2, 'dat-02', 'crc');
    await waitFor('a first CRC error from unit 2', async () => (await requests(2, 'dat-02', 'crc')) > crcBefore, 5000);
    const stored = readingsOf('dat-02').length;
    const othersBefore = readingsOf('dat-01').length;
    await waitFor('three more CRC errors', async () => (await requests(2, 'dat-02', 'crc')) >= crcBefore + 4, 10_000);
    await sleep(300); // let a commit in flight land
    expect(readingsOf('dat-02').length, 'no reading from a bad-CRC answer').toBe(stored);
    expect(readingsOf('dat-01').length).toBeGreaterThan(othersBefore);
    expect(metric(await metrics(), 'ce_messages_rejected_total{reason="CE_MODBUS_CRC"}')).toBeGreaterThanOrEqual(4);
    const rejects = await t.get('/api/rejects', 'officer');
    expect(JSON.stringify(rejects.json)).toContain('CE_MODBUS_CRC');
    expect(health('dat-02').state).toBe('DOWN');

    bus.setFault(2, 'none');
    await waitFor('dat-02 back UP', () => health('dat-02').state === 'UP', 10_000);
    expect(health('dat-02').lastReading!.fields).toStrictEqual(PINNED_SENSECAP);
  });

  it('noise on the line is counted, never crashes, and never shifts the other slaves\' frames', async () => {
    bus.setFault(1, 'noise');
    const before = { b: readingsOf('dat-02').length, c: readingsOf('dat-03').length };
    await waitFor('garbled answers from unit 1', async () => (await requests(1, 'dat-01', 'garbled')) >= 3, 15_000);
    await sleep(1000);
    const after2 = readingsOf('dat-02');
    const after3 = readingsOf('dat-03');
    expect(after2.length).toBeGreaterThan(before.b + 2);
    expect(after3.length).toBeGreaterThan(before.c + 2);
    // Every reading stored while the noise went on decodes to exactly the served values.
    for (const r of after2.slice(before.b)) expect(r.fields).toStrictEqual(PINNED_SENSECAP);
    for (const r of after3.slice(before.c)) expect(r.fields).toStrictEqual(PINNED_CWT_3);
    expect(metric(await metrics(), 'ce_messages_rejected_total{reason="CE_MODBUS_FRAME"}')).toBeGreaterThan(0);

    bus.setFault(1, 'exception');
    await waitFor('an exception answer from unit 1', async () => (await requests(1, 'dat-01', 'exception')) >= 1, 10_000);
    expect(metric(await metrics(), 'ce_messages_rejected_total{reason="CE_MODBUS_EXCEPTION"}')).toBeGreaterThan(0);

    bus.setFault(1, 'none');
    await waitFor('dat-01 back UP', () => health('dat-01').state === 'UP' && slave('dat-01').consecutiveFailures === 0, 10_000);
  });

  it('the pty vanishing marks the bus disconnected; it reopens by itself and readings resume', async () => {
    const runBefore = t.gw.ctx.runId;
    await bus.close();
    await pty.stop();
    await waitFor('bus disconnected', () => !source.status().connected, 5000);
    expect(source.status().detail).toMatch(/^bus farm-1 \(.*\): disconnected/);
    expect(metric(await metrics(), 'ce_modbus_bus_open{bus="farm-1"}')).toBe(0);
    // Reopen attempts fail (ENOENT) and are retried with backoff while the adapter is away.
    await waitFor('failed reopen attempts', async () => metric(await metrics(), 'ce_modbus_port_opens_total{bus="farm-1",result="failed"}') >= 2, 10_000);
    await waitFor('all three DOWN while the bus is away', () => ['dat-01', 'dat-02', 'dat-03'].every((d) => health(d).state === 'DOWN'), 15_000);

    // Plugged back in: same link paths, new ptys, a new slave simulator with new values.
    const since = Date.now();
    await pty.start();
    bus = await startSoilProbeBus({
      path: pty.devPath,
      slaves: [
        { unitId: 1, map: 'cwt-7in1' },
        { unitId: 2, map: 'sensecap-3in1' },
        { unitId: 3, map: 'cwt-7in1' },
      ],
    });
    const fresh = { moisture_pct: 44.4, soil_temp_c: 25.2, ec_us_cm: 990, ph: 7.1, nitrogen_mg_kg: 61, phosphorus_mg_kg: 20, potassium_mg_kg: 150 };
    bus.setValues(1, fresh);
    await waitFor('bus open again', () => source.status().connected, 10_000);
    await waitFor(
      'fresh readings from all three slaves',
      () => ['dat-01', 'dat-02', 'dat-03'].every((d) => (health(d).lastReading?.receivedAt ?? 0) >= since && health(d).state === 'UP'),
      10_000,
    );
    expect(health('dat-01').lastReading!.fields).toStrictEqual(fresh);
    expect(source.snapshot()[0]!.opens).toBe(2);
    expect(t.gw.ctx.runId, 'same gateway run').toBe(runBefore);
    expect(source.status().detail).toContain('open, 3/3 slaves answering');
  });
});
