/**
 * Optional MQTT uplink of live device status to a province broker (`ioc.mqtt`).
 *
 * Topics (prefix default `ioc/{province}/{commune}`):
 *   <prefix>/status/<device>   retained, QoS 1: the device's state (one JSON object)
 *   <prefix>/summary           retained: counts by state
 *   <prefix>/gateway           retained: {"state":"online"} at connect, {"state":"offline"}
 *                              as the last-will (MQTT 3.1.1 §3.1.2.5) and on a clean stop
 *
 * Retained per device (MQTT 3.1.1 §3.3.1.3): a province dashboard that
 * subscribes to `ioc/75/+/status/#` gets every device's current state at once.
 * Live only, not a history: while the broker is unreachable nothing is queued
 * (the HTTPS outbox is the durable channel); on every (re)connect the whole
 * snapshot is published again, which brings the retained states up to date.
 *
 * mqtt.js is loaded only when `ioc.mqtt` is set (≈9 MB on a Pi).
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { GatewayContext } from '../context.js';
import type { IocMqttSettings } from './settings.js';
import { isoWithOffset } from './time.js';

export interface MqttUplinkStatus {
  url: string;
  connected: boolean;
  published: number;
  lastError: string | null;
  connects: number;
}

export interface MqttUplinkHooks {
  onConnected(connected: boolean): void;
  onPublished(): void;
  /** Where passwordEnv is read (the feed's env, default process.env). */
  env?: NodeJS.ProcessEnv;
}

export class IocMqttUplink {
  private readonly settings: IocMqttSettings;
  private readonly hooks: MqttUplinkHooks;
  private ctx!: GatewayContext;
  private client: MqttClient | null = null;
  private connected = false;
  private stopping = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private published = 0;
  private connects = 0;
  private lastError: string | null = null;
  private prefix = '';

  constructor(settings: IocMqttSettings, hooks: MqttUplinkHooks) {
    this.settings = settings;
    this.hooks = hooks;
  }

  /** Connects in the background; never throws for a broker being down. */
  async start(ctx: GatewayContext): Promise<void> {
    this.ctx = ctx;
    const s = this.settings;
    const { commune, gateway } = ctx.settings;
    this.prefix = s.topicPrefix
      .replaceAll('{province}', commune.province.code)
      .replaceAll('{commune}', commune.code)
      .replaceAll('{gateway}', gateway.id)
      .replace(/\/+$/, '');
    const options: IClientOptions = {
      clientId: s.clientId ?? `commune-edge-${commune.code}-${gateway.id}`,
      clean: true,
      protocolVersion: 4,
      keepalive: 60,
      // Reconnects are scheduled here with jitter (mqtt.js' own period is fixed).
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      rejectUnauthorized: s.rejectUnauthorized,
      // Live status only: nothing is queued while offline (the snapshot on reconnect covers it).
      queueQoSZero: false,
      will: { topic: `${this.prefix}/gateway`, payload: Buffer.from(JSON.stringify({ state: 'offline', gatewayId: gateway.id })), qos: 1, retain: true },
    };
    if (s.username) options.username = s.username;
    try {
      if (s.passwordEnv) {
        const pw = (this.hooks.env ?? process.env)[s.passwordEnv];
        if (pw === undefined) throw new Error(`environment variable ${s.passwordEnv} (ioc.mqtt.passwordEnv) is unset`);
        options.password = pw;
      }
      if (s.caFile) options.ca = readFileSync(s.caFile);
      if (s.certFile) options.cert = readFileSync(s.certFile);
      if (s.keyFile) options.key = readFileSync(s.keyFile);
    } catch (err) {
      this.lastError = (err as Error).message;
      ctx.log.error({ code: 'CE_IOC_CONFIG', err: this.lastError }, 'MQTT uplink not started');
      return;
    }
    const mqtt = (await import('mqtt')).default;
    const client = mqtt.connect(s.url, options);
    this.client = client;
    client.on('connect', () => {
      this.connected = true;
      this.attempt = 0;
      this.connects++;
      this.lastError = null;
      this.hooks.onConnected(true);
      ctx.log.info({ url: redact(s.url), prefix: this.prefix }, 'MQTT uplink connected; publishing every device status');
      this.publishRaw(`${this.prefix}/gateway`, { state: 'online', gatewayId: gateway.id, at: this.iso(ctx.clock.now()) });
      this.publishAll();
    });
    client.on('close', () => {
      if (this.connected) ctx.log.warn({ code: 'CE_IOC_MQTT', url: redact(s.url) }, 'MQTT uplink connection lost');
      if (this.connected) this.hooks.onConnected(false);
      this.connected = false;
      this.scheduleReconnect();
    });
    client.on('error', (err) => {
      // CONNACK refusals (bad credentials) and TLS errors arrive here; 'close' follows.
      if (this.lastError !== err.message) ctx.log.warn({ code: 'CE_IOC_MQTT', err: err.message }, 'MQTT uplink error');
      this.lastError = err.message;
    });
  }

