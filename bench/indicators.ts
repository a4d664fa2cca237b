/**
 * Benchmark of the indicators engine: a half-year (2026-H1) of a 500-device commune
 * with realistic flapping, computed in one process.
 *
 *   node dist/bench/indicators.js                      # 500 devices, 181 days
 *   node dist/bench/indicators.js --devices 1000 --json
 *   node dist/bench/indicators.js --help
 *
 * What it builds (a temp SQLite store, removed at the end, SIGINT included):
 * - 20 hamlets; devices of every kind in commune proportions (loudspeakers and
 *   public Wi-Fi in every hamlet, soil probes on pilot farms, cameras, lines, UPSs).
 * - Transitions written as the health tracker writes them: most devices fail a few
 *   times a month (MTBF days, repairs minutes to a day, DEGRADED spells), one device
 *   in ten flaps (a backup WAN line, probes at the edge of LoRa range, a loose
 *   speaker line: minutes between changes) — together ≥ 100,000 transitions; four
 *   gateway outages (power cuts with no clean stop, 2–8 h; one clean restart) during
 *   which every device is UNKNOWN, written like the restart writes them.
 * - Readings for the rollups: soil probes every 15 min, loudspeaker RSRP hourly, UPS
 *   mains state hourly and on change (~2.4 M rows), rolled up before the timing.
 *
 * Measured: the rollup of the whole half-year (once; in the gateway it runs every
 * minute), one minute's incremental rollup, and computeIndicators for 2026-H1
 * (twice; the second warm): wall and CPU time (CPU shows the cost on a busy machine),
 * RSS and heap growth (peak RSS sampled at every progress callback). Targets: < 1 s
 * and < 100 MB extra memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { computeIndicators } from '../gateway/indicators/engine.js';
import { parsePeriod } from '../gateway/indicators/periods.js';
import { rollupAll, rollupReadings } from '../gateway/indicators/rollup.js';
import { Inventory } from '../gateway/pipeline/inventory.js';
import { settingsFrom } from '../gateway/settings/load.js';
import type { SettingsInput } from '../gateway/settings/schema.js';
import { Store } from '../gateway/store/store.js';
import { mulberry32 as prng } from '../devices/prng.js';

const USAGE = `node dist/bench/indicators.js [--devices N] [--days N] [--no-readings] [--seed N] [--json]
  --devices N     devices in the commune (default 500)
  --days N        days of history before the computation, from 2026-01-01 (default 181: all of 2026-H1)
  --no-readings   transitions only (no rollup work)
  --seed N        PRNG seed (default 1)
  --json          print only the JSON result line`;

const TARGET_MS = 1000;
const TARGET_MB = 100;
const MIN = 60_000;
const H = 60 * MIN;
const DAY = 24 * H;
const T0 = Date.parse('2026-01-01T00:00:00+07:00');

function options() {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '500' },
      days: { type: 'string', default: '181' },
      'no-readings': { type: 'boolean', default: false },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const devices = Number(values.devices);
  const days = Number(values.days);
  if (!Number.isInteger(devices) || devices < 20 || !Number.isInteger(days) || days < 1 || days > 400) {
    console.error(USAGE);
    process.exit(2);
  }
  return { devices, days, readings: !values['no-readings'], seed: Number(values.seed) || 1, json: values.json };
}


interface Spec {
  id: string;
  kind: string;
  role?: string;
  hamlet: string;
  heartbeatS?: number;
}

/** Commune proportions per 500 devices; every kind present. */
function inventory(n: number, hamlets: string[]): Spec[] {
  const mix: [string, string | undefined, number][] = [
    ['loudspeaker', 'hamlet', 140],
    ['camera', 'onestop', 8],
    ['camera', 'security', 60],
    ['camera', 'traffic', 12],
    ['camera', 'farm', 10],
    ['network', 'wan', 2],
    ['network', 'tslcd', 1],
    ['network', 'firewall', 1],
    ['network', 'lan_switch', 16],
    ['wifi_ap', 'public', 40],
    ['wifi_ap', 'government', 10],
    ['soil_probe', 'farm', 120],
    ['vconf', 'office', 2],
    ['power', 'hamlet', 50],
    ['power', 'office', 4],
    ['power', 'rack', 4],
  ];
  const total = mix.reduce((a, m) => a + m[2], 0);
  const out: Spec[] = [];
  let i = 0;
  for (const [kind, role, share] of mix) {
    const count = Math.max(1, Math.round((share / total) * n));
    for (let k = 0; k < count && out.length < n; k++, i++) {
      out.push({ id: `${kind.replace('_', '')}-${role ?? 'x'}-${k + 1}`, kind, ...(role ? { role } : {}), hamlet: hamlets[i % hamlets.length]! });
    }
  }
  while (out.length < n) out.push({ id: `soil-extra-${out.length}`, kind: 'soil_probe', role: 'farm', hamlet: hamlets[out.length % hamlets.length]! });
  return out;
}

