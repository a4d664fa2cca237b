/**
 * The contract of a device kind.
 *
 * A kind is data assembled from small capabilities (zigbee-herdsman-converters'
 * `extend: [...]` idea): each capability brings its telemetry fields (with their
 * fixed type and unit, the unit in the field name) and, optionally, a piece of the
 * health rule. `defineKind` flattens them into one zod telemetry schema and one
 * health function. Vendor differences (topics, field names, scales) are not here:
 * they are mapped in config profiles and applied before the schema sees a payload.
 */
import { z } from 'zod';

export type HealthState = 'UP' | 'DEGRADED' | 'DOWN';
/** UNKNOWN = the gateway cannot tell (it was off, or the device was never seen). */
export type DeviceState = HealthState | 'UNKNOWN';
export const DEVICE_STATES: readonly DeviceState[] = ['UP', 'DEGRADED', 'DOWN', 'UNKNOWN'];

/** InfluxDB field types; a field's type never changes once defined (see issue 3). */
export type FieldType = 'float' | 'integer' | 'boolean' | 'string';
export type FieldValue = number | boolean | string;
export type Fields = Record<string, FieldValue>;

export interface Label {
  vi: string;
  en: string;
}

export interface FieldSpec {
  /** Canonical name, unit in the name: `supply_v`, `amp_temp_c`, `rsrp_dbm`. */
  name: string;
  type: FieldType;
  /** Display unit, e.g. `°C`, `V`, `dBm`, `%`. */
  unit?: string;
  label: Label;
  /**
   * Plausible physical range. A value outside it is kept but marks the reading's
   * quality `uncertain` (a sensor error such as 0xFFFF is not a real 6553.5 %).
   */
  min?: number;
  max?: number;
  /** For `string` fields: the allowed values. */
  values?: readonly string[];
}

export interface Verdict {
  state: HealthState;
  /** Short machine reason, kebab-case: `amp-overheat`, `on-battery`, `link-down`. */
  reason: string;
}

/** Per-device settings a health rule may consult (from the inventory). */
export interface HealthDevice {
  id: string;
  kind: string;
  role?: string | undefined;
}

export type HealthRule = (fields: Fields, device: HealthDevice) => Verdict | undefined;

export interface Capability {
  /** e.g. `heartbeat`, `cellular`, `supply`. */
  id: string;
  fields: FieldSpec[];
  /** Returns a verdict when this capability has something to say, else undefined. */
  health?: HealthRule;
  /** Expected reporting interval contributed by a `heartbeat()` capability. */
  heartbeatS?: number;
}

// ---------------------------------------------------------------------------
// Simulator contract
// ---------------------------------------------------------------------------

/** Fault modes the simulate runner can put a device in. */
export type SimFault =
  | 'none'
  | 'degrade' // values drift out of the healthy range (overheat, weak signal, high loss)
  | 'power' // the site lost mains power (UPS on battery, devices browning out)
  | 'flap'; // a link going up and down

export interface SimContext {
  deviceId: string;
  hamlet: string;
  role?: string | undefined;
  /** Deterministic PRNG in [0, 1), seeded per device. */
  rng: () => number;
}

export interface SimStep {
  /** Gateway-clock epoch milliseconds of this step. */
  now: number;
  /** Seconds since the previous step (0 on the first). */
  dtS: number;
  fault: SimFault;
}

export interface DeviceSimulator {
  /** Canonical telemetry for this step (the runner maps it through the profile). */
  next(step: SimStep): Fields;
}

export type SimulatorFactory = (ctx: SimContext) => DeviceSimulator;

// ---------------------------------------------------------------------------
// Kind definition
// ---------------------------------------------------------------------------

export interface KindInput {
  id: string;
  label: Label;
  /** Roles a device of this kind may have (`onestop`, `security`, `farm`, ...). */
  roles?: readonly string[];
  defaultRole?: string;
  capabilities: Capability[];
  /** Kind-specific rule, consulted after the capabilities; worst verdict wins. */
  health?: HealthRule;
  /**
   * Vendor-neutral normalisation of a decoded JSON object before validation
   * (e.g. `"online"`/`"offline"` strings to booleans). Vendor field names are
   * mapped by config profiles, not here.
   */
  normalize?: (raw: Record<string, unknown>) => Record<string, unknown>;
  simulator: SimulatorFactory;
}

export interface DeviceKind {
  id: string;
  label: Label;
  roles: readonly string[];
  defaultRole: string | undefined;
  capabilities: readonly Capability[];
  fields: readonly FieldSpec[];
  fieldByName: ReadonlyMap<string, FieldSpec>;
  /** Expected reporting interval (seconds); the health tracker times out at N× this. */
  heartbeatS: number;
  /** Telemetry schema: every field optional, types strict, unknown keys stripped. */
  schema: z.ZodType<Fields>;
  /**
   * The same validation as `schema`, compiled from the field specs for the per-message
   * path: the canonical fields and the implausible ones when `schema` certainly accepts
   * `raw`, else null (then `schema` decides and words the error). See `compileCheck`.
   */
  check: (raw: Record<string, unknown>) => { fields: Fields; implausible: readonly string[] } | null;
  normalize: (raw: Record<string, unknown>) => Record<string, unknown>;
  /** Worst verdict of the capabilities' and the kind's rules; UP when none objects. */
  health: (fields: Fields, device: HealthDevice) => Verdict;
  simulator: SimulatorFactory;
}

