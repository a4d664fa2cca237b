import type { SimulatorFactory } from '../define.js';

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * A probe in an irrigated bed in the south-east (Đồng Nai): the soil dries during
 * the day, automatic irrigation refills it when VWC falls below ~18 %, soil
 * temperature swings a few degrees around 28 °C, EC follows moisture.
 *
 * Faults: degrade = the probe is lifted out of the soil and reads air (moisture and
 * EC fall to 0); flap = the LoRa link alternates between usable and at the edge;
 * power = the node's battery drains fast (solar panel covered, charger failed).
 */
export const soilProbeSimulator: SimulatorFactory = (ctx) => {
  let moisture = 22 + ctx.rng() * 13;
  let batteryPct = 55 + ctx.rng() * 45;
  const baseRssi = -92 - ctx.rng() * 16; // -92 .. -108 dBm at the farm's LoRa gateway
  const basePh = 5.2 + ctx.rng() * 1.6; // red basaltic / grey soils of Đồng Nai: acidic
  const ecPerPct = 18 + ctx.rng() * 10;
  let inSoil = 1; // 1 in the soil, falls toward 0 once lifted out
  let step = 0;
  return {
    next({ now, dtS, fault }) {
      step++;
      const hour = ((now / 3_600_000 + 7) % 24 + 24) % 24;
      const day = hour >= 6 && hour < 18;
      // Evapotranspiration: ~0.3 %VWC/h in daytime, little at night.
      moisture -= (dtS / 3600) * (day ? 0.3 : 0.05);
      if (moisture < 18) moisture += 12 + ctx.rng() * 4; // irrigation cycle
      moisture = Math.min(moisture, 45);
      inSoil = fault === 'degrade' ? inSoil * 0.6 : 1;
      batteryPct -= fault === 'power' ? 1.5 : (dtS / 86_400) * 0.05;
      batteryPct = Math.max(0, batteryPct);

      const m = Math.max(0, (moisture + (ctx.rng() - 0.5) * 0.6) * inSoil);
      const ec = Math.max(0, (150 + m * ecPerPct + (ctx.rng() - 0.5) * 40) * inSoil);
      const rssiDbm = fault === 'flap' && step % 2 === 1 ? -122 - ctx.rng() * 4 : baseRssi + (ctx.rng() - 0.5) * 5;
      return {
        moisture_pct: round(m),
        soil_temp_c: round(28 + 3.5 * Math.sin(((hour - 9) / 24) * 2 * Math.PI) + (ctx.rng() - 0.5) * 0.4),
        ec_us_cm: round(ec, 0),
        ph: round(basePh + (ctx.rng() - 0.5) * 0.1, 2),
        battery_pct: round(batteryPct),
        rssi_dbm: round(rssiDbm),
      };
    },
  };
};
