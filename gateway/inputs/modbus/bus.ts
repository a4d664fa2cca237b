/**
 * One RS-485 bus: one serial port, one poll loop. RS-485 is half-duplex and Modbus
 * RTU has a single master (Modbus over Serial Line V1.02 §2.2, §2.3), so exactly
 * one request is in flight per bus; each slave has its own schedule and the loop
 * always serves the slave that is due first.
 *
 * A bad slave costs the others little: a timed-out request is retried once only
 * for a slave that was answering; a slave that keeps failing is polled less often
 * (pollS × 2^(failures−1), capped), so a dead probe occupies the bus for at most
 * one timeout per (backed-off) poll; the first good answer restores its interval.
 * After `downAfter` failed polls in a row its device is marked DOWN at once.
 *
 * A vanished port (USB adapter unplugged: `close`/`error` on the open port, or
 * ENOENT at open) marks the bus disconnected; it is reopened with jittered
 * exponential backoff until it returns, and polling resumes by itself.
 *
 * Master side: modbus-serial (connectRTUBuffered) on serialport. Before every
 * request the receive buffer is flushed (OS queue and modbus-serial's own frame
 * buffer), so noise or a late answer between frames cannot shift the next frame.
 */
import { performance } from 'node:perf_hooks';
import type { EventEmitter } from 'node:events';
import modbusSerial from 'modbus-serial';
import type { SerialPort } from 'serialport';
import type { FieldSpec } from '../../../devices/define.js';
import type { GatewayContext } from '../../context.js';
import type { ErrorCode } from '../../errors.js';
import { RateLimitedLog } from '../../logger.js';
import type { ModbusMetrics } from './metrics.js';
import { decodeRegisters, interFrameMs, readResponseBytes, charTimeMs, READ_REQUEST_BYTES, type ResolvedMap } from './registers.js';
import type { ModbusBusSettings, ModbusSlaveSettings } from './settings.js';

/** What one request came to; the `result` label of ce_modbus_requests_total. */
export type RequestResult = 'ok' | 'timeout' | 'crc' | 'exception' | 'garbled' | 'disconnected';

const CODE_OF: Record<Exclude<RequestResult, 'ok'>, ErrorCode> = {
  timeout: 'CE_MODBUS_TIMEOUT',
  crc: 'CE_MODBUS_CRC',
  exception: 'CE_MODBUS_EXCEPTION',
  garbled: 'CE_MODBUS_FRAME',
  disconnected: 'CE_MODBUS_PORT',
};

export interface SlaveSnapshot {
  device: string;
  unitId: number;
  map: string;
  pollS: number;
  /** Poll attempts made (a poll may use two requests: one retry). */
  polls: number;
  okPolls: number;
  requests: Record<RequestResult, number>;
  consecutiveFailures: number;
  /** Current interval in seconds (pollS, or longer while backed off). */
  intervalS: number;
  lastResult: RequestResult | null;
  lastOkAt: number | null;
  markedDown: boolean;
}

export interface BusSnapshot {
  id: string;
  port: string;
  state: 'opening' | 'open' | 'disconnected' | 'stopped';
  lastError: string | null;
  opens: number;
  slaves: SlaveSnapshot[];
}

interface SlaveState {
  cfg: ModbusSlaveSettings;
  map: ResolvedMap;
  /** The device kind's spec of each mapped field (integer fields are rounded, booleans are ≠ 0). */
  specs: Map<string, FieldSpec>;
  pollMs: number;
  downAfter: number;
  /** performance.now() time of the next poll. */
  nextDueAt: number;
  failures: number;
  polls: number;
  okPolls: number;
  requests: Record<RequestResult, number>;
  lastResult: RequestResult | null;
  lastOkAt: number | null;
  markedDown: boolean;
}

interface RequestOutcome {
  result: RequestResult;
  words?: number[];
  detail?: string;
}

