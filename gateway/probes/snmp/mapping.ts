/**
 * From varbinds to canonical fields, per profile. Pure functions (no sockets),
 * so the MIB arithmetic is tested with varbinds built in the test.
 *
 * An object the agent does not have (noSuchObject / noSuchInstance, RFC 3416
 * §4.2.1) leaves its field out and is reported in `missing`; it never fails the
 * whole round: a UPS card without upsEstimatedMinutesRemaining still says
 * whether it is on battery.
 */
import { worst, type Fields, type FieldValue, type Verdict } from '../../../devices/define.js';
import { kindById } from '../../../devices/registry.js';
import { counterValue, interfaceRates, type CounterSnapshot, type InterfaceCounters, type RateResult } from './counters.js';
import { ASN, HR_PROCESSOR_LOAD, IF, operStatusUp, SYS_UPTIME, UPS, UPS_OUTPUT_SOURCE } from './mibs.js';
import { PROFILE_KIND, type ExtraOid, type SnmpProfile, type SnmpTarget } from './settings.js';

/** A varbind as net-snmp returns it (value: number, Buffer, string or null). */
export interface Varbind {
  oid: string;
  type: number;
  value: unknown;
}

export interface ResolvedInterface {
  /** As configured: a name (ifName/ifDescr/ifAlias) or an ifIndex. */
  ref: string | number;
  ifIndex: number;
}

/** What the probe learned by walking tables once (redone after a restart or every few minutes). */
export interface Discovery {
  interfaces: ResolvedInterface[];
  /** Configured names no ifName/ifDescr/ifAlias matched. */
  unresolved: string[];
  /** Interface names the agent has (for the error's hint). */
  knownNames: string[];
  /** hrDeviceIndex of each processor in hrProcessorTable (empty: the agent has no hrProcessorLoad). */
  processors: number[];
  atMs: number;
}

export function isAbsent(vb: Varbind | undefined): boolean {
  return (
    vb === undefined ||
    vb.type === ASN.NoSuchObject ||
    vb.type === ASN.NoSuchInstance ||
    vb.type === ASN.EndOfMibView ||
    vb.type === ASN.Null ||
    vb.value === null ||
    vb.value === undefined
  );
}

/** A number from an integer-like varbind (Integer32, Gauge32, Counter32, TimeTicks, Counter64), or numeric text. */
export function numberOf(vb: Varbind | undefined): number | undefined {
  if (isAbsent(vb)) return undefined;
  const { type, value } = vb!;
  if (type === ASN.Counter64) {
    const c = counterValue(type, value);
    return c ? Number(c.value) : undefined;
  }
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  // Some vendor MIBs publish measurements as DisplayString ("23.5").
  if ((type === ASN.OctetString || type === ASN.Opaque) && Buffer.isBuffer(value)) {
    const text = textOf(vb);
    if (text !== undefined && /^\s*-?\d+(\.\d+)?\s*$/.test(text)) return Number(text);
  }
  return undefined;
}

