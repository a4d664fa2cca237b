/**
 * The SNMP probe's arithmetic and mappings, from varbinds built here (the same
 * shapes net-snmp returns): counter deltas and rates (32-bit wrap, agent
 * restart), IF-MIB link state, hrProcessorLoad, RFC 1628 UPS-MIB, vendor OIDs,
 * and the mapping of net-snmp errors to coded outcomes. The real agent is in
 * test/integration/snmp.integration.test.ts.
 */
import snmp from 'net-snmp';
import { describe, expect, it } from 'vitest';
import { decodeFields } from '../devices/decode.js';
import { kindById } from '../devices/registry.js';
import { counterDelta, counterValue, interfaceRates, mbps, type CounterSnapshot } from '../gateway/probes/snmp/counters.js';
import { ASN, HR_PROCESSOR_LOAD, IF, SYS_UPTIME, UPS } from '../gateway/probes/snmp/mibs.js';
import { cpuPct, extraFields, planOids, readRound, upsFields, type Discovery, type Varbind } from '../gateway/probes/snmp/mapping.js';
import { failureOutcome } from '../gateway/probes/snmp/probe.js';
import { SnmpTargetSchema, type SnmpTarget } from '../gateway/probes/snmp/settings.js';

const c64 = (n: bigint): Varbind['value'] => {
  // BER content octets of a non-negative INTEGER: minimal, with a leading 0x00 when the top bit is set.
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = '00' + hex;
  return Buffer.from(hex, 'hex');
};
const vb = (oid: string, type: number, value: unknown): Varbind => ({ oid, type, value });
const absent = (oid: string, type: number = ASN.NoSuchInstance): Varbind => ({ oid, type, value: null });
const byOid = (...vbs: Varbind[]) => new Map(vbs.map((v) => [v.oid, v]));

function target(over: Record<string, unknown>): SnmpTarget {
  return SnmpTargetSchema.parse({ type: 'snmp', device: 'fw-01', host: '127.0.0.1', version: '2c', community: 'c', profile: 'if-mib', ...over });
}
const discovery = (over: Partial<Discovery> = {}): Discovery => ({
  interfaces: [{ ref: 'igb0', ifIndex: 1 }],
  unresolved: [],
  knownNames: ['igb0', 'igb1'],
  processors: [],
  atMs: 0,
  ...over,
});

describe('counter deltas', () => {
  it('a growing counter gives its difference', () => {
    expect(counterDelta({ value: 1000n, bits: 64 }, { value: 251_000n, bits: 64 })).toBe(250_000n);
  });
  it('a 32-bit counter that went down wrapped once at 2^32 (RFC 2578 §7.1.6)', () => {
    expect(counterDelta({ value: 4_294_967_000n, bits: 32 }, { value: 704n, bits: 32 })).toBe(1000n);
  });
  it('a 64-bit counter that went down was reset: no delta', () => {
    expect(counterDelta({ value: 5_000_000n, bits: 64 }, { value: 12n, bits: 64 })).toBeUndefined();
  });
  it('samples of different widths are not compared', () => {
    expect(counterDelta({ value: 10n, bits: 32 }, { value: 20n, bits: 64 })).toBeUndefined();
  });
  it('Mbit/s: 1,250,000 octets in 1 s is 10 Mbit/s; no interval, no rate', () => {
    expect(mbps(1_250_000n, 1000)).toBe(10);
    expect(mbps(1_250_000n, 0)).toBeUndefined();
  });
});

describe('counterValue', () => {
  it('decodes a Counter64 Buffer (big-endian, leading 0x00) beyond 2^53', () => {
    const big = (1n << 63n) + 12345n;
    expect(counterValue(ASN.Counter64, c64(big))).toEqual({ value: big, bits: 64 });
    expect(counterValue(ASN.Counter64, Buffer.from([0x04, 0x31, 0x03, 0x48, 0x0b]))).toEqual({ value: 0x043103480bn, bits: 64 });
  });
  it('takes a Counter32 number, refuses other types and oversize buffers', () => {
    expect(counterValue(ASN.Counter32, 4_294_967_295)).toEqual({ value: 4_294_967_295n, bits: 32 });
    expect(counterValue(ASN.Gauge32, 5)).toBeUndefined();
    expect(counterValue(ASN.Counter64, Buffer.alloc(10, 1))).toBeUndefined();
  });
});

