/**
 * The field transports wired end to end: `commune-edge simulate-peers` (a child
 * process) runs an OPC UA irrigation PLC, an RTSP camera and RS-485 soil probes on
 * one end of a socat pty pair; the real gateway (buildGateway) is configured with
 * `modbus:`, `opcua:` and `probes:` only — no test seams, no hand-started sources —
 * and its API shows every device UP with the values each transport decoded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SettingsInput } from '../../gateway/settings/schema.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Child, Cleanup, freePort, MAIN_JS, tempDir, waitFor, removeDir } from './helpers.js';
import { PtyPair } from './serial-pty.js';

describe('field transports wired into the gateway, against simulate-peers', () => {
  const cleanup = new Cleanup();
  let t: TestGateway;
  let peers: Child;

  beforeAll(async () => {
    const dir = tempDir('ce-field-');
    cleanup.add('temp dir', () => removeDir(dir));
    const pty = new PtyPair(dir);
    await pty.start();
    cleanup.add('socat', () => pty.stop());
    const [opcuaPort, rtspPort] = [await freePort(), await freePort()];
    peers = new Child('simulate-peers', process.execPath, [
      MAIN_JS, 'simulate-peers', '--opcua-port', String(opcuaPort), '--rtsp-port', String(rtspPort), '--modbus-path', pty.devPath,
    ]);
    cleanup.add('simulate-peers', () => peers.stop());
    await waitFor('simulate-peers ready', () => peers.stdout.includes('Modbus RTU soil probes on') && peers.stdout.includes('OPC UA irrigation controller'), 60_000);
    const nodeId = (tag: string) => {
      const m = new RegExp(`PumpStation1: .*?${tag.replace('.', '\\.')} = ([^,\\n]+)`).exec(peers.stdout);
      if (!m) throw new Error(`no node id for ${tag} in: ${peers.stdout}`);
      return m[1]!.trim();
    };

    const field = (s: SettingsInput): SettingsInput => ({
      ...s,
      devices: [
        ...(s.devices ?? []),
        { id: 'dat-01', name: 'Cảm biến đất 1', kind: 'soil_probe', hamlet: 'ap-02', role: 'farm' },
        { id: 'dat-02', name: 'Cảm biến đất 2', kind: 'soil_probe', hamlet: 'ap-02', role: 'farm' },
        { id: 'tram-bom-1', name: 'Trạm bơm 1', kind: 'irrigation', hamlet: 'ap-02', role: 'pump_station' },
        { id: 'cam-rtsp', name: 'Camera một cửa (RTSP)', kind: 'camera', hamlet: 'ap-01', role: 'onestop' },
      ],
      modbus: {
        buses: [{ id: 'farm-1', port: pty.gwPath, slaves: [
          { device: 'dat-01', unitId: 1, map: 'cwt-7in1', pollS: 1 },
          { device: 'dat-02', unitId: 2, map: 'sensecap-3in1', pollS: 1 },
        ] }],
      },
      opcua: {
        pkiDir: `${dir}/pki`,
        servers: [{
          id: 'plc-1',
          endpoint: `opc.tcp://127.0.0.1:${opcuaPort}/irrigation`,
          items: [
            { device: 'tram-bom-1', field: 'pump_running', nodeId: nodeId('Pump.Running') },
            { device: 'tram-bom-1', field: 'flow_l_min', nodeId: nodeId('Flow') },
            { device: 'tram-bom-1', field: 'tank_level_pct', nodeId: nodeId('TankLevel') },
          ],
        }],
      },
      probes: {
        defaults: { intervalS: 2, timeoutMs: 1500 },
        targets: [{ type: 'rtsp', device: 'cam-rtsp', url: `rtsp://127.0.0.1:${rtspPort}/Streaming/Channels/101` }],
      },
    });
    t = await startTestGateway(field, {}, tempDir('ce-field-gw-'));
    cleanup.add('gateway', async () => {
      await t.close();
      removeDir(t.dir);
    });
  }, 120_000);

  afterAll(() => cleanup.run());

  it('loads the three transports because they are configured', () => {
    expect(t.gw.sources.map((s) => s.name).sort()).toEqual(['modbus', 'mqtt-embedded', 'opcua', 'probes'].sort());
  });

  it('shows every field device UP with what its transport decoded', async () => {
    const device = async (id: string) => (await t.get(`/api/devices/${id}`)).json;
    for (const id of ['dat-01', 'dat-02', 'tram-bom-1', 'cam-rtsp']) {
      await waitFor(`${id} UP`, async () => ['UP', 'DEGRADED'].includes((await device(id)).state), 60_000, 250);
    }
    const soil = await device('dat-01');
    expect(soil.lastReading.fields).toEqual(expect.objectContaining({ moisture_pct: expect.any(Number), soil_temp_c: expect.any(Number), ph: expect.any(Number), nitrogen_mg_kg: expect.any(Number) }));
    expect((await device('dat-02')).lastReading.fields).toEqual(expect.objectContaining({ moisture_pct: expect.any(Number), ec_us_cm: expect.any(Number) }));
    const plc = await device('tram-bom-1');
    expect(plc.lastReading.fields).toEqual(expect.objectContaining({ plc_online: true, pump_running: expect.any(Boolean), flow_l_min: expect.any(Number) }));
    const cam = await device('cam-rtsp');
    expect(cam.lastReading.fields).toEqual(expect.objectContaining({ probe_ok: true, stream_codec: 'H264' }));
    const health = (await t.get('/api/health', null)).json;
    const inputs = Object.fromEntries((health.inputs as { name: string; connected: boolean }[]).map((i) => [i.name, i.connected]));
    expect(inputs).toEqual(expect.objectContaining({ modbus: true, opcua: true, probes: true }));
  });
});
