/**
 * Interface octet counters → rates. SNMP counters only ever grow and wrap
 * (RFC 2578 §7.1.6 Counter32, §7.1.10 Counter64): a rate is the difference of two
 * samples over the time between them, and some differences are meaningless.
 */
import { ASN } from './mibs.js';

export interface CounterSample {
  value: bigint;
  /** 64 for ifHCInOctets/ifHCOutOctets (ifXTable), 32 for the old ifInOctets/ifOutOctets. */
  bits: 32 | 64;
}

const TWO_POW_32 = 1n << 32n;

/**
 * Octets counted between two samples of the same counter, or undefined when the
 * difference means nothing:
 * - a 32-bit counter smaller than before wrapped once at 2^32 (RFC 2578 §7.1.6: it
 *   "wraps around and starts increasing again from zero"); more than one wrap
 *   between samples cannot be seen, which is why ifHCInOctets exists (RFC 2863
 *   §3.1.6: a 1 Gbit/s link wraps a Counter32 in 34 s);
 * - a 64-bit counter does not wrap in the life of the hardware (10 Gbit/s for 468
 *   years), so one going backwards was reset (agent restart, module swap): a
 *   discontinuity, no rate;
 * - samples of different widths (the agent stopped or started serving ifXTable).
 */
export function counterDelta(prev: CounterSample, cur: CounterSample): bigint | undefined {
  if (prev.bits !== cur.bits) return undefined;
  if (cur.value >= prev.value) return cur.value - prev.value;
  if (cur.bits === 32) return cur.value + TWO_POW_32 - prev.value;
  return undefined;
}

/** Mbit/s from an octet difference over `elapsedMs`; undefined for a non-positive interval. */
export function mbps(octets: bigint, elapsedMs: number): number | undefined {
  if (!(elapsedMs > 0)) return undefined;
  // Octets → bits, per second, in Mbit/s (10^6: ITU/IEC network units, as ifSpeed/ifHighSpeed use).
  return (Number(octets) * 8) / (elapsedMs / 1000) / 1e6;
}

/** The state of one interface's counters at one round. */
export interface InterfaceCounters {
  in?: CounterSample;
  out?: CounterSample;
}

/** One round's counters for a target, kept until the next round. */
export interface CounterSnapshot {
  /** Monotonic time of the response (ms), the rate's time base. */
  atMs: number;
  /** sysUpTime of the same response (TimeTicks), to tell an agent restart. */
  uptimeTicks: number | undefined;
  byIfIndex: Map<number, InterfaceCounters>;
}

export type RateResult =
  | { ok: true; rxMbps: number; txMbps: number }
  | { ok: false; why: 'first-sample' | 'agent-restarted' | 'counter-reset' | 'counters-missing' | 'no-interval' };

/**
 * Receive and transmit rates summed over the listed interfaces, between the
 * previous round and this one. All or nothing: a sum with one interface missing
 * would under-report the line. sysUpTime going backwards means the agent
 * restarted (counters may restart from any value: RFC 2863 ifCounterDiscontinuityTime),
 * so that round yields no rate. TimeTicks wrap after 497 days (2^32 hundredths):
 * that also reads as a restart and costs one round.
 */
export function interfaceRates(prev: CounterSnapshot | undefined, cur: CounterSnapshot, ifIndexes: readonly number[]): RateResult {
  if (!prev) return { ok: false, why: 'first-sample' };
  if (prev.uptimeTicks !== undefined && cur.uptimeTicks !== undefined && cur.uptimeTicks < prev.uptimeTicks) {
    return { ok: false, why: 'agent-restarted' };
  }
  const elapsedMs = cur.atMs - prev.atMs;
  if (!(elapsedMs > 0)) return { ok: false, why: 'no-interval' };
  let rx = 0n;
  let tx = 0n;
  for (const ifIndex of ifIndexes) {
    const a = prev.byIfIndex.get(ifIndex);
    const b = cur.byIfIndex.get(ifIndex);
    if (!a?.in || !a.out || !b?.in || !b.out) return { ok: false, why: 'counters-missing' };
    const dIn = counterDelta(a.in, b.in);
    const dOut = counterDelta(a.out, b.out);
    if (dIn === undefined || dOut === undefined) return { ok: false, why: 'counter-reset' };
    rx += dIn;
    tx += dOut;
  }
  return { ok: true, rxMbps: mbps(rx, elapsedMs)!, txMbps: mbps(tx, elapsedMs)! };
}

/**
 * A counter value from a varbind: Counter32 is a number; net-snmp hands a
 * Counter64 over as the raw big-endian BER content octets (a Buffer of 1..9
 * bytes, a leading 0x00 keeping it positive).
 */
export function counterValue(type: number, value: unknown): CounterSample | undefined {
  if (type === ASN.Counter64 && Buffer.isBuffer(value)) {
    if (value.length === 0 || value.length > 9) return undefined;
    let v = 0n;
    for (const byte of value) v = (v << 8n) | BigInt(byte);
    return { value: v, bits: 64 };
  }
  if (type === ASN.Counter32 && typeof value === 'number' && Number.isInteger(value) && value >= 0) {
    return { value: BigInt(value), bits: 32 };
  }
  return undefined;
}
