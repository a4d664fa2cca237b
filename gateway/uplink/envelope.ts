/**
 * The IOC feed envelope, version 1 (docs/ioc-feed.md; JSON Schema generated from
 * these zod schemas into docs/ioc-feed.schema.json, checked by a test).
 *
 * Every message is one JSON object: a common header (schema id and version,
 * type, feed and message ids, sequence number, commune, gateway, time) and a
 * `body` whose shape depends on `type`:
 *   - `indicators`: one period's IndicatorResult[] (gateway/indicators/types.ts)
 *     with numerators, denominators and per-hamlet / per-device breakdowns, so
 *     the province re-aggregates by summing, never by averaging percentages;
 *   - `status`: every device's current state (a snapshot);
 *   - `event`: one device state change (down, up, degraded, unknown).
 *
 * Versioning: `schema` names the major version (…/ioc-feed/v1); `version` is
 * `1.<minor>`. Within v1 only backward-compatible changes happen (new optional
 * fields, new indicator ids, new event kinds are NOT among them: those are
 * enumerated), so receivers must accept `1.x` and ignore unknown fields — the
 * objects below are non-strict for that reason (unknown keys are stripped on
 * parse, and the published JSON Schema allows additional properties).
 */
import { z } from 'zod';
import type { DeviceBreakdown, IndicatorReport, IndicatorResult, Period } from '../indicators/types.js';

