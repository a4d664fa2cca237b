/**
 * Device health: the state machine and its persisted transitions.
 *
 *   UNKNOWN ──reading──▶ UP / DEGRADED / DOWN (the kind's health rule)
 *   any ──no message for timeoutMs──▶ DOWN (heartbeat-timeout)
 *   any ──status "offline" (MQTT last-will)──▶ DOWN (offline)
 *   any ──gateway stops or loses power──▶ UNKNOWN (gateway-stopped / gateway-down)
 *
 * The gateway writes its own heartbeat (gateway_runs.last_beat_at). After a power
 * cut it finds a run without a clean stop and closes every device's state with a
 * transition to UNKNOWN at the last heartbeat: the gap is time the gateway could
 * not observe, not downtime. A device never seen stays UNKNOWN (never-seen).
 */
import { EventEmitter } from 'node:events';
import { worst, type DeviceState, type Fields, type Verdict } from '../../devices/define.js';
import type { GatewayContext } from '../context.js';
import type { Reading } from '../reading.js';
import type { GatewayRun, StoredDeviceState, Transition } from '../store/store.js';

export interface DeviceStatus {
  deviceId: string;
  state: DeviceState;
  since: number;
  reason: string;
  lastSeen: number | null;
  lastReading: Reading | null;
}

export interface HealthEvents {
  transition: [Transition];
}

export class HealthTracker extends EventEmitter<HealthEvents> {
  private readonly ctx: GatewayContext;
  private readonly status = new Map<string, DeviceStatus>();
  private readonly dirty = new Set<string>();
  private startedAt = 0;

  constructor(ctx: GatewayContext) {
    super();
    this.ctx = ctx;
  }

  /**
   * Restore states from the store and close the previous run. Called once, before
   * any input starts.
   */
  restore(previous: GatewayRun | null, now: number): void {
    this.startedAt = now;
    const stored = new Map<string, StoredDeviceState>(this.ctx.store.deviceStates().map((s) => [s.deviceId, s]));
    const lastTs = this.ctx.store.lastTransitionTs();
    // A run with no clean stop ended at its last heartbeat (power cut, kill -9).
    const crashed = previous !== null && previous.stoppedAt === null;
    const lastAlive = crashed ? this.ctx.store.lastSignOfLife(previous) : 0;
    for (const device of this.ctx.inventory.devices.values()) {
      const s = stored.get(device.id);
      const base: DeviceStatus = s
        ? { deviceId: device.id, state: s.state, since: s.since, reason: s.reason, lastSeen: s.lastSeen, lastReading: s.lastReading }
        : { deviceId: device.id, state: 'UNKNOWN', since: now, reason: 'never-seen', lastSeen: null, lastReading: null };
      this.status.set(device.id, base);
      if (!s) {
        this.transition(device.id, null, 'UNKNOWN', 'never-seen', now);
        continue;
      }
      if (base.state === 'UNKNOWN') continue;
      // After a crash the state ends at the last heartbeat; otherwise (a stop that
      // could not write its transitions) at this start. Either way nothing is
      // known until the device speaks again.
      const at = crashed ? Math.max(lastAlive, lastTs.get(device.id) ?? 0) : now;
      this.set(base, 'UNKNOWN', crashed ? 'gateway-down' : 'gateway-restart', at);
    }
  }

  get(deviceId: string): DeviceStatus | undefined {
    return this.status.get(deviceId);
  }

  all(): IterableIterator<DeviceStatus> {
    return this.status.values();
  }

  countsByState(): Record<DeviceState, number> {
    const out: Record<DeviceState, number> = { UP: 0, DEGRADED: 0, DOWN: 0, UNKNOWN: 0 };
    for (const s of this.status.values()) out[s.state]++;
    return out;
  }

