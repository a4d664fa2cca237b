import type { Fields, SimulatorFactory } from '../define.js';

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

interface Profile {
  rttMs: [number, number];
  rxMbps: number;
  txMbps: number;
}

/** Typical baselines: FTTH internet to a public anchor, TSLCD to the province DC, LAN hops. */
const PROFILES: Record<string, Profile> = {
  wan: { rttMs: [18, 45], rxMbps: 120, txMbps: 35 },
  tslcd: { rttMs: [5, 20], rxMbps: 15, txMbps: 8 },
  firewall: { rttMs: [1, 5], rxMbps: 120, txMbps: 35 },
  lan_switch: { rttMs: [0.3, 2], rxMbps: 200, txMbps: 120 },
};

/**
 * A line or network device as an agent reports it: traffic follows office hours
 * (Mon–Fri 07:00–11:30 and 13:30–17:00 local), loss is rare and small.
 *
 * Faults: degrade = congestion builds up (loss 8–15 %, RTT 350–600 ms); flap = the
 * link goes down every other step; power = the ONT / modem upstream has no UPS: the
 * line is down, or up but losing most packets while the equipment reboots.
 */
export const networkSimulator: SimulatorFactory = (ctx) => {
  const role = ctx.role ?? 'wan';
  const p = PROFILES[role] ?? PROFILES['wan']!;
  const baseRtt = p.rttMs[0] + ctx.rng() * (p.rttMs[1] - p.rttMs[0]);
  let uptime = Math.floor(ctx.rng() * 86_400 * 60);
  let congestion = 0; // 0..1
  let step = 0;
  return {
    next({ now, dtS, fault }) {
      step++;
      uptime += Math.round(dtS);
      const local = new Date(now + 7 * 3_600_000);
      const minute = local.getUTCHours() * 60 + local.getUTCMinutes();
      const weekday = local.getUTCDay() >= 1 && local.getUTCDay() <= 5;
      const office = weekday && ((minute >= 420 && minute < 690) || (minute >= 810 && minute < 1020));
      const busy = office ? 0.5 + ctx.rng() * 0.4 : 0.05 + ctx.rng() * 0.1;
      congestion += ((fault === 'degrade' ? 1 : 0) - congestion) * 0.3;

      const down =
        (fault === 'flap' && step % 2 === 1) || (fault === 'power' && ctx.rng() < 0.7);
      const out: Fields = { uptime_s: uptime, online: true, link_up: !down };
      if (down) {
        out['rx_mbps'] = 0;
        out['tx_mbps'] = 0;
        out['loss_pct'] = 100;
      } else {
        const normalLoss = ctx.rng() < 0.9 ? 0 : ctx.rng();
        const loss =
          fault === 'power' ? 20 + ctx.rng() * 40 : normalLoss + congestion * (8 + ctx.rng() * 7);
        out['rx_mbps'] = round(p.rxMbps * busy * (1 - congestion * 0.5), 2);
        out['tx_mbps'] = round(p.txMbps * busy * (1 - congestion * 0.5), 2);
        out['loss_pct'] = round(loss);
        out['rtt_ms'] = round(baseRtt * (1 + ctx.rng() * 0.3) + congestion * (400 + ctx.rng() * 200));
      }
      if (role === 'firewall') {
        out['cpu_pct'] = round(8 + busy * 35 + congestion * 40);
        out['sessions'] = Math.round(300 + busy * 4000);
      }
      return out;
    },
  };
};
