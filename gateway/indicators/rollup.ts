/**
 * Rollups of the readings the indicators need, kept in the store's SQLite file
 * (`store.database`) in tables of our own, because `readings` is a bounded spool:
 * its oldest rows are evicted at `store.maxBytes`, and a half-year report must not
 * depend on them still being there.
 *
 * - `indicator_daily(day, device_id, …)`: per local day (00:00 in the commune's
 *   zone) and device: readings received, RSRP samples (n, sum, min, max) of LTE
 *   modems, the last IOC-link flag of cameras. Periods start at local midnight, so
 *   a period is a whole number of these days.
 * - `indicator_mains(device_id, ts, mains_ok)`: changes of the mains state of power
 *   devices (on battery / mains lost vs on mains), one row per change: the mains
 *   indicator walks it like the state transitions.
 * - `indicator_rollup_meta`: the id cursor into `readings`, `since` (ts of the first
 *   reading rolled up: readings-based figures for earlier times are not known), and
 *   `gaps` (spans whose readings were evicted before they were rolled up).
 *
 * `rollupReadings` is incremental by id cursor, one IMMEDIATE transaction per call
 * (the cursor is read and advanced inside it, so two callers — the gateway's timer
 * and a CLI run — never count a reading twice), at most `maxRows` readings per call.
 */
import type Database from 'better-sqlite3';
import { dayStartOf, nextDayStart } from './periods.js';

export interface RollupStore {
  readonly database: Database.Database;
}

export interface RollupOptions {
  /** Zone of the day buckets (commune.timezone). */
  timezone?: string;
  /** Readings per transaction (one call). */
  maxRows?: number;
}

export interface RollupResult {
  /** Readings rolled up by this call. */
  rows: number;
  /** Last readings id rolled up. */
  cursor: number;
  /** More readings are waiting (call again). */
  more: boolean;
  /** Readings evicted from the spool before this rollup could see them (this call). */
  missed: number;
}

