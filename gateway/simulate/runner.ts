/**
 * `commune-edge simulate`: drives a config's inventory as real MQTT clients — one
 * connection per device or bridge, with its credentials, its vendor topic layout
 * and field names (the profile applied in reverse), last-will on the status
 * topic — and injects faults: a device goes silent, goes offline (socket drop, so
 * the broker publishes its last-will), a hamlet loses power, a link flaps, values
 * degrade.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Fields, SimFault } from '../../devices/define.js';
import type { Logger } from '../logger.js';
import { Inventory, type InventoryDevice } from '../pipeline/inventory.js';
import type { ProfileSettings, Settings } from '../settings/schema.js';
import { mulberry32 } from '../../devices/prng.js';

export type FaultType = 'silent' | 'offline' | 'power' | 'flap' | 'degrade';

export interface FaultSpec {
  type: FaultType;
  /** Device id, or hamlet id for `power`. */
  target: string;
  /** Seconds after the simulation starts. */
  atS: number;
  /** Duration in seconds; undefined = until the end. */
  forS?: number;
}

export interface SimulateOptions {
  settings: Settings;
  url: string;
  /** Password of an MQTT username (device or bridge). */
  password: (username: string) => string;
  /** Time compression: 10 = every device reports 10× as often as its kind says. */
  speed?: number;
  faults?: FaultSpec[];
  /** Repeat the fault timeline every this many seconds (the demo's rolling scenario). */
  repeatS?: number;
  log: Logger;
  seed?: number;
  qos?: 0 | 1;
}

/** `silent:cam-1@60+300`, `power:ap-07@120+240`, `flap:wan-viettel` */
export function parseFault(spec: string): FaultSpec {
  const m = /^(silent|offline|power|flap|degrade):([^@+]+)(?:@(\d+(?:\.\d+)?))?(?:\+(\d+(?:\.\d+)?))?$/.exec(spec);
  if (!m) throw new Error(`bad --fault "${spec}"; expected TYPE:TARGET[@START_S][+DURATION_S], TYPE one of silent, offline, power, flap, degrade`);
  const f: FaultSpec = { type: m[1] as FaultType, target: m[2]!, atS: m[3] ? Number(m[3]) : 0 };
  if (m[4]) f.forS = Number(m[4]);
  return f;
}

/** The demo's rolling scenario: something breaks and recovers every few minutes. */
export function demoScenario(): { faults: FaultSpec[]; repeatS: number } {
  return {
    repeatS: 900,
    faults: [
      { type: 'flap', target: 'wan-viettel', atS: 30, forS: 180 },
      { type: 'silent', target: 'cam-anninh-3', atS: 60, forS: 420 },
      { type: 'power', target: 'ap-07', atS: 120, forS: 300 },
      { type: 'degrade', target: 'loa-ap-05', atS: 200, forS: 240 },
      { type: 'offline', target: 'wifi-ap-09', atS: 400, forS: 200 },
    ],
  };
}


function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const segs = path.split('.');
  let cur = obj;
  for (const seg of segs.slice(0, -1)) {
    if (typeof cur[seg] !== 'object' || cur[seg] === null) cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[segs[segs.length - 1]!] = value;
}

/** Canonical fields → the vendor's payload, by the profile in reverse. */
export function toVendorPayload(profile: ProfileSettings, fields: Fields, now: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    const m = profile.fields[name];
    if (m === undefined) {
      out[name] = value;
      continue;
    }
    const spec = typeof m === 'string' ? { path: m } : m;
    let v: unknown = value;
    if (spec.values) {
      const key = Object.entries(spec.values).find(([, cv]) => cv === value)?.[0];
      if (key !== undefined) v = key;
    }
    if (typeof v === 'number' && (spec.scale !== undefined || spec.offset !== undefined)) {
      v = Math.round(((v - (spec.offset ?? 0)) / (spec.scale ?? 1)) * 1e6) / 1e6;
    }
    setPath(out, spec.path, v);
  }
  const unit = profile.timestamp.unit;
  setPath(out, profile.timestamp.path, unit === 's' ? Math.floor(now / 1000) : unit === 'iso' ? new Date(now).toISOString() : now);
  return out;
}

interface SimDevice {
  device: InventoryDevice;
  sim: ReturnType<InventoryDevice['kind']['simulator']>;
  lastAt: number;
  timer: NodeJS.Timeout | null;
  offline: boolean;
}

interface Publisher {
  username: string;
  devices: SimDevice[];
  client: MqttClient | null;
  /** A device-owned connection (not a bridge): its last-will is its own status. */
  own: boolean;
}

export class Simulation {
  readonly stats = { published: 0, acked: 0, errors: 0 };
  private readonly opts: SimulateOptions;
  private readonly publishers = new Map<string, Publisher>();
  private readonly devices = new Map<string, SimDevice>();
  private startedAt = 0;
  private stopped = false;
  private faultTimer: NodeJS.Timeout | null = null;

