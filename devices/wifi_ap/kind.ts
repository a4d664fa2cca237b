/**
 * Wi-Fi access point: government Wi-Fi in the commune office (WIFI công vụ) and free
 * public Wi-Fi at community points (wifi công cộng miễn phí tại các điểm sinh hoạt
 * cộng đồng, nhà văn hóa ấp). State comes over MQTT from the AP itself (OpenWrt) or
 * from a bridge reading the controller (UniFi, Ruijie Cloud). See README.md.
 */
import { capability, heartbeat, online, wordsToBooleans, probed } from '../capabilities.js';
import { defineKind } from '../define.js';
import { wifiApSimulator } from './simulator.js';

/**
 * Share of airtime the radio hears busy (its own clients, neighbours, noise). Above
 * about 80 % every client waits for airtime and throughput collapses; WLAN vendors'
 * RF-management guidance treats sustained utilisation in this range as congestion.
 * The exact figure is our operational choice, not a standard's.
 */
const CHANNEL_BUSY_PCT = 80;

export const wifiAp = defineKind({
  id: 'wifi_ap',
  label: { vi: 'Điểm phát Wi-Fi', en: 'Wi-Fi access point' },
  roles: ['public', 'government'],
  capabilities: [
    // The gateway's own probe (issue 4), when one is configured for the device.
    probed(),
    heartbeat({ intervalS: 60 }),
    // The controller's view (UniFi/Ruijie: AP connected or disconnected).
    online(),
    capability(
      'uplink',
      [{ name: 'uplink_up', type: 'boolean', label: { vi: 'Đường truyền lên hoạt động', en: 'Uplink up' } }],
      // Before the radio rule: with the uplink down the cause is the cable/switch, not RF.
      (f) => (f['uplink_up'] === false ? { state: 'DOWN', reason: 'uplink-down' } : undefined),
    ),
    capability(
      'radio',
      [
        { name: 'radio_up', type: 'boolean', label: { vi: 'Đang phát sóng Wi-Fi', en: 'Radio up' } },
        {
          name: 'clients',
          type: 'integer',
          min: 0,
          // Enterprise APs cap associations at a few hundred per radio.
          max: 1000,
          label: { vi: 'Số thiết bị đang kết nối', en: 'Connected clients' },
        },
        {
          name: 'channel_util_pct',
          type: 'float',
          unit: '%',
          min: 0,
          max: 100,
          label: { vi: 'Mức chiếm dụng kênh', en: 'Channel utilisation' },
        },
      ],
      (f) => {
        if (f['radio_up'] === false) return { state: 'DOWN', reason: 'radio-down' };
        const u = f['channel_util_pct'];
        if (typeof u === 'number' && u > CHANNEL_BUSY_PCT) return { state: 'DEGRADED', reason: 'channel-busy' };
        return undefined;
      },
    ),
    capability('system', [
      { name: 'cpu_pct', type: 'float', unit: '%', min: 0, max: 100, label: { vi: 'Tải CPU', en: 'CPU load' } },
      { name: 'mem_pct', type: 'float', unit: '%', min: 0, max: 100, label: { vi: 'Bộ nhớ đã dùng', en: 'Memory used' } },
    ]),
  ],
  normalize: (raw) =>
    wordsToBooleans(raw, {
      radio_up: { up: true, down: false },
      uplink_up: { up: true, down: false },
      online: { online: true, offline: false },
    }),
  simulator: wifiApSimulator,
});
