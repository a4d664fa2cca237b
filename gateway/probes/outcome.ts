/**
 * Shared pieces of the probes: turning a socket error into a coded result, and
 * the common shapes of an outcome. A dead device is a result (DOWN), never a
 * thrown error; only a gateway-side problem (missing tool, unreadable CA file,
 * unset password variable) is thrown, as a CodedError, so that the scheduler
 * stores nothing for it instead of marking the device DOWN.
 */
import type { FieldValue, Verdict } from '../../devices/define.js';
import type { ErrorCode } from '../errors.js';
import type { ProbeOutcome } from './contract.js';

/** Why a connection-level probe failed, as a result code and a verdict reason. */
export interface Failure {
  code: ErrorCode;
  /** Verdict reason (kebab-case): timeout, refused, unreachable, tls, reset, protocol. */
  reason: string;
}

/**
 * Node socket / TLS / DNS errors → result. Codes from libuv (errno names),
 * getaddrinfo (EAI_*) and OpenSSL (certificate verification names, ERR_SSL_*).
 */
export function classifyNetError(err: unknown): Failure {
  const code = (err as { code?: unknown } | null)?.code;
  const c = typeof code === 'string' ? code : '';
  if (c === 'ECONNREFUSED') return { code: 'CE_PROBE_REFUSED', reason: 'refused' };
  if (c === 'ETIMEDOUT' || c === 'ABORT_ERR' || (err as Error | null)?.name === 'AbortError') return { code: 'CE_PROBE_TIMEOUT', reason: 'timeout' };
  if (c === 'ENOTFOUND' || c === 'EAI_AGAIN' || c === 'EAI_NONAME' || c === 'EAI_FAIL') return { code: 'CE_PROBE_UNREACHABLE', reason: 'dns' };
  if (c === 'EHOSTUNREACH' || c === 'ENETUNREACH' || c === 'EHOSTDOWN' || c === 'ENETDOWN' || c === 'EADDRNOTAVAIL') {
    return { code: 'CE_PROBE_UNREACHABLE', reason: 'unreachable' };
  }
  if (c === 'ECONNRESET' || c === 'EPIPE' || c === 'ECONNABORTED') return { code: 'CE_PROBE_UNREACHABLE', reason: 'reset' };
  if (
    c.startsWith('ERR_SSL') ||
    c.startsWith('ERR_TLS') ||
    c.startsWith('CERT_') ||
    c.includes('SELF_SIGNED') ||
    c.startsWith('UNABLE_TO_') ||
    c === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    c === 'HOSTNAME_MISMATCH' ||
    c === 'ERR_TLS_CERT_ALTNAME_INVALID'
  ) {
    return { code: 'CE_PROBE_TLS', reason: 'tls' };
  }
  if (c.startsWith('HPE_')) return { code: 'CE_PROBE_PROTOCOL', reason: 'protocol' };
  return { code: 'CE_PROBE_UNREACHABLE', reason: 'unreachable' };
}

/** A device that gave no usable answer: `probe_ok` false, DOWN. */
export function downOutcome(failure: Failure, detail: string, extra: Record<string, FieldValue> = {}): ProbeOutcome {
  return {
    fields: { probe_ok: false, ...extra },
    verdict: { state: 'DOWN', reason: failure.reason },
    error: { code: failure.code, detail },
  };
}

/** UP, or DEGRADED `slow` when the latency crossed the target's threshold. */
export function latencyVerdict(latencyMs: number, degradedMs: number): Verdict {
  return latencyMs > degradedMs ? { state: 'DEGRADED', reason: 'slow' } : { state: 'UP', reason: 'ok' };
}

/** Milliseconds with 0.01 ms resolution (more is noise on a Pi). */
export const roundMs = (ms: number): number => Math.round(ms * 100) / 100;

/** The signal's reason says the gateway is stopping (not the target's timeout). */
export const STOP_REASON = 'probes-stopped';
export function stoppedBy(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason === STOP_REASON;
}
