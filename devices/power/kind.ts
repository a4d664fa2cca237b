/**
 * Mains power and UPS (nguồn điện lưới và bộ lưu điện): the UPS in the commune office,
 * the one in the data rack, or a mains monitor at a hamlet site (loudspeaker pole,
 * community Wi-Fi point). Plans: "bảo đảm cung cấp điện ổn định ... cho hạ tầng số".
 * State comes over MQTT from a bridge reading the UPS (SNMP card, or USB/serial
 * through Network UPS Tools). See README.md.
 */
import { capability, heartbeat, probed } from '../capabilities.js';
import { defineKind } from '../define.js';
import { powerSimulator } from './simulator.js';

/**
 * On battery, the load survives only as long as the battery. Below 20 % charge or
 * 5 min runtime the UPS is close to its low-battery signal (NUT raises "LB" under
 * battery.charge.low, typically 10–20 %, or battery.runtime.low, often 120 s) and
 * servers should already be shutting down cleanly: count the site as down.
 */
const EXHAUSTED_BATTERY_PCT = 20;
const EXHAUSTED_RUNTIME_MIN = 5;
/**
 * Low-voltage mains in Viet Nam is 220/230 V; distribution rules (Circular
 * 39/2015/TT-BCT) allow a few percent either way. 190–250 V is a wide band: outside
 * it the UPS is boosting or trimming hard (AVR) and close to transferring to battery,
 * typical of an overloaded rural feeder at the evening peak.
 */
const INPUT_MIN_V = 190;
const INPUT_MAX_V = 250;

export const power = defineKind({
  id: 'power',
  label: { vi: 'Nguồn điện lưới và bộ lưu điện (UPS)', en: 'Mains power and UPS' },
  roles: ['office', 'rack', 'hamlet'],
  capabilities: [
    // The gateway's own probe (issue 4), when one is configured for the device.
    probed(),
    heartbeat({ intervalS: 60 }),
    // Before `mains`: with both DEGRADED, "on battery" is the message the IT officer needs.
    capability(
      'ups',
      [
        // APC PowerNet-MIB upsBasicOutputStatus onBattery(3); RFC 1628 upsOutputSource battery(5); NUT ups.status "OB".
        { name: 'on_battery', type: 'boolean', label: { vi: 'Đang chạy bằng ắc quy', en: 'On battery' } },
        {
          name: 'battery_pct',
          type: 'float',
          unit: '%',
          min: 0,
          max: 100,
          label: { vi: 'Dung lượng ắc quy còn lại', en: 'Battery charge' },
        },
        {
          name: 'runtime_min',
          type: 'float',
          unit: 'min',
          min: 0,
          // A day: long-runtime UPSs with external battery packs stay well below.
          max: 1440,
          label: { vi: 'Thời gian lưu điện còn lại', en: 'Runtime remaining' },
        },
        {
          name: 'load_pct',
          type: 'float',
          unit: '%',
          min: 0,
          // UPSs report above 100 % while overloaded, until they trip.
          max: 150,
          label: { vi: 'Mức tải của UPS', en: 'UPS load' },
        },
        { name: 'output_v', type: 'float', unit: 'V', min: 0, max: 300, label: { vi: 'Điện áp ra', en: 'Output voltage' } },
      ],
      (f) => {
        if (f['on_battery'] !== true) return undefined;
        const b = f['battery_pct'];
        const r = f['runtime_min'];
        if ((typeof b === 'number' && b < EXHAUSTED_BATTERY_PCT) || (typeof r === 'number' && r < EXHAUSTED_RUNTIME_MIN)) {
          return { state: 'DOWN', reason: 'battery-exhausting' };
        }
        return { state: 'DEGRADED', reason: 'on-battery' };
      },
    ),
    capability(
      'mains',
      [
        { name: 'mains_ok', type: 'boolean', label: { vi: 'Có điện lưới', en: 'Mains present' } },
        { name: 'input_v', type: 'float', unit: 'V', min: 0, max: 300, label: { vi: 'Điện áp vào', en: 'Input voltage' } },
      ],
      (f) => {
        // Mains gone and no UPS carrying the load (a hamlet site with only a mains
        // monitor, or a UPS that is off): the site has no power.
        if (f['mains_ok'] === false && f['on_battery'] !== true) return { state: 'DOWN', reason: 'mains-lost' };
        const v = f['input_v'];
        if (f['mains_ok'] === true && typeof v === 'number' && (v < INPUT_MIN_V || v > INPUT_MAX_V)) {
          return { state: 'DEGRADED', reason: 'input-voltage-out-of-range' };
        }
        return undefined;
      },
    ),
  ],
  simulator: powerSimulator,
});
