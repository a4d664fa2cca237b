/**
 * TCP, HTTP(S) and RTSP probes against real peers on 127.0.0.1: Node TCP and
 * HTTP(S) servers (a self-signed certificate made with openssl for this run),
 * a server that accepts TCP and never answers, and the RTSP camera simulator
 * (devices/camera/rtsp-responder.ts). Each probe's UP / DEGRADED / DOWN outcomes,
 * and the hung peer cut at the timeout with a clear error.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RtspResponder, type RtspResponderOptions } from '../devices/camera/rtsp-responder.js';
import { CodedError } from '../gateway/errors.js';
import type { Probe, ProbeOutcome } from '../gateway/probes/contract.js';
import { httpProbe } from '../gateway/probes/http.js';
import { rtspProbe } from '../gateway/probes/rtsp.js';
import { HttpTargetSchema, RtspTargetSchema, TcpTargetSchema } from '../gateway/probes/settings.js';
import { tcpProbe } from '../gateway/probes/tcp.js';

const log = pino({ level: 'silent' });

/** Run a probe the way the scheduler does: an AbortSignal that fires at the timeout. */
async function run<T>(probe: Probe<T>, target: T, timeoutMs = 1500): Promise<ProbeOutcome & { elapsedMs: number }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort('timeout'), timeoutMs);
  const started = performance.now();
  try {
    const outcome = await probe.run(target, { signal: ac.signal, timeoutMs, log, now: () => Date.now() });
    return { ...outcome, elapsedMs: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

function listen(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}
function close(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  const port = await listen(s);
  await close(s);
  return port;
}

/** Accepts TCP connections, reads everything, never answers (a hung device web server or RTSP task). */
class HangServer {
  readonly server: Server;
  readonly sockets = new Set<Socket>();
  accepted = 0;
  constructor() {
    this.server = createTcpServer((s) => {
      this.accepted++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
      s.resume();
    });
  }
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await close(this.server);
  }
}

let dir: string;
let hang: HangServer;
let hangPort: number;
let refusedPort: number;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ce-probe-net-'));
  hang = new HangServer();
  hangPort = await listen(hang.server);
  refusedPort = await closedPort();
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await hang.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('TCP connect', () => {
  let port: number;
  beforeAll(async () => {
    const s = createTcpServer((sock) => sock.destroy());
    port = await listen(s);
    cleanups.push(() => close(s));
  });
  const target = (p: number, over: Record<string, unknown> = {}) => TcpTargetSchema.parse({ type: 'tcp', device: 'cam-1', host: '127.0.0.1', port: p, ...over });

  it('an open port is UP with the connect time', async () => {
    const o = await run(tcpProbe, target(port));
    expect(o.verdict).toStrictEqual({ state: 'UP', reason: 'ok' });
    expect(o.fields['probe_ok']).toBe(true);
    expect(o.fields['probe_latency_ms']).toBeTypeOf('number');
    expect(o.fields['probe_latency_ms']).toBeLessThan(500);
  });

  it('a connect slower than latencyDegradedMs is DEGRADED slow', async () => {
    // Loopback connects take ~0.05 ms; a 0.001 ms threshold makes any real connect "slow".
    const o = await run(tcpProbe, target(port, { latencyDegradedMs: 0.001 }));
    expect(o.verdict).toStrictEqual({ state: 'DEGRADED', reason: 'slow' });
  });

  it('a closed port is DOWN refused (CE_PROBE_REFUSED)', async () => {
    const o = await run(tcpProbe, target(refusedPort));
    expect(o.fields).toStrictEqual({ probe_ok: false });
    expect(o.verdict).toStrictEqual({ state: 'DOWN', reason: 'refused' });
    expect(o.error).toStrictEqual({ code: 'CE_PROBE_REFUSED', detail: `127.0.0.1:${refusedPort}: ECONNREFUSED` });
  });

  it('an already aborted run is DOWN timeout without connecting', async () => {
    const ac = new AbortController();
    ac.abort('timeout');
    const o = await tcpProbe.run(target(port), { signal: ac.signal, timeoutMs: 1, log, now: Date.now });
    expect(o.verdict).toStrictEqual({ state: 'DOWN', reason: 'timeout' });
    expect(o.error?.code).toBe('CE_PROBE_TIMEOUT');
  });
});

describe('HTTP', () => {
  let port: number;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (url === '/ok') return res.end('<html><title>Hikvision Web</title></html>');
    if (url === '/redirect') return res.writeHead(302, { location: '/doc/page/login.asp' }).end();
    if (url === '/broken') return res.writeHead(500).end('error');
    if (url === '/auth') return res.writeHead(401, { 'www-authenticate': 'Basic realm="cam"' }).end();
    if (url === '/slow') return void setTimeout(() => res.end('late'), 150);
    if (url === '/chunked') {
      // The keyword arrives split over two chunks: "Hikvi" + "sion".
      res.write('<html><title>Hikvi');
      return void setTimeout(() => res.end('sion</title></html>'), 20);
    }
    if (url === '/far') {
      // The keyword only after 100 KiB: beyond the 64 KiB read cap.
      res.write('x'.repeat(100 * 1024));
      return res.end('Hikvision');
    }
    if (url === '/mjpeg') {
      // An endless multipart stream, as a camera's MJPEG URL sends: the probe must stop reading.
      res.writeHead(200, { 'content-type': 'multipart/x-mixed-replace; boundary=frame' });
      const timer = setInterval(() => res.write(Buffer.alloc(8192, 0xff)), 1);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.writeHead(404).end();
  };
  beforeAll(async () => {
    const s = createHttpServer(handler);
    port = await listen(s);
    cleanups.push(() => {
      s.closeAllConnections();
      return close(s);
    });
  });
  const target = (path: string, over: Record<string, unknown> = {}) =>
    HttpTargetSchema.parse({ type: 'http', device: 'cam-1', url: `http://127.0.0.1:${port}${path}`, ...over });

  it('200 is UP with status and time to headers', async () => {
    const o = await run(httpProbe, target('/ok'));
    expect(o.verdict).toStrictEqual({ state: 'UP', reason: 'ok' });
    expect(o.fields).toMatchObject({ probe_ok: true, http_status: 200 });
    expect(o.fields['probe_latency_ms']).toBeTypeOf('number');
  });

  it('a redirect counts as working by default (not followed); HEAD works', async () => {
    expect((await run(httpProbe, target('/redirect'))).fields['http_status']).toBe(302);
    expect((await run(httpProbe, target('/redirect'))).verdict.state).toBe('UP');
    expect((await run(httpProbe, target('/ok', { method: 'HEAD' }))).verdict.state).toBe('UP');
  });

  it('an unexpected status is DOWN http-status, with the status stored', async () => {
    const o = await run(httpProbe, target('/broken'));
    expect(o.verdict).toStrictEqual({ state: 'DOWN', reason: 'http-status' });
    expect(o.fields).toMatchObject({ probe_ok: true, http_status: 500 });
    expect(o.error?.code).toBe('CE_PROBE_HTTP_STATUS');
    expect(o.error?.detail).toContain('status 500');
    // A login-protected page can be declared as expected.
    expect((await run(httpProbe, target('/auth', { expectStatus: [401] }))).verdict.state).toBe('UP');
    expect((await run(httpProbe, target('/auth'))).verdict.state).toBe('DOWN');
  });

  it('finds a keyword split over chunks, and reports a missing one', async () => {
    expect((await run(httpProbe, target('/chunked', { keyword: 'Hikvision' }))).verdict).toStrictEqual({ state: 'UP', reason: 'ok' });
    const missing = await run(httpProbe, target('/ok', { keyword: 'Dahua' }));
    expect(missing.verdict).toStrictEqual({ state: 'DOWN', reason: 'keyword-missing' });
    expect(missing.error?.code).toBe('CE_PROBE_KEYWORD_MISSING');
  });

  it('reads at most keywordMaxBytes: a keyword beyond the cap is missing, an endless stream stops at once', async () => {
    const far = await run(httpProbe, target('/far', { keyword: 'Hikvision' }));
    expect(far.verdict.reason).toBe('keyword-missing');
    expect(far.error?.detail).toContain('first 65536 bytes');
    const stream = await run(httpProbe, target('/mjpeg', { keyword: 'never-there' }), 3000);
    expect(stream.verdict.reason).toBe('keyword-missing');
    expect(stream.elapsedMs).toBeLessThan(1500);
  });

  it('slower than latencyDegradedMs is DEGRADED slow', async () => {
    const o = await run(httpProbe, target('/slow', { latencyDegradedMs: 50 }));
    expect(o.verdict).toStrictEqual({ state: 'DEGRADED', reason: 'slow' });
    expect(o.fields['probe_latency_ms']).toBeGreaterThanOrEqual(140);
  });

  it('a server that accepts TCP and never answers is DOWN timeout, at the timeout', async () => {
    const before = hang.accepted;
    const o = await run(httpProbe, HttpTargetSchema.parse({ type: 'http', device: 'cam-1', url: `http://127.0.0.1:${hangPort}/` }), 700);
    expect(hang.accepted).toBe(before + 1);
    expect(o.verdict).toStrictEqual({ state: 'DOWN', reason: 'timeout' });
    expect(o.fields).toStrictEqual({ probe_ok: false });
    expect(o.error).toStrictEqual({ code: 'CE_PROBE_TIMEOUT', detail: `http://127.0.0.1:${hangPort}/: connected, but no response headers within 700 ms` });
    expect(o.elapsedMs).toBeGreaterThanOrEqual(690);
    expect(o.elapsedMs).toBeLessThan(1000);
    // The probe closed its side: the hung server sees the connection go.
    await new Promise((r) => setTimeout(r, 50));
    expect(hang.sockets.size).toBe(0);
  });

  it('a closed port is DOWN refused', async () => {
    const o = await run(httpProbe, HttpTargetSchema.parse({ type: 'http', device: 'cam-1', url: `http://127.0.0.1:${refusedPort}/` }));
    expect(o.verdict).toStrictEqual({ state: 'DOWN', reason: 'refused' });
    expect(o.error?.code).toBe('CE_PROBE_REFUSED');
  });
});

describe('HTTPS', () => {
  let port: number;
  let certFile: string;
  beforeAll(async () => {
    // A self-signed certificate for 127.0.0.1, as a camera's web UI has.
    const keyFile = join(dir, 'key.pem');
    certFile = join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' });
    const { readFileSync } = await import('node:fs');
    const s = createHttpsServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (_req, res) => res.end('<title>Dahua</title>'));
    port = await listen(s);
    cleanups.push(() => {
      s.closeAllConnections();
      return close(s);
    });
  });
  const target = (over: Record<string, unknown> = {}) => HttpTargetSchema.parse({ type: 'http', device: 'cam-1', url: `https://127.0.0.1:${port}/`, ...over });

  it('verifies by default: a self-signed device certificate is DOWN tls', async () => {
    const o = await run(httpProbe, target());
    expect(o.verdict).toStrictEqual({ state: 'DOWN', reason: 'tls' });
    expect(o.error?.code).toBe('CE_PROBE_TLS');
    expect(o.error?.detail).toContain('SELF_SIGNED');
  });

  it('trusts the device certificate given as caFile', async () => {
    const o = await run(httpProbe, target({ caFile: certFile, keyword: 'Dahua' }));
    expect(o.verdict).toStrictEqual({ state: 'UP', reason: 'ok' });
    expect(o.fields['http_status']).toBe(200);
  });

  it('accepts any certificate only with an explicit insecureTls', async () => {
    expect((await run(httpProbe, target({ insecureTls: true }))).verdict.state).toBe('UP');
  });

  it('an unreadable caFile is a gateway-side CE_PROBE_CONFIG, not a DOWN device', async () => {
    await expect(run(httpProbe, target({ caFile: join(dir, 'missing.pem') }))).rejects.toSatisfy(
      (e: unknown) => e instanceof CodedError && e.code === 'CE_PROBE_CONFIG',
    );
  });

  it('TLS against the hung server is DOWN timeout (no handshake)', async () => {
    const o = await run(httpProbe, HttpTargetSchema.parse({ type: 'http', device: 'cam-1', url: `https://127.0.0.1:${hangPort}/`, insecureTls: true }), 500);
    expect(o.verdict.reason).toBe('timeout');
    expect(o.error?.detail).toContain('connected, but no TLS handshake within 500 ms');
  });
});

