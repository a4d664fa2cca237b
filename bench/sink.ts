/**
 * End-to-end benchmarks: MQTT (QoS 1) → gateway → a real InfluxDB 1.x (`influxd`,
 * Debian package `influxdb`) on 127.0.0.1. Run through bench/ingest.ts:
 *
 *   node dist/bench/ingest.js --scenario e2e,replay
 *
 *   e2e     max-rate QoS 1 for --e2e-seconds, then publishing stops and the bench
 *           waits until the sink's backlog (GET /api/health → sinks[0].backlogPoints)
 *           is 0. Points/s end-to-end = acked ÷ (first PUBLISH → all in InfluxDB);
 *           the steady rate during the run comes from influxd's own counters
 *           (SHOW STATS: httpd pointsWrittenOK). Loss = acked sequence numbers not
 *           in InfluxDB (every point's `uptime_s` is read back).
 *   replay  a backlog of --replay-devices × --replay-history readings (500 × 3,600 =
 *           1.8 M, device-stamped 1/s over the past hour) is published while influxd
 *           is not running yet; then live load starts (every device 1 msg/s, current
 *           time), influxd starts, and the bench measures the time until the backlog
 *           is drained, the replay rate, and how far behind the live readings are:
 *           the publish time of every live message of some marker devices is kept,
 *           and influxd is asked every 200 ms which of them it has.
 *
 * Every message carries a device timestamp `ts` (epoch ms) that is distinct per
 * device, so no two points of one series share a time (InfluxDB would keep only
 * the last). influxd gets its own temp dir and free ports (test/integration/influx.ts,
 * InfluxV1) and is stopped and removed on every way out, SIGINT included.
 */
import { rmSync } from 'node:fs';
import { InfluxV1, influxdBinary } from '../test/integration/influx.js';
import {
  SEQ_BASE,
  TARGET,
  Client,
  benchCpuRow,
  benchCpuS,
  children,
  connectAll,
  extraDirs,
  finish,
  fmtInt,
  fmtMb,
  fmtMs,
  freePort,
  lossRows,
  newShared,
  progress,
  readProcCpuS,
  readProcMem,
  readThreadCpuS,
  round,
  runFor,
  sleep,
  startGateway,
  threadSplit,
  waitFor,
  type Env,
  type GatewayProc,
  type Options,
  type Row,
  type ScenarioResult,
  type Shared,
} from './harness.js';

const DB = 'bench';
const MEASUREMENT = 'power';
/** Every bench device id starts with this (the gateway's own points do not). */
const DEVICE_RE = '/^bench-/';
/** Bounds of the waits (each scenario also counts toward the run's time budget). */
const E2E_DRAIN_LIMIT_S = 300;
const REPLAY_BACKLOG_LIMIT_S = 300;
const REPLAY_DRAIN_LIMIT_S = 600;
const SCAN_TIMEOUT_MS = 180_000;

export function sinkBudgetS(s: 'e2e' | 'replay', opts: Options): number {
  if (s === 'e2e') return opts.e2eSeconds + E2E_DRAIN_LIMIT_S + 2 * SCAN_TIMEOUT_MS / 1000 + 120;
  return REPLAY_BACKLOG_LIMIT_S + REPLAY_DRAIN_LIMIT_S + opts.replayAfterS + 2 * SCAN_TIMEOUT_MS / 1000 + 240;
}

// ---------------------------------------------------------------------------
// influxd
// ---------------------------------------------------------------------------

interface HttpdStats {
  pointsOk: number;
  writeReq: number;
  writeReqBytes: number;
  writeReqDurationNs: number;
}

/** A bench-owned influxd: temp dir and process registered for the bench's cleanup (SIGINT too). */
class BenchInflux {
  readonly inf: InfluxV1;
  private peakRssKb = 0;
  private sampler: NodeJS.Timeout | null = null;

  private constructor(inf: InfluxV1) {
    this.inf = inf;
    extraDirs.add(inf.dir);
  }

  /** Config and ports, not started. */
  static async create(opts: Options): Promise<BenchInflux> {
    const bin = opts.influxd ?? influxdBinary();
    const port = await freePort();
    let rpc = await freePort();
    while (rpc === port) rpc = await freePort();
    return new BenchInflux(new InfluxV1(bin, port, rpc, { name: 'influxd (bench)', startTimeoutMs: 30_000 }));
  }

  get url(): string {
    return this.inf.url;
  }

  get pid(): number | undefined {
    return this.inf.running ? this.inf.pid : undefined;
  }

  /** Start (again, after `stop()`: same ports and data dir). */
  async start(): Promise<void> {
    await this.inf.start();
    if (this.inf.child) children.add(this.inf.child.proc);
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = setInterval(() => {
      const m = this.pid ? readProcMem(this.pid) : null;
      if (m && m.rssKb > this.peakRssKb) this.peakRssKb = m.rssKb;
    }, 250);
  }

  cpuS(): number | null {
    return this.pid ? readProcCpuS(this.pid) : null;
  }

  mem(): { rssKb: number; hwmKb: number; peakSampledKb: number } | null {
    const m = this.pid ? readProcMem(this.pid) : null;
    return m ? { ...m, peakSampledKb: this.peakRssKb } : null;
  }

  /** influxd's own counters of its HTTP write endpoint (cumulative since its start). */
  async httpd(): Promise<HttpdStats | null> {
    try {
      const [r] = await this.inf.query(`SHOW STATS FOR 'httpd'`);
      const s = r?.series?.[0];
      if (!s?.values?.[0]) return null;
      const v = (c: string) => Number(s.values![0]![s.columns.indexOf(c)] ?? 0);
      return { pointsOk: v('pointsWrittenOK'), writeReq: v('writeReq'), writeReqBytes: v('writeReqBytes'), writeReqDurationNs: v('writeReqDurationNs') };
    } catch {
      return null;
    }
  }

  async count(where: string): Promise<number> {
    const rows = await this.inf.rows(`SELECT count(uptime_s) FROM ${MEASUREMENT} WHERE ${where}`, DB);
    return Number(rows[0]?.['count'] ?? 0);
  }

