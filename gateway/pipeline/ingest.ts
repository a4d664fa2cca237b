/**
 * The pipeline every transport feeds: route → size → JSON → vendor profile →
 * kind schema → Reading → group commit → health. Validation happens before any
 * side effect; a rejected message is counted by reason, logged (rate-limited),
 * kept in the recent-rejects table, and never reaches the store or the health
 * tracker. One bad message never stops the loop: every step is contained.
 */
import { decodeFields } from '../../devices/decode.js';
import type { GatewayContext } from '../context.js';
import type { ErrorCode } from '../errors.js';
import type { Verdict } from '../../devices/define.js';
import { RateLimitedLog } from '../logger.js';
import type { Reading } from '../reading.js';
import { applyProfile } from './profile.js';

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  /** Who sent it: MQTT username, or the transport's name for the gateway's own inputs. */
  client: string | null;
  transport: string;
  /** Commit without waiting for the group-commit window (serial transports). */
  commitNow?: boolean;
}

/**
 * A reading from a transport that already knows the device and speaks in the
 * kind's canonical field names (Modbus register maps, OPC UA monitored items, the
 * gateway's own probes): no topic routing or vendor profile, the same kind schema,
 * store and health path as MQTT.
 */
export interface FieldSubmission {
  deviceId: string;
  /** Canonical field names of the device's kind; validated by its schema. */
  fields: Record<string, unknown>;
  /** `modbus`, `opcua`, `probe` ...: the `transport` label of ce_messages_received_total. */
  transport: string;
  /** Source timestamp (epoch ms) when the transport has one (OPC UA sourceTimestamp); else the gateway stamps it. */
  ts?: number;
  /** A verdict the transport derived itself (a probe's thresholds); the worst of it and the kind's rule wins. */
  verdict?: Verdict;
  /** Commit without waiting for the group-commit window. */
  commitNow?: boolean;
}

export type IngestOutcome =
  | { accepted: true; reading?: Reading }
  | { accepted: false; code: ErrorCode; detail: string; retryable: boolean };

export type IngestCallback = (outcome: IngestOutcome) => void;

export class Pipeline {
  private readonly ctx: GatewayContext;
  private readonly rejectLog: RateLimitedLog;
  private readonly maxPayloadBytes: number;

  /** Labelled counter children, bound once (prom-client hashes the label object on every inc otherwise: per-message path). */
  private readonly inByTransport = new Map<string, { inc(): void }>();
  private readonly acceptedByKind = new Map<string, { inc(): void }>();

  private countIn(transport: string): void {
    let c = this.inByTransport.get(transport);
    if (!c) this.inByTransport.set(transport, (c = this.ctx.metrics.messagesIn.labels(transport)));
    c.inc();
  }

  private countAccepted(kind: string): void {
    let c = this.acceptedByKind.get(kind);
    if (!c) this.acceptedByKind.set(kind, (c = this.ctx.metrics.readingsAccepted.labels(kind)));
    c.inc();
  }

  private fail(code: ErrorCode, detail: string, msg: InboundMessage, done: IngestCallback): void {
    this.reject(code, detail, msg);
    done({ accepted: false, code, detail, retryable: false });
  }

  constructor(ctx: GatewayContext) {
    this.ctx = ctx;
    this.rejectLog = new RateLimitedLog(ctx.log, ctx.settings.log.rejectLogIntervalS * 1000);
    this.maxPayloadBytes = ctx.settings.mqtt.maxPayloadBytes;
  }

  /**
   * Count every rejected message or connection; log it and keep it in the
   * recent-rejects table at most once per client, reason and interval, so a
   * flood of bad messages costs neither log lines nor SD-card writes.
   */
  reject(code: ErrorCode, detail: string, msg: { client: string | null; topic: string | null }): void {
    this.ctx.metrics.rejected.inc({ reason: code });
    const now = this.ctx.clock.now();
    if (this.rejectLog.warn(`${msg.client ?? '-'}:${code}`, { code, client: msg.client, topic: msg.topic, detail }, `rejected: ${detail}`, now)) {
      this.ctx.store.appendReject({ ts: now, code, client: msg.client, topic: msg.topic, detail });
    }
  }

