/**
 * The probe scheduler, as an input Source (Telegraf's interval/jitter/gather
 * loop, for the gateway's own probes). It owns timing, concurrency and timeouts;
 * each probe (contract.ts) only measures one target once.
 *
 * - Every target runs at its interval, at a deterministic phase inside it (a hash
 *   of the target key), so 300 targets at 10 s spread over the 10 s instead of
 *   firing together, and keep their slots across restarts. Times are monotonic
 *   (performance.now): a Pi has no RTC and NTP may step the wall clock by hours.
 * - ICMP phases are whole seconds, and every ICMP target due in the same second
 *   with the same count and timeout shares ONE fping process (fping.ts).
 * - A semaphore bounds probes in flight (`probes.concurrency`; an fping batch or
 *   a LAN sweep holds one slot). Each run gets an AbortSignal that fires at the
 *   target's timeout (counted from when it got its slot) or at stop.
 * - A target still running (or still waiting for a slot) when it is due again is
 *   skipped, never stacked, and counted (`ce_probe_skipped_total`).
 * - A dead device is a result, submitted every round (`probe_ok: false`, DOWN),
 *   which also keeps its heartbeat fresh while the gateway probes it. A probe
 *   that cannot run (fping missing, CA file unreadable: a thrown CodedError)
 *   submits nothing: the device is not marked DOWN for the gateway's problem.
 *   One failing probe never affects the others.
 */
import { setMaxListeners } from 'node:events';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { HealthState } from '../../devices/define.js';
import type { GatewayContext, Source, SourceStatus } from '../context.js';
import { CodedError, type ErrorCode } from '../errors.js';
import { RateLimitedLog, type Logger } from '../logger.js';
import type { Probe, ProbeOutcome } from './contract.js';
import { httpProbe } from './http.js';
import { runIcmpBatch, type IcmpJob } from './icmp.js';
import { LanSweep, type SweepResult } from './lan-sweep.js';
import { STOP_REASON } from './outcome.js';
import { rtspProbe } from './rtsp.js';
import { Semaphore } from './semaphore.js';
import { targetKey, type IcmpTarget, type ProbeTarget, type ProbesSettings } from './settings.js';
import { tcpProbe } from './tcp.js';

/**
 * A probe of any target type. The table pairs each `type` with the probe of that
 * type's target (the settings union is discriminated by the same `type`), which
 * TypeScript cannot express per entry; hence `any` here only.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyProbe = Probe<any>;

export interface ProbeSourceOptions {
  /** Probes by target type, added to or replacing the built-in table (tests, new probe types). */
  probes?: Record<string, AnyProbe>;
  /** Kernel ARP table for the LAN sweep (default /proc/net/arp). */
  arpTablePath?: string;
  /** Phase quantum of non-ICMP targets, ms (default 100). */
  tickMs?: number;
}

/** ICMP phases are whole seconds, so targets due together share an fping run. */
export const ICMP_QUANTUM_MS = 1000;
/** fping gets its budget; the signal kills it only this much later (start-up, a loaded Pi). */
const FPING_GRACE_MS = 1000;
/** A probe that ignores its AbortSignal is reported as timed out this much after its timeout. */
const IGNORED_ABORT_GRACE_MS = 1000;
/** stop() waits at most this long for in-flight probes to honour the abort. */
const STOP_WAIT_MS = 5000;

/** murmur3 fmix32 over FNV-1a: a stable, well-spread 32-bit hash of a target key. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The target's offset inside its interval: deterministic, a multiple of `quantumMs`. */
export function phaseOf(key: string, intervalMs: number, quantumMs: number): number {
  const slots = Math.max(1, Math.floor(intervalMs / quantumMs));
  return (hashKey(key) % slots) * quantumMs;
}

type Job =
  | { kind: 'single'; probe: AnyProbe; target: ProbeTarget }
  | { kind: 'icmp'; icmp: IcmpJob }
  | { kind: 'sweep'; sweep: LanSweep };

interface Entry {
  key: string;
  type: string;
  /** The device this entry reports for; undefined for the LAN sweep (many devices). */
  deviceId: string | undefined;
  intervalMs: number;
  timeoutMs: number;
  /** Next due time, ms after the scheduler's start (integers: equal times group exactly). */
  nextDue: number;
  /** Running or waiting for a slot. */
  busy: boolean;
  job: Job;
  log: Logger;
}

interface ProbeMetrics {
  runs: Counter<'type' | 'result'>;
  duration: Histogram<'type'>;
  skipped: Counter<'type'>;
  inFlight: Gauge;
}

