/**
 * Video-conference endpoint (thiết bị hội nghị truyền hình trực tuyến) in the commune
 * meeting room: the room system that joins the province's and the ministries' online
 * meetings through their MCU. Plans: "đảm bảo kết nối thường xuyên, liên tục". State
 * comes over MQTT from a bridge reading the endpoint's API or the management server.
 * See README.md.
 */
import { capability, heartbeat, online, wordsToBooleans, probed } from '../capabilities.js';
import { defineKind } from '../define.js';
import { vconfSimulator } from './simulator.js';

/**
 * ITU-T G.1010 (end-user multimedia QoS categories) puts the packet-loss bound for
 * conversational voice at < 3 % (and < 1 % for videophone). Above 3 % in a call even
 * the audio breaks up, so the meeting is impaired.
 */
const CALL_LOSS_PCT = 3;

export const vconf = defineKind({
  id: 'vconf',
  label: { vi: 'Thiết bị hội nghị truyền hình trực tuyến', en: 'Video-conference endpoint' },
  roles: ['office'],
  capabilities: [
    // The gateway's own probe (issue 4), when one is configured for the device.
    probed(),
    heartbeat({ intervalS: 60 }),
    online(),
    capability(
      'registration',
      [
        {
          name: 'registered',
          type: 'boolean',
          label: { vi: 'Đã đăng ký với MCU (SIP/H.323)', en: 'Registered with the MCU (SIP/H.323)' },
        },
      ],
      // Unregistered, the endpoint cannot be dialled into the meeting: down for its purpose.
      (f) => (f['registered'] === false ? { state: 'DOWN', reason: 'not-registered' } : undefined),
    ),
    capability(
      'call',
      [
        { name: 'in_call', type: 'boolean', label: { vi: 'Đang trong cuộc họp', en: 'In a call' } },
        {
          name: 'call_loss_pct',
          type: 'float',
          unit: '%',
          min: 0,
          max: 100,
          label: { vi: 'Tỷ lệ mất gói trong cuộc họp', en: 'Packet loss in the call' },
        },
        {
          name: 'jitter_ms',
          type: 'float',
          unit: 'ms',
          min: 0,
          max: 2000,
          label: { vi: 'Độ dao động trễ (jitter)', en: 'Jitter' },
        },
      ],
      // Loss figures left over from the last call mean nothing once it has ended.
      (f) => {
        const loss = f['call_loss_pct'];
        if (f['in_call'] === true && typeof loss === 'number' && loss > CALL_LOSS_PCT) {
          return { state: 'DEGRADED', reason: 'call-loss-high' };
        }
        return undefined;
      },
    ),
  ],
  normalize: (raw) =>
    wordsToBooleans(raw, {
      registered: { registered: true, unregistered: false },
      online: { online: true, offline: false },
    }),
  simulator: vconfSimulator,
});