/**
 * modbus-serial v8 internals used on purpose (ports/rtubufferedport.js): the frame
 * buffer it scans for the next answer, and the SerialPort under it. Flushing them
 * before a request is what keeps noise from desynchronising later frames; the
 * byte count tells a timeout (silence) from garbage (bytes but no valid frame).
 */
interface RtuBufferedPortInternals extends EventEmitter {
  _buffer?: Buffer;
  _client?: SerialPort;
}

// modbus-serial is CommonJS: under NodeNext its default import is module.exports,
// whose `default` (set by the package to module.exports itself) is the ModbusRTU class.
const ModbusRTU = modbusSerial.default;

type NodeCallback<T> = (err: unknown, res: T) => void;
interface ModbusMaster extends EventEmitter {
  isOpen: boolean;
  setTimeout(ms: number): void;
  connectRTUBuffered(path: string, options: Record<string, unknown>): Promise<void>;
  writeFC3(unit: number, address: number, count: number, next: NodeCallback<{ data: number[] }>): void;
  writeFC4(unit: number, address: number, count: number, next: NodeCallback<{ data: number[] }>): void;
  close(cb: (err?: unknown) => void): void;
  _port?: RtuBufferedPortInternals;
}

export interface BusPollerOptions {
  ctx: GatewayContext;
  bus: ModbusBusSettings;
  /** Resolved map per slave index (validated by the settings check). */
  maps: ResolvedMap[];
  metrics: ModbusMetrics;
  log: RateLimitedLog;
  /** Per slave (same order as bus.slaves): failed polls in a row after which its device is marked DOWN. */
  downAfter: number[];
}

export class BusPoller {
  private readonly ctx: GatewayContext;
  private readonly bus: ModbusBusSettings;
  private readonly metrics: ModbusMetrics;
  private readonly rlog: RateLimitedLog;
  private readonly slaves: SlaveState[];
  private readonly gapMs: number;

  private state: BusSnapshot['state'] = 'opening';
  private client: ModbusMaster | null = null;
  private lastError: string | null = null;
  private opens = 0;
  private reopenAttempt = 0;
  private reopenTimer: NodeJS.Timeout | null = null;
  private reopenAt: number | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** performance.now() at the end of the last frame (answer or timeout): t3.5 counts from here. */
  private lastFrameEnd = 0;
  private rxBytes = 0;

  constructor(opts: BusPollerOptions) {
    this.ctx = opts.ctx;
    this.bus = opts.bus;
    this.metrics = opts.metrics;
    this.rlog = opts.log;
    this.gapMs = opts.bus.interFrameDelayMs ?? interFrameMs(opts.bus);
    const now = performance.now();
    this.slaves = opts.bus.slaves.map((cfg, i) => {
      const map = opts.maps[i]!;
      const kind = this.ctx.inventory.devices.get(cfg.device)?.kind;
      const specs = new Map<string, FieldSpec>();
      for (const r of map.registers) {
        const spec = kind?.fieldByName.get(r.field);
        if (spec) specs.set(r.field, spec);
      }
      return {
        cfg,
        map,
        specs,
        pollMs: cfg.pollS * 1000,
        downAfter: opts.downAfter[i] ?? 3,
        // Spread the first polls over one gap each so a restart does not send a burst.
        nextDueAt: now + i * this.gapMs,
        failures: 0,
        polls: 0,
        okPolls: 0,
        requests: { ok: 0, timeout: 0, crc: 0, exception: 0, garbled: 0, disconnected: 0 },
        lastResult: null,
        lastOkAt: null,
        markedDown: false,
      };
    });
  }

  get id(): string {
    return this.bus.id;
  }

