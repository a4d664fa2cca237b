import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Reading } from '../gateway/reading.js';
import { Store, type StoreOptions } from '../gateway/store/store.js';

function open(opts: Partial<StoreOptions> = {}) {
  const path = join(mkdtempSync(join(tmpdir(), 'ce-store-')), 'ce.db');
  return new Store({ path, maxBytes: 1024 ** 3, commitIntervalMs: 20, commitMaxRows: 1000, durability: 'power-safe', rejectsKept: 10, ...opts });
}

const reading = (i: number, kind = 'power'): Reading => ({
  deviceId: `d-${i % 7}`,
  kind,
  ts: 1_700_000_000_000 + i,
  tsSource: 'device',
  receivedAt: 1_700_000_000_000 + i,
  fields: { load_pct: i, note: 'x'.repeat(200) },
  quality: 'good',
});

const append = (s: Store, r: Reading) => new Promise<Error | null>((res) => s.appendReading(r, false, res));

describe('local store', () => {
  it('group-commits: callbacks fire only after the rows are visible to another connection', async () => {
    const s = open({ commitIntervalMs: 30 });
    const other = new Database(s.path, { readonly: true });
    const count = () => (other.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
    let called = 0;
    const done = Promise.all(Array.from({ length: 50 }, (_, i) => append(s, reading(i)).then(() => { called++; expect(count()).toBeGreaterThanOrEqual(called); })));
    expect(count()).toBe(0); // nothing written before the window closes
    await done;
    expect(count()).toBe(50);
    expect(s.stats.commits).toBe(1); // fifty readings, one transaction, one fsync
    other.close();
    await s.close();
  });

  it('commits early when commitMaxRows rows are waiting', async () => {
    const s = open({ commitIntervalMs: 5000, commitMaxRows: 100 });
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 100 }, (_, i) => append(s, reading(i))));
    expect(Date.now() - t0).toBeLessThan(2000);
    await s.close();
  });

  it('reads back what it wrote, in commit order (the spool)', async () => {
    const s = open();
    await Promise.all([0, 1, 2].map((i) => append(s, reading(i))));
    const rows = s.spoolRows('readings', 0, 10).map((r) => ({ ...r.reading!, id: r.id }));
    expect(rows.map((r) => r.fields['load_pct'])).toEqual([0, 1, 2]);
    expect(rows[0]).toMatchObject({ deviceId: 'd-0', kind: 'power', tsSource: 'device', quality: 'good' });
    expect(s.spoolRows('readings', rows[1]!.id, 10).map((r) => ({ ...r.reading!, id: r.id })).map((r) => r.fields['load_pct'])).toEqual([2]);
    await s.close();
  });

  it('evicts the oldest readings first when over maxBytes, counts them per kind, keeps transitions', async () => {
    const evictions: Record<string, number>[] = [];
    const s = open({ maxBytes: 2 * 1024 * 1024, commitMaxRows: 500, onEvict: (perKind) => evictions.push(perKind) });
    s.appendTransition({ deviceId: 'd-1', ts: 1, from: null, to: 'UP', reason: 'ok', runId: 1 });
    for (let batch = 0; batch < 30; batch++) {
      await Promise.all(Array.from({ length: 500 }, (_, i) => append(s, reading(batch * 500 + i, batch < 10 ? 'camera' : 'power'))));
      s.enforceCap();
    }
    expect(s.usedBytes()).toBeLessThanOrEqual(2 * 1024 * 1024);
    const left = s.spoolRows('readings', 0, 1_000_000).map((r) => ({ ...r.reading!, id: r.id }));
    expect(left.length).toBeGreaterThan(1000);
    expect(left.length).toBeLessThan(15_000);
    // The survivors are exactly the newest ones: oldest-first eviction.
    expect(left[left.length - 1]!.fields['load_pct']).toBe(14_999);
    expect(left[0]!.fields['load_pct']).toBe(15_000 - left.length);
    const totals = s.evictionTotals();
    expect(totals['camera']).toBe(5000); // all the old camera readings went first
    expect((totals['camera'] ?? 0) + (totals['power'] ?? 0)).toBe(15_000 - left.length);
    expect(evictions.length).toBeGreaterThan(0);
    expect(s.recentTransitions('d-1', 10)).toHaveLength(1);
    await s.close();
  });

  it('records gateway runs and their heartbeats', async () => {
    const s = open();
    const run = s.startRun(1000, '1.0.0');
    s.recordBeat(run, 31_000);
    await s.flush();
    expect(s.lastRun()).toMatchObject({ runId: run, startedAt: 1000, lastBeatAt: 31_000, stoppedAt: null });
    s.stopRun(run, 40_000, 'SIGTERM');
    expect(s.lastRun()).toMatchObject({ stoppedAt: 40_000, stopReason: 'SIGTERM' });
    await s.close();
  });

  it('keeps only the last rejectsKept rejects', async () => {
    const s = open({ rejectsKept: 10 });
    for (let i = 0; i < 150; i++) s.appendReject({ ts: i, code: 'CE_PAYLOAD_JSON', client: 'c', topic: 't', detail: `n${i}` });
    await s.flush();
    await Promise.all([append(s, reading(1))]);
    const rejects = s.recentRejects(1000);
    expect(rejects.length).toBeLessThanOrEqual(10);
    expect(rejects[0]!.detail).toBe('n149');
    await s.close();
  });

  it('hands a commit failure to every waiting caller, and keeps working afterwards', async () => {
    const s = open();
    const bad = { ...reading(1), fields: undefined as unknown as Reading['fields'] }; // NOT NULL violation
    const results = await Promise.all([append(s, reading(0)), append(s, bad)]);
    expect(results.every((e) => e instanceof Error)).toBe(true);
    expect(s.stats.commitErrors).toBe(1);
    expect(await append(s, reading(2))).toBeNull();
    expect(s.readingCount()).toBe(1);
    await s.close();
  });
});
