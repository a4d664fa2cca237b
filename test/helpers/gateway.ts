/**
 * Boots the real gateway in-process (buildGateway) on free loopback ports with a
 * temporary store, and real MQTT clients against it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { buildGateway, type BuildOptions, type Gateway } from '../../gateway/build.js';
import { hashPassword, hashToken } from '../../gateway/credentials.js';
import { settingsFrom } from '../../gateway/settings/load.js';
import type { SettingsInput } from '../../gateway/settings/schema.js';

export const CHEAP = { N: 1024, r: 8, p: 1 };
export const TOKENS = { viewer: 'viewer-token-0123456789', officer: 'officer-token-0123456789', admin: 'admin-token-0123456789' };
export const pw = (id: string) => `pw-${id}`;

/** A small commune: 3 hamlets, a loudspeaker, a UPS, two cameras behind an NVR, a vendor-profile loudspeaker. */
export function testSettingsInput(dataDir: string, extra: Partial<SettingsInput> = {}): SettingsInput {
  return {
    commune: { code: '12345', name: 'Xã Thử Nghiệm', province: { code: '75', name: 'Đồng Nai' } },
    gateway: { id: 'gw-test', dataDir, heartbeatS: 5 },
    log: { level: 'silent', rejectLogIntervalS: 10 },
    hamlets: [
      { id: 'ap-01', name: 'Ấp 1' },
      { id: 'ap-02', name: 'Ấp 2' },
      { id: 'ap-03', name: 'Ấp 3' },
    ],
    mqtt: { host: '127.0.0.1', port: 0, maxPayloadBytes: 2048, maxPacketBytes: 8192, rateLimit: { msgsPerS: 50, burst: 100 } },
    profiles: {
      'loa-vendor': {
        kind: 'loudspeaker',
        topics: { telemetry: 'vendor/{device}/data', status: 'vendor/{device}/lwt' },
        timestamp: { path: 'time', unit: 's' },
        fields: { supply_v: { path: 'pwr.mv', scale: 0.001 }, amp_ok: { path: 'amp', values: { OK: true, FAULT: false } } },
      },
    },
    bridges: [{ id: 'nvr-1', name: 'NVR', passwordHash: hashPassword(pw('nvr-1'), CHEAP) }],
    devices: [
      { id: 'loa-01', name: 'Loa ấp 1', kind: 'loudspeaker', hamlet: 'ap-01', passwordHash: hashPassword(pw('loa-01'), CHEAP) },
      { id: 'loa-02', name: 'Loa ấp 2', kind: 'loudspeaker', hamlet: 'ap-02', profile: 'loa-vendor', passwordHash: hashPassword(pw('loa-02'), CHEAP) },
      { id: 'ups-01', name: 'UPS', kind: 'power', hamlet: 'ap-01', role: 'office', passwordHash: hashPassword(pw('ups-01'), CHEAP) },
      { id: 'cam-1', name: 'Camera một cửa 1', kind: 'camera', hamlet: 'ap-01', role: 'onestop', bridge: 'nvr-1' },
      { id: 'cam-2', name: 'Camera an ninh', kind: 'camera', hamlet: 'ap-03', role: 'security', bridge: 'nvr-1' },
    ],
    api: {
      host: '127.0.0.1',
      port: 0,
      tokens: [
        { name: 'viewer', role: 'viewer', tokenHash: hashToken(TOKENS.viewer) },
        { name: 'officer', role: 'officer', tokenHash: hashToken(TOKENS.officer) },
        { name: 'admin', role: 'admin', tokenHash: hashToken(TOKENS.admin) },
      ],
    },
    store: { commitIntervalMs: 5 },
    ...extra,
  };
}

export interface TestGateway {
  gw: Gateway;
  dir: string;
  mqttUrl: string;
  clients: MqttClient[];
  connect(username: string, password?: string, opts?: IClientOptions): Promise<MqttClient>;
  get(path: string, role?: keyof typeof TOKENS | null): Promise<{ status: number; json: any; body: string }>;
  close(): Promise<void>;
}

export async function startTestGateway(
  mutate: (input: SettingsInput) => SettingsInput = (s) => s,
  opts: BuildOptions = {},
  dir = mkdtempSync(join(tmpdir(), 'ce-gw-')),
): Promise<TestGateway> {
  const settings = settingsFrom(mutate(testSettingsInput(dir)));
  const gw = await buildGateway(settings, { logger: pino({ level: 'silent' }), ...opts });
  await gw.start();
  const mqttUrl = `mqtt://127.0.0.1:${gw.ports().mqtt}`;
  const clients: MqttClient[] = [];
  return {
    gw,
    dir,
    mqttUrl,
    clients,
    connect(username, password = pw(username), o = {}) {
      const client = mqtt.connect(mqttUrl, { username, password, clientId: `t-${username}-${Math.random()}`, reconnectPeriod: 0, ...o });
      clients.push(client);
      return new Promise((resolve, reject) => {
        client.once('connect', () => resolve(client));
        client.once('error', reject);
      });
    },
    async get(path, role = 'viewer') {
      const res = await gw.api.inject({ method: 'GET', url: path, headers: role ? { authorization: `Bearer ${TOKENS[role]}` } : {} });
      let json: unknown;
      try {
        json = res.json();
      } catch {
        json = undefined;
      }
      return { status: res.statusCode, json, body: res.body };
    },
    async close() {
      for (const c of clients) c.end(true);
      await gw.stop('test');
    },
  };
}

export function publish(client: MqttClient, topic: string, payload: string | Buffer, qos: 0 | 1 = 1): Promise<void> {
  return new Promise((resolve, reject) => client.publish(topic, payload, { qos }, (err) => (err ? reject(err) : resolve())));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Poll until `fn` returns a truthy value or the time is up. */
export async function until<T>(fn: () => T | Promise<T>, ms = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The value of one Prometheus sample, e.g. metric('ce_messages_rejected_total{reason="CE_PAYLOAD_JSON"}'). */
export function metric(text: string, sample: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(sample + ' ')) return Number(line.slice(sample.length + 1));
  }
  return 0;
}
