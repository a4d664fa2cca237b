#!/usr/bin/env node
/**
 * Ingest benchmark of ONE gateway process (`npm run bench`).
 *
 * The gateway runs as a child process (`node dist/gateway/main.js start -c <tmp.yaml>`)
 * so the load generator never shares its event loop. The generator speaks raw
 * MQTT 3.1.1 over `net` sockets with mqtt-packet (generate() for the packets,
 * parser() for what comes back): one PUBLISH is a template copied into a batch
 * buffer with its message id and sequence number patched in, so sending costs
 * little; the bench prints its own CPU use next to the gateway's, so a saturated
 * generator shows (reading one PUBACK per TCP segment is most of its cost).
 *
 * Every message carries a global sequence number in `uptime_s` (SEQ_BASE + seq,
 * always ten digits, so every message of a device has the same size). After a
 * run the gateway is stopped (SIGTERM, clean flush) and its SQLite store is read
 * back: every PUBACKed sequence must be in `readings` (loss = acked − stored).
 *
 * Scenarios (each with a fresh gateway and data dir):
 *   qos1         N connections × a window of in-flight QoS 1 PUBLISHes at max rate:
 *                PUBACKs/s, PUBLISH→PUBACK p50/p99, gateway CPU and peak RSS, loss.
 *   qos0         the same at QoS 0 (no ack): readings stored per second; flow control
 *                by polling the store (≤ connections × window sent but not stored).
 *   connections  1,000 devices connected with their own credentials, idle with
 *                keepalive pings, then one QoS 1 PUBLISH each: gateway RSS.
 *   realistic    500 devices at 1 msg/s (QoS 1) for 60 s: gateway CPU % and RSS.
 *
 * Bounded: every wait has a timeout, the whole run has a time budget, traffic only
 * goes to 127.0.0.1, and the temp dir and child process are removed on exit,
 * failure, SIGINT and SIGTERM. Exit code 0 when the bench ran (whatever the
 * PASS/FAIL verdicts), 2 when it could not.
 */
import Database from 'better-sqlite3';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generate, parser as mqttParser, type Packet } from 'mqtt-packet';
import { stringify as stringifyYaml } from 'yaml';
import { hashPassword } from '../gateway/credentials.js';

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const SCENARIOS = ['qos1', 'qos0', 'connections', 'realistic'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

interface Options {
  scenarios: ScenarioName[];
  seconds: number;
  warmupSeconds: number;
  connections: number;
  window: number;
  devices: number;
  idleSeconds: number;
  realisticDevices: number;
  realisticSeconds: number;
  durability: 'power-safe' | 'crash-safe' | undefined;
  gatewayProf: string | undefined;
  gatewayNodeArgs: string[];
  gatewayMain: string;
  json: boolean;
}

const USAGE = `commune-edge ingest benchmark (one gateway child process, raw MQTT load from this process)

  node dist/bench/ingest.js [--scenario qos1|qos0|connections|realistic|all] [options]

  --scenario S             scenario to run (default all; may be repeated or comma-separated)
  --seconds N              measured seconds of the qos1 / qos0 runs (default 20)
  --warmup N               seconds of traffic before measuring (default 2)
  --connections N          MQTT connections of the qos1 / qos0 runs (default 100)
  --window N               in-flight QoS 1 PUBLISHes per connection (default 100);
                           QoS 0: connections × window = most messages sent but not yet stored
  --devices N              connections of the connections scenario (default 1000)
  --idle-seconds N         idle time with keepalive in the connections scenario (default 15)
  --realistic-devices N    devices of the realistic scenario (default 500)
  --realistic-seconds N    measured seconds of the realistic scenario (default 60)
  --durability D           store.durability of the bench gateway: power-safe (gateway default) | crash-safe
  --gateway-prof DIR       run the gateway with --cpu-prof, profiles written to DIR (kept)
  --gateway-node-arg ARG   extra node flag for the gateway process (repeatable), e.g. --gateway-node-arg=--max-semi-space-size=4
  --gateway-main FILE      gateway entry point (default dist/gateway/main.js next to this file), to compare builds
  --json                   print only the JSON result line
`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string', multiple: true },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      window: { type: 'string' },
      devices: { type: 'string' },
      'idle-seconds': { type: 'string' },
      'realistic-devices': { type: 'string' },
      'realistic-seconds': { type: 'string' },
      durability: { type: 'string' },
      'gateway-prof': { type: 'string' },
      'gateway-node-arg': { type: 'string', multiple: true },
      'gateway-main': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (v: string | undefined, dflt: number, flag: string, min: number, max: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) usage(`${flag}: "${v}" must be a number in ${min}..${max}`);
    return n;
  };
  const requested = (values.scenario ?? ['all']).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const scenarios: ScenarioName[] = [];
  for (const s of requested) {
    if (s === 'all') scenarios.push(...SCENARIOS);
    else if ((SCENARIOS as readonly string[]).includes(s)) scenarios.push(s as ScenarioName);
    else usage(`--scenario: unknown "${s}" (${SCENARIOS.join('|')}|all)`);
  }
  const durability = values.durability;
  if (durability !== undefined && durability !== 'power-safe' && durability !== 'crash-safe') usage('--durability: power-safe or crash-safe');
  return {
    scenarios: SCENARIOS.filter((s) => scenarios.includes(s)),
    seconds: int(values.seconds, 20, '--seconds', 1, 3600),
    warmupSeconds: int(values.warmup, 2, '--warmup', 0, 600),
    connections: Math.round(int(values.connections, 100, '--connections', 1, 5000)),
    window: Math.round(int(values.window, 100, '--window', 1, 8000)),
    devices: Math.round(int(values.devices, 1000, '--devices', 1, 10_000)),
    idleSeconds: int(values['idle-seconds'], 15, '--idle-seconds', 0, 3600),
    realisticDevices: Math.round(int(values['realistic-devices'], 500, '--realistic-devices', 1, 10_000)),
    realisticSeconds: int(values['realistic-seconds'], 60, '--realistic-seconds', 1, 3600),
    durability,
    gatewayProf: values['gateway-prof'] ? resolve(values['gateway-prof']) : undefined,
    gatewayNodeArgs: values['gateway-node-arg'] ?? [],
    gatewayMain: resolve(values['gateway-main'] ?? MAIN_JS),
    json: values.json ?? false,
  };
}

