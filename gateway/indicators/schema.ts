/**
 * The IndicatorReport (types.ts) as a zod schema: the API's response schema (and so
 * its OpenAPI document). Compile-time guards below fail tsc when types.ts and this
 * schema drift apart, key for key.
 */
import { z } from 'zod';
import type { Breakdown, DeviceBreakdown, IndicatorReport, IndicatorResult, Period } from './types.js';

export const LabelSchema = z.object({ vi: z.string(), en: z.string() });
export const MethodSchema = z.enum(['time-weighted', 'count-at-end', 'count-in-period', 'events', 'mean-duration', 'completeness']);
export const TargetSchema = z.object({ op: z.enum(['>=', '<=']), value: z.number() });

export const PeriodSchema = z.object({
  id: z.string().describe('2026-05-14, 2026-05, 2026-Q2, 2026-H1, 2026 or 2026-01-01..2026-03-31'),
  kind: z.enum(['day', 'month', 'quarter', 'half', 'year', 'custom']),
  from: z.number().describe('Epoch ms, inclusive: 00:00 of the first day in `timezone`'),
  to: z.number().describe('Epoch ms, exclusive: 00:00 of the day after the last day'),
  timezone: z.string(),
});

const breakdownShape = {
  id: z.string(),
  name: z.string(),
  value: z.number().nullable(),
  numerator: z.number(),
  denominator: z.number(),
  coverage: z.number().nullable().describe('Share of its time with a known state (0..1); null where not time-based'),
};

export const BreakdownSchema = z.object(breakdownShape);

export const DeviceBreakdownSchema = z.object({
  ...breakdownShape,
  kind: z.string(),
  role: z.string().optional(),
  hamlet: z.string(),
  upMs: z.number(),
  degradedMs: z.number(),
  downMs: z.number(),
  unknownMs: z.number(),
  maintenanceMs: z.number(),
  incidents: z.number(),
  mttrMin: z.number().nullable(),
});

export const IndicatorResultSchema = z.object({
  id: z.string(),
  name: LabelSchema,
  unit: LabelSchema,
  method: MethodSchema,
  value: z.number().nullable().describe('numerator / denominator in the unit (× 100 for %); null when the denominator is 0'),
  numerator: z.number(),
  denominator: z.number(),
  target: TargetSchema.nullable(),
  status: z.enum(['DAT', 'CHUA_DAT', 'KHONG_DU_DU_LIEU']).describe('Đạt / Chưa đạt / Không đủ dữ liệu'),
  coverage: z.number().nullable().describe('Data coverage 0..1'),
  responsibleUnit: z.string(),
  cooperatingUnit: z.string().optional(),
  byHamlet: z.array(BreakdownSchema),
  byDevice: z.array(DeviceBreakdownSchema),
  detail: z.record(z.string(), z.unknown()).optional(),
});

export const IndicatorReportSchema = z.object({
  commune: z.object({ code: z.string(), name: z.string(), province: z.object({ code: z.string(), name: z.string() }) }),
  gatewayId: z.string(),
  period: PeriodSchema,
  generatedAt: z.string().describe('ISO 8601 with the commune offset'),
  gatewayCoverage: z.number().describe('Share of the period (so far) the gateway itself was running'),
  partial: z.boolean().describe('The period is not over: figures cover [from, generatedAt)'),
  indicators: z.array(IndicatorResultSchema),
});

// Compile-time guards: the engine's output fits the schema, and the schema has no key the contract lacks.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
const fits = {
  report: (r: IndicatorReport): z.input<typeof IndicatorReportSchema> => r,
  result: (r: IndicatorResult): z.input<typeof IndicatorResultSchema> => r,
  device: (d: DeviceBreakdown): z.input<typeof DeviceBreakdownSchema> => d,
  breakdown: (b: Breakdown): z.input<typeof BreakdownSchema> => b,
  period: (p: Period): z.input<typeof PeriodSchema> => p,
};
const sameKeys: [
  SameKeys<IndicatorReport, z.input<typeof IndicatorReportSchema>>,
  SameKeys<IndicatorResult, z.input<typeof IndicatorResultSchema>>,
  SameKeys<DeviceBreakdown, z.input<typeof DeviceBreakdownSchema>>,
  SameKeys<Breakdown, z.input<typeof BreakdownSchema>>,
  SameKeys<Period, z.input<typeof PeriodSchema>>,
] = [true, true, true, true, true];
void fits;
void sameKeys;
