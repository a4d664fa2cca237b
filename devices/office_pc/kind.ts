/**
 * Office computer (máy tính văn phòng): the PCs of the commune People's Committee
 * and its one-stop-shop desk (bộ phận một cửa). Nothing runs on them for us: the
 * gateway sweeps the inventory itself (probes.lanSweep: one fping round, then
 * the kernel's ARP table, gateway/probes/lan-sweep.ts) for the plans' indicator
 * "máy tính kết nối mạng LAN". See README.md.
 */
import { capability, heartbeat, probed } from '../capabilities.js';
import { defineKind } from '../define.js';
import { officePcSimulator } from './simulator.js';

export const officePc = defineKind({
  id: 'office_pc',
  label: { vi: 'Máy tính văn phòng', en: 'Office computer' },
  roles: ['office', 'onestop'],
  capabilities: [
    // For an office PC `probe_ok` means "seen on the LAN (ICMP or ARP) within
    // probes.lanSweep.lookbackMin"; false makes it DOWN (no-answer).
    probed(),
    // 60 s: the default sweep interval; the sweep reports every computer every round.
    heartbeat({ intervalS: 60 }),
    capability(
      'lan',
      [
        { name: 'seen_icmp', type: 'boolean', label: { vi: 'Trả lời ping trong lần quét này', en: 'Answered ping in this sweep' } },
        {
          name: 'seen_arp',
          type: 'boolean',
          label: { vi: 'Có trong bảng ARP trong lần quét này', en: 'In the ARP table in this sweep' },
        },
        {
          name: 'last_seen_min',
          type: 'float',
          unit: 'min',
          min: 0,
          // A year: older than that, "last seen" is no longer a useful figure.
          max: 525_600,
          label: { vi: 'Thời gian từ lần cuối thấy trên mạng LAN', en: 'Minutes since last seen on the LAN' },
        },
        {
          name: 'mac_ok',
          type: 'boolean',
          label: { vi: 'Địa chỉ MAC đúng với danh mục', en: 'MAC address matches the inventory' },
        },
      ],
      // Another MAC answering for the PC's IP: an address conflict or a swapped machine.
      (f) => (f['mac_ok'] === false ? { state: 'DEGRADED', reason: 'mac-mismatch' } : undefined),
    ),
  ],
  simulator: officePcSimulator,
});
