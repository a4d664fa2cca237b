/**
 * Network device or line (thiết bị mạng, đường truyền): the internet line (WAN), the
 * government dedicated data line (TSLCD, Mạng truyền số liệu chuyên dùng), the office
 * firewall (tường lửa) and LAN switches. An agent (on the firewall, or a small probe
 * box) publishes one message per line or device over MQTT. See README.md.
 */
import { capability, heartbeat, online, wordsToBooleans, probed } from '../capabilities.js';
import { defineKind } from '../define.js';
import { networkSimulator } from './simulator.js';

/**
 * Packet loss and round-trip time on a path the agent measures (ICMP to an anchor:
 * a public resolver for the WAN, the province data centre for TSLCD).
 *
 * ITU-T Y.1541 sets IP loss objectives of 1×10⁻³ for interactive classes, far below
 * what a rural line sustains, so it is not used as an alarm level. We alarm where
 * users notice: at 5 % loss video conferences and VPN streams (the IOC camera feed)
 * break up (ITU-T G.1010 gives < 1 % for video, < 3 % for voice); at 50 % the line
 * carries almost nothing useful and counts as down for the availability indicator.
 * 300 ms RTT ≈ 150 ms one way, the ITU-T G.114 limit for transparent interactivity.
 */
const LOSS_DEGRADED_PCT = 5;
const LOSS_DOWN_PCT = 50;
const RTT_HIGH_MS = 300;

export const network = defineKind({
  id: 'network',
  label: { vi: 'Thiết bị mạng và đường truyền', en: 'Network device or line' },
  roles: ['wan', 'tslcd', 'firewall', 'lan_switch'],
  capabilities: [
    // The gateway's own probe (issue 4), when one is configured for the device.
    probed(),
    // 30 s: the plans ask for lines "ổn định, thông suốt"; outages should show within minutes.
    heartbeat({ intervalS: 30 }),
    online(),
    capability(
      'link',
      [
        { name: 'link_up', type: 'boolean', label: { vi: 'Kết nối đang thông', en: 'Link up' } },
        {
          name: 'rx_mbps',
          type: 'float',
          unit: 'Mbit/s',
          min: 0,
          max: 10_000,
          label: { vi: 'Lưu lượng nhận (tải xuống)', en: 'Receive rate' },
        },
        {
          name: 'tx_mbps',
          type: 'float',
          unit: 'Mbit/s',
          min: 0,
          max: 10_000,
          label: { vi: 'Lưu lượng gửi (tải lên)', en: 'Transmit rate' },
        },
      ],
      // IF-MIB ifOperStatus (RFC 2863) down: nothing passes, whatever loss/RTT say.
      (f) => (f['link_up'] === false ? { state: 'DOWN', reason: 'link-down' } : undefined),
    ),
    capability(
      'path',
      [
        { name: 'rtt_ms', type: 'float', unit: 'ms', min: 0, max: 10_000, label: { vi: 'Độ trễ khứ hồi', en: 'Round-trip time' } },
        { name: 'loss_pct', type: 'float', unit: '%', min: 0, max: 100, label: { vi: 'Tỷ lệ mất gói', en: 'Packet loss' } },
      ],
      (f) => {
        const loss = f['loss_pct'];
        if (typeof loss === 'number') {
          if (loss >= LOSS_DOWN_PCT) return { state: 'DOWN', reason: 'loss-high' };
          if (loss >= LOSS_DEGRADED_PCT) return { state: 'DEGRADED', reason: 'loss-high' };
        }
        const rtt = f['rtt_ms'];
        if (typeof rtt === 'number' && rtt > RTT_HIGH_MS) return { state: 'DEGRADED', reason: 'rtt-high' };
        return undefined;
      },
    ),
    capability('firewall', [
      { name: 'cpu_pct', type: 'float', unit: '%', min: 0, max: 100, label: { vi: 'Tải CPU', en: 'CPU load' } },
      {
        name: 'sessions',
        type: 'integer',
        min: 0,
        max: 10_000_000,
        label: { vi: 'Số phiên kết nối đang mở', en: 'Active sessions' },
      },
    ]),
  ],
  // Agents that print interface state as text: IF-MIB ifOperStatus names (up/down).
  normalize: (raw) =>
    wordsToBooleans(raw, {
      link_up: { up: true, down: false },
      online: { online: true, offline: false },
    }),
  simulator: networkSimulator,
});
