/**
 * A small RTSP server that answers like an IP camera (RFC 2326), for tests, the
 * benchmark and demos of the gateway's RTSP probe: `OPTIONS` and `DESCRIBE`
 * (an SDP with one H264 or H265 video track and a G.711 audio track, shaped like
 * a Hikvision camera's), optional Digest (RFC 2617, MD5, with or without qop) or
 * Basic authentication, and fault modes:
 *
 * - `ok`: answers;
 * - `hang`: accepts the TCP connection and reads, never answers (a camera whose
 *   RTSP task is stuck: the TCP stack still accepts);
 * - `error`: answers every request with `errorStatus` (default 503, what
 *   cameras send when their RTSP session limit is reached);
 * - `garbage`: answers with bytes that are not RTSP (another service on 554);
 * - `oversize`: starts a valid answer, then sends an endless head.
 *
 * No media is ever sent (no SETUP / PLAY). Server-side parsing and digest
 * checking are written here independently of the probe (gateway/probes/rtsp.ts),
 * so a shared misunderstanding cannot make both agree.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';

export type RtspResponderMode = 'ok' | 'hang' | 'error' | 'garbage' | 'oversize';

export interface RtspResponderAuth {
  username: string;
  password: string;
  /** Default digest. */
  scheme?: 'digest' | 'basic';
  /** Default "IP Camera(C6812)" (the Hikvision style). */
  realm?: string;
  /** Offer qop="auth" in the Digest challenge (RFC 2617); default false, as Hikvision and Dahua RTSP do. */
  qop?: boolean;
  /** Which requests need credentials: DESCRIBE only (default, like most cameras) or every request. */
  protect?: 'describe' | 'all';
}

export interface RtspResponderOptions {
  codec?: 'H264' | 'H265';
  auth?: RtspResponderAuth;
  mode?: RtspResponderMode;
  /** Status of `error` mode; default 503. */
  errorStatus?: number;
  /** Delay before each answer, ms (a slow camera); default 0. */
  delayMs?: number;
}

export interface RtspRequestSeen {
  method: string;
  uri: string;
  cseq: string | undefined;
  authorization: string | undefined;
  /** Whether the credentials were accepted (undefined: none needed or none sent). */
  authorized: boolean | undefined;
}

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  454: 'Session Not Found',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const MAX_REQUEST_BUFFER = 64 * 1024;
const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

