import type { Fields, SimulatorFactory } from '../define.js';

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * A meeting-room endpoint: registered all day, in a call in the usual meeting slots
 * (Mon–Fri 08:00–10:00 and 14:00–16:00 local); call statistics only while in a call.
 *
 * Faults: degrade = calls suffer 4–9 % loss and high jitter (the line is congested;
 * visible only while in a call); flap = the registration drops every other step;
 * power = the meeting room's router has lost power, so the endpoint is unregistered.
 */
export const vconfSimulator: SimulatorFactory = (ctx) => {
  let uptime = Math.floor(ctx.rng() * 86_400 * 10);
  const baseJitter = 3 + ctx.rng() * 6;
  let step = 0;
  return {
    next({ now, dtS, fault }) {
      step++;
      uptime += Math.round(dtS);
      const local = new Date(now + 7 * 3_600_000);
      const hour = local.getUTCHours();
      const weekday = local.getUTCDay() >= 1 && local.getUTCDay() <= 5;
      const meeting = weekday && ((hour >= 8 && hour < 10) || (hour >= 14 && hour < 16));
      const registered = !(fault === 'power' || (fault === 'flap' && step % 2 === 1));
      const inCall = registered && meeting;
      const out: Fields = { uptime_s: uptime, online: true, registered, in_call: inCall };
      if (inCall) {
        const bad = fault === 'degrade';
        out['call_loss_pct'] = round(bad ? 4 + ctx.rng() * 5 : ctx.rng() * 0.8, 2);
        out['jitter_ms'] = round(bad ? 40 + ctx.rng() * 40 : baseJitter + ctx.rng() * 6);
      }
      return out;
    },
  };
};