export const DEFAULT_TIMEZONE = 'Asia/Ho_Chi_Minh';
/** ~50 ms of work on a desktop core (bench/indicators.ts: 340–420 k readings/s): the event loop stays responsive. */
const DEFAULT_MAX_ROWS = 20_000;
/** Readings per transaction of the periodic rollup inside the gateway (see scheduleRollup). */
const GATEWAY_MAX_ROWS = 2_000;
/** Older gaps are merged into one when there are more (the meta row stays small). */
const MAX_GAPS = 100;
/** All zone offsets in use are multiples of 15 min, so a 15-min bucket lies within one local day. */
const BUCKET_MS = 15 * 60_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS indicator_rollup_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS indicator_daily (
  day INTEGER NOT NULL,            -- epoch ms of local 00:00
  device_id TEXT NOT NULL,
  readings INTEGER NOT NULL,
  rsrp_n INTEGER NOT NULL DEFAULT 0,
  rsrp_sum REAL NOT NULL DEFAULT 0,  -- dBm
  rsrp_min REAL,
  rsrp_max REAL,
  ioc_last INTEGER,                -- 1/0: last ioc_link of the day
  ioc_last_ts INTEGER,
  PRIMARY KEY (day, device_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS indicator_mains (
  device_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  mains_ok INTEGER NOT NULL,       -- 1 on mains, 0 on battery / mains lost
  PRIMARY KEY (device_id, ts)
) WITHOUT ROWID;
`;

export function ensureRollupTables(db: Database.Database): void {
  db.exec(SCHEMA);
}

interface DailyAcc {
  day: number;
  deviceId: string;
  readings: number;
  rsrpN: number;
  rsrpSum: number;
  rsrpMin: number | null;
  rsrpMax: number | null;
  ioc: number | null;
  iocTs: number | null;
}

/**
 * 3GPP TS 36.133 §9.1.4 reports RSRP from -140 dBm: a modem with no network at all
 * (`network_type: NONE`, no RSRP) is counted as a sample at that floor, so a pole
 * with no signal is a dead zone and not merely unmeasured.
 */
const NO_SERVICE_RSRP_DBM = -140;

/** Mains state of a power reading: 1 on mains, 0 lost (on battery or mains_ok false), null when it says nothing. */
export function mainsOf(fields: Record<string, unknown>): 0 | 1 | null {
  if (fields['on_battery'] === true || fields['mains_ok'] === false) return 0;
  if (fields['mains_ok'] === true || fields['on_battery'] === false) return 1;
  return null;
}

type Meta = { cursor: number; lastTs: number | null; since: number | null; gaps: [number, number][]; missed: number };

export function readRollupMeta(db: Database.Database): Meta {
  ensureRollupTables(db);
  const rows = db.prepare('SELECT key, value FROM indicator_rollup_meta').all() as { key: string; value: string }[];
  const m = new Map(rows.map((r) => [r.key, r.value]));
  const num = (k: string) => (m.has(k) ? Number(m.get(k)) : null);
  return {
    cursor: num('cursor') ?? 0,
    lastTs: num('last_ts'),
    since: num('since'),
    gaps: m.has('gaps') ? (JSON.parse(m.get('gaps')!) as [number, number][]) : [],
    missed: num('missed') ?? 0,
  };
}

/**
 * Roll up readings committed since the last call (at most `maxRows`). Cheap when
 * nothing is new (two indexed look-ups). Call every minute and before computing.
 */
export function rollupReadings(store: RollupStore, opts: RollupOptions = {}): RollupResult {
  const db = store.database;
  ensureRollupTables(db);
  const timezone = opts.timezone ?? DEFAULT_TIMEZONE;
  const maxRows = opts.maxRows ?? DEFAULT_MAX_ROWS;
  // Readings come roughly in time order: the day of the previous one usually holds.
  let day: [number, number] = [0, 0];
  const dayCache = new Map<number, number>();
  const dayOf = (ts: number): number => {
    if (ts >= day[0] && ts < day[1]) return day[0];
    const bucket = Math.floor(ts / BUCKET_MS);
    let d = dayCache.get(bucket);
    if (d === undefined) {
      d = dayStartOf(timezone, bucket * BUCKET_MS);
      dayCache.set(bucket, d);
      day = [d, nextDayStart(timezone, d)];
    }
    return d;
  };
  const setMeta = db.prepare('INSERT INTO indicator_rollup_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const upsertDaily = db.prepare(
    `INSERT INTO indicator_daily (day, device_id, readings, rsrp_n, rsrp_sum, rsrp_min, rsrp_max, ioc_last, ioc_last_ts)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (day, device_id) DO UPDATE SET
       readings = readings + excluded.readings,
       rsrp_n = rsrp_n + excluded.rsrp_n,
       rsrp_sum = rsrp_sum + excluded.rsrp_sum,
       rsrp_min = min(coalesce(rsrp_min, excluded.rsrp_min), coalesce(excluded.rsrp_min, rsrp_min)),
       rsrp_max = max(coalesce(rsrp_max, excluded.rsrp_max), coalesce(excluded.rsrp_max, rsrp_max)),
       ioc_last = CASE WHEN excluded.ioc_last_ts IS NOT NULL AND (ioc_last_ts IS NULL OR excluded.ioc_last_ts >= ioc_last_ts)
                       THEN excluded.ioc_last ELSE ioc_last END,
       ioc_last_ts = CASE WHEN excluded.ioc_last_ts IS NOT NULL AND (ioc_last_ts IS NULL OR excluded.ioc_last_ts >= ioc_last_ts)
                          THEN excluded.ioc_last_ts ELSE ioc_last_ts END`,
  );
  const lastMains = db.prepare('SELECT ts, mains_ok FROM indicator_mains WHERE device_id = ? ORDER BY ts DESC LIMIT 1');
  const insertMains = db.prepare('INSERT OR REPLACE INTO indicator_mains (device_id, ts, mains_ok) VALUES (?, ?, ?)');
  const batch = db.prepare('SELECT id, device_id, kind, ts, fields FROM readings WHERE id > ? ORDER BY id LIMIT ?').raw();

  const run = db.transaction((): RollupResult => {
    const meta = readRollupMeta(db);
    // Two subqueries: SQLite's min/max optimisation (one rowid seek) applies only to a
    // query with a single min() or max(); both in one SELECT scans the whole table.
    const span = db.prepare('SELECT (SELECT min(id) FROM readings) AS lo, (SELECT max(id) FROM readings) AS hi').get() as {
      lo: number | null;
      hi: number | null;
    };
    let missed = 0;
    if (span.hi !== null && span.hi < meta.cursor) {
      // SQLite reuses rowids once a table is emptied (no AUTOINCREMENT): every reading
      // was evicted and numbering started again. Everything there now is new.
      meta.cursor = 0;
    }
    if (span.lo !== null && span.lo > meta.cursor + 1 && meta.since !== null) {
      // Evicted before we saw them: the readings between the last one rolled up and
      // the oldest one left are unknown to the readings-based indicators.
      missed = span.lo - meta.cursor - 1;
      const first = db.prepare('SELECT ts FROM readings WHERE id = ?').get(span.lo) as { ts: number };
      meta.gaps.push([meta.lastTs ?? meta.since, first.ts]);
      while (meta.gaps.length > MAX_GAPS) {
        const [a, b] = meta.gaps.splice(0, 2) as [[number, number], [number, number]];
        meta.gaps.unshift([a[0], b[1]]);
      }
      setMeta.run('gaps', JSON.stringify(meta.gaps));
      setMeta.run('missed', String(meta.missed + missed));
    }
    const rows = batch.all(meta.cursor, maxRows) as [number, string, string, number, string][];
    if (rows.length === 0) return { rows: 0, cursor: meta.cursor, more: false, missed };

    const acc = new Map<string, DailyAcc>();
    const mains = new Map<string, { ts: number; ok: number } | null>();
    let lastTs = meta.lastTs;
    for (const [, deviceId, kind, ts, text] of rows) {
      const day = dayOf(ts);
      const key = `${day}\u0000${deviceId}`;
      let a = acc.get(key);
      if (!a) {
        a = { day, deviceId, readings: 0, rsrpN: 0, rsrpSum: 0, rsrpMin: null, rsrpMax: null, ioc: null, iocTs: null };
        acc.set(key, a);
      }
      a.readings++;
      lastTs = lastTs === null ? ts : Math.max(lastTs, ts);
      // Parse only the readings that carry what we roll up (JSON.parse is the cost here).
      const rsrpLike = text.includes('rsrp_dbm') || text.includes('"NONE"');
      const iocLike = text.includes('ioc_link');
      const mainsLike = kind === 'power' && (text.includes('on_battery') || text.includes('mains_ok'));
      if (!rsrpLike && !iocLike && !mainsLike) continue;
      let f: Record<string, unknown>;
      try {
        f = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue; // the store writes valid JSON; a damaged row is skipped, not fatal
      }
      let rsrp = typeof f['rsrp_dbm'] === 'number' ? f['rsrp_dbm'] : null;
      if (rsrp === null && f['network_type'] === 'NONE') rsrp = NO_SERVICE_RSRP_DBM;
      if (rsrp !== null && Number.isFinite(rsrp)) {
        a.rsrpN++;
        a.rsrpSum += rsrp;
        a.rsrpMin = a.rsrpMin === null ? rsrp : Math.min(a.rsrpMin, rsrp);
        a.rsrpMax = a.rsrpMax === null ? rsrp : Math.max(a.rsrpMax, rsrp);
      }
      if (typeof f['ioc_link'] === 'boolean' && (a.iocTs === null || ts >= a.iocTs)) {
        a.ioc = f['ioc_link'] ? 1 : 0;
        a.iocTs = ts;
      }
      if (mainsLike) {
        const ok = mainsOf(f);
        if (ok === null) continue;
        let last = mains.get(deviceId);
        if (last === undefined) {
          const r = lastMains.get(deviceId) as { ts: number; mains_ok: number } | undefined;
          last = r ? { ts: r.ts, ok: r.mains_ok } : null;
          mains.set(deviceId, last);
        }
        // A late reading older than the last change is left out of the timeline.
        if (last !== null && (ts < last.ts || last.ok === ok)) continue;
        insertMains.run(deviceId, ts, ok);
        mains.set(deviceId, { ts, ok });
      }
    }
    for (const a of acc.values()) {
      upsertDaily.run(a.day, a.deviceId, a.readings, a.rsrpN, a.rsrpSum, a.rsrpMin, a.rsrpMax, a.ioc, a.iocTs);
    }
    const cursor = rows[rows.length - 1]![0];
    setMeta.run('cursor', String(cursor));
    if (lastTs !== null) setMeta.run('last_ts', String(lastTs));
    if (meta.since === null) {
      let since = Infinity;
      for (const r of rows) since = Math.min(since, r[3]);
      setMeta.run('since', String(since));
    }
    return { rows: rows.length, cursor, more: rows.length === maxRows, missed };
  });
  return run.immediate();
}

/** Roll up everything waiting, in transactions of `maxRows` (the CLI, the bench: nothing else waits on them). */
export function rollupAll(store: RollupStore, opts: RollupOptions = {}): RollupResult {
  let total: RollupResult = { rows: 0, cursor: 0, more: true, missed: 0 };
  while (total.more) {
    const r = rollupReadings(store, opts);
    total = { rows: total.rows + r.rows, cursor: r.cursor, more: r.more, missed: total.missed + r.missed };
  }
  return total;
}

/**
 * The same, yielding to the event loop between transactions: inside the gateway a
 * first rollup of a full spool (millions of readings after an upgrade) must not
 * hold up MQTT acknowledgements for seconds.
 */
export async function rollupAllAsync(store: RollupStore, opts: RollupOptions = {}): Promise<RollupResult> {
  let total: RollupResult = { rows: 0, cursor: 0, more: true, missed: 0 };
  while (total.more) {
    const r = rollupReadings(store, opts);
    total = { rows: total.rows + r.rows, cursor: r.cursor, more: r.more, missed: total.missed + r.missed };
    if (r.more) await new Promise((resolve) => setImmediate(resolve));
  }
  return total;
}

/** What the periodic rollup needs of the gateway (a subset of GatewayContext). */
export interface RollupContext {
  store: RollupStore;
  settings: { commune: { timezone: string } };
  log: { warn(obj: object, msg: string): void };
}

/**
 * Roll up every `intervalMs` (default one minute) inside the gateway; returns the
 * function that stops it. A failed run (SQLITE_BUSY while a CLI run holds the write
 * lock, a full disk) is logged and retried at the next tick; the cursor has not
 * moved, so nothing is lost or counted twice.
 */
export function scheduleRollup(ctx: RollupContext, intervalMs = 60_000): () => void {
  let running = false;
  let stopped = false;
  const tick = async () => {
    if (running || stopped) return;
    running = true;
    try {
      // Small transactions inside the gateway: a minute of a 500-device commune is ~30,000
      // readings, and fetching them 20,000 at a time costs several MB of transient heap
      // (the gateway's RSS high-water mark on a Pi); 2,000 at a time costs a tenth.
      const r = await rollupAllAsync(ctx.store, { timezone: ctx.settings.commune.timezone, maxRows: GATEWAY_MAX_ROWS });
      if (r.missed > 0) {
        ctx.log.warn({ code: 'CE_STORE_EVICTED', missed: r.missed }, 'readings were evicted before the indicator rollup saw them; that span is unknown to the readings-based indicators');
      }
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'indicator rollup failed; retrying at the next tick');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