describe('interfaceRates', () => {
  const snap = (atMs: number, uptimeTicks: number, inOct: bigint, outOct: bigint, bits: 32 | 64 = 64): CounterSnapshot => ({
    atMs,
    uptimeTicks,
    byIfIndex: new Map([[1, { in: { value: inOct, bits }, out: { value: outOct, bits } }]]),
  });

  it('no rate from the first sample', () => {
    expect(interfaceRates(undefined, snap(0, 100, 0n, 0n), [1])).toEqual({ ok: false, why: 'first-sample' });
  });
  it('rates over the interval: 12.5 MB in and 2.5 MB out in 10 s = 10 and 2 Mbit/s', () => {
    const r = interfaceRates(snap(0, 100, 1_000n, 0n), snap(10_000, 1_100, 12_501_000n, 2_500_000n), [1]);
    expect(r).toEqual({ ok: true, rxMbps: 10, txMbps: 2 });
  });
  it('a 32-bit counter wrapping between rounds still gives the right rate', () => {
    const r = interfaceRates(snap(0, 100, 4_294_000_000n, 10n, 32), snap(1000, 200, 283_000n, 125_010n, 32), [1]);
    // (2^32 - 4,294,000,000 + 283,000) octets = 1,250,296 octets in 1 s
    expect(r.ok && r.rxMbps).toBeCloseTo((1_250_296 * 8) / 1e6, 9);
    expect(r.ok && r.txMbps).toBe(1);
  });
  it('sysUpTime going backwards (agent restarted): no rate that round, even though counters look fine', () => {
    expect(interfaceRates(snap(0, 90_000, 1_000n, 1_000n), snap(10_000, 300, 9_000n, 9_000n), [1])).toEqual({ ok: false, why: 'agent-restarted' });
  });
  it('a reset 64-bit counter without a restart visible is a counter-reset', () => {
    expect(interfaceRates(snap(0, 100, 9_000n, 9_000n), snap(10_000, 1_100, 10n, 9_500n), [1])).toEqual({ ok: false, why: 'counter-reset' });
  });
  it('sums several interfaces, all or nothing', () => {
    const prev: CounterSnapshot = {
      atMs: 0,
      uptimeTicks: 0,
      byIfIndex: new Map([
        [1, { in: { value: 0n, bits: 64 }, out: { value: 0n, bits: 64 } }],
        [2, { in: { value: 0n, bits: 32 }, out: { value: 0n, bits: 32 } }],
      ]),
    };
    const cur: CounterSnapshot = {
      atMs: 1000,
      uptimeTicks: 100,
      byIfIndex: new Map([
        [1, { in: { value: 125_000n, bits: 64 }, out: { value: 0n, bits: 64 } }],
        [2, { in: { value: 250_000n, bits: 32 }, out: { value: 125_000n, bits: 32 } }],
      ]),
    };
    expect(interfaceRates(prev, cur, [1, 2])).toEqual({ ok: true, rxMbps: 3, txMbps: 1 });
    cur.byIfIndex.set(2, { in: { value: 250_000n, bits: 32 } });
    expect(interfaceRates(prev, cur, [1, 2])).toEqual({ ok: false, why: 'counters-missing' });
  });
});

