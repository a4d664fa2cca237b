import type { Fields, SimulatorFactory } from '../define.js';

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * A camera channel as its NVR reports it. 25 fps main stream (farm cameras 15 fps),
 * bitrate lower at night (IR, monochrome picture compresses better), the NVR disk
 * fills slowly and then overwrites the oldest footage.
 *
 * Faults: degrade = frame rate sinks (congested uplink) and the VPN to the IOC drops;
 * flap = the stream alternates lost/restored (a loose PoE cable, a failing switch
 * port); power = brown-out at the camera's PoE switch: the camera is offline or has
 * just rebooted and the NVR has not resumed recording.
 */
export const cameraSimulator: SimulatorFactory = (ctx) => {
  const role = ctx.role ?? 'onestop';
  const nominalFps = role === 'farm' ? 15 : 25;
  const nominalKbps = role === 'traffic' ? 6144 : role === 'farm' ? 2048 : 4096;
  const sharedWithIoc = role !== 'farm';
  let uptime = Math.floor(ctx.rng() * 86_400 * 30);
  let storage = 40 + ctx.rng() * 55;
  let fps = nominalFps;
  let step = 0;
  return {
    next({ now, dtS, fault }) {
      step++;
      uptime += Math.round(dtS);
      storage = Math.min(98, storage + (dtS / 86_400) * 1.5);
      const hourVn = (new Date(now).getUTCHours() + 7) % 24;
      const night = hourVn >= 18 || hourVn < 6;

      if (fault === 'power') {
        if (ctx.rng() < 0.5) {
          // The NVR only knows the channel is gone.
          return { online: false, stream_ok: false, recording: false };
        }
        uptime = Math.floor(ctx.rng() * Math.max(dtS, 30));
      }

      const fpsTarget = fault === 'degrade' ? 6 : nominalFps;
      fps += (fpsTarget - fps) * 0.3;
      const streamOk = !(fault === 'flap' && step % 2 === 1);
      const measuredFps = streamOk ? round(Math.max(0, fps - ctx.rng() * 0.4)) : 0;
      const kbps = streamOk ? nominalKbps * (night ? 0.7 : 1) * (0.85 + ctx.rng() * 0.25) * (measuredFps / nominalFps) : 0;
      const out: Fields = {
        uptime_s: uptime,
        online: true,
        stream_ok: streamOk,
        fps: measuredFps,
        bitrate_kbps: round(kbps, 0),
        // After a reboot the NVR needs a moment to re-open the stream and resume recording.
        recording: streamOk && fault !== 'power',
        storage_used_pct: round(storage),
      };
      if (sharedWithIoc) out['ioc_link'] = fault !== 'degrade';
      return out;
    },
  };
};
