/**
 * From OPC UA data changes to canonical device fields, without node-opcua (so it is
 * unit-tested without a server): value conversion by the field's type, StatusCode
 * severity, coalescing per device per publish notification, the latest good values
 * a keep-alive re-sends, and the verdict a device gets when some of its nodes are
 * unusable.
 */
import type { FieldType, FieldValue, Verdict } from '../../../devices/define.js';
import { CodedError } from '../../errors.js';

/** One configured item, resolved against the inventory. */
export interface ItemBinding {
  /** Position in `opcua.servers[].items` (and in the monitored item group). */
  index: number;
  deviceId: string;
  field: string;
  fieldType: FieldType;
  /** As configured (for logs: the officer recognises it). */
  nodeId: string;
  scale: number | undefined;
}

/** The parts of an OPC UA DataValue (Part 4 §7.7) used here; node-opcua's DataValue fits. */
export interface DataValueLike {
  value: { dataType: number; arrayType?: number; value: unknown } | null | undefined;
  statusCode: { value: number; name?: string };
  sourceTimestamp?: Date | null;
  serverTimestamp?: Date | null;
}

/** OPC UA Part 6 §5.1.2 built-in type ids (node-opcua's DataType enum has the same numbers). */
export const DATA_TYPE = {
  Boolean: 1,
  SByte: 2,
  Byte: 3,
  Int16: 4,
  UInt16: 5,
  Int32: 6,
  UInt32: 7,
  Int64: 8,
  UInt64: 9,
  Float: 10,
  Double: 11,
  String: 12,
} as const;
const INTEGER_TYPES = new Set<number>([2, 3, 4, 5, 6, 7, 8, 9]);
const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DATA_TYPE).map(([k, v]) => [v, k]));

export type Quality = 'good' | 'uncertain' | 'bad';

/**
 * OPC UA Part 4 §7.39: the two most significant bits of a StatusCode are its
 * severity: 00 Good, 01 Uncertain, 10 Bad (11 is reserved, treated as Bad).
 */
export function severity(statusCode: number): Quality {
  const s = (statusCode >>> 30) & 0b11;
  return s === 0 ? 'good' : s === 1 ? 'uncertain' : 'bad';
}

export function statusName(code: { value: number; name?: string }): string {
  return code.name && code.name !== '' ? code.name : `0x${(code.value >>> 0).toString(16).padStart(8, '0')}`;
}

/** Why a value was left out: its status (bad / uncertain) or its type does not fit the field. */
export type DropReason = 'bad' | 'uncertain' | 'type';

export type Conversion = { ok: true; value: FieldValue } | { ok: false; reason: DropReason; detail: string };

/** IEEE 754 binary32 carries about 7.2 significant decimal digits: 0.1f is 0.100000001490116… */
function fromFloat32(x: number): number {
  return Number(x.toPrecision(7));
}

/** node-opcua carries Int64/UInt64 as [high, low] 32-bit words. */
function int64ToNumber(v: unknown, signed: boolean): number | undefined {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'number') return undefined;
  const high = signed ? v[0] | 0 : v[0] >>> 0;
  return high * 2 ** 32 + (v[1] >>> 0);
}

function numericValue(dataType: number, raw: unknown): number | undefined {
  if (dataType === DATA_TYPE.Int64 || dataType === DATA_TYPE.UInt64) return int64ToNumber(raw, dataType === DATA_TYPE.Int64);
  if (typeof raw !== 'number') return undefined;
  return dataType === DATA_TYPE.Float ? fromFloat32(raw) : raw;
}

/**
 * The canonical value of one DataValue for its field, or why it is left out.
 *
 * Uncertain values (Part 4 §7.39: "the value is uncertain", e.g.
 * Uncertain_LastUsableValue when the PLC lost its sensor and repeats the last
 * reading, Uncertain_SensorNotAccurate) are left out like Bad ones and counted
 * apart: the store has no per-field quality, and storing a repeated last value as a
 * fresh fact would hide exactly the failure the officer needs to see. The device is
 * marked DEGRADED (opcua-bad-value) meanwhile.
 */
