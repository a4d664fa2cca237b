/**
 * HTTP(S) probe (RFC 9110): one request on a fresh connection (no keep-alive:
 * a probe measures the device, not a pooled socket), latency to the response
 * headers, the status against `expectStatus`, and optionally a keyword in the
 * first `keywordMaxBytes` of the body. The body is never read further: a camera
 * URL may be an endless MJPEG stream. Redirects are not followed (a 3xx answer
 * proves the web server works).
 *
 * TLS: verified against the system CAs, or the target's `caFile` (device web UIs
 * are self-signed: pin the device certificate itself), or not at all with an
 * explicit `insecureTls: true`.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CodedError } from '../errors.js';
import type { Probe, ProbeOutcome, ProbeRunContext } from './contract.js';
import { classifyNetError, downOutcome, latencyVerdict, roundMs } from './outcome.js';
import type { HttpTarget } from './settings.js';

/** CA files read once per path (the probe runs every few seconds). */
const caCache = new Map<string, Buffer>();

function readCa(path: string): Buffer {
  let ca = caCache.get(path);
  if (!ca) {
    try {
      ca = readFileSync(path);
    } catch (err) {
      throw new CodedError('CE_PROBE_CONFIG', `caFile ${path}: ${(err as Error).message}`);
    }
    caCache.set(path, ca);
  }
  return ca;
}

/** `200` matches 200; `2xx` matches 200..299. */
export function statusExpected(status: number, expect: readonly (number | string)[]): boolean {
  return expect.some((e) => (typeof e === 'number' ? e === status : Math.floor(status / 100) === Number(e[0])));
}

type Phase = 'connect' | 'tls' | 'headers' | 'body';

export const httpProbe: Probe<HttpTarget> = {
  type: 'http',
  run(target: HttpTarget, run: ProbeRunContext): Promise<ProbeOutcome> {
    const url = new URL(target.url);
    const tls = url.protocol === 'https:';
    const ca = tls && target.caFile ? readCa(target.caFile) : undefined;
    const keyword = target.method === 'GET' && target.keyword !== undefined ? Buffer.from(target.keyword, 'utf8') : undefined;

    return new Promise<ProbeOutcome>((resolve) => {
      const started = performance.now();
      let phase: Phase = 'connect';
      let settled = false;
      let req: ClientRequest | undefined;
      let res: IncomingMessage | undefined;
      const finish = (outcome: ProbeOutcome) => {
        if (settled) return;
        settled = true;
        run.signal.removeEventListener('abort', onAbort);
        res?.destroy();
        req?.destroy();
        resolve(outcome);
      };
      const onAbort = () => {
        const what =
          phase === 'connect'
            ? 'no connection'
            : phase === 'tls'
              ? 'connected, but no TLS handshake'
              : phase === 'headers'
              ? 'connected, but no response headers'
              : `no "${target.keyword}" in the body received`;
        finish(downOutcome({ code: 'CE_PROBE_TIMEOUT', reason: 'timeout' }, `${target.url}: ${what} within ${run.timeoutMs} ms`));
      };
      if (run.signal.aborted) return onAbort();
      run.signal.addEventListener('abort', onAbort, { once: true });

      const options = {
        method: target.method,
        agent: false as const,
        headers: { 'user-agent': 'commune-edge-probe', accept: '*/*', connection: 'close' },
        ...(tls ? { rejectUnauthorized: !target.insecureTls, ...(ca ? { ca } : {}) } : {}),
      };
      req = (tls ? httpsRequest : httpRequest)(url, options);
      req.once('socket', (socket) => {
        // agent:false: always a fresh socket, so these events always come.
        socket.once('connect', () => {
          if (phase === 'connect') phase = tls ? 'tls' : 'headers';
        });
        if (tls) {
          socket.once('secureConnect', () => {
            if (phase === 'tls') phase = 'headers';
          });
        }
      });
      req.on('error', (err) => {
        const failure = classifyNetError(err);
        const code = (err as NodeJS.ErrnoException).code;
        finish(downOutcome(failure, `${target.url}: ${code ? `${code} ` : ''}${err.message}`));
      });
      req.once('response', (response) => {
        res = response;
        phase = 'body';
        const latency = roundMs(performance.now() - started);
        const status = response.statusCode ?? 0;
        const fields = { probe_ok: true, probe_latency_ms: latency, ...(status >= 100 && status <= 599 ? { http_status: status } : {}) };
        if (!statusExpected(status, target.expectStatus)) {
          return finish({
            fields,
            verdict: { state: 'DOWN', reason: 'http-status' },
            error: { code: 'CE_PROBE_HTTP_STATUS', detail: `${target.url}: status ${status}, expected ${target.expectStatus.join(', ')}` },
          });
        }
        if (!keyword) return finish({ fields, verdict: latencyVerdict(latency, target.latencyDegradedMs) });

        let body: Buffer = Buffer.alloc(0);
        const missing = (why: string) =>
          finish({
            fields,
            verdict: { state: 'DOWN', reason: 'keyword-missing' },
            error: { code: 'CE_PROBE_KEYWORD_MISSING', detail: `${target.url}: "${target.keyword}" not in ${why}` },
          });
        response.on('data', (chunk: Buffer) => {
          const from = Math.max(0, body.length - keyword.length + 1);
          const room = target.keywordMaxBytes - body.length;
          body = Buffer.concat([body, room < chunk.length ? chunk.subarray(0, room) : chunk]);
          if (body.indexOf(keyword, from) >= 0) {
            finish({ fields, verdict: latencyVerdict(latency, target.latencyDegradedMs) });
          } else if (body.length >= target.keywordMaxBytes) {
            missing(`the first ${target.keywordMaxBytes} bytes`);
          }
        });
        response.once('end', () => missing(`the body (${body.length} bytes)`));
        response.on('error', (err) => finish(downOutcome(classifyNetError(err), `${target.url}: body: ${err.message}`)));
      });
      req.end();
    });
  },
};