export const IOC_SCHEMA_ID = 'https://commune-edge.vn/schemas/ioc-feed/v1';
export const IOC_FEED_VERSION = '1.0';
export const MESSAGE_TYPES = ['indicators', 'status', 'event'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

const DEVICE_STATES = ['UP', 'DEGRADED', 'DOWN', 'UNKNOWN'] as const;
const State = z.enum(DEVICE_STATES);

/** RFC 3339 date-time with an explicit offset; the gateway writes the commune's (+07:00). */
const IsoTime = z.iso.datetime({ offset: true }).describe('RFC 3339 date-time with offset, e.g. 2026-05-14T08:00:00.000+07:00');
const Count = z.number().int().min(0);
/** Finite, non-negative: JSON has no NaN/Infinity, and a NaN from a bug arrives as null and is refused. */
const Amount = z.number().min(0);
const Share = z.number().min(0).max(1);

export const LabelSchema = z.object({ vi: z.string(), en: z.string() }).describe('Vietnamese and English text');

export const PeriodSchema = z
  .object({
    id: z.string().min(1).describe('2026-05-14, 2026-05, 2026-Q2, 2026-H1, 2026, or 2026-01-01..2026-03-31'),
    kind: z.enum(['day', 'month', 'quarter', 'half', 'year', 'custom']),
    from: z.number().int().describe('Epoch ms, inclusive: 00:00 of the first day in `timezone`'),
    to: z.number().int().describe('Epoch ms, exclusive: 00:00 of the day after the last day'),
    timezone: z.string().min(1).describe('IANA zone of the boundaries (Asia/Ho_Chi_Minh)'),
  })
  .describe('The period an indicator report covers');

const TargetSchema = z.object({ op: z.enum(['>=', '<=']), value: z.number() });

const BreakdownFields = {
  id: z.string().min(1),
  name: z.string(),
  value: z.number().nullable(),
  numerator: Amount,
  denominator: Amount,
  coverage: Share.nullable().describe('Share of the period with known state; null where not time-based'),
};

export const BreakdownSchema = z.object(BreakdownFields).describe("One hamlet's part of an indicator");

export const DeviceBreakdownSchema = z
  .object({
    ...BreakdownFields,
    kind: z.string().min(1),
    role: z.string().optional(),
    hamlet: z.string().min(1),
    upMs: Amount,
    degradedMs: Amount,
    downMs: Amount,
    unknownMs: Amount,
    maintenanceMs: Amount,
    incidents: Count,
    mttrMin: Amount.nullable(),
  })
  .describe("One device's part of an indicator, with its time in each state (ms)");

export const IndicatorResultSchema = z
  .object({
    id: z.string().min(1).describe('Stable indicator id, e.g. loudspeaker_availability'),
    name: LabelSchema,
    unit: LabelSchema,
    method: z.enum(['time-weighted', 'count-at-end', 'count-in-period', 'events', 'mean-duration', 'completeness']),
    value: z.number().nullable().describe('numerator / denominator in the unit (× 100 for %); null when the denominator is 0'),
    numerator: Amount,
    denominator: Amount,
    target: TargetSchema.nullable(),
    status: z.enum(['DAT', 'CHUA_DAT', 'KHONG_DU_DU_LIEU']).describe('Đạt / Chưa đạt / Không đủ dữ liệu'),
    coverage: Share.nullable(),
    responsibleUnit: z.string(),
    cooperatingUnit: z.string().optional(),
    byHamlet: z.array(BreakdownSchema),
    byDevice: z.array(DeviceBreakdownSchema),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .describe('One indicator of one commune for one period');

// Compile-time guards: what the indicators engine produces must fit the wire
// schema, key for key (a field added to types.ts without the schema fails tsc).
type Keys<T> = keyof T;
type SameKeys<A, B> = [Exclude<Keys<A>, Keys<B>>, Exclude<Keys<B>, Keys<A>>] extends [never, never] ? true : false;
const fitsResult = (r: IndicatorResult): z.input<typeof IndicatorResultSchema> => r;
const fitsDevice = (d: DeviceBreakdown): z.input<typeof DeviceBreakdownSchema> => d;
const fitsPeriod = (p: Period): z.input<typeof PeriodSchema> => p;
const sameKeys: [
  SameKeys<IndicatorResult, z.input<typeof IndicatorResultSchema>>,
  SameKeys<DeviceBreakdown, z.input<typeof DeviceBreakdownSchema>>,
  SameKeys<Period, z.input<typeof PeriodSchema>>,
] = [true, true, true];
void fitsResult;
void fitsDevice;
void fitsPeriod;
void sameKeys;

export const IndicatorsBodySchema = z
  .object({
    period: PeriodSchema,
    partial: z.boolean().describe('true while the period is not over: figures cover [from, computedAt)'),
    gatewayCoverage: Share.describe('Share of the period (so far) the gateway itself was running'),
    computedAt: IsoTime,
    indicators: z.array(IndicatorResultSchema),
  })
  .describe('type "indicators": the commune\'s indicators for one period');

const DeviceRef = {
  id: z.string().min(1),
  name: z.string(),
  kind: z.string().min(1),
  role: z.string().nullable(),
  hamlet: z.string().min(1),
};

export const DeviceStatusSchema = z.object({
  ...DeviceRef,
  state: State,
  since: IsoTime,
  reason: z.string().describe('heartbeat-timeout, offline, amp-fault, never-seen, ...'),
  lastSeen: IsoTime.nullable(),
});

export const StatusBodySchema = z
  .object({
    trigger: z.enum(['start', 'periodic', 'change']).describe('Why this snapshot was taken'),
    total: Count,
    counts: z.object({ UP: Count, DEGRADED: Count, DOWN: Count, UNKNOWN: Count }),
    hamlets: z.array(z.object({ id: z.string().min(1), name: z.string() })),
    devices: z.array(DeviceStatusSchema),
  })
  .describe('type "status": every device of the commune with its current state');

export const EventBodySchema = z
  .object({
    event: z.enum(['down', 'up', 'degraded', 'unknown']).describe('What happened, from the new state'),
    device: z.object(DeviceRef),
    from: State.nullable(),
    to: State,
    at: IsoTime,
    reason: z.string(),
  })
  .describe('type "event": one device state change');

const headerFields = {
  schema: z.literal(IOC_SCHEMA_ID).describe('Schema id; the major version is part of it'),
  version: z.string().regex(/^1\.\d+$/, 'must be 1.<minor>').describe('1.<minor>: minor versions only add optional fields'),
  feedId: z.uuid().describe("The gateway's feed (stable across restarts); seq counts within it"),
  messageId: z.uuid().describe('Unique per message; the idempotency key (also sent as Idempotency-Key)'),
  seq: z.number().int().min(1).describe('Increases by one per message of the feed; gaps mean parked or evicted messages'),
  generatedAt: IsoTime,
  gatewayId: z.string().min(1).max(64),
  commune: z.object({
    code: z.string().regex(/^\d{5}$/, 'must be the 5-digit administrative unit code (mã ĐVHC)'),
    name: z.string().min(1),
    province: z.object({ code: z.string().regex(/^\d{2}$/, 'must be the 2-digit province code'), name: z.string().min(1) }),
  }),
};

export const IndicatorsEnvelopeSchema = z.object({ ...headerFields, type: z.literal('indicators'), body: IndicatorsBodySchema });
export const StatusEnvelopeSchema = z.object({ ...headerFields, type: z.literal('status'), body: StatusBodySchema });
export const EventEnvelopeSchema = z.object({ ...headerFields, type: z.literal('event'), body: EventBodySchema });

export const IocEnvelopeSchema = z
  .discriminatedUnion('type', [IndicatorsEnvelopeSchema, StatusEnvelopeSchema, EventEnvelopeSchema])
  .describe('One message of the commune-edge IOC feed');

export type IocEnvelope = z.output<typeof IocEnvelopeSchema>;
export type IndicatorsBody = z.input<typeof IndicatorsBodySchema>;
export type StatusBody = z.input<typeof StatusBodySchema>;
export type EventBody = z.input<typeof EventBodySchema>;
export type BodyOf<T extends MessageType> = T extends 'indicators' ? IndicatorsBody : T extends 'status' ? StatusBody : EventBody;

/** The header fields the producer fills in (schema and version are constants). */
export interface EnvelopeHeader {
  feedId: string;
  messageId: string;
  seq: number;
  generatedAt: string;
  gatewayId: string;
  commune: { code: string; name: string; province: { code: string; name: string } };
}

/** The envelope object, keys in the documented order. */
export function buildEnvelope<T extends MessageType>(type: T, header: EnvelopeHeader, body: BodyOf<T>): Record<string, unknown> {
  return {
    schema: IOC_SCHEMA_ID,
    version: IOC_FEED_VERSION,
    type,
    feedId: header.feedId,
    messageId: header.messageId,
    seq: header.seq,
    generatedAt: header.generatedAt,
    gatewayId: header.gatewayId,
    commune: header.commune,
    body,
  };
}

/** The `indicators` body of a report from the engine (commune and gateway go in the header). */
export function indicatorsBody(report: IndicatorReport): IndicatorsBody {
  return {
    period: report.period,
    partial: report.partial,
    gatewayCoverage: report.gatewayCoverage,
    computedAt: report.generatedAt,
    indicators: report.indicators,
  };
}

/** "body.indicators[3].coverage: Too big: expected number to be <=1" for the first few issues. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], max = 5): string {
  return issues
    .slice(0, max)
    .map((i) => `${formatPath(i.path)}: ${i.message}`)
    .join('; ')
    .concat(issues.length > max ? `; … (${issues.length - max} more)` : '');
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

/** docs/ioc-feed.schema.json: the JSON Schema (2020-12) of the envelope, generated from the zod schemas. */
export function iocFeedJsonSchema(): Record<string, unknown> {
  // io: 'input' leaves additionalProperties open (receivers ignore unknown fields within v1).
  const schema = z.toJSONSchema(IocEnvelopeSchema, { io: 'input' }) as Record<string, unknown>;
  return {
    $schema: schema['$schema'],
    $id: `${IOC_SCHEMA_ID}/envelope.schema.json`,
    title: 'commune-edge IOC feed envelope, v1',
    ...schema,
  };
}