export function convertValue(binding: ItemBinding, dv: DataValueLike): Conversion {
  const quality = severity(dv.statusCode.value);
  if (quality !== 'good') return { ok: false, reason: quality, detail: statusName(dv.statusCode) };
  const variant = dv.value;
  if (!variant || variant.value === null || variant.value === undefined) return { ok: false, reason: 'type', detail: 'empty value (Null variant)' };
  const typeName = TYPE_NAMES[variant.dataType] ?? `DataType ${variant.dataType}`;
  const isInt64 = variant.dataType === DATA_TYPE.Int64 || variant.dataType === DATA_TYPE.UInt64;
  if ((variant.arrayType !== undefined && variant.arrayType !== 0) || (!isInt64 && (Array.isArray(variant.value) || ArrayBuffer.isView(variant.value)))) {
    return { ok: false, reason: 'type', detail: `${typeName} array, expected a scalar for ${binding.fieldType} ${binding.field}` };
  }
  const mismatch = (why = ''): Conversion => ({ ok: false, reason: 'type', detail: `${typeName} ${why}cannot feed ${binding.fieldType} field ${binding.field}` });

  switch (binding.fieldType) {
    case 'boolean': {
      if (variant.dataType === DATA_TYPE.Boolean && typeof variant.value === 'boolean') return { ok: true, value: variant.value };
      // A BOOL exposed as a Byte/Int (common with older PLCs and gateways): 0 or 1 only.
      if (INTEGER_TYPES.has(variant.dataType)) {
        const n = numericValue(variant.dataType, variant.value);
        if (n === 0 || n === 1) return { ok: true, value: n === 1 };
        return mismatch(`value ${String(n)} `);
      }
      return mismatch();
    }
    case 'float':
    case 'integer': {
      if (!INTEGER_TYPES.has(variant.dataType) && variant.dataType !== DATA_TYPE.Float && variant.dataType !== DATA_TYPE.Double) return mismatch();
      const n = numericValue(variant.dataType, variant.value);
      if (n === undefined || !Number.isFinite(n)) return mismatch(`value ${String(n)} (not a finite number) `);
      let v = binding.scale === undefined ? n : n * binding.scale;
      // Scaling 0.1 × 4213 gives 421.30000000000007: keep the digits the source had.
      if (binding.scale !== undefined) v = Number(v.toPrecision(12));
      if (binding.fieldType === 'integer') v = Math.round(v);
      return { ok: true, value: v };
    }
    case 'string': {
      if (variant.dataType === DATA_TYPE.String && typeof variant.value === 'string') return { ok: true, value: variant.value };
      return mismatch();
    }
  }
}

/** One data change of one monitored item, by its position in the configured items. */
export interface ItemChange {
  index: number;
  dataValue: DataValueLike;
}

/** What to submit for one device. */
export interface DeviceUpdate {
  deviceId: string;
  fields: Record<string, FieldValue>;
  /** Epoch ms: the newest SourceTimestamp of the values when it is fresh; else the gateway stamps the reading. */
  ts: number | undefined;
  verdict: Verdict | undefined;
}

export interface DroppedValue {
  binding: ItemBinding;
  reason: DropReason;
  detail: string;
}

export interface ItemTableOptions {
  /** Devices whose kind has a `plc_online` field (the gateway sets it from the session state). */
  plcOnlineDevices: ReadonlySet<string>;
  /**
   * A SourceTimestamp older than this is the time the value last CHANGED (the
   * initial report of a steady tag after subscribing: Part 4 §5.12.1.2 sends the
   * current value with its original timestamp), not the time it was observed: the
   * gateway stamps such a reading itself.
   */
  freshWindowMs: number;
}

type ItemState = 'pending' | 'monitored' | 'rejected';

/**
 * The items of one server and what is known about them. Pure state, no timers:
 * the source feeds it notifications and asks what to submit.
 */
export class ItemTable {
  readonly bindings: readonly ItemBinding[];
  private readonly opts: ItemTableOptions;
  private readonly state: ItemState[];
  /** Last status of each item's values: good, or why its last value was dropped. */
  private readonly lastQuality: (Quality | 'type')[];
  private readonly latest = new Map<string, Map<string, FieldValue>>();
  private readonly byDevice = new Map<string, ItemBinding[]>();

  constructor(bindings: ItemBinding[], opts: ItemTableOptions) {
    this.bindings = bindings;
    this.opts = opts;
    this.state = bindings.map(() => 'pending');
    this.lastQuality = bindings.map(() => 'good');
    for (const b of bindings) {
      const list = this.byDevice.get(b.deviceId) ?? [];
      list.push(b);
      this.byDevice.set(b.deviceId, list);
    }
  }

  devices(): string[] {
    return [...this.byDevice.keys()];
  }

  /**
   * A new session: every item is monitored again, so its acceptance is not known
   * yet, and values from before the outage are not current any more (the server
   * sends every item's current value first).
   */
  resetSession(): void {
    this.state.fill('pending');
    this.lastQuality.fill('good');
    this.latest.clear();
  }

  setMonitored(index: number): void {
    this.state[index] = 'monitored';
  }

  /** The server refused to monitor the node (BadNodeIdUnknown, ...): the good items keep working. */
  setRejected(index: number): void {
    this.state[index] = 'rejected';
    const b = this.bindings[index]!;
    this.latest.get(b.deviceId)?.delete(b.field);
  }

  rejected(): ItemBinding[] {
    return this.bindings.filter((_, i) => this.state[i] === 'rejected');
  }

  /** Items the server accepted, of one device or of all. */
  monitoredCount(deviceId?: string): number {
    return this.bindings.filter((b, i) => this.state[i] === 'monitored' && (deviceId === undefined || b.deviceId === deviceId)).length;
  }