function usage(msg: string): never {
  process.stderr.write(`${msg}\n\n${USAGE}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** dist/bench/ingest.js → dist/gateway/main.js */
const MAIN_JS = resolve(HERE, '..', 'gateway', 'main.js');
/** uptime_s = SEQ_BASE + seq: always ten ASCII digits, patched in place in the template. */
const SEQ_BASE = 1_000_000_000;
const SEQ_DIGITS = 10;
/** Hard cap on messages per scenario (the ledger costs one byte per message). */
const MAX_MESSAGES = 200_000_000;
/** Cheap scrypt for the bench devices (as the demo's): logins are not what is measured. */
const BENCH_SCRYPT = { N: 1024, r: 8, p: 1 };
const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();
/** Targets (printed next to the figures). */
const TARGET = { qos1Rate: 30_000, connRssMb: 150, realisticCpuPct: 5, realisticRssMb: 100 };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MB = 1024 * 1024;

let quiet = false;
function progress(msg: string): void {
  if (!quiet) process.stderr.write(`[bench] ${msg}\n`);
}

// ---------------------------------------------------------------------------
// Cleanup (temp dir, child processes) on every way out
// ---------------------------------------------------------------------------

const children = new Set<ChildProcess>();
let tmpRoot: string | null = null;

function cleanupSync(): void {
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
  if (tmpRoot) {
    try {
      rmSync(tmpRoot, { recursive: true, force: true });
    } catch {
      // best effort
    }
    tmpRoot = null;
  }
}

function fatal(msg: string, code = 2): never {
  process.stderr.write(`[bench] ERROR: ${msg}\n`);
  cleanupSync();
  process.exit(code);
}

process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`[bench] ${sig}: stopping the gateway and removing ${tmpRoot ?? 'the temp dir'}\n`);
    cleanupSync();
    process.exit(130);
  });
}
process.on('uncaughtException', (err) => fatal(`uncaught: ${err.stack ?? err.message}`));
process.on('unhandledRejection', (err) => fatal(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`));

// ---------------------------------------------------------------------------
// Machine and /proc
// ---------------------------------------------------------------------------

interface Machine {
  cpuModel: string;
  cores: number;
  node: string;
  kernel: string;
  memGb: number;
  clkTck: number;
  tmpdir: string;
}

