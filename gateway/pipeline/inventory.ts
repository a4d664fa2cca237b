/**
 * The device inventory compiled from settings once at start: exact topic → device
 * routes (one Map lookup per message), MQTT credentials with their topic ACLs,
 * and each device's health timing.
 */
import type { DeviceKind } from '../../devices/define.js';
import { kindById } from '../../devices/registry.js';
import {
  DEFAULT_STATUS_TOPIC,
  DEFAULT_TELEMETRY_TOPIC,
  type DeviceSettings,
  type ProfileSettings,
  type Settings,
} from '../settings/schema.js';

export interface InventoryDevice {
  id: string;
  name: string;
  kind: DeviceKind;
  hamlet: string;
  role: string | undefined;
  settings: DeviceSettings;
  profile: ProfileSettings;
  telemetryTopic: string;
  statusTopic: string | null;
  /** MQTT username allowed to publish for this device (itself or its bridge). */
  publisher: string;
  heartbeatS: number;
  /** DOWN after this long without any message. */
  timeoutMs: number;
}

export interface Route {
  device: InventoryDevice;
  channel: 'telemetry' | 'status';
}

export interface Credential {
  username: string;
  passwordHash: string;
  /** Exact topics this client may publish to. */
  publishTopics: Set<string>;
  /** Topic prefixes (namespaces) this client may subscribe under. */
  namespaces: string[];
}

/** The profile of devices with none: canonical fields on ce/{device}/... topics. */
export function defaultProfile(kind: string): ProfileSettings {
  return {
    kind,
    topics: { telemetry: DEFAULT_TELEMETRY_TOPIC, status: DEFAULT_STATUS_TOPIC },
    timestamp: { path: 'ts', unit: 'auto' },
    fields: {},
    status: { online: ['online', '1', 'true', 'up'], offline: ['offline', '0', 'false', 'down'] },
  } as ProfileSettings;
}

export class Inventory {
  readonly devices = new Map<string, InventoryDevice>();
  readonly routes = new Map<string, Route>();
  readonly credentials = new Map<string, Credential>();
  /** Regexes of every topic template, to tell an unknown device from an unknown topic. */
  private readonly templates: { re: RegExp; profile: string }[] = [];

  constructor(settings: Settings) {
    const profiles = new Map<string, ProfileSettings>(Object.entries(settings.profiles));
    for (const b of settings.bridges) {
      this.credentials.set(b.id, { username: b.id, passwordHash: b.passwordHash, publishTopics: new Set(), namespaces: [] });
    }
    const templateSeen = new Set<string>();
    const polled = polledIntervals(settings);
    for (const d of settings.devices) {
      const kind = kindById(d.kind);
      if (!kind) throw new Error(`unknown kind ${d.kind}`); // unreachable: the schema checked it
      const profile = d.profile ? profiles.get(d.profile)! : defaultProfile(d.kind);
      const ext = d.externalId ?? d.id;
      const telemetryTopic = profile.topics.telemetry.replaceAll('{device}', ext);
      const statusTopic = profile.topics.status === null ? null : profile.topics.status.replaceAll('{device}', ext);
      const kindOverride = settings.health.kinds[d.kind];
      // A device the gateway polls itself reports as often as it is polled, whatever its kind's default
      // (a soil probe on LoRa every 15 min, the same probe on RS-485 polled every minute).
      const pollS = polled.get(d.id);
      const heartbeatS = d.heartbeatS ?? (pollS !== undefined ? Math.max(1, Math.ceil(pollS)) : undefined) ?? kindOverride?.heartbeatS ?? kind.heartbeatS;
      const missed = kindOverride?.missedHeartbeats ?? settings.health.missedHeartbeats;
      const device: InventoryDevice = {
        id: d.id,
        name: d.name,
        kind,
        hamlet: d.hamlet,
        role: d.role ?? kind.defaultRole,
        settings: d,
        profile,
        telemetryTopic,
        statusTopic,
        publisher: d.bridge ?? d.id,
        heartbeatS,
        timeoutMs: Math.round(heartbeatS * missed * 1000),
      };
      this.devices.set(d.id, device);
      this.routes.set(telemetryTopic, { device, channel: 'telemetry' });
      if (statusTopic) this.routes.set(statusTopic, { device, channel: 'status' });

      let cred = this.credentials.get(device.publisher);
      if (!cred && d.passwordHash) {
        cred = { username: d.id, passwordHash: d.passwordHash, publishTopics: new Set(), namespaces: [] };
        this.credentials.set(d.id, cred);
      }
      if (cred) {
        cred.publishTopics.add(telemetryTopic);
        if (statusTopic) cred.publishTopics.add(statusTopic);
        cred.namespaces.push(namespaceOf(profile.topics.telemetry, ext));
      }
      for (const t of [profile.topics.telemetry, profile.topics.status]) {
        if (t && !templateSeen.has(t)) {
          templateSeen.add(t);
          this.templates.push({ re: templateRegex(t), profile: d.profile ?? '(default)' });
        }
      }
    }
  }

  /** MQTT subscription filters that cover every device topic (external-broker mode). */
  subscriptionFilters(): string[] {
    const filters = new Set<string>();
    for (const d of this.devices.values()) {
      filters.add(d.profile.topics.telemetry.replaceAll('{device}', '+'));
      if (d.profile.topics.status) filters.add(d.profile.topics.status.replaceAll('{device}', '+'));
    }
    return [...filters];
  }

  /** For a topic with no route: does it look like a device topic (unknown device) or not at all? */
  classifyUnrouted(topic: string): 'CE_DEVICE_UNKNOWN' | 'CE_TOPIC_UNKNOWN' {
    return this.templates.some((t) => t.re.test(topic)) ? 'CE_DEVICE_UNKNOWN' : 'CE_TOPIC_UNKNOWN';
  }
}

/** `ce/{device}/telemetry` with device `ls-01` → `ce/ls-01/`: the device's own subtree. */
function namespaceOf(template: string, ext: string): string {
  const at = template.indexOf('{device}');
  return template.slice(0, at) + ext + '/';
}

function templateRegex(template: string): RegExp {
  const parts = template.split('{device}').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('[^/]+')}$`);
}

/**
 * Devices the gateway polls itself (Modbus slaves, probe targets) and their
 * interval in seconds; the slowest wins when a device is polled twice.
 */
export function polledIntervals(settings: Settings): Map<string, number> {
  const out = new Map<string, number>();
  const add = (device: string, s: number) => out.set(device, Math.max(out.get(device) ?? 0, s));
  for (const bus of settings.modbus?.buses ?? []) for (const slave of bus.slaves) add(slave.device, slave.pollS);
  const probes = settings.probes;
  if (probes) {
    for (const t of probes.targets) add(t.device, t.intervalS ?? probes.defaults.intervalS);
    for (const c of probes.lanSweep?.computers ?? []) add(c.device, probes.lanSweep!.intervalS);
  }
  return out;
}