describe('readRound, if-mib (firewall WAN port)', () => {
  const t = target({ interfaces: ['igb0'], cpuDegradedPct: 80 });
  const round = (uptime: number, oper: number, hcIn: bigint, hcOut: bigint, extra: Varbind[] = []) =>
    byOid(
      vb(SYS_UPTIME, ASN.TimeTicks, uptime),
      vb(`${IF.ifOperStatus}.1`, ASN.Integer, oper),
      vb(`${IF.ifHCInOctets}.1`, ASN.Counter64, c64(hcIn)),
      vb(`${IF.ifHCOutOctets}.1`, ASN.Counter64, c64(hcOut)),
      vb(`${IF.ifInOctets}.1`, ASN.Counter32, Number(hcIn % (1n << 32n))),
      vb(`${IF.ifOutOctets}.1`, ASN.Counter32, Number(hcOut % (1n << 32n))),
      ...extra,
    );

  it('plans one GET with sysUpTime, the interface objects and the processors', () => {
    expect(planOids(t, discovery({ processors: [196608] }))).toEqual([
      SYS_UPTIME,
      `${IF.ifOperStatus}.1`,
      `${IF.ifHCInOctets}.1`,
      `${IF.ifHCOutOctets}.1`,
      `${IF.ifInOctets}.1`,
      `${IF.ifOutOctets}.1`,
      `${HR_PROCESSOR_LOAD}.196608`,
    ]);
  });

  it('first round: link up, uptime, no rate yet; second round: rates from the 64-bit counters', () => {
    const first = readRound({ target: t, discovery: discovery(), values: round(123_456, 1, 5_000_000_000n, 1_000n), walked: new Map(), prev: undefined, atMs: 0, latencyMs: 1.234 });
    expect(first.fields).toEqual({ probe_ok: true, probe_latency_ms: 1.23, uptime_s: 1234, link_up: true });
    expect(first.verdict).toEqual({ state: 'UP', reason: 'ok' });
    expect(first.rate).toEqual({ ok: false, why: 'first-sample' });

    // 62.5 MB in, 12.5 MB out over 5 s: 100 and 20 Mbit/s (the 64-bit counter is above 2^32).
    const second = readRound({
      target: t,
      discovery: discovery(),
      values: round(124_456, 1, 5_062_500_000n, 12_501_000n),
      walked: new Map(),
      prev: first.snapshot,
      atMs: 5000,
      latencyMs: 2,
    });
    expect(second.fields).toMatchObject({ link_up: true, rx_mbps: 100, tx_mbps: 20, uptime_s: 1244 });
    expect(second.missing).toEqual([]);
    // The kind accepts every field under its own name and type (the schema strips unknown keys).
    const decoded = decodeFields(kindById('network')!, second.fields);
    expect(decoded.ok && decoded.fields).toEqual(second.fields);
  });

  it('falls back to the 32-bit counters when the agent has no ifXTable', () => {
    const noHc = (uptime: number, inOct: number) =>
      byOid(
        vb(SYS_UPTIME, ASN.TimeTicks, uptime),
        vb(`${IF.ifOperStatus}.1`, ASN.Integer, 1),
        absent(`${IF.ifHCInOctets}.1`, ASN.NoSuchObject),
        absent(`${IF.ifHCOutOctets}.1`, ASN.NoSuchObject),
        vb(`${IF.ifInOctets}.1`, ASN.Counter32, inOct),
        vb(`${IF.ifOutOctets}.1`, ASN.Counter32, 0),
      );
    const a = readRound({ target: t, discovery: discovery(), values: noHc(100, 4_294_967_000), walked: new Map(), prev: undefined, atMs: 0, latencyMs: 1 });
    const b = readRound({ target: t, discovery: discovery(), values: noHc(200, 124_704), walked: new Map(), prev: a.snapshot, atMs: 1000, latencyMs: 1 });
    expect(b.fields['rx_mbps']).toBe(1); // 125,000 octets across the wrap in 1 s
    expect(b.missing).toEqual([]);
  });

  it('an agent restart between rounds gives no rate (and the probe rediscovers)', () => {
    const a = readRound({ target: t, discovery: discovery(), values: round(900_000, 1, 10_000n, 10_000n), walked: new Map(), prev: undefined, atMs: 0, latencyMs: 1 });
    const b = readRound({ target: t, discovery: discovery(), values: round(250, 1, 20_000n, 20_000n), walked: new Map(), prev: a.snapshot, atMs: 10_000, latencyMs: 1 });
    expect(b.rate).toEqual({ ok: false, why: 'agent-restarted' });
    expect(b.fields['rx_mbps']).toBeUndefined();
    expect(b.fields['uptime_s']).toBe(2);
  });

  it('ifOperStatus down(2) → link_up false, DOWN link-down; lowerLayerDown(7) too; dormant(5) is up', () => {
    for (const [status, up] of [
      [2, false],
      [7, false],
      [5, true],
    ] as const) {
      const r = readRound({ target: t, discovery: discovery(), values: round(100, status, 0n, 0n), walked: new Map(), prev: undefined, atMs: 0, latencyMs: 1 });
      expect(r.fields['link_up']).toBe(up);
      expect(r.verdict).toEqual(up ? { state: 'UP', reason: 'ok' } : { state: 'DOWN', reason: 'link-down' });
    }
  });

  it('CPU: mean hrProcessorLoad; above cpuDegradedPct is DEGRADED cpu-high; a gone processor row is noted', () => {
    const d = discovery({ processors: [196608, 196609] });
    const hot = readRound({
      target: t,
      discovery: d,
      values: round(100, 1, 0n, 0n, [vb(`${HR_PROCESSOR_LOAD}.196608`, ASN.Integer, 95), vb(`${HR_PROCESSOR_LOAD}.196609`, ASN.Integer, 70)]),
      walked: new Map(),
      prev: undefined,
      atMs: 0,
      latencyMs: 1,
    });
    expect(hot.fields['cpu_pct']).toBe(82.5);
    expect(hot.verdict).toEqual({ state: 'DEGRADED', reason: 'cpu-high' });
    expect(cpuPct([vb('x', ASN.Integer, 10), absent('y')])).toEqual({ pct: 10, absent: 1 });
  });

  it('a vanished interface (noSuchInstance) and an unresolved name: DEGRADED interface-unknown, other fields kept', () => {
    const values = byOid(vb(SYS_UPTIME, ASN.TimeTicks, 100), absent(`${IF.ifOperStatus}.1`));
    const r = readRound({ target: t, discovery: discovery({ unresolved: ['wan'] }), values, walked: new Map(), prev: undefined, atMs: 0, latencyMs: 1 });
    expect(r.vanished).toEqual(['igb0']);
    expect(r.verdict).toEqual({ state: 'DEGRADED', reason: 'interface-unknown' });
    expect(r.fields).toEqual({ probe_ok: true, probe_latency_ms: 1, uptime_s: 1 });
  });
});

