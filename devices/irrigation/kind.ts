/**
 * Irrigation controller (bộ điều khiển tưới): the pump station of a farm
 * cooperative or a commune irrigation scheme (trạm bơm), and the valve groups it
 * feeds (cụm van), run by a PLC (Siemens S7-1200/1500, Delta DVP/AS, Mitsubishi
 * FX5/iQ-R, ...) with an OPC UA server. The gateway subscribes to the PLC's tags
 * (gateway/inputs/opcua) and also records whether its OPC UA session to the PLC
 * is alive (`plc_online`). A controller reported by an MQTT bridge (Node-RED, a
 * vendor IoT box) uses the same fields. See README.md.
 */
import { capability, heartbeat, wordsToBooleans } from '../capabilities.js';
import { defineKind, type Fields, type Verdict } from '../define.js';
import { irrigationSimulator } from './simulator.js';

/** `pump_station` first: it is the default role (most schemes have one pump station per PLC). */
const ROLES = ['pump_station', 'valve_group'] as const;

/**
 * Dry-run protection. A centrifugal or submersible pump that draws air runs dry:
 * its mechanical seal overheats within minutes (pump makers, e.g. Grundfos and
 * Ebara manuals, forbid dry running). Tank and sump low-level cut-offs are usually
 * set at 10–20 % of the usable height, above the level where the suction starts to
 * form a vortex. Under 10 % while the pump runs, the cut-off has not acted (stuck
 * float, level transmitter drift): the station is at risk, not yet down.
 */
const DRY_RUN_LEVEL_PCT = 10;
/**
 * Below 1 L/min a flow meter reads "nothing" (magnetic and turbine meters of
 * irrigation mains have a low-flow cut-off of this order). Water should flow when
 * the valve is open and the pump runs, or the line is under pressure: no flow then
 * means a clogged filter, a valve stuck closed or a pump that lost its prime.
 */
const NO_FLOW_L_MIN = 1;
/** Line pressure that should push water through an open valve (drip lines need ~1 bar). */
const LINE_PRESSURE_BAR = 1;

function irrigationHealth(f: Fields): Verdict | undefined {
  // The gateway cannot read the PLC (session lost, PLC off): nothing it last said is current.
  if (f['plc_online'] === false) return { state: 'DOWN', reason: 'plc-offline' };
  if (f['pump_fault'] === true) {
    // Tripped (motor protection relay, phase-failure relay, VFD fault stop): the
    // station cannot irrigate. Still running with the fault bit set: a warning the
    // drive tolerates (VFD alarm, motor hot), worth a visit but water still flows.
    return f['pump_running'] === true ? { state: 'DEGRADED', reason: 'pump-fault' } : { state: 'DOWN', reason: 'pump-fault' };
  }
  const level = f['tank_level_pct'];
  if (f['pump_running'] === true && typeof level === 'number' && level < DRY_RUN_LEVEL_PCT) {
    return { state: 'DEGRADED', reason: 'dry-run-risk' };
  }
  const flow = f['flow_l_min'];
  const pressure = f['pressure_bar'];
  const shouldFlow = f['pump_running'] === true || (typeof pressure === 'number' && pressure >= LINE_PRESSURE_BAR);
  if (f['valve_open'] === true && shouldFlow && typeof flow === 'number' && flow < NO_FLOW_L_MIN) {
    return { state: 'DEGRADED', reason: 'no-flow' };
  }
  return undefined;
}

export const irrigation = defineKind({
  id: 'irrigation',
  label: { vi: 'Bộ điều khiển tưới (trạm bơm, cụm van)', en: 'Irrigation controller (pump station, valve group)' },
  roles: ROLES,
  capabilities: [
    heartbeat({ intervalS: 60 }),
    capability('plc', [
      {
        name: 'plc_online',
        type: 'boolean',
        label: { vi: 'Gateway đọc được PLC', en: 'PLC reachable (OPC UA session alive)' },
      },
    ]),
    capability('pump', [
      { name: 'pump_running', type: 'boolean', label: { vi: 'Bơm đang chạy', en: 'Pump running' } },
      { name: 'pump_fault', type: 'boolean', label: { vi: 'Bơm báo lỗi', en: 'Pump fault' } },
    ]),
    capability('hydraulics', [
      { name: 'valve_open', type: 'boolean', label: { vi: 'Van đang mở', en: 'Valve open' } },
      {
        name: 'flow_l_min',
        type: 'float',
        unit: 'L/min',
        min: 0,
        // A large farm pump station (~150 kW, 1000 m³/h) stays below this.
        max: 20_000,
        label: { vi: 'Lưu lượng', en: 'Flow' },
      },
      {
        name: 'pressure_bar',
        type: 'float',
        unit: 'bar',
        // Gauge pressure; a suction-side transmitter may read slightly below 0.
        min: -1,
        // PN16 is the highest pressure class of common irrigation pipe (HDPE/PVC).
        max: 16,
        label: { vi: 'Áp suất đường ống', en: 'Line pressure' },
      },
      {
        name: 'tank_level_pct',
        type: 'float',
        unit: '%',
        min: 0,
        max: 100,
        label: { vi: 'Mực nước bể/giếng', en: 'Tank or sump level' },
      },
    ]),
  ],
  health: irrigationHealth,
  // MQTT bridges often forward PLC bits as words; OPC UA sends booleans.
  normalize: (raw) =>
    wordsToBooleans(raw, {
      pump_running: { on: true, off: false, run: true, running: true, stop: false, stopped: false, true: true, false: false, '1': true, '0': false },
      valve_open: { open: true, opened: true, closed: false, close: false, on: true, off: false, true: true, false: false, '1': true, '0': false },
      pump_fault: { fault: true, alarm: true, trip: true, ok: false, normal: false, true: true, false: false, '1': true, '0': false },
      plc_online: { online: true, offline: false, true: true, false: false, '1': true, '0': false },
    }),
  simulator: irrigationSimulator,
});
