/**
 * External-broker mode: subscribe to a broker the commune already runs (e.g.
 * Mosquitto) and feed the same pipeline.
 *
 * Durability: a persistent session (clean: false, a stable client id) and QoS 1
 * subscriptions. The PUBACK to the broker goes out (mqtt.js `handleMessage`
 * callback) only after the reading is committed, so a message the
 * gateway did not store stays with the broker and is redelivered after a
 * reconnect (MQTT 3.1.1 §4.4). mqtt.js handles incoming packets one at a time,
 * so each message asks the store to commit at once instead of waiting for the
 * group-commit window (see README, "External broker").
 *
 * Reconnects use jittered exponential backoff (a province's worth of gateways
 * must not reconnect in lockstep after the broker restarts); subscriptions are
 * sent again whenever the broker reports no session.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { GatewayContext, Source, SourceStatus } from '../context.js';

export class ExternalBroker implements Source {
  readonly name = 'mqtt-external';
  private ctx!: GatewayContext;
  private client: MqttClient | null = null;
  private attempt = 0;
  private connected = false;
  private lastError: string | undefined;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopping = false;

  async start(ctx: GatewayContext): Promise<void> {
    this.ctx = ctx;
    const ext = ctx.settings.mqtt.external!;
    const filters = ctx.inventory.subscriptionFilters();
    const options: IClientOptions = {
      clientId: ext.clientId ?? `commune-edge-${ctx.settings.gateway.id}`,
      clean: false,
      protocolVersion: 4,
      keepalive: 30,
      // Reconnects are scheduled here, with jitter (mqtt.js' own period is fixed).
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      resubscribe: true,
      rejectUnauthorized: ext.rejectUnauthorized,
    };
    if (ext.username) options.username = ext.username;
    if (ext.passwordEnv) options.password = process.env[ext.passwordEnv] ?? '';
    if (ext.caFile) options.ca = readFileSync(ext.caFile);
    if (ext.certFile) options.cert = readFileSync(ext.certFile);
    if (ext.keyFile) options.key = readFileSync(ext.keyFile);

    const client = mqtt.connect(ext.url, options);
    this.client = client;
    // mqtt.js calls handleMessage for an incoming QoS 1 PUBLISH and sends the PUBACK
    // only when its callback returns without error, for MQTT 3.1.1 and 5 alike
    // (customHandleAcks is an MQTT 5 feature and is ignored on 3.1.1).
    client.handleMessage = (packet, callback) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      ctx.pipeline.ingest({ topic: packet.topic, payload, client: null, transport: 'mqtt-external', commitNow: true }, (outcome) => {
        if (outcome.accepted || !outcome.retryable) return callback();
        // Not stored: no PUBACK; reconnect so that the broker redelivers it.
        this.lastError = outcome.detail;
        callback(new Error(outcome.detail));
        client.end(true, {}, () => this.scheduleReconnect(ext.reconnectMinMs, ext.reconnectMaxMs));
      });
    };
    client.on('connect', (connack) => {
      this.connected = true;
      this.attempt = 0;
      ctx.log.info({ url: redact(ext.url), sessionPresent: connack.sessionPresent, filters }, 'connected to external MQTT broker');
      if (!connack.sessionPresent) {
        client.subscribe(filters.map((f) => f), { qos: 1 }, (err, granted) => {
          if (err) return ctx.log.error({ err: err.message }, 'subscribe failed');
          const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
          if (refused.length) ctx.log.error({ refused }, 'the broker refused subscriptions (check its ACL)');
        });
      }
    });
    client.on('close', () => {
      if (this.connected) ctx.log.warn({ url: redact(ext.url) }, 'external MQTT broker connection lost');
      this.connected = false;
      this.scheduleReconnect(ext.reconnectMinMs, ext.reconnectMaxMs);
    });
    client.on('error', (err) => {
      this.lastError = err.message;
      ctx.log.warn({ err: err.message }, 'external MQTT broker error');
    });
    // Do not wait for the broker: a peer being down at start is not an error.
  }

  /**
   * Full jitter over an exponentially growing cap ("Exponential Backoff And
   * Jitter", AWS Architecture Blog): a province's gateways that lost the same
   * broker do not come back in lockstep, not even on the first attempt.
   */
  private scheduleReconnect(minMs: number, maxMs: number): void {
    if (this.stopping || this.reconnectTimer || !this.client) return;
    this.attempt++;
    const cap = Math.min(maxMs, minMs * 2 ** Math.min(this.attempt, 16));
    const delay = Math.round(minMs + Math.random() * (cap - minMs));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopping && this.client && !this.client.connected) this.client.reconnect();
    }, delay);
  }

  status(): SourceStatus {
    return this.lastError !== undefined
      ? { name: this.name, connected: this.connected, detail: this.lastError }
      : { name: this.name, connected: this.connected };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    if (client) await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