  /**
   * Every bench point's sequence number (uptime_s − SEQ_BASE), read back with a
   * chunked query (newline-separated JSON objects) so memory stays bounded.
   */
  async scan(size: number, where = `device =~ ${DEVICE_RE}`): Promise<{ present: Uint8Array; points: number; duplicates: number; foreign: number; ms: number }> {
    const t = performance.now();
    const present = new Uint8Array(size);
    let points = 0;
    let duplicates = 0;
    let foreign = 0;
    const params = new URLSearchParams({ db: DB, q: `SELECT uptime_s FROM ${MEASUREMENT} WHERE ${where}`, epoch: 'ms', chunked: 'true', chunk_size: '50000' });
    const res = await fetch(`${this.url}/query?${params}`, { signal: AbortSignal.timeout(SCAN_TIMEOUT_MS) });
    if (res.status !== 200 || !res.body) throw new Error(`influxd scan: HTTP ${res.status} ${await res.text()}`);
    const decoder = new TextDecoder();
    let buf = '';
    const onLine = (line: string) => {
      if (!line.trim()) return;
      const body = JSON.parse(line) as { results?: { error?: string; series?: { columns: string[]; values?: unknown[][] }[] }[]; error?: string };
      if (body.error) throw new Error(`influxd scan: ${body.error}`);
      for (const r of body.results ?? []) {
        if (r.error) throw new Error(`influxd scan: ${r.error}`);
        for (const s of r.series ?? []) {
          const col = s.columns.indexOf('uptime_s');
          for (const v of s.values ?? []) {
            points++;
            const seq = Number(v[col]) - SEQ_BASE;
            if (!Number.isInteger(seq) || seq < 0 || seq >= size) foreign++;
            else if (present[seq]) duplicates++;
            else present[seq] = 1;
          }
        }
      }
    };
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    }
    onLine(buf + decoder.decode());
    return { present, points, duplicates, foreign, ms: Math.round(performance.now() - t) };
  }

  /** An outage: SIGTERM (SIGKILL after 10 s); the data dir stays for `start()`. */
  async stop(): Promise<void> {
    const child = this.inf.child;
    await this.inf.stop(10_000);
    if (child) children.delete(child.proc);
  }

  /** SIGTERM (SIGKILL after 10 s), then remove its dir. */
  async dispose(): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
    try {
      await this.inf.stop(10_000);
    } finally {
      if (this.inf.child) children.delete(this.inf.child.proc);
      rmSync(this.inf.dir, { recursive: true, force: true });
      extraDirs.delete(this.inf.dir);
    }
  }
}

// ---------------------------------------------------------------------------
// Gateway health
// ---------------------------------------------------------------------------

interface SinkHealth {
  connected: boolean;
  backlogPoints: number;
  catchingUp: boolean;
  pointsWritten: number;
  retries: number;
  quarantined: number;
  lastError: string | null;
}

/**
 * GET /api/health → sinks[0], with the time each request took. The bench asks
 * rarely: with a big store the request is not free for the gateway (see README).
 */
class HealthProbe {
  readonly ms: number[] = [];
  constructor(private readonly gw: GatewayProc) {}

  async get(): Promise<SinkHealth | null> {
    const t = performance.now();
    try {
      const res = await fetch(`http://127.0.0.1:${this.gw.httpPort}/api/health`, { signal: AbortSignal.timeout(10_000) });
      const body = (await res.json()) as { sinks?: SinkHealth[] };
      this.ms.push(performance.now() - t);
      return body.sinks?.[0] ?? null;
    } catch {
      return null;
    }
  }

  text(): string {
    const q = quantiles(this.ms);
    return q.n ? `${q.n} requests, p50 ${q.p50!.toFixed(0)} ms, max ${q.max!.toFixed(0)} ms` : 'none';
  }
}

/**
 * Wait until the sink has delivered everything: influxd's pointsWrittenOK (cheap,
 * asked every 50 ms) has reached `expected` since `base`, and then the gateway's
 * health says backlog 0 (asked only then). `at` is the time of that influxd sample.
 */
async function waitDrained(
  gw: GatewayProc,
  influx: BenchInflux,
  probe: HealthProbe,
  base: number,
  expected: () => number,
  limitMs: number,
): Promise<{ drained: boolean; at: number; health: SinkHealth | null }> {
  const deadline = performance.now() + limitMs;
  let health: SinkHealth | null = null;
  let lastLog = performance.now();
  while (gw.alive && performance.now() < deadline) {
    const s = await influx.httpd();
    const at = performance.now();
    const done = s ? s.pointsOk - base : 0;
    if (done >= expected()) {
      health = await probe.get();
      if (health && health.backlogPoints === 0 && !health.catchingUp) return { drained: true, at, health };
      await sleep(300);
      continue;
    }
    if (at - lastLog > 5000) {
      lastLog = at;
      progress(`  influxd has ${fmtInt(done)} of ${fmtInt(expected())} points`);
    }
    await sleep(50);
  }
  return { drained: false, at: Number.NaN, health: health ?? (await probe.get()) };
}

/**
 * The gateway's event-loop delay (prom-client's monitorEventLoopDelay, 10 ms
 * resolution) since the previous /metrics request: a request resets it.
 */