  /**
   * The changes of one publish notification, coalesced into one update per device
   * (one Reading instead of one per tag), and the values left out.
   */
  apply(changes: readonly ItemChange[], now: number): { updates: DeviceUpdate[]; dropped: DroppedValue[] } {
    const dropped: DroppedValue[] = [];
    const touched = new Map<string, { fields: Record<string, FieldValue>; newestSource: number | undefined }>();
    for (const { index, dataValue } of changes) {
      const binding = this.bindings[index];
      if (!binding || this.state[index] === 'rejected') continue;
      const entry = touched.get(binding.deviceId) ?? { fields: {}, newestSource: undefined };
      touched.set(binding.deviceId, entry);
      const latest = this.latestOf(binding.deviceId);
      const conv = convertValue(binding, dataValue);
      if (!conv.ok) {
        this.lastQuality[index] = conv.reason;
        latest.delete(binding.field);
        // A later value of the same field in this notification may still arrive good.
        delete entry.fields[binding.field];
        dropped.push({ binding, reason: conv.reason, detail: conv.detail });
        continue;
      }
      this.lastQuality[index] = 'good';
      latest.set(binding.field, conv.value);
      entry.fields[binding.field] = conv.value;
      const src = dataValue.sourceTimestamp?.getTime();
      if (src !== undefined && Number.isFinite(src) && (entry.newestSource === undefined || src > entry.newestSource)) entry.newestSource = src;
    }
    const updates: DeviceUpdate[] = [];
    for (const [deviceId, { fields, newestSource }] of touched) {
      const out = this.withPlcOnline(deviceId, fields);
      // Only drops: still submitted with plc_online, so the verdict (opcua-bad-value)
      // reaches the health tracker; a kind without plc_online gets it with its next values.
      if (Object.keys(out).length === 0) continue;
      const fresh = newestSource !== undefined && newestSource >= now - this.opts.freshWindowMs ? newestSource : undefined;
      updates.push({ deviceId, fields: out, ts: fresh, verdict: this.verdict(deviceId) });
    }
    return { updates, dropped };
  }

  /**
   * The keep-alive of a device while the session is alive: its latest good values
   * and plc_online true, so a steady pump is not taken for a silent one. Undefined
   * when there is nothing to send.
   */
  keepAlive(deviceId: string): DeviceUpdate | undefined {
    const fields = this.withPlcOnline(deviceId, Object.fromEntries(this.latestOf(deviceId)));
    if (Object.keys(fields).length === 0) return undefined;
    return { deviceId, fields, ts: undefined, verdict: this.verdict(deviceId) };
  }

  /** The session is lost: what to submit for the device (undefined when its kind has no plc_online). */
  offline(deviceId: string): DeviceUpdate | undefined {
    if (!this.opts.plcOnlineDevices.has(deviceId)) return undefined;
    return { deviceId, fields: { plc_online: false }, ts: undefined, verdict: undefined };
  }

  /** DEGRADED when some of the device's nodes cannot be used: the officer must look at the mapping or the PLC. */
  verdict(deviceId: string): Verdict | undefined {
    const items = this.byDevice.get(deviceId) ?? [];
    if (items.some((b) => this.state[b.index] === 'rejected')) return { state: 'DEGRADED', reason: 'opcua-node-rejected' };
    if (items.some((b) => this.lastQuality[b.index] !== 'good')) return { state: 'DEGRADED', reason: 'opcua-bad-value' };
    return undefined;
  }

  private withPlcOnline(deviceId: string, fields: Record<string, FieldValue>): Record<string, FieldValue> {
    return this.opts.plcOnlineDevices.has(deviceId) ? { ...fields, plc_online: true } : fields;
  }

  private latestOf(deviceId: string): Map<string, FieldValue> {
    let m = this.latest.get(deviceId);
    if (!m) {
      m = new Map();
      this.latest.set(deviceId, m);
    }
    return m;
  }
}

/**
 * A coded error from whatever node-opcua threw. Its errors carry the StatusCode
 * name in their message (OPC UA Part 6 Annex A names: BadUserAccessDenied, ...).
 */
export function classifyOpcuaError(err: unknown): CodedError {
  if (err instanceof CodedError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const detail = message.replace(/\s+/g, ' ').trim().slice(0, 300);
  if (/BadUserAccessDenied|BadIdentityToken(Invalid|Rejected)|BadUserSignatureInvalid|BadIdentityChangeNotSupported/.test(message)) {
    return new CodedError('CE_OPCUA_AUTH', detail);
  }
  if (/Cannot find an Endpoint matching|BadSecurity(Policy|Mode)Rejected|BadSecurityChecksFailed|BadCertificate|BadNoValidCertificates|certificate/i.test(message)) {
    return new CodedError('CE_OPCUA_SECURITY', detail);
  }
  return new CodedError('CE_OPCUA_CONNECT', detail);
}
