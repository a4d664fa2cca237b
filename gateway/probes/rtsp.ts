/**
 * RTSP probe of a camera (RFC 2326 RTSP 1.0; RFC 7826 RTSP 2.0 answers are read
 * the same way) over a raw TCP socket: `OPTIONS`, then `DESCRIBE` with
 * `Accept: application/sdp`, each with its CSeq (RFC 2326 §12.17). A 401 is
 * answered once with the `WWW-Authenticate` challenge: Digest (RFC 2617, MD5,
 * what Hikvision and Dahua cameras send; with or without qop) preferred over
 * Basic. The SDP of the DESCRIBE answer (RFC 4566) gives the codec of the first
 * video stream from its `a=rtpmap` line (RFC 6184 H264, RFC 7798 H265, RFC 2435
 * JPEG, RFC 6416 MP4V-ES). No SETUP / PLAY: no media flows, the probe costs the
 * camera one short connection.
 *
 * Robustness: the answer must start with "RTSP/" (anything else is garbage and
 * fails at once), heads are capped at 16 KiB, bodies at 64 KiB, the whole
 * connection at 256 KiB; a camera that accepts TCP and never answers is cut at
 * the target's timeout.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { FieldValue } from '../../devices/define.js';
import { CodedError } from '../errors.js';
import type { Probe, ProbeOutcome, ProbeRunContext } from './contract.js';
import { classifyNetError, downOutcome, latencyVerdict, roundMs, type Failure } from './outcome.js';
import type { RtspTarget } from './settings.js';

export const MAX_HEAD_BYTES = 16 * 1024;
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_CONNECTION_BYTES = 256 * 1024;

export interface RtspResponse {
  version: string;
  status: number;
  reason: string;
  /** Lower-case header name → every value, in order (WWW-Authenticate may repeat). */
  headers: Map<string, string[]>;
  body: string;
}

export type ParseResult =
  | { kind: 'more' }
  | { kind: 'response'; response: RtspResponse; consumed: number }
  | { kind: 'error'; detail: string };

const PREFIX = Buffer.from('RTSP/');

/** One response from the start of `buf` (RFC 2326 §7: status line, headers, CRLF, body of Content-Length). */
export function parseRtspResponse(buf: Buffer): ParseResult {
  const head = Math.min(buf.length, PREFIX.length);
  if (!buf.subarray(0, head).equals(PREFIX.subarray(0, head))) {
    return { kind: 'error', detail: `not an RTSP answer: ${JSON.stringify(buf.subarray(0, 40).toString('latin1'))}` };
  }
  let end = buf.indexOf('\r\n\r\n');
  let sep = 4;
  const lf = buf.indexOf('\n\n');
  if (lf >= 0 && (end < 0 || lf < end)) {
    end = lf; // bare LF line ends: tolerated (RFC 2326 §15.1 asks clients to accept them)
    sep = 2;
  }
  if (end < 0) {
    return buf.length > MAX_HEAD_BYTES ? { kind: 'error', detail: `answer head larger than ${MAX_HEAD_BYTES} bytes` } : { kind: 'more' };
  }
  if (end > MAX_HEAD_BYTES) return { kind: 'error', detail: `answer head larger than ${MAX_HEAD_BYTES} bytes` };
  const lines = buf.subarray(0, end).toString('latin1').split(/\r?\n/);
  const m = /^RTSP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]!);
  if (!m) return { kind: 'error', detail: `bad status line ${JSON.stringify(lines[0]!.slice(0, 60))}` };
  const headers = new Map<string, string[]>();
  let last: string[] | undefined;
  for (const line of lines.slice(1)) {
    if (/^[ \t]/.test(line) && last) {
      last[last.length - 1] += ` ${line.trim()}`; // folded continuation line
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return { kind: 'error', detail: `bad header line ${JSON.stringify(line.slice(0, 60))}` };
    const name = line.slice(0, colon).trim().toLowerCase();
    last = headers.get(name) ?? [];
    last.push(line.slice(colon + 1).trim());
    headers.set(name, last);
  }
  const lengthText = headers.get('content-length')?.[0];
  const length = lengthText === undefined ? 0 : Number(lengthText);
  if (!Number.isInteger(length) || length < 0) return { kind: 'error', detail: `bad Content-Length ${JSON.stringify(lengthText)}` };
  if (length > MAX_BODY_BYTES) return { kind: 'error', detail: `body of ${length} bytes is larger than ${MAX_BODY_BYTES}` };
  const bodyStart = end + sep;
  if (buf.length < bodyStart + length) return { kind: 'more' };
  return {
    kind: 'response',
    response: {
      version: m[1]!,
      status: Number(m[2]),
      reason: m[3] ?? '',
      headers,
      body: buf.subarray(bodyStart, bodyStart + length).toString('utf8'),
    },
    consumed: bodyStart + length,
  };
}