function machine(): Machine {
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

interface ProcMem {
  rssKb: number;
  hwmKb: number;
}

function readProcMem(pid: number): ProcMem | null {
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
function readProcCpuS(pid: number): number | null {
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
function readThreadCpuS(pid: number): Map<string, number> {
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
function threadSplit(a: Map<string, number>, b: Map<string, number>, seconds: number): { text: string; pct: Record<string, number> } {
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

function benchCpuS(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// ---------------------------------------------------------------------------
// Config and gateway child process
// ---------------------------------------------------------------------------

interface BenchDevice {
  id: string;
  password: string;
  topic: string;
}

interface Env {
  opts: Options;
  root: string;
  devices: BenchDevice[];
  /** devices[] of the config (with hashes), shared by every scenario's config. */
  deviceConfig: Record<string, unknown>[];
  hamlets: { id: string; name: string }[];
}

function freePort(): Promise<number> {
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

function buildEnv(opts: Options): Env {
  const n = Math.max(1024, opts.connections, opts.devices, opts.realisticDevices);
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

class GatewayProc {
  readonly tail: string[] = [];
  warnings = 0;
  errors = 0;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private sampler: NodeJS.Timeout | null = null;
  peakRssKb = 0;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly mqttPort: number,
    readonly httpPort: number,
    readonly dataDir: string,
  ) {
    const onLine = (line: string) => {
      if (!line.trim()) return;
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
async function startGateway(env: Env, name: string, deviceCount: number): Promise<GatewayProc> {
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
class Histogram {
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
class Ledger {
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

interface Stats {
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

function newStats(): Stats {
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

interface Shared {
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

const PINGREQ = generate({ cmd: 'pingreq' });
const DISCONNECT = generate({ cmd: 'disconnect' });

/**
 * One device's MQTT 3.1.1 connection. PUBLISH packets are a template made once by
 * mqtt-packet's generate(); per message only the message id and the ten sequence
 * digits are patched.
 */
class Client {
  socket: Socket | null = null;
  ready = false;
  /** The bench is done with it: a close is expected. */
  stopped = false;
  inflight = 0;
  /** For the periodic driver. */
  nextAt = 0;
  private readonly tpl: Buffer;
  private readonly idOff: number;
  private readonly seqOff: number;
  private readonly slots: number;
  private readonly sentAt: Float64Array;
  private readonly seqOf: Float64Array;
  private nextSlot = 0;
  private connackWait: { resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout; at: number } | null = null;

  constructor(
    readonly dev: BenchDevice,
    private readonly sh: Shared,
    window: number,
  ) {
    const payload = Buffer.from(
      JSON.stringify({ mains_ok: true, on_battery: false, battery_pct: 100, load_pct: 35, input_v: 228, output_v: 230, uptime_s: SEQ_BASE }),
    );
    const digitsAt = payload.indexOf(String(SEQ_BASE));
    if (sh.qos === 1) {
      this.tpl = generate({ cmd: 'publish', qos: 1, dup: false, retain: false, topic: dev.topic, payload, messageId: 0x7e7e });
    } else {
      this.tpl = generate({ cmd: 'publish', qos: 0, dup: false, retain: false, topic: dev.topic, payload });
    }
    const payloadOff = this.tpl.length - payload.length;
    this.seqOff = payloadOff + digitsAt;
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

function newShared(port: number, qos: 0 | 1, keepalive: number): Shared {
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
async function connectAll(clients: Client[], concurrency: number): Promise<{ ms: number; failed: number; firstError: string | null }> {
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

async function waitFor(cond: () => boolean, timeoutMs: number, gw?: GatewayProc): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline || (gw && !gw.alive)) return false;
    await sleep(20);
  }
  return true;
}

/** Sleep `ms`, but return early (false) if the gateway exits. */
async function runFor(ms: number, gw: GatewayProc): Promise<boolean> {
  const r = await Promise.race([sleep(ms).then(() => true), gw.exited.then(() => false)]);
  return r;
}

interface StoreCheck {
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
function checkStore(gw: GatewayProc, ledger: Ledger, fromMs: number, toMs: number): StoreCheck {
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

interface Row {
  label: string;
  value: string;
  target?: string;
  pass?: boolean;
}

interface ScenarioResult {
  name: ScenarioName;
  title: string;
  ok: boolean;
  error?: string;
  rows: Row[];
  data: Record<string, unknown>;
}

function round(v: number | null | undefined, digits = 1): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

const fmtInt = (v: number) => Math.round(v).toLocaleString('en-US');
const fmtMb = (kb: number | null | undefined) => (kb === null || kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`);
const fmtMs = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(2)} ms`);

function errorSummary(e: Record<string, number>): string {
  const entries = Object.entries(e);
  return entries.length ? entries.map(([k, v]) => `${k}×${v}`).join(', ') : 'none';
}

/** Common tail of a run: stop the gateway, read its store, add rows. */
async function finish(
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

function lossRows(sh: Shared, f: Awaited<ReturnType<typeof finish>>, qos: 0 | 1): Row[] {
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

function benchCpuRow(pct: number): Row {
  return {
    label: 'bench (load generator) CPU',
    value: `${pct.toFixed(1)} % of one core${pct > 85 ? '  ← generator near saturation: figures are a lower bound' : ''}`,
  };
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

async function scenarioSustained(env: Env, qos: 0 | 1): Promise<ScenarioResult> {
  const { opts } = env;
  const name: ScenarioName = qos === 1 ? 'qos1' : 'qos0';
  const title =
    qos === 1
      ? `QoS 1 sustained: ${opts.connections} connections × window ${opts.window}, ${opts.seconds} s`
      : `QoS 0 sustained: ${opts.connections} connections, ≤ ${fmtInt(opts.connections * opts.window)} sent-not-yet-stored, ${opts.seconds} s`;
  progress(`${title}: starting gateway`);
  const gw = await startGateway(env, name, opts.connections);
  const sh = newShared(gw.mqttPort, qos, 60);
  const clients = env.devices.slice(0, opts.connections).map((d) => new Client(d, sh, opts.window));
  let running = false;

  if (qos === 1) {
    sh.onReady = (c) => {
      if (!running || sh.ledger.full) return;
      const n = opts.window - c.inflight;
      if (n > 0) c.publish(n);
    };
  }
  // QoS 0 has no ack, so the flow control is the store itself: this process reads
  // max(id) of `readings` (WAL: a reader does not block the gateway) every 10 ms
  // and keeps at most connections × window messages sent but not yet stored.
  // Without it the loopback socket buffers (MBs per connection) hold millions of
  // messages, and what is "sent" says nothing.
  let storedNow = 0;
  const budget = opts.connections * opts.window;
  const parked = new Set<Client>();
  const BATCH0 = 32;
  const pump0 = (c: Client) => {
    for (let i = 0; i < 64 && running && c.ready && !sh.ledger.full; i++) {
      if (sh.stats.sent - storedNow >= budget) {
        parked.add(c);
        return;
      }
      if (!c.publish(BATCH0)) {
        c.socket?.once('drain', () => pump0(c));
        return;
      }
    }
    if (running && c.ready) setImmediate(() => pump0(c));
  };
  let reader: Database.Database | null = null;
  let poll: NodeJS.Timeout | null = null;
  if (qos === 0) {
    reader = new Database(gw.dbPath, { readonly: true, fileMustExist: true });
    const maxId = reader.prepare('SELECT max(id) FROM readings').pluck();
    const base = Number(maxId.get() ?? 0);
    poll = setInterval(() => {
      storedNow = Number(maxId.get() ?? 0) - base;
      for (const c of parked) {
        if (sh.stats.sent - storedNow >= budget) break;
        parked.delete(c);
        pump0(c);
      }
    }, 10);
    // onReady runs only on CONNACK here (also after a reconnect).
    sh.onReady = (c) => {
      if (running && !parked.has(c)) pump0(c);
    };
  }

  const conn = await connectAll(clients, 50);
  progress(`${clients.length - conn.failed}/${clients.length} connected in ${conn.ms} ms; traffic for ${opts.warmupSeconds} s warm-up + ${opts.seconds} s`);
  if (conn.failed === clients.length) {
    await gw.stop();
    throw new Error(`no connection succeeded: ${conn.firstError}`);
  }
  running = true;
  for (const c of clients) if (c.ready) sh.onReady!(c);

  let alive = await runFor(opts.warmupSeconds * 1000, gw);
  const cpu0 = gw.cpuS() ?? 0;
  const thr0 = readThreadCpuS(gw.pid);
  const bench0 = benchCpuS();
  const wall0 = Date.now();
  const t0 = performance.now();
  gw.startSampling();
  sh.measuring = true;
  if (alive) alive = await runFor(opts.seconds * 1000, gw);
  sh.measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const wall1 = Date.now();
  const cpu1 = gw.cpuS() ?? Number.NaN; // NaN: the gateway is gone
  const thr1 = readThreadCpuS(gw.pid);
  const bench1 = benchCpuS();
  const peakRssKb = gw.peakRssKb;
  gw.stopSampling();
  running = false;

  // Let the in-flight window drain so the counts settle (PUBACKs keep coming).
  if (qos === 1 && alive) await waitFor(() => clients.every((c) => c.inflight <= 0 || !c.ready), 10_000, gw);
  if (qos === 0 && alive) await waitFor(() => sh.stats.sent - storedNow <= 0, 10_000, gw);
  if (poll) clearInterval(poll);
  reader?.close();
  const f = await finish(gw, sh, clients, { fromMs: wall0, toMs: wall1 });

  const gwCpuS = cpu1 - cpu0;
  const benchPct = ((bench1 - bench0) / elapsed) * 100;
  const lat = sh.latency.summary();
  const rows: Row[] = [];
  let rate: number;
  if (qos === 1) {
    rate = sh.stats.ackedInWindow / elapsed;
    const lossOk = f.check !== null && f.check.loss === 0;
    rows.push({
      label: 'accepted (PUBACKs/s)',
      value: `${fmtInt(rate)} msgs/s (${fmtInt(sh.stats.ackedInWindow)} in ${elapsed.toFixed(1)} s)`,
      target: `≥ ${fmtInt(TARGET.qos1Rate)} with zero loss`,
      pass: rate >= TARGET.qos1Rate && lossOk && alive,
    });
    rows.push({ label: 'PUBLISH→PUBACK latency', value: `p50 ${fmtMs(lat.p50Ms)}, p99 ${fmtMs(lat.p99Ms)}, max ${fmtMs(lat.maxMs)}` });
    if (f.check) rows.push({ label: 'stored with received_at in window', value: `${fmtInt(f.check.storedInWindow / elapsed)} rows/s` });
  } else {
    rate = (f.check?.storedInWindow ?? 0) / elapsed;
    rows.push({
      label: 'accepted (readings stored/s)',
      value: `${fmtInt(rate)} msgs/s (${fmtInt(f.check?.storedInWindow ?? 0)} rows received in ${elapsed.toFixed(1)} s; sent ${fmtInt(sh.stats.sentInWindow / elapsed)}/s)`,
    });
  }
  const threads = threadSplit(thr0, thr1, elapsed);
  rows.push({
    label: 'gateway CPU',
    value: Number.isFinite(gwCpuS)
      ? `${gwCpuS.toFixed(2)} s = ${((gwCpuS / elapsed) * 100).toFixed(1)} % of one core (by thread: ${threads.text})`
      : 'n/a (gateway exited)',
  });
  rows.push({ label: 'gateway RSS', value: `peak sampled ${fmtMb(peakRssKb)}, VmHWM ${fmtMb(f.hwmKb)}` });
  rows.push(benchCpuRow(benchPct));
  rows.push(...lossRows(sh, f, qos));
  if (!alive) rows.push({ label: 'GATEWAY EXITED DURING RUN', value: gw.describeFailure(), pass: false });

  return {
    name,
    title,
    ok: alive && f.check !== null,
    rows,
    data: {
      connections: opts.connections,
      window: opts.window,
      seconds: round(elapsed, 2),
      msgsPerS: Math.round(rate),
      latency: qos === 1 ? lat : null,
      gatewayCpuS: round(gwCpuS, 2),
      gatewayCpuPct: round((gwCpuS / elapsed) * 100),
      gatewayCpuPctByThread: threads.pct,
      gatewayPeakRssMb: round(peakRssKb / 1024),
      gatewayHwmMb: round((f.hwmKb ?? 0) / 1024),
      benchCpuPct: round(benchPct),
      packetBytes: clients[0]?.packetBytes,
      store: f.check && qos === 0 ? { ...f.check, loss: null, acked: null, ackedStored: null, storedUnacked: null, notStored: f.check.sent - f.check.benchRows } : f.check,
      stats: sh.stats,
      stop: f.stop,
      gatewayAlive: alive,
      gatewayWarnLines: gw.warnings,
      gatewayErrorLines: gw.errors,
      pass: qos === 1 ? { rate: alive && rate >= TARGET.qos1Rate, zeroLoss: f.check?.loss === 0 } : null,
    },
  };
}

async function scenarioConnections(env: Env): Promise<ScenarioResult> {
  const { opts } = env;
  const n = opts.devices;
  const title = `${fmtInt(n)} devices connected (own credentials), idle ${opts.idleSeconds} s with keepalive, then one QoS 1 PUBLISH each`;
  progress(`${title}: starting gateway`);
  const gw = await startGateway(env, 'connections', n);
  await sleep(1000);
  const base = gw.mem();
  const cpu0 = gw.cpuS() ?? 0;
  const keepalive = 10;
  const sh = newShared(gw.mqttPort, 1, keepalive);
  const clients = env.devices.slice(0, n).map((d) => new Client(d, sh, 1));
  gw.startSampling();
  const conn = await connectAll(clients, 100);
  const connected = clients.filter((c) => c.ready).length;
  await sleep(500);
  const afterConnect = gw.mem();
  progress(`${connected}/${n} connected in ${conn.ms} ms; idle ${opts.idleSeconds} s`);

  // Keepalive: a PINGREQ every keepalive/2 s per connection (staggered).
  const pingTimer = setInterval(() => {
    const slot = Math.floor(performance.now() / 1000) % Math.ceil(keepalive / 2);
    clients.forEach((c, i) => {
      if (i % Math.ceil(keepalive / 2) === slot) c.ping();
    });
  }, 1000);
  let alive = await runFor(opts.idleSeconds * 1000, gw);
  clearInterval(pingTimer);
  const afterIdle = gw.mem();
  const stillConnected = clients.filter((c) => c.ready).length;

  const wall0 = Date.now();
  const t0 = performance.now();
  sh.measuring = true;
  for (const c of clients) c.publish(1);
  const allAcked = alive && (await waitFor(() => clients.every((c) => c.inflight <= 0), 30_000, gw));
  const publishMs = performance.now() - t0;
  sh.measuring = false;
  if (alive) alive = await runFor(1000, gw);
  const afterPublish = gw.mem();
  const peakRssKb = gw.peakRssKb;
  gw.stopSampling();
  const cpu1 = gw.cpuS() ?? cpu0;
  const f = await finish(gw, sh, clients, { fromMs: wall0, toMs: Date.now() + 1 });
  const hwm = f.hwmKb ?? 0;
  const perConnKb = afterConnect && base ? (afterConnect.rssKb - base.rssKb) / Math.max(1, connected) : null;
  const lat = sh.latency.summary();
  const conLat = sh.connackLatency.summary();
  const rssOk = hwm > 0 && hwm / 1024 < TARGET.connRssMb;

  const rows: Row[] = [
    {
      label: 'connected',
      value: `${connected}/${n} in ${(conn.ms / 1000).toFixed(2)} s (CONNACK p50 ${fmtMs(conLat.p50Ms)}, p99 ${fmtMs(conLat.p99Ms)}; 100 CONNECTs outstanding)`,
      target: `${n}`,
      pass: connected === n,
    },
    { label: `still connected after ${opts.idleSeconds} s idle`, value: `${stillConnected}/${n} (PINGRESPs ${sh.stats.pingresps}, keepalive ${keepalive} s)`, target: `${n}`, pass: stillConnected === n },
    { label: 'one PUBLISH each: acked', value: `${fmtInt(sh.stats.acked)}/${n} in ${fmtInt(publishMs)} ms (p50 ${fmtMs(lat.p50Ms)}, p99 ${fmtMs(lat.p99Ms)})`, target: `${n}`, pass: allAcked },
    { label: 'gateway RSS, before connections', value: fmtMb(base?.rssKb) },
    { label: 'gateway RSS, connected', value: `${fmtMb(afterConnect?.rssKb)} (≈ ${perConnKb === null ? 'n/a' : perConnKb.toFixed(1)} KB per connection)` },
    { label: 'gateway RSS, after idle', value: fmtMb(afterIdle?.rssKb) },
    { label: 'gateway RSS, after publishing', value: fmtMb(afterPublish?.rssKb) },
    { label: 'gateway peak RSS (VmHWM)', value: `${fmtMb(hwm)} (peak sampled ${fmtMb(peakRssKb)})`, target: `< ${TARGET.connRssMb} MB`, pass: rssOk },
    { label: 'gateway CPU, whole scenario', value: `${(cpu1 - cpu0).toFixed(2)} s` },
    ...lossRows(sh, f, 1),
  ];
  if (!alive) rows.push({ label: 'GATEWAY EXITED DURING RUN', value: gw.describeFailure(), pass: false });
  return {
    name: 'connections',
    title,
    ok: alive && f.check !== null,
    rows,
    data: {
      devices: n,
      connected,
      stillConnectedAfterIdle: stillConnected,
      connectMs: conn.ms,
      connack: conLat,
      idleSeconds: opts.idleSeconds,
      keepaliveS: keepalive,
      pingresps: sh.stats.pingresps,
      publishAcked: sh.stats.acked,
      publishMs: Math.round(publishMs),
      latency: lat,
      rssMb: {
        beforeConnections: round((base?.rssKb ?? 0) / 1024),
        connected: round((afterConnect?.rssKb ?? 0) / 1024),
        afterIdle: round((afterIdle?.rssKb ?? 0) / 1024),
        afterPublish: round((afterPublish?.rssKb ?? 0) / 1024),
        peakSampled: round(peakRssKb / 1024),
        hwm: round(hwm / 1024),
      },
      perConnectionKb: round(perConnKb),
      gatewayCpuS: round(cpu1 - cpu0, 2),
      store: f.check,
      stats: sh.stats,
      stop: f.stop,
      gatewayAlive: alive,
      pass: { rss: rssOk, allConnected: connected === n },
    },
  };
}

async function scenarioRealistic(env: Env): Promise<ScenarioResult> {
  const { opts } = env;
  const n = opts.realisticDevices;
  const title = `Realistic commune load: ${n} devices × 1 msg/s (QoS 1), ${opts.realisticSeconds} s`;
  progress(`${title}: starting gateway`);
  const gw = await startGateway(env, 'realistic', n);
  await sleep(1000);
  const base = gw.mem();
  const sh = newShared(gw.mqttPort, 1, 60);
  const clients = env.devices.slice(0, n).map((d) => new Client(d, sh, 2));
  const conn = await connectAll(clients, 50);
  const connected = clients.filter((c) => c.ready).length;
  progress(`${connected}/${n} connected in ${conn.ms} ms; ${5} s warm-up + ${opts.realisticSeconds} s measured`);

  // Each device publishes once a second, phases spread evenly over the second.
  const start = performance.now() + 100;
  clients.forEach((c, i) => (c.nextAt = start + (i * 1000) / n));
  const tick = setInterval(() => {
    const now = performance.now();
    for (const c of clients) {
      if (now < c.nextAt) continue;
      c.nextAt += 1000;
      if (c.nextAt < now) c.nextAt = now + 1000; // fell behind (reconnect): do not burst
      if (c.ready && c.inflight < 10) c.publish(1);
    }
  }, 5);

  let alive = await runFor(5000, gw);
  const cpu0 = gw.cpuS() ?? 0;
  const thr0 = readThreadCpuS(gw.pid);
  const bench0 = benchCpuS();
  const wall0 = Date.now();
  const t0 = performance.now();
  const sent0 = sh.stats.sent;
  gw.startSampling();
  sh.measuring = true;
  if (alive) alive = await runFor(opts.realisticSeconds * 1000, gw);
  sh.measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const wall1 = Date.now();
  const cpu1 = gw.cpuS() ?? Number.NaN; // NaN: the gateway is gone
  const thr1 = readThreadCpuS(gw.pid);
  const bench1 = benchCpuS();
  const sentWindow = sh.stats.sent - sent0;
  clearInterval(tick);
  const peakRssKb = gw.peakRssKb;
  gw.stopSampling();
  const endMem = gw.mem();
  const heap = alive ? await gatewayHeap(gw.httpPort) : null;
  if (alive) await waitFor(() => clients.every((c) => c.inflight <= 0 || !c.ready), 10_000, gw);
  const f = await finish(gw, sh, clients, { fromMs: wall0, toMs: wall1 });

  const cpuPct = ((cpu1 - cpu0) / elapsed) * 100;
  const threads = threadSplit(thr0, thr1, elapsed);
  const benchPct = ((bench1 - bench0) / elapsed) * 100;
  const hwm = f.hwmKb ?? 0;
  const lat = sh.latency.summary();
  const cpuOk = cpuPct < TARGET.realisticCpuPct;
  const rssOk = hwm > 0 && hwm / 1024 < TARGET.realisticRssMb;
  const rows: Row[] = [
    { label: 'connected', value: `${connected}/${n}`, target: `${n}`, pass: connected === n },
    { label: 'gateway RSS before connections', value: fmtMb(base?.rssKb) },
    { label: 'offered / accepted', value: `${fmtInt(sentWindow / elapsed)} / ${fmtInt(sh.stats.ackedInWindow / elapsed)} msgs/s` },
    { label: 'PUBLISH→PUBACK latency', value: `p50 ${fmtMs(lat.p50Ms)}, p99 ${fmtMs(lat.p99Ms)}, max ${fmtMs(lat.maxMs)}` },
    {
      label: 'gateway CPU',
      value: `${cpuPct.toFixed(2)} % of one core (${(cpu1 - cpu0).toFixed(2)} s in ${elapsed.toFixed(1)} s; by thread: ${threads.text})`,
      target: `< ${TARGET.realisticCpuPct} %`,
      pass: cpuOk,
    },
    {
      label: 'gateway peak RSS (VmHWM)',
      value:
        `${fmtMb(hwm)} (peak sampled in window ${fmtMb(peakRssKb)}, at end ${fmtMb(endMem?.rssKb)}` +
        (heap ? `; V8 heap used ${heap.usedMb} MB of ${heap.totalMb} MB, external ${heap.externalMb} MB)` : ')'),
      target: `< ${TARGET.realisticRssMb} MB`,
      pass: rssOk,
    },
    benchCpuRow(benchPct),
    ...lossRows(sh, f, 1),
  ];
  if (!alive) rows.push({ label: 'GATEWAY EXITED DURING RUN', value: gw.describeFailure(), pass: false });
  return {
    name: 'realistic',
    title,
    ok: alive && f.check !== null,
    rows,
    data: {
      devices: n,
      connected,
      seconds: round(elapsed, 2),
      offeredPerS: round(sentWindow / elapsed),
      acceptedPerS: round(sh.stats.ackedInWindow / elapsed),
      latency: lat,
      gatewayCpuS: round(cpu1 - cpu0, 3),
      gatewayCpuPct: round(cpuPct, 2),
      gatewayCpuPctByThread: threads.pct,
      gatewayHwmMb: round(hwm / 1024),
      gatewayPeakRssMb: round(peakRssKb / 1024),
      gatewayEndRssMb: round((endMem?.rssKb ?? 0) / 1024),
      gatewayRssBeforeConnectionsMb: round((base?.rssKb ?? 0) / 1024),
      benchCpuPct: round(benchPct),
      store: f.check,
      stats: sh.stats,
      stop: f.stop,
      gatewayAlive: alive,
      pass: { cpu: cpuOk, rss: rssOk },
    },
  };
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

function printTable(m: Machine, opts: Options, results: ScenarioResult[]): void {
  const out: string[] = [];
  out.push('');
  out.push(`commune-edge ingest benchmark — one gateway process (child), load from this process over 127.0.0.1`);
  out.push(`machine: ${m.cpuModel}, ${m.cores} cores, ${m.memGb} GB RAM, Linux ${m.kernel}, node ${m.node}`);
  out.push(`store: SQLite WAL in ${m.tmpdir}, durability ${opts.durability ?? 'power-safe (default)'}; log level warn; rate limit raised`);
  for (const r of results) {
    out.push('');
    out.push(`== ${r.name}: ${r.title}`);
    if (r.error) {
      out.push(`   ERROR: ${r.error}`);
      continue;
    }
    const w = Math.max(...r.rows.map((x) => x.label.length));
    for (const row of r.rows) {
      const verdict = row.pass === undefined ? '' : row.pass ? 'PASS' : 'FAIL';
      const target = row.target ? `   [target ${row.target}] ${verdict}` : verdict ? `   ${verdict}` : '';
      out.push(`   ${row.label.padEnd(w)}  ${row.value}${target}`);
    }
  }
  const verdicts = results.flatMap((r) => r.rows.filter((x) => x.pass !== undefined && x.target));
  out.push('');
  out.push(
    `targets: ${verdicts.filter((v) => v.pass).length} PASS, ${verdicts.filter((v) => !v.pass).length} FAIL` +
      (results.some((r) => r.error) ? `; ${results.filter((r) => r.error).length} scenario(s) failed to run` : ''),
  );
  out.push('');
  process.stdout.write(out.join('\n') + '\n');
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  quiet = opts.json;
  if (!existsSync(opts.gatewayMain)) fatal(`${opts.gatewayMain} not found: build first (npx tsc -p .)`);
  const m = machine();
  progress(`machine: ${m.cpuModel}, ${m.cores} cores, node ${m.node}; scenarios: ${opts.scenarios.join(', ')}`);

  // Time budget of the whole run: measured time plus generous setup/teardown per scenario.
  const budgetS = opts.scenarios.reduce((sum, s) => {
    if (s === 'qos1' || s === 'qos0') return sum + opts.seconds + opts.warmupSeconds + 120;
    if (s === 'connections') return sum + opts.idleSeconds + 180;
    return sum + opts.realisticSeconds + 120;
  }, 60);
  setTimeout(() => fatal(`time budget of ${budgetS} s exceeded`), budgetS * 1000).unref();

  const env = buildEnv(opts);
  const results: ScenarioResult[] = [];
  for (const s of opts.scenarios) {
    try {
      if (s === 'qos1') results.push(await scenarioSustained(env, 1));
      else if (s === 'qos0') results.push(await scenarioSustained(env, 0));
      else if (s === 'connections') results.push(await scenarioConnections(env));
      else results.push(await scenarioRealistic(env));
    } catch (err) {
      progress(`${s} failed: ${(err as Error).message}`);
      results.push({ name: s, title: s, ok: false, error: (err as Error).message, rows: [], data: {} });
    }
    // Each scenario's gateway is gone; drop its data dir before the next one.
    for (const c of children) c.kill('SIGKILL');
    rmSync(join(env.root, s), { recursive: true, force: true });
  }

  if (!opts.json) printTable(m, opts, results);
  const json = {
    bench: 'commune-edge-ingest',
    version: 1,
    at: new Date().toISOString(),
    machine: m,
    options: { ...opts, scenarios: opts.scenarios },
    targets: TARGET,
    scenarios: Object.fromEntries(results.map((r) => [r.name, r.error ? { error: r.error } : r.data])),
  };
  process.stdout.write(JSON.stringify(json) + '\n');
  cleanupSync();
  process.exit(results.every((r) => r.ok) ? 0 : 2);
}

void main();

/** `#!/usr/bin/env -S VAR=x node --flag` → the environment and node flags a user's run gets. */
function parseShebang(file: string): { env: Record<string, string>; nodeFlags: string[] } {
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
async function gatewayHeap(httpPort: number): Promise<{ usedMb: number; totalMb: number; externalMb: number } | null> {
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
