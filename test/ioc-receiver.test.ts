/**
 * The reference IOC receiver: every check in its order (token, timestamp,
 * signature over the bytes as sent, JSON, schema, commune, idempotency), gzip and
 * its limits, and the province view re-aggregated from numerators and
 * denominators. Requests go through fastify inject() (the whole request path:
 * hooks, body parsing, handlers) against a receiver with real SQLite files.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { buildEnvelope, indicatorsBody, type EnvelopeHeader } from '../gateway/uplink/envelope.js';
import { startIocReceiver, type IocReceiver, type IocReceiverOptions } from '../gateway/uplink/receiver.js';
import { sign } from '../gateway/uplink/signature.js';
import { reportFor } from './integration/ioc-helpers.js';

const KEY = 'receiver-test-key';
const TOKEN = 'receiver-test-token';
const open: { r: IocReceiver; dir: string }[] = [];
afterEach(async () => {
  for (const { r, dir } of open.splice(0)) {
    await r.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function receiver(extra: Partial<IocReceiverOptions> = {}): Promise<{ r: IocReceiver; dir: string }> {
  const dir = extra.dataDir ?? mkdtempSync(join(tmpdir(), 'ce-ioc-recv-'));
  const r = await startIocReceiver({ shared: { token: TOKEN, hmacKey: KEY }, ...extra, dataDir: dir });
  const h = { r, dir };
  open.push(h);
  return h;
}

let seq = 0;
function header(code = '12345', generatedAt = '2026-05-14T08:00:00.000+07:00'): EnvelopeHeader {
  return {
    feedId: '0f8b6c1e-2d4a-4f5b-9c3d-7e8f9a0b1c2d',
    messageId: randomUUID(),
    seq: ++seq,
    generatedAt,
    gatewayId: 'gw-01',
    commune: { code, name: `Xã ${code}`, province: { code: '75', name: 'Đồng Nai' } },
  };
}

function statusEnvelope(code = '12345', generatedAt?: string, down = 0) {
  return buildEnvelope('status', header(code, generatedAt), {
    trigger: 'periodic',
    total: 2,
    counts: { UP: 2 - down, DEGRADED: 0, DOWN: down, UNKNOWN: 0 },
    hamlets: [{ id: 'ap-01', name: 'Ấp 1' }],
    devices: [
      { id: 'loa-01', name: 'Loa 1', kind: 'loudspeaker', role: 'hamlet', hamlet: 'ap-01', state: down ? 'DOWN' : 'UP', since: '2026-05-14T07:00:00.000+07:00', reason: 'ok', lastSeen: null },
      { id: 'loa-02', name: 'Loa 2', kind: 'loudspeaker', role: 'hamlet', hamlet: 'ap-01', state: 'UP', since: '2026-05-14T07:00:00.000+07:00', reason: 'ok', lastSeen: null },
    ],
  });
}

interface PostOpts {
  token?: string | null;
  key?: string;
  ts?: number | null;
  gzip?: boolean;
  idempotencyKey?: string | null;
  signature?: string;
  contentType?: string;
  contentEncoding?: string;
  wire?: Buffer;
}

async function post(r: IocReceiver, envelope: Record<string, unknown> | string, o: PostOpts = {}) {
  const json = Buffer.from(typeof envelope === 'string' ? envelope : JSON.stringify(envelope), 'utf8');
  const wire = o.wire ?? (o.gzip ? gzipSync(json) : json);
  const ts = o.ts === undefined ? Math.floor(Date.now() / 1000) : o.ts;
  const headers: Record<string, string> = { 'content-type': o.contentType ?? 'application/json' };
  if (o.token !== null) headers['authorization'] = `Bearer ${o.token ?? TOKEN}`;
  if (ts !== null) headers['x-ce-timestamp'] = String(ts);
  headers['x-ce-signature'] = o.signature ?? sign(o.key ?? KEY, ts ?? 0, wire);
  const id = o.idempotencyKey === undefined ? (typeof envelope === 'string' ? undefined : (envelope['messageId'] as string)) : o.idempotencyKey;
  if (id) headers['idempotency-key'] = id;
  if (o.gzip || o.contentEncoding) headers['content-encoding'] = o.contentEncoding ?? 'gzip';
  const res = await r.app.inject({ method: 'POST', url: '/v1/messages', headers, payload: wire });
  return { status: res.statusCode, json: res.json() as { status?: string; error?: { code: string; message: string } }, headers: res.headers };
}

describe('IOC reference receiver: POST /v1/messages', () => {
  it('stores a signed message once; the same message again is answered from the idempotency store', async () => {
    const { r } = await receiver();
    const env = statusEnvelope();
    const first = await post(r, env);
    expect(first.status).toBe(200);
    expect(first.json.status).toBe('stored');
    const again = await post(r, env);
    expect(again.status).toBe(200);
    expect(again.json.status).toBe('duplicate');
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(r.messages('12345').length).toBe(1);
    expect(r.stats()).toMatchObject({ stored: 1, duplicates: 1, received: 2 });
    // Same messageId, different body: a conflict, not a replay.
    const changed = { ...env, body: { ...(env['body'] as object), trigger: 'change' } };
    const conflict = await post(r, changed);
    expect([conflict.status, conflict.json.error?.code]).toEqual([422, 'CE_IOC_IDEMPOTENCY_CONFLICT']);
  });

  it('refuses a missing or unknown token (401) and a timestamp outside the window (401)', async () => {
    const { r } = await receiver({ clockSkewS: 60 });
    const env = statusEnvelope();
    expect((await post(r, env, { token: null })).json.error?.code).toBe('CE_IOC_TOKEN');
    const bad = await post(r, env, { token: 'nope' });
    expect([bad.status, bad.json.error?.code]).toEqual([401, 'CE_IOC_TOKEN']);
    const stale = await post(r, env, { ts: Math.floor(Date.now() / 1000) - 3600 });
    expect([stale.status, stale.json.error?.code]).toEqual([401, 'CE_IOC_TIMESTAMP']);
    expect(stale.json.error?.message).toContain('±60 s');
    expect((await post(r, env, { ts: Math.floor(Date.now() / 1000) + 3600 })).json.error?.code).toBe('CE_IOC_TIMESTAMP');
    expect((await post(r, env, { ts: null })).json.error?.code).toBe('CE_IOC_TIMESTAMP');
    expect(r.messages('12345')).toEqual([]);
  });

  it('refuses a signature made with another key, over another body, another timestamp, or missing', async () => {
    const { r } = await receiver();
    const env = statusEnvelope();
    const wrongKey = await post(r, env, { key: 'another-key' });
    expect([wrongKey.status, wrongKey.json.error?.code]).toEqual([401, 'CE_IOC_SIGNATURE']);
    const json = Buffer.from(JSON.stringify(env));
    const tampered = Buffer.from(JSON.stringify({ ...env, gatewayId: 'gw-evil' }));
    expect((await post(r, env, { wire: tampered, signature: sign(KEY, Math.floor(Date.now() / 1000), json) })).json.error?.code).toBe('CE_IOC_SIGNATURE');
    const ts = Math.floor(Date.now() / 1000);
    expect((await post(r, env, { ts, signature: sign(KEY, ts - 1, json) })).json.error?.code).toBe('CE_IOC_SIGNATURE');
    expect((await post(r, env, { signature: '' })).json.error?.code).toBe('CE_IOC_SIGNATURE');
    expect(r.messages('12345')).toEqual([]);
  });

  it('refuses what is not JSON, not UTF-8, or not the schema (400, with the path)', async () => {
    const { r } = await receiver();
    const notJson = await post(r, '{"schema": ', { idempotencyKey: randomUUID() });
    expect([notJson.status, notJson.json.error?.code]).toEqual([400, 'CE_IOC_JSON']);
    const latin1 = await post(r, 'x', { wire: Buffer.from([0x7b, 0x22, 0xe0, 0x22, 0x7d]), idempotencyKey: randomUUID() });
    expect(latin1.json.error?.code).toBe('CE_IOC_JSON');
    const report = reportFor('2026-05');
    report.indicators[0]!.coverage = 1.5;
    const bad = await post(r, buildEnvelope('indicators', header(), indicatorsBody(report)));
    expect([bad.status, bad.json.error?.code]).toEqual([400, 'CE_IOC_SCHEMA']);
    expect(bad.json.error?.message).toContain('body.indicators[0].coverage');
    expect(readdirSync(join(open[0]!.dir))).toEqual([]); // nothing stored, no commune file made
  });

  it('requires Idempotency-Key = messageId', async () => {
    const { r } = await receiver();
    const env = statusEnvelope();
    expect((await post(r, env, { idempotencyKey: null })).json.error?.code).toBe('CE_IOC_IDEMPOTENCY_KEY');
    const other = await post(r, env, { idempotencyKey: randomUUID() });
    expect([other.status, other.json.error?.code]).toEqual([400, 'CE_IOC_IDEMPOTENCY_KEY']);
  });

  it('with per-commune credentials, a token is valid only for its own commune (403)', async () => {
    const { r } = await receiver({ shared: undefined, communes: { '11111': { token: 'tok-a', hmacKey: 'key-a' }, '22222': { token: 'tok-b', hmacKey: 'key-b' } } });
    expect((await post(r, statusEnvelope('11111'), { token: 'tok-a', key: 'key-a' })).status).toBe(200);
    const cross = await post(r, statusEnvelope('22222'), { token: 'tok-a', key: 'key-a' });
    expect([cross.status, cross.json.error?.code]).toEqual([403, 'CE_IOC_COMMUNE_FORBIDDEN']);
    // Commune B's token with commune A's key: the signature fails.
    expect((await post(r, statusEnvelope('22222'), { token: 'tok-b', key: 'key-a' })).json.error?.code).toBe('CE_IOC_SIGNATURE');
    expect(r.messages('22222')).toEqual([]);
  });

  it('gzip: the signature covers the compressed bytes; bad gzip, gzip bombs, big bodies and other encodings are refused', async () => {
    const { r } = await receiver({ maxBodyBytes: 64 * 1024 });
    const env = buildEnvelope('indicators', header(), indicatorsBody(reportFor('2026-05', { devices: 40 })));
    expect((await post(r, env, { gzip: true })).status).toBe(200);
    // Signed over the JSON instead of the bytes sent: refused.
    const env2 = statusEnvelope();
    const json2 = Buffer.from(JSON.stringify(env2));
    const ts = Math.floor(Date.now() / 1000);
    expect((await post(r, env2, { gzip: true, ts, signature: sign(KEY, ts, json2) })).json.error?.code).toBe('CE_IOC_SIGNATURE');
    const notGzip = await post(r, env2, { contentEncoding: 'gzip', wire: json2 });
    expect([notGzip.status, notGzip.json.error?.code]).toEqual([400, 'CE_IOC_JSON']);
    // 10 MB of spaces compress to ~10 KB: refused once decoded past the limit.
    const bomb = gzipSync(Buffer.concat([json2.subarray(0, -1), Buffer.alloc(10 * 1024 * 1024, 0x20), Buffer.from('}')]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const boom = await post(r, env2, { wire: bomb, contentEncoding: 'gzip' });
    expect([boom.status, boom.json.error?.code]).toEqual([413, 'CE_IOC_TOO_LARGE']);
    const big = await post(r, env2, { wire: Buffer.concat([json2, Buffer.alloc(70 * 1024, 0x20)]) });
    expect([big.status, big.json.error?.code]).toEqual([413, 'CE_IOC_TOO_LARGE']);
    expect((await post(r, env2, { contentEncoding: 'br' })).json.error?.code).toBe('CE_IOC_CONTENT_TYPE');
    const text = await post(r, env2, { contentType: 'text/plain' });
    expect([text.status, text.json.error?.code]).toEqual([415, 'CE_IOC_CONTENT_TYPE']);
    expect(r.messages('12345').length).toBe(1);
  });
});

describe('IOC reference receiver: read side', () => {
  it('re-aggregates a period across communes by summing numerators and denominators', async () => {
    const { r } = await receiver();
    // A: 10 loudspeakers up 90 %; B: 30 up 50 %; C reports another period only.
    const a = reportFor('2026-05-14', { commune: '11111', devices: 10, upShare: 0.9 });
    const b = reportFor('2026-05-14', { commune: '22222', devices: 30, upShare: 0.5 });
    const c = reportFor('2026-05-13', { commune: '33333', devices: 5, upShare: 1 });
    expect((await post(r, buildEnvelope('indicators', header('11111'), indicatorsBody(a)))).status).toBe(200);
    expect((await post(r, buildEnvelope('indicators', header('22222'), indicatorsBody(b)))).status).toBe(200);
    expect((await post(r, buildEnvelope('indicators', header('33333'), indicatorsBody(c)))).status).toBe(200);
    const res = await r.app.inject({ url: '/province/indicators?period=2026-05-14' });
    expect(res.statusCode).toBe(200);
    const p = res.json();
    expect(p.communes).toEqual({ reporting: 2, missing: ['33333'] });
    const ind = p.indicators[0];
    expect(ind.id).toBe('loudspeaker_availability');
    const day = 86_400_000;
    expect(ind.numerator).toBe(10 * 0.9 * day + 30 * 0.5 * day);
    expect(ind.denominator).toBe(40 * day);
    // (9 + 15) / 40 = 60 %, not the mean of 90 % and 50 %.
    expect(ind.value).toBeCloseTo(60, 9);
    expect(ind.target).toEqual({ op: '>=', value: 95 });
    expect(ind.status).toBe('CHUA_DAT');
    expect(ind.communes.map((c: { code: string; value: number }) => [c.code, Math.round(c.value)])).toEqual([
      ['11111', 90],
      ['22222', 50],
    ]);
    expect((await r.app.inject({ url: '/province/indicators' })).statusCode).toBe(400);
  });

  it('keeps the newest report of a period and the newest status, whatever the arrival order', async () => {
    const { r } = await receiver();
    const newer = reportFor('2026-05', { upShare: 0.8 });
    const older = reportFor('2026-05', { upShare: 0.3 });
    await post(r, buildEnvelope('indicators', header('12345', '2026-05-14T09:00:00.000+07:00'), indicatorsBody(newer)));
    await post(r, buildEnvelope('indicators', header('12345', '2026-05-14T08:00:00.000+07:00'), indicatorsBody(older)));
    const p = (await r.app.inject({ url: '/province/indicators?period=2026-05' })).json();
    expect(p.indicators[0].value).toBeCloseTo(80, 9);
    await post(r, statusEnvelope('12345', '2026-05-14T09:00:00.000+07:00', 1));
    await post(r, statusEnvelope('12345', '2026-05-14T08:00:00.000+07:00', 0));
    const st = (await r.app.inject({ url: '/communes/12345/status' })).json();
    expect(st.status.counts.DOWN).toBe(1);
    expect(st.status.generatedAt).toBe('2026-05-14T09:00:00.000+07:00');
    const communes = (await r.app.inject({ url: '/communes' })).json();
    expect(communes.communes).toHaveLength(1);
    expect(communes.communes[0]).toMatchObject({ code: '12345', name: 'Xã 12345', messages: 4, status: { counts: { DOWN: 1 } } });
    // seq went up by one per message: no gaps, nothing out of order on this feed.
    expect(communes.communes[0].feeds[0]).toMatchObject({ gaps: 0, outOfOrder: 0 });
    expect((await r.app.inject({ url: '/communes/99999/status' })).json().error.code).toBe('CE_NOT_FOUND');
  });

  it('reopens the commune files after a restart; the read token protects the GET routes', async () => {
    const first = await receiver();
    const env = statusEnvelope();
    await post(first.r, env);
    await first.r.close();
    open.splice(open.indexOf(first), 1);
    const second = await receiver({ dataDir: first.dir, readToken: 'reader' });
    expect((await post(second.r, env)).json.status).toBe('duplicate');
    expect((await second.r.app.inject({ url: '/communes' })).statusCode).toBe(401);
    const ok = await second.r.app.inject({ url: '/communes', headers: { authorization: 'Bearer reader' } });
    expect(ok.json().communes.map((c: { code: string }) => c.code)).toEqual(['12345']);
  });
});
