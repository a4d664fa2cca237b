/**
 * Shared machinery of the benchmarks (bench/ingest.ts is the entry point): options,
 * cleanup on every way out, /proc readers, the gateway child process, the raw MQTT
 * load generator (Client), the ledger of sequence numbers, result rows.
 */
import Database from 'better-sqlite3';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate, parser as mqttParser, type Packet } from 'mqtt-packet';
import { stringify as stringifyYaml } from 'yaml';
import { hashPassword } from '../gateway/credentials.js';

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

export const SCENARIOS = ['qos1', 'qos0', 'connections', 'realistic', 'e2e', 'replay'] as const;
/** What `--scenario all` (and `npm run bench`) runs: the MQTT-only ones; e2e and replay need influxd. */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = ['qos1', 'qos0', 'connections', 'realistic'];
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Options {
  scenarios: ScenarioName[];
  seconds: number;
  warmupSeconds: number;
  connections: number;
  window: number;
  devices: number;
  idleSeconds: number;
  realisticDevices: number;
  realisticSeconds: number;
  /** e2e and replay (bench/sink.ts): the bench sink's forwarding.batchPoints. */
  sinkBatch: number;
  e2eSeconds: number;
  /** Offered msgs/s of the e2e run; 0 = max rate (closed loop, connections × window in flight). */
  e2eRate: number;
  replayPace: number;
  replayDevices: number;
  replayHistoryS: number;
  /** Live load kept up after the backlog drained, seconds. */
  replayAfterS: number;
  /** replay: influxd not started before the backlog (instead of an outage of a running one). */
  replayCold: boolean;
  influxd: string | undefined;
  durability: 'power-safe' | 'crash-safe' | undefined;
  gatewayProf: string | undefined;
  gatewayNodeArgs: string[];
  gatewayMain: string;
  json: boolean;
}

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

export const HERE = fileURLToPath(new URL('.', import.meta.url));
/** dist/bench/ingest.js → dist/gateway/main.js */
export const MAIN_JS = resolve(HERE, '..', 'gateway', 'main.js');
/** uptime_s = SEQ_BASE + seq: always ten ASCII digits, patched in place in the template. */
export const SEQ_BASE = 1_000_000_000;
export const SEQ_DIGITS = 10;
/** A device timestamp `ts` (epoch ms) is thirteen digits from 2001 to 2286: patched in place like the sequence. */
export const TS_PLACEHOLDER = 1_000_000_000_000;
export const TS_DIGITS = 13;
/** Hard cap on messages per scenario (the ledger costs one byte per message). */
export const MAX_MESSAGES = 200_000_000;
/** Cheap scrypt for the bench devices (as the demo's): logins are not what is measured. */
export const BENCH_SCRYPT = { N: 1024, r: 8, p: 1 };
export const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();
/** Targets (printed next to the figures). */
export const TARGET = {
  qos1Rate: 30_000,
  connRssMb: 150,
  realisticCpuPct: 5,
  realisticRssMb: 100,
  e2ePointsPerS: 30_000,
  replayDrainS: 120,
  replayLiveLagP95S: 5,
};

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const MB = 1024 * 1024;

let quiet = false;
export function setQuiet(q: boolean): void {
  quiet = q;
}
export function progress(msg: string): void {
  if (!quiet) process.stderr.write(`[bench] ${msg}\n`);
}

// ---------------------------------------------------------------------------
// Cleanup (temp dir, child processes) on every way out
// ---------------------------------------------------------------------------

export const children = new Set<ChildProcess>();
/** Other temp dirs to remove on the way out (influxd's). */
export const extraDirs = new Set<string>();
let tmpRoot: string | null = null;

export function cleanupSync(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const d of extraDirs) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  extraDirs.clear();
  if (tmpRoot) {
    try {
      rmSync(tmpRoot, { recursive: true, force: true });
    } catch {
      // best effort
    }
    tmpRoot = null;
  }
}

export function fatal(msg: string, code = 2): never {
  process.stderr.write(`[bench] ERROR: ${msg}\n`);
  cleanupSync();
  process.exit(code);
}

