import type { SimulatorFactory } from '../define.js';

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

interface Profile {
  loadPct: number;
  /** Runtime at full charge and this load, minutes. */
  fullRuntimeMin: number;
}

/** Typical small line-interactive UPSs: office PCs, a server rack, a pole-top controller. */
const PROFILES: Record<string, Profile> = {
  office: { loadPct: 35, fullRuntimeMin: 30 },
  rack: { loadPct: 50, fullRuntimeMin: 20 },
  hamlet: { loadPct: 15, fullRuntimeMin: 90 },
};

/**
 * A UPS on a rural feeder: input voltage sags at the evening peak (18:00–21:00 local),
 * the AVR keeps the output near 220 V, the battery recharges after an outage in a few
 * hours.
 *
 * Faults: power = mains lost, the UPS runs on battery, charge and runtime drain with
 * the load; flap = mains flickers (on battery every other step); degrade = the input
 * voltage sinks to ~180 V (overloaded feeder) while the AVR still holds the output.
 */
export const powerSimulator: SimulatorFactory = (ctx) => {
  const p = PROFILES[ctx.role ?? 'office'] ?? PROFILES['office']!;
  const nominalIn = 218 + ctx.rng() * 8;
  const fullRuntime = p.fullRuntimeMin * (0.85 + ctx.rng() * 0.3);
  let charge = 100;
  let sag = 0; // 0..1, degrade
  let uptime = Math.floor(ctx.rng() * 86_400 * 90);
  let step = 0;
  return {
    next({ now, dtS, fault }) {
      step++;
      uptime += Math.round(dtS);
      const hour = (new Date(now).getUTCHours() + 7) % 24;
      const eveningPeak = hour >= 18 && hour < 21 ? 10 : 0;
      sag += ((fault === 'degrade' ? 1 : 0) - sag) * 0.3;
      const onBattery = fault === 'power' || (fault === 'flap' && step % 2 === 1);
      const load = p.loadPct + (ctx.rng() - 0.5) * 6;
      if (onBattery) {
        charge -= ((dtS / 60) / fullRuntime) * 100;
      } else {
        charge += (dtS / 60) * 0.4; // ~4 h from empty
      }
      charge = Math.min(100, Math.max(0, charge));
      const normalIn = nominalIn - eveningPeak + (ctx.rng() - 0.5) * 8;
      const inputV = onBattery ? 0 : normalIn - sag * (normalIn - 181);
      return {
        uptime_s: uptime,
        mains_ok: !onBattery,
        on_battery: onBattery,
        battery_pct: round(charge),
        runtime_min: round((fullRuntime * charge) / 100 * (p.loadPct / load)),
        load_pct: round(load),
        input_v: round(inputV),
        output_v: round(220 + (ctx.rng() - 0.5) * (onBattery ? 6 : 4)),
      };
    },
  };
};