  constructor(opts: SimulateOptions) {
    this.opts = opts;
    const inventory = new Inventory(opts.settings);
    const seed = opts.seed ?? 1;
    for (const device of inventory.devices.values()) {
      const sim = device.kind.simulator({
        deviceId: device.id,
        hamlet: device.hamlet,
        role: device.role,
        rng: mulberry32(hashString(device.id) ^ seed),
      });
      const sd: SimDevice = { device, sim, lastAt: 0, timer: null, offline: false };
      this.devices.set(device.id, sd);
      let pub = this.publishers.get(device.publisher);
      if (!pub) {
        pub = { username: device.publisher, devices: [], client: null, own: device.publisher === device.id };
        this.publishers.set(device.publisher, pub);
      }
      pub.devices.push(sd);
    }
  }

  start(): void {
    this.startedAt = Date.now();
    for (const pub of this.publishers.values()) this.connect(pub);
    for (const sd of this.devices.values()) this.schedule(sd, 200 + Math.random() * 2000);
    this.faultTimer = setInterval(() => this.applyConnectionFaults(), 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.faultTimer) clearInterval(this.faultTimer);
    for (const sd of this.devices.values()) if (sd.timer) clearTimeout(sd.timer);
    await Promise.all(
      [...this.publishers.values()].map(
        (p) => new Promise<void>((resolve) => (p.client ? p.client.end(false, {}, () => resolve()) : resolve())),
      ),
    );
  }

  /** The fault a device is in now (the first active one wins). */
  faultOf(device: InventoryDevice, now = Date.now()): FaultType | null {
    const t = (now - this.startedAt) / 1000;
    const local = this.opts.repeatS ? t % this.opts.repeatS : t;
    for (const f of this.opts.faults ?? []) {
      if (local < f.atS || (f.forS !== undefined && local >= f.atS + f.forS)) continue;
      if (f.type === 'power' ? f.target === device.hamlet : f.target === device.id) return f.type;
    }
    return null;
  }

  private connect(pub: Publisher): void {
    const first = pub.devices[0]!.device;
    const will = pub.own && first.statusTopic ? { topic: first.statusTopic, payload: Buffer.from('offline'), qos: 1 as const, retain: true } : undefined;
    const client = mqtt.connect(this.opts.url, {
      clientId: `sim-${pub.username}`,
      username: pub.username,
      password: this.opts.password(pub.username),
      reconnectPeriod: 2000,
      keepalive: 30,
      ...(will ? { will } : {}),
    });
    pub.client = client;
    client.on('connect', () => {
      for (const sd of pub.devices) {
        if (sd.device.statusTopic && !sd.offline) client.publish(sd.device.statusTopic, 'online', { qos: 1, retain: true });
      }
    });
    client.on('error', (err) => {
      this.stats.errors++;
      this.opts.log.debug({ username: pub.username, err: err.message }, 'simulator connection error');
    });
  }

  /** Faults that act on connections (offline; a hamlet's power cut takes non-power devices offline). */
  private applyConnectionFaults(): void {
    const now = Date.now();
    for (const pub of this.publishers.values()) {
      for (const sd of pub.devices) {
        const fault = this.faultOf(sd.device, now);
        const shouldBeOffline = fault === 'offline' || (fault === 'power' && sd.device.kind.id !== 'power');
        if (shouldBeOffline === sd.offline) continue;
        sd.offline = shouldBeOffline;
        if (pub.own) {
          if (shouldBeOffline) {
            // Drop the socket without DISCONNECT: the broker publishes the last-will (MQTT 3.1.1 §3.1.2.5).
            const c = pub.client;
            pub.client = null;
            c?.stream.destroy();
            c?.end(true);
          } else {
            this.connect(pub);
          }
        } else if (sd.device.statusTopic && pub.client) {
          pub.client.publish(sd.device.statusTopic, shouldBeOffline ? 'offline' : 'online', { qos: 1, retain: true });
        }
      }
    }
  }

  private schedule(sd: SimDevice, delayMs: number): void {
    if (this.stopped) return;
    sd.timer = setTimeout(() => {
      this.step(sd);
      const speed = this.opts.speed ?? 1;
      const interval = (sd.device.heartbeatS * 1000) / speed;
      this.schedule(sd, interval * (0.9 + Math.random() * 0.2));
    }, delayMs);
  }

  private step(sd: SimDevice): void {
    const now = Date.now();
    const fault = this.faultOf(sd.device, now);
    // Simulated seconds: with --speed 30 a device's minute passes in two real seconds.
    const dtS = sd.lastAt ? ((now - sd.lastAt) / 1000) * (this.opts.speed ?? 1) : 0;
    sd.lastAt = now;
    // The simulator state advances even when nothing is sent.
    const simFault: SimFault = fault === 'power' || fault === 'flap' || fault === 'degrade' ? fault : 'none';
    const fields = sd.sim.next({ now, dtS, fault: simFault });
    if (fault === 'silent' || sd.offline) return;
    const client = this.publishers.get(sd.device.publisher)?.client;
    if (!client || !client.connected) return;
    const payload = JSON.stringify(toVendorPayload(sd.device.profile, fields, now));
    this.stats.published++;
    client.publish(sd.device.telemetryTopic, payload, { qos: this.opts.qos ?? 1 }, (err) => {
      if (err) this.stats.errors++;
      else this.stats.acked++;
    });
  }
}
