/**
 * Live updates for the dashboard: `GET /api/events` as Server-Sent Events
 * (HTML Living Standard §9.2, "Server-sent events"; media type text/event-stream).
 *
 *   retry: 3000                      reconnection delay the client should use
 *   event: state                     full snapshot: on connect, and when a resume is impossible
 *   id: <run>:<seq> / event: transition   one device state change (ctx.health 'transition')
 *   event: health                    counts by state, every `healthIntervalMs`
 *   : ping                           comment line every `pingIntervalMs`, so proxies and
 *                                    NAT boxes on a rural uplink keep the connection open
 *
 * The dashboard reads it with `fetch()` and a ReadableStream reader instead of
 * `EventSource`, because EventSource cannot send the `Authorization: Bearer`
 * header. `Last-Event-ID` (§9.2.4) resumes: transitions the client missed are
 * replayed from a ring buffer when they are still there (same gateway run);
 * otherwise it gets a fresh `state` snapshot.
 *
 * Memory is bounded on a Pi: at most `maxClients` streams (503
 * CE_LIVE_TOO_MANY_CLIENTS beyond), and a client whose socket does not drain
 * (more than `maxBufferedBytes` waiting in the kernel and Node buffers) is
 * disconnected instead of being buffered for without limit; it reconnects and
 * resumes.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import { Counter, Gauge } from 'prom-client';
import type { DeviceState } from '../../devices/define.js';
import type { GatewayContext } from '../context.js';
import { CodedError } from '../errors.js';
import type { Transition } from '../store/store.js';
import type { ApiPlugin } from './server.js';

export interface LiveOptions {
  /** Concurrent event streams; a Pi serves a handful of office PCs and phones. */
  maxClients: number;
  /** Bytes allowed to wait unsent for one client before it is dropped as too slow. */
  maxBufferedBytes: number;
  /** Comment heartbeat (`: ping`); 15 s stays under the 30–60 s idle timeouts of common proxies. */
  pingIntervalMs: number;
  /** `event: health` (counts by state). */
  healthIntervalMs: number;
  /** Transitions kept for `Last-Event-ID` resume. */
  replayBuffer: number;
  /** `retry:` field: how long the browser waits before reconnecting. */
  retryMs: number;
}

export const LIVE_DEFAULTS: LiveOptions = {
  maxClients: 32,
  maxBufferedBytes: 256 * 1024,
  pingIntervalMs: 15_000,
  healthIntervalMs: 10_000,
  replayBuffer: 512,
  retryMs: 3000,
};

/** A transition as the dashboard receives it: the device's identity travels with it. */
export interface LiveTransition {
  deviceId: string;
  name: string | null;
  kind: string | null;
  hamlet: string | null;
  role: string | null;
  ts: string;
  from: DeviceState | null;
  to: DeviceState;
  reason: string;
}

interface Client {
  res: ServerResponse;
  closed: boolean;
}

interface Buffered {
  seq: number;
  frame: string;
}

/** Per API instance: how to change the options of the live route already registered there. */
const registered = new WeakMap<FastifyInstance, (options: Partial<LiveOptions>) => void>();

/**
 * The live route with these options. Registering it on an API that already has
 * it (buildGateway's own, then a test's) changes the options of the one there
 * instead of adding a second route.
 */
export function createLivePlugin(options: Partial<LiveOptions> = {}): ApiPlugin {
  return (app: FastifyInstance, ctx: GatewayContext) => {
    const reconfigure = registered.get(app);
    if (reconfigure) return reconfigure(options);
    registered.set(app, registerLive(app, ctx, { ...LIVE_DEFAULTS, ...options }));
  };
}

/** The plugin with the defaults, for `buildGateway(..., { apiPlugins: [livePlugin] })`. */
export const livePlugin: ApiPlugin = createLivePlugin();