async function loopDelay(gw: GatewayProc): Promise<{ p50Ms: number; p99Ms: number; maxMs: number } | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const get = (q: string) => Math.round(Number(new RegExp(`^ce_process_nodejs_eventloop_lag_${q}_seconds (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN) * 10_000) / 10;
    const r = { p50Ms: get('p50'), p99Ms: get('p99'), maxMs: get('max') };
    return Number.isFinite(r.maxMs) ? r : null;
  } catch {
    return null;
  }
}

const fmtLoop = (d: { p50Ms: number; p99Ms: number; maxMs: number } | null) =>
  d ? `p50 ${d.p50Ms.toFixed(0)} ms, p99 ${d.p99Ms.toFixed(0)} ms, max ${d.maxMs.toFixed(0)} ms` : 'n/a';

function writeStats(a: HttpdStats | null, b: HttpdStats | null): { requests: number; pointsPerRequest: number; msPerRequest: number; text: string } | null {
  if (!a || !b || b.writeReq <= a.writeReq) return null;
  const requests = b.writeReq - a.writeReq;
  const points = b.pointsOk - a.pointsOk;
  const ms = (b.writeReqDurationNs - a.writeReqDurationNs) / 1e6;
  return {
    requests,
    pointsPerRequest: Math.round(points / requests),
    msPerRequest: round(ms / requests, 1)!,
    text: `${fmtInt(requests)} requests, ${fmtInt(points / requests)} points each, ${(ms / requests).toFixed(0)} ms each inside influxd (${fmtInt(points / (ms / 1000))} points/s of write time)`,
  };
}

function sinkConfig(url: string, forwarding: Record<string, number>): Record<string, unknown> {
  return { sinks: [{ id: 'bench', type: 'influxdb-v1', url, database: DB, forwarding }] };
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

function quantiles(values: number[]): { n: number; p50: number | null; p95: number | null; p99: number | null; max: number | null; mean: number | null } {
  if (values.length === 0) return { n: 0, p50: null, p95: null, p99: null, max: null, mean: null };
  const v = [...values].sort((a, b) => a - b);
  const q = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))]!;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: v.length, p50: r(q(0.5)), p95: r(q(0.95)), p99: r(q(0.99)), max: r(v[v.length - 1]!), mean: r(v.reduce((a, b) => a + b, 0) / v.length) };
}

const fmtS = (ms: number | null | undefined) => (ms === null || ms === undefined || !Number.isFinite(ms) ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);
const pct = (cpuS: number, s: number) => `${((cpuS / s) * 100).toFixed(0)} %`;

/** Acked sequence numbers (ledger state 2) missing from InfluxDB, with the first few. */
function lossVsInflux(sh: Shared, present: Uint8Array): { acked: number; missing: number; examples: number[]; unackedPresent: number } {
  const st = sh.ledger.state;
  let acked = 0;
  let missing = 0;
  let unackedPresent = 0;
  const examples: number[] = [];
  for (let i = 0; i < sh.ledger.size; i++) {
    if (st[i] === 2) {
      acked++;
      if (!present[i]) {
        missing++;
        if (examples.length < 10) examples.push(i);
      }
    } else if (present[i]) unackedPresent++;
  }
  return { acked, missing, examples, unackedPresent };
}

/** Gateway log events of the forwarder (log level info), with the bench's clock. */
interface FwEvent {
  at: number;
  msg: string;
  backlog?: number;
  reason?: string;
}

function watchForwarder(gw: GatewayProc): { events: FwEvent[] } {
  const w = { events: [] as FwEvent[] };
  gw.lineListeners.push((line) => {
    if (!line.includes('"sink"')) return;
    try {
      const o = JSON.parse(line) as { msg?: string; backlog?: number; reason?: string; failures?: number };
      if (!o.msg) return;
      w.events.push({ at: performance.now(), msg: o.msg, ...(o.backlog !== undefined ? { backlog: o.backlog } : {}), ...(o.reason ? { reason: o.reason.slice(0, 120) } : {}) });
    } catch {
      // not JSON
    }
  });
  return w;
}

// ---------------------------------------------------------------------------
// e2e
// ---------------------------------------------------------------------------

interface Tick {
  t: number;
  acked: number;
  influxOk: number | null;
  gwCpuS: number | null;
  infCpuS: number | null;
}

export async function scenarioE2e(env: Env): Promise<ScenarioResult> {
  const { opts } = env;
  const n = opts.connections;
  const forwarding = { batchPoints: opts.sinkBatch, batchAgeMs: 1000, retryMinMs: 1000, retryMaxMs: 5000, replayPointsPerS: 100_000_000, timeoutMs: 10_000 };
  const rateText = opts.e2eRate > 0 ? `${fmtInt(opts.e2eRate)} msgs/s offered` : 'max rate';
  const title = `End-to-end MQTT QoS 1 → gateway → InfluxDB 1.x: ${n} connections × window ${opts.window}, ${rateText} for ${opts.e2eSeconds} s, then drain; batchPoints ${fmtInt(opts.sinkBatch)}`;
  progress(`${title}: starting influxd`);
  const influx = await BenchInflux.create(opts);
  let gw: GatewayProc | null = null;
  try {
    await influx.start();
    progress(`influxd on ${influx.url} (pid ${influx.pid}); starting gateway`);
    gw = await startGateway(env, 'e2e', n, { log: { level: 'info' }, ...sinkConfig(influx.url, forwarding) });
    const fw = watchForwarder(gw);
    const sh = newShared(gw.mqttPort, 1, 60);
    // Device time: an hour ago + k ms for the k-th message of a device (distinct per series, never in the future).
    const tsBase = Date.now() - 3_600_000;
    const clients = env.devices.slice(0, n).map((d) => new Client(d, sh, opts.window, (k) => tsBase + k));
    let running = false;
    if (opts.e2eRate === 0) {
      sh.onReady = (c) => {
        if (!running || sh.ledger.full) return;
        const k = opts.window - c.inflight;
        if (k > 0) c.publish(k);
      };
    }
    const conn = await connectAll(clients, 50);
    if (conn.failed === clients.length) throw new Error(`no connection succeeded: ${conn.firstError}`);
    progress(`${n - conn.failed}/${n} connected; publishing ${rateText} for ${opts.e2eSeconds} s`);
    // Wait for the gateway's first writes (heartbeat, transitions) so the sink is known to be up.
    await sleep(500);

    const ticks: Tick[] = [];
    const t0 = performance.now();
    const wall0 = Date.now();
    const cpu0 = gw.cpuS() ?? 0;
    const thr0 = readThreadCpuS(gw.pid);
    const inf0 = influx.cpuS() ?? 0;
    const bench0 = benchCpuS();
    const stats0 = await influx.httpd();
    await loopDelay(gw); // resets the gateway's event-loop delay histogram
    gw.startSampling();
    const g = gw;
    const probe = new HealthProbe(gw);
    // Once a second: influxd's counters only (no health request: it is not free for the gateway).
    const sample = async () => {
      const s = await influx.httpd();
      ticks.push({
        t: performance.now() - t0,
        acked: sh.stats.acked,
        influxOk: s ? s.pointsOk - (stats0?.pointsOk ?? 0) : null,
        gwCpuS: (g.cpuS() ?? Number.NaN) - cpu0,
        infCpuS: (influx.cpuS() ?? Number.NaN) - inf0,
      });
    };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const next = performance.now() + 1000;
        await sample();
        await sleep(Math.max(0, next - performance.now()));
      }
    })();

    running = true;
    sh.measuring = true;
    let pacer: NodeJS.Timeout | null = null;
    if (opts.e2eRate === 0) {
      for (const c of clients) if (c.ready) sh.onReady!(c);
    } else {
      // Open loop: the offered rate, spread over the connections, each within its window.
      let next = 0;
      pacer = setInterval(() => {
        const due = Math.floor(((performance.now() - t0) / 1000) * opts.e2eRate) - sh.stats.sent;
        let left = due;
        for (let tries = 0; left > 0 && tries < clients.length; tries++) {
          const c = clients[next]!;
          next = (next + 1) % clients.length;
          const k = Math.min(left, opts.window - c.inflight, 64);
          if (k > 0 && c.ready) {
            c.publish(k);
            left -= k;
          }
        }
      }, 5);
    }
    let alive = await runFor(opts.e2eSeconds * 1000, gw);
    running = false;
    sh.measuring = false;
    if (pacer) clearInterval(pacer);
    const pubEnd = performance.now();
    const ackedAtPubEnd = sh.stats.acked;
    const loopPub = alive ? await loopDelay(gw) : null;
    if (alive) await waitFor(() => clients.every((c) => c.inflight <= 0 || !c.ready), 30_000, gw);
    const acksDone = performance.now();
    progress(`published ${fmtInt(sh.stats.sent)}, acked ${fmtInt(sh.stats.acked)} in ${((acksDone - t0) / 1000).toFixed(1)} s; waiting for the sink backlog to reach 0`);

    // Drain: influxd has as many points as were acked, and the gateway says backlog 0.
    const d = await waitDrained(gw, influx, probe, stats0?.pointsOk ?? 0, () => sh.stats.acked, E2E_DRAIN_LIMIT_S * 1000);
    alive = gw.alive;
    const { drained } = d;
    const drainAt = d.at;
    const lastHealth = d.health;
    sampling = false;
    await sampler;
    await sample();
    const cpu1 = gw.cpuS() ?? Number.NaN;
    const thr1 = readThreadCpuS(gw.pid);
    const inf1 = influx.cpuS() ?? Number.NaN;
    const bench1 = benchCpuS();
    const stats1 = await influx.httpd();
    const peakRssKb = gw.peakRssKb;
    gw.stopSampling();
    const heapNote = gw.tail.filter((l) => /"level":(40|50|60)/.test(l)).slice(-3);
    const totalS = ((drained ? drainAt : performance.now()) - t0) / 1000;

    progress(`drained: ${drained} after ${totalS.toFixed(1)} s; reading every point back from influxd`);
    const count = await influx.count(`device =~ ${DEVICE_RE}`);
    const scan = await influx.scan(sh.ledger.size);
    const loss = lossVsInflux(sh, scan.present);
    const infMem = influx.mem();
    const f = await finish(gw, sh, clients, { fromMs: wall0, toMs: Date.now() + 1 });

    // Steady state from influxd's counters: from 3 s in to the end of publishing.
    const inRun = ticks.filter((k) => k.influxOk !== null && k.t >= 3000 && k.t <= pubEnd - t0 + 500);
    let steady = Number.NaN;
    let perSecond: number[] = [];
    if (inRun.length >= 2) {
      const a = inRun[0]!;
      const b = inRun[inRun.length - 1]!;
      steady = (b.influxOk! - a.influxOk!) / ((b.t - a.t) / 1000);
      perSecond = inRun.slice(1).map((k, i) => (k.influxOk! - inRun[i]!.influxOk!) / ((k.t - inRun[i]!.t) / 1000));
    }
    // Backlog as seen from outside: acked − written to influxd (the gateway's own points make it a slight underestimate).
    const peakBacklog = Math.max(0, ...ticks.map((k) => k.acked - (k.influxOk ?? 0)));
    const drainRate = drained ? (loss.acked - (ticks.find((k) => k.t >= pubEnd - t0)?.influxOk ?? Number.NaN)) / ((drainAt - pubEnd) / 1000) : Number.NaN;
    const ackRate = ackedAtPubEnd / ((pubEnd - t0) / 1000);
    const e2eRate = loss.acked / totalS;
    const gwCpuS = cpu1 - cpu0;
    const infCpuS = inf1 - inf0;
    const threads = threadSplit(thr0, thr1, totalS);
    const benchPct = ((bench1 - bench0) / totalS) * 100;
    const writes = writeStats(stats0, stats1);
    const replayEvents = fw.events.filter((e) => e.msg === 'replaying backlog').length;
    const lossOk = drained && loss.missing === 0 && loss.acked > 0;
    const rateOk = drained && e2eRate >= TARGET.e2ePointsPerS;
    const lat = sh.latency.summary();

    const rows: Row[] = [
      {
        label: 'end-to-end (acked ÷ time until all in InfluxDB)',
        value: `${fmtInt(e2eRate)} points/s (${fmtInt(loss.acked)} acked points, first PUBLISH → backlog 0 in ${totalS.toFixed(1)} s)`,
        target: `≥ ${fmtInt(TARGET.e2ePointsPerS)} with zero loss`,
        pass: rateOk && lossOk,
      },
      {
        label: 'InfluxDB-side rate while publishing',
        value: Number.isFinite(steady)
          ? `${fmtInt(steady)} points/s (influxd pointsWrittenOK, ${((inRun[inRun.length - 1]!.t - inRun[0]!.t) / 1000).toFixed(0)} s from 3 s in; per second min ${fmtInt(Math.min(...perSecond))}, max ${fmtInt(Math.max(...perSecond))})`
          : 'n/a',
      },
      { label: 'MQTT accepted (PUBACKs/s) while publishing', value: `${fmtInt(ackRate)} msgs/s (PUBLISH→PUBACK p50 ${fmtMs(lat.p50Ms)}, p99 ${fmtMs(lat.p99Ms)})` },
      {
        label: 'sink backlog',
        value:
          `peak ${fmtInt(peakBacklog)} points (acked − in influxd, sampled 1/s); drain after publishing stopped ${fmtS(drained ? drainAt - pubEnd : null)}` +
          (drained ? (Number.isFinite(drainRate) && drainAt - pubEnd > 2000 ? ` at ${fmtInt(drainRate)} points/s (forwarder alone)` : '') : ` — NOT DRAINED within ${E2E_DRAIN_LIMIT_S} s (backlog ${fmtInt(lastHealth?.backlogPoints ?? Number.NaN)})`),
      },
      {
        label: 'LOSS: acked but not in InfluxDB',
        value: `${fmtInt(loss.missing)} (acked ${fmtInt(loss.acked)}; InfluxDB: count() ${fmtInt(count)}, points read back ${fmtInt(scan.points)} in ${fmtS(scan.ms)}, duplicates ${scan.duplicates}${loss.examples.length ? `; first missing seq ${loss.examples.join(', ')}` : ''})`,
        target: '0',
        pass: lossOk,
      },
      { label: 'influxd writes', value: writes?.text ?? 'n/a' },
      { label: 'gateway event-loop delay while publishing', value: fmtLoop(loopPub) },
      {
        label: 'gateway CPU',
        value: `${gwCpuS.toFixed(1)} s = ${pct(gwCpuS, totalS)} of one core over ${totalS.toFixed(1)} s (by thread: ${threads.text})`,
      },
      { label: 'gateway RSS', value: `peak sampled ${fmtMb(peakRssKb)}, VmHWM ${fmtMb(f.hwmKb)}` },
      {
        label: 'influxd CPU, RSS',
        value: `${infCpuS.toFixed(1)} s = ${pct(infCpuS, totalS)} of one core; RSS peak sampled ${fmtMb(infMem?.peakSampledKb)}, VmHWM ${fmtMb(infMem?.hwmKb)}`,
      },
      benchCpuRow(benchPct),
      {
        label: 'sink settings',
        value: `batchPoints ${fmtInt(forwarding.batchPoints)}, batchAgeMs ${forwarding.batchAgeMs}, replayPointsPerS ${fmtInt(forwarding.replayPointsPerS)} (unpaced), retry ${forwarding.retryMinMs}..${forwarding.retryMaxMs} ms; "replaying backlog" events ${replayEvents}; retries ${lastHealth?.retries ?? 'n/a'}, quarantined ${lastHealth?.quarantined ?? 'n/a'}`,
      },
      { label: 'GET /api/health (bench asks only at the end)', value: probe.text() },
      ...lossRows(sh, f, 1).map((r) => (r.label.startsWith('LOSS') ? { ...r, label: 'LOSS: acked but not in the SQLite store' } : r)),
    ];
    if (heapNote.length) rows.push({ label: 'gateway warnings (last)', value: heapNote.map((l) => l.slice(0, 200)).join(' | ') });
    if (!alive) rows.push({ label: 'GATEWAY EXITED DURING RUN', value: gw.describeFailure(), pass: false });
    return {
      name: 'e2e',
      title,
      ok: alive && drained && f.check !== null,
      rows,
      data: {
        connections: n,
        window: opts.window,
        offeredRate: opts.e2eRate || 'max',
        publishSeconds: round((pubEnd - t0) / 1000, 2),
        totalSeconds: round(totalS, 2),
        drained,
        drainAfterPublishS: drained ? round((drainAt - pubEnd) / 1000, 2) : null,
        e2ePointsPerS: Math.round(e2eRate),
        influxSteadyPointsPerS: Number.isFinite(steady) ? Math.round(steady) : null,
        influxPerSecond: perSecond.map((x) => Math.round(x)),
        mqttAckedPerS: Math.round(ackRate),
        latency: lat,
        peakBacklog,
        acked: loss.acked,
        influxCount: count,
        influxPointsRead: scan.points,
        influxDuplicates: scan.duplicates,
        lossInflux: loss.missing,
        lostExamples: loss.examples,
        influxWrites: writes && { requests: writes.requests, pointsPerRequest: writes.pointsPerRequest, msPerRequest: writes.msPerRequest },
        gatewayLoopDelayMs: loopPub,
        gatewayCpuS: round(gwCpuS, 2),
        gatewayCpuPct: round((gwCpuS / totalS) * 100),
        gatewayCpuPctByThread: threads.pct,
        gatewayPeakRssMb: round(peakRssKb / 1024),
        gatewayHwmMb: round((f.hwmKb ?? 0) / 1024),
        influxdCpuS: round(infCpuS, 2),
        influxdCpuPct: round((infCpuS / totalS) * 100),
        influxdHwmMb: round((infMem?.hwmKb ?? 0) / 1024),
        benchCpuPct: round(benchPct),
        forwarding,
        replayEvents,
        drainPointsPerS: Number.isFinite(drainRate) ? Math.round(drainRate) : null,
        healthMs: quantiles(probe.ms),
        timeline: ticks.map((k) => ({ t: round(k.t / 1000, 1), acked: k.acked, influx: k.influxOk, gwCpuS: round(k.gwCpuS, 2), influxdCpuS: round(k.infCpuS, 2) })),
        store: f.check,
        stats: sh.stats,
        stop: f.stop,
        gatewayAlive: alive,
        pass: { rate: rateOk, zeroLoss: lossOk },
      },
    };
  } finally {
    if (gw?.alive) await gw.stop();
    await influx.dispose();
  }
}

// ---------------------------------------------------------------------------
// replay
// ---------------------------------------------------------------------------

export async function scenarioReplay(env: Env): Promise<ScenarioResult> {
  const { opts } = env;
  const n = opts.replayDevices;
  const H = opts.replayHistoryS;
  const backlogTotal = n * H;
  const forwarding = { batchPoints: opts.sinkBatch, batchAgeMs: 1000, retryMinMs: 500, retryMaxMs: 2000, replayPointsPerS: opts.replayPace, timeoutMs: 10_000 };
  const outage = opts.replayCold
    ? 'influxd not started yet (no database: the gateway creates it once influxd is up)'
    : 'influxd stopped after the gateway had created its database';
  const title = `Replay after an outage: ${fmtInt(backlogTotal)} readings backlog (${n} devices × ${H} s at 1/s) while ${outage}; then influxd (re)starts while ${n} devices publish live at 1 msg/s; replayPointsPerS ${fmtInt(opts.replayPace)}, batchPoints ${fmtInt(opts.sinkBatch)}`;
  progress(title);
  const influx = await BenchInflux.create(opts);
  let gw: GatewayProc | null = null;
  try {
    if (!opts.replayCold) await influx.start();
    gw = await startGateway(env, 'replay', n, { log: { level: 'info' }, store: { maxBytes: 2 * 1024 ** 3 }, ...sinkConfig(influx.url, forwarding) });
    if (!opts.replayCold) {
      // The gateway creates the database at start and writes its first heartbeat; then the outage.
      const probe0 = new HealthProbe(gw);
      let ok = false;
      for (const deadline = performance.now() + 20_000; !ok && gw.alive && performance.now() < deadline; ) {
        ok = ((await probe0.get())?.pointsWritten ?? 0) > 0;
        if (!ok) await sleep(200);
      }
      if (!ok) progress('  (the gateway wrote nothing to influxd within 20 s; stopping influxd anyway)');
      await influx.stop();
      progress(`influxd stopped (outage); building the backlog`);
    }
    const fw = watchForwarder(gw);
    const sh = newShared(gw.mqttPort, 1, 60);
    const T0 = Date.now();
    const histStart = T0 - H * 1000;
    // Device time: message k < H is the reading of second k of the past hour (devices spread over the
    // second); from k = H on, live: now (strictly increasing per device).
    const clients = env.devices.slice(0, n).map((d, i) => {
      const phase = Math.floor((i * 1000) / n);
      let last = 0;
      return new Client(d, sh, 64, (k) => {
        if (k < H) return histStart + k * 1000 + phase;
        last = Math.max(Date.now(), last + 1);
        return last;
      });
    });
    // 1. The backlog, at max rate (influxd is down: everything stays in the spool).
    const window = 20;
    let backlogPhase = true;
    sh.onReady = (c) => {
      if (!backlogPhase) return;
      const k = Math.min(window - c.inflight, H - c.published);
      if (k > 0) c.publish(k);
    };
    const conn = await connectAll(clients, 50);
    if (conn.failed > 0) throw new Error(`${conn.failed}/${n} connections failed: ${conn.firstError}`);
    const b0 = performance.now();
    for (const c of clients) sh.onReady(c);
    let alive = await waitFor(() => sh.stats.acked >= backlogTotal, REPLAY_BACKLOG_LIMIT_S * 1000, gw);
    backlogPhase = false;
    const backlogS = (performance.now() - b0) / 1000;
    if (!alive) throw new Error(`backlog not acked within ${REPLAY_BACKLOG_LIMIT_S} s (${fmtInt(sh.stats.acked)}/${fmtInt(backlogTotal)}); ${gw.describeFailure()}`);
    const hBacklog = await new HealthProbe(gw).get();
    progress(
      `backlog of ${fmtInt(backlogTotal)} acked in ${backlogS.toFixed(1)} s (${fmtInt(backlogTotal / backlogS)} msgs/s); sink backlog ${fmtInt(hBacklog?.backlogPoints ?? Number.NaN)} points; gateway RSS ${fmtMb(readProcMem(gw.pid)?.rssKb)}`,
    );

    // 2. Live load: every device 1 msg/s (phases spread); publish times of the markers' messages kept.
    const markerEvery = Math.max(1, Math.floor(n / 25));
    const markers = clients.filter((_, i) => i % markerEvery === 0);
    const published = new Map<number, number>(); // seq → performance.now() at PUBLISH
    for (const m of markers) m.onPublish = (seq, k, at) => k >= H && published.set(seq, at);
    const liveStart = performance.now() + 50;
    clients.forEach((c, i) => (c.nextAt = liveStart + (i * 1000) / n));
    const tick = setInterval(() => {
      const now = performance.now();
      for (const c of clients) {
        if (now < c.nextAt) continue;
        c.nextAt += 1000;
        if (c.nextAt < now) c.nextAt = now + 1000;
        if (c.ready && c.inflight < 10) c.publish(1);
      }
    }, 5);
    alive = await runFor(3000, gw);

    // 3. influxd comes up.
    const g = gw;
    const cpu0 = g.cpuS() ?? 0;
    const thr0 = readThreadCpuS(g.pid);
    const bench0 = benchCpuS();
    const upAsked = performance.now();
    await influx.start();
    const up = performance.now();
    const inf0 = influx.cpuS() ?? 0;
    await loopDelay(g); // resets the event-loop delay histogram
    g.startSampling();
    progress(`influxd up on ${influx.url} after ${((up - upAsked) / 1000).toFixed(1)} s; replaying`);

    // The markers' live points influxd has, every 200 ms (first seen = time of the answer).
    const markerRe = `/^(${markers.map((m) => m.dev.id).join('|')})$/`;
    const visible = new Map<number, number>(); // seq → first seen (response time)
    let markerQueries = 0;
    let markerErrors = 0;
    let watching = true;
    const markerLoop = (async () => {
      while (watching) {
        const next = performance.now() + 200;
        try {
          const rows = await influx.inf.rows(`SELECT uptime_s FROM ${MEASUREMENT} WHERE device =~ ${markerRe} AND time >= ${T0}ms`, DB);
          const at = performance.now();
          markerQueries++;
          for (const r of rows) {
            const seq = Number(r['uptime_s']) - SEQ_BASE;
            if (!visible.has(seq)) visible.set(seq, at);
          }
        } catch {
          markerErrors++; // database not created yet, or influxd busy: try again
        }
        await sleep(Math.max(0, next - performance.now()));
      }
    })();
    // Drain: the forwarder logs when the lanes merge (log level info); influxd's counters once per
    // 250 ms for the rate; the gateway's health only every 5 s (each request is not free, see README).
    const probe = new HealthProbe(g);
    const timeline: { t: number; influxOk: number; backlog?: number; catchingUp?: boolean }[] = [];
    let firstWrite = Number.NaN;
    let drainEnd = Number.NaN;
    let lastHealthAt = performance.now();
    const drainDeadline = performance.now() + REPLAY_DRAIN_LIMIT_S * 1000;
    while (alive && performance.now() < drainDeadline) {
      const merge = fw.events.find((e) => e.msg.startsWith('backlog replayed'));
      if (merge) {
        drainEnd = merge.at;
        break;
      }
      const st = await influx.httpd();
      const t = performance.now();
      if (st) {
        if (Number.isNaN(firstWrite) && st.pointsOk > 0) firstWrite = t;
        timeline.push({ t: t - up, influxOk: st.pointsOk });
      }
      if (t - lastHealthAt > 5000) {
        lastHealthAt = t;
        const h = await probe.get();
        if (h) {
          Object.assign(timeline[timeline.length - 1] ?? {}, { backlog: h.backlogPoints, catchingUp: h.catchingUp });
          // Without the log line (never split, or another log format): caught up by the numbers.
          if (!h.catchingUp && h.pointsWritten >= backlogTotal && h.backlogPoints <= 2 * n + forwarding.batchPoints) {
            drainEnd = t;
            break;
          }
        }
        progress(
          `  ${((t - up) / 1000).toFixed(0)} s: influxd has ${fmtInt(st?.pointsOk ?? Number.NaN)} points; sink backlog ${fmtInt(h?.backlogPoints ?? Number.NaN)}, catching up ${h?.catchingUp}; live lag samples ${visible.size}`,
        );
      }
      await sleep(250);
      alive = g.alive;
    }
    const drained = Number.isFinite(drainEnd);
    const loopDrain = alive ? await loopDelay(g) : null;
    const writes = writeStats({ pointsOk: 0, writeReq: 0, writeReqBytes: 0, writeReqDurationNs: 0 }, await influx.httpd());
    const cpu1 = g.cpuS() ?? Number.NaN;
    const thr1 = readThreadCpuS(g.pid);
    const inf1 = influx.cpuS() ?? Number.NaN;
    const bench1 = benchCpuS();
    const drainS = (drainEnd - up) / 1000;
    const replaySpanS = (drainEnd - firstWrite) / 1000;
    const writtenAtDrain = timeline.filter((x) => x.t + up <= drainEnd).at(-1)?.influxOk ?? Number.NaN;
    progress(drained ? `backlog drained ${drainS.toFixed(1)} s after influxd came up; live load for ${opts.replayAfterS} s more` : `NOT drained within ${REPLAY_DRAIN_LIMIT_S} s`);

    // 4. Live load after the merge, then stop and let everything reach InfluxDB.
    if (alive && drained) alive = await runFor(opts.replayAfterS * 1000, g);
    clearInterval(tick);
    if (alive) await waitFor(() => clients.every((c) => c.inflight <= 0 || !c.ready), 10_000, g);
    const settle = alive ? await waitDrained(g, influx, probe, 0, () => sh.stats.acked, 60_000) : null;
    const settled = settle?.drained ?? false;
    alive = g.alive;
    await sleep(400); // one more marker sample
    watching = false;
    await markerLoop;
    const peakRssKb = g.peakRssKb;
    g.stopSampling();
    const lastHealth = settle?.health ?? (await probe.get());

    // Lag of the markers' live readings published after influxd was up.
    // Those published after influxd was up but before the forwarder split the backlog (it was
    // still in its retry backoff) are part of the backlog lane: counted, and shown apart.
    const splitAt = fw.events.find((e) => e.msg === 'replaying backlog')?.at ?? Number.NaN;
    const during: number[] = [];
    const duringAfterSplit: number[] = [];
    const after: number[] = [];
    let notSeen = 0;
    let whileDown = 0;
    let overTarget = 0;
    let overTargetBeforeSplit = 0;
    for (const [seq, at] of published) {
      if (at < up) {
        whileDown++;
        continue;
      }
      const v = visible.get(seq);
      if (v === undefined) {
        notSeen++; // everything was in influxd when watching stopped (unless the settle timed out)
        continue;
      }
      const lag = v - at;
      if (at < drainEnd) {
        during.push(lag);
        if (at >= splitAt) duringAfterSplit.push(lag);
        if (lag > TARGET.replayLiveLagP95S * 1000) {
          overTarget++;
          if (at < splitAt) overTargetBeforeSplit++;
        }
      } else after.push(lag);
    }
    const lagDuring = quantiles(during);
    const lagAfterSplit = quantiles(duringAfterSplit);
    const lagAfter = quantiles(after);

    progress(`reading every point back from influxd`);
    const countBacklog = await influx.count(`device =~ ${DEVICE_RE} AND time < ${T0}ms`);
    const countAll = await influx.count(`device =~ ${DEVICE_RE}`);
    const scan = await influx.scan(sh.ledger.size);
    const loss = lossVsInflux(sh, scan.present);
    const infMem = influx.mem();
    const f = await finish(g, sh, clients, { fromMs: T0, toMs: Date.now() + 1 });

    const gwCpuS = cpu1 - cpu0;
    const infCpuS = inf1 - inf0;
    const threads = threadSplit(thr0, thr1, drainS);
    const benchPct = ((bench1 - bench0) / drainS) * 100;
    const replayEvent = fw.events.find((e) => e.msg === 'replaying backlog');
    const drainOk = drained && drainS < TARGET.replayDrainS;
    const lagOk = lagDuring.n > 0 && lagDuring.p95! / 1000 < TARGET.replayLiveLagP95S && notSeen === 0;
    const lossOk = settled && loss.missing === 0 && loss.acked > 0;
    const lagText = (q: ReturnType<typeof quantiles>) =>
      q.n ? `p50 ${fmtS(q.p50)}, p95 ${fmtS(q.p95)}, max ${fmtS(q.max)} (${q.n} readings of ${markers.length} marker devices)` : 'n/a (no samples)';

    const rows: Row[] = [
      { label: 'backlog built (influxd down)', value: `${fmtInt(backlogTotal)} readings acked in ${backlogS.toFixed(1)} s (${fmtInt(backlogTotal / backlogS)} msgs/s); sink backlog ${fmtInt(hBacklog?.backlogPoints ?? Number.NaN)} points` },
      {
        label: `backlog drained (influxd ${opts.replayCold ? 'up' : 'back'} → lanes merged)`,
        value: drained
          ? `${drainS.toFixed(1)} s (influxd start took ${fmtS(up - upAsked)} before that; first write ${fmtS(firstWrite - up)} after up; backlog split at ${fmtInt(replayEvent?.backlog ?? Number.NaN)} points)`
          : `NOT within ${REPLAY_DRAIN_LIMIT_S} s`,
        target: `< ${TARGET.replayDrainS} s`,
        pass: drainOk,
      },
      {
        label: 'replay rate',
        value: drained
          ? `${fmtInt(backlogTotal / drainS)} points/s over the drain; ${fmtInt(writtenAtDrain / replaySpanS)} points/s written (backlog + live) from the first write (replayPointsPerS ${fmtInt(opts.replayPace)})`
          : 'n/a',
      },
      {
        label: 'live lag during replay (visible in InfluxDB − PUBLISH)',
        value:
          `${lagText(lagDuring)}; sampled every 200 ms; ${overTarget} over ${TARGET.replayLiveLagP95S} s` +
          (overTarget ? ` (${overTargetBeforeSplit} of them published before the backlog split, ${fmtS(splitAt - up)} after influxd was up: queued behind the backlog)` : '') +
          (notSeen ? `; ${notSeen} NEVER SEEN` : ''),
        target: `p95 < ${TARGET.replayLiveLagP95S} s`,
        pass: lagOk,
      },
      { label: 'live lag after the merge', value: `${lagText(lagAfter)} (batchAgeMs ${forwarding.batchAgeMs})` },
      {
        label: 'live lag, published after the split',
        value: `${lagText(lagAfterSplit)} (without those queued behind the backlog)`,
      },
      { label: 'live readings published while influxd was down', value: `${whileDown} marker readings (not in the lag figures: they are part of the backlog)` },
      {
        label: 'LOSS: acked but not in InfluxDB',
        value: `${fmtInt(loss.missing)} (acked ${fmtInt(loss.acked)}; InfluxDB: ${fmtInt(countAll)} points, ${fmtInt(countBacklog)} of them stamped before the live phase; read back ${fmtInt(scan.points)} in ${fmtS(scan.ms)}, duplicates ${scan.duplicates}${loss.examples.length ? `; first missing seq ${loss.examples.join(', ')}` : ''})`,
        target: '0',
        pass: lossOk,
      },
      { label: 'influxd writes until the merge', value: writes?.text ?? 'n/a' },
      { label: 'gateway event-loop delay during the drain', value: fmtLoop(loopDrain) },
      { label: 'gateway CPU during the drain', value: `${gwCpuS.toFixed(1)} s = ${pct(gwCpuS, drainS)} of one core (by thread: ${threads.text})` },
      { label: 'gateway RSS', value: `peak sampled during drain ${fmtMb(peakRssKb)}, VmHWM ${fmtMb(f.hwmKb)}` },
      { label: 'influxd CPU during the drain, RSS', value: `${infCpuS.toFixed(1)} s = ${pct(infCpuS, drainS)} of one core; RSS peak sampled ${fmtMb(infMem?.peakSampledKb)}, VmHWM ${fmtMb(infMem?.hwmKb)}` },
      benchCpuRow(benchPct),
      {
        label: 'sink settings',
        value: `replayPointsPerS ${fmtInt(forwarding.replayPointsPerS)}, batchPoints ${fmtInt(forwarding.batchPoints)}, batchAgeMs ${forwarding.batchAgeMs}, retry ${forwarding.retryMinMs}..${forwarding.retryMaxMs} ms; store.maxBytes 2 GiB; retries ${lastHealth?.retries ?? 'n/a'} (last error: ${lastHealth?.lastError ?? 'none'}), quarantined ${lastHealth?.quarantined ?? 'n/a'}; marker queries ${markerQueries} (${markerErrors} failed)`,
      },
      { label: 'GET /api/health (bench asks every 5 s)', value: probe.text() },
      ...lossRows(sh, f, 1).map((r) => (r.label.startsWith('LOSS') ? { ...r, label: 'LOSS: acked but not in the SQLite store' } : r)),
    ];
    if (!alive) rows.push({ label: 'GATEWAY EXITED DURING RUN', value: g.describeFailure(), pass: false });
    return {
      name: 'replay',
      title,
      ok: alive && drained && settled && f.check !== null,
      rows,
      data: {
        devices: n,
        historyS: H,
        backlogReadings: backlogTotal,
        backlogBuildS: round(backlogS, 2),
        backlogBuildPerS: Math.round(backlogTotal / backlogS),
        sinkBacklogAtStart: hBacklog?.backlogPoints ?? null,
        influxStartS: round((up - upAsked) / 1000, 2),
        firstWriteAfterUpS: round((firstWrite - up) / 1000, 2),
        drained,
        drainS: drained ? round(drainS, 2) : null,
        replayPointsPerS: drained ? Math.round(backlogTotal / drainS) : null,
        writtenPerSFromFirstWrite: drained ? Math.round(writtenAtDrain / replaySpanS) : null,
        splitBacklog: replayEvent?.backlog ?? null,
        liveLagDuringReplayMs: lagDuring,
        liveLagAfterMergeMs: lagAfter,
        liveLagAfterSplitMs: lagAfterSplit,
        influxWrites: writes && { requests: writes.requests, pointsPerRequest: writes.pointsPerRequest, msPerRequest: writes.msPerRequest },
        gatewayLoopDelayMs: loopDrain,
        liveNeverSeen: notSeen,
        liveOverTarget: overTarget,
        liveOverTargetPublishedBeforeSplit: overTargetBeforeSplit,
        splitAfterUpS: round((splitAt - up) / 1000, 2),
        markers: markers.length,
        acked: loss.acked,
        influxCount: countAll,
        influxCountBacklog: countBacklog,
        influxPointsRead: scan.points,
        lossInflux: loss.missing,
        lostExamples: loss.examples,
        gatewayCpuS: round(gwCpuS, 2),
        gatewayCpuPct: round((gwCpuS / drainS) * 100),
        gatewayCpuPctByThread: threads.pct,
        gatewayPeakRssMb: round(peakRssKb / 1024),
        gatewayHwmMb: round((f.hwmKb ?? 0) / 1024),
        influxdCpuS: round(infCpuS, 2),
        influxdCpuPct: round((infCpuS / drainS) * 100),
        influxdHwmMb: round((infMem?.hwmKb ?? 0) / 1024),
        benchCpuPct: round(benchPct),
        forwarding,
        forwarderEvents: fw.events.map((e) => ({ ...e, at: undefined, t: round((e.at - up) / 1000, 2) })),
        lastSinkError: lastHealth?.lastError ?? null,
        healthMs: quantiles(probe.ms),
        timeline: timeline.filter((_, i) => i % 4 === 0).map((x) => ({ ...x, t: round(x.t / 1000, 1) })),
        store: f.check,
        stats: sh.stats,
        stop: f.stop,
        gatewayAlive: alive,
        pass: { drain: drainOk, lag: lagOk, zeroLoss: lossOk },
      },
    };
  } finally {
    if (gw?.alive) await gw.stop();
    await influx.dispose();
  }
}