  /** Opens the port in the background and starts the poll loop; never throws. */
  start(): void {
    this.checkLoad();
    void this.open();
    this.loop = this.run().catch((err: Error) => {
      // Unreachable by design (every step is contained); logged rather than an unhandled rejection.
      this.ctx.log.error({ bus: this.bus.id, err: err.message }, 'modbus poll loop ended unexpectedly');
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
    this.wake?.();
    const client = this.client;
    this.client = null;
    if (client) await closeQuietly(client);
    // The request in flight ends at its timeout guard at the latest.
    await this.loop;
    this.metrics.busOpen.set({ bus: this.bus.id }, 0);
  }

  isOpen(): boolean {
    return this.state === 'open';
  }

  snapshot(): BusSnapshot {
    return {
      id: this.bus.id,
      port: this.bus.port,
      state: this.state,
      lastError: this.lastError,
      opens: this.opens,
      slaves: this.slaves.map((s) => ({
        device: s.cfg.device,
        unitId: s.cfg.unitId,
        map: s.map.id,
        pollS: s.cfg.pollS,
        polls: s.polls,
        okPolls: s.okPolls,
        requests: { ...s.requests },
        consecutiveFailures: s.failures,
        intervalS: this.intervalMs(s) / 1000,
        lastResult: s.lastResult,
        lastOkAt: s.lastOkAt,
        markedDown: s.markedDown,
      })),
    };
  }

  /** `bus farm-1 (/dev/ttyUSB0): open, 3/4 slaves answering (dat-04: timeout)` */
  summary(): string {
    const head = `bus ${this.bus.id} (${this.bus.port})`;
    if (this.state !== 'open') {
      const wait = this.reopenAt !== null ? `, reopening in ${Math.max(0, Math.ceil((this.reopenAt - performance.now()) / 1000))} s` : '';
      return `${head}: ${this.state}${this.lastError ? ` (${this.lastError})` : ''}${wait}`;
    }
    const answering = this.slaves.filter((s) => s.failures === 0 && s.lastOkAt !== null).length;
    const failing = this.slaves.filter((s) => s.failures > 0).map((s) => `${s.cfg.device}: ${s.lastResult}`);
    return `${head}: open, ${answering}/${this.slaves.length} slaves answering${failing.length ? ` (${failing.join(', ')})` : ''}`;
  }

  // -------------------------------------------------------------------------
  // Port
  // -------------------------------------------------------------------------

  private async open(): Promise<void> {
    if (this.stopped) return;
    this.reopenTimer = null;
    this.reopenAt = null;
    this.state = this.opens === 0 && this.reopenAttempt === 0 ? 'opening' : 'disconnected';
    const client = new ModbusRTU() as unknown as ModbusMaster;
    client.setTimeout(this.bus.timeoutMs);
    // modbus-serial re-emits port errors; with no listener an 'error' event would throw.
    client.on('error', (err: unknown) => this.portLost(client, errorText(err)));
    client.on('close', () => this.portLost(client, 'port closed'));
    try {
      await client.connectRTUBuffered(this.bus.port, {
        baudRate: this.bus.baudRate,
        parity: this.bus.parity,
        dataBits: this.bus.dataBits,
        stopBits: this.bus.stopBits,
      });
    } catch (err) {
      client._port?.on('error', () => undefined); // the failed port object is dropped; keep it from throwing
      this.metrics.portOpens.inc({ bus: this.bus.id, result: 'failed' });
      this.lastError = errorText(err);
      this.rlog.warn(
        `${this.bus.id}:open`,
        { code: 'CE_MODBUS_PORT', bus: this.bus.id, port: this.bus.port, err: this.lastError },
        `modbus bus ${this.bus.id}: cannot open ${this.bus.port}; retrying with backoff`,
      );
      this.state = 'disconnected';
      this.scheduleReopen();
      this.wake?.(); // polls due meanwhile count as failed (the probes are not being read)
      return;
    }
    if (this.stopped) {
      await closeQuietly(client);
      return;
    }
    const rtu = client._port;
    rtu?._client?.on('data', (chunk: Buffer) => {
      this.rxBytes += chunk.length;
    });
    this.client = client;
    this.state = 'open';
    this.opens++;
    this.reopenAttempt = 0;
    this.lastError = null;
    this.metrics.portOpens.inc({ bus: this.bus.id, result: 'ok' });
    this.metrics.busOpen.set({ bus: this.bus.id }, 1);
    if (this.opens > 1) this.ctx.log.info({ bus: this.bus.id, port: this.bus.port }, `modbus bus ${this.bus.id}: port reopened; polling resumes`);
    // Everything is due again: a slave backed off while the port was away is asked at once.
    const now = performance.now();
    this.slaves.forEach((s, i) => (s.nextDueAt = now + i * this.gapMs));
    this.lastFrameEnd = now;
    this.wake?.();
  }

  private portLost(client: ModbusMaster, why: string): void {
    if (client !== this.client || this.stopped) return; // a stale port object, or our own close
    this.client = null;
    this.state = 'disconnected';
    this.lastError = why;
    this.metrics.busOpen.set({ bus: this.bus.id }, 0);
    // Rate-limited: a USB adapter browning out can drop and return every second.
    this.rlog.warn(
      `${this.bus.id}:lost`,
      { code: 'CE_MODBUS_PORT', bus: this.bus.id, port: this.bus.port, err: why },
      `modbus bus ${this.bus.id}: serial port lost (adapter unplugged?); reopening with backoff`,
    );
    void closeQuietly(client);
    this.scheduleReopen();
  }

  /** Exponential from reopenMinMs to reopenMaxMs, each delay jittered to 50..100 % so many gateways do not retry in step. */
  private scheduleReopen(): void {
    if (this.stopped || this.reopenTimer) return;
    const cap = Math.min(this.bus.reopenMaxMs, this.bus.reopenMinMs * 2 ** this.reopenAttempt);
    const delay = Math.round(cap / 2 + (Math.random() * cap) / 2);
    this.reopenAttempt++;
    this.reopenAt = performance.now() + delay;
    this.reopenTimer = setTimeout(() => void this.open(), delay);
  }

  // -------------------------------------------------------------------------
  // Poll loop
  // -------------------------------------------------------------------------

  private async run(): Promise<void> {
    while (!this.stopped) {
      const slave = this.nextSlave();
      if (!slave || this.state === 'opening') {
        // Nothing to poll, or the first open is still under way (its end wakes us).
        await this.sleep(Infinity);
        continue;
      }
      const wait = slave.nextDueAt - performance.now();
      if (wait > 0) {
        await this.sleep(wait);
        continue; // woken early (reopen, stop) or on time: choose again
      }
      await this.poll(slave);
    }
  }

  private nextSlave(): SlaveState | undefined {
    let best: SlaveState | undefined;
    for (const s of this.slaves) if (!best || s.nextDueAt < best.nextDueAt) best = s;
    return best;
  }

  /** Sleep until `ms` passed or `wake()` (reopen, stop) is called, whichever is first. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const done = () => {
        if (timer) clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      if (Number.isFinite(ms)) timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private intervalMs(s: SlaveState): number {
    if (s.failures <= 1) return s.pollMs;
    return s.pollMs * Math.min(2 ** (s.failures - 1), this.bus.backoffMaxFactor);
  }

  private async poll(slave: SlaveState): Promise<void> {
    const dueAt = slave.nextDueAt;
    slave.polls++;
    // One retry per poll, and only for a slave that was answering: a lost frame on a
    // noisy line is worth a second try, a dead slave is not worth two timeouts.
    const attempts = slave.failures === 0 ? 2 : 1;
    let outcome: RequestOutcome = { result: 'disconnected' };
    for (let i = 0; i < attempts && !this.stopped; i++) {
      outcome = await this.request(slave);
      slave.requests[outcome.result]++;
      this.metrics.requests.inc({ bus: this.bus.id, slave: String(slave.cfg.unitId), device: slave.cfg.device, result: outcome.result });
      if (outcome.result === 'ok') break;
      this.report(slave, outcome);
      if (outcome.result === 'exception' || outcome.result === 'disconnected') break;
    }
    if (this.stopped) return;
    slave.lastResult = outcome.result;
    const now = performance.now();
    if (outcome.result === 'ok' && outcome.words) {
      slave.okPolls++;
      slave.failures = 0;
      slave.markedDown = false;
      slave.lastOkAt = this.ctx.clock.now();
      this.submit(slave, outcome.words);
      // Fixed rate, not fixed delay: a slow neighbour must not make this slave drift;
      // but never more than one catch-up poll after a stall.
      slave.nextDueAt = Math.max(dueAt + slave.pollMs, now);
      return;
    }
    slave.failures++;
    if (slave.failures >= slave.downAfter && !slave.markedDown) {
      slave.markedDown = true;
      // The gateway itself saw the probe stop answering: DOWN now, not at the
      // heartbeat timeout (which counts the kind's 15 min LoRa interval by default).
      this.ctx.health.observeStatus(slave.cfg.device, false, this.ctx.clock.now(), 'modbus-no-answer');
      this.ctx.log.warn(
        { code: CODE_OF[outcome.result as Exclude<RequestResult, 'ok'>], bus: this.bus.id, unit: slave.cfg.unitId, device: slave.cfg.device, failures: slave.failures },
        `modbus: ${slave.cfg.device} (unit ${slave.cfg.unitId}) failed ${slave.failures} polls in a row; marked DOWN`,
      );
    }
    slave.nextDueAt = now + this.intervalMs(slave);
  }

  private report(slave: SlaveState, outcome: RequestOutcome): void {
    const result = outcome.result as Exclude<RequestResult, 'ok'>;
    const code = CODE_OF[result];
    const client = `modbus:${this.bus.id}/${slave.cfg.unitId}`;
    const detail = `${slave.cfg.device} (bus ${this.bus.id}, unit ${slave.cfg.unitId}): ${outcome.detail ?? result}`;
    // Polls that cannot be sent are counted only: the bus has logged the lost port once.
    if (result === 'disconnected') return;
    if (result === 'crc' || result === 'garbled' || result === 'exception') {
      // A frame arrived and was refused: a rejected message like any other (counted by
      // reason, logged rate-limited, listed in GET /api/rejects).
      this.ctx.pipeline.reject(code, detail, { client, topic: null });
    } else {
      this.rlog.warn(`${client}:${code}`, { code, bus: this.bus.id, unit: slave.cfg.unitId, device: slave.cfg.device, detail }, `modbus: ${detail}`);
    }
  }

  private submit(slave: SlaveState, words: number[]): void {
    const decoded = decodeRegisters(slave.map, words);
    const fields: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(decoded)) {
      const spec = slave.specs.get(name);
      if (spec?.type === 'integer') fields[name] = Math.round(value);
      else if (spec?.type === 'boolean') fields[name] = value !== 0;
      else fields[name] = value;
    }
    // commitNow: a poll is one reading per slave per interval, nothing to batch.
    this.ctx.pipeline.submit({ deviceId: slave.cfg.device, fields, transport: 'modbus', commitNow: true }, () => undefined);
  }

  /** One request/response on the wire. Resolves (never rejects) by the timeout guard at the latest. */
  private async request(slave: SlaveState): Promise<RequestOutcome> {
    const client = this.client;
    if (!client || !client.isOpen) return { result: 'disconnected', detail: this.lastError ?? 'port not open' };
    const gap = this.lastFrameEnd + this.gapMs - performance.now();
    if (gap > 0) await delay(gap);
    await this.flushInput(client);
    if (this.client !== client || !client.isOpen) return { result: 'disconnected', detail: this.lastError ?? 'port not open' };

    const t0 = performance.now();
    this.rxBytes = 0;
    const outcome = await new Promise<RequestOutcome>((resolve) => {
      let settled = false;
      const finish = (o: RequestOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        resolve(o);
      };
      // modbus-serial cancels its own timers when the port closes mid-request; this
      // guard makes sure the loop never waits forever.
      const guard = setTimeout(() => finish(this.silence()), this.bus.timeoutMs + 100);
      const read = slave.map.function === 'holding' ? client.writeFC3.bind(client) : client.writeFC4.bind(client);
      try {
        read(slave.cfg.unitId, slave.map.start, slave.map.count, (err, res) => {
          if (!err) {
            if (res.data.length < slave.map.count) finish({ result: 'garbled', detail: `${res.data.length} registers, expected ${slave.map.count}` });
            else finish({ result: 'ok', words: res.data });
            return;
          }
          finish(this.classify(err));
        });
      } catch (err) {
        finish({ result: 'disconnected', detail: errorText(err) });
      }
    });
    this.lastFrameEnd = performance.now();
    // The port went away under the request: that is the reason, not the slave.
    if (this.client !== client && outcome.result !== 'ok') return { result: 'disconnected', detail: this.lastError ?? 'port lost' };
    if (outcome.result === 'ok') this.metrics.responseSeconds.observe({ bus: this.bus.id }, (this.lastFrameEnd - t0) / 1000);
    return outcome;
  }

  private silence(): RequestOutcome {
    return this.rxBytes > 0
      ? { result: 'garbled', detail: `no valid answer within ${this.bus.timeoutMs} ms (${this.rxBytes} bytes of noise)` }
      : { result: 'timeout', detail: `no answer within ${this.bus.timeoutMs} ms` };
  }

  private classify(err: unknown): RequestOutcome {
    const e = err as { name?: string; message?: string; errno?: string; modbusCode?: number };
    if (typeof e.modbusCode === 'number') {
      // Modbus Application Protocol V1.1b3 §7: function code | 0x80, then the exception code.
      return { result: 'exception', detail: `exception ${e.modbusCode}: ${e.message ?? ''}` };
    }
    if (e.errno === 'ETIMEDOUT') return this.silence();
    if (e.name === 'PortNotOpenError') return { result: 'disconnected', detail: 'port not open' };
    const message = e.message ?? String(err);
    if (/CRC/i.test(message)) return { result: 'crc', detail: 'CRC mismatch' };
    return { result: 'garbled', detail: message };
  }

  /** Discard whatever arrived between frames: the OS receive queue, then modbus-serial's frame buffer. */
  private async flushInput(client: ModbusMaster): Promise<void> {
    const rtu = client._port;
    const serial = rtu?._client;
    if (serial?.isOpen) {
      await new Promise<void>((resolve) => {
        try {
          serial.flush(() => resolve());
        } catch {
          resolve();
        }
      });
    }
    if (rtu && rtu._buffer !== undefined) rtu._buffer = Buffer.alloc(0);
  }

  /** Warn when the configured polls need more of the bus than it has (frame times at this baud rate). */
  private checkLoad(): void {
    const gapsMs = 2 * interFrameMs(this.bus);
    let share = 0;
    for (const s of this.slaves) {
      const frameMs = (READ_REQUEST_BYTES + readResponseBytes(s.map.count)) * charTimeMs(this.bus) + gapsMs;
      share += frameMs / (s.cfg.pollS * 1000);
    }
    if (share > 0.8) {
      this.ctx.log.warn(
        { bus: this.bus.id, busLoadPct: Math.round(share * 100), slaves: this.slaves.length, baudRate: this.bus.baudRate },
        `modbus bus ${this.bus.id}: the configured polls need ${Math.round(share * 100)} % of the line before any slave turnaround; polls will lag (raise pollS or the baud rate)`,
      );
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err && typeof (err as { message: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}

function closeQuietly(client: ModbusMaster): Promise<void> {
  return new Promise((resolve) => {
    const guard = setTimeout(resolve, 1000);
    try {
      if (!client.isOpen) {
        clearTimeout(guard);
        return resolve();
      }
      client.close(() => {
        clearTimeout(guard);
        resolve();
      });
    } catch {
      clearTimeout(guard);
      resolve();
    }
  });
}
