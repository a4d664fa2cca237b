import type { SimulatorFactory } from '../define.js';

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * An AP whose load follows its users: government Wi-Fi is busy in office hours
 * (Mon–Fri), public Wi-Fi at a community point in the evening (17:00–22:00 local).
 *
 * Faults: degrade = channel utilisation climbs to ~90 % (a neighbour's AP on the same
 * channel, a crowd at an event); flap = the uplink (PoE switch port) drops every
 * other step; power = the PoE switch, on a weak supply, cannot power the radio (APs
 * switch radios off when they get less PoE budget than they need).
 */
export const wifiApSimulator: SimulatorFactory = (ctx) => {
  const role = ctx.role ?? 'public';
  let uptime = Math.floor(ctx.rng() * 86_400 * 45);
  const baseUtil = 6 + ctx.rng() * 6; // beacons and neighbours, with no clients at all
  let interference = 0; // 0..1
  let step = 0;
  return {
    next({ now, dtS, fault }) {
      step++;
      uptime += Math.round(dtS);
      const local = new Date(now + 7 * 3_600_000);
      const hour = local.getUTCHours();
      const weekday = local.getUTCDay() >= 1 && local.getUTCDay() <= 5;
      let peak: number;
      if (role === 'government') peak = weekday && hour >= 7 && hour < 17 ? 25 : 2;
      else peak = hour >= 17 && hour < 22 ? 40 : hour >= 6 && hour < 17 ? 12 : 3;
      const radioUp = fault !== 'power';
      const clients = radioUp ? Math.floor(peak * (0.4 + ctx.rng() * 0.6)) : 0;
      interference += ((fault === 'degrade' ? 1 : 0) - interference) * 0.25;
      const normalUtil = baseUtil + clients * 0.9 + ctx.rng() * 8;
      const util = normalUtil + interference * (90 - normalUtil) + (ctx.rng() - 0.5) * 2 * interference;
      return {
        uptime_s: uptime,
        online: true,
        uplink_up: !(fault === 'flap' && step % 2 === 1),
        radio_up: radioUp,
        clients,
        channel_util_pct: radioUp ? round(Math.min(100, Math.max(0, util))) : 0,
        cpu_pct: round(4 + clients * 0.4 + ctx.rng() * 8),
        mem_pct: round(38 + clients * 0.2 + ctx.rng() * 4),
      };
    },
  };
};
