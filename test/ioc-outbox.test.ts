/**
 * The IOC outbox (ordering, durability across reopen, eviction by value,
 * parking), what an HTTP answer means for a message, the backoff, and the
 * `ioc:` settings with their cross-checks.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateSettings } from '../gateway/settings/load.js';
import { backoffDelay, classifyStatus, parseRetryAfter, reasonFrom } from '../gateway/uplink/http.js';
import { Outbox, type OutboxLimits } from '../gateway/uplink/outbox.js';
import { IocSchema } from '../gateway/uplink/settings.js';
import type { MessageType } from '../gateway/uplink/envelope.js';
import { testSettingsInput } from './helpers/gateway.js';

const dirs: string[] = [];
const dbs: Database.Database[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) if (db.open) db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function openDb(path?: string): { db: Database.Database; path: string } {
  const p = path ?? join(mkdtempSync(join(tmpdir(), 'ce-ioc-outbox-')), 'store.db');
  if (!path) dirs.push(join(p, '..'));
  const db = new Database(p);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  dbs.push(db);
  return { db, path: p };
}

const LIMITS: OutboxLimits = { maxMessages: 1000, maxBytes: 10_000_000, maxParked: 100 };
let clock = 1_000_000;

/** Enqueue a message whose body is JSON naming its seq and a padding of `size` bytes. */
function add(o: Outbox, type: MessageType, opts: { key?: string; size?: number } = {}) {
  clock += 1000;
  return o.enqueue(
    type,
    (seq, messageId) => ({ body: Buffer.from(JSON.stringify({ seq, messageId, type, pad: 'x'.repeat(opts.size ?? 10) })), encoding: 'identity' }),
    { coalesceKey: opts.key ?? null, now: clock },
  );
}

const seqsOf = (o: Outbox) => o.all().map((m) => m.seq);
const typesOf = (o: Outbox) => o.all().map((m) => `${m.type}${m.coalesceKey ? `:${m.coalesceKey}` : ''}#${m.seq}`);