/** The semaphore the in-flight gauge of a registry reads (the latest source started on that registry). */
const currentSemaphore = new WeakMap<Registry, () => Semaphore | undefined>();

function metricsOn(registry: Registry, semaphore: () => Semaphore | undefined): ProbeMetrics {
  currentSemaphore.set(registry, semaphore);
  // Once per registry: a Source restarted on the same gateway reuses them.
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    runs: get(
      'ce_probe_runs_total',
      () =>
        new Counter({
          name: 'ce_probe_runs_total',
          help: 'Probe results per target and round, by probe type and result (up, degraded, down; error: the probe could not run)',
          labelNames: ['type', 'result'] as const,
          registers: [registry],
        }),
    ),
    duration: get(
      'ce_probe_duration_seconds',
      () =>
        new Histogram({
          name: 'ce_probe_duration_seconds',
          help: 'Duration of one probe run (icmp: one fping batch; lan_sweep: one sweep), by type',
          labelNames: ['type'] as const,
          buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
          registers: [registry],
        }),
    ),
    skipped: get(
      'ce_probe_skipped_total',
      () =>
        new Counter({
          name: 'ce_probe_skipped_total',
          help: 'Rounds skipped because the previous run of the target was still going (CE_PROBE_OVERRUN), by type',
          labelNames: ['type'] as const,
          registers: [registry],
        }),
    ),
    inFlight: get(
      'ce_probe_in_flight',
      () =>
        new Gauge({
          name: 'ce_probe_in_flight',
          help: 'Probes holding a concurrency slot now (an fping batch counts as one)',
          registers: [registry],
          collect() {
            this.set(currentSemaphore.get(registry)?.()?.inUse ?? 0);
          },
        }),
    ),
  };
}

const RESULT: Record<HealthState, string> = { UP: 'up', DEGRADED: 'degraded', DOWN: 'down' };

export class ProbeSource implements Source {
  readonly name = 'probes';
  private ctx: GatewayContext | undefined;
  private settings: ProbesSettings | undefined;
  private log: Logger | undefined;
  private rateLog: RateLimitedLog | undefined;
  private metrics: ProbeMetrics | undefined;
  private semaphore: Semaphore | undefined;
  private entries: Entry[] = [];
  private readonly probes = new Map<string, AnyProbe>();
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private stopController = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  /** Last verdict per device (for status()). */
  private readonly states = new Map<string, HealthState>();
  private toolMissing: string | undefined;
  private readonly tickMs: number;

  constructor(private readonly options: ProbeSourceOptions = {}) {
    this.tickMs = options.tickMs ?? 100;
  }

  /** Most probes ever in flight at once (tests of the bound). */
  get peakInFlight(): number {
    return this.semaphore?.peakInUse ?? 0;
  }

  async start(ctx: GatewayContext): Promise<void> {
    this.ctx = ctx;
    const settings = ctx.settings.probes;
    if (!settings || (settings.targets.length === 0 && !settings.lanSweep?.computers.length)) return;
    this.settings = settings;
    this.entries = [];
    this.states.clear();
    this.log = ctx.log.child({ src: 'probes' });
    this.rateLog = new RateLimitedLog(this.log, ctx.settings.log.rejectLogIntervalS * 1000);
    this.semaphore = new Semaphore(settings.concurrency);
    this.metrics = metricsOn(ctx.metrics.registry, () => this.semaphore);
    this.stopController = new AbortController();
    // Every run in flight or waiting for a slot listens to it (up to the number of targets): not a leak.
    setMaxListeners(0, this.stopController.signal);
    this.probes.set('tcp', tcpProbe);
    this.probes.set('http', httpProbe);
    this.probes.set('rtsp', rtspProbe);
    if (settings.targets.some((t) => t.type === 'snmp') && !this.options.probes?.['snmp']) await this.loadSnmp();
    for (const [type, probe] of Object.entries(this.options.probes ?? {})) this.probes.set(type, probe);

    for (const target of settings.targets) this.addTarget(target, settings);
    if (settings.lanSweep?.computers.length) this.addSweep(settings.lanSweep, settings.fpingPath);

    this.stopping = undefined;
    this.t0 = Math.floor(performance.now());
    this.log.info({ targets: settings.targets.length, computers: settings.lanSweep?.computers.length ?? 0, concurrency: settings.concurrency }, 'probes started');
    this.arm();
  }

