/**
 * The IOC feed's producer on a real in-process gateway: the indicator schedule
 * (current periods, closed periods once after a boundary, also across a
 * restart), status snapshots (periodic, debounced on change), events from
 * health transitions, and every produced message valid against the envelope
 * schema. Delivery is not under test here: the feed posts to a closed port
 * (127.0.0.1:1) and everything stays in the outbox, where the test reads it.
 */
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../gateway/context.js';
import type { IndicatorReport } from '../gateway/indicators/types.js';
import { describeIssues, IocEnvelopeSchema, type IocEnvelope } from '../gateway/uplink/envelope.js';
import { IocFeed } from '../gateway/uplink/feed.js';
import type { IocSettingsInput } from '../gateway/uplink/settings.js';
import { metric, publish, removeDir, startTestGateway, until, type TestGateway } from './helpers/gateway.js';
import { feedSettings, IOC_ENV, reportFor } from './integration/ioc-helpers.js';

const CLOSED = 'http://127.0.0.1:1/v1/messages';
const running: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of running.splice(0).reverse()) await stop();
});

class SimClock implements Clock {
  constructor(public ms: number) {}
  now(): number {
    return this.ms;
  }
}

async function gateway(): Promise<TestGateway> {
  const tg = await startTestGateway();
  running.push(async () => {
    await tg.close();
    removeDir(tg.dir);
  });
  return tg;
}

async function feedOn(tg: TestGateway, clock: SimClock, ioc: Partial<IocSettingsInput>, computeReport?: (p: string) => IndicatorReport | Promise<IndicatorReport>) {
  const feed = new IocFeed({ settings: feedSettings(CLOSED, ioc), env: IOC_ENV, clock, timers: false, ...(computeReport ? { computeReport } : {}) });
  await feed.start(tg.gw.ctx);
  running.push(() => feed.stop());
  return feed;
}

/** Every message in the outbox, decoded and checked against the schema. */
function messages(feed: IocFeed): IocEnvelope[] {
  return feed.queue.all().map((m) => {
    const json = JSON.parse((m.encoding === 'gzip' ? gunzipSync(m.body) : m.body).toString('utf8'));
    const r = IocEnvelopeSchema.safeParse(json);
    if (!r.success) throw new Error(`seq ${m.seq}: ${describeIssues(r.error.issues)}`);
    expect(r.data.seq).toBe(m.seq);
    return r.data;
  });
}

const indicatorPeriods = (feed: IocFeed) =>
  messages(feed)
    .filter((m): m is Extract<IocEnvelope, { type: 'indicators' }> => m.type === 'indicators')
    .map((m) => `${m.body.period.id}${m.body.partial ? '' : ' final'}`);

