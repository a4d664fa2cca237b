/**
 * One POST of one outbox message to the IOC receiver, and what its answer means
 * for the outbox (docs/ioc-feed.md, "Retries"):
 *
 *   2xx                          delivered: the message leaves the outbox
 *   408, 425, 429, 5xx           retry the same message after a backoff (Retry-After honoured)
 *   401, 403, 407                retry: the token, key or clock is wrong for every message,
 *                                so parking would empty the outbox during a key rotation
 *   404, 405, 3xx                retry: the URL is wrong (configuration), not the message
 *   any other 4xx (400, 413, 422, …)   park the message with the receiver's reason, go on
 *   network error, TLS error     retry
 *   no complete answer in timeoutMs   retry (the socket is destroyed: a receiver that hangs
 *                                cannot stall the loop)
 *
 * node:http(s) rather than fetch: a per-feed CA / client certificate and an
 * exact byte body without pulling in undici's dispatcher API.
 */
import http from 'node:http';
import https from 'node:https';
import type { ErrorCode } from '../errors.js';
import type { OutboxMessage } from './outbox.js';
import { sign, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './signature.js';

export type Verdict = 'ok' | 'retry' | 'park';

export interface PostResult {
  verdict: Verdict;
  /** HTTP status, or null when no answer arrived. */
  status: number | null;
  /** CE_* code of a failure (null when ok). */
  code: ErrorCode | null;
  /** The receiver's reason (its error body), or the transport error. */
  reason: string;
  /** Retry-After in ms, when the receiver sent one. */
  retryAfterMs: number | null;
  ms: number;
}

export interface HttpClientOptions {
  url: string;
  token: string;
  hmacKey: string;
  timeoutMs: number;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  userAgent: string;
}

/** Largest answer body read (a reason, not a payload). */
const MAX_ANSWER_BYTES = 16 * 1024;

/** What an HTTP status means for the message (see the table above). */
export function classifyStatus(status: number): { verdict: Verdict; code: ErrorCode | null } {
  if (status >= 200 && status < 300) return { verdict: 'ok', code: null };
  if (status === 408 || status === 425 || status === 429 || status >= 500) return { verdict: 'retry', code: 'CE_IOC_RETRYABLE_STATUS' };
  if (status === 401 || status === 403 || status === 407) return { verdict: 'retry', code: 'CE_IOC_AUTH' };
  if (status === 404 || status === 405 || (status >= 300 && status < 400) || status < 200) return { verdict: 'retry', code: 'CE_IOC_ENDPOINT' };
  return { verdict: 'park', code: 'CE_IOC_PARKED' };
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; ms from `now`, or null. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * Delay before the next attempt after `failures` consecutive failures: equal
 * jitter over a doubling cap ("Exponential Backoff And Jitter", AWS Architecture
 * Blog) — between cap/2 and cap, cap = min(maxMs, minMs · 2^(failures−1)) — so a
 * province's gateways that lost the same receiver do not come back in lockstep.
 * A Retry-After from the receiver wins, capped at maxMs.
 */
export function backoffDelay(failures: number, minMs: number, maxMs: number, retryAfterMs: number | null, random: () => number = Math.random): number {
  if (retryAfterMs !== null) return Math.min(maxMs, Math.max(0, retryAfterMs));
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(0, failures - 1), 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/** The receiver's reason: `CODE: message` from a coded error body, else the text (trimmed). */
export function reasonFrom(status: number, text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (j.error && typeof j.error.message === 'string') {
      return `${status} ${typeof j.error.code === 'string' ? `${j.error.code}: ` : ''}${j.error.message}`;
    }
  } catch {
    // not JSON
  }
  const t = text.replace(/\s+/g, ' ').trim().slice(0, 500);
  return t ? `${status} ${t}` : `${status} ${http.STATUS_CODES[status] ?? ''}`.trim();
}

export class IocHttpClient {
  private readonly opts: HttpClientOptions;
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

  constructor(opts: HttpClientOptions) {
    this.opts = opts;
    this.url = new URL(opts.url);
    const tls = this.url.protocol === 'https:';
    this.transport = tls ? https : http;
    // One connection, kept alive: a backlog drains without a TLS handshake per message.
    this.agent = tls
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 1,
          rejectUnauthorized: opts.rejectUnauthorized,
          ...(opts.ca ? { ca: opts.ca } : {}),
          ...(opts.cert ? { cert: opts.cert } : {}),
          ...(opts.key ? { key: opts.key } : {}),
        })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /**
   * POST one message signed at `timestampS` (unix seconds). Never throws: every
   * outcome is a PostResult. `signal` aborts (gateway stopping): verdict retry.
   */
  post(msg: OutboxMessage, timestampS: number, signal?: AbortSignal): Promise<PostResult> {
    const started = Date.now();
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/json',
      'content-length': msg.body.length,
      authorization: `Bearer ${this.opts.token}`,
      'idempotency-key': msg.messageId,
      [TIMESTAMP_HEADER]: String(timestampS),
      [SIGNATURE_HEADER]: sign(this.opts.hmacKey, timestampS, msg.body),
      'user-agent': this.opts.userAgent,
    };
    if (msg.encoding === 'gzip') headers['content-encoding'] = 'gzip';
    return new Promise<PostResult>((resolve) => {
      let settled = false;
      const done = (r: Omit<PostResult, 'ms'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve({ ...r, ms: Date.now() - started });
      };
      const fail = (code: ErrorCode, reason: string) => done({ verdict: 'retry', status: null, code, reason, retryAfterMs: null });
      const req = this.transport.request(this.url, { method: 'POST', headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_ANSWER_BYTES) chunks.push(c);
          size += c.length;
        });
        res.on('error', (err) => fail('CE_IOC_UNREACHABLE', `answer interrupted: ${err.message}`));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const { verdict, code } = classifyStatus(status);
          const text = Buffer.concat(chunks).toString('utf8');
          const retryAfter = parseRetryAfter(res.headers['retry-after'], Date.now());
          done({ verdict, status, code, reason: verdict === 'ok' ? '' : reasonFrom(status, text), retryAfterMs: verdict === 'retry' ? retryAfter : null });
        });
      });
      const timer = setTimeout(() => {
        fail('CE_IOC_TIMEOUT', `no complete answer within ${this.opts.timeoutMs} ms`);
        req.destroy(new Error('timeout'));
      }, this.opts.timeoutMs);
      const onAbort = () => {
        fail('CE_IOC_UNREACHABLE', 'aborted: the feed is stopping');
        req.destroy(new Error('aborted'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err: NodeJS.ErrnoException) => fail('CE_IOC_UNREACHABLE', err.code ? `${err.code}: ${err.message}` : err.message));
      req.end(msg.body);
    });
  }

  /** Where the feed posts, without credentials (for logs and the API). */
  get target(): string {
    return `${this.url.origin}${this.url.pathname}`;
  }

  close(): void {
    this.agent.destroy();
  }
}
