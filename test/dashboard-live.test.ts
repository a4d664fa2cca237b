/**
 * GET /api/events (Server-Sent Events) on a real listening gateway, read with
 * fetch() and a stream reader as the dashboard does (inject() cannot stream):
 * snapshot, transitions from real MQTT status messages, Last-Event-ID resume,
 * pings and health events, the client limit, a slow client dropped instead of
 * buffered, and streams closed on shutdown.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardPlugin } from '../gateway/api/dashboard.js';
import { historyPlugin } from '../gateway/api/history.js';
import { createLivePlugin, livePlugin } from '../gateway/api/live.js';
import { metric, publish, removeDir, startTestGateway, TOKENS, until, type TestGateway } from './helpers/gateway.js';

interface SseEvent {
  event: string;
  id: string | null;
  data: unknown;
  at: number;
}

/** A minimal SSE reader over fetch (HTML Living Standard §9.2.6), recording every event and comment. */
class SseClient {
  events: SseEvent[] = [];
  comments: string[] = [];
  retry: number | null = null;
  ended = false;
  private buf = '';
  private constructor(
    readonly status: number,
    readonly headers: Headers,
    private readonly controller: AbortController,
  ) {}

  static async open(port: number, headers: Record<string, string> = {}): Promise<SseClient> {
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/api/events`, { headers, signal: controller.signal });
    const c = new SseClient(res.status, res.headers, controller);
    if (res.status === 200 && res.body) void c.pump(res.body);
    else {
      c.bodyText = await res.text();
      c.ended = true;
    }
    return c;
  }

  bodyText = '';

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.buf += value;
        let i: number;
        while ((i = this.buf.indexOf('\n\n')) >= 0) {
          const frame = this.buf.slice(0, i);
          this.buf = this.buf.slice(i + 2);
          this.frame(frame);
        }
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
  }

  private frame(frame: string): void {
    let event = 'message';
    let id: string | null = null;
    const data: string[] = [];
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
      else if (line.startsWith('retry: ')) this.retry = Number(line.slice(7));
    }
    if (data.length) this.events.push({ event, id, data: JSON.parse(data.join('\n')), at: Date.now() });
  }

  async waitFor(pred: (e: SseEvent) => boolean, what: string, ms = 5000): Promise<SseEvent> {
    return (await until(() => this.events.find(pred), ms, what))!;
  }

  close(): void {
    this.controller.abort();
  }
}

const auth = (role: keyof typeof TOKENS = 'viewer') => ({ authorization: `Bearer ${TOKENS[role]}` });

describe('live updates with the default settings', () => {
  let t: TestGateway;
  let port: number;
  const clients: SseClient[] = [];
  const open = async (headers: Record<string, string>) => {
    const c = await SseClient.open(port, headers);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startTestGateway((s) => s, { apiPlugins: [livePlugin] });
    port = t.gw.ports().http;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await t.close();
    removeDir(t.dir);
  });

  it('refuses a stream without a valid bearer token (401, coded error)', async () => {
    const none = await open({});
    expect(none.status).toBe(401);
    expect(JSON.parse(none.bodyText).error.code).toBe('CE_AUTH_REQUIRED');
    const bad = await open({ authorization: 'Bearer nope' });
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.bodyText).error.code).toBe('CE_AUTH_INVALID');
  });

  it('sends retry and a state snapshot, then each transition as it happens', async () => {
    const c = await open(auth());
    expect(c.status).toBe(200);
    expect(c.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(c.headers.get('cache-control')).toMatch(/no-cache/);
    const snap = await c.waitFor((e) => e.event === 'state', 'state snapshot');
    const devices = (snap.data as { devices: { id: string; state: string }[] }).devices;
    expect(devices.map((d) => d.id).sort()).toEqual(['cam-1', 'cam-2', 'loa-01', 'loa-02', 'ups-01']);
    expect(c.retry).toBe(3000);

    const mqtt = await t.connect('loa-01');
    const sent = Date.now();
    await publish(mqtt, 'ce/loa-01/status', 'offline');
    const down = await c.waitFor((e) => e.event === 'transition' && (e.data as { to: string }).to === 'DOWN', 'DOWN transition');
    expect(down.data).toMatchObject({ deviceId: 'loa-01', name: 'Loa ấp 1', kind: 'loudspeaker', hamlet: 'ap-01', to: 'DOWN', reason: 'offline' });
    expect(down.id).toMatch(/^\d+:\d+$/);
    // The page promises "within seconds"; over loopback it is milliseconds.
    expect(down.at - sent).toBeLessThan(2000);
  });

  it('resumes from Last-Event-ID with what was missed, and sends a snapshot when it cannot', async () => {
    const a = await open(auth());
    const mqtt = await t.connect('loa-02');
    await publish(mqtt, 'vendor/loa-02/lwt', 'offline');
    const first = await a.waitFor((e) => e.event === 'transition' && (e.data as { deviceId: string }).deviceId === 'loa-02', 'loa-02 transition');
    a.close();
    // While the client is away, loa-02 comes back.
    await publish(mqtt, 'vendor/loa-02/lwt', 'online');
    await until(() => t.gw.ctx.health.get('loa-02')?.state === 'UP', 3000, 'loa-02 UP');

    const b = await open({ ...auth(), 'last-event-id': first.id! });
    const missed = await b.waitFor((e) => e.event === 'transition', 'replayed transition');
    expect(missed.data).toMatchObject({ deviceId: 'loa-02', from: 'DOWN', to: 'UP' });
    expect(Number(missed.id!.split(':')[1])).toBe(Number(first.id!.split(':')[1]) + 1);
    expect(b.events.some((e) => e.event === 'state')).toBe(false);

    const c = await open({ ...auth(), 'last-event-id': '999:1' }); // another run's id
    await c.waitFor((e) => e.event === 'state', 'snapshot for an unknown id');
  });
});

describe('live updates: heartbeats, limits, slow clients, shutdown', () => {
  let t: TestGateway;
  let port: number;
  const clients: SseClient[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    const live = createLivePlugin({ pingIntervalMs: 100, healthIntervalMs: 150, maxClients: 2, maxBufferedBytes: 64 * 1024 });
    t = await startTestGateway((s) => s, { apiPlugins: [live] });
    port = t.gw.ports().http;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const s of sockets) s.destroy();
    await t.close();
    removeDir(t.dir);
  });

  it('sends ": ping" comments and health events on their intervals', async () => {
    const c = await SseClient.open(port, auth());
    clients.push(c);
    await until(() => c.comments.filter((x) => x === 'ping').length >= 2, 5000, 'two pings');
    const h = await c.waitFor((e) => e.event === 'health', 'health event');
    expect(h.data).toMatchObject({ total: 5, byState: { UP: 0, DEGRADED: 0, DOWN: 0, UNKNOWN: 5 } });
  });

  it('refuses streams beyond maxClients with 503 CE_LIVE_TOO_MANY_CLIENTS and Retry-After', async () => {
    const second = await SseClient.open(port, auth());
    clients.push(second);
    expect(second.status).toBe(200);
    const third = await SseClient.open(port, auth());
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(JSON.parse(third.bodyText).error.code).toBe('CE_LIVE_TOO_MANY_CLIENTS');
    expect(metric((await t.get('/metrics')).body, 'ce_live_clients_dropped_total{reason="limit"}')).toBe(1);
    expect(metric((await t.get('/metrics')).body, 'ce_live_clients')).toBe(2);
    // A closed stream frees its place.
    second.close();
    await until(async () => metric((await t.get('/metrics')).body, 'ce_live_clients') === 1, 3000, 'slot freed');
  });

  it('drops a client that stops reading instead of buffering without bound', async () => {
    for (const c of clients) c.close();
    await until(async () => metric((await t.get('/metrics')).body, 'ce_live_clients') === 0, 3000, 'no clients');
    // A client that sends its request and then never reads (a stalled phone).
    const s = tcpConnect({ host: '127.0.0.1', port });
    sockets.push(s);
    await new Promise<void>((r) => s.once('connect', () => r()));
    let received = 0;
    let closed = false;
    s.on('data', (d: Buffer) => (received += d.length));
    s.on('close', () => (closed = true));
    s.on('error', () => undefined);
    s.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKENS.viewer}\r\nAccept: text/event-stream\r\n\r\n`);
    await until(async () => metric((await t.get('/metrics')).body, 'ce_live_clients') === 1, 3000, 'slow client connected');
    await until(() => received > 0, 3000, 'headers and snapshot');
    s.pause();
    // Synthetic transitions straight into the tracker's emitter: thousands of
    // them, far faster than any commune produces, to fill the socket buffers.
    const reason = 'x'.repeat(4000);
    let emitted = 0;
    const dropped = async () => metric((await t.get('/metrics')).body, 'ce_live_clients_dropped_total{reason="slow"}') === 1;
    while (!(await dropped()) && emitted < 20_000) {
      for (let i = 0; i < 200; i++, emitted++) {
        t.gw.ctx.health.emit('transition', { deviceId: 'cam-1', ts: Date.now(), from: 'UP', to: 'DOWN', reason, runId: t.gw.ctx.runId });
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(await dropped()).toBe(true);
    expect(metric((await t.get('/metrics')).body, 'ce_live_clients')).toBe(0);
    s.resume();
    await until(() => closed, 5000, 'socket closed by the gateway');
  });