describe('IOC feed producer', () => {
  it('sends the current periods every interval and each closed period once, final, after its boundary at 00:00 +07:00', async () => {
    const tg = await gateway();
    const sim = new SimClock(Date.parse('2026-06-30T22:30:00+07:00'));
    const asked: string[] = [];
    const compute = (periodId: string) => {
      asked.push(periodId);
      const r = reportFor(periodId);
      return { ...r, partial: sim.ms < r.period.to };
    };
    const feed = await feedOn(tg, sim, { indicatorsIntervalS: 3600, statusIntervalS: 300 }, compute);
    feed.tick();
    await feed.reportsSettled();
    expect(indicatorPeriods(feed)).toEqual(['2026-06-30', '2026-06', '2026-H1']);
    // 30 minutes later: no report due yet.
    sim.ms += 30 * 60_000;
    feed.tick();
    await feed.reportsSettled();
    expect(asked.length).toBe(3);
    // 00:05 on July 1st (the hourly interval is due too): the day, the month and the
    // half-year closed, each sent final, and the new periods begin.
    sim.ms = Date.parse('2026-07-01T00:05:00+07:00');
    feed.tick();
    await feed.reportsSettled();
    expect(indicatorPeriods(feed).slice(3)).toEqual(['2026-06-30 final', '2026-07-01', '2026-06 final', '2026-07', '2026-H1 final', '2026-H2']);
    // Once: later ticks within the hour send nothing more.
    sim.ms += 30 * 60_000;
    feed.tick();
    await feed.reportsSettled();
    expect(indicatorPeriods(feed).length).toBe(9);
    // The next interval: the current periods again (partial).
    sim.ms += 31 * 60_000;
    feed.tick();
    await feed.reportsSettled();
    expect(indicatorPeriods(feed).slice(9)).toEqual(['2026-07-01', '2026-07', '2026-H2']);
    // Times are written in the commune's offset.
    for (const m of messages(feed)) expect(m.generatedAt.endsWith('+07:00')).toBe(true);
  });

  it('after a restart across a boundary, sends the closed period once (the schedule is in the store)', async () => {
    const tg = await gateway();
    const sim = new SimClock(Date.parse('2026-05-13T20:00:00+07:00'));
    const first = await feedOn(tg, sim, { indicatorPeriods: ['day'] }, (p) => reportFor(p));
    first.tick();
    await first.reportsSettled();
    await first.stop();
    // The gateway was off overnight.
    sim.ms = Date.parse('2026-05-14T09:00:00+07:00');
    const second = await feedOn(tg, sim, { indicatorPeriods: ['day'] }, (p) => reportFor(p));
    second.tick();
    await second.reportsSettled();
    second.tick();
    await second.reportsSettled();
    expect(indicatorPeriods(second)).toEqual(['2026-05-13', '2026-05-13', '2026-05-14']);
    // The feed id and the seq go on across the restart.
    const seqs = messages(second).map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(messages(second).map((m) => m.feedId)).size).toBe(1);
  });

  it('a failing indicator computation is logged and counted, and not retried every tick', async () => {
    const tg = await gateway();
    const sim = new SimClock(Date.parse('2026-05-14T09:00:00+07:00'));
    let calls = 0;
    const feed = await feedOn(tg, sim, { indicatorPeriods: ['day', 'month'] }, (p) => {
      calls++;
      if (p === '2026-05') throw new Error('engine bug');
      return reportFor(p);
    });
    feed.tick();
    await feed.reportsSettled();
    feed.tick();
    await feed.reportsSettled();
    expect(calls).toBe(2);
    expect(indicatorPeriods(feed)).toEqual(['2026-05-14']);
    expect(metric((await tg.get('/metrics')).body, 'ce_ioc_indicator_failures_total')).toBe(1);
  });

  it('status: one at start, then every statusIntervalS, and statusDebounceS after changes (coalesced)', async () => {
    const tg = await gateway();
    const sim = new SimClock(Date.parse('2026-05-14T09:00:00+07:00'));
    const feed = await feedOn(tg, sim, { statusIntervalS: 300, statusDebounceS: 20, events: false });
    const statuses = () => messages(feed).filter((m): m is Extract<IocEnvelope, { type: 'status' }> => m.type === 'status');
    expect(statuses().map((s) => s.body.trigger)).toEqual(['start']);
    const start = statuses()[0]!.body;
    expect(start.total).toBe(5);
    expect(start.counts).toEqual({ UP: 0, DEGRADED: 0, DOWN: 0, UNKNOWN: 5 });
    expect(start.hamlets.map((h) => h.id)).toEqual(['ap-01', 'ap-02', 'ap-03']);
    expect(start.devices.find((d) => d.id === 'cam-1')).toMatchObject({ kind: 'camera', role: 'onestop', hamlet: 'ap-01', state: 'UNKNOWN', reason: 'never-seen' });

    // Two devices speak: two changes, one snapshot after the debounce.
    const loa = await tg.connect('loa-01');
    const ups = await tg.connect('ups-01');
    await publish(loa, 'ce/loa-01/telemetry', JSON.stringify({ supply_v: 12.5, amp_temp_c: 40, amp_ok: true, rsrp_dbm: -95 }));
    await publish(ups, 'ce/ups-01/telemetry', JSON.stringify({ on_battery: false, battery_pct: 100, mains_ok: true, input_v: 225 }));
    await until(() => tg.gw.ctx.health.countsByState().UP === 2, 5000, 'both devices UP');
    sim.ms += 10_000;
    feed.tick();
    expect(statuses().length).toBe(1); // within the debounce
    sim.ms += 15_000;
    feed.tick();
    expect(statuses().map((s) => s.body.trigger)).toEqual(['start', 'change']);
    const change = statuses()[1]!.body;
    expect(change.counts.UP).toBe(2);
    expect(change.devices.find((d) => d.id === 'loa-01')).toMatchObject({ state: 'UP' });
    expect(change.devices.find((d) => d.id === 'loa-01')!.since.endsWith('+07:00')).toBe(true);
    feed.tick();
    expect(statuses().length).toBe(2);
    sim.ms += 300_000;
    feed.tick();
    expect(statuses().map((s) => s.body.trigger)).toEqual(['start', 'change', 'periodic']);
  });

  it('events: one per device state change, in order, with the device and the change time; not the gateway bookkeeping', async () => {
    const tg = await gateway();
    const sim = new SimClock(Date.parse('2026-05-14T09:00:00+07:00'));
    const feed = await feedOn(tg, sim, { statusIntervalS: 3600 });
    const loa = await tg.connect('loa-01');
    const send = (amp: boolean) => publish(loa, 'ce/loa-01/telemetry', JSON.stringify({ supply_v: 12.5, amp_temp_c: 40, amp_ok: amp, rsrp_dbm: -95 }));
    await send(true);
    await send(false);
    await send(true);
    // Not an event: the gateway's own start/stop bookkeeping.
    tg.gw.ctx.health.emit('transition', { deviceId: 'cam-1', ts: Date.now(), from: 'UP', to: 'UNKNOWN', reason: 'gateway-stopped', runId: 1 });
    await until(() => feed.outboxStatus().byType.event >= 3, 5000, 'three events');
    await new Promise((r) => setImmediate(r));
    const events = messages(feed).filter((m): m is Extract<IocEnvelope, { type: 'event' }> => m.type === 'event');
    expect(events.map((e) => `${e.body.event}:${e.body.from}->${e.body.to}:${e.body.reason}`)).toEqual([
      'up:UNKNOWN->UP:ok',
      'down:UP->DOWN:amp-fault',
      'up:DOWN->UP:ok',
    ]);
    expect(events[1]!.body.device).toEqual({ id: 'loa-01', name: 'Loa ấp 1', kind: 'loudspeaker', role: 'hamlet', hamlet: 'ap-01' });
    expect(events[1]!.body.at.endsWith('+07:00')).toBe(true);
    const transitions = tg.gw.ctx.store.database
      .prepare(`SELECT ts FROM transitions WHERE device_id = 'loa-01' AND to_state = 'DOWN'`)
      .pluck()
      .all() as number[];
    expect(Date.parse(events[1]!.body.at)).toBe(transitions[0]);
  });
});

