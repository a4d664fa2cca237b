// The state every view reads: the session, kinds, hamlets and devices. app.js
// fills it and keeps device states current from the live stream.

export const ROLE_RANK = { viewer: 1, officer: 2, admin: 3 };

export const store = {
  session: null,
  /** id → { id, label, roles, fields } (GET /api/kinds) */
  kinds: new Map(),
  /** [{ id, name }] in config order (GET /api/hamlets) */
  hamlets: [],
  /** id → device (GET /api/devices), state fields updated live */
  devices: new Map(),
  live: 'connecting',
  /** Gateway time of the last update (snapshot, transition or health event). */
  updatedAt: null,
  can(role) {
    return !!this.session && ROLE_RANK[this.session.role] >= ROLE_RANK[role];
  },
};

let queued = new Set();
/** Run `fn` on the next frame, once however often it was asked (a burst of transitions = one render). */
export function scheduleRender(fn) {
  if (queued.has(fn)) return;
  queued.add(fn);
  requestAnimationFrame(() => {
    queued.delete(fn);
    fn();
  });
}

/**
 * Importance of a device when it is down (the officer fixes from the top):
 * one-stop-shop cameras (the plans' 100 % IOC target) and the government data
 * line (TSLCD) first, then the internet uplink and the firewall, power, the LAN,
 * the loudspeakers, video conference, security cameras, Wi-Fi, farm sensors.
 */
export function importance(d) {
  if (d.kind === 'camera' && d.role === 'onestop') return 0;
  if (d.kind === 'network' && d.role === 'tslcd') return 1;
  if (d.kind === 'network' && (d.role === 'wan' || d.role === 'firewall')) return 2;
  if (d.kind === 'power') return 3;
  if (d.kind === 'network') return 4;
  if (d.kind === 'loudspeaker') return 5;
  if (d.kind === 'vconf') return 6;
  if (d.kind === 'camera' && d.role !== 'farm') return 7;
  if (d.kind === 'wifi_ap') return 8;
  return 9;
}
