/**
 * Every kind's health rule, table-driven: each reason, each threshold on both
 * sides, and which reason wins when several apply (the worst state; among equals,
 * the capability listed first).
 */
import { describe, expect, it } from 'vitest';
import type { Fields, HealthState } from '../../devices/define.js';
import { kindById } from '../../devices/registry.js';

type Row = [name: string, role: string | undefined, fields: Fields, state: HealthState, reason: string];

const OK: [HealthState, string] = ['UP', 'ok'];

const TABLES: Record<string, Row[]> = {
  loudspeaker: [
    ['nothing to object to', 'hamlet', { supply_v: 12.6, amp_temp_c: 40, rsrp_dbm: -95 }, ...OK],
    ['rsrp at -110 is usable', 'hamlet', { rsrp_dbm: -110 }, ...OK],
    ['rsrp under -110', 'hamlet', { rsrp_dbm: -110.1 }, 'DEGRADED', 'cellular-weak'],
    ['supply 11.0 is fine', 'hamlet', { supply_v: 11 }, ...OK],
    ['supply under 11', 'hamlet', { supply_v: 10.9 }, 'DEGRADED', 'supply-low'],
    ['supply 14.8 is fine', 'center', { supply_v: 14.8 }, ...OK],
    ['supply over 14.8', 'center', { supply_v: 14.9 }, 'DEGRADED', 'supply-high'],
    ['amp 85 °C is fine', 'hamlet', { amp_temp_c: 85 }, ...OK],
    ['amp over 85 °C', 'hamlet', { amp_temp_c: 85.1 }, 'DEGRADED', 'amp-temp-hot'],
    ['speaker line fault', 'hamlet', { speaker_faults: 1 }, 'DEGRADED', 'speaker-line-fault'],
    ['amplifier protection', 'hamlet', { amp_ok: false, speaker_faults: 3 }, 'DOWN', 'amp-fault'],
  ],
  camera: [
    ['all well', 'onestop', { online: true, stream_ok: true, recording: true, fps: 25, ioc_link: true }, ...OK],
    ['reported offline', 'security', { online: false }, 'DOWN', 'reported-offline'],
    ['offline before stream-down', 'security', { online: false, stream_ok: false }, 'DOWN', 'reported-offline'],
    ['video loss', 'traffic', { online: true, stream_ok: false }, 'DOWN', 'stream-down'],
    ['onestop off the IOC', 'onestop', { ioc_link: false }, 'DEGRADED', 'ioc-link-down'],
    ['no role = onestop', undefined, { ioc_link: false }, 'DEGRADED', 'ioc-link-down'],
    ['security off the IOC is fine', 'security', { ioc_link: false }, ...OK],
    ['traffic off the IOC is fine', 'traffic', { ioc_link: false }, ...OK],
    ['farm off the IOC is fine', 'farm', { ioc_link: false }, ...OK],
    ['fps 10 is fine', 'farm', { fps: 10 }, ...OK],
    ['fps under 10', 'farm', { fps: 9.9 }, 'DEGRADED', 'fps-low'],
    ['not recording', 'security', { recording: false }, 'DEGRADED', 'not-recording'],
    ['ioc named before fps and recording', 'onestop', { ioc_link: false, fps: 3, recording: false }, 'DEGRADED', 'ioc-link-down'],
    ['stream-down outranks ioc', 'onestop', { ioc_link: false, stream_ok: false }, 'DOWN', 'stream-down'],
    ['full NVR disk is normal', 'security', { storage_used_pct: 100 }, ...OK],
  ],
  network: [
    ['healthy line', 'wan', { link_up: true, loss_pct: 0, rtt_ms: 25 }, ...OK],
    ['agent says offline', 'firewall', { online: false }, 'DOWN', 'reported-offline'],
    ['link down', 'tslcd', { link_up: false }, 'DOWN', 'link-down'],
    ['link-down named before loss', 'tslcd', { link_up: false, loss_pct: 100 }, 'DOWN', 'link-down'],
    ['loss 4.99', 'wan', { loss_pct: 4.99 }, ...OK],
    ['loss 5', 'wan', { loss_pct: 5 }, 'DEGRADED', 'loss-high'],
    ['loss 49.9', 'wan', { loss_pct: 49.9 }, 'DEGRADED', 'loss-high'],
    ['loss 50', 'wan', { loss_pct: 50 }, 'DOWN', 'loss-high'],
    ['rtt 300', 'wan', { rtt_ms: 300 }, ...OK],
    ['rtt 301', 'wan', { rtt_ms: 301 }, 'DEGRADED', 'rtt-high'],
    ['loss named before rtt', 'wan', { loss_pct: 10, rtt_ms: 900 }, 'DEGRADED', 'loss-high'],
    ['busy firewall is not judged', 'firewall', { cpu_pct: 99, sessions: 900_000 }, ...OK],
  ],
  wifi_ap: [
    ['healthy AP', 'public', { radio_up: true, uplink_up: true, channel_util_pct: 30, clients: 12 }, ...OK],
    ['controller says offline', 'government', { online: false }, 'DOWN', 'reported-offline'],
    ['radio down', 'government', { radio_up: false }, 'DOWN', 'radio-down'],
    ['uplink down', 'public', { uplink_up: false }, 'DOWN', 'uplink-down'],
    ['uplink named before radio', 'public', { uplink_up: false, radio_up: false }, 'DOWN', 'uplink-down'],
    ['util 80', 'public', { channel_util_pct: 80 }, ...OK],
    ['util 80.1', 'public', { channel_util_pct: 80.1 }, 'DEGRADED', 'channel-busy'],
    ['radio down outranks busy', 'public', { radio_up: false, channel_util_pct: 95 }, 'DOWN', 'radio-down'],
  ],
  soil_probe: [
    ['moist soil', 'farm', { moisture_pct: 28, ec_us_cm: 600, battery_pct: 80, rssi_dbm: -100 }, ...OK],
    ['reads air', 'farm', { moisture_pct: 0, ec_us_cm: 0 }, 'DEGRADED', 'probe-dry-or-disconnected'],
    ['at both limits', 'farm', { moisture_pct: 1, ec_us_cm: 10 }, 'DEGRADED', 'probe-dry-or-disconnected'],
    ['moisture just above', 'farm', { moisture_pct: 1.01, ec_us_cm: 0 }, ...OK],
    ['ec just above', 'farm', { moisture_pct: 0, ec_us_cm: 10.5 }, ...OK],
    ['moisture 0 alone', 'farm', { moisture_pct: 0 }, ...OK],
    ['ec 0 alone', 'farm', { ec_us_cm: 0 }, ...OK],
    ['battery 20', 'farm', { battery_pct: 20 }, ...OK],
    ['battery under 20', 'farm', { battery_pct: 19.9 }, 'DEGRADED', 'battery-low'],
    ['rssi -115', 'farm', { rssi_dbm: -115 }, ...OK],
    ['rssi under -115', 'farm', { rssi_dbm: -115.5 }, 'DEGRADED', 'signal-weak'],
    ['dry named before battery', 'farm', { moisture_pct: 0, ec_us_cm: 0, battery_pct: 5 }, 'DEGRADED', 'probe-dry-or-disconnected'],
    ['battery named before rssi', 'farm', { battery_pct: 5, rssi_dbm: -130 }, 'DEGRADED', 'battery-low'],
  ],
  vconf: [
    ['idle', 'office', { online: true, registered: true, in_call: false }, ...OK],
    ['offline', 'office', { online: false }, 'DOWN', 'reported-offline'],
    ['unregistered', 'office', { registered: false }, 'DOWN', 'not-registered'],
    ['loss 3 in call', 'office', { in_call: true, call_loss_pct: 3 }, ...OK],
    ['loss 3.01 in call', 'office', { in_call: true, call_loss_pct: 3.01 }, 'DEGRADED', 'call-loss-high'],
    ['loss 20 out of call', 'office', { in_call: false, call_loss_pct: 20 }, ...OK],
    ['loss without in_call', 'office', { call_loss_pct: 20 }, ...OK],
    ['high jitter alone is not judged', 'office', { in_call: true, jitter_ms: 150 }, ...OK],
    ['unregistered outranks call loss', 'office', { registered: false, in_call: true, call_loss_pct: 9 }, 'DOWN', 'not-registered'],
  ],
  office_pc: [
    ['seen by ARP only (Windows drops ping)', 'office', { probe_ok: true, seen_icmp: false, seen_arp: true, last_seen_min: 0 }, ...OK],
    ['within the look-back window', 'office', { probe_ok: true, seen_arp: false, last_seen_min: 14 }, ...OK],
    ['past the look-back window', 'office', { probe_ok: false, last_seen_min: 16 }, 'DOWN', 'no-answer'],
    ['MAC mismatch', 'onestop', { probe_ok: true, seen_arp: true, mac_ok: false }, 'DEGRADED', 'mac-mismatch'],
    ['MAC as in the inventory', 'onestop', { probe_ok: true, mac_ok: true }, ...OK],
    ['no-answer outranks mac-mismatch', 'office', { probe_ok: false, mac_ok: false }, 'DOWN', 'no-answer'],
  ],
  irrigation: [
    ['pump running with flow', 'pump_station', { plc_online: true, pump_running: true, valve_open: true, flow_l_min: 120, pressure_bar: 2.1, tank_level_pct: 60 }, ...OK],
    ['PLC unreachable', 'pump_station', { plc_online: false, pump_running: true }, 'DOWN', 'plc-offline'],
    ['pump tripped while commanded on', 'pump_station', { plc_online: true, pump_running: false, pump_fault: true }, 'DOWN', 'pump-fault'],
    ['tank nearly empty while pumping', 'pump_station', { plc_online: true, pump_running: true, tank_level_pct: 5, flow_l_min: 80 }, 'DEGRADED', 'dry-run-risk'],
    ['valve open under pressure, no flow', 'valve_group', { plc_online: true, valve_open: true, pressure_bar: 2, flow_l_min: 0 }, 'DEGRADED', 'no-flow'],
    ['idle and closed', 'valve_group', { plc_online: true, pump_running: false, valve_open: false, flow_l_min: 0 }, ...OK],
  ],
  power: [
    ['on mains', 'office', { mains_ok: true, on_battery: false, battery_pct: 100, input_v: 225 }, ...OK],
    ['on battery', 'rack', { mains_ok: false, on_battery: true, battery_pct: 80, runtime_min: 20 }, 'DEGRADED', 'on-battery'],
    ['on battery, no figures', 'rack', { on_battery: true }, 'DEGRADED', 'on-battery'],
    ['battery 20', 'office', { on_battery: true, battery_pct: 20 }, 'DEGRADED', 'on-battery'],
    ['battery 19.9', 'office', { on_battery: true, battery_pct: 19.9 }, 'DOWN', 'battery-exhausting'],
    ['runtime 5', 'office', { on_battery: true, runtime_min: 5 }, 'DEGRADED', 'on-battery'],
    ['runtime 4.9', 'office', { on_battery: true, battery_pct: 60, runtime_min: 4.9 }, 'DOWN', 'battery-exhausting'],
    ['low battery on mains', 'office', { on_battery: false, battery_pct: 5, runtime_min: 1 }, ...OK],
    ['mains lost, no UPS', 'hamlet', { mains_ok: false }, 'DOWN', 'mains-lost'],
    ['mains lost, UPS not carrying', 'office', { mains_ok: false, on_battery: false }, 'DOWN', 'mains-lost'],
    ['input 190', 'office', { mains_ok: true, input_v: 190 }, ...OK],
    ['input 189.9', 'office', { mains_ok: true, input_v: 189.9 }, 'DEGRADED', 'input-voltage-out-of-range'],
    ['input 250', 'office', { mains_ok: true, input_v: 250 }, ...OK],
    ['input 250.1', 'office', { mains_ok: true, input_v: 250.1 }, 'DEGRADED', 'input-voltage-out-of-range'],
    ['input judged only with mains_ok', 'office', { input_v: 0 }, ...OK],
    ['on-battery named before input', 'office', { mains_ok: true, on_battery: true, input_v: 170 }, 'DEGRADED', 'on-battery'],
  ],
};

describe('health rules', () => {
  it('has a table for every registered kind', async () => {
    const { KINDS } = await import('../../devices/registry.js');
    expect(Object.keys(TABLES).sort()).toStrictEqual(KINDS.map((k) => k.id).sort());
  });

  for (const [kindId, rows] of Object.entries(TABLES)) {
    describe(kindId, () => {
      const kind = kindById(kindId);
      it.each(rows)('%s', (_name, role, fields, state, reason) => {
        if (!kind) throw new Error(`kind ${kindId} is not registered`);
        // The fields must be valid telemetry, or the row tests nothing real.
        expect(kind.schema.safeParse(fields).success).toBe(true);
        expect(kind.health(fields, { id: 't', kind: kindId, role })).toStrictEqual({ state, reason });
      });
    });
  }
});