function registerLive(app: FastifyInstance, ctx: GatewayContext, opts: LiveOptions): (options: Partial<LiveOptions>) => void {
  const registry = ctx.metrics.registry;
  const clientsGauge = new Gauge({ name: 'ce_live_clients', help: 'Open live-update streams (GET /api/events)', registers: [registry] });
  const eventsSent = new Counter({
    name: 'ce_live_events_sent_total',
    help: 'Server-sent events written to live-update clients, by event type',
    labelNames: ['event'] as const,
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'ce_live_clients_dropped_total',
    help: 'Live-update clients refused or disconnected by the gateway, by reason (limit: too many clients; slow: buffer full)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });

  const clients = new Set<Client>();
  const ring: Buffered[] = [];
  let seq = 0;
  const runId = ctx.runId;

  const drop = (c: Client, reason: 'slow') => {
    if (c.closed) return;
    dropped.inc({ reason });
    ctx.log.warn({ code: 'CE_LIVE_SLOW_CLIENT', buffered: c.res.writableLength, limit: opts.maxBufferedBytes }, 'live-update client too slow: disconnected');
    close(c, true);
  };

  const close = (c: Client, destroy: boolean) => {
    if (c.closed) return;
    c.closed = true;
    clients.delete(c);
    clientsGauge.set(clients.size);
    if (destroy) c.res.destroy();
    else c.res.end();
  };

  /** Write one frame; a client that cannot keep up is dropped, never buffered for without limit. */
  const write = (c: Client, frame: string, event: string) => {
    if (c.closed) return;
    // A frame always goes out when nothing is waiting (a snapshot of a large
    // commune may alone exceed the budget); otherwise the budget holds.
    const waiting = c.res.writableLength;
    if (waiting > 0 && waiting + Buffer.byteLength(frame) > opts.maxBufferedBytes) return drop(c, 'slow');
    c.res.write(frame);
    if (event) eventsSent.inc({ event });
  };

  const broadcast = (frame: string, event: string) => {
    for (const c of clients) write(c, frame, event);
  };

  const onTransition = (t: Transition) => {
    seq++;
    const frame = `id: ${runId}:${seq}\nevent: transition\ndata: ${JSON.stringify(liveTransition(ctx, t))}\n\n`;
    ring.push({ seq, frame });
    if (ring.length > opts.replayBuffer) ring.shift();
    broadcast(frame, 'transition');
  };
  // One listener for all clients (not one per client: HealthTracker is an
  // EventEmitter and each listener costs every transition a call).
  ctx.health.on('transition', onTransition);

  let ping: NodeJS.Timeout | null = null;
  let health: NodeJS.Timeout | null = null;
  const startTimers = () => {
    if (ping) clearInterval(ping);
    if (health) clearInterval(health);
    ping = setInterval(() => broadcast(': ping\n\n', ''), opts.pingIntervalMs).unref();
    health = setInterval(() => {
      if (clients.size) broadcast(`event: health\ndata: ${JSON.stringify(healthSummary(ctx))}\n\n`, 'health');
    }, opts.healthIntervalMs).unref();
  };
  startTimers();

  // fastify.close() waits for open connections: end the streams first (preClose
  // runs before the server stops accepting and waits).
  app.addHook('preClose', async () => {
    for (const c of [...clients]) close(c, false);
  });
  app.addHook('onClose', async () => {
    if (ping) clearInterval(ping);
    if (health) clearInterval(health);
    ping = health = null;
    ctx.health.off('transition', onTransition);
  });

  app.get(
    '/api/events',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Live updates (text/event-stream): transition, state and health events, `: ping` every 15 s; Last-Event-ID resumes',
        produces: ['text/event-stream'],
      },
    },
    async (req, reply: FastifyReply) => {
      if (clients.size >= opts.maxClients) {
        dropped.inc({ reason: 'limit' });
        void reply.header('retry-after', String(Math.ceil(opts.retryMs / 1000) * 10));
        throw new CodedError('CE_LIVE_TOO_MANY_CLIENTS', `${clients.size} open, limit ${opts.maxClients}`);
      }
      const res = reply.raw;
      reply.hijack();
      // The stream is the whole life of this connection: when it ends (shutdown,
      // a dropped client) the socket closes too, instead of lingering as an idle
      // keep-alive connection that server.close() would wait for.
      res.shouldKeepAlive = false;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // nginx in front of the gateway must not buffer the stream.
        'x-accel-buffering': 'no',
      });
      // Events go out as soon as they happen: no Nagle delay on small frames.
      res.socket?.setNoDelay(true);
      const c: Client = { res, closed: false };
      clients.add(c);
      clientsGauge.set(clients.size);
      res.on('close', () => close(c, false));
      res.on('error', () => close(c, true));

      write(c, `retry: ${opts.retryMs}\n\n`, '');
      const resumeFrom = parseLastEventId(req.headers['last-event-id'], runId);
      const oldest = ring[0]?.seq ?? seq + 1;
      if (resumeFrom !== null && resumeFrom <= seq && resumeFrom >= oldest - 1) {
        // §9.2.4: the client saw everything up to resumeFrom; send what followed.
        // Nothing is written when nothing was missed (resumeFrom === seq).
        for (const b of ring) if (b.seq > resumeFrom) write(c, b.frame, 'transition');
      } else {
        // The id tells the client where this snapshot stands in the sequence.
        write(c, `id: ${runId}:${seq}\nevent: state\ndata: ${JSON.stringify(stateSnapshot(ctx))}\n\n`, 'state');
      }
      return reply;
    },
  );

  return (options) => {
    Object.assign(opts, options);
    startTimers();
  };
}

/** `<runId>:<seq>` of this run, else null (another run's ids mean nothing now). */
function parseLastEventId(header: string | string[] | undefined, runId: number): number | null {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return null;
  const m = /^(\d+):(\d+)$/.exec(v.trim());
  if (!m || Number(m[1]) !== runId) return null;
  return Number(m[2]);
}

export function liveTransition(ctx: GatewayContext, t: Transition): LiveTransition {
  const d = ctx.inventory.devices.get(t.deviceId);
  return {
    deviceId: t.deviceId,
    name: d?.name ?? null,
    kind: d?.kind.id ?? null,
    hamlet: d?.hamlet ?? null,
    role: d?.role ?? null,
    ts: new Date(t.ts).toISOString(),
    from: t.from,
    to: t.to,
    reason: t.reason,
  };
}

function healthSummary(ctx: GatewayContext) {
  return { time: new Date(ctx.clock.now()).toISOString(), total: ctx.inventory.devices.size, byState: ctx.health.countsByState() };
}

function stateSnapshot(ctx: GatewayContext) {
  const devices = [];
  for (const s of ctx.health.all()) {
    devices.push({
      id: s.deviceId,
      state: s.state,
      since: new Date(s.since).toISOString(),
      reason: s.reason,
      lastSeen: s.lastSeen === null ? null : new Date(s.lastSeen).toISOString(),
    });
  }
  return { ...healthSummary(ctx), devices };
}
