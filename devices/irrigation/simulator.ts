import type { Fields, SimulatorFactory } from '../define.js';

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Local hour in Asia/Ho_Chi_Minh (UTC+7, no daylight saving). */
const localHour = (now: number) => (((now / 3_600_000 + 7) % 24) + 24) % 24;

/**
 * Irrigation windows of a southern farm scheme: early morning and late afternoon,
 * when evaporation is lowest (extension-service advice for vegetables and fruit
 * trees; midday irrigation loses much of the water to evaporation).
 */
const inWindow = (hour: number) => (hour >= 5 && hour < 8) || (hour >= 16 && hour < 18);

/**
 * The PLC's own low-level cut-off (the sump float or level transmitter): the pump
 * stops under 15 % and may start again above 30 % (hysteresis, so it does not
 * chatter). Under `degrade` this protection has failed.
 */
const CUTOFF_PCT = 15;
const RESTART_PCT = 30;

/**
 * A pump station or a valve group of a small farm scheme in the south-east.
 *
 * pump_station: a 5–15 kW centrifugal pump draws from a sump or tank fed by a well
 * or canal intake, runs in the irrigation windows, and stops at the low-level
 * cut-off; the outlet valve opens with the pump. The tank falls ~15 %/h while
 * pumping and refills ~8 %/h when idle.
 * valve_group: a field valve group fed by gravity from an elevated tank (static
 * line pressure 1.2–2 bar), opened by the PLC in the windows.
 *
 * Faults: degrade = pump station left in manual ("hand") mode with a stuck float
 * and a dry intake: the pump runs on, the tank empties (dry-run risk); valve group
 * with a clogged filter: the moisture-driven program keeps the valve open and no
 * water flows. power = mains lost: the pump trips on its phase-failure relay
 * (pump_fault; the PLC runs on its 24 V DC UPS), a valve group's field controller
 * has no UPS and goes offline. flap = the link to the PLC drops every other step.
 */
export const irrigationSimulator: SimulatorFactory = (ctx) => {
  const role = ctx.role ?? 'pump_station';
  const nominalFlow = role === 'valve_group' ? 80 + ctx.rng() * 170 : 300 + ctx.rng() * 600; // L/min
  const dutyPressure = 2.5 + ctx.rng() * 1.5; // bar at the pump outlet
  const staticPressure = 1.2 + ctx.rng() * 0.8; // bar from a 12–20 m elevated tank (valve groups)
  let level = 60 + ctx.rng() * 35; // %
  let cutOff = false;
  let clog = 1; // 1 clean filter, falls toward 0 when clogged
  let uptime = Math.floor(ctx.rng() * 86_400 * 30);
  let step = 0;

  const noise = (amplitude: number) => (ctx.rng() - 0.5) * 2 * amplitude;

  function pumpStation(now: number, dtS: number, fault: string): Fields {
    const hours = dtS / 3600;
    const powerLost = fault === 'power';
    const manual = fault === 'degrade';
    const wanted = manual || inWindow(localHour(now));
    // Hysteresis of the cut-off (the PLC program), evaluated on the level it last saw.
    if (!manual) {
      if (level < CUTOFF_PCT) cutOff = true;
      else if (level > RESTART_PCT) cutOff = false;
    }
    const running = wanted && !powerLost && (manual || !cutOff);
    const inflowPctH = manual ? 0 : 8;
    level += hours * (running ? -15 - (manual ? 5 : 0) + inflowPctH * 0.5 : inflowPctH);
    level = Math.min(95, Math.max(0, level));
    // A running pump must not be reported below the cut-off unless it has failed.
    if (running && !manual && level < CUTOFF_PCT) {
      cutOff = true;
      return pumpStation(now, 0, fault);
    }
    // Near empty the suction draws air: flow collapses.
    const suction = running ? Math.min(1, level / 5) : 0;
    const flow = running ? Math.max(0, nominalFlow * suction * (1 + noise(0.03))) : 0;
    const pressure = running ? dutyPressure * Math.max(0.2, suction) + noise(0.05) : powerLost ? 0 : 0.2 + noise(0.05);
    return {
      pump_running: running,
      pump_fault: powerLost,
      valve_open: running,
      flow_l_min: round(flow),
      pressure_bar: round(Math.max(0, pressure), 2),
      tank_level_pct: round(level),
    };
  }

  function valveGroup(now: number, fault: string): Fields {
    clog = fault === 'degrade' ? clog * 0.7 : 1;
    const open = fault === 'degrade' || inWindow(localHour(now));
    const flow = open ? nominalFlow * clog * (1 + noise(0.04)) : 0;
    // An open valve drops the line pressure a little (friction losses).
    const pressure = staticPressure - (open ? 0.2 * clog : 0) + noise(0.03);
    return { valve_open: open, flow_l_min: round(flow), pressure_bar: round(pressure, 2) };
  }

  return {
    next({ now, dtS, fault }) {
      step++;
      uptime += Math.round(dtS);
      const offline = (fault === 'power' && role === 'valve_group') || (fault === 'flap' && step % 2 === 1);
      const values = role === 'valve_group' ? valveGroup(now, fault) : pumpStation(now, dtS, fault);
      return { uptime_s: uptime, plc_online: !offline, ...values };
    },
  };
};
