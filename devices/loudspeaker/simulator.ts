import type { SimulatorFactory } from '../define.js';

/**
 * A 4G loudspeaker controller: RSRP depends on the hamlet (some hamlets sit near the
 * edge of coverage), the amplifier warms while playing (news at 06:00 and 17:00 local).
 *
 * Faults: degrade = the amplifier overheats (and at last goes into protection);
 * power = the pole's supply sags below 11 V; flap = the modem drops to the cell edge
 * every other step (RSRP under -110 dBm), as in a dead zone.
 */
export const loudspeakerSimulator: SimulatorFactory = (ctx) => {
  // -80 .. -104 dBm (±3 dBm noise): usable everywhere when nothing is wrong; a hamlet in
  // a dead zone (below -110 dBm) is what the 'flap' fault shows.
  const baseRsrp = -80 - ctx.rng() * 24;
  let step = 0;
  let uptime = Math.floor(ctx.rng() * 86_400 * 20);
  let ampTemp = 35 + ctx.rng() * 5;
  return {
    next({ now, dtS, fault }) {
      step++;
      uptime += Math.round(dtS);
      const edge = fault === 'flap' && step % 2 === 1;
      const hourVn = (new Date(now).getUTCHours() + 7) % 24;
      const playing = hourVn === 6 || hourVn === 17;
      const targetTemp = fault === 'degrade' ? 92 : playing ? 55 : 38;
      ampTemp += (targetTemp - ampTemp) * Math.min(1, dtS / 600) + (ctx.rng() - 0.5);
      const powerCut = fault === 'power';
      return {
        uptime_s: uptime,
        rsrp_dbm: Math.round(((edge ? -116 : baseRsrp) + (ctx.rng() - 0.5) * 6) * 10) / 10,
        rsrq_db: Math.round((-9 - ctx.rng() * 5) * 10) / 10,
        sinr_db: Math.round((8 + ctx.rng() * 10) * 10) / 10,
        network_type: '4G',
        supply_v: Math.round((powerCut ? 10.4 + ctx.rng() * 0.3 : 12.6 + ctx.rng() * 0.6) * 100) / 100,
        amp_temp_c: Math.round(ampTemp * 10) / 10,
        playing,
        volume_pct: 80,
        speaker_faults: 0,
        amp_ok: !(fault === 'degrade' && ampTemp > 95),
      };
    },
  };
};
