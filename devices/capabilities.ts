/**
 * Reusable telemetry capabilities. A device kind is a list of these plus, at most,
 * a small kind-specific rule. Thresholds are arguments so a kind (or a later
 * per-model profile) can tighten them without new code.
 */
import type { Capability, FieldSpec, HealthRule } from './define.js';

/** Build an ad-hoc capability (for fields only one kind has). */
export function capability(id: string, fields: FieldSpec[], health?: HealthRule): Capability {
  return health ? { id, fields, health } : { id, fields };
}

/**
 * Expected reporting interval. The health tracker declares a device DOWN after
 * `missedHeartbeats` (config, default 3) intervals without any message.
 */
export function heartbeat(opts: { intervalS: number }): Capability {
  return {
    id: 'heartbeat',
    heartbeatS: opts.intervalS,
    fields: [
      {
        name: 'uptime_s',
        type: 'integer',
        unit: 's',
        min: 0,
        label: { vi: 'Thời gian hoạt động liên tục', en: 'Uptime' },
      },
    ],
  };
}

/** Supply voltage of a DC-powered device (12 V amplifier rack, 24 V PoE, ...). */
export function supply(opts: { nominalV: number; lowV: number; highV: number }): Capability {
  return {
    id: 'supply',
    fields: [
      {
        name: 'supply_v',
        type: 'float',
        unit: 'V',
        min: 0,
        max: opts.nominalV * 3,
        label: { vi: 'Điện áp nguồn', en: 'Supply voltage' },
      },
    ],
    health: (f) => {
      const v = f['supply_v'];
      if (typeof v !== 'number') return undefined;
      if (v < opts.lowV) return { state: 'DEGRADED', reason: 'supply-low' };
      if (v > opts.highV) return { state: 'DEGRADED', reason: 'supply-high' };
      return undefined;
    },
  };
}

/** Battery of a battery-backed sensor node. */
export function battery(opts: { lowPct: number } = { lowPct: 20 }): Capability {
  return {
    id: 'battery',
    fields: [
      {
        name: 'battery_pct',
        type: 'float',
        unit: '%',
        min: 0,
        max: 100,
        label: { vi: 'Dung lượng pin', en: 'Battery level' },
      },
    ],
    health: (f) => {
      const b = f['battery_pct'];
      if (typeof b === 'number' && b < opts.lowPct) return { state: 'DEGRADED', reason: 'battery-low' };
      return undefined;
    },
  };
}

/** Received signal strength of a radio link (Wi-Fi, LoRa). */
export function rssi(opts: { weakDbm: number } = { weakDbm: -85 }): Capability {
  return {
    id: 'rssi',
    fields: [
      {
        name: 'rssi_dbm',
        type: 'float',
        unit: 'dBm',
        min: -140,
        max: 0,
        label: { vi: 'Cường độ tín hiệu', en: 'Signal strength (RSSI)' },
      },
    ],
    health: (f) => {
      const r = f['rssi_dbm'];
      if (typeof r === 'number' && r < opts.weakDbm) return { state: 'DEGRADED', reason: 'signal-weak' };
      return undefined;
    },
  };
}

/**
 * LTE modem signal (3GPP TS 36.133 §9.1.4: RSRP reported from -140 to -44 dBm).
 * -110 dBm is the usual "usable" floor operators use for coverage maps; the
 * indicators issue uses these readings to locate dead zones (vùng lõm sóng).
 */
