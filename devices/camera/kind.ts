/**
 * Camera (camera giám sát): the one-stop-shop cameras of the commune People's
 * Committee (bộ phận một cửa), security and traffic cameras (camera an ninh, giao
 * thông, camera tầm cao) and farm cameras of the "Nông nghiệp số" pilots. The state
 * comes over MQTT from the NVR (or from the camera, or a small bridge polling the
 * NVR's event API: Hikvision ISAPI, Dahua HTTP API). See README.md.
 */
import { capability, heartbeat, online, wordsToBooleans, probed } from '../capabilities.js';
import { defineKind } from '../define.js';
import { cameraSimulator } from './simulator.js';

/** `onestop` first: it is the default role and the one the plans set a target for. */
const ROLES = ['onestop', 'security', 'traffic', 'farm'] as const;
const DEFAULT_ROLE = ROLES[0];

/**
 * Below this the picture no longer follows movement (a walking person or a passing
 * motorbike): NVRs report it when a camera drops to its night/low-light slow
 * shutter or the link cannot carry the stream. Cameras in this region default to
 * 25 fps (50 Hz mains); farm cameras are often set to 10–15 fps, so 10 is the floor.
 */
const LOW_FPS = 10;

export const camera = defineKind({
  id: 'camera',
  label: { vi: 'Camera giám sát', en: 'Surveillance camera' },
  roles: ROLES,
  capabilities: [
    // The gateway's own probe (issue 4), when one is configured for the device.
    probed(),
    heartbeat({ intervalS: 60 }),
    // `online`: the NVR sees the camera (the camera answers it on the LAN).
    online(),
    capability(
      'ioc',
      [
        {
          name: 'ioc_link',
          type: 'boolean',
          label: { vi: 'Đã kết nối về IOC tỉnh', en: 'Stream delivered to the province IOC' },
        },
      ],
      (f, device) => {
        // Plans (Tà Lài, An Viễn): "duy trì phát triển 100% hệ thống camera ... bộ phận
        // một cửa cấp xã kết nối ... về IOC tỉnh". A one-stop-shop camera that records
        // but does not reach the IOC misses the plan's indicator. Other roles may be
        // shared with the IOC too, but no target depends on it.
        if ((device.role ?? DEFAULT_ROLE) === 'onestop' && f['ioc_link'] === false) {
          return { state: 'DEGRADED', reason: 'ioc-link-down' };
        }
        return undefined;
      },
    ),
    capability(
      'stream',
      [
        { name: 'stream_ok', type: 'boolean', label: { vi: 'Luồng video hoạt động', en: 'Video stream OK' } },
        { name: 'fps', type: 'float', unit: 'fps', min: 0, max: 120, label: { vi: 'Tốc độ khung hình', en: 'Frame rate' } },
        {
          name: 'bitrate_kbps',
          type: 'float',
          unit: 'kbps',
          min: 0,
          // Camera main streams are typically capped at 16–32 Mbps; 50 Mbps is beyond any camera here.
          max: 50_000,
          label: { vi: 'Tốc độ bit luồng video', en: 'Stream bitrate' },
        },
      ],
      (f) => {
        // Hikvision "videoloss" / Dahua "VideoLoss" events: the camera may still answer
        // (online) but no picture reaches the NVR, which is as bad as offline.
        if (f['stream_ok'] === false) return { state: 'DOWN', reason: 'stream-down' };
        const fps = f['fps'];
        if (typeof fps === 'number' && fps < LOW_FPS) return { state: 'DEGRADED', reason: 'fps-low' };
        return undefined;
      },
    ),
    capability(
      'recording',
      [
        { name: 'recording', type: 'boolean', label: { vi: 'Đang ghi hình', en: 'Recording' } },
        {
          name: 'storage_used_pct',
          type: 'float',
          unit: '%',
          min: 0,
          max: 100,
          // No health rule: NVRs overwrite the oldest footage by default, so a full
          // disk is their normal state. A disk fault shows as `recording: false`.
          label: { vi: 'Dung lượng ổ ghi đã dùng', en: 'NVR storage used' },
        },
      ],
      (f) => (f['recording'] === false ? { state: 'DEGRADED', reason: 'not-recording' } : undefined),
    ),
  ],
  // A bridge that forwards the NVR's channel state as text ("online"/"offline").
  normalize: (raw) => wordsToBooleans(raw, { online: { online: true, offline: false } }),
  simulator: cameraSimulator,
});