export interface Challenge {
  scheme: 'digest' | 'basic';
  params: Record<string, string>;
}

/** `WWW-Authenticate` values → challenges (RFC 2617 §1.2, §3.2.1); unknown schemes dropped. */
export function parseChallenges(values: readonly string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const value of values) {
    const m = /^\s*(\w+)\s*(.*)$/s.exec(value);
    if (!m) continue;
    const scheme = m[1]!.toLowerCase();
    if (scheme !== 'digest' && scheme !== 'basic') continue;
    const params: Record<string, string> = {};
    for (const p of m[2]!.matchAll(/([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
      params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
    }
    out.push({ scheme, params });
  }
  return out;
}

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

export interface Credentials {
  username: string;
  password: string;
}

/**
 * The `Authorization` header answering `challenge` for `method` on `uri`
 * (RFC 2617 §3.2.2: response = MD5(HA1:nonce[:nc:cnonce:qop]:HA2), HA1 =
 * MD5(user:realm:password), HA2 = MD5(method:uri); MD5-sess per §3.2.2.2).
 * Returns undefined for a Digest challenge we cannot answer (other algorithm,
 * qop without "auth").
 */
export function authorization(challenge: Challenge, method: string, uri: string, creds: Credentials, nc = 1, cnonce = randomBytes(8).toString('hex')): string | undefined {
  if (challenge.scheme === 'basic') return `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}`;
  const { realm = '', nonce = '', opaque } = challenge.params;
  const algorithm = challenge.params['algorithm'];
  if (algorithm !== undefined && !/^md5(-sess)?$/i.test(algorithm)) return undefined;
  const qops = challenge.params['qop']?.split(',').map((q) => q.trim().toLowerCase());
  if (qops && !qops.includes('auth')) return undefined;
  let ha1 = md5(`${creds.username}:${realm}:${creds.password}`);
  if (algorithm && /-sess$/i.test(algorithm)) ha1 = md5(`${ha1}:${nonce}:${cnonce}`);
  const ha2 = md5(`${method}:${uri}`);
  const ncHex = nc.toString(16).padStart(8, '0');
  const response = qops ? md5(`${ha1}:${nonce}:${ncHex}:${cnonce}:auth:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
  const q = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  const parts = [`username=${q(creds.username)}`, `realm=${q(realm)}`, `nonce=${q(nonce)}`, `uri=${q(uri)}`, `response=${q(response)}`];
  if (algorithm) parts.push(`algorithm=${algorithm}`);
  if (opaque !== undefined) parts.push(`opaque=${q(opaque)}`);
  if (qops) parts.push('qop=auth', `nc=${ncHex}`, `cnonce=${q(cnonce)}`);
  return `Digest ${parts.join(', ')}`;
}

export type StreamCodec = 'H264' | 'H265' | 'JPEG' | 'MP4V-ES' | 'other';

/** RTP/AVP static payload types for video (RFC 3551 §6, Table 5) that need no rtpmap. */
const STATIC_VIDEO: Record<string, StreamCodec> = { '26': 'JPEG', '31': 'other', '32': 'other', '33': 'other', '34': 'other' };

/**
 * Codec of the first video media section of an SDP (RFC 4566 §5.14 m=, §6
 * a=rtpmap:<payload type> <encoding name>/<clock rate>); undefined without video.
 */
export function codecFromSdp(sdp: string): StreamCodec | undefined {
  const lines = sdp.split(/\r?\n/);
  let formats: string[] | undefined;
  const rtpmap = new Map<string, string>();
  for (const line of lines) {
    if (line.startsWith('m=')) {
      if (formats) break; // the next media section: the first video one is done
      const m = /^m=video\s+\S+\s+\S+\s+(.*)$/.exec(line);
      if (m) formats = m[1]!.trim().split(/\s+/);
      continue;
    }
    if (!formats) continue;
    const a = /^a=rtpmap:(\d+)\s+([^/\s]+)/.exec(line);
    if (a) rtpmap.set(a[1]!, a[2]!.toUpperCase());
  }
  if (!formats || formats.length === 0) return undefined;
  for (const pt of formats) {
    const name = rtpmap.get(pt);
    if (name === undefined) {
      const fixed = STATIC_VIDEO[pt];
      if (fixed) return fixed;
      continue;
    }
    if (name === 'H264') return 'H264';
    if (name === 'H265' || name === 'HEVC') return 'H265';
    if (name === 'JPEG') return 'JPEG';
    if (name === 'MP4V-ES') return 'MP4V-ES';
    return 'other';
  }
  return 'other';
}

/** The request-per-response conversation on one socket. */
class RtspConversation {
  private buf: Buffer = Buffer.alloc(0);
  private received = 0;
  private waiter: { resolve: (r: RtspResponse) => void; reject: (f: ConversationError) => void } | undefined;
  private failed: ConversationError | undefined;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      if (this.received > MAX_CONNECTION_BYTES) return this.fail(new ConversationError({ code: 'CE_PROBE_PROTOCOL', reason: 'protocol' }, `more than ${MAX_CONNECTION_BYTES} bytes`));
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      this.pump();
    });
    socket.on('error', (err) => this.fail(new ConversationError(classifyNetError(err), (err as NodeJS.ErrnoException).code ?? err.message)));
    socket.on('close', () => this.fail(new ConversationError({ code: 'CE_PROBE_UNREACHABLE', reason: 'reset' }, 'connection closed before a complete answer')));
  }

  send(text: string): void {
    this.socket.write(text);
  }

  next(): Promise<RtspResponse> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.pump();
    });
  }

  private pump(): void {
    if (!this.waiter || this.buf.length === 0) return;
    const r = parseRtspResponse(this.buf);
    if (r.kind === 'more') return;
    if (r.kind === 'error') return this.fail(new ConversationError({ code: 'CE_PROBE_PROTOCOL', reason: 'protocol' }, r.detail));
    this.buf = this.buf.subarray(r.consumed);
    const w = this.waiter;
    this.waiter = undefined;
    w.resolve(r.response);
  }

  get failure(): ConversationError | undefined {
    return this.failed;
  }

  /** Called once with the first failure, whether or not an answer is awaited. */
  onFail: ((err: ConversationError) => void) | undefined;

  fail(err: ConversationError): void {
    if (this.failed) return;
    this.failed = err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
    this.onFail?.(err);
  }
}

class ConversationError extends Error {
  constructor(
    readonly failure: Failure,
    readonly detail: string,
  ) {
    super(detail);
  }
}

function hostPort(url: URL): { host: string; port: number } {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: url.port ? Number(url.port) : 554 };
}

export const rtspProbe: Probe<RtspTarget> = {
  type: 'rtsp',
  async run(target: RtspTarget, run: ProbeRunContext): Promise<ProbeOutcome> {
    let creds: Credentials | undefined;
    if (target.username !== undefined) {
      const password = target.passwordEnv !== undefined ? process.env[target.passwordEnv] : '';
      if (password === undefined) throw new CodedError('CE_PROBE_CONFIG', `environment variable ${target.passwordEnv} (RTSP password of ${target.device}) is not set`);
      creds = { username: target.username, password };
    }
    const url = new URL(target.url);
    const { host, port } = hostPort(url);
    const uri = target.url;
    const started = performance.now();
    let step = 'connect';
    let connected = false;
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    const talk = new RtspConversation(socket);
    const onAbort = () => talk.fail(new ConversationError({ code: 'CE_PROBE_TIMEOUT', reason: 'timeout' }, ''));
    if (run.signal.aborted) onAbort();
    else run.signal.addEventListener('abort', onAbort, { once: true });

    let cseq = 0;
    let challenge: Challenge | undefined;
    let nc = 0;
    const request = async (method: 'OPTIONS' | 'DESCRIBE'): Promise<RtspResponse> => {
      step = method;
      for (let attempt = 0; ; attempt++) {
        cseq++;
        const lines = [`${method} ${uri} RTSP/1.0`, `CSeq: ${cseq}`, 'User-Agent: commune-edge-probe'];
        if (method === 'DESCRIBE') lines.push('Accept: application/sdp');
        if (challenge && creds) {
          const auth = authorization(challenge, method, uri, creds, ++nc);
          if (auth) lines.push(`Authorization: ${auth}`);
        }
        talk.send(`${lines.join('\r\n')}\r\n\r\n`);
        const res = await talk.next();
        const echoed = res.headers.get('cseq')?.[0];
        if (echoed !== undefined && Number(echoed) !== cseq) {
          throw new ConversationError({ code: 'CE_PROBE_PROTOCOL', reason: 'protocol' }, `${method}: CSeq ${echoed} answers request ${cseq}`);
        }
        // RFC 2326 §15.1 / RFC 2617 §3.2.1: a 401 carries the challenge; answer it once per request.
        if (res.status !== 401 || !creds || attempt > 0) return res;
        const challenges = parseChallenges(res.headers.get('www-authenticate') ?? []);
        const usable = challenges.find((c) => c.scheme === 'digest' && authorization(c, method, uri, creds!, 1, 'x') !== undefined) ?? challenges.find((c) => c.scheme === 'basic');
        if (!usable) return res;
        challenge = usable;
      }
    };

    try {
      await new Promise<void>((resolve, reject) => {
        if (talk.failure) return reject(talk.failure);
        talk.onFail = reject; // refused, unreachable, timeout before the handshake completes
        socket.once('connect', () => {
          connected = true;
          resolve();
        });
      });
      let res = await request('OPTIONS');
      const fields: Record<string, FieldValue> = {};
      if (res.status === 200 && target.method === 'describe') res = await request('DESCRIBE');
      const latency = roundMs(performance.now() - started);
      Object.assign(fields, { probe_ok: true, probe_latency_ms: latency, http_status: res.status });
      if (res.status === 401) {
        const why = creds ? `credentials of ${creds.username} rejected` : 'the camera requires credentials (username, passwordEnv)';
        return { fields, verdict: { state: 'DEGRADED', reason: 'auth-failed' }, error: { code: 'CE_PROBE_AUTH', detail: `${uri}: ${step}: ${why}` } };
      }
      if (res.status < 200 || res.status > 299) {
        return {
          fields,
          verdict: { state: 'DOWN', reason: 'rtsp-status' },
          error: { code: 'CE_PROBE_RTSP_STATUS', detail: `${uri}: ${step}: ${res.status} ${res.reason}` },
        };
      }
      if (target.method === 'describe') {
        const codec = codecFromSdp(res.body);
        if (codec === undefined) return { fields, verdict: { state: 'DEGRADED', reason: 'no-video' } };
        fields['stream_codec'] = codec;
      }
      return { fields, verdict: latencyVerdict(latency, target.latencyDegradedMs) };
    } catch (err) {
      if (!(err instanceof ConversationError)) throw err;
      if (err.failure.code === 'CE_PROBE_TIMEOUT') {
        const what = connected ? `connected, but no answer to ${step}` : 'no connection';
        return downOutcome(err.failure, `${uri}: ${what} within ${run.timeoutMs} ms`);
      }
      return downOutcome(err.failure, `${uri}: ${step}: ${err.detail}`);
    } finally {
      run.signal.removeEventListener('abort', onAbort);
      socket.destroy();
    }
  },
};
