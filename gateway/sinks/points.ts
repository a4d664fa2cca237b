/**
 * The schema of the data in InfluxDB (README, "Data in InfluxDB"): spool rows →
 * typed points.
 *
 * - one measurement per device kind (`loudspeaker`, `camera`, ...), tags
 *   `commune`, `hamlet`, `device`, `role`; fields as the kind defines them, each
 *   with its fixed type (InfluxDB rejects a field whose type changes, so the
 *   kind's schema, not the JSON value, decides: 12 is written as a float where
 *   the field is a float);
 * - `device_state`: one point per state transition (tags as above plus `kind`;
 *   fields `state`, `state_code`, `reason`, `from`), for availability panels;
 * - `gateway_heartbeat`: one point per gateway heartbeat (tags `commune`,
 *   `gateway`; fields `run_id`, `up`), so gaps show when the gateway was off.
 *
 * Points are idempotent: the same row always gives the same measurement, tags
 * and timestamp, so a replay after a crash overwrites instead of duplicating.
 */
import type { DeviceState, FieldType } from '../../devices/define.js';
import { KINDS } from '../../devices/registry.js';
import type { Inventory } from '../pipeline/inventory.js';
import type { Settings } from '../settings/schema.js';
import type { SpoolRow } from '../store/store.js';
import type { SinkPoint } from './contract.js';

export const STATE_MEASUREMENT = 'device_state';
export const HEARTBEAT_MEASUREMENT = 'gateway_heartbeat';
/** Numeric state for graphs: higher is better; UNKNOWN is 0 (no data), not "down". */
export const STATE_CODE: Record<DeviceState, number> = { UNKNOWN: 0, DOWN: 1, DEGRADED: 2, UP: 3 };

/** Extra fields every device measurement may carry, besides the kind's own. */
export const FLAG_FIELDS: Record<string, FieldType> = {
  /** The device's timestamp was not trusted; the gateway's receipt time was used. */
  clock_restamped: 'boolean',
  /** A value was outside its plausible range (quality "uncertain"). */
  quality_uncertain: 'boolean',
};

export interface MeasurementSchema {
  measurement: string;
  tags: string[];
  fields: Record<string, FieldType>;
}

/** Every measurement the gateway writes, with its tags and typed fields. */
export function measurementSchemas(): MeasurementSchema[] {
  const deviceTags = ['commune', 'hamlet', 'device', 'role'];
  return [
    ...KINDS.map((k) => ({
      measurement: k.id,
      tags: deviceTags,
      fields: { ...Object.fromEntries(k.fields.map((f) => [f.name, f.type])), ...FLAG_FIELDS },
    })),
    {
      measurement: STATE_MEASUREMENT,
      tags: [...deviceTags, 'kind'],
      fields: { state: 'string', state_code: 'integer', reason: 'string', from: 'string' },
    },
    { measurement: HEARTBEAT_MEASUREMENT, tags: ['commune', 'gateway'], fields: { run_id: 'integer', up: 'boolean' } },
  ];
}

export class PointMapper {
  private readonly schemas = new Map(measurementSchemas().map((m) => [m.measurement, m]));
  constructor(
    private readonly settings: Settings,
    private readonly inventory: Inventory,
  ) {}

  toPoint(row: SpoolRow): SinkPoint | null {
    const commune = this.settings.commune.code;
    if (row.reading) {
      const r = row.reading;
      const schema = this.schemas.get(r.kind);
      if (!schema) return null; // a kind no longer in the registry
      const device = this.inventory.devices.get(r.deviceId);
      const fields: SinkPoint['fields'] = {};
      for (const [name, value] of Object.entries(r.fields)) {
        const type = schema.fields[name];
        if (type) fields[name] = { type, value };
      }
      if (r.tsSource === 'restamped') fields['clock_restamped'] = { type: 'boolean', value: true };
      if (r.quality === 'uncertain' && r.tsSource !== 'restamped') fields['quality_uncertain'] = { type: 'boolean', value: true };
      if (Object.keys(fields).length === 0) return null;
      return {
        measurement: r.kind,
        tags: { commune, hamlet: device?.hamlet ?? '', device: r.deviceId, role: device?.role ?? '' },
        fields,
        ts: r.ts,
      };
    }
    if (row.transition) {
      const t = row.transition;
      const device = this.inventory.devices.get(t.deviceId);
      return {
        measurement: STATE_MEASUREMENT,
        tags: { commune, hamlet: device?.hamlet ?? '', device: t.deviceId, role: device?.role ?? '', kind: device?.kind.id ?? '' },
        fields: {
          state: { type: 'string', value: t.to },
          state_code: { type: 'integer', value: STATE_CODE[t.to] },
          reason: { type: 'string', value: t.reason },
          from: { type: 'string', value: t.from ?? '' },
        },
        ts: t.ts,
      };
    }
    if (row.beat) {
      return {
        measurement: HEARTBEAT_MEASUREMENT,
        tags: { commune, gateway: this.settings.gateway.id },
        fields: { run_id: { type: 'integer', value: row.beat.runId }, up: { type: 'boolean', value: true } },
        ts: row.beat.ts,
      };
    }
    return null;
  }
}
