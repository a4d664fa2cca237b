/**
 * Sweep of the office computers (the plans' indicator "máy tính kết nối mạng
 * LAN", counted by a later issue): one fping round over every computer, then the
 * kernel's ARP table.
 *
 * Why ARP: Windows Defender Firewall drops inbound ICMP echo by default, so most
 * office PCs never answer a ping. They must still answer ARP (RFC 826) to talk
 * on the LAN at all, and the ping we just sent made the kernel ask: a complete
 * entry (flags ATF_COM, 0x2) for the IP means the PC is on the LAN.
 *
 * Caveat: /proc/net/arp does not show the neighbour state (RFC 4861-style NUD:
 * REACHABLE, STALE, DELAY, PROBE). A PC switched off a moment ago can keep a
 * complete (stale) entry for one more sweep, until the kernel's re-probe fails
 * (delay_first_probe_time 5 s + ucast_solicit 3 × retrans 1 s); the look-back
 * window (minutes) makes that irrelevant.
 *
 * A computer counts as on the LAN when seen (ICMP or ARP) within `lookbackMin`:
 * `probe_ok` of an office_pc means exactly that, and one that is not is DOWN.
 * PCs switched off at night are therefore DOWN at night; that is expected, and
 * the indicator samples office hours (see devices/office_pc/README.md).
 */
import { readFile } from 'node:fs/promises';
import type { FieldValue } from '../../devices/define.js';
import { CodedError } from '../errors.js';
import type { ProbeOutcome } from './contract.js';
import { runFping } from './fping.js';
import { roundMs } from './outcome.js';
import type { LanSweepSettings } from './settings.js';

export const PROC_NET_ARP = '/proc/net/arp';

/** ATF_COM (include/uapi/linux/if_arp.h): the entry has a hardware address. */
const ATF_COM = 0x2;

export interface ArpEntry {
  ip: string;
  /** Lower-case, colon-separated. */
  mac: string;
  flags: number;
  iface: string;
}

/** Lower-case, colon-separated MAC (accepts 00-1A-2B-... as Windows prints it). */
export const normalizeMac = (mac: string): string => mac.toLowerCase().replace(/-/g, ':');

/**
 * Complete entries of /proc/net/arp (columns: IP address, HW type, Flags, HW
 * address, Mask, Device; net/ipv4/arp.c arp_seq_show). Incomplete entries
 * (flags 0x0: the host did not answer) and all-zero addresses are left out.
 */
export function parseArpTable(text: string): Map<string, ArpEntry> {
  const out = new Map<string, ArpEntry>();
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 6) continue;
    const [ip, , flagsText, mac, , iface] = cols as [string, string, string, string, string, string];
    const flags = Number.parseInt(flagsText, 16);
    if (!Number.isFinite(flags) || (flags & ATF_COM) === 0) continue;
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac) || /^(00:){5}00$/.test(mac)) continue;
    out.set(ip, { ip, mac: normalizeMac(mac), flags, iface });
  }
  return out;
}

export interface SweepResult {
  deviceId: string;
  outcome: ProbeOutcome;
}

export interface LanSweepOptions {
  fpingPath: string;
  /** Default /proc/net/arp; tests read a copy taken inside a network namespace. */
  arpTablePath?: string;
}

/** The most `last_seen_min` may say (the field's plausible range: a year). */
const LAST_SEEN_MAX_MIN = 525_600;

export class LanSweep {
  /** Device id → gateway time (epoch ms) the computer was last seen. */
  private readonly lastSeenAt = new Map<string, number>();
  private readonly arpPath: string;

  constructor(
    private readonly settings: LanSweepSettings,
    private readonly opts: LanSweepOptions,
  ) {
    this.arpPath = opts.arpTablePath ?? PROC_NET_ARP;
  }

  get computers(): number {
    return this.settings.computers.length;
  }

  /** Carry "last seen" over a restart (from the device's last stored reading). */
  seed(deviceId: string, seenAt: number): void {
    this.lastSeenAt.set(deviceId, seenAt);
  }

  /** One sweep: fping every computer once, then read the ARP table. */
  async run(signal: AbortSignal, now: () => number): Promise<SweepResult[]> {
    const { computers } = this.settings;
    if (computers.length === 0) return [];
    // Leave a quarter of the budget (at least 200 ms) for reading the ARP table.
    const budgetMs = Math.max(150, this.settings.timeoutMs - Math.max(200, this.settings.timeoutMs / 4));
    const pings = await runFping({ fpingPath: this.opts.fpingPath, hosts: computers.map((c) => c.ip), count: 1, budgetMs, signal });
    let arpText: string;
    try {
      arpText = await readFile(this.arpPath, { encoding: 'utf8', signal });
    } catch (err) {
      throw new CodedError('CE_PROBE_CONFIG', `cannot read the ARP table ${this.arpPath}: ${(err as Error).message}`);
    }
    return this.judge(pings, parseArpTable(arpText), now());
  }

  /** Outcomes for every computer from one round of pings and one ARP table. */
  judge(pings: Map<string, (number | null)[]>, arp: Map<string, ArpEntry>, at: number): SweepResult[] {
    const lookbackMs = this.settings.lookbackMin * 60_000;
    return this.settings.computers.map((c) => {
      const rtt = pings.get(c.ip)?.find((x): x is number => x !== null);
      const entry = arp.get(c.ip);
      const seenIcmp = rtt !== undefined;
      const seenArp = entry !== undefined;
      if (seenIcmp || seenArp) this.lastSeenAt.set(c.device, at);
      const last = this.lastSeenAt.get(c.device);
      const present = last !== undefined && at - last <= lookbackMs;
      const fields: Record<string, FieldValue> = { probe_ok: present, seen_icmp: seenIcmp, seen_arp: seenArp };
      if (seenIcmp) fields['probe_latency_ms'] = roundMs(rtt);
      if (last !== undefined) fields['last_seen_min'] = Math.min(LAST_SEEN_MAX_MIN, Math.round((at - last) / 6000) / 10);
      const macOk = c.mac !== undefined && entry ? normalizeMac(c.mac) === entry.mac : undefined;
      if (macOk !== undefined) fields['mac_ok'] = macOk;

      let outcome: ProbeOutcome;
      if (!present) {
        const since = last === undefined ? 'never seen by this gateway' : `last seen ${fields['last_seen_min']} min ago`;
        outcome = {
          fields,
          verdict: { state: 'DOWN', reason: 'not-seen' },
          error: { code: 'CE_PROBE_NO_ANSWER', detail: `${c.device} (${c.ip}): no ICMP reply and no ARP entry within ${this.settings.lookbackMin} min; ${since}` },
        };
      } else if (macOk === false) {
        outcome = {
          fields,
          verdict: { state: 'DEGRADED', reason: 'mac-mismatch' },
          error: { code: 'CE_PROBE_MAC_MISMATCH', detail: `${c.device} (${c.ip}): ARP says ${entry!.mac}, inventory says ${normalizeMac(c.mac!)}` },
        };
      } else {
        outcome = { fields, verdict: { state: 'UP', reason: 'ok' } };
      }
      return { deviceId: c.device, outcome };
    });
  }
}