/** Text of an OctetString (DisplayString is NVT ASCII, RFC 2579; UTF-8 is its superset in practice), trailing NULs cut. */
export function textOf(vb: Varbind | undefined): string | undefined {
  if (isAbsent(vb)) return undefined;
  const v = vb!.value;
  if (Buffer.isBuffer(v)) return v.toString('utf8').replace(/\0+$/, '');
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  return undefined;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** The OIDs one round GETs, given what discovery found. Walked extras (`walk`) are fetched apart. */
export function planOids(target: SnmpTarget, discovery: Discovery): string[] {
  const oids = [SYS_UPTIME];
  if (target.profile === 'if-mib' || target.profile === 'wifi-ap') {
    for (const { ifIndex } of discovery.interfaces) {
      oids.push(`${IF.ifOperStatus}.${ifIndex}`);
      // Both widths each round: a few bytes more, and no state about which one the agent has.
      if (target.profile === 'if-mib') {
        oids.push(`${IF.ifHCInOctets}.${ifIndex}`, `${IF.ifHCOutOctets}.${ifIndex}`, `${IF.ifInOctets}.${ifIndex}`, `${IF.ifOutOctets}.${ifIndex}`);
      }
    }
    for (const p of discovery.processors) oids.push(`${HR_PROCESSOR_LOAD}.${p}`);
  }
  if (target.profile === 'ups-mib') oids.push(...Object.values(UPS));
  for (const extra of Object.values(target.oids)) if (!extra.walk) oids.push(extra.oid);
  return [...new Set(oids)];
}

export interface RoundInput {
  target: SnmpTarget;
  discovery: Discovery;
  /** GET results by OID. */
  values: ReadonlyMap<string, Varbind>;
  /** Walked columns of `oids` entries with `walk`, by field. */
  walked: ReadonlyMap<string, Varbind[]>;
  prev: CounterSnapshot | undefined;
  /** Monotonic time of the response (ms). */
  atMs: number;
  latencyMs: number;
}

export interface RoundReading {
  fields: Fields;
  verdict: Verdict;
  /** MIB objects the agent did not have this round (their fields are left out). */
  missing: string[];
  snapshot: CounterSnapshot;
  /** if-mib only: the rate computation's outcome (why there is no rate this round). */
  rate: RateResult | undefined;
  /** Listed interfaces whose ifOperStatus instance is gone (renumbered or removed): rediscover. */
  vanished: (string | number)[];
  /** Interfaces that are down, by configured ref (for the log). */
  down: (string | number)[];
  /** A processor row is gone: rediscover. */
  processorsChanged: boolean;
}

const UP: Verdict = { state: 'UP', reason: 'ok' };

export function readRound(input: RoundInput): RoundReading {
  const { target, discovery, values } = input;
  const fields: Fields = { probe_ok: true, probe_latency_ms: round(input.latencyMs, 2) };
  const missing: string[] = [];
  let verdict = UP;

  const uptimeTicks = numberOf(values.get(SYS_UPTIME));
  if (uptimeTicks !== undefined) fields['uptime_s'] = Math.floor(uptimeTicks / 100);
  else missing.push('sysUpTime');

  // Interfaces: oper status, and (if-mib) counters.
  const vanished: (string | number)[] = [];
  const down: (string | number)[] = [];
  const snapshot: CounterSnapshot = { atMs: input.atMs, uptimeTicks, byIfIndex: new Map() };
  let linkUp: boolean | undefined;
  const present: number[] = [];
  if (target.profile === 'if-mib' || target.profile === 'wifi-ap') {
    let anyUnknown = false;
    for (const { ref, ifIndex } of discovery.interfaces) {
      const status = numberOf(values.get(`${IF.ifOperStatus}.${ifIndex}`));
      if (status === undefined) {
        vanished.push(ref);
        continue;
      }
      present.push(ifIndex);
      const up = operStatusUp(status);
      if (up === false) down.push(ref);
      if (up === undefined) anyUnknown = true;
      if (target.profile === 'if-mib') snapshot.byIfIndex.set(ifIndex, readCounters(values, ifIndex, missing));
    }
    if (down.length > 0) linkUp = false;
    else if (present.length > 0 && !anyUnknown) linkUp = true;
    if (linkUp !== undefined) fields[target.profile === 'if-mib' ? 'link_up' : 'uplink_up'] = linkUp;
    if (linkUp === false) verdict = worst(verdict, { state: 'DOWN', reason: target.profile === 'if-mib' ? 'link-down' : 'uplink-down' });
    if (discovery.unresolved.length > 0 || vanished.length > 0) verdict = worst(verdict, { state: 'DEGRADED', reason: 'interface-unknown' });
  }

  let rate: RateResult | undefined;
  if (target.profile === 'if-mib' && discovery.interfaces.length > 0) {
    // Only interfaces present this round take part; a vanished one forces a new baseline.
    rate = vanished.length > 0 ? { ok: false, why: 'counters-missing' } : interfaceRates(input.prev, snapshot, present);
    if (rate.ok) {
      fields['rx_mbps'] = round(rate.rxMbps, 3);
      fields['tx_mbps'] = round(rate.txMbps, 3);
    }
  }

  // CPU: HOST-RESOURCES-MIB hrProcessorLoad, the mean over processors (RFC 2790: per processor, last minute).
  let processorsChanged = false;
  if ((target.profile === 'if-mib' || target.profile === 'wifi-ap') && discovery.processors.length > 0) {
    const cpu = cpuPct(discovery.processors.map((p) => values.get(`${HR_PROCESSOR_LOAD}.${p}`)));
    processorsChanged = cpu.absent > 0;
    if (cpu.pct !== undefined) {
      fields['cpu_pct'] = cpu.pct;
      if (cpu.pct > target.cpuDegradedPct) verdict = worst(verdict, { state: 'DEGRADED', reason: 'cpu-high' });
    } else missing.push('hrProcessorLoad');
  }

  if (target.profile === 'ups-mib') {
    const ups = upsFields(values);
    Object.assign(fields, ups.fields);
    missing.push(...ups.missing);
    if (ups.outputOff) verdict = worst(verdict, { state: 'DOWN', reason: 'ups-output-off' });
  }

  const extras = extraFields(target.profile, target.oids, values, input.walked);
  Object.assign(fields, extras.fields);
  missing.push(...extras.missing);

  return { fields, verdict, missing, snapshot, rate, vanished, down, processorsChanged };
}

function readCounters(values: ReadonlyMap<string, Varbind>, ifIndex: number, missing: string[]): InterfaceCounters {
  const pick = (hc: string, legacy: string, name: string) => {
    const h = values.get(`${hc}.${ifIndex}`);
    const c64 = isAbsent(h) ? undefined : counterValue(h!.type, h!.value);
    if (c64) return c64;
    // No ifXTable (RFC 1213-era agents, some UPS cards and cheap switches): the 32-bit counter.
    const l = values.get(`${legacy}.${ifIndex}`);
    const c32 = isAbsent(l) ? undefined : counterValue(l!.type, l!.value);
    if (!c32) missing.push(name);
    return c32;
  };
  const out: InterfaceCounters = {};
  const i = pick(IF.ifHCInOctets, IF.ifInOctets, 'ifInOctets');
  const o = pick(IF.ifHCOutOctets, IF.ifOutOctets, 'ifOutOctets');
  if (i) out.in = i;
  if (o) out.out = o;
  return out;
}

/** Mean hrProcessorLoad (0..100) of the processors that answered; `absent` counts rows that are gone. */
export function cpuPct(varbinds: (Varbind | undefined)[]): { pct: number | undefined; absent: number } {
  let sum = 0;
  let n = 0;
  let absent = 0;
  for (const vb of varbinds) {
    const load = numberOf(vb);
    if (load === undefined || load < 0 || load > 100) {
      absent++;
      continue;
    }
    sum += load;
    n++;
  }
  return { pct: n > 0 ? round(sum / n, 2) : undefined, absent };
}

/**
 * RFC 1628 UPS-MIB → the power kind's fields.
 * upsOutputSource: battery(5) → on battery, mains lost (the UPS transfers when
 * the input fails or leaves tolerance); normal(3), bypass(4), booster(6),
 * reducer(7) → the output is fed from the mains (booster/reducer: the AVR is
 * correcting a low/high input, which input_v shows); none(2) → the output is
 * off: nothing is powered, whatever the mains does; other(1) says nothing.
 */
export function upsFields(values: ReadonlyMap<string, Varbind>): { fields: Fields; missing: string[]; outputOff: boolean } {
  const fields: Fields = {};
  const missing: string[] = [];
  let outputOff = false;
  const source = numberOf(values.get(UPS.upsOutputSource));
  if (source === undefined) missing.push('upsOutputSource');
  else if (source === UPS_OUTPUT_SOURCE.battery) {
    fields['on_battery'] = true;
    fields['mains_ok'] = false;
  } else if (
    source === UPS_OUTPUT_SOURCE.normal ||
    source === UPS_OUTPUT_SOURCE.bypass ||
    source === UPS_OUTPUT_SOURCE.booster ||
    source === UPS_OUTPUT_SOURCE.reducer
  ) {
    fields['on_battery'] = false;
    fields['mains_ok'] = true;
  } else if (source === UPS_OUTPUT_SOURCE.none) {
    fields['on_battery'] = false;
    outputOff = true;
  }
  const numeric: [keyof typeof UPS, string][] = [
    ['upsEstimatedChargeRemaining', 'battery_pct'], // INTEGER (0..100) percent
    ['upsEstimatedMinutesRemaining', 'runtime_min'], // PositiveInteger, minutes
    ['upsInputVoltage', 'input_v'], // NonNegativeInteger, RMS Volts
    ['upsOutputVoltage', 'output_v'], // NonNegativeInteger, RMS Volts
    ['upsOutputPercentLoad', 'load_pct'], // INTEGER (0..200) percent of rated capacity
  ];
  for (const [object, field] of numeric) {
    const v = numberOf(values.get(UPS[object]));
    if (v === undefined) missing.push(object);
    else fields[field] = v;
  }
  return { fields, missing, outputOff };
}

/** `oids` extras: scaled, mapped through `values`, coerced to the kind's field type. */
export function extraFields(
  profile: SnmpProfile,
  oids: Readonly<Record<string, ExtraOid>>,
  values: ReadonlyMap<string, Varbind>,
  walked: ReadonlyMap<string, Varbind[]>,
): { fields: Fields; missing: string[] } {
  const kind = kindById(PROFILE_KIND[profile]);
  const fields: Fields = {};
  const missing: string[] = [];
  for (const [field, spec] of Object.entries(oids)) {
    const type = kind?.fieldByName.get(field)?.type;
    let v: FieldValue | undefined;
    if (spec.walk) {
      const nums = (walked.get(field) ?? []).map(numberOf).filter((x): x is number => x !== undefined);
      v = nums.length > 0 ? combine(spec.walk, nums) * spec.scale : undefined;
    } else {
      const vb = values.get(spec.oid);
      if (spec.values) {
        const key = textOf(vb);
        v = key !== undefined ? spec.values[key] : undefined;
      } else if (type === 'string') {
        v = textOf(vb);
      } else {
        const n = numberOf(vb);
        v = n !== undefined ? n * spec.scale : undefined;
      }
    }
    if (v === undefined) {
      missing.push(field);
      continue;
    }
    // The kind's schema is strict about types: an integer field gets an integer.
    if (type === 'integer' && typeof v === 'number') v = Math.round(v);
    else if (type === 'float' && typeof v === 'number') v = round(v, 4);
    else if (type === 'string' && typeof v !== 'string') v = String(v);
    fields[field] = v;
  }
  return { fields, missing };
}

function combine(how: 'sum' | 'avg' | 'max' | 'min', nums: number[]): number {
  switch (how) {
    case 'sum':
      return nums.reduce((a, b) => a + b, 0);
    case 'avg':
      return nums.reduce((a, b) => a + b, 0) / nums.length;
    case 'max':
      return Math.max(...nums);
    case 'min':
      return Math.min(...nums);
  }
}
