/**
 * Loudspeaker cluster (cụm loa truyền thanh ứng dụng CNTT-VT): an IP controller
 * with a 4G modem (or Ethernet), a class-D amplifier and one to four horn
 * speakers on a pole in a hamlet. See README.md for what real controllers send.
 */
import { capability, cellular, heartbeat, supply, temperature } from '../capabilities.js';
import { defineKind } from '../define.js';
import { loudspeakerSimulator } from './simulator.js';

export const loudspeaker = defineKind({
  id: 'loudspeaker',
  label: { vi: 'Cụm loa truyền thanh thông minh', en: 'Smart loudspeaker cluster' },
  roles: ['hamlet', 'center'],
  capabilities: [
    heartbeat({ intervalS: 60 }),
    cellular(),
    supply({ nominalV: 12, lowV: 11.0, highV: 14.8 }),
    temperature({ name: 'amp_temp_c', hotC: 85, label: { vi: 'Nhiệt độ bộ khuếch đại', en: 'Amplifier temperature' } }),
    capability(
      'playback',
      [
        { name: 'playing', type: 'boolean', label: { vi: 'Đang phát', en: 'Playing' } },
        { name: 'volume_pct', type: 'float', unit: '%', min: 0, max: 100, label: { vi: 'Âm lượng', en: 'Volume' } },
        {
          name: 'speaker_faults',
          type: 'integer',
          min: 0,
          max: 8,
          label: { vi: 'Số loa lỗi (hở/chập mạch)', en: 'Speaker lines faulted (open/short)' },
        },
        { name: 'amp_ok', type: 'boolean', label: { vi: 'Bộ khuếch đại bình thường', en: 'Amplifier OK' } },
      ],
      (f) => {
        // An amplifier in protection mode is silent: the cluster is not serving the hamlet.
        if (f['amp_ok'] === false) return { state: 'DOWN', reason: 'amp-fault' };
        const faults = f['speaker_faults'];
        if (typeof faults === 'number' && faults > 0) return { state: 'DEGRADED', reason: 'speaker-line-fault' };
        return undefined;
      },
    ),
  ],
  simulator: loudspeakerSimulator,
});