process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`[bench] ${sig}: stopping the gateway${extraDirs.size ? ' and influxd' : ''}, removing ${tmpRoot ?? 'the temp dir'}\n`);
    cleanupSync();
    process.exit(130);
  });
}
process.on('uncaughtException', (err) => fatal(`uncaught: ${err.stack ?? err.message}`));
process.on('unhandledRejection', (err) => fatal(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`));

// ---------------------------------------------------------------------------
// Machine and /proc
// ---------------------------------------------------------------------------

export interface Machine {
  cpuModel: string;
  cores: number;
  node: string;
  kernel: string;
  memGb: number;
  clkTck: number;
  tmpdir: string;
}

export function machine(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpuModel = m[1].trim();
  } catch {
    // not Linux
  }
  return {
    cpuModel,
    cores: availableParallelism(),
    node: process.version,
    kernel: release(),
    memGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    clkTck: CLK_TCK,
    tmpdir: tmpdir(),
  };
}

export interface ProcMem {
  rssKb: number;
  hwmKb: number;
}

export function readProcMem(pid: number): ProcMem | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)/m.exec(s);
    const hwm = /^VmHWM:\s+(\d+)/m.exec(s);
    return { rssKb: Number(rss?.[1] ?? 0), hwmKb: Number(hwm?.[1] ?? 0) };
  } catch {
    return null;
  }
}

/** utime + stime of a process in seconds (all its threads: libuv pool, GC helpers). */
export function readProcCpuS(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14, stime field 15
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** CPU seconds per thread group of a process: "main" (the event loop), else the thread name (V8 GC helpers, libuv pool). */
export function readThreadCpuS(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
      const key = tid === String(pid) ? 'main' : comm.replace(/\d+$/, '').trim() || comm;
      out.set(key, (out.get(key) ?? 0) + (Number(rest[11]) + Number(rest[12])) / CLK_TCK);
    } catch {
      // thread exited
    }
  }
  return out;
}

/** "main 3.1 %, V8 DefaultWorke 0.8 %, …" of the CPU used between two readThreadCpuS() readings. */
export function threadSplit(a: Map<string, number>, b: Map<string, number>, seconds: number): { text: string; pct: Record<string, number> } {
  const pct: Record<string, number> = {};
  for (const [k, v] of b) {
    const d = v - (a.get(k) ?? 0);
    if (d > 0) pct[k] = Math.round((d / seconds) * 1000) / 10;
  }
  const text = Object.entries(pct)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v.toFixed(1)} %`)
    .join(', ');
  return { text: text || 'n/a', pct };
}