describe('RFC 1628 UPS-MIB', () => {
  const ups = (source: number | null, more: Partial<Record<keyof typeof UPS, number | null>> = {}) => {
    const v = { upsEstimatedChargeRemaining: 64, upsEstimatedMinutesRemaining: 23, upsInputVoltage: 0, upsOutputVoltage: 229, upsOutputPercentLoad: 41, ...more };
    return byOid(
      source === null ? absent(UPS.upsOutputSource, ASN.NoSuchObject) : vb(UPS.upsOutputSource, ASN.Integer, source),
      ...Object.entries(v).map(([k, n]) => {
        const oid = UPS[k as keyof typeof UPS];
        return n === null ? absent(oid, ASN.NoSuchObject) : vb(oid, ASN.Integer, n);
      }),
    );
  };

  it('battery(5): on battery, mains lost, with charge, runtime, voltages and load', () => {
    const r = upsFields(ups(5));
    expect(r.fields).toEqual({ on_battery: true, mains_ok: false, battery_pct: 64, runtime_min: 23, input_v: 0, output_v: 229, load_pct: 41 });
    expect(r.missing).toEqual([]);
    expect(r.outputOff).toBe(false);
  });

  it('normal(3), bypass(4), booster(6), reducer(7): fed from the mains', () => {
    for (const s of [3, 4, 6, 7]) expect(upsFields(ups(s)).fields).toMatchObject({ on_battery: false, mains_ok: true });
  });

  it('none(2): output off (DOWN ups-output-off); other(1): no on_battery/mains_ok at all', () => {
    const none = readRound({
      target: target({ device: 'ups-01', profile: 'ups-mib' }),
      discovery: discovery({ interfaces: [] }),
      values: new Map([...ups(2), [SYS_UPTIME, vb(SYS_UPTIME, ASN.TimeTicks, 4200)]]),
      walked: new Map(),
      prev: undefined,
      atMs: 0,
      latencyMs: 3,
    });
    expect(none.verdict).toEqual({ state: 'DOWN', reason: 'ups-output-off' });
    expect(none.fields['on_battery']).toBe(false);
    expect(none.fields['mains_ok']).toBeUndefined();
    const other = upsFields(ups(1)).fields;
    expect(other['on_battery']).toBeUndefined();
    expect(other['mains_ok']).toBeUndefined();
  });

  it('objects the card lacks are left out and listed, not an error', () => {
    const r = upsFields(ups(3, { upsEstimatedMinutesRemaining: null, upsOutputPercentLoad: null }));
    expect(r.fields).toEqual({ on_battery: false, mains_ok: true, battery_pct: 64, input_v: 0, output_v: 229 });
    expect(r.missing).toEqual(['upsEstimatedMinutesRemaining', 'upsOutputPercentLoad']);
  });

  it("the power kind accepts every UPS field as the probe names and types it", () => {
    const { fields } = upsFields(ups(5));
    const decoded = decodeFields(kindById('power')!, { ...fields, probe_ok: true, probe_latency_ms: 2.5, uptime_s: 42 });
    expect(decoded.ok).toBe(true);
    expect(decoded.ok && Object.keys(decoded.fields).sort()).toEqual(
      ['battery_pct', 'input_v', 'load_pct', 'mains_ok', 'on_battery', 'output_v', 'probe_latency_ms', 'probe_ok', 'runtime_min', 'uptime_s'].sort(),
    );
  });
});