  it('ends open streams on shutdown, so the gateway stops at once', async () => {
    const c = await SseClient.open(port, auth());
    await c.waitFor((e) => e.event === 'state', 'snapshot');
    // The stream must end when shutdown begins (preClose), not when the server
    // gives up on it. (fetch's connection pool may keep a spare idle socket open
    // for its own 4 s keep-alive: that is the client's, so the close is not timed.)
    const closing = t.close();
    await until(() => c.ended, 2000, 'stream ended at shutdown');
    await closing;
  });
});

describe('registering the plugins twice (buildGateway wires them, a test adds them again)', () => {
  it('keeps one route and applies the later options', async () => {
    const t = await startTestGateway((s) => s, {
      apiPlugins: [livePlugin, createLivePlugin({ pingIntervalMs: 50 }), dashboardPlugin, dashboardPlugin, historyPlugin, historyPlugin],
    });
    try {
      const c = await SseClient.open(t.gw.ports().http, auth());
      await until(() => c.comments.length >= 2, 3000, 'pings at the later interval');
      c.close();
      expect((await t.get('/api/session')).status).toBe(200);
      expect((await t.get('/api/devices/loa-01/timeline')).status).toBe(200);
    } finally {
      await t.close();
      removeDir(t.dir);
    }
  });
});