  /** One device changed: its retained status and the summary. */
  publishDevice(deviceId: string): void {
    if (!this.connected) return;
    const payload = this.devicePayload(deviceId);
    if (payload) this.publishRaw(`${this.prefix}/status/${deviceId}`, payload);
    this.publishSummary();
  }

  private publishAll(): void {
    for (const id of this.ctx.inventory.devices.keys()) {
      const payload = this.devicePayload(id);
      if (payload) this.publishRaw(`${this.prefix}/status/${id}`, payload);
    }
    this.publishSummary();
  }

  private publishSummary(): void {
    const { commune } = this.ctx.settings;
    this.publishRaw(`${this.prefix}/summary`, {
      commune: { code: commune.code, name: commune.name },
      gatewayId: this.ctx.settings.gateway.id,
      at: this.iso(this.ctx.clock.now()),
      total: this.ctx.inventory.devices.size,
      counts: this.ctx.health.countsByState(),
    });
  }

  private devicePayload(deviceId: string): Record<string, unknown> | null {
    const d = this.ctx.inventory.devices.get(deviceId);
    if (!d) return null;
    const s = this.ctx.health.get(deviceId);
    return {
      id: d.id,
      name: d.name,
      kind: d.kind.id,
      role: d.role ?? null,
      hamlet: d.hamlet,
      state: s?.state ?? 'UNKNOWN',
      since: this.iso(s?.since ?? this.ctx.clock.now()),
      reason: s?.reason ?? 'never-seen',
      lastSeen: s?.lastSeen ? this.iso(s.lastSeen) : null,
      at: this.iso(this.ctx.clock.now()),
    };
  }

  private publishRaw(topic: string, payload: Record<string, unknown>): void {
    const client = this.client;
    if (!client) return;
    client.publish(topic, JSON.stringify(payload), { qos: this.settings.qos, retain: true }, (err) => {
      if (err) {
        this.lastError = err.message;
        return;
      }
      this.published++;
      this.hooks.onPublished();
    });
  }

  private iso(ms: number): string {
    return isoWithOffset(ms, this.ctx.settings.commune.timezone);
  }

  /** Full jitter over a doubling cap, from the first attempt (as gateway/inputs/mqtt-external.ts). */
  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer || !this.client) return;
    this.attempt++;
    const { reconnectMinMs: min, reconnectMaxMs: max } = this.settings;
    const cap = Math.min(max, min * 2 ** Math.min(this.attempt, 16));
    const delay = Math.round(min + Math.random() * (cap - min));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopping && this.client && !this.client.connected) this.client.reconnect();
    }, delay);
  }

  status(): MqttUplinkStatus {
    return { url: redact(this.settings.url), connected: this.connected, published: this.published, lastError: this.lastError, connects: this.connects };
  }

  /** Clean stop: publish "offline" (the will is not sent on a clean DISCONNECT), then disconnect. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (this.connected) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        client.publish(
          `${this.prefix}/gateway`,
          JSON.stringify({ state: 'offline', gatewayId: this.ctx.settings.gateway.id, at: this.iso(this.ctx.clock.now()) }),
          { qos: 1, retain: true },
          () => {
            clearTimeout(timer);
            resolve();
          },
        );
      });
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.end(true);
        resolve();
      }, 2000);
      client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.connected = false;
  }
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
