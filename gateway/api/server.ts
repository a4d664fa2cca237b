/**
 * HTTP API (fastify + zod type provider). Read-only in this issue; every route is
 * described by zod schemas, which also produce the OpenAPI document at /docs.
 * Bearer tokens carry a role: viewer < officer < admin.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEVICE_STATES, type DeviceState } from '../../devices/define.js';
import { KIND_IDS, kindById } from '../../devices/registry.js';
import type { GatewayContext, Source } from '../context.js';
import { hashToken } from '../credentials.js';
import { CodedError, ERRORS, type ErrorCode } from '../errors.js';
import type { DeviceStatus } from '../health/tracker.js';
import type { InventoryDevice } from '../pipeline/inventory.js';
import type { Forwarder } from '../sinks/forwarder.js';
import { diskWrittenBytes } from '../store/disk.js';
import type { ApiRole } from '../settings/schema.js';

const ROLE_RANK: Record<ApiRole, number> = { viewer: 1, officer: 2, admin: 3 };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Minimum role; undefined = public. */
    role?: ApiRole;
  }
  interface FastifyRequest {
    role?: ApiRole;
    tokenName?: string;
  }
}

export interface ApiOptions {
  ctx: GatewayContext;
  sources: Source[];
  forwarders: Forwarder[];
  startedAt: number;
  /** Tokens not in config (the demo's printed viewer token), already hashed. */
  extraTokens: { name: string; role: ApiRole; tokenHash: string }[];
  demo: boolean;
  /**
   * Route modules of other parts (indicators, IOC outbox, reports, dashboard),
   * registered on the root instance after the core routes, so the auth hook,
   * the error handler and the OpenAPI docs cover them.
   */
  plugins?: ApiPlugin[];
}

/** A route module: adds its routes to the API (use `config: { role }` for auth). */
export type ApiPlugin = (app: FastifyInstance, ctx: GatewayContext) => Promise<void> | void;

const StateEnum = z.enum(DEVICE_STATES as [DeviceState, ...DeviceState[]]);
const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).describe('Coded error (docs/errors.md)');
const FieldValue = z.union([z.number(), z.boolean(), z.string()]);

const ReadingOut = z.object({
  ts: z.string().describe('ISO-8601 time of the measurement'),
  tsSource: z.enum(['device', 'gateway', 'restamped']),
  receivedAt: z.string(),
  quality: z.enum(['good', 'uncertain']),
  fields: z.record(z.string(), FieldValue),
});

const DeviceOut = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.string(),
  kindLabel: z.object({ vi: z.string(), en: z.string() }),
  hamlet: z.string(),
  role: z.string().nullable(),
  state: StateEnum,
  since: z.string(),
  reason: z.string(),
  lastSeen: z.string().nullable(),
});

const TransitionOut = z.object({ ts: z.string(), from: StateEnum.nullable(), to: StateEnum, reason: z.string() });

const DeviceDetail = DeviceOut.extend({
  heartbeatS: z.number(),
  timeoutS: z.number(),
  topics: z.object({ telemetry: z.string(), status: z.string().nullable() }),
  lastReading: ReadingOut.nullable(),
  transitions: z.array(TransitionOut),
});

const Counts = z.object({ UP: z.number(), DEGRADED: z.number(), DOWN: z.number(), UNKNOWN: z.number() });

const HealthOut = z.object({
  status: z.enum(['ok', 'degraded']),
  demo: z.boolean(),
  time: z.string(),
  gateway: z.object({
    id: z.string(),
    version: z.string(),
    startedAt: z.string(),
    uptimeS: z.number(),
    commune: z.object({ code: z.string(), name: z.string() }),
  }),
  devices: z.object({ total: z.number(), byState: Counts }),
  inputs: z.array(z.object({ name: z.string(), connected: z.boolean(), detail: z.string().optional(), clients: z.number().optional() })),
  sinks: z.array(
    z.object({
      id: z.string(),
      type: z.string(),
      connected: z.boolean(),
      lastSuccessAt: z.string().nullable(),
      lastError: z.string().nullable(),
      backlogPoints: z.number(),
      backlogBytes: z.number(),
      oldestBacklogAgeS: z.number().nullable(),
      retries: z.number(),
      quarantined: z.number(),
      catchingUp: z.boolean(),
      pointsWritten: z.number(),
    }),
  ),
  clock: z.object({
    state: z.enum(['ok', 'behind-last-known-good']),
    now: z.string(),
    lastKnownGood: z.string().nullable(),
    restampedReadings: z.number(),
  }),
  store: z.object({
    writtenBytesPerDay: z.number().nullable().describe('Bytes this process wrote to storage per day, extrapolated since start'),
    evictedUndelivered: z.record(z.string(), z.number()),
    fileBytes: z.number(),
    usedBytes: z.number(),
    maxBytes: z.number(),
    readings: z.number(),
    evictedReadings: z.record(z.string(), z.number()),
    commitErrors: z.number(),
  }),
});

