/**
 * API routes of the indicators (viewer role):
 *
 *   GET /api/indicators?period=2026-H1[&devices=false]   → IndicatorReport (default: the current month)
 *   GET /api/indicators/definitions                      → every indicator, with the target and units in force
 *
 * The lead registers them inside buildApi (gateway/api/server.ts, `plugins`), so the
 * auth hook, the coded-error handler and the OpenAPI document cover them.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Histogram } from 'prom-client';
import { z } from 'zod';
import type { GatewayContext } from '../context.js';
import { DEFINITIONS } from './definitions.js';
import { computeIndicators, targetFor } from './engine.js';
import { parsePeriod, periodAt, PERIOD_FORMS } from './periods.js';
import { IndicatorReportSchema, LabelSchema, MethodSchema, TargetSchema } from './schema.js';

const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).describe('Coded error (docs/errors.md)');
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody };

const DefinitionOut = z.object({
  id: z.string(),
  name: LabelSchema,
  unit: LabelSchema,
  method: MethodSchema,
  defaultTarget: TargetSchema.nullable(),
  target: TargetSchema.nullable().describe('In force: indicators.targets overrides defaultTarget'),
  responsibleUnit: z.string(),
  cooperatingUnit: z.string().optional(),
  kinds: z.array(z.object({ kind: z.string(), roles: z.array(z.string()).optional() })),
  description: LabelSchema,
});

export function registerIndicatorRoutes(app: FastifyInstance, opts: { ctx: GatewayContext }): void {
  const { ctx } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
  const computeSeconds = new Histogram({
    name: 'ce_indicators_compute_seconds',
    help: 'Time to compute one indicator report (GET /api/indicators), by period kind',
    labelNames: ['period'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [ctx.metrics.registry],
  });

  r.get(
    '/api/indicators',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Infrastructure indicators of one period (docs/indicators.md)',
        querystring: z.object({
          period: z.string().max(40).optional().describe(`${PERIOD_FORMS}; default: the current month (commune.timezone)`),
          devices: z.enum(['true', 'false']).default('true').describe('false: leave out the per-device breakdowns (smaller answer)'),
        }),
        response: { 200: IndicatorReportSchema, ...errors },
      },
    },
    async (req) => {
      const tz = ctx.settings.commune.timezone;
      const now = ctx.clock.now();
      const period = req.query.period === undefined ? periodAt('month', now, tz) : parsePeriod(req.query.period, tz);
      const stop = computeSeconds.startTimer({ period: period.kind });
      const report = await computeIndicators({ settings: ctx.settings, store: ctx.store, inventory: ctx.inventory, now }, period);
      stop();
      if (req.query.devices === 'false') for (const i of report.indicators) i.byDevice = [];
      return report;
    },
  );

  r.get(
    '/api/indicators/definitions',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'The indicators: names, units, method, targets and responsible units in force',
        response: { 200: z.object({ definitions: z.array(DefinitionOut) }), ...errors },
      },
    },
    async () => ({
      definitions: DEFINITIONS.map((d) => {
        const cooperating = ctx.settings.indicators.cooperatingUnits[d.id] ?? d.cooperatingUnit;
        return {
          id: d.id,
          name: d.name,
          unit: d.unit,
          method: d.method,
          defaultTarget: d.defaultTarget,
          target: targetFor(d, ctx.settings),
          responsibleUnit: ctx.settings.indicators.responsibleUnits[d.id] ?? d.responsibleUnit,
          ...(cooperating === undefined ? {} : { cooperatingUnit: cooperating }),
          kinds: d.kinds.map((k) => (k.roles ? { kind: k.kind, roles: k.roles } : { kind: k.kind })),
          description: d.description,
        };
      }),
    }),
  );
}

/** The same, in the shape of gateway/api/server.ts `ApiPlugin` ((app, ctx) => …). */
export const indicatorsApiPlugin = (app: FastifyInstance, ctx: GatewayContext): void => registerIndicatorRoutes(app, { ctx });