describe('RTSP', () => {
  const cams: RtspResponder[] = [];
  async function camera(opts: RtspResponderOptions = {}): Promise<RtspResponder> {
    const cam = new RtspResponder(opts);
    await cam.start();
    cams.push(cam);
    return cam;
  }
  afterAll(async () => {
    for (const c of cams) await c.stop();
  });
  const target = (url: string, over: Record<string, unknown> = {}) => RtspTargetSchema.parse({ type: 'rtsp', device: 'cam-1', url, ...over });
  process.env['CE_TEST_CAM_PW'] = 'Cam#2026';
  const creds = { username: 'probe', passwordEnv: 'CE_TEST_CAM_PW' };

  it('DESCRIBE of an H264 camera is UP with codec and status', async () => {
    const cam = await camera({ codec: 'H264' });
    const o = await run(rtspProbe, target(cam.url()));
    expect(o.verdict).toStrictEqual({ state: 'UP', reason: 'ok' });
    expect(o.fields).toMatchObject({ probe_ok: true, http_status: 200, stream_codec: 'H264' });
    expect(cam.requests.map((r) => [r.method, r.cseq])).toStrictEqual([
      ['OPTIONS', '1'],
      ['DESCRIBE', '2'],
    ]);
    expect(cam.open).toBeLessThanOrEqual(1);
  });

  it('reads H265 from the SDP; method options only asks OPTIONS', async () => {
    const cam = await camera({ codec: 'H265' });
    expect((await run(rtspProbe, target(cam.url()))).fields['stream_codec']).toBe('H265');
    const before = cam.requests.length;
    const o = await run(rtspProbe, target(cam.url(), { method: 'options' }));
    expect(o.verdict.state).toBe('UP');
    expect(o.fields['stream_codec']).toBeUndefined();
    expect(cam.requests.slice(before).map((r) => r.method)).toStrictEqual(['OPTIONS']);
  });

  it('answers a Digest challenge (no qop, as Hikvision) on DESCRIBE', async () => {
    const cam = await camera({ auth: { username: 'probe', password: 'Cam#2026' } });
    const o = await run(rtspProbe, target(cam.url(), creds));
    expect(o.verdict).toStrictEqual({ state: 'UP', reason: 'ok' });
    expect(o.fields['stream_codec']).toBe('H264');
    const describes = cam.requests.filter((r) => r.method === 'DESCRIBE');
    expect(describes.map((r) => r.authorized)).toStrictEqual([undefined, true]);
    expect(describes[1]!.authorization).toMatch(/^Digest username="probe"/);
    expect(describes.map((r) => r.cseq)).toStrictEqual(['2', '3']);
  });

  it('answers Digest with qop=auth, on every request when the camera protects OPTIONS too', async () => {
    const cam = await camera({ auth: { username: 'probe', password: 'Cam#2026', qop: true, protect: 'all' } });
    const o = await run(rtspProbe, target(cam.url(), creds));
    expect(o.verdict.state).toBe('UP');
    expect(cam.requests.map((r) => [r.method, r.authorized])).toStrictEqual([
      ['OPTIONS', undefined],
      ['OPTIONS', true],
      ['DESCRIBE', true],
    ]);
    expect(cam.requests[2]!.authorization).toContain('nc=00000002');
  });

  it('uses Basic when that is all the camera offers', async () => {
    const cam = await camera({ auth: { username: 'probe', password: 'Cam#2026', scheme: 'basic' } });
    expect((await run(rtspProbe, target(cam.url(), creds))).verdict.state).toBe('UP');
    expect(cam.requests.at(-1)!.authorization).toBe(`Basic ${Buffer.from('probe:Cam#2026').toString('base64')}`);
  });

  it('wrong or missing credentials are DEGRADED auth-failed (the camera answers)', async () => {
    const cam = await camera({ auth: { username: 'probe', password: 'other' } });
    const wrong = await run(rtspProbe, target(cam.url(), creds));
    expect(wrong.verdict).toStrictEqual({ state: 'DEGRADED', reason: 'auth-failed' });
    expect(wrong.fields).toMatchObject({ probe_ok: true, http_status: 401 });
    expect(wrong.error?.code).toBe('CE_PROBE_AUTH');
    expect(wrong.error?.detail).toContain('credentials of probe rejected');
    // One retry with credentials, never a loop.
    expect(cam.requests.filter((r) => r.method === 'DESCRIBE')).toHaveLength(2);
    const none = await run(rtspProbe, target(cam.url()));
    expect(none.verdict.reason).toBe('auth-failed');
    expect(none.error?.detail).toContain('requires credentials');
  });

  it('an unset password variable is a gateway-side CE_PROBE_CONFIG', async () => {
    const cam = await camera();
    await expect(run(rtspProbe, target(cam.url(), { username: 'probe', passwordEnv: 'CE_TEST_UNSET_VARIABLE' }))).rejects.toSatisfy(
      (e: unknown) => e instanceof CodedError && e.code === 'CE_PROBE_CONFIG' && (e.detail ?? '').includes('CE_TEST_UNSET_VARIABLE'),
    );
  });

  it('an error status (503: session limit) is DOWN rtsp-status', async () => {
    const cam = await camera({ mode: 'error' });
    const o = await run(rtspProbe, target(cam.url()));
    expect(o.verdict).toStrictEqual({ state: 'DOWN', reason: 'rtsp-status' });
    expect(o.fields).toMatchObject({ probe_ok: true, http_status: 503 });
    expect(o.error?.code).toBe('CE_PROBE_RTSP_STATUS');
    expect(o.error?.detail).toContain('OPTIONS: 503 Service Unavailable');
  });

  it('a camera that accepts TCP and never answers is DOWN timeout, at the timeout', async () => {
    const cam = await camera({ mode: 'hang' });
    const o = await run(rtspProbe, target(cam.url()), 600);
    expect(o.verdict).toStrictEqual({ state: 'DOWN', reason: 'timeout' });
    expect(o.fields).toStrictEqual({ probe_ok: false });
    expect(o.error).toStrictEqual({ code: 'CE_PROBE_TIMEOUT', detail: `${cam.url()}: connected, but no answer to OPTIONS within 600 ms` });
    expect(o.elapsedMs).toBeGreaterThanOrEqual(590);
    expect(o.elapsedMs).toBeLessThan(900);
    expect(cam.connections).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(cam.open).toBe(0);
  });

  it('a camera that answers DESCRIBE late is cut at the timeout too', async () => {
    const cam = await camera({ delayMs: 400 });
    const o = await run(rtspProbe, target(cam.url()), 600);
    expect(o.verdict.reason).toBe('timeout');
    expect(o.error?.detail).toContain('no answer to DESCRIBE');
  });

  it('garbage and oversize answers are DOWN protocol, at once', async () => {
    const garbage = await camera({ mode: 'garbage' });
    const g = await run(rtspProbe, target(garbage.url()), 3000);
    expect(g.verdict).toStrictEqual({ state: 'DOWN', reason: 'protocol' });
    expect(g.error?.code).toBe('CE_PROBE_PROTOCOL');
    expect(g.error?.detail).toContain('not an RTSP answer');
    expect(g.elapsedMs).toBeLessThan(1000);
    const big = await camera({ mode: 'oversize' });
    const b = await run(rtspProbe, target(big.url()), 3000);
    expect(b.verdict.reason).toBe('protocol');
    expect(b.error?.detail).toContain('larger than 16384');
    expect(b.elapsedMs).toBeLessThan(1000);
  });

  it('a closed port is DOWN refused; the hung TCP server is DOWN timeout', async () => {
    expect((await run(rtspProbe, target(`rtsp://127.0.0.1:${refusedPort}/s`))).verdict).toStrictEqual({ state: 'DOWN', reason: 'refused' });
    expect((await run(rtspProbe, target(`rtsp://127.0.0.1:${hangPort}/s`), 300)).verdict.reason).toBe('timeout');
  });

  it('a camera whose answer changes mode between rounds is judged per round', async () => {
    const cam = await camera();
    expect((await run(rtspProbe, target(cam.url()))).verdict.state).toBe('UP');
    cam.setMode('error');
    expect((await run(rtspProbe, target(cam.url()))).verdict.state).toBe('DOWN');
    cam.setMode('ok');
    expect((await run(rtspProbe, target(cam.url()))).verdict.state).toBe('UP');
  });
});