describe('IOC outbox', () => {
  it('is a FIFO by seq; the body carries its own seq and messageId', () => {
    const { db } = openDb();
    const o = new Outbox(db, LIMITS);
    const a = add(o, 'status');
    const b = add(o, 'event');
    const c = add(o, 'indicators', { key: 'indicators:2026-05' });
    expect([a.seq, b.seq, c.seq]).toEqual([1, 2, 3]);
    const head = o.head()!;
    expect(head.seq).toBe(1);
    expect(JSON.parse(head.body.toString())).toMatchObject({ seq: 1, messageId: a.messageId });
    o.delivered(1, clock);
    expect(o.head()!.seq).toBe(2);
    expect(o.stats()).toMatchObject({ messages: 2, byType: { status: 0, event: 1, indicators: 1 } });
  });

  it('survives closing and reopening the database: same messages, seq continues, counters rebuilt', () => {
    const { db, path } = openDb();
    const o = new Outbox(db, LIMITS);
    add(o, 'status');
    add(o, 'event');
    o.delivered(1, clock);
    o.failed(2, 'ECONNREFUSED', clock);
    db.close();
    const again = new Outbox(openDb(path).db, LIMITS);
    expect(seqsOf(again)).toEqual([2]);
    expect(again.head()).toMatchObject({ seq: 2, attempts: 1, lastError: 'ECONNREFUSED' });
    expect(add(again, 'status').seq).toBe(3); // a delivered seq is never reused
    expect(again.stats().messages).toBe(2);
    expect(again.getMeta('last_success_at')).not.toBeNull();
  });

  it('when full, evicts older status snapshots first, then events, then superseded reports, then the oldest reports', () => {
    const { db } = openDb();
    const o = new Outbox(db, { ...LIMITS, maxMessages: 6 });
    add(o, 'indicators', { key: 'indicators:2026-05-14' }); // 1
    add(o, 'status'); // 2
    add(o, 'event'); // 3
    add(o, 'indicators', { key: 'indicators:2026-05' }); // 4
    add(o, 'status'); // 5
    add(o, 'event'); // 6
    // Full: a new status evicts the oldest status.
    let r = add(o, 'status'); // 7
    expect(r.evicted.map((e) => e.seq)).toEqual([2]);
    // A new event also pushes out status snapshots first, oldest first (#5, then #7).
    r = add(o, 'event'); // 8
    expect(r.evicted.map((e) => e.seq)).toEqual([5]);
    r = add(o, 'event'); // 9
    expect(r.evicted.map((e) => e.seq)).toEqual([7]);
    // No status left: the oldest event.
    r = add(o, 'event'); // 10
    expect(r.evicted.map((e) => e.seq)).toEqual([3]);
    expect(typesOf(o)).toEqual(['indicators:indicators:2026-05-14#1', 'indicators:indicators:2026-05#4', 'event#6', 'event#8', 'event#9', 'event#10']);
    // A new report of 2026-05-14 supersedes #1, but events are less valuable than
    // any report: the oldest event goes first.
    r = add(o, 'indicators', { key: 'indicators:2026-05-14' }); // 11
    expect(r.evicted.map((e) => e.seq)).toEqual([6]);
    // Only reports and events: fill with reports until the events are gone.
    for (let i = 0; i < 3; i++) add(o, 'indicators', { key: `indicators:2026-0${i + 1}` }); // 12, 13, 14
    expect(o.stats().byType.event).toBe(0);
    expect(typesOf(o)).toEqual([
      'indicators:indicators:2026-05-14#1',
      'indicators:indicators:2026-05#4',
      'indicators:indicators:2026-05-14#11',
      'indicators:indicators:2026-01#12',
      'indicators:indicators:2026-02#13',
      'indicators:indicators:2026-03#14',
    ]);
    // Now a report evicts the superseded #1 before the older-but-current #4.
    r = add(o, 'indicators', { key: 'indicators:2026-04' }); // 15
    expect(r.evicted.map((e) => e.seq)).toEqual([1]);
    // No superseded report left: the oldest report goes.
    r = add(o, 'indicators', { key: 'indicators:2026-06' }); // 16
    expect(r.evicted.map((e) => e.seq)).toEqual([4]);
    // A status cannot push out a report: the new status is dropped instead, and seq is not consumed.
    r = add(o, 'status');
    expect(r.seq).toBeNull();
    expect(r.evicted).toEqual([{ seq: null, type: 'status', bytes: r.bytes, existing: false }]);
    expect(add(o, 'indicators', { key: 'indicators:2026-07' }).seq).toBe(17);
    expect(o.stats().messages).toBe(6);
  });

  it('is bounded in bytes too, and never evicts the message being delivered', () => {
    const { db } = openDb();
    const o = new Outbox(db, { ...LIMITS, maxBytes: 2000 });
    for (let i = 0; i < 4; i++) add(o, 'status', { size: 400 });
    const inFlight = o.head()!;
    expect(inFlight.seq).toBe(1);
    const r = add(o, 'status', { size: 400 }); // needs room: #1 is in flight, so #2 goes
    expect(r.evicted.map((e) => e.seq)).toEqual([2]);
    expect(o.stats().bytes).toBeLessThanOrEqual(2000);
    expect(seqsOf(o)).toEqual([1, 3, 4, 5]);
    // A message larger than the whole bound is dropped.
    expect(add(o, 'indicators', { size: 5000 }).seq).toBeNull();
  });

  it('parks a message with its reason, keeps at most maxParked, and moves on', () => {
    const { db } = openDb();
    const o = new Outbox(db, { ...LIMITS, maxParked: 2 });
    for (let i = 0; i < 4; i++) add(o, 'event');
    for (let i = 0; i < 3; i++) {
      const m = o.head()!;
      o.park(m, 400, `400 CE_IOC_SCHEMA: body.x #${m.seq}`, clock);
    }
    expect(o.head()!.seq).toBe(4);
    const parked = o.parked(10);
    expect(parked.map((p) => p.seq)).toEqual([3, 2]); // newest first, the oldest trimmed
    expect(parked[0]).toMatchObject({ httpStatus: 400, reason: '400 CE_IOC_SCHEMA: body.x #3', attempts: 1, type: 'event' });
    expect(JSON.parse(parked[0]!.body.toString())).toMatchObject({ seq: 3 });
    expect(o.stats()).toMatchObject({ messages: 1, parked: 2 });
  });
});

