/**
 * The IOC feed envelope: zod schemas, the published JSON Schema
 * (docs/ioc-feed.schema.json, regenerate with CE_UPDATE_IOC_SCHEMA=1), the
 * signature (a vector computed independently with `openssl dgst -sha256 -hmac`,
 * and the worked example of docs/ioc-feed.md), and the time helpers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// ajv is fastify's own validator (a dependency of fastify): a standard JSON Schema
// 2020-12 validator, to prove the published schema works outside zod.
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import {
  buildEnvelope,
  describeIssues,
  indicatorsBody,
  IocEnvelopeSchema,
  iocFeedJsonSchema,
  IOC_SCHEMA_ID,
  type EnvelopeHeader,
} from '../gateway/uplink/envelope.js';
import { sign, signatureMatches, verify } from '../gateway/uplink/signature.js';
import { isoWithOffset, periodIdAt } from '../gateway/uplink/time.js';
import { reportFor } from './integration/ioc-helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const header: EnvelopeHeader = {
  feedId: '0f8b6c1e-2d4a-4f5b-9c3d-7e8f9a0b1c2d',
  messageId: '5a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  seq: 42,
  generatedAt: '2026-05-14T08:00:00.000+07:00',
  gatewayId: 'gw-01',
  commune: { code: '26734', name: 'Xã Tà Lài', province: { code: '75', name: 'Đồng Nai' } },
};

const statusBody = {
  trigger: 'periodic' as const,
  total: 1,
  counts: { UP: 0, DEGRADED: 0, DOWN: 1, UNKNOWN: 0 },
  hamlets: [{ id: 'ap-01', name: 'Ấp 1' }],
  devices: [
    {
      id: 'loa-01',
      name: 'Cụm loa ấp 1',
      kind: 'loudspeaker',
      role: null,
      hamlet: 'ap-01',
      state: 'DOWN' as const,
      since: '2026-05-14T07:42:10.000+07:00',
      reason: 'heartbeat-timeout',
      lastSeen: '2026-05-14T07:39:10.000+07:00',
    },
  ],
};
const eventBody = {
  event: 'down' as const,
  device: { id: 'loa-01', name: 'Cụm loa ấp 1', kind: 'loudspeaker', role: null, hamlet: 'ap-01' },
  from: 'UP' as const,
  to: 'DOWN' as const,
  at: '2026-05-14T07:42:10.000+07:00',
  reason: 'heartbeat-timeout',
};

function issuesOf(value: unknown): string {
  const r = IocEnvelopeSchema.safeParse(value);
  return r.success ? '' : describeIssues(r.error.issues);
}

describe('IOC envelope schema', () => {
  it('accepts the three message types as the feed builds them', () => {
    for (const env of [
      buildEnvelope('status', header, statusBody),
      buildEnvelope('event', header, eventBody),
      buildEnvelope('indicators', header, indicatorsBody(reportFor('2026-H1', { devices: 12 }))),
    ]) {
      const r = IocEnvelopeSchema.safeParse(JSON.parse(JSON.stringify(env)));
      expect(r.success, describeIssues(r.success ? [] : r.error.issues)).toBe(true);
    }
  });

  it('refuses bad headers and bodies with the path of the problem', () => {
    const ok = buildEnvelope('event', header, eventBody);
    expect(issuesOf({ ...ok, schema: 'https://commune-edge.vn/schemas/ioc-feed/v2' })).toMatch(/^schema:/);
    expect(issuesOf({ ...ok, version: '2.0' })).toMatch(/^version: must be 1\.<minor>/);
    expect(issuesOf({ ...ok, commune: { ...header.commune, code: '2673' } })).toMatch(/^commune\.code: must be the 5-digit/);
    expect(issuesOf({ ...ok, seq: 0 })).toMatch(/^seq:/);
    expect(issuesOf({ ...ok, messageId: 'not-a-uuid' })).toMatch(/^messageId:/);
    expect(issuesOf({ ...ok, generatedAt: '2026-05-14 08:00' })).toMatch(/^generatedAt:/);
    expect(issuesOf({ ...ok, type: 'alarm' })).toMatch(/^type:/);
    expect(issuesOf({ ...ok, body: { ...eventBody, to: 'BROKEN' } })).toMatch(/^body\.to:/);
    // An event body under type "status" is not a status.
    expect(issuesOf({ ...ok, type: 'status' })).toMatch(/^body\./);
    // A NaN from an engine bug serialises as null: refused where a number is required.
    const report = reportFor('2026-05');
    report.indicators[0]!.byDevice[2]!.numerator = Number.NaN;
    report.indicators[0]!.coverage = 1.5;
    const bad = JSON.parse(JSON.stringify(buildEnvelope('indicators', header, indicatorsBody(report))));
    const msg = issuesOf(bad);
    expect(msg).toContain('body.indicators[0].coverage');
    expect(msg).toContain('body.indicators[0].byDevice[2].numerator');
  });

  it('accepts unknown fields (forward compatibility within v1) and strips them on parse', () => {
    const env = { ...buildEnvelope('event', header, eventBody), newField: 1, body: { ...eventBody, note: 'x' } };
    const r = IocEnvelopeSchema.parse(env);
    expect(r).not.toHaveProperty('newField');
    expect(r.body).not.toHaveProperty('note');
    expect(r.version).toBe('1.0');
  });

  it('docs/ioc-feed.schema.json is the JSON Schema generated from the zod schemas (regenerate: CE_UPDATE_IOC_SCHEMA=1)', () => {
    const path = join(ROOT, 'docs', 'ioc-feed.schema.json');
    const generated = iocFeedJsonSchema();
    if (process.env['CE_UPDATE_IOC_SCHEMA']) writeFileSync(path, JSON.stringify(generated, null, 2) + '\n');
    const checkedIn = JSON.parse(readFileSync(path, 'utf8'));
    expect(checkedIn).toEqual(generated);
    expect(checkedIn.$id).toBe(`${IOC_SCHEMA_ID}/envelope.schema.json`);
  });

  it('the published JSON Schema validates with a standard 2020-12 validator like the zod schema does', () => {
    const ajv = new Ajv2020.default({ allErrors: true, strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(iocFeedJsonSchema());
    const good = JSON.parse(JSON.stringify(buildEnvelope('indicators', header, indicatorsBody(reportFor('2026-05')))));
    expect(validate(good), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(JSON.parse(JSON.stringify(buildEnvelope('status', header, statusBody))))).toBe(true);
    const bad = structuredClone(good);
    bad.body.indicators[0].coverage = 1.5;
    expect(validate(bad)).toBe(false);
    expect(validate({ ...good, commune: { ...good.commune, code: '1' } })).toBe(false);
    expect(validate({ ...good, extra: true })).toBe(true);
  });
});

describe('IOC signature', () => {
  it('matches an independently computed vector (openssl dgst -sha256 -hmac)', () => {
    // printf '%s' '1778720400.{"hello":"xã"}' | openssl dgst -sha256 -hmac 'ce-example-key-2026'
    const expected = 'sha256=bd2e033e6658f3c9a42416070bf0ef3379562345ff8bed2238f937c293c6dd83';
    expect(sign('ce-example-key-2026', 1778720400, Buffer.from('{"hello":"xã"}', 'utf8'))).toBe(expected);
    expect(verify('ce-example-key-2026', '1778720400', '{"hello":"xã"}', expected)).toBe(true);
  });

  it('fails on any change of key, timestamp or body, and on malformed headers', () => {
    const body = Buffer.from('{"a":1}');
    const s = sign('k', 100, body);
    expect(verify('k2', 100, body, s)).toBe(false);
    expect(verify('k', 101, body, s)).toBe(false);
    expect(verify('k', 100, Buffer.from('{"a":2}'), s)).toBe(false);
    expect(verify('k', 100, body, s.toUpperCase())).toBe(false);
    expect(verify('k', 100, body, s.slice('sha256='.length))).toBe(false);
    expect(signatureMatches(undefined, 'ab')).toBe(false);
    expect(signatureMatches('sha256=abcd', 'ab')).toBe(false);
  });

  it('the worked example of docs/ioc-feed.md is right', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'ioc-feed.md'), 'utf8');
    const body = /^BODY='(.+)'$/m.exec(doc)?.[1];
    const ts = /^TS=(\d+)$/m.exec(doc)?.[1];
    const key = /^KEY='(.+)'$/m.exec(doc)?.[1];
    const sig = /^X-CE-Signature: (sha256=[0-9a-f]{64})$/m.exec(doc)?.[1];
    expect(body && ts && key && sig, 'the example (BODY=, TS=, KEY=, X-CE-Signature:) is missing from docs/ioc-feed.md').toBeTruthy();
    expect(sign(key!, ts!, Buffer.from(body!, 'utf8'))).toBe(sig);
    // The example body is itself a valid envelope.
    expect(issuesOf(JSON.parse(body!))).toBe('');
  });
});

describe('IOC time helpers (Asia/Ho_Chi_Minh)', () => {
  const TZ = 'Asia/Ho_Chi_Minh';
  it('writes ISO 8601 with the +07:00 offset', () => {
    expect(isoWithOffset(Date.parse('2026-05-14T01:00:00.123Z'), TZ)).toBe('2026-05-14T08:00:00.123+07:00');
    expect(isoWithOffset(Date.parse('2026-12-31T17:00:00Z'), TZ)).toBe('2027-01-01T00:00:00.000+07:00');
    expect(isoWithOffset(Date.parse('2026-05-14T01:00:00Z'), 'UTC')).toBe('2026-05-14T01:00:00.000+00:00');
    expect(Date.parse(isoWithOffset(1778720400123, TZ))).toBe(1778720400123);
  });

  it('period ids change at 00:00 +07:00, not at 00:00 UTC', () => {
    const justBefore = Date.parse('2026-06-30T23:59:59.999+07:00');
    const boundary = Date.parse('2026-07-01T00:00:00+07:00');
    expect(periodIdAt(justBefore, 'day', TZ)).toBe('2026-06-30');
    expect(periodIdAt(boundary, 'day', TZ)).toBe('2026-07-01');
    expect(periodIdAt(justBefore, 'month', TZ)).toBe('2026-06');
    expect(periodIdAt(boundary, 'month', TZ)).toBe('2026-07');
    expect(periodIdAt(justBefore, 'quarter', TZ)).toBe('2026-Q2');
    expect(periodIdAt(boundary, 'quarter', TZ)).toBe('2026-Q3');
    expect(periodIdAt(justBefore, 'half', TZ)).toBe('2026-H1');
    expect(periodIdAt(boundary, 'half', TZ)).toBe('2026-H2');
    expect(periodIdAt(Date.parse('2026-12-31T17:00:00Z'), 'year', TZ)).toBe('2027');
    // 2026-06-30T17:00Z is already July 1st in Vietnam.
    expect(periodIdAt(Date.parse('2026-06-30T17:00:00Z'), 'day', TZ)).toBe('2026-07-01');
  });
});