const iso = (ms: number) => new Date(ms).toISOString();

function deviceOut(d: InventoryDevice, s: DeviceStatus | undefined) {
  return {
    id: d.id,
    name: d.name,
    kind: d.kind.id,
    kindLabel: d.kind.label,
    hamlet: d.hamlet,
    role: d.role ?? null,
    state: s?.state ?? 'UNKNOWN',
    since: iso(s?.since ?? 0),
    reason: s?.reason ?? 'never-seen',
    lastSeen: s?.lastSeen ? iso(s.lastSeen) : null,
  };
}

export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const { ctx } = opts;
  const tokens = new Map<string, { name: string; role: ApiRole }>();
  for (const t of [...ctx.settings.api.tokens, ...opts.extraTokens]) tokens.set(t.tokenHash, { name: t.name, role: t.role });

  const app = Fastify({
    // Requests are not logged one by one (a Pi's SD card); errors are.
    loggerInstance: ctx.log.child({ part: 'api' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    // Stop promptly: idle keep-alive sockets (a browser's, fetch's pool) would hold close() for seconds.
    forceCloseConnections: true,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, req, reply) => {
    if (err instanceof CodedError) return sendError(reply, err.code, err.detail);
    if (err.validation) return sendError(reply, 'CE_BAD_REQUEST', err.message);
    if (err.statusCode && err.statusCode < 500) return sendError(reply, 'CE_BAD_REQUEST', err.message);
    req.log.error({ err, reqId: req.id }, 'request failed');
    return sendError(reply, 'CE_INTERNAL', `request id ${req.id}`);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 'CE_NOT_FOUND', `${req.method} ${req.url}`));

  app.addHook('onRequest', async (req: FastifyRequest) => {
    const need = req.routeOptions.config.role;
    if (!need) return;
    const header = req.headers.authorization;
    if (!header) throw new CodedError('CE_AUTH_REQUIRED', 'send "Authorization: Bearer <token>"');
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const holder = m ? tokens.get(hashToken(m[1]!)) : undefined;
    if (!holder) throw new CodedError('CE_AUTH_INVALID');
    if (ROLE_RANK[holder.role] < ROLE_RANK[need]) throw new CodedError('CE_FORBIDDEN', `needs role ${need}, token has ${holder.role}`);
    req.role = holder.role;
    req.tokenName = holder.name;
  });

  if (ctx.settings.api.docs) {
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'commune-edge API',
          description: 'Device states, hamlets and metrics of a commune gateway. Errors: docs/errors.md.',
          version: ctx.version,
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
      transform: jsonSchemaTransform,
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  }

  const r = app.withTypeProvider<ZodTypeProvider>();
  const errors = { 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 400: ErrorBody };

  r.get(
    '/api/health',
    { schema: { summary: 'Gateway status and device counts by state (no token needed)', security: [], response: { 200: HealthOut } } },
    async () => {
      const now = ctx.clock.now();
      const inputs = opts.sources.map((s) => s.status());
      const byState = ctx.health.countsByState();
      const sinks = opts.forwarders.map((f) => {
        const st = f.status();
        return { ...st, lastSuccessAt: st.lastSuccessAt === null ? null : iso(st.lastSuccessAt) };
      });
      const clockState = ctx.clockGuard.status();
      const degraded =
        inputs.some((i) => !i.connected) || sinks.some((k) => !k.connected) || ctx.store.stats.commitErrors > 0 || clockState.state !== 'ok';
      const written = diskWrittenBytes();
      const upS = (now - opts.startedAt) / 1000;
      return {
        status: degraded ? ('degraded' as const) : ('ok' as const),
        demo: opts.demo,
        time: iso(now),
        gateway: {
          id: ctx.settings.gateway.id,
          version: ctx.version,
          startedAt: iso(opts.startedAt),
          uptimeS: Math.round((now - opts.startedAt) / 1000),
          commune: { code: ctx.settings.commune.code, name: ctx.settings.commune.name },
        },
        devices: { total: ctx.inventory.devices.size, byState },
        inputs,
        sinks,
        clock: {
          state: clockState.state,
          now: iso(now),
          lastKnownGood: clockState.lastKnownGood === null ? null : iso(clockState.lastKnownGood),
          restampedReadings: clockState.restamped,
        },
        store: {
          writtenBytesPerDay: written === null || upS < 60 ? null : Math.round((written / upS) * 86_400),
          evictedUndelivered: ctx.store.evictedUndelivered(),
          fileBytes: ctx.store.fileBytes(),
          usedBytes: ctx.store.usedBytes(),
          maxBytes: ctx.settings.store.maxBytes,
          readings: ctx.store.readingCount(),
          evictedReadings: ctx.store.evictionTotals(),
          commitErrors: ctx.store.stats.commitErrors,
        },
      };
    },
  );

  r.get(
    '/api/devices',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Devices with their current state',
        querystring: z.object({
          kind: z.enum(KIND_IDS).optional(),
          hamlet: z.string().optional(),
          state: StateEnum.optional(),
          role: z.string().optional(),
        }),
        response: { 200: z.object({ devices: z.array(DeviceOut) }), ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      if (q.hamlet && !ctx.settings.hamlets.some((h) => h.id === q.hamlet)) throw new CodedError('CE_NOT_FOUND', `hamlet ${q.hamlet}`);
      const devices = [];
      for (const d of ctx.inventory.devices.values()) {
        if (q.kind && d.kind.id !== q.kind) continue;
        if (q.hamlet && d.hamlet !== q.hamlet) continue;
        if (q.role && d.role !== q.role) continue;
        const s = ctx.health.get(d.id);
        if (q.state && (s?.state ?? 'UNKNOWN') !== q.state) continue;
        devices.push(deviceOut(d, s));
      }
      return { devices };
    },
  );

  r.get(
    '/api/devices/:id',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'One device: state, last reading, recent transitions',
        params: z.object({ id: z.string() }),
        querystring: z.object({ transitions: z.coerce.number().int().min(0).max(1000).default(50) }),
        response: { 200: DeviceDetail, ...errors },
      },
    },
    async (req) => {
      const d = ctx.inventory.devices.get(req.params.id);
      if (!d) throw new CodedError('CE_NOT_FOUND', `device ${req.params.id}`);
      const s = ctx.health.get(d.id);
      const last = s?.lastReading ?? null;
      return {
        ...deviceOut(d, s),
        heartbeatS: d.heartbeatS,
        timeoutS: d.timeoutMs / 1000,
        topics: { telemetry: d.telemetryTopic, status: d.statusTopic },
        lastReading: last
          ? { ts: iso(last.ts), tsSource: last.tsSource, receivedAt: iso(last.receivedAt), quality: last.quality, fields: last.fields }
          : null,
        transitions: ctx.store
          .recentTransitions(d.id, req.query.transitions)
          .map((t) => ({ ts: iso(t.ts), from: t.from, to: t.to, reason: t.reason })),
      };
    },
  );

  r.get(
    '/api/hamlets',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Hamlets with their devices and states',
        response: {
          200: z.object({
            hamlets: z.array(
              z.object({
                id: z.string(),
                name: z.string(),
                byState: Counts,
                byKind: z.record(z.string(), Counts),
                devices: z.array(z.object({ id: z.string(), name: z.string(), kind: z.string(), state: StateEnum })),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async () => {
      const zero = () => ({ UP: 0, DEGRADED: 0, DOWN: 0, UNKNOWN: 0 });
      const hamlets = ctx.settings.hamlets.map((h) => ({
        id: h.id,
        name: h.name,
        byState: zero(),
        byKind: {} as Record<string, ReturnType<typeof zero>>,
        devices: [] as { id: string; name: string; kind: string; state: DeviceState }[],
      }));
      const byId = new Map(hamlets.map((h) => [h.id, h]));
      for (const d of ctx.inventory.devices.values()) {
        const h = byId.get(d.hamlet);
        if (!h) continue;
        const state = ctx.health.get(d.id)?.state ?? 'UNKNOWN';
        h.byState[state]++;
        (h.byKind[d.kind.id] ??= zero())[state]++;
        h.devices.push({ id: d.id, name: d.name, kind: d.kind.id, state });
      }
      return { hamlets };
    },
  );

  r.get(
    '/api/kinds',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Device kinds with their fields (labels in Vietnamese and English)',
        response: {
          200: z.object({
            kinds: z.array(
              z.object({
                id: z.string(),
                label: z.object({ vi: z.string(), en: z.string() }),
                roles: z.array(z.string()),
                heartbeatS: z.number(),
                fields: z.array(
                  z.object({ name: z.string(), type: z.string(), unit: z.string().optional(), label: z.object({ vi: z.string(), en: z.string() }) }),
                ),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async () => ({
      kinds: KIND_IDS.map((id) => kindById(id)!).map((k) => ({
        id: k.id,
        label: k.label,
        roles: [...k.roles],
        heartbeatS: k.heartbeatS,
        fields: k.fields.map((f) => (f.unit ? { name: f.name, type: f.type, unit: f.unit, label: f.label } : { name: f.name, type: f.type, label: f.label })),
      })),
    }),
  );

  r.get(
    '/api/rejects',
    {
      config: { role: 'officer' },
      schema: {
        summary: 'Recently rejected messages and connections, newest first',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
        response: {
          200: z.object({
            rejects: z.array(z.object({ ts: z.string(), code: z.string(), client: z.string().nullable(), topic: z.string().nullable(), detail: z.string() })),
          }),
          ...errors,
        },
      },
    },
    async (req) => ({ rejects: ctx.store.recentRejects(req.query.limit).map((j) => ({ ...j, ts: iso(j.ts) })) }),
  );

  r.get(
    '/api/sinks/:id/quarantine',
    {
      config: { role: 'officer' },
      schema: {
        summary: 'Points a sink rejected as bad (4xx), newest first, with the reason; they are not retried',
        params: z.object({ id: z.string() }),
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
        response: {
          200: z.object({
            sink: z.string(),
            total: z.number(),
            points: z.array(z.object({ rowId: z.number(), stream: z.string(), quarantinedAt: z.string(), reason: z.string(), point: z.unknown() })),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const f = opts.forwarders.find((x) => x.sink.id === req.params.id);
      if (!f) throw new CodedError('CE_NOT_FOUND', `sink ${req.params.id}`);
      return {
        sink: f.sink.id,
        total: ctx.store.quarantineCount(f.sink.id),
        points: ctx.store.quarantined(f.sink.id, req.query.limit).map((q) => ({
          rowId: q.rowId,
          stream: q.stream,
          quarantinedAt: iso(q.ts),
          reason: q.reason,
          point: JSON.parse(q.point) as unknown,
        })),
      };
    },
  );

  r.get(
    '/api/errors',
    {
      schema: {
        summary: 'The CE_* error codes and their meaning',
        security: [],
        response: { 200: z.object({ errors: z.array(z.object({ code: z.string(), status: z.number(), message: z.string() })) }) },
      },
    },
    async () => ({ errors: Object.entries(ERRORS).map(([code, e]) => ({ code, status: e.status, message: e.message })) }),
  );

  r.get(
    '/metrics',
    {
      config: ctx.settings.api.metricsRequireToken ? { role: 'viewer' } : {},
      schema: { summary: 'Prometheus metrics (text exposition format)', hide: false },
    },
    async (_req, reply) => {
      updateGauges(opts);
      reply.type(ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    },
  );

  for (const plugin of opts.plugins ?? []) await plugin(app, ctx);
  return app;
}

function updateGauges(opts: ApiOptions): void {
  const { ctx } = opts;
  const m = ctx.metrics;
  m.storeBytes.set(ctx.store.fileBytes());
  m.storeUsedBytes.set(ctx.store.usedBytes());
  m.storeReadings.set(ctx.store.readingCount());
  m.brokerClients.set(opts.sources.reduce((n, s) => n + (s.status().clients ?? 0), 0));
  const counts = ctx.health.countsByState();
  for (const [state, n] of Object.entries(counts)) m.devices.set({ state }, n);
  for (const f of opts.forwarders) {
    const st = f.status();
    m.sinkConnected.set({ sink: st.id }, st.connected ? 1 : 0);
    m.sinkBacklog.set({ sink: st.id }, st.backlogPoints);
    m.sinkBacklogAge.set({ sink: st.id }, st.oldestBacklogAgeS ?? 0);
    if (st.lastSuccessAt !== null) m.sinkLastSuccess.set({ sink: st.id }, st.lastSuccessAt / 1000);
  }
  for (const [kind, n] of Object.entries(ctx.store.evictedUndelivered())) m.evictedUndelivered.set({ kind }, n);
  const written = diskWrittenBytes();
  if (written !== null) m.diskWritten.set(written);
}

function sendError(reply: FastifyReply, code: ErrorCode, detail?: string) {
  const e = ERRORS[code];
  return reply.status(e.status).send({ error: { code, message: detail ? `${e.message}: ${detail}` : e.message } });
}