const SEVERITY: Record<HealthState, number> = { UP: 0, DEGRADED: 1, DOWN: 2 };

export function worst(a: Verdict, b: Verdict | undefined): Verdict {
  if (!b) return a;
  return SEVERITY[b.state] > SEVERITY[a.state] ? b : a;
}

function fieldSchema(spec: FieldSpec): z.ZodType<FieldValue> {
  switch (spec.type) {
    case 'float':
      return z.number().finite();
    case 'integer':
      return z.number().int();
    case 'boolean':
      return z.boolean();
    case 'string':
      return spec.values ? z.enum(spec.values as [string, ...string[]]) : z.string().max(256);
  }
}

export function defineKind(input: KindInput): DeviceKind {
  const fields: FieldSpec[] = [];
  const byName = new Map<string, FieldSpec>();
  for (const cap of input.capabilities) {
    for (const f of cap.fields) {
      const prior = byName.get(f.name);
      if (prior) {
        // Two capabilities may share a field only if they agree on its type:
        // InfluxDB rejects a field whose type flips.
        if (prior.type !== f.type) {
          throw new Error(`kind ${input.id}: field ${f.name} defined twice with different types`);
        }
        continue;
      }
      byName.set(f.name, f);
      fields.push(f);
    }
  }
  const shape: Record<string, z.ZodType> = {};
  for (const f of fields) shape[f.name] = fieldSchema(f).optional();
  const schema = z
    .object(shape)
    .refine((o) => Object.values(o).some((v) => v !== undefined), {
      message: `no known telemetry field; expected one of: ${fields.map((f) => f.name).join(', ')}`,
    }) as unknown as z.ZodType<Fields>;

  const heartbeatS = input.capabilities.find((c) => c.heartbeatS !== undefined)?.heartbeatS ?? 60;
  const rules: HealthRule[] = input.capabilities.flatMap((c) => (c.health ? [c.health] : []));
  if (input.health) rules.push(input.health);

  return {
    id: input.id,
    label: input.label,
    roles: input.roles ?? [],
    defaultRole: input.defaultRole ?? input.roles?.[0],
    capabilities: input.capabilities,
    fields,
    fieldByName: byName,
    heartbeatS,
    schema,
    check: compileCheck(fields),
    normalize: input.normalize ?? ((raw) => raw),
    health(values, device) {
      let verdict: Verdict = { state: 'UP', reason: 'ok' };
      for (const rule of rules) verdict = worst(verdict, rule(values, device));
      return verdict;
    },
    simulator: input.simulator,
  };
}

const NONE: readonly string[] = Object.freeze([]);

function outOfRange(spec: { min?: number | undefined; max?: number | undefined }, v: number): boolean {
  return (spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max);
}

/** A value outside a field's plausible range (used to flag reading quality). */
export function implausibleFields(kind: DeviceKind, values: Fields): readonly string[] {
  let out: string[] | null = null;
  for (const name in values) {
    const spec = kind.fieldByName.get(name);
    const v = values[name];
    if (spec && typeof v === 'number' && outOfRange(spec, v)) (out ??= []).push(name);
  }
  return out ?? NONE;
}

/**
 * The kind's telemetry validation without zod's per-call allocations (its parse
 * context, issue list, result and output objects were a quarter of everything the
 * gateway allocated per message at the realistic bench load, and the garbage is
 * what grows the heap between collections). It implements exactly what
 * `fieldSchema` + `z.object(shape).refine(...)` accept, for the rules zod v4 applies:
 * `z.number()` rejects NaN and ±Infinity, `.int()` means a safe integer, absent or
 * undefined optional fields are skipped, unknown keys are stripped, and at least one
 * known field must be present. It only answers "certainly valid": anything else
 * returns null and the zod schema decides, so a rejection always carries zod's
 * message; the one valid case it leaves to zod is a free text of more than 256 UTF-16
 * units (zod's `.max(256)` counts code points). test/devices/check.test.ts holds the
 * two to the same verdict and output on every kind.
 */
function compileCheck(specs: readonly FieldSpec[]): DeviceKind['check'] {
  const rules = specs.map((f) => ({
    name: f.name,
    type: f.type,
    values: f.type === 'string' && f.values ? new Set<string>(f.values) : null,
    min: f.min,
    max: f.max,
  }));
  return (raw) => {
    let fields: Fields | null = null;
    let implausible: string[] | null = null;
    for (const r of rules) {
      const v = raw[r.name];
      if (v === undefined) continue;
      switch (r.type) {
        case 'float':
          if (typeof v !== 'number' || !Number.isFinite(v)) return null;
          break;
        case 'integer':
          if (typeof v !== 'number' || !Number.isSafeInteger(v)) return null;
          break;
        case 'boolean':
          if (typeof v !== 'boolean') return null;
          break;
        case 'string':
          // Over 256 UTF-16 units it may still fit zod's 256 code points: zod counts those.
          if (typeof v !== 'string' || (r.values ? !r.values.has(v) : v.length > 256)) return null;
          break;
      }
      if (typeof v === 'number' && outOfRange(r, v)) (implausible ??= []).push(r.name);
      (fields ??= {})[r.name] = v;
    }
    return fields ? { fields, implausible: implausible ?? NONE } : null;
  };
}
