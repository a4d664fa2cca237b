/**
 * API routes of the IOC feed, for the commune IT officer:
 *   GET /api/ioc/outbox   queue depth, oldest age, last success, last error, MQTT uplink
 *   GET /api/ioc/parked   messages the receiver rejected as invalid, with its reason
 * Registered by buildApi (plugins) so the auth hook, the error handler and the
 * OpenAPI docs cover them.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import type { IocFeed } from './feed.js';
import { MESSAGE_TYPES } from './envelope.js';

const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody };
const TypeEnum = z.enum(MESSAGE_TYPES);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const OutboxOut = z.object({
  url: z.string().describe('Receiver endpoint (no credentials)'),
  feedId: z.string(),
  connected: z.boolean().describe('The last attempt got a 2xx (or a rejection: the receiver answered)'),
  depth: z.number().describe('Messages waiting'),
  bytes: z.number().describe('Their stored (compressed) size'),
  byType: z.object({ indicators: z.number(), status: z.number(), event: z.number() }),
  oldestAgeS: z.number().nullable(),
  lastSeq: z.number().describe('seq of the newest message produced'),
  lastSuccessAt: z.string().nullable(),
  lastAttemptAt: z.string().nullable(),
  lastError: z.string().nullable(),
  lastErrorCode: z.string().nullable(),
  lastErrorAt: z.string().nullable(),
  consecutiveFailures: z.number(),
  nextAttemptAt: z.string().nullable().describe('When the head is retried (during a backoff)'),
  head: z.object({ seq: z.number(), type: TypeEnum, attempts: z.number(), createdAt: z.string() }).nullable(),
  parked: z.number().describe('Parked messages kept'),
  sinceStart: z.object({ enqueued: z.number(), delivered: z.number(), parked: z.number(), evicted: z.number(), retries: z.number() }),
  mqtt: z
    .object({ url: z.string(), connected: z.boolean(), published: z.number(), lastError: z.string().nullable(), connects: z.number() })
    .nullable(),
});

const ParkedOut = z.object({
  total: z.number(),
  messages: z.array(
    z.object({
      seq: z.number(),
      messageId: z.string(),
      type: TypeEnum,
      createdAt: z.string(),
      parkedAt: z.string(),
      httpStatus: z.number(),
      reason: z.string().describe("The receiver's answer, e.g. 400 CE_IOC_SCHEMA: … body.indicators[0].coverage: …"),
      attempts: z.number(),
      bytes: z.number(),
      envelope: z.unknown().optional().describe('The message as sent (with ?body=true)'),
    }),
  ),
});

export function registerIocRoutes(app: FastifyInstance, deps: { feed: IocFeed }): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { feed } = deps;

  r.get(
    '/api/ioc/outbox',
    { config: { role: 'officer' }, schema: { summary: 'IOC feed: outbox depth, oldest message, last success and last error', response: { 200: OutboxOut, ...errors } } },
    async () => {
      const s = feed.outboxStatus();
      return {
        ...s,
        lastSuccessAt: iso(s.lastSuccessAt),
        lastAttemptAt: iso(s.lastAttemptAt),
        lastErrorAt: iso(s.lastErrorAt),
        nextAttemptAt: iso(s.nextAttemptAt),
        head: s.head ? { ...s.head, createdAt: iso(s.head.createdAt)! } : null,
      };
    },
  );

  r.get(
    '/api/ioc/parked',
    {
      config: { role: 'officer' },
      schema: {
        summary: 'IOC feed: messages the receiver rejected as invalid (4xx), newest first, with its reason; they are not retried',
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          body: z
            .enum(['true', 'false'])
            .default('false')
            .transform((v) => v === 'true')
            .describe('Include each message as sent'),
        }),
        response: { 200: ParkedOut, ...errors },
      },
    },
    async (req) => {
      const parked = feed.parked(req.query.limit);
      return {
        total: feed.outboxStatus().parked,
        messages: parked.map((p) => ({
          seq: p.seq,
          messageId: p.messageId,
          type: p.type,
          createdAt: iso(p.createdAt)!,
          parkedAt: iso(p.parkedAt)!,
          httpStatus: p.httpStatus,
          reason: p.reason,
          attempts: p.attempts,
          bytes: p.bytes,
          ...(req.query.body ? { envelope: JSON.parse((p.encoding === 'gzip' ? gunzipSync(p.body) : p.body).toString('utf8')) as unknown } : {}),
        })),
      };
    },
  );
}