export class RtspResponder {
  mode: RtspResponderMode;
  readonly requests: RtspRequestSeen[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly nonces = new Set<string>();
  private boundPort = 0;
  private accepted = 0;

  constructor(private readonly opts: RtspResponderOptions = {}) {
    this.mode = opts.mode ?? 'ok';
  }

  get port(): number {
    return this.boundPort;
  }

  /** TCP connections accepted so far. */
  get connections(): number {
    return this.accepted;
  }

  /** Connections open now. */
  get open(): number {
    return this.sockets.size;
  }

  /** The stream URL a probe would use (Hikvision main stream path by default). */
  url(path = '/Streaming/Channels/101'): string {
    return `rtsp://127.0.0.1:${this.boundPort}${path}`;
  }

  setMode(mode: RtspResponderMode): void {
    this.mode = mode;
  }

  start(listen: { port?: number; host?: string } = {}): Promise<{ port: number }> {
    const server = createServer((socket) => this.onConnection(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        const addr = server.address();
        this.boundPort = typeof addr === 'object' && addr ? addr.port : 0;
        resolve({ port: this.boundPort });
      });
    });
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private onConnection(socket: Socket): void {
    this.accepted++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > MAX_REQUEST_BUFFER) return socket.destroy();
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const headers = new Map<string, string>();
        for (const line of head.split('\r\n').slice(1)) {
          const i = line.indexOf(':');
          if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
        }
        const bodyLength = Number(headers.get('content-length') ?? 0) || 0;
        if (buf.length < end + 4 + bodyLength) return;
        buf = buf.subarray(end + 4 + bodyLength);
        const [method = '', uri = ''] = head.split('\r\n')[0]!.split(' ');
        this.onRequest(socket, method, uri, headers);
      }
    });
  }

  private onRequest(socket: Socket, method: string, uri: string, headers: Map<string, string>): void {
    const cseq = headers.get('cseq');
    const seen: RtspRequestSeen = { method, uri, cseq, authorization: headers.get('authorization'), authorized: undefined };
    if (this.requests.length < 10_000) this.requests.push(seen);
    const mode = this.mode;
    if (mode === 'hang') return;
    if (mode === 'garbage') {
      socket.write(Buffer.concat([Buffer.from('SSH-2.0-dropbear_2019.78\r\n'), randomBytes(64)]));
      return;
    }
    if (mode === 'oversize') {
      socket.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq ?? '0'}\r\nX-Padding: ${'a'.repeat(40 * 1024)}`);
      return;
    }
    if (mode === 'error') return this.answer(socket, this.opts.errorStatus ?? 503, cseq);

    const auth = this.opts.auth;
    const needsAuth = auth !== undefined && (method === 'DESCRIBE' || auth.protect === 'all');
    if (needsAuth) {
      seen.authorized = seen.authorization === undefined ? undefined : this.check(seen.authorization, method, auth);
      if (seen.authorized !== true) return this.challenge(socket, cseq, auth);
    }
    if (method === 'OPTIONS') {
      return this.answer(socket, 200, cseq, ['Public: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER']);
    }
    if (method === 'DESCRIBE') {
      const sdp = this.sdp(uri);
      return this.answer(socket, 200, cseq, [`Content-Base: ${uri}/`, 'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(sdp)}`], sdp);
    }
    return this.answer(socket, 405, cseq, ['Allow: OPTIONS, DESCRIBE']);
  }

  private challenge(socket: Socket, cseq: string | undefined, auth: RtspResponderAuth): void {
    const realm = auth.realm ?? 'IP Camera(C6812)';
    if ((auth.scheme ?? 'digest') === 'basic') return this.answer(socket, 401, cseq, [`WWW-Authenticate: Basic realm="${realm}"`]);
    const nonce = randomBytes(16).toString('hex');
    this.nonces.add(nonce);
    const qop = auth.qop ? ', qop="auth"' : '';
    // Hikvision sends a Digest and a Basic challenge, as two headers.
    this.answer(socket, 401, cseq, [`WWW-Authenticate: Digest realm="${realm}", nonce="${nonce}"${qop}, stale="FALSE"`, `WWW-Authenticate: Basic realm="${realm}"`]);
  }

  /** RFC 2617 §3.2.2 (Digest) or §2 (Basic), checked against what this server offered. */
  private check(header: string, method: string, auth: RtspResponderAuth): boolean {
    const realm = auth.realm ?? 'IP Camera(C6812)';
    if ((auth.scheme ?? 'digest') === 'basic') {
      if (!header.startsWith('Basic ')) return false;
      return Buffer.from(header.slice(6), 'base64').toString('utf8') === `${auth.username}:${auth.password}`;
    }
    if (!header.startsWith('Digest ')) return false;
    const p: Record<string, string> = {};
    for (const m of header.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)) p[m[1]!] = m[2] ?? m[3]!;
    if (p['username'] !== auth.username || p['realm'] !== realm || !this.nonces.has(p['nonce'] ?? '')) return false;
    const ha1 = md5(`${auth.username}:${realm}:${auth.password}`);
    const ha2 = md5(`${method}:${p['uri']}`);
    const expected = auth.qop
      ? md5(`${ha1}:${p['nonce']}:${p['nc']}:${p['cnonce']}:${p['qop']}:${ha2}`)
      : md5(`${ha1}:${p['nonce']}:${ha2}`);
    if (auth.qop && p['qop'] !== 'auth') return false;
    return p['response'] === expected;
  }

  private answer(socket: Socket, status: number, cseq: string | undefined, headers: string[] = [], body = ''): void {
    const text = [`RTSP/1.0 ${status} ${REASONS[status] ?? 'Error'}`, `CSeq: ${cseq ?? '0'}`, 'Server: Hikvision-Webs-like (commune-edge simulator)', ...headers].join('\r\n') + '\r\n\r\n' + body;
    const delay = this.opts.delayMs ?? 0;
    if (delay > 0) setTimeout(() => socket.writable && socket.write(text), delay);
    else socket.write(text);
  }

  /** A Hikvision-like SDP (RFC 4566): one video track (RFC 6184 / 7798 rtpmap) and G.711 A-law audio. */
  private sdp(uri: string): string {
    const codec = this.opts.codec ?? 'H264';
    const fmtp =
      codec === 'H264'
        ? 'a=fmtp:96 profile-level-id=420029; packetization-mode=1; sprop-parameter-sets=Z00AKY2NQDwBE/LgLcBAQFAAAD6AAAw1DoYACYFAABfXhd5caGABMCgAAL68LvLhQA==,aO44gA=='
        : 'a=fmtp:96 sprop-vps=QAEMAf//AWAAAAMAsAAAAwAAAwB7FcCQ; sprop-sps=QgEBAWAAAAMAsAAAAwAAAwB7oAPAgBDljb5JMvTcBAQEAg==; sprop-pps=RAHA8vA8kAA=';
    return [
      'v=0',
      'o=- 1109162014219182 1109162014219192 IN IP4 127.0.0.1',
      's=Media Presentation',
      'e=NONE',
      'b=AS:5100',
      't=0 0',
      `a=control:${uri}/`,
      'm=video 0 RTP/AVP 96',
      'c=IN IP4 0.0.0.0',
      'b=AS:5000',
      'a=recvonly',
      'a=x-dimensions:1920,1080',
      `a=control:${uri}/trackID=1`,
      `a=rtpmap:96 ${codec}/90000`,
      fmtp,
      'm=audio 0 RTP/AVP 8',
      'c=IN IP4 0.0.0.0',
      'b=AS:50',
      'a=recvonly',
      `a=control:${uri}/trackID=2`,
      'a=rtpmap:8 PCMA/8000',
      '',
    ].join('\r\n');
  }
}
