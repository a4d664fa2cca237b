/**
 * The contract between the probe scheduler and one kind of probe (ICMP, TCP,
 * HTTP, RTSP, SNMP, ...), like a Telegraf input's Gather: the scheduler owns
 * timing, concurrency and timeouts; a probe only measures one target once and
 * says what it saw. A probe never throws for a target being down: a dead target
 * is a result (`probe_ok: false`, verdict DOWN), not an error of the gateway.
 */
import type { FieldValue, Verdict } from '../../devices/define.js';
import type { ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';

export interface ProbeRunContext {
  /** Aborted at the target's timeout or on gateway stop; honour it. */
  signal: AbortSignal;
  timeoutMs: number;
  log: Logger;
  now(): number;
}

export interface ProbeOutcome {
  /**
   * Canonical fields of the target device's kind (see `probed()` in
   * devices/capabilities.ts, and the kind's own fields for SNMP). Validated by
   * the kind's schema before they are stored, like any MQTT payload.
   */
  fields: Record<string, FieldValue>;
  /** The verdict from this target's configured thresholds; worst of it and the kind's rule wins. */
  verdict: Verdict;
  /** Why the probe failed, when it did (counted per probe type and code). */
  error?: { code: ErrorCode; detail: string };
}

export interface Probe<Target> {
  /** `icmp`, `tcp`, `http`, `rtsp`, `snmp`, ... (the `type` of a probes.targets entry). */
  readonly type: string;
  run(target: Target, run: ProbeRunContext): Promise<ProbeOutcome>;
  /** Release sockets/sessions (SNMP sessions, keep-alive agents) at gateway stop. */
  close?(): Promise<void>;
}