describe('vendor OIDs (oids)', () => {
  it('walk sum of a per-VAP column, scaled and rounded for an integer field; values map an enumeration', () => {
    const col = '1.3.6.1.4.1.41112.1.6.1.2.1.8';
    const r = extraFields(
      'wifi-ap',
      {
        clients: { oid: col, scale: 1, walk: 'sum' },
        mem_pct: { oid: '1.3.6.1.4.1.9.1.0', scale: 0.1 },
        radio_up: { oid: '1.3.6.1.4.1.9.2.0', scale: 1, values: { '1': true, '2': false } },
        channel_util_pct: { oid: '1.3.6.1.4.1.9.3.0', scale: 1 },
      },
      byOid(vb('1.3.6.1.4.1.9.1.0', ASN.Gauge32, 437), vb('1.3.6.1.4.1.9.2.0', ASN.Integer, 2), absent('1.3.6.1.4.1.9.3.0', ASN.NoSuchObject)),
      new Map([['clients', [vb(`${col}.1`, ASN.Gauge32, 7), vb(`${col}.2`, ASN.Gauge32, 5)]]]),
    );
    expect(r.fields).toEqual({ clients: 12, mem_pct: 43.7, radio_up: false });
    expect(r.missing).toEqual(['channel_util_pct']);
  });

  it('a DisplayString holding a number is read as one', () => {
    const r = extraFields('wifi-ap', { mem_pct: { oid: '1.3.6.1.4.1.9.1.0', scale: 1 } }, byOid(vb('1.3.6.1.4.1.9.1.0', ASN.OctetString, Buffer.from('23.5'))), new Map());
    expect(r.fields).toEqual({ mem_pct: 23.5 });
  });
});

describe('errors → coded outcomes', () => {
  const v2c = target({});
  const v3 = target({ version: '3', community: undefined, user: 'ce', authKeyEnv: 'A', privKeyEnv: 'P' });

  it('v2c timeout: CE_SNMP_TIMEOUT, DOWN, and the message says a wrong community looks the same (RFC 3584)', () => {
    const o = failureOutcome(new snmp.RequestTimedOutError('Request timed out'), v2c, 1500, false);
    expect(o.fields).toEqual({ probe_ok: false });
    expect(o.verdict).toEqual({ state: 'DOWN', reason: 'timeout' });
    expect(o.error?.code).toBe('CE_SNMP_TIMEOUT');
    expect(o.error?.detail).toMatch(/within 1500 ms.*wrong community.*RFC 3584/);
  });

  it('v3 usmStats reports name the counter and what to fix; the device is alive (DEGRADED, probe_ok)', () => {
    const o = failureOutcome(new snmp.ResponseInvalidError('Wrong Digest (incorrect password, community or key)', 5), v3, 1500, true);
    expect(o).toMatchObject({ fields: { probe_ok: true }, verdict: { state: 'DEGRADED', reason: 'auth-failed' }, error: { code: 'CE_SNMP_AUTH' } });
    expect(o.error!.detail).toMatch(/usmStatsWrongDigests.*authentication passphrase \(A\) or authProtocol \(sha\)/);
    expect(failureOutcome(new snmp.ResponseInvalidError('Unknown User Name', 5), v3, 1500, true).error!.detail).toMatch(/usmStatsUnknownUserNames.*user "ce" does not exist/);
    expect(failureOutcome(new snmp.ResponseInvalidError('Decryption Error', 5), v3, 1500, true).error!.detail).toMatch(/usmStatsDecryptionErrors/);
  });

  it('v3 authPriv: discovery answered, then silence → CE_SNMP_AUTH pointing at the privacy key', () => {
    const o = failureOutcome(new snmp.RequestTimedOutError('Request timed out'), v3, 1500, true);
    expect(o.error?.code).toBe('CE_SNMP_AUTH');
    expect(o.error?.detail).toMatch(/privacy passphrase \(P\)/);
    // Nothing answered at all: a plain timeout.
    expect(failureOutcome(new snmp.RequestTimedOutError('Request timed out'), v3, 1500, false).error?.code).toBe('CE_SNMP_TIMEOUT');
  });

  it('authorizationError(16) is an access problem; tooBig is CE_SNMP_RESPONSE; DNS failure is unreachable', () => {
    expect(failureOutcome(new snmp.RequestFailedError('AuthorizationError', 16), v3, 1500, false).error!.detail).toMatch(/no read access.*rouser/);
    const tooBig = failureOutcome(new snmp.RequestFailedError('TooBig', 1), v2c, 1500, false);
    expect(tooBig).toMatchObject({ verdict: { state: 'DEGRADED', reason: 'snmp-error' }, error: { code: 'CE_SNMP_RESPONSE' } });
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND fw.invalid'), { code: 'ENOTFOUND' });
    expect(failureOutcome(dns, v2c, 1500, false)).toMatchObject({ fields: { probe_ok: false }, verdict: { state: 'DOWN' }, error: { code: 'CE_PROBE_UNREACHABLE' } });
  });
});