  /** `transportVerdict`: what a probe's own thresholds said (worst of it and the kind's rule wins). */
  observeReading(reading: Reading, implausible: readonly string[], transportVerdict?: Verdict): void {
    const s = this.status.get(reading.deviceId);
    const device = this.ctx.inventory.devices.get(reading.deviceId);
    if (!s || !device) return;
    s.lastSeen = reading.receivedAt;
    if (s.lastReading) mergeReading(s.lastReading, reading);
    else s.lastReading = { ...reading, fields: { ...reading.fields } }; // our own copy: it is merged into in place
    this.dirty.add(reading.deviceId);
    const kindVerdict = device.kind.health(s.lastReading.fields, { id: device.id, kind: device.kind.id, role: device.role });
    // The transport's verdict first: on a tie its reason is the more precise (a probe's `timeout` or `refused` beats the kind's `no-answer`).
    let verdict = transportVerdict ? worst(transportVerdict, kindVerdict) : kindVerdict;
    if (verdict.state === 'UP' && implausible.length) verdict = { state: 'DEGRADED', reason: `implausible-${implausible[0]}` };
    this.set(s, verdict.state, verdict.reason, reading.receivedAt);
  }

  /** `reason`: why it is offline, from the transport (`offline` = the device's own last-will). */
  observeStatus(deviceId: string, online: boolean, now: number, reason = 'offline'): void {
    const s = this.status.get(deviceId);
    if (!s) return;
    s.lastSeen = now;
    this.dirty.add(deviceId);
    if (!online) this.set(s, 'DOWN', reason, now);
    else if (s.state === 'DOWN' || s.state === 'UNKNOWN') this.set(s, 'UP', 'online', now);
  }

  /** Heartbeat timeouts; run every second. */
  tick(now: number): void {
    for (const s of this.status.values()) {
      if (s.state === 'DOWN' || s.lastSeen === null) continue;
      const device = this.ctx.inventory.devices.get(s.deviceId)!;
      // Count from the start of this run: time the gateway was off proves nothing.
      const heardAt = Math.max(s.lastSeen, this.startedAt);
      if (now - heardAt > device.timeoutMs) this.set(s, 'DOWN', 'heartbeat-timeout', heardAt + device.timeoutMs);
    }
  }

  /** Persist last-seen and last readings of devices that changed (batched). */
  persistDirty(): void {
    for (const id of this.dirty) this.ctx.store.saveDeviceState({ ...this.status.get(id)! });
    this.dirty.clear();
  }

  /** Clean stop: every device becomes UNKNOWN at `now` (the gateway stops watching). */
  stop(now: number): void {
    for (const s of this.status.values()) {
      if (s.state !== 'UNKNOWN') this.set(s, 'UNKNOWN', 'gateway-stopped', now);
    }
    this.persistDirty();
  }

  private set(s: DeviceStatus, to: DeviceState, reason: string, at: number): void {
    if (s.state === to) {
      if (s.reason !== reason) {
        s.reason = reason;
        this.dirty.add(s.deviceId);
      }
      return;
    }
    const from = s.state;
    s.state = to;
    s.since = at;
    s.reason = reason;
    this.transition(s.deviceId, from, to, reason, at);
    this.ctx.store.saveDeviceState({ ...s });
    this.dirty.delete(s.deviceId);
  }

  private transition(deviceId: string, from: DeviceState | null, to: DeviceState, reason: string, ts: number): void {
    const t: Transition = { deviceId, ts, from, to, reason, runId: this.ctx.runId };
    this.ctx.store.appendTransition(t);
    this.ctx.metrics.transitions.inc({ to });
    if (from !== null || to !== 'UNKNOWN') this.emit('transition', t);
  }
}

/**
 * A device may report different fields in different messages (status vs
 * telemetry): health is judged on the latest value of every field.
 *
 * Merged in place: the tracker owns `prev` (a copy, or parsed from the store), and
 * readers (API, alerts, persistDirty) use it synchronously. A fresh object per
 * message lived exactly one reporting interval, long enough to be promoted to
 * V8's old generation, and at the realistic bench load that garbage was much of
 * what grew the heap between full collections.
 */
function mergeReading(prev: Reading, next: Reading): void {
  const fields: Fields = prev.fields;
  Object.assign(prev, next);
  prev.fields = fields;
  for (const k in next.fields) fields[k] = next.fields[k]!;
}
