/**
 * `commune-edge simulate-peers`: the field devices the gateway reaches without
 * MQTT, as real peers on this machine, so an officer (or an integrator) can try
 * the `modbus:`, `opcua:` and `probes:` sections before the hardware is there:
 *
 *   - an OPC UA irrigation controller (node-opcua server: pump stations with
 *     Pump/Valve/Flow/TankLevel/Pressure tags, S7-style node ids);
 *   - an RTSP camera (OPTIONS/DESCRIBE with an H.264 SDP, optional Digest auth);
 *   - a bus of RS-485 soil probes on a serial path: the other end of a pty pair
 *     made with `socat -d -d pty,raw,echo=0,link=/tmp/ce-gw pty,raw,echo=0,link=/tmp/ce-dev`
 *     (give `--modbus-path /tmp/ce-dev` here and `port: /tmp/ce-gw` to the gateway).
 *
 * Each simulator is the one the tests use (devices/<kind>/...), loaded only when asked for.
 */
import { parseArgs } from 'node:util';

export const SIMULATE_PEERS_USAGE = `commune-edge simulate-peers [--opcua-port N] [--rtsp-port N] [--modbus-path PATH] [--host 127.0.0.1]
  Field-device simulators for trying the modbus:, opcua: and probes: sections:
    --opcua-port N     OPC UA irrigation controller (opc.tcp://HOST:N/irrigation), 2 stations
    --rtsp-port N      RTSP camera answering OPTIONS/DESCRIBE (H.264)
    --modbus-path P    RS-485 soil probes (units 1-3: cwt-7in1, sensecap-3in1, cwt-7in1) on serial path P
  Stops on Ctrl-C.
`;

export async function runSimulatePeers(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'opcua-port': { type: 'string' },
      'rtsp-port': { type: 'string' },
      'modbus-path': { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || (!values['opcua-port'] && !values['rtsp-port'] && !values['modbus-path'])) {
    process.stdout.write(SIMULATE_PEERS_USAGE);
    if (!values.help) process.exitCode = 2;
    return;
  }
  const port = (v: string | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag}: "${v}" is not a port number`);
    return n;
  };
  const stops: (() => Promise<void>)[] = [];
  const host = values.host;
  const opcuaPort = port(values['opcua-port'], '--opcua-port');
  if (opcuaPort !== undefined) {
    const { startIrrigationController } = await import('../../devices/irrigation/opcua-server.js');
    const plc = await startIrrigationController({
      port: opcuaPort,
      host,
      stations: [
        { name: 'PumpStation1', role: 'pump_station' },
        { name: 'ValveGroup1', role: 'valve_group' },
      ],
      log: (line) => process.stderr.write(`opcua: ${line}\n`),
    });
    stops.push(() => plc.stop());
    console.log(`OPC UA irrigation controller: ${plc.endpointUrl}`);
    for (const station of ['PumpStation1', 'ValveGroup1']) {
      console.log(`  ${station}: ${(['Pump.Running', 'Valve.Open', 'Flow', 'TankLevel', 'Pressure'] as const).map((t) => `${t} = ${plc.nodeId(station, t)}`).join(', ')}`);
    }
  }
  const rtspPort = port(values['rtsp-port'], '--rtsp-port');
  if (rtspPort !== undefined) {
    const { RtspResponder } = await import('../../devices/camera/rtsp-responder.js');
    const camera = new RtspResponder({ codec: 'H264' });
    const { port: p } = await camera.start({ port: rtspPort, host });
    stops.push(() => camera.stop());
    console.log(`RTSP camera: rtsp://${host}:${p}/Streaming/Channels/101`);
  }
  if (values['modbus-path']) {
    const { startSoilProbeBus } = await import('../../devices/soil_probe/modbus-slave.js');
    const bus = await startSoilProbeBus({
      path: values['modbus-path'],
      slaves: [
        { unitId: 1, map: 'cwt-7in1' },
        { unitId: 2, map: 'sensecap-3in1' },
        { unitId: 3, map: 'cwt-7in1' },
      ],
      wireTiming: true,
    });
    stops.push(() => bus.close());
    console.log(`Modbus RTU soil probes on ${values['modbus-path']}: units 1 (cwt-7in1), 2 (sensecap-3in1), 3 (cwt-7in1), 9600 8N1`);
  }
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