  ingest(msg: InboundMessage, done: IngestCallback): void {
    const { ctx } = this;
    this.countIn(msg.transport);

    const route = ctx.inventory.routes.get(msg.topic);
    if (!route) {
      const code = ctx.inventory.classifyUnrouted(msg.topic);
      return this.fail(code, code === 'CE_DEVICE_UNKNOWN' ? `no device in the inventory publishes on ${msg.topic}` : `no device topic ${msg.topic}`, msg, done);
    }
    if (msg.payload.length > this.maxPayloadBytes) {
      return this.fail('CE_PAYLOAD_TOO_LARGE', `${msg.payload.length} bytes > mqtt.maxPayloadBytes ${this.maxPayloadBytes}`, msg, done);
    }
    const { device } = route;
    const now = ctx.clock.now();

    if (route.channel === 'status') {
      const text = msg.payload.toString('utf8').trim();
      const online = parseStatus(text, device.profile.status);
      if (online === undefined) return this.fail('CE_STATUS_INVALID', `status payload ${JSON.stringify(text.slice(0, 40))} for ${device.id}`, msg, done);
      ctx.health.observeStatus(device.id, online, now);
      return done({ accepted: true });
    }

    let json: unknown;
    try {
      json = JSON.parse(msg.payload.toString('utf8'));
    } catch (err) {
      return this.fail('CE_PAYLOAD_JSON', `${device.id}: ${(err as Error).message}`, msg, done);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      return this.fail('CE_PAYLOAD_SCHEMA', `${device.id}: payload must be a JSON object`, msg, done);
    }
    const mapped = applyProfile(device.profile, json as Record<string, unknown>);
    const decoded = decodeFields(device.kind, mapped.values);
    if (!decoded.ok) return this.fail('CE_PAYLOAD_SCHEMA', `${device.id}: ${decoded.message}`, msg, done);

    this.commit(device.id, device.kind.id, decoded, mapped.ts, mapped.tsInvalid === true, now, msg.commitNow === true, undefined, done);
  }

  /**
   * Ingest canonical fields from a transport that addresses devices directly.
   * Same validation, counters, store and health path as `ingest`; the device must
   * be in the inventory (CE_DEVICE_UNKNOWN otherwise).
   */
  submit(sub: FieldSubmission, done: IngestCallback): void {
    const { ctx } = this;
    this.countIn(sub.transport);
    const where = { client: sub.transport, topic: null };
    const device = ctx.inventory.devices.get(sub.deviceId);
    if (!device) {
      const detail = `${sub.transport}: no device "${sub.deviceId}" in the inventory`;
      this.reject('CE_DEVICE_UNKNOWN', detail, where);
      return done({ accepted: false, code: 'CE_DEVICE_UNKNOWN', detail, retryable: false });
    }
    const decoded = decodeFields(device.kind, sub.fields);
    if (!decoded.ok) {
      const detail = `${device.id} (${sub.transport}): ${decoded.message}`;
      this.reject('CE_PAYLOAD_SCHEMA', detail, where);
      return done({ accepted: false, code: 'CE_PAYLOAD_SCHEMA', detail, retryable: false });
    }
    this.commit(device.id, device.kind.id, decoded, sub.ts, false, ctx.clock.now(), sub.commitNow === true, sub.verdict, done);
  }

  private commit(
    deviceId: string,
    kind: string,
    decoded: { fields: Reading['fields']; implausible: readonly string[] },
    deviceTs: number | undefined,
    tsInvalid: boolean,
    now: number,
    commitNow: boolean,
    verdict: Verdict | undefined,
    done: IngestCallback,
  ): void {
    const { ctx } = this;
    let ts = now;
    let tsSource: Reading['tsSource'] = 'gateway';
    let quality: Reading['quality'] = decoded.implausible.length ? 'uncertain' : 'good';
    const guard = ctx.clockGuard;
    if (deviceTs !== undefined && !guard.holdover && guard.acceptDeviceTs(deviceTs, now)) {
      ts = deviceTs;
      tsSource = 'device';
    } else if (deviceTs !== undefined || tsInvalid || guard.holdover) {
      // A device clock (or ours) that cannot be trusted: stamp it ourselves and say so.
      ctx.metrics.clockRestamped.inc();
      guard.restamped++;
      tsSource = 'restamped';
      quality = 'uncertain';
    }
    const reading: Reading = { deviceId, kind, ts, tsSource, receivedAt: now, fields: decoded.fields, quality };
    const implausible = decoded.implausible;

    ctx.store.appendReading(reading, commitNow, (err) => {
      if (err) {
        ctx.metrics.rejected.inc({ reason: 'CE_STORE_WRITE' });
        return done({ accepted: false, code: 'CE_STORE_WRITE', detail: err.message, retryable: true });
      }
      this.countAccepted(reading.kind);
      ctx.health.observeReading(reading, implausible, verdict);
      done({ accepted: true, reading });
    });
  }
}

function parseStatus(text: string, values: { online: string[]; offline: string[] }): boolean | undefined {
  let t = text.toLowerCase();
  if (t.startsWith('{')) {
    // {"online": true} or {"status": "online"}
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      if (typeof o['online'] === 'boolean') return o['online'];
      if (typeof o['status'] === 'string') t = o['status'].toLowerCase();
      else return undefined;
    } catch {
      return undefined;
    }
  }
  if (values.online.some((v) => v.toLowerCase() === t)) return true;
  if (values.offline.some((v) => v.toLowerCase() === t)) return false;
  return undefined;
}
