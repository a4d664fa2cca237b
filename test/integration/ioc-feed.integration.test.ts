/**
 * The IOC feed end to end: a real gateway (buildGateway, real MQTT devices) with
 * its IocFeed, delivering over loopback HTTP(S) to the real reference receiver,
 * which verifies every token, signature, timestamp and the schema before it
 * stores a message. The receiver being "down" is nothing listening on its port;
 * "hanging" is a TCP server that accepts and never answers.
 */
import http from 'node:http';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../gateway/context.js';
import type { IndicatorReport } from '../../gateway/indicators/types.js';
import { IocFeed } from '../../gateway/uplink/feed.js';
import { startIocReceiver, type IocReceiver } from '../../gateway/uplink/receiver.js';
import { registerIocRoutes } from '../../gateway/uplink/routes.js';
import type { IocSettingsInput } from '../../gateway/uplink/settings.js';
import { isoWithOffset } from '../../gateway/uplink/time.js';
import { metric, publish, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Cleanup, freePort, removeDir, tempDir, waitFor } from './helpers.js';
import { feedSettings, IOC_ENV, IOC_KEY, IOC_TOKEN, makeCerts, reportFor } from './ioc-helpers.js';

const TZ = 'Asia/Ho_Chi_Minh';
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A simulated clock for the feed's schedule (the gateway and the signatures keep real time). */
class SimClock implements Clock {
  constructor(public ms: number) {}
  now(): number {
    return this.ms;
  }
}

async function receiverAt(port: number, extra: Partial<Parameters<typeof startIocReceiver>[0]> = {}): Promise<IocReceiver> {
  const dir = tempDir('ioc-recv');
  const r = await startIocReceiver({ port, dataDir: dir, shared: { token: IOC_TOKEN, hmacKey: IOC_KEY }, ...extra });
  cleanup.add('receiver data dir', () => removeDir(dir));
  cleanup.add('receiver', () => r.close());
  return r;
}

interface Setup {
  tg: TestGateway;
  feed: IocFeed;
}

async function gatewayWithFeed(
  url: string,
  ioc: Partial<IocSettingsInput>,
  feedOpts: { clock?: Clock; computeReport?: (p: string) => IndicatorReport; timers?: boolean } = {},
): Promise<Setup> {
  const feed = new IocFeed({ settings: feedSettings(url, ioc), env: IOC_ENV, timers: feedOpts.clock ? false : true, ...feedOpts });
  const tg = await startTestGateway(undefined, { apiPlugins: [(app) => registerIocRoutes(app, { feed })] });
  cleanup.add('gateway dir', () => removeDir(tg.dir));
  cleanup.add('gateway', () => tg.close());
  await feed.start(tg.gw.ctx);
  cleanup.add('feed', () => feed.stop());
  return { tg, feed };
}

/** Every stored message exactly once, seq contiguous and increasing in arrival order. */
function expectExactlyOnceInOrder(receiver: IocReceiver, expectedCount: number): void {
  const got = receiver.messages('12345');
  expect(got.length).toBe(expectedCount);
  expect(new Set(got.map((m) => m.messageId)).size).toBe(got.length);
  const seqs = got.map((m) => m.seq);
  expect(seqs).toEqual(Array.from({ length: got.length }, (_, i) => seqs[0]! + i));
  expect(got.every((m) => m.inOrder)).toBe(true);
}

