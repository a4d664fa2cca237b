import type { Fields, SimulatorFactory } from '../define.js';

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** The look-back window the simulator assumes (probes.lanSweep.lookbackMin default). */
const LOOKBACK_MIN = 15;

/**
 * One office computer as the LAN sweep reports it. Most are Windows PCs whose
 * firewall drops ping (seen by ARP only); some answer ping. A computer with fault
 * `none` is on: the simulator models office hours (real PCs switched off at night
 * are DOWN then, as expected; see README.md).
 *
 * Faults: degrade = another machine answers ARP for the PC's IP (mac_ok false);
 * power = the PC (or the office) has no power: not seen, DOWN once past the
 * look-back window; flap = the PC is unplugged and plugged back in stretches of
 * 20 sweeps, longer than the look-back window.
 */
export const officePcSimulator: SimulatorFactory = (ctx) => {
  const answersPing = ctx.rng() < 0.3;
  const macKnown = ctx.rng() < 0.6;
  const baseRtt = 0.2 + ctx.rng() * 0.6;
  let lastSeenAgoS: number | undefined;
  let step = 0;
  return {
    next({ dtS, fault }) {
      step++;
      const off = fault === 'power' || (fault === 'flap' && Math.floor(step / 20) % 2 === 1);
      if (lastSeenAgoS !== undefined) lastSeenAgoS += dtS;
      if (!off) lastSeenAgoS = 0;
      const seenIcmp = !off && answersPing;
      const out: Fields = {
        seen_icmp: seenIcmp,
        seen_arp: !off,
        probe_ok: lastSeenAgoS !== undefined && lastSeenAgoS <= LOOKBACK_MIN * 60,
      };
      if (seenIcmp) out['probe_latency_ms'] = round(baseRtt * (1 + ctx.rng() * 0.5), 2);
      if (lastSeenAgoS !== undefined) out['last_seen_min'] = round(lastSeenAgoS / 60);
      if (macKnown && !off) out['mac_ok'] = fault !== 'degrade';
      else if (fault === 'degrade') out['mac_ok'] = false;
      return out;
    },
  };
};