export function cellular(opts: { unusableRsrpDbm: number } = { unusableRsrpDbm: -110 }): Capability {
  return {
    id: 'cellular',
    fields: [
      { name: 'rsrp_dbm', type: 'float', unit: 'dBm', min: -140, max: -44, label: { vi: 'RSRP', en: 'RSRP' } },
      { name: 'rsrq_db', type: 'float', unit: 'dB', min: -20, max: -3, label: { vi: 'RSRQ', en: 'RSRQ' } },
      { name: 'sinr_db', type: 'float', unit: 'dB', min: -20, max: 40, label: { vi: 'SINR', en: 'SINR' } },
      {
        name: 'network_type',
        type: 'string',
        values: ['2G', '3G', '4G', '5G', 'ETH', 'NONE'],
        label: { vi: 'Loại mạng', en: 'Network type' },
      },
    ],
    health: (f) => {
      const r = f['rsrp_dbm'];
      if (typeof r === 'number' && r < opts.unusableRsrpDbm) return { state: 'DEGRADED', reason: 'cellular-weak' };
      return undefined;
    },
  };
}

/** Enclosure or board temperature with a degrade threshold. */
export function temperature(opts: { name?: string; hotC: number; label?: FieldSpec['label'] }): Capability {
  const name = opts.name ?? 'temp_c';
  return {
    id: `temperature:${name}`,
    fields: [
      {
        name,
        type: 'float',
        unit: '°C',
        min: -40,
        max: 125,
        label: opts.label ?? { vi: 'Nhiệt độ', en: 'Temperature' },
      },
    ],
    health: (f) => {
      const t = f[name];
      if (typeof t === 'number' && t > opts.hotC) return { state: 'DEGRADED', reason: `${name.replace(/_c$/, '').replace(/_/g, '-')}-hot` };
      return undefined;
    },
  };
}

/**
 * An explicit online flag some devices (NVRs, agents) report for the thing they
 * watch. `false` means the reporter sees the device down.
 */
export function online(): Capability {
  return {
    id: 'online',
    fields: [{ name: 'online', type: 'boolean', label: { vi: 'Trực tuyến', en: 'Online' } }],
    health: (f) => (f['online'] === false ? { state: 'DOWN', reason: 'reported-offline' } : undefined),
  };
}

/**
 * What the gateway's own active probe of the device saw (issue 4: ICMP, TCP,
 * HTTP(S), RTSP). The probe's configured thresholds give the verdict (passed with
 * the reading); this rule only says that a device that does not answer is DOWN.
 */
export function probed(): Capability {
  return {
    id: 'probed',
    fields: [
      { name: 'probe_ok', type: 'boolean', label: { vi: 'Trả lời khi gateway kiểm tra', en: 'Answers the gateway probe' } },
      {
        name: 'probe_latency_ms',
        type: 'float',
        unit: 'ms',
        min: 0,
        max: 120_000,
        label: { vi: 'Thời gian phản hồi', en: 'Probe response time' },
      },
      {
        name: 'probe_loss_pct',
        type: 'float',
        unit: '%',
        min: 0,
        max: 100,
        label: { vi: 'Tỷ lệ mất gói (ping)', en: 'Probe packet loss' },
      },
      { name: 'http_status', type: 'integer', min: 100, max: 599, label: { vi: 'Mã trạng thái HTTP', en: 'HTTP status' } },
      {
        name: 'stream_codec',
        type: 'string',
        // RTSP DESCRIBE → SDP a=rtpmap encoding names (RFC 6184 H264, RFC 7798 H265, RFC 2435 JPEG).
        values: ['H264', 'H265', 'JPEG', 'MP4V-ES', 'other'],
        label: { vi: 'Chuẩn nén luồng video', en: 'Stream codec' },
      },
    ],
    health: (f) => (f['probe_ok'] === false ? { state: 'DOWN', reason: 'no-answer' } : undefined),
  };
}

/** Replace known words (case-insensitive) in the named fields by booleans; other values pass through. */
export function wordsToBooleans(
  raw: Record<string, unknown>,
  table: Record<string, Record<string, boolean>>,
): Record<string, unknown> {
  let out = raw;
  for (const [field, words] of Object.entries(table)) {
    const v = raw[field];
    if (typeof v !== 'string') continue;
    const b = words[v.trim().toLowerCase()];
    if (b !== undefined) out = { ...out, [field]: b };
  }
  return out;
}