describe('IOC delivery rules', () => {
  it('classifies answers: 2xx ok; 408/425/429/5xx retry; 401/403/407 retry (auth); 404/405/3xx retry (endpoint); other 4xx park', () => {
    const table: [number, string, string | null][] = [
      [200, 'ok', null],
      [201, 'ok', null],
      [204, 'ok', null],
      [408, 'retry', 'CE_IOC_RETRYABLE_STATUS'],
      [425, 'retry', 'CE_IOC_RETRYABLE_STATUS'],
      [429, 'retry', 'CE_IOC_RETRYABLE_STATUS'],
      [500, 'retry', 'CE_IOC_RETRYABLE_STATUS'],
      [503, 'retry', 'CE_IOC_RETRYABLE_STATUS'],
      [401, 'retry', 'CE_IOC_AUTH'],
      [403, 'retry', 'CE_IOC_AUTH'],
      [407, 'retry', 'CE_IOC_AUTH'],
      [404, 'retry', 'CE_IOC_ENDPOINT'],
      [405, 'retry', 'CE_IOC_ENDPOINT'],
      [301, 'retry', 'CE_IOC_ENDPOINT'],
      [400, 'park', 'CE_IOC_PARKED'],
      [409, 'park', 'CE_IOC_PARKED'],
      [413, 'park', 'CE_IOC_PARKED'],
      [415, 'park', 'CE_IOC_PARKED'],
      [422, 'park', 'CE_IOC_PARKED'],
    ];
    for (const [status, verdict, code] of table) expect([status, classifyStatus(status)]).toEqual([status, { verdict, code }]);
  });

  it('reads Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3)', () => {
    const now = Date.parse('2026-05-14T01:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 14 May 2026 01:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thu, 14 May 2026 00:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });

  it('backs off between cap/2 and cap, doubling to the maximum; Retry-After wins, capped', () => {
    const min = 1000;
    const max = 60_000;
    for (const [failures, cap] of [[1, 1000], [2, 2000], [3, 4000], [6, 32_000], [7, 60_000], [50, 60_000]] as const) {
      expect(backoffDelay(failures, min, max, null, () => 0)).toBe(cap / 2);
      expect(backoffDelay(failures, min, max, null, () => 1)).toBe(cap);
      const d = backoffDelay(failures, min, max, null);
      expect(d).toBeGreaterThanOrEqual(cap / 2);
      expect(d).toBeLessThanOrEqual(cap);
    }
    expect(backoffDelay(1, min, max, 5000)).toBe(5000);
    expect(backoffDelay(1, min, max, 3_600_000)).toBe(max);
  });

  it("takes the receiver's reason from a coded error body, else from the text", () => {
    expect(reasonFrom(400, '{"error":{"code":"CE_IOC_SCHEMA","message":"bad: body.x"}}')).toBe('400 CE_IOC_SCHEMA: bad: body.x');
    expect(reasonFrom(413, '<html>\n  Request Entity Too Large </html>')).toBe('413 <html> Request Entity Too Large </html>');
    expect(reasonFrom(422, '')).toBe('422 Unprocessable Entity');
  });
});

describe('ioc settings', () => {
  const base = { url: 'https://ioc.dongnai.gov.vn/ce/v1/messages' };
  it('has documented defaults', () => {
    const s = IocSchema.parse(base);
    expect(s).toMatchObject({
      tokenEnv: 'CE_IOC_TOKEN',
      hmacKeyEnv: 'CE_IOC_HMAC_KEY',
      rejectUnauthorized: true,
      timeoutMs: 30_000,
      retryMinMs: 2000,
      retryMaxMs: 300_000,
      statusIntervalS: 300,
      indicatorsIntervalS: 3600,
      indicatorPeriods: ['day', 'month', 'half'],
      gzip: true,
    });
    expect(IocSchema.safeParse({ ...base, urll: 'x' }).success).toBe(false);
    expect(IocSchema.safeParse({ url: 'ftp://x' }).success).toBe(false);
  });

  function problems(ioc: Record<string, unknown>): string[] {
    const r = validateSettings({ ...testSettingsInput('/tmp/unused'), ioc });
    return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
  }

  it('accepts a valid section in the whole config', () => {
    expect(problems({ ...base, mqtt: { url: 'mqtts://mqtt.ioc.example:8883', username: 'x', passwordEnv: 'IOC_MQTT_PW' } })).toEqual([]);
    expect(problems({ url: 'http://127.0.0.1:8090/v1/messages' })).toEqual([]);
  });

  it('finds cross-field problems: clear text off loopback, backoff order, cert without key, one secret for both', () => {
    expect(problems({ url: 'http://ioc.example/v1/messages' }).join('\n')).toMatch(/ioc\.url.*must use https:\/\//);
    expect(problems({ ...base, retryMinMs: 10_000, retryMaxMs: 1000 }).join('\n')).toMatch(/ioc\.retryMinMs.*larger than retryMaxMs/);
    expect(problems({ ...base, certFile: '/etc/c.pem' }).join('\n')).toMatch(/ioc\.keyFile.*go together/);
    expect(problems({ ...base, hmacKeyEnv: 'CE_IOC_TOKEN' }).join('\n')).toMatch(/ioc\.hmacKeyEnv.*different secrets/);
    expect(problems({ ...base, mqtt: { url: 'mqtt://broker.ioc.example:1883' } }).join('\n')).toMatch(/ioc\.mqtt\.url.*mqtts:\/\//);
    expect(problems({ ...base, mqtt: { url: 'mqtts://b:8883', passwordEnv: 'X' } }).join('\n')).toMatch(/ioc\.mqtt\.username/);
    expect(problems({ ...base, statusIntervalS: 30, statusDebounceS: 60 }).join('\n')).toMatch(/ioc\.statusDebounceS/);
  });
});