  /**
   * net-snmp is loaded only when SNMP targets are configured (like node-opcua).
   * The probe is the SNMP work's (gateway/probes/snmp/probe.ts): one instance per
   * source, holding the agents' sessions, its ce_snmp_* metrics on this gateway's
   * registry.
   */
  private async loadSnmp(): Promise<void> {
    try {
      const { createSnmpProbe } = await import('./snmp/probe.js');
      this.probes.set('snmp', createSnmpProbe({ registry: this.ctx!.metrics.registry }));
    } catch (err) {
      this.log!.error({ code: 'CE_PROBE_CONFIG' satisfies ErrorCode, err: (err as Error).message }, 'SNMP probe unavailable; SNMP targets do not run');
    }
  }

  private addTarget(target: ProbeTarget, settings: ProbesSettings): void {
    const { ctx } = this;
    const common = target as { id?: string; device: string; intervalS?: number; timeoutMs?: number; host?: string; port?: number; url?: string };
    const key = targetKey({ ...common, type: target.type });
    const device = ctx!.inventory.devices.get(common.device);
    const log = this.log!.child({ target: key });
    if (!device) {
      // checkProbes rejects this at load; a Source built from unchecked settings still must not crash.
      log.error({ code: 'CE_DEVICE_UNKNOWN' satisfies ErrorCode }, `probe target names unknown device ${common.device}; not run`);
      return;
    }
    const intervalMs = Math.round((common.intervalS ?? settings.defaults.intervalS) * 1000);
    const timeoutMs = common.timeoutMs ?? settings.defaults.timeoutMs;
    let job: Job;
    if (target.type === 'icmp') {
      const pathFields = device.kind.fieldByName.has('rtt_ms') && device.kind.fieldByName.has('loss_pct');
      job = { kind: 'icmp', icmp: { target: target as IcmpTarget, pathFields } };
    } else {
      const probe = this.probes.get(target.type);
      if (!probe) {
        log.error({ code: 'CE_PROBE_CONFIG' satisfies ErrorCode }, `no probe for type ${target.type}; target not run`);
        return;
      }
      job = { kind: 'single', probe, target };
    }
    const quantum = target.type === 'icmp' ? ICMP_QUANTUM_MS : this.tickMs;
    this.entries.push({
      key,
      type: target.type,
      deviceId: common.device,
      intervalMs,
      timeoutMs,
      nextDue: phaseOf(key, intervalMs, quantum),
      busy: false,
      job,
      log,
    });
  }

  private addSweep(sweepSettings: NonNullable<ProbesSettings['lanSweep']>, fpingPath: string): void {
    const { ctx } = this;
    const computers = sweepSettings.computers.filter((c) => ctx!.inventory.devices.has(c.device));
    const sweep = new LanSweep({ ...sweepSettings, computers }, { fpingPath, ...(this.options.arpTablePath ? { arpTablePath: this.options.arpTablePath } : {}) });
    // "Seen within the look-back window" survives a restart: the last stored reading says when.
    for (const c of computers) {
      const last = ctx!.health.get(c.device)?.lastReading;
      const minutes = last?.fields['last_seen_min'];
      if (last && typeof minutes === 'number') sweep.seed(c.device, last.ts - minutes * 60_000);
    }
    const intervalMs = Math.round(sweepSettings.intervalS * 1000);
    this.entries.push({
      key: 'lan-sweep',
      type: 'lan_sweep',
      deviceId: undefined,
      intervalMs,
      timeoutMs: sweepSettings.timeoutMs,
      nextDue: phaseOf('lan-sweep', intervalMs, ICMP_QUANTUM_MS),
      busy: false,
      job: { kind: 'sweep', sweep },
      log: this.log!.child({ target: 'lan-sweep' }),
    });
  }

