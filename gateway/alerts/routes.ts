/**
 * Alert routes: what is open now (viewer), acknowledging an alert (officer: stops
 * its repeats), and the notice outbox with send errors (officer).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CodedError } from '../errors.js';
import type { AlertEngine } from './engine.js';

const Subject = z.object({ type: z.enum(['device', 'hamlet', 'gateway']), id: z.string(), name: z.string(), hamlet: z.string().optional() });
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function registerAlertRoutes(app: FastifyInstance, engine: AlertEngine): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/api/alerts',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Open alerts: conditions that hold now (firing = a notice went out)',
        response: {
          200: z.object({
            alerts: z.array(
              z.object({
                key: z.string(),
                ruleId: z.string(),
                severity: z.enum(['warning', 'critical']),
                subject: Subject,
                since: z.string(),
                firing: z.boolean(),
                detail: z.string(),
                ackedBy: z.string().nullable(),
              }),
            ),
          }),
        },
      },
    },
    async () => ({ alerts: engine.activeAlerts().map((a) => ({ ...a, since: iso(a.since)! })) }),
  );

  r.post(
    '/api/alerts/:key/ack',
    {
      config: { role: 'officer' },
      schema: {
        summary: 'Acknowledge an open alert: no more repeats (the recovery notice still goes out)',
        params: z.object({ key: z.string().min(1).max(200) }),
        response: { 200: z.object({ key: z.string(), ackedBy: z.string() }) },
      },
    },
    async (req) => {
      const by = req.tokenName ?? 'officer';
      if (!engine.acknowledge(req.params.key, by)) throw new CodedError('CE_NOT_FOUND', `no open alert ${req.params.key}`);
      return { key: req.params.key, ackedBy: by };
    },
  );

  r.get(
    '/api/alerts/outbox',
    {
      config: { role: 'officer' },
      schema: {
        summary: 'Alert notices, newest first: sent, waiting for a retry (with the error), or parked (refused by the channel)',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
        response: {
          200: z.object({
            notices: z.array(
              z.object({
                id: z.number(),
                channel: z.string(),
                key: z.string(),
                phase: z.string(),
                attempts: z.number(),
                lastError: z.string().nullable(),
                sentAt: z.string().nullable(),
                parked: z.boolean(),
                createdAt: z.string(),
              }),
            ),
          }),
        },
      },
    },
    async (req) => ({ notices: engine.outbox(req.query.limit).map((n) => ({ ...n, sentAt: iso(n.sentAt), createdAt: iso(n.createdAt)! })) }),
  );
}