describe('IOC feed against the reference receiver', () => {
  it('the receiver down for a simulated day, then back: every message delivered once, in order, verified', async () => {
    const port = await freePort(); // nothing listens yet: the receiver is down
    // 2026-05-13 22:00 +07:00: the simulated day crosses midnight (a closed day is sent final).
    const sim = new SimClock(Date.parse('2026-05-13T22:00:00+07:00'));
    const computed: string[] = [];
    const computeReport = (periodId: string): IndicatorReport => {
      computed.push(periodId);
      const r = reportFor(periodId, { generatedAt: isoWithOffset(sim.ms, TZ) });
      return { ...r, partial: sim.ms < r.period.to };
    };
    const { tg, feed } = await gatewayWithFeed(
      `http://127.0.0.1:${port}/v1/messages`,
      { statusIntervalS: 300, indicatorsIntervalS: 3600, indicatorPeriods: ['day', 'month'], statusDebounceS: 30 },
      { clock: sim, computeReport },
    );
    const loa = await tg.connect('loa-01');

    // One simulated day in 5-minute steps: a status snapshot each step, indicator
    // reports every hour, and the loudspeaker's amplifier failing and coming back
    // every 3 hours (real MQTT messages → real transitions → events).
    let faults = 0;
    for (let step = 1; step <= 288; step++) {
      sim.ms += 300_000;
      if (step % 36 === 0) {
        faults++;
        await publish(loa, 'ce/loa-01/telemetry', JSON.stringify({ supply_v: 12.4, amp_temp_c: 40, amp_ok: faults % 2 === 0, rsrp_dbm: -95 }));
        await waitFor('the transition event', () => feed.outboxStatus().byType.event >= faults, 5000, 10);
      }
      feed.tick();
      await feed.reportsSettled();
    }
    const before = feed.outboxStatus();
    expect(before.connected).toBe(false);
    expect(before.lastErrorCode).toBe('CE_IOC_UNREACHABLE');
    expect(before.depth).toBe(before.sinceStart.enqueued);
    expect(before.byType.status).toBeGreaterThanOrEqual(288);
    // loa-01 was never seen: its first message (amplifier fault) is UNKNOWN → DOWN, then UP, DOWN, ...
    expect(faults).toBe(8);
    expect(before.byType.event).toBe(faults);
    expect(computed).toContain('2026-05-13'); // the closed day, after midnight
    expect(computed.filter((p) => p === '2026-05-14').length).toBeGreaterThanOrEqual(20);
    expect(before.oldestAgeS).not.toBeNull();

    const receiver = await receiverAt(port);
    await waitFor('the outbox to drain', () => feed.outboxStatus().depth === 0, 60_000);
    const after = feed.outboxStatus();
    expect(after.sinceStart.delivered).toBe(after.sinceStart.enqueued);
    expect(after.connected).toBe(true);
    expectExactlyOnceInOrder(receiver, after.sinceStart.enqueued);
    const stats = receiver.stats();
    expect(stats.rejected).toEqual({});
    expect(stats.duplicates).toBe(0);

    // What the receiver made of it: the latest status, the events, the indicators.
    const status = (await receiver.app.inject({ url: '/communes/12345/status?events=100' })).json();
    expect(status.status.total).toBe(5);
    expect(status.events.filter((e: { event: string }) => e.event === 'down').length).toBe(faults / 2);
    const closedDay = (await receiver.app.inject({ url: '/province/indicators?period=2026-05-13' })).json();
    expect(closedDay.communes.reporting).toBe(1);
    expect(closedDay.reporting[0].partial).toBe(false);
    expect(closedDay.indicators[0].id).toBe('loudspeaker_availability');
    expect(closedDay.indicators[0].value).toBeCloseTo(90, 6);

    // The officer sees the same through the gateway API.
    const api = await tg.get('/api/ioc/outbox', 'officer');
    expect(api.status).toBe(200);
    expect(api.json.depth).toBe(0);
    expect(api.json.lastSuccessAt).not.toBeNull();
    const m = await tg.get('/metrics', 'viewer');
    expect(metric(m.body, 'ce_ioc_messages_total{type="status",result="delivered"}')).toBeGreaterThanOrEqual(288);
    expect(metric(m.body, 'ce_ioc_delivery_failures_total{code="CE_IOC_UNREACHABLE"}')).toBeGreaterThan(0);
  });

  it('a message the receiver rejects (400 schema) is parked with the reason; the rest flows', async () => {
    const port = await freePort();
    const receiver = await receiverAt(port);
    const computeReport = (periodId: string): IndicatorReport => {
      const r = reportFor(periodId);
      // An engine bug: a coverage above 1 (the receiver's schema refuses it).
      if (periodId === '2026-05') r.indicators[0]!.coverage = 1.5;
      return r;
    };
    // No schedule (timers off): the test enqueues by hand.
    const { tg, feed } = await gatewayWithFeed(receiver.url, { statusIntervalS: 3600 }, { computeReport, timers: false });
    await waitFor('the start snapshot delivered', () => feed.outboxStatus().sinceStart.delivered === 1, 10_000);
    // A good report, the bad one, a good one, then a status snapshot.
    expect((await feed.enqueueIndicators('2026-05-14'))?.seq).not.toBeNull();
    const bad = await feed.enqueueIndicators('2026-05');
    expect((await feed.enqueueIndicators('2026-H1'))?.seq).not.toBeNull();
    feed.enqueueStatus('periodic');
    await waitFor('all settled', () => feed.outboxStatus().depth === 0, 20_000);

    const st = feed.outboxStatus();
    expect(st.sinceStart.delivered).toBe(4);
    expect(st.sinceStart.parked).toBe(1);
    expect(st.parked).toBe(1);
    expect(st.lastErrorCode).toBe('CE_IOC_PARKED');
    const stored = receiver.messages('12345');
    expect(stored.map((m) => m.seq)).toEqual([1, 2, 4, 5]);
    expect(stored.map((m) => m.seq)).not.toContain(bad!.seq);
    expect(receiver.stats().rejected).toEqual({ CE_IOC_SCHEMA: 1 });

    const parked = await tg.get('/api/ioc/parked?body=true', 'officer');
    expect(parked.status).toBe(200);
    expect(parked.json.total).toBe(1);
    const p = parked.json.messages[0];
    expect(p.seq).toBe(bad!.seq);
    expect(p.httpStatus).toBe(400);
    expect(p.reason).toContain('CE_IOC_SCHEMA');
    expect(p.reason).toContain('body.indicators[0].coverage');
    expect(p.envelope.body.period.id).toBe('2026-05');
    // Officer only.
    expect((await tg.get('/api/ioc/parked', 'viewer')).status).toBe(403);
    expect((await tg.get('/api/ioc/outbox', null)).status).toBe(401);
    const m = await tg.get('/metrics', 'viewer');
    expect(metric(m.body, 'ce_ioc_parked_total{type="indicators"}')).toBe(1);
  });

  it('a receiver that accepts TCP and never answers: timeout, retried, then delivered once', async () => {
    const port = await freePort();
    const held: Socket[] = [];
    let accepted = 0;
    const hang = createServer((s) => {
      accepted++;
      held.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => hang.listen(port, '127.0.0.1', r));
    const closeHang = () =>
      new Promise<void>((r) => {
        for (const s of held) s.destroy();
        hang.close(() => r());
      });
    cleanup.add('hanging server', closeHang);

    const { tg, feed } = await gatewayWithFeed(`http://127.0.0.1:${port}/v1/messages`, { timeoutMs: 300, statusIntervalS: 3600 });
    feed.enqueueStatus('periodic');
    await waitFor('two timeouts', async () => metric((await tg.get('/metrics')).body, 'ce_ioc_delivery_failures_total{code="CE_IOC_TIMEOUT"}') >= 2, 20_000);
    expect(accepted).toBeGreaterThanOrEqual(2); // each attempt got a fresh connection: the hung one was destroyed
    const st = feed.outboxStatus();
    expect(st.depth).toBe(2);
    expect(st.head?.attempts).toBeGreaterThanOrEqual(2);
    expect(st.lastErrorCode).toBe('CE_IOC_TIMEOUT');

    await closeHang();
    const receiver = await receiverAt(port);
    await waitFor('delivered', () => feed.outboxStatus().depth === 0, 20_000);
    expectExactlyOnceInOrder(receiver, 2);
  });

  it('the receiver stored it but the answer came too late: the retry is answered from the idempotency store', async () => {
    const port = await freePort();
    const receiver = await receiverAt(port, { answerDelayMs: 1500 });
    const { feed } = await gatewayWithFeed(receiver.url, { timeoutMs: 500, statusIntervalS: 3600 });
    feed.enqueueStatus('periodic');
    await waitFor('delivered', () => feed.outboxStatus().depth === 0, 30_000);
    const stats = receiver.stats();
    expect(stats.duplicates).toBeGreaterThanOrEqual(1);
    expect(stats.stored).toBe(2);
    expectExactlyOnceInOrder(receiver, 2);
    expect(feed.outboxStatus().sinceStart.retries).toBeGreaterThanOrEqual(1);
  });

  it('429 / 503 with Retry-After: the feed waits as told, then delivers', async () => {
    const port = await freePort();
    const receiver = await receiverAt(port);
    // A front that refuses the first two POSTs with Retry-After: 1, then forwards to the receiver.
    const attempts: number[] = [];
    const front = http.createServer((req, res) => {
      attempts.push(Date.now());
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (attempts.length <= 2) {
          res.writeHead(attempts.length === 1 ? 429 : 503, { 'retry-after': '1', 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'BUSY', message: 'try later' } }));
          return;
        }
        const fwd = http.request(receiver.url, { method: 'POST', headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        fwd.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    cleanup.add('front', () => new Promise<void>((r) => front.close(() => r())));
    const frontPort = (front.address() as { port: number }).port;
    const { feed } = await gatewayWithFeed(`http://127.0.0.1:${frontPort}/v1/messages`, { retryMinMs: 20, retryMaxMs: 5000, statusIntervalS: 3600 });
    await waitFor('delivered', () => feed.outboxStatus().depth === 0, 20_000);
    expect(attempts.length).toBe(3);
    // Without Retry-After the first retries would come after 10-40 ms.
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(950);
    expect(attempts[2]! - attempts[1]!).toBeGreaterThanOrEqual(950);
    expectExactlyOnceInOrder(receiver, 1);
  });

  it('over HTTPS: delivered with the configured CA; with a CA that did not sign the receiver, kept and retried', async () => {
    const dir = tempDir('ioc-tls');
    cleanup.add('certs', () => removeDir(dir));
    const certs = makeCerts(dir);
    const { readFileSync } = await import('node:fs');
    const receiver = await receiverAt(0, { tls: { cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) } });
    expect(receiver.url.startsWith('https://127.0.0.1:')).toBe(true);

    const wrong = await gatewayWithFeed(receiver.url, { caFile: certs.otherCaFile, statusIntervalS: 3600 });
    await waitFor('a TLS failure', () => wrong.feed.outboxStatus().consecutiveFailures >= 2, 10_000);
    const ws = wrong.feed.outboxStatus();
    expect(ws.lastErrorCode).toBe('CE_IOC_UNREACHABLE');
    expect(ws.lastError).toMatch(/certificate|self.signed|issuer/i);
    expect(ws.depth).toBe(1);
    expect(receiver.stats().received).toBe(0);

    const right = await gatewayWithFeed(receiver.url, { caFile: certs.caFile, statusIntervalS: 3600 });
    await waitFor('delivered over TLS', () => right.feed.outboxStatus().sinceStart.delivered === 1, 10_000);
    expect(receiver.stats().stored).toBe(1);
  });

  it('without the token in the environment: CE_IOC_CONFIG, messages kept, nothing sent', async () => {
    const port = await freePort();
    const receiver = await receiverAt(port);
    const feed = new IocFeed({ settings: feedSettings(receiver.url, { statusIntervalS: 3600 }), env: { CE_IOC_HMAC_KEY: IOC_KEY } });
    const tg = await startTestGateway();
    cleanup.add('gateway dir', () => removeDir(tg.dir));
    cleanup.add('gateway', () => tg.close());
    await feed.start(tg.gw.ctx);
    cleanup.add('feed', () => feed.stop());
    const st = feed.outboxStatus();
    expect(st.lastErrorCode).toBe('CE_IOC_CONFIG');
    expect(st.lastError).toContain('CE_IOC_TOKEN');
    expect(st.depth).toBe(1);
    expect(feed.status().detail).toContain('CE_IOC_CONFIG');
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.stats().received).toBe(0);
  });
});