describe('IOC feed outbox bound', () => {
  it('evicts older status snapshots when full, keeps events, and counts it', async () => {
    const tg = await gateway();
    const sim = new SimClock(Date.parse('2026-05-14T09:00:00+07:00'));
    const feed = await feedOn(tg, sim, { maxOutboxMessages: 10, statusIntervalS: 3600 });
    const loa = await tg.connect('loa-01');
    await publish(loa, 'ce/loa-01/telemetry', JSON.stringify({ supply_v: 12.5, amp_temp_c: 40, amp_ok: true, rsrp_dbm: -95 }));
    await until(() => feed.outboxStatus().byType.event === 1, 5000, 'the event');
    for (let i = 0; i < 14; i++) feed.enqueueStatus('periodic');
    const st = feed.outboxStatus();
    expect(st.depth).toBe(10);
    expect(st.byType).toEqual({ indicators: 0, status: 9, event: 1 });
    // 1 start + 14 periodic + 1 event = 16 enqueued, 6 statuses evicted (the oldest).
    expect(st.sinceStart).toMatchObject({ enqueued: 16, evicted: 6 });
    // The head (the start snapshot, being retried) is never evicted under the delivery
    // loop; the event survives; the oldest other snapshots (3..8) went.
    expect(messages(feed).map((m) => m.seq)).toEqual([1, 2, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect(metric((await tg.get('/metrics')).body, 'ce_ioc_messages_total{type="status",result="evicted"}')).toBe(6);
  });
});

describe('IOC routes', () => {
  it('are in the OpenAPI document, officer only', async () => {
    const { registerIocRoutes } = await import('../gateway/uplink/routes.js');
    const feed = new IocFeed({ settings: feedSettings(CLOSED, {}), env: IOC_ENV, timers: false });
    const tg = await startTestGateway(undefined, { apiPlugins: [(app) => registerIocRoutes(app, { feed })] });
    running.push(async () => {
      await tg.close();
      removeDir(tg.dir);
    });
    await feed.start(tg.gw.ctx);
    running.push(() => feed.stop());
    const doc = await tg.get('/docs/json', null);
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.json.paths)).toEqual(expect.arrayContaining(['/api/ioc/outbox', '/api/ioc/parked']));
    expect(doc.json.paths['/api/ioc/parked'].get.parameters.map((p: { name: string }) => p.name)).toEqual(['limit', 'body']);
    const outbox = await tg.get('/api/ioc/outbox', 'officer');
    expect(outbox.status).toBe(200);
    expect(outbox.json).toMatchObject({ depth: 1, byType: { status: 1 }, head: { seq: 1, type: 'status' }, parked: 0, url: CLOSED });
    expect((await tg.get('/api/ioc/outbox', 'viewer')).status).toBe(403);
    expect((await tg.get('/api/ioc/parked?limit=0', 'officer')).status).toBe(400);
  });
});