/** "+5.2" / "−14.3": memory deltas (RSS may shrink when the collector returns pages). */
function signed(mb: number): string {
  return `${mb < 0 ? '−' : '+'}${Math.abs(mb).toFixed(1)}`;
}

async function main(): Promise<void> {
  const opts = options();
  const log = (s: string) => {
    if (!opts.json) process.stderr.write(`${s}\n`);
  };
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  const dir = mkdtempSync(join(tmpdir(), 'ce-bench-ind-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const hamlets = Array.from({ length: 20 }, (_, i) => `ap-${String(i + 1).padStart(2, '0')}`);
    const specs = inventory(opts.devices, hamlets);
    const input: SettingsInput = {
      commune: { code: '26999', name: 'Xã Bench', province: { code: '75', name: 'Đồng Nai' } },
      gateway: { id: 'gw-bench', dataDir: dir, heartbeatS: 30 },
      log: { level: 'silent', rejectLogIntervalS: 10 },
      hamlets: hamlets.map((id) => ({ id, name: `Ấp ${id.slice(3)}` })),
      devices: specs.map((d) => ({ id: d.id, name: d.id, kind: d.kind as never, hamlet: d.hamlet, ...(d.role ? { role: d.role } : {}) })),
      indicators: { maintenance: [{ from: '2026-03-14T07:00+07:00', to: '2026-03-14T11:00+07:00', hamlets: ['ap-03'], reason: 'Điện lực bảo trì lưới' }] },
    };
    const settings = settingsFrom(input);
    const inv = new Inventory(settings);
    const store = new Store({
      path: join(dir, 'commune-edge.db'),
      maxBytes: 8 * 1024 ** 3,
      commitIntervalMs: 50,
      commitMaxRows: 4000,
      durability: 'crash-safe',
      rejectsKept: 0,
    });
    const db = store.database;
    const rng = prng(opts.seed);
    const end = T0 + opts.days * DAY;
    const now = end + H;

    // --- gateway runs and outages ------------------------------------------------
    // Outages at ~day 20, 55, 100, 150 (scaled to --days): 2–8 h; the third a clean stop.
    const outages = [0.11, 0.3, 0.55, 0.83].map((f, i) => {
      const at = T0 + Math.floor(f * opts.days) * DAY + (9 + i) * H + Math.floor(rng() * H);
      return { from: at, to: at + (2 + Math.floor(rng() * 6)) * H, clean: i === 2 };
    });
    const insRun = db.prepare('INSERT INTO gateway_runs (started_at, last_beat_at, stopped_at, stop_reason) VALUES (?, ?, ?, ?)');
    let runStart = T0 - DAY;
    for (const o of outages) {
      insRun.run(runStart, o.from, o.clean ? o.from : null, o.clean ? 'SIGTERM' : null);
      runStart = o.to;
    }
    insRun.run(runStart, now, null, null);

    // --- transitions -------------------------------------------------------------
    log(`building ${specs.length} devices × ${opts.days} days of transitions…`);
    const insT = db.prepare('INSERT INTO transitions (device_id, ts, from_state, to_state, reason, run_id) VALUES (?, ?, ?, ?, ?, ?)');
    let transitions = 0;
    const build = db.transaction(() => {
      specs.forEach((d, idx) => {
        const flappy = idx % 10 === 3;
        // Healthy devices: a DOWN or DEGRADED spell every 2–8 days, over in 10 min – 1 day.
        // Flappy ones: up ~5 h at a time, then down or degraded ~20 min.
        const meanUpMs = flappy ? 5 * H : (2 + rng() * 6) * DAY;
        type State = 'UP' | 'DEGRADED' | 'DOWN' | 'UNKNOWN';
        const cur: { state: State | null } = { state: null };
        const write = (ts: number, to: State, reason: string, run: number) => {
          insT.run(d.id, ts, cur.state, to, reason, run);
          cur.state = to;
          transitions++;
        };
        write(T0 - DAY, 'UNKNOWN', 'never-seen', 1);
        write(T0 - DAY + 5000, 'UP', 'ok', 1);
        let ts = T0 - DAY + 5000;
        let o = 0;
        let run = 1;
        while (ts < end) {
          const gap = -Math.log(1 - rng()) * (cur.state === 'UP' ? meanUpMs : flappy ? 20 * MIN : (10 * MIN + rng() * DAY) / 2);
          const next = ts + Math.max(1000, Math.floor(gap));
          const outage = outages[o];
          if (outage && next >= outage.from) {
            // The gateway goes away: UNKNOWN at its last sign of life (written at the
            // restart after a power cut, at the stop otherwise); back a few s after it starts.
            run++;
            write(outage.from, 'UNKNOWN', outage.clean ? 'gateway-stopped' : 'gateway-down', outage.clean ? run - 1 : run);
            write(outage.to + 2000 + Math.floor(rng() * 60_000), rng() < 0.97 ? 'UP' : 'DOWN', 'ok', run);
            ts = outage.to + 62_000;
            o++;
            continue;
          }
          if (next >= end) break;
          const to: State = cur.state === 'UP' ? (rng() < 0.7 ? 'DOWN' : 'DEGRADED') : 'UP';
          const reason = to === 'DOWN' ? (d.kind === 'power' && rng() < 0.5 ? 'mains-lost' : 'heartbeat-timeout') : to === 'DEGRADED' ? 'supply-low' : 'ok';
          write(next, to, reason, run);
          ts = next;
        }
      });
    });
    build();
    const transitionsCount = (db.prepare('SELECT count(*) AS n FROM transitions').get() as { n: number }).n;
    log(`${transitionsCount} transitions, ${outages.length} gateway outages`);

    // --- readings ------------------------------------------------------------------
    let readings = 0;
    if (opts.readings) {
      log('writing readings (soil every 15 min, RSRP hourly, UPS mains hourly)…');
      const insR = db.prepare('INSERT INTO readings (device_id, kind, ts, ts_source, received_at, quality, fields) VALUES (?, ?, ?, 0, ?, 0, ?)');
      const writeAll = db.transaction((from: number, to: number) => {
        for (let ts = from; ts < to; ts += 15 * MIN) {
          const hourly = ts % H === 0;
          for (const d of specs) {
            let fields: string | null = null;
            if (d.kind === 'soil_probe') {
              if (rng() < 0.04) continue; // radio losses
              fields = `{"moisture_pct":${(20 + rng() * 20).toFixed(1)},"soil_temp_c":27.5,"battery_pct":88}`;
            } else if (hourly && d.kind === 'loudspeaker') {
              fields = `{"rsrp_dbm":${(-85 - rng() * 35).toFixed(1)},"network_type":"4G","supply_v":12.6}`;
            } else if (hourly && d.kind === 'power') {
              fields = `{"mains_ok":${rng() < 0.97},"on_battery":false,"battery_pct":100}`;
            }
            if (fields === null) continue;
            insR.run(d.id, d.kind, ts, ts, fields);
            readings++;
          }
        }
      });
      for (let day = T0; day < end; day += 10 * DAY) writeAll(day, Math.min(end, day + 10 * DAY));
      log(`${readings} readings`);
    }

    // --- rollup -----------------------------------------------------------------------
    const r0 = performance.now();
    const rolled = rollupAll(store, { timezone: settings.commune.timezone });
    const rollupMs = performance.now() - r0;
    // One minute of a live commune: every device reports once.
    const insMinute = db.prepare('INSERT INTO readings (device_id, kind, ts, ts_source, received_at, quality, fields) VALUES (?, ?, ?, 0, ?, 0, ?)');
    db.transaction(() => {
      for (const d of specs) insMinute.run(d.id, d.kind, end + 30_000, end + 30_000, d.kind === 'loudspeaker' ? '{"rsrp_dbm":-99.5,"network_type":"4G"}' : '{"uptime_s":1}');
    })();
    // The first commit after the bulk load checkpoints its WAL: time the minute after.
    rollupReadings(store, { timezone: settings.commune.timezone });
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.transaction(() => {
      for (const d of specs) insMinute.run(d.id, d.kind, end + 90_000, end + 90_000, d.kind === 'loudspeaker' ? '{"rsrp_dbm":-99.5,"network_type":"4G"}' : '{"uptime_s":1}');
    })();
    const m0 = performance.now();
    const minute = rollupReadings(store, { timezone: settings.commune.timezone });
    const minuteMs = performance.now() - m0;

    // --- the computation -----------------------------------------------------------------
    const period = parsePeriod('2026-H1', settings.commune.timezone);
    const runs: { ms: number; cpuMs: number; rssMb: number; heapMb: number; peakRssMb: number }[] = [];
    let report: Awaited<ReturnType<typeof computeIndicators>> | null = null;
    for (let i = 0; i < 2; i++) {
      gc();
      const before = process.memoryUsage();
      let peak = before.rss;
      const cpu0 = process.cpuUsage();
      const start = performance.now();
      report = await computeIndicators(
        {
          settings,
          store,
          inventory: inv,
          now,
          onProgress: () => {
            peak = Math.max(peak, process.memoryUsage.rss());
          },
        },
        period,
      );
      const ms = performance.now() - start;
      const cpu = process.cpuUsage(cpu0);
      const after = process.memoryUsage();
      peak = Math.max(peak, after.rss);
      runs.push({ ms, cpuMs: (cpu.user + cpu.system) / 1000, rssMb: (after.rss - before.rss) / 1024 / 1024, heapMb: (after.heapUsed - before.heapUsed) / 1024 / 1024, peakRssMb: (peak - before.rss) / 1024 / 1024 });
    }
    // Reference: the same transitions read in one ordered scan instead of the engine's
    // per-device index seeks and range scans.
    const s0 = performance.now();
    let scanned = 0;
    for (const row of db.prepare('SELECT device_id, ts, to_state FROM transitions WHERE ts >= ? AND ts < ? ORDER BY device_id, ts, id').raw().iterate(period.from, period.to)) {
      if (row) scanned++;
    }
    const scanMs = performance.now() - s0;
    const json = JSON.stringify(report);
    const worst = runs.reduce((a, r) => ({ ms: Math.max(a.ms, r.ms), mb: Math.max(a.mb, r.peakRssMb, r.heapMb) }), { ms: 0, mb: 0 });
    const pass = worst.ms < TARGET_MS && worst.mb < TARGET_MB;
    const result = {
      bench: 'indicators',
      devices: specs.length,
      days: opts.days,
      transitions: transitionsCount,
      readings,
      outages: outages.length,
      rollup: { rows: rolled.rows, ms: Math.round(rollupMs), rowsPerS: Math.round(rolled.rows / (rollupMs / 1000)) },
      rollupMinute: { rows: minute.rows, ms: Math.round(minuteMs * 10) / 10 },
      orderedScanReference: { rows: scanned, ms: Math.round(scanMs) },
      compute: runs.map((r) => ({ ms: Math.round(r.ms), cpuMs: Math.round(r.cpuMs), rssDeltaMb: +r.rssMb.toFixed(1), peakRssDeltaMb: +r.peakRssMb.toFixed(1), heapDeltaMb: +r.heapMb.toFixed(1) })),
      reportBytes: json.length,
      indicators: report!.indicators.length,
      target: { ms: TARGET_MS, mb: TARGET_MB },
      pass,
      node: process.version,
    };
    if (opts.json) console.log(JSON.stringify(result));
    else {
      const rows: [string, string][] = [
        ['commune', `${specs.length} devices, 20 hamlets, ${opts.days} days, ${outages.length} gateway outages`],
        ['transitions', transitionsCount.toLocaleString('en')],
        ['readings', readings.toLocaleString('en')],
        ['rollup (all history, once)', `${result.rollup.ms} ms (${result.rollup.rowsPerS.toLocaleString('en')} readings/s)`],
        ['rollup (one minute: 1 reading per device)', `${result.rollupMinute.ms} ms`],
        ...runs.map((r, i): [string, string] => [
          `compute 2026-H1 (run ${i + 1})`,
          `${Math.round(r.ms)} ms wall, ${Math.round(r.cpuMs)} ms CPU; RSS ${signed(r.rssMb)} MB (peak ${signed(r.peakRssMb)} MB), heap ${signed(r.heapMb)} MB`,
        ]),
        ['reference: one ordered scan of the transitions', `${scanned.toLocaleString('en')} rows in ${Math.round(scanMs)} ms`],
        ['report', `${report!.indicators.length} indicators, ${(json.length / 1024).toFixed(0)} KiB of JSON`],
        ['target', `< ${TARGET_MS} ms and < ${TARGET_MB} MB extra: ${pass ? 'PASS' : 'FAIL'}`],
      ];
      const w = Math.max(...rows.map((r) => r[0].length));
      for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
      console.log(JSON.stringify(result));
    }
    await store.close();
  } finally {
    cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(2);
});