export function benchCpuS(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// ---------------------------------------------------------------------------
// Config and gateway child process
// ---------------------------------------------------------------------------

export interface BenchDevice {
  id: string;
  password: string;
  topic: string;
}

export interface Env {
  opts: Options;
  root: string;
  devices: BenchDevice[];
  /** devices[] of the config (with hashes), shared by every scenario's config. */
  deviceConfig: Record<string, unknown>[];
  hamlets: { id: string; name: string }[];
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export function buildEnv(opts: Options): Env {
  const n = Math.max(1024, opts.connections, opts.devices, opts.realisticDevices, opts.replayDevices);
  const hamlets = Array.from({ length: 8 }, (_, i) => ({ id: `ap-${String(i + 1).padStart(2, '0')}`, name: `Ấp ${i + 1}` }));
  const devices: BenchDevice[] = [];
  const deviceConfig: Record<string, unknown>[] = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const id = `bench-${String(i).padStart(4, '0')}`;
    const password = `bench-pw-${i}`;
    devices.push({ id, password, topic: `ce/${id}/telemetry` });
    deviceConfig.push({
      id,
      name: `Bench UPS ${i}`,
      kind: 'power',
      hamlet: hamlets[i % hamlets.length]!.id,
      role: 'hamlet',
      passwordHash: hashPassword(password, BENCH_SCRYPT),
    });
  }
  progress(`${n} bench devices (kind power), scrypt N=${BENCH_SCRYPT.N} hashes in ${Math.round(performance.now() - started)} ms`);
  const root = mkdtempSync(join(tmpdir(), 'commune-edge-bench-'));
  tmpRoot = root;
  return { opts, root, devices, deviceConfig, hamlets };
}

export class GatewayProc {
  readonly tail: string[] = [];
  warnings = 0;
  errors = 0;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private sampler: NodeJS.Timeout | null = null;
  peakRssKb = 0;
  /** Called with every output line (the scenarios watch for log events). */
  readonly lineListeners: ((line: string) => void)[] = [];

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly mqttPort: number,
    readonly httpPort: number,
    readonly dataDir: string,
  ) {
    const onLine = (line: string) => {
      if (!line.trim()) return;
      for (const l of this.lineListeners) l(line);
      this.tail.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
      if (this.tail.length > 40) this.tail.shift();
      const lvl = /"level":(\d+)/.exec(line);
      if (lvl) {
        const l = Number(lvl[1]);
        if (l >= 50) this.errors++;
        else if (l >= 40) this.warnings++;
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
        if (buf.length > 65536) buf = buf.slice(-4096);
      });
    }
    this.exited = new Promise((res) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        children.delete(child);
        this.stopSampling();
        res({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  get dbPath(): string {
    return join(this.dataDir, 'commune-edge.db');
  }

  mem(): ProcMem | null {
    return readProcMem(this.pid);
  }

  cpuS(): number | null {
    return readProcCpuS(this.pid);
  }

  /** Sample VmRSS every 100 ms (peak of the sampled RSS; VmHWM is the kernel's exact peak). */
  startSampling(): void {
    this.stopSampling();
    this.peakRssKb = 0;
    this.sampler = setInterval(() => {
      const m = this.mem();
      if (m && m.rssKb > this.peakRssKb) this.peakRssKb = m.rssKb;
    }, 100);
  }

  stopSampling(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
  }

  /** SIGTERM (clean stop: inputs closed, group commit flushed), SIGKILL after 30 s. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; clean: boolean }> {
    const t = performance.now();
    if (!this.alive) return { ...this.exitInfo!, ms: 0, clean: false };
    this.child.kill('SIGTERM');
    const timeout = sleep(30_000).then(() => null);
    const r = await Promise.race([this.exited, timeout]);
    if (r) return { ...r, ms: Math.round(performance.now() - t), clean: r.code === 0 };
    this.child.kill('SIGKILL');
    const k = await this.exited;
    return { ...k, ms: Math.round(performance.now() - t), clean: false };
  }

  describeFailure(): string {
    return `gateway "${this.name}" (pid ${this.pid}) exit=${JSON.stringify(this.exitInfo)}; last output:\n  ${this.tail.slice(-15).join('\n  ')}`;
  }
}

/** A gateway whose inventory is the first `deviceCount` bench devices. */
export async function startGateway(
  env: Env,
  name: string,
  deviceCount: number,
  /** Top-level config sections merged over the bench's (e.g. `sinks`, `store`, `log`). */
  extraConfig: Record<string, unknown> = {},
): Promise<GatewayProc> {
  const dir = join(env.root, name);
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const config: Record<string, unknown> = {
    commune: { code: '99998', name: 'Xã Bench (BENCHMARK)', province: { code: '75', name: 'Đồng Nai' } },
    gateway: { id: 'gw-bench', dataDir },
    log: { level: 'warn' },
    hamlets: env.hamlets,
    mqtt: {
      mode: 'embedded',
      host: '127.0.0.1',
      port: mqttPort,
      // The per-client limiter would throttle a bench connection at 100 msgs/s.
      rateLimit: { msgsPerS: 1_000_000_000, burst: 1_000_000_000 },
    },
    devices: env.deviceConfig.slice(0, deviceCount),
    // /metrics without a token, so the bench can read the gateway's heap figures.
    api: { host: '127.0.0.1', port: httpPort, metricsRequireToken: false },
  };
  if (env.opts.durability) config['store'] = { durability: env.opts.durability };
  for (const [k, v] of Object.entries(extraConfig)) {
    const cur = config[k];
    config[k] = cur && typeof cur === 'object' && v && typeof v === 'object' && !Array.isArray(v) ? { ...cur, ...v } : v;
  }
  const file = join(dir, 'bench.yaml');
  writeFileSync(file, stringifyYaml(config));

  // The gateway's own node flags live in its shebang (`#!/usr/bin/env -S node ...`): run it as a user would.
  const shebang = parseShebang(env.opts.gatewayMain);
  const nodeArgs: string[] = [...shebang.nodeFlags, ...env.opts.gatewayNodeArgs];
  if (env.opts.gatewayProf) {
    mkdirSync(env.opts.gatewayProf, { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', env.opts.gatewayProf, '--cpu-prof-name', `gateway-${name}-${Date.now()}.cpuprofile`);
  }
  const child = spawn(process.execPath, [...nodeArgs, env.opts.gatewayMain, 'start', '-c', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...shebang.env, LOG_FORMAT: 'json' },
  });
  children.add(child);
  const gw = new GatewayProc(name, child, mqttPort, httpPort, dataDir);
  child.once('error', (err) => gw.tail.push(`[spawn error] ${err.message}`));

  const deadline = performance.now() + 60_000;
  for (;;) {
    if (!gw.alive) throw new Error(`gateway did not start: ${gw.describeFailure()}`);
    if (performance.now() > deadline) {
      await gw.stop();
      throw new Error(`gateway did not answer /api/health within 60 s: ${gw.describeFailure()}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/api/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        await res.arrayBuffer();
        break;
      }
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return gw;
}

// ---------------------------------------------------------------------------
// Measurement helpers
// ---------------------------------------------------------------------------

/** Log-bucketed latency histogram (1 % resolution), bounded memory whatever the count. */
export class Histogram {
  private static readonly LOG_R = Math.log(1.01);
  private readonly counts = new Float64Array(2600);
  n = 0;
  max = 0;
  sum = 0;

  add(ms: number): void {
    const us = ms * 1000;
    let i = us <= 1 ? 0 : Math.floor(Math.log(us) / Histogram.LOG_R);
    if (i >= this.counts.length) i = this.counts.length - 1;
    this.counts[i]!++;
    this.n++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** Upper edge of the bucket holding quantile q, in ms (≤ 1 % above the true value). */
  quantile(q: number): number | null {
    if (this.n === 0) return null;
    const target = Math.max(1, Math.ceil(q * this.n));
    let cum = 0;
    for (let i = 0; i < this.counts.length; i++) {
      cum += this.counts[i]!;
      if (cum >= target) return Math.min(this.max, Math.exp((i + 1) * Histogram.LOG_R) / 1000);
    }
    return this.max;
  }

  summary(): { n: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null; meanMs: number | null } {
    return {
      n: this.n,
      p50Ms: round(this.quantile(0.5), 2),
      p99Ms: round(this.quantile(0.99), 2),
      maxMs: this.n ? round(this.max, 2) : null,
      meanMs: this.n ? round(this.sum / this.n, 2) : null,
    };
  }
}

/** One byte per message: 1 sent, 2 acknowledged. */
export class Ledger {
  state = new Uint8Array(1 << 20);
  size = 0;

  next(): number {
    if (this.size === this.state.length) {
      const bigger = new Uint8Array(this.state.length * 2);
      bigger.set(this.state);
      this.state = bigger;
    }
    this.state[this.size] = 1;
    return this.size++;
  }

  get full(): boolean {
    return this.size >= MAX_MESSAGES;
  }

  ack(seq: number): boolean {
    if (seq < 0 || seq >= this.size || this.state[seq] !== 1) return false;
    this.state[seq] = 2;
    return true;
  }
}

export interface Stats {
  sent: number;
  acked: number;
  /** PUBACKs inside the measured window. */
  ackedInWindow: number;
  sentInWindow: number;
  connects: number;
  reconnects: number;
  /** Connections the gateway closed (or that failed) while the bench still wanted them. */
  disconnects: number;
  connackRefused: number;
  connectTimeouts: number;
  /** QoS 1 messages in flight on a connection when it closed (never acked). */
  unackedAtClose: number;
  strayAcks: number;
  pingresps: number;
  errors: Record<string, number>;
}

export function newStats(): Stats {
  return {
    sent: 0,
    acked: 0,
    ackedInWindow: 0,
    sentInWindow: 0,
    connects: 0,
    reconnects: 0,
    disconnects: 0,
    connackRefused: 0,
    connectTimeouts: 0,
    unackedAtClose: 0,
    strayAcks: 0,
    pingresps: 0,
    errors: {},
  };
}

export interface Shared {
  port: number;
  qos: 0 | 1;
  keepalive: number;
  ledger: Ledger;
  stats: Stats;
  latency: Histogram;
  connackLatency: Histogram;
  /** Latencies and counts go to the window figures only while true. */
  measuring: boolean;
  /** Reconnect a connection the gateway closed. */
  reconnect: boolean;
  /** Called after a chunk with acks was processed and after CONNACK (max-rate driver). */
  onReady?: (c: Client) => void;
}

export const PINGREQ = generate({ cmd: 'pingreq' });
export const DISCONNECT = generate({ cmd: 'disconnect' });

/**
 * One device's MQTT 3.1.1 connection. PUBLISH packets are a template made once by
 * mqtt-packet's generate(); per message only the message id and the ten sequence
 * digits are patched.
 */
export class Client {
  socket: Socket | null = null;
  ready = false;
  /** The bench is done with it: a close is expected. */
  stopped = false;
  inflight = 0;
  /** For the periodic driver. */
  nextAt = 0;
  /** PUBLISHes written by this client (k of the next one). */
  published = 0;
  /** Called per PUBLISH written (global sequence, k of this client, performance.now()). */
  onPublish: ((seq: number, k: number, at: number) => void) | null = null;
  private readonly tpl: Buffer;
  private readonly idOff: number;
  private readonly seqOff: number;
  /** Offset of the 13 digits of the device timestamp `ts` (epoch ms), -1 without one. */
  private readonly tsOff: number;
  private readonly slots: number;
  private readonly sentAt: Float64Array;
  private readonly seqOf: Float64Array;
  private nextSlot = 0;
  private connackWait: { resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout; at: number } | null = null;

  constructor(
    readonly dev: BenchDevice,
    private readonly sh: Shared,
    window: number,
    /**
     * Device timestamp (epoch ms) of this client's k-th message (k from 0): the
     * payload then carries `ts` (the gateway's default timestamp path), patched in
     * per message like the sequence number. Without it, no `ts`: the gateway stamps.
     */
    private readonly stamp?: (k: number) => number,
  ) {
    const body = { mains_ok: true, on_battery: false, battery_pct: 100, load_pct: 35, input_v: 228, output_v: 230, uptime_s: SEQ_BASE };
    const payload = Buffer.from(JSON.stringify(stamp ? { ts: TS_PLACEHOLDER, ...body } : body));
    // Located by their keys: the ts placeholder's digits contain SEQ_BASE's.
    const digitsAt = payload.indexOf(`"uptime_s":${SEQ_BASE}`) + '"uptime_s":'.length;
    const tsAt = stamp ? payload.indexOf(`"ts":${TS_PLACEHOLDER}`) + '"ts":'.length : -1;
    if (sh.qos === 1) {
      this.tpl = generate({ cmd: 'publish', qos: 1, dup: false, retain: false, topic: dev.topic, payload, messageId: 0x7e7e });
    } else {
      this.tpl = generate({ cmd: 'publish', qos: 0, dup: false, retain: false, topic: dev.topic, payload });
    }
    const payloadOff = this.tpl.length - payload.length;
    this.seqOff = payloadOff + digitsAt;
    this.tsOff = tsAt >= 0 ? payloadOff + tsAt : -1;
    this.idOff = payloadOff - 2; // QoS 1: message id just before the payload
    if (sh.qos === 1 && this.tpl.readUInt16BE(this.idOff) !== 0x7e7e) throw new Error('unexpected PUBLISH layout');
    // Message ids cycle through `slots` values; the window stays well below it.
    let slots = 64;
    while (slots < window * 4 && slots < 32768) slots *= 2;
    this.slots = slots;
    this.sentAt = new Float64Array(sh.qos === 1 ? slots : 0);
    this.seqOf = new Float64Array(sh.qos === 1 ? slots : 0).fill(-1);
  }

  get packetBytes(): number {
    return this.tpl.length;
  }

  connect(timeoutMs = 30_000): Promise<void> {
    return new Promise((resolveConnect, rejectConnect) => {
      const at = performance.now();
      const socket = netConnect({ host: '127.0.0.1', port: this.sh.port });
      this.socket = socket;
      socket.setNoDelay(true);
      const parser = mqttParser({ protocolVersion: 4 });
      const timer = setTimeout(() => {
        this.sh.stats.connectTimeouts++;
        this.connackWait = null;
        socket.destroy();
        rejectConnect(new Error(`${this.dev.id}: no CONNACK within ${timeoutMs} ms`));
      }, timeoutMs);
      this.connackWait = { resolve: resolveConnect, reject: rejectConnect, timer, at };
      parser.on('packet', (p: Packet) => this.onPacket(p));
      parser.on('error', (err: Error) => {
        this.countError(`parse: ${err.message}`);
        socket.destroy();
      });
      socket.on('data', (chunk: Buffer) => {
        this.now = performance.now();
        this.acksInChunk = 0;
        parser.parse(chunk);
        if (this.acksInChunk > 0 && this.ready) this.sh.onReady?.(this);
      });
      socket.on('error', (err: NodeJS.ErrnoException) => this.countError(err.code ?? err.message));
      socket.on('close', () => this.onClose(socket));
      socket.write(
        generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          clientId: `bench-${this.dev.id}`,
          keepalive: this.sh.keepalive,
          username: this.dev.id,
          password: Buffer.from(this.dev.password),
        }),
      );
    });
  }

  private now = 0;
  private acksInChunk = 0;

  private onPacket(p: Packet): void {
    if (p.cmd === 'puback') {
      this.acksInChunk++;
      this.onPuback(p.messageId ?? 0);
    } else if (p.cmd === 'connack') {
      const w = this.connackWait;
      if (!w) return;
      this.connackWait = null;
      clearTimeout(w.timer);
      if (p.returnCode === 0) {
        this.ready = true;
        this.sh.stats.connects++;
        this.sh.connackLatency.add(performance.now() - w.at);
        w.resolve();
        this.sh.onReady?.(this);
      } else {
        this.sh.stats.connackRefused++;
        w.reject(new Error(`${this.dev.id}: CONNACK return code ${p.returnCode}`));
        this.socket?.destroy();
      }
    } else if (p.cmd === 'pingresp') {
      this.sh.stats.pingresps++;
    }
  }

  private onPuback(id: number): void {
    const slot = id - 1;
    const seq = slot >= 0 && slot < this.slots ? this.seqOf[slot]! : -1;
    if (seq < 0) {
      this.sh.stats.strayAcks++;
      return;
    }
    this.seqOf[slot] = -1;
    this.inflight--;
    const { sh } = this;
    if (!sh.ledger.ack(seq)) {
      sh.stats.strayAcks++;
      return;
    }
    sh.stats.acked++;
    if (sh.measuring) {
      sh.stats.ackedInWindow++;
      sh.latency.add(this.now - this.sentAt[slot]!);
    }
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    const w = this.connackWait;
    if (w) {
      this.connackWait = null;
      clearTimeout(w.timer);
      w.reject(new Error(`${this.dev.id}: connection closed before CONNACK`));
    }
    const wasReady = this.ready;
    this.ready = false;
    this.socket = null;
    if (this.inflight > 0) {
      this.sh.stats.unackedAtClose += this.inflight;
      this.seqOf.fill(-1);
      this.inflight = 0;
    }
    if (this.stopped) return;
    if (wasReady) this.sh.stats.disconnects++;
    if (this.sh.reconnect) {
      setTimeout(() => {
        if (this.stopped || this.socket) return;
        this.sh.stats.reconnects++;
        this.connect().catch((err: Error) => this.countError(`reconnect: ${err.message.replace(/^\S+: /, '')}`));
      }, 250);
    }
  }

  private countError(key: string): void {
    if (this.stopped) return;
    this.sh.stats.errors[key] = (this.sh.stats.errors[key] ?? 0) + 1;
  }

  /** Write n PUBLISHes in one buffer; returns socket.write()'s backpressure flag. */
  publish(n: number): boolean {
    const socket = this.socket;
    if (!socket || !this.ready || n <= 0) return false;
    const { sh, tpl } = this;
    const len = tpl.length;
    const buf = Buffer.allocUnsafe(n * len);
    const now = performance.now();
    const qos1 = sh.qos === 1;
    for (let k = 0, off = 0; k < n; k++, off += len) {
      tpl.copy(buf, off);
      const seq = sh.ledger.next();
      let v = SEQ_BASE + seq;
      for (let d = SEQ_DIGITS - 1; d >= 0; d--) {
        buf[off + this.seqOff + d] = 48 + (v % 10);
        v = Math.floor(v / 10);
      }
      const k = this.published++;
      if (this.tsOff >= 0) {
        let t = this.stamp!(k);
        if (!(t >= TS_PLACEHOLDER && t < 10 * TS_PLACEHOLDER)) throw new Error(`device timestamp ${t} is not 13 digits of epoch ms`);
        for (let d = TS_DIGITS - 1; d >= 0; d--) {
          buf[off + this.tsOff + d] = 48 + (t % 10);
          t = Math.floor(t / 10);
        }
      }
      this.onPublish?.(seq, k, now);
      if (qos1) {
        let slot = this.nextSlot;
        while (this.seqOf[slot]! >= 0) slot = (slot + 1) & (this.slots - 1);
        this.nextSlot = (slot + 1) & (this.slots - 1);
        const id = slot + 1;
        buf[off + this.idOff] = id >> 8;
        buf[off + this.idOff + 1] = id & 0xff;
        this.seqOf[slot] = seq;
        this.sentAt[slot] = now;
        this.inflight++;
      }
    }
    sh.stats.sent += n;
    if (sh.measuring) sh.stats.sentInWindow += n;
    return socket.write(buf);
  }

  ping(): void {
    if (this.socket && this.ready) this.socket.write(PINGREQ);
  }

  /** DISCONNECT and close; no reconnect. */
  close(): void {
    this.stopped = true;
    const s = this.socket;
    if (!s) return;
    if (this.ready) s.end(DISCONNECT);
    else s.destroy();
    setTimeout(() => s.destroy(), 1000).unref();
  }
}

export function newShared(port: number, qos: 0 | 1, keepalive: number): Shared {
  return {
    port,
    qos,
    keepalive,
    ledger: new Ledger(),
    stats: newStats(),
    latency: new Histogram(),
    connackLatency: new Histogram(),
    measuring: false,
    reconnect: true,
  };
}

/** Connect every client, at most `concurrency` CONNECTs outstanding. Returns failures. */
export async function connectAll(clients: Client[], concurrency: number): Promise<{ ms: number; failed: number; firstError: string | null }> {
  const t = performance.now();
  let next = 0;
  let failed = 0;
  let firstError: string | null = null;
  const worker = async () => {
    while (next < clients.length) {
      const c = clients[next++]!;
      try {
        await c.connect();
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, worker));
  return { ms: Math.round(performance.now() - t), failed, firstError };
}

export async function waitFor(cond: () => boolean, timeoutMs: number, gw?: GatewayProc): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline || (gw && !gw.alive)) return false;
    await sleep(20);
  }
  return true;
}

/** Sleep `ms`, but return early (false) if the gateway exits. */
export async function runFor(ms: number, gw: GatewayProc): Promise<boolean> {
  const r = await Promise.race([sleep(ms).then(() => true), gw.exited.then(() => false)]);
  return r;
}

export interface StoreCheck {
  rowsTotal: number;
  benchRows: number;
  acked: number;
  ackedStored: number;
  /** acked − acked-and-stored: must be 0. */
  loss: number;
  lostExamples: number[];
  storedUnacked: number;
  duplicates: number;
  sent: number;
  /** Rows whose received_at lies in [fromMs, toMs). */
  storedInWindow: number;
  commitErrorLines: number;
}

/** Read the stopped gateway's store back and match it against the ledger. */
export function checkStore(gw: GatewayProc, ledger: Ledger, fromMs: number, toMs: number): StoreCheck {
  if (!existsSync(gw.dbPath)) throw new Error(`no store at ${gw.dbPath}`);
  const db = new Database(gw.dbPath, { fileMustExist: true });
  try {
    const stored = new Uint8Array(ledger.size);
    let rowsTotal = 0;
    let benchRows = 0;
    let storedInWindow = 0;
    let duplicates = 0;
    const it = db
      .prepare(`SELECT json_extract(fields, '$.uptime_s'), received_at FROM readings`)
      .raw(true)
      .iterate() as IterableIterator<[number | null, number]>;
    for (const [u, at] of it) {
      rowsTotal++;
      if (at >= fromMs && at < toMs) storedInWindow++;
      if (typeof u !== 'number') continue;
      const seq = u - SEQ_BASE;
      if (!Number.isInteger(seq) || seq < 0 || seq >= ledger.size) continue;
      benchRows++;
      if (stored[seq]! > 0) duplicates++;
      else stored[seq] = 1;
    }
    let acked = 0;
    let ackedStored = 0;
    let storedUnacked = 0;
    const lostExamples: number[] = [];
    const st = ledger.state;
    for (let i = 0; i < ledger.size; i++) {
      const s = st[i]!;
      if (s === 2) {
        acked++;
        if (stored[i]) ackedStored++;
        else if (lostExamples.length < 10) lostExamples.push(i);
      } else if (s === 1 && stored[i]) storedUnacked++;
    }
    return {
      rowsTotal,
      benchRows,
      acked,
      ackedStored,
      loss: acked - ackedStored,
      lostExamples,
      storedUnacked,
      duplicates,
      sent: ledger.size,
      storedInWindow,
      commitErrorLines: gw.tail.filter((l) => l.includes('CE_STORE_WRITE')).length,
    };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------
// Scenario results
// ---------------------------------------------------------------------------

export interface Row {
  label: string;
  value: string;
  target?: string;
  pass?: boolean;
}

export interface ScenarioResult {
  name: ScenarioName;
  title: string;
  ok: boolean;
  error?: string;
  rows: Row[];
  data: Record<string, unknown>;
}

export function round(v: number | null | undefined, digits = 1): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export const fmtInt = (v: number) => Math.round(v).toLocaleString('en-US');
export const fmtMb = (kb: number | null | undefined) => (kb === null || kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`);
export const fmtMs = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(2)} ms`);

export function errorSummary(e: Record<string, number>): string {
  const entries = Object.entries(e);
  return entries.length ? entries.map(([k, v]) => `${k}×${v}`).join(', ') : 'none';
}

/** Common tail of a run: stop the gateway, read its store, add rows. */
export async function finish(
  gw: GatewayProc,
  sh: Shared,
  clients: Client[],
  window: { fromMs: number; toMs: number },
): Promise<{ stop: Awaited<ReturnType<GatewayProc['stop']>>; check: StoreCheck | null; checkError?: string; hwmKb: number | null }> {
  const mem = gw.mem();
  for (const c of clients) c.stopped = true;
  const stop = await gw.stop();
  for (const c of clients) c.close();
  let check: StoreCheck | null = null;
  let checkError: string | undefined;
  try {
    check = checkStore(gw, sh.ledger, window.fromMs, window.toMs);
  } catch (err) {
    checkError = (err as Error).message;
  }
  return { stop, check, ...(checkError ? { checkError } : {}), hwmKb: mem?.hwmKb ?? null };
}

export function lossRows(sh: Shared, f: Awaited<ReturnType<typeof finish>>, qos: 0 | 1): Row[] {
  const rows: Row[] = [];
  const s = sh.stats;
  if (f.check) {
    const c = f.check;
    if (qos === 1) {
      rows.push({
        label: 'LOSS: acked but not stored',
        value: `${fmtInt(c.loss)} (acked ${fmtInt(c.acked)}, stored ${fmtInt(c.benchRows)}, acked∩stored ${fmtInt(c.ackedStored)})`,
        target: '0',
        pass: c.loss === 0 && c.acked > 0,
      });
      if (c.lostExamples.length) rows.push({ label: 'lost sequence numbers (first)', value: c.lostExamples.join(', ') });
      rows.push({ label: 'stored, PUBACK not received', value: `${fmtInt(c.storedUnacked)} (in flight at stop or close; allowed)` });
    } else {
      rows.push({ label: 'sent / stored (QoS 0)', value: `${fmtInt(c.sent)} / ${fmtInt(c.benchRows)} (${fmtInt(c.sent - c.benchRows)} not stored; QoS 0 may drop)` });
    }
    if (c.duplicates) rows.push({ label: 'duplicate rows', value: fmtInt(c.duplicates) });
  } else {
    rows.push({ label: 'store check', value: `FAILED: ${f.checkError}`, target: 'readable', pass: false });
  }
  rows.push({
    label: 'connection problems',
    value: `disconnects ${s.disconnects}, reconnects ${s.reconnects}, refused ${s.connackRefused}, unacked at close ${s.unackedAtClose}, errors: ${errorSummary(s.errors)}`,
  });
  rows.push({
    label: 'gateway stop (SIGTERM)',
    value: `${f.stop.clean ? 'clean' : 'NOT clean'}, exit ${f.stop.code ?? f.stop.signal} in ${f.stop.ms} ms`,
  });
  return rows;
}

export function benchCpuRow(pct: number): Row {
  return {
    label: 'bench (load generator) CPU',
    value: `${pct.toFixed(1)} % of one core${pct > 85 ? '  ← generator near saturation: figures are a lower bound' : ''}`,
  };
}


/** `#!/usr/bin/env -S VAR=x node --flag` → the environment and node flags a user's run gets. */
export function parseShebang(file: string): { env: Record<string, string>; nodeFlags: string[] } {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
  if (!first.startsWith('#!')) return { env: {}, nodeFlags: [] };
  const words = first.slice(2).trim().split(/\s+/);
  const env: Record<string, string> = {};
  let i = words.findIndex((w) => /(^|\/)env$/.test(w)) + 1;
  if (words[i] === '-S') i++;
  for (; i < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[i]!); i++) {
    const [k, ...v] = words[i]!.split('=');
    env[k!] = v.join('=');
  }
  return { env, nodeFlags: words.slice(i + 1) };
}

/** V8 heap figures from the gateway's own /metrics (prom-client process metrics), MB. */
export async function gatewayHeap(httpPort: number): Promise<{ usedMb: number; totalMb: number; externalMb: number } | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const get = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    const mb = (v: number) => Math.round((v / 1048576) * 10) / 10;
    return {
      usedMb: mb(get('ce_process_nodejs_heap_size_used_bytes')),
      totalMb: mb(get('ce_process_nodejs_heap_size_total_bytes')),
      externalMb: mb(get('ce_process_nodejs_external_memory_bytes')),
    };
  } catch {
    return null;
  }
}