  private arm(): void {
    if (this.stopController.signal.aborted || this.entries.length === 0) return;
    let next = Infinity;
    for (const e of this.entries) next = Math.min(next, e.nextDue);
    const delay = Math.max(0, next - (performance.now() - this.t0));
    this.timer = setTimeout(() => this.onTimer(), delay);
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.stopController.signal.aborted) return;
    const now = performance.now() - this.t0;
    const icmpGroups = new Map<string, Entry[]>();
    for (const e of this.entries) {
      if (e.nextDue > now) continue;
      // The next slot after now; slots missed while the event loop was blocked are dropped, not replayed.
      e.nextDue += (Math.floor((now - e.nextDue) / e.intervalMs) + 1) * e.intervalMs;
      if (e.busy) {
        this.metrics!.skipped.labels(e.type).inc();
        this.rateLog!.warn(
          `${e.key}:CE_PROBE_OVERRUN`,
          { code: 'CE_PROBE_OVERRUN' satisfies ErrorCode, target: e.key, device: e.deviceId },
          `probe round skipped: the previous run of ${e.key} is still going`,
        );
        continue;
      }
      if (e.job.kind === 'icmp') {
        const t = e.job.icmp.target;
        const groupKey = `${t.count}|${e.timeoutMs}`;
        const group = icmpGroups.get(groupKey) ?? [];
        group.push(e);
        icmpGroups.set(groupKey, group);
      } else {
        this.launch([e]);
      }
    }
    for (const group of icmpGroups.values()) this.launch(group);
    this.arm();
  }

  /** Run one entry (or one ICMP group) in a slot; `busy` until it settles. */
  private launch(group: Entry[]): void {
    for (const e of group) e.busy = true;
    const p: Promise<void> = this.runInSlot(group)
      .catch((err: unknown) => {
        // Only stop() (slot wait aborted) or a bug gets here; a bug is logged, never thrown into the loop.
        if (!this.stopController.signal.aborted) this.log!.error({ err: (err as Error).message, code: 'CE_INTERNAL' satisfies ErrorCode }, 'probe scheduler error');
      })
      .finally(() => {
        for (const e of group) e.busy = false;
        this.inFlight.delete(p);
      });
    this.inFlight.add(p);
  }

  private async runInSlot(group: Entry[]): Promise<void> {
    const release = await this.semaphore!.acquire(this.stopController.signal);
    const first = group[0]!;
    const started = performance.now();
    try {
      const job = first.job;
      if (job.kind === 'single') {
        const outcome = await this.runSingle(first, job.probe, job.target);
        if (outcome && !this.stopController.signal.aborted) this.deliver(first, first.deviceId!, outcome);
      } else if (job.kind === 'icmp') {
        const outcomes = await this.withTimeout(first.timeoutMs + FPING_GRACE_MS, (signal) =>
          runIcmpBatch(this.settings!.fpingPath, group.map((e) => (e.job as { icmp: IcmpJob }).icmp), first.timeoutMs, signal),
        ).catch((err: unknown) => {
          for (const e of group) this.failed(e, err);
          return undefined;
        });
        if (outcomes && !this.stopController.signal.aborted) {
          this.toolMissing = undefined;
          group.forEach((e, i) => this.deliver(e, e.deviceId!, outcomes[i]!));
        }
      } else {
        const results: SweepResult[] | undefined = await this.withTimeout(first.timeoutMs + FPING_GRACE_MS, (signal) =>
          job.sweep.run(signal, () => this.ctx!.clock.now()),
        ).catch((err: unknown) => {
          this.failed(first, err);
          return undefined;
        });
        if (results && !this.stopController.signal.aborted) {
          this.toolMissing = undefined;
          for (const r of results) this.deliver(first, r.deviceId, r.outcome);
        }
      }
    } finally {
      this.metrics!.duration.labels(first.type).observe((performance.now() - started) / 1000);
      release();
    }
  }

  /** One probe run with its timeout; undefined when it could not run (already counted and logged). */
  private async runSingle(e: Entry, probe: AnyProbe, target: ProbeTarget): Promise<ProbeOutcome | undefined> {
    const { signal, cancel } = this.timeoutSignal(e.timeoutMs);
    let work: Promise<ProbeOutcome>;
    try {
      work = Promise.resolve(probe.run(target, { signal, timeoutMs: e.timeoutMs, log: e.log, now: () => this.ctx!.clock.now() }));
    } catch (err) {
      cancel();
      this.failed(e, err);
      return undefined;
    }
    let guard: NodeJS.Timeout | undefined;
    const ignored = new Promise<'ignored'>((resolve) => {
      guard = setTimeout(() => resolve('ignored'), e.timeoutMs + IGNORED_ABORT_GRACE_MS);
    });
    try {
      const first = await Promise.race([work, ignored]);
      if (first !== 'ignored') return first;
      // The probe broke its contract (did not honour the signal). Report the device as timed out,
      // but keep the slot until the probe really settles, so the concurrency bound stays true.
      e.log.error({ code: 'CE_INTERNAL' satisfies ErrorCode }, `probe ${e.type} ignored its abort signal`);
      if (!this.stopController.signal.aborted) this.deliver(e, e.deviceId!, {
        fields: { probe_ok: false },
        verdict: { state: 'DOWN', reason: 'timeout' },
        error: { code: 'CE_PROBE_TIMEOUT', detail: `${e.key}: no result within ${e.timeoutMs} ms` },
      });
      await work.catch(() => undefined);
      return undefined;
    } catch (err) {
      if (!this.stopController.signal.aborted) this.failed(e, err);
      return undefined;
    } finally {
      clearTimeout(guard);
      cancel();
    }
  }

  /** Runs `fn` with a signal that aborts at `ms` or at stop. */
  private async withTimeout<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { signal, cancel } = this.timeoutSignal(ms);
    try {
      return await fn(signal);
    } finally {
      cancel();
    }
  }

  /**
   * An AbortSignal for one run: aborts at its timeout ("timeout") or at stop
   * (STOP_REASON). Built by hand rather than AbortSignal.any, so that nothing
   * stays attached to the long-lived stop signal after the run.
   */
  private timeoutSignal(ms: number): { signal: AbortSignal; cancel: () => void } {
    const ac = new AbortController();
    const stop = this.stopController.signal;
    const onStop = () => ac.abort(STOP_REASON);
    if (stop.aborted) ac.abort(STOP_REASON);
    else stop.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(() => ac.abort('timeout'), ms);
    return {
      signal: ac.signal,
      cancel: () => {
        clearTimeout(timer);
        stop.removeEventListener('abort', onStop);
      },
    };
  }

  /** The probe could not run (gateway-side problem or a bug): counted and logged, nothing stored. */
  private failed(e: Entry, err: unknown): void {
    if (this.stopController.signal.aborted) return;
    this.metrics!.runs.labels(e.type, 'error').inc();
    const code: ErrorCode = err instanceof CodedError ? err.code : 'CE_INTERNAL';
    const detail = err instanceof CodedError ? (err.detail ?? err.message) : (err as Error)?.message ?? String(err);
    if (code === 'CE_PROBE_TOOL_MISSING') {
      // Logged once (per outage of the tool), clearly: every ICMP round would repeat it.
      if (this.toolMissing === undefined) this.log!.error({ code, detail }, `${detail}; ICMP targets and the LAN sweep do not run, their devices are not marked DOWN for it`);
      this.toolMissing = detail;
      return;
    }
    this.rateLog!.warn(`${e.key}:${code}`, { code, target: e.key, device: e.deviceId, detail }, `probe could not run: ${detail}`);
  }

  /** Count, log and submit one device's outcome. */
  private deliver(e: Entry, deviceId: string, outcome: ProbeOutcome): void {
    const { ctx } = this;
    this.metrics!.runs.labels(e.type, RESULT[outcome.verdict.state]).inc();
    this.states.set(deviceId, outcome.verdict.state);
    if (outcome.error) {
      this.rateLog!.warn(
        `${e.key}:${deviceId}:${outcome.error.code}`,
        { code: outcome.error.code, target: e.key, device: deviceId, verdict: outcome.verdict.state, detail: outcome.error.detail },
        `probe: ${outcome.error.detail}`,
      );
    }
    ctx!.pipeline.submit({ deviceId, fields: outcome.fields, transport: 'probe', verdict: outcome.verdict }, (result) => {
      // The pipeline already counts and logs rejects (CE_PAYLOAD_SCHEMA would be a bug in a probe).
      if (!result.accepted && result.code !== 'CE_PAYLOAD_SCHEMA') {
        this.rateLog!.warn(`${deviceId}:submit:${result.code}`, { code: result.code, device: deviceId, detail: result.detail }, 'probe reading not stored');
      }
    });
  }

  private stopping: Promise<void> | undefined;

  /** Aborts probes in flight, waits for them (at most STOP_WAIT_MS), closes probe sessions. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.stopController.abort(STOP_REASON);
    if (this.inFlight.size) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, STOP_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    await Promise.allSettled([...new Set(this.probes.values())].map((p) => p.close?.()));
    this.entries = [];
  }

  status(): SourceStatus {
    const computers = this.settings?.lanSweep?.computers.length ?? 0;
    const targets = this.entries.filter((e) => e.deviceId !== undefined).length + computers;
    let down = 0;
    for (const s of this.states.values()) if (s === 'DOWN') down++;
    const detail = `${targets} targets, ${down} down${this.toolMissing ? `; fping missing: ICMP and LAN sweep not running` : ''}`;
    return { name: this.name, connected: true, detail };
  }
}
