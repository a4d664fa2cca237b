#!/usr/bin/env node
/**
 * Probe scheduler benchmark: what the gateway's own probes cost (issue 4).
 *
 *   node dist/bench/probes.js [--seconds 60] [--targets 300] [--interval 10] [--json] [--gateway-prof DIR]
 *
 * Three processes, so that only the gateway side is measured:
 *
 * - this one, the orchestrator: starts the two others, samples the gateway
 *   side's /proc/<pid>/stat and /proc/<pid>/status once a second, prints the
 *   figures;
 * - the peers (`--role peers`): the loopback servers the probes talk to, in
 *   their own process so their CPU is not counted: a TCP listener, an HTTP
 *   server (small pages, some with the keyword), and four RTSP camera
 *   simulators (devices/camera/rtsp-responder.ts; two with Digest auth, one
 *   H265). ICMP goes to 127.0.1.x (the kernel's loopback answers them);
 * - the gateway side (`--role gateway`): the real gateway (buildGateway:
 *   store with power-safe commits, health, API) with a ProbeSource running
 *   `--targets` targets every `--interval` s: 40 % ICMP (batched fping), 27 %
 *   TCP connect, 20 % HTTP GET (half with a keyword), 13 % RTSP DESCRIBE.
 *
 * Reported over the measured window (after one interval of warm-up): the
 * gateway side's CPU as % of one core (its own threads, and separately the
 * fping children it waited for: cutime + cstime), its RSS (mean and max), the
 * probe results per second (expected: targets / interval), rounds skipped,
 * probe errors, the most probes in flight, and the readings stored. Also the
 * same CPU figure for the gateway idle (no probes) before the probes start, so
 * the probes' own share shows.
 *
 * Bounded: only 127.0.0.1 / 127.0.1.x traffic, every wait has a timeout, the
 * child processes and the temp dir are removed on exit, failure, SIGINT and
 * SIGTERM (bench/harness.ts). Exit code 0 when the bench ran, 2 when it could not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import type { Counter } from 'prom-client';
import { RtspResponder } from '../devices/camera/rtsp-responder.js';
import { buildGateway } from '../gateway/build.js';
import { ProbeSource } from '../gateway/probes/source.js';
import { settingsFrom } from '../gateway/settings/load.js';
import type { SettingsInput } from '../gateway/settings/schema.js';
import { children, CLK_TCK, extraDirs, fatal, machine, progress, readProcMem, readThreadCpuS, setQuiet, sleep, threadSplit } from './harness.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const CAM_PASSWORD_ENV = 'CE_BENCH_CAM_PW';
const CAM_PASSWORD = 'bench-Cam#1';
/** A guideline, printed next to the figure: the probes should not need more than a few % of one Pi core. */
const TARGET_CPU_PCT = 5;

const { values: args } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    config: { type: 'string' },
    seconds: { type: 'string', default: '60' },
    targets: { type: 'string', default: '300' },
    interval: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
    'gateway-prof': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

/** A child says it is ready with one line: READY <json>. */
function waitReady(child: ChildProcess, what: string, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not ready after ${timeoutMs} ms`)), timeoutMs);
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      if (!line.startsWith('READY ')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(6)) as Record<string, unknown>);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before it was ready`));
    });
  });
}

function spawnRole(role: string, extra: string[] = [], env: NodeJS.ProcessEnv = process.env, nodeArgs: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...nodeArgs, THIS_FILE, '--role', role, ...extra], { stdio: ['pipe', 'pipe', 'pipe'], env });
  children.add(child);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (err.length > 20_000) err = err.slice(-10_000);
  });
  child.once('exit', (code, sig) => {
    if (code !== 0 && sig === null) process.stderr.write(`[bench] ${role} exited ${code}:\n${err.slice(-3000)}\n`);
  });
  return child;
}

/** utime+stime (own threads) and cutime+cstime (waited-for children: fping) of a process, seconds. */
function procCpu(pid: number): { self: number; children: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3; utime 14, stime 15, cutime 16, cstime 17 (proc(5)).
    return { self: (Number(f[11]) + Number(f[12])) / CLK_TCK, children: (Number(f[13]) + Number(f[14])) / CLK_TCK };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// Role: peers (their CPU is not the gateway's)
// ---------------------------------------------------------------------------

async function runPeers(): Promise<void> {
  const tcp = createTcpServer((s) => s.destroy());
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
  const page = Buffer.from(`<!DOCTYPE html><html><head><title>Hikvision Web Components</title></head><body>${'x'.repeat(2000)}</body></html>`);
  const http = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'content-length': page.length }).end(page));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  const cams = [
    new RtspResponder({ codec: 'H264' }),
    new RtspResponder({ codec: 'H265' }),
    new RtspResponder({ codec: 'H264', auth: { username: 'probe', password: CAM_PASSWORD } }),
    new RtspResponder({ codec: 'H264', auth: { username: 'probe', password: CAM_PASSWORD, qop: true } }),
  ];
  for (const c of cams) await c.start();
  const ports = { tcp: (tcp.address() as { port: number }).port, http: (http.address() as { port: number }).port, rtsp: cams.map((c) => c.port), rtspAuth: [false, false, true, true] };
  process.stdout.write(`READY ${JSON.stringify(ports)}\n`);
  // Stop when the orchestrator closes our stdin (or kills us).
  await new Promise<void>((r) => process.stdin.on('end', () => r()).resume());
  for (const c of cams) await c.stop();
  http.closeAllConnections();
  http.close();
  tcp.close();
}

// ---------------------------------------------------------------------------
// Role: gateway side (measured)
// ---------------------------------------------------------------------------

async function runGatewaySide(configFile: string): Promise<void> {
  const { input, startProbesAfterMs } = JSON.parse(readFileSync(configFile, 'utf8')) as { input: SettingsInput; startProbesAfterMs: number };
  const gw = await buildGateway(settingsFrom(input), { logger: pino({ level: 'warn' }, pino.destination(2)) });
  await gw.start();
  process.stdout.write(`READY ${JSON.stringify({ pid: process.pid })}\n`);
  const source = new ProbeSource();
  let probesSince = 0;
  // The orchestrator measures the idle gateway first, then the probes.
  const timer = setTimeout(() => {
    probesSince = performance.now();
    source.start(gw.ctx).then(
      () => process.stdout.write('PROBES-STARTED\n'),
      (err: unknown) => fatal(`probe source: ${(err as Error).message}`),
    );
  }, startProbesAfterMs);
  await new Promise<void>((r) => process.stdin.on('end', () => r()).resume());
  clearTimeout(timer);
  const runs = (await (gw.ctx.metrics.registry.getSingleMetric('ce_probe_runs_total') as Counter | undefined)?.get())?.values ?? [];
  const skipped = (await (gw.ctx.metrics.registry.getSingleMetric('ce_probe_skipped_total') as Counter | undefined)?.get())?.values ?? [];
  const byResult: Record<string, number> = {};
  for (const v of runs) {
    const key = `${v.labels['type']}:${v.labels['result']}`;
    byResult[key] = (byResult[key] ?? 0) + v.value;
  }
  const stats = {
    probingS: probesSince ? (performance.now() - probesSince) / 1000 : 0,
    runs: byResult,
    skipped: skipped.reduce((a, v) => a + v.value, 0),
    peakInFlight: source.peakInFlight,
    status: source.status().detail,
  };
  await source.stop();
  await gw.ctx.store.flush();
  const readings = gw.ctx.store.readingCount();
  await gw.stop('bench');
  process.stdout.write(`STATS ${JSON.stringify({ ...stats, readings })}\n`);
}

// ---------------------------------------------------------------------------
// Role: orchestrator
// ---------------------------------------------------------------------------

function benchSettings(dir: string, n: number, intervalS: number, peers: { tcp: number; http: number; rtsp: number[]; rtspAuth: boolean[] }): SettingsInput {
  const icmp = Math.round(n * 0.4);
  const tcp = Math.round(n * 0.27);
  const http = Math.round(n * 0.2);
  const rtsp = n - icmp - tcp - http;
  const devices: NonNullable<SettingsInput['devices']> = [];
  const targets: NonNullable<NonNullable<SettingsInput['probes']>['targets']> = [];
  const pad = (i: number) => String(i).padStart(3, '0');
  for (let i = 0; i < icmp; i++) {
    devices.push({ id: `net-${pad(i)}`, name: `Line ${i}`, kind: 'network', hamlet: 'ap-01', role: 'wan' });
    targets.push({ type: 'icmp', device: `net-${pad(i)}`, host: `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}` });
  }
  for (let i = 0; i < tcp + http + rtsp; i++) devices.push({ id: `cam-${pad(i)}`, name: `Camera ${i}`, kind: 'camera', hamlet: 'ap-01', role: 'security' });
  for (let i = 0; i < tcp; i++) targets.push({ type: 'tcp', device: `cam-${pad(i)}`, host: '127.0.0.1', port: peers.tcp });
  for (let i = 0; i < http; i++) {
    targets.push({ type: 'http', device: `cam-${pad(tcp + i)}`, url: `http://127.0.0.1:${peers.http}/doc/page/login.asp?cam=${i}`, ...(i % 2 ? { keyword: 'Hikvision' } : {}) });
  }
  for (let i = 0; i < rtsp; i++) {
    const c = i % peers.rtsp.length;
    targets.push({
      type: 'rtsp',
      device: `cam-${pad(tcp + http + i)}`,
      url: `rtsp://127.0.0.1:${peers.rtsp[c]}/Streaming/Channels/${101 + i}`,
      ...(peers.rtspAuth[c] ? { username: 'probe', passwordEnv: CAM_PASSWORD_ENV } : {}),
    });
  }
  return {
    commune: { code: '99999', name: 'Xã Benchmark', province: { code: '75', name: 'Đồng Nai' } },
    gateway: { id: 'gw-bench', dataDir: dir, heartbeatS: 30 },
    log: { level: 'warn', rejectLogIntervalS: 10 },
    hamlets: [{ id: 'ap-01', name: 'Ấp 1' }],
    mqtt: { host: '127.0.0.1', port: 0 },
    api: { host: '127.0.0.1', port: 0 },
    devices,
    probes: { defaults: { intervalS, timeoutMs: 2000 }, targets },
  };
}

interface Sample {
  t: number;
  self: number;
  children: number;
  rssKb: number;
}

async function measure(pid: number, seconds: number): Promise<{ samples: Sample[]; threads: string }> {
  const samples: Sample[] = [];
  const t0 = readThreadCpuS(pid);
  const start = performance.now();
  for (let i = 0; i <= seconds; i++) {
    const cpu = procCpu(pid);
    const mem = readProcMem(pid);
    if (!cpu || !mem) throw new Error('the gateway side is gone');
    samples.push({ t: (performance.now() - start) / 1000, ...cpu, rssKb: mem.rssKb });
    if (i < seconds) await sleep(1000 - ((performance.now() - start) % 1000));
  }
  return { samples, threads: threadSplit(t0, readThreadCpuS(pid), samples.at(-1)!.t - samples[0]!.t).text };
}

function cpuPct(s: Sample[], key: 'self' | 'children'): number {
  const span = s.at(-1)!.t - s[0]!.t;
  return Math.round(((s.at(-1)![key] - s[0]![key]) / span) * 1000) / 10;
}

async function main(): Promise<void> {
  if (args.help) {
    process.stdout.write('node dist/bench/probes.js [--seconds 60] [--targets 300] [--interval 10] [--json] [--gateway-prof DIR (V8 CPU profile of the gateway side)]\n');
    return;
  }
  setQuiet(args.json === true);
  const seconds = Number(args.seconds);
  const n = Number(args.targets);
  const intervalS = Number(args.interval);
  if (!(seconds >= 5 && n >= 10 && intervalS >= 1)) fatal('--seconds ≥ 5, --targets ≥ 10, --interval ≥ 1');
  const dir = mkdtempSync(join(tmpdir(), 'ce-bench-probes-'));
  extraDirs.add(dir);

  progress('starting the peers (TCP, HTTP, 4 RTSP cameras) in their own process');
  const peersProc = spawnRole('peers');
  const peers = (await waitReady(peersProc, 'peers', 15_000)) as { tcp: number; http: number; rtsp: number[]; rtspAuth: boolean[] };

  const idleS = Math.min(10, Math.max(3, Math.round(seconds / 6)));
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ input: benchSettings(join(dir, 'data'), n, intervalS, peers), startProbesAfterMs: (idleS + 2) * 1000 }));
  progress(`starting the gateway side: ${n} targets every ${intervalS} s`);
  const prof = args['gateway-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${args['gateway-prof']}`] : [];
  const gwProc = spawnRole('gateway', ['--config', configFile], { ...process.env, [CAM_PASSWORD_ENV]: CAM_PASSWORD }, prof);
  const lines: string[] = [];
  createInterface({ input: gwProc.stdout! }).on('line', (l) => lines.push(l));
  const { pid } = (await waitReady(gwProc, 'gateway side', 30_000)) as { pid: number };

  progress(`gateway idle for ${idleS} s (no probes yet)`);
  await sleep(1000);
  const idle = await measure(pid, idleS);
  const deadline = performance.now() + 10_000;
  while (!lines.includes('PROBES-STARTED')) {
    if (performance.now() > deadline) fatal('probes did not start');
    await sleep(50);
  }
  progress(`warm-up: one interval (${intervalS} s)`);
  await sleep(intervalS * 1000 + 1000);
  progress(`measuring for ${seconds} s`);
  const busy = await measure(pid, seconds);

  gwProc.stdin!.end();
  const statsDeadline = performance.now() + 20_000;
  while (!lines.some((l) => l.startsWith('STATS '))) {
    if (performance.now() > statsDeadline) fatal('the gateway side did not report its stats');
    await sleep(50);
  }
  const stats = JSON.parse(lines.find((l) => l.startsWith('STATS '))!.slice(6)) as {
    probingS: number;
    runs: Record<string, number>;
    skipped: number;
    peakInFlight: number;
    status: string;
    readings: number;
  };
  peersProc.stdin!.end();
  await Promise.all(
    [gwProc, peersProc].map((c) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r())))),
  );

  const total = Object.values(stats.runs).reduce((a, b) => a + b, 0);
  const errors = Object.entries(stats.runs).filter(([k]) => k.endsWith(':error')).reduce((a, [, v]) => a + v, 0);
  const notUp = Object.entries(stats.runs).filter(([k]) => !k.endsWith(':up')).reduce((a, [, v]) => a + v, 0);
  const rssMean = busy.samples.reduce((a, s) => a + s.rssKb, 0) / busy.samples.length;
  const rssMax = Math.max(...busy.samples.map((s) => s.rssKb));
  const result = {
    machine: machine(),
    targets: n,
    intervalS,
    seconds,
    gatewayIdleCpuPct: cpuPct(idle.samples, 'self'),
    gatewayIdleRssMb: Math.round(idle.samples.at(-1)!.rssKb / 102.4) / 10,
    gatewayCpuPct: cpuPct(busy.samples, 'self'),
    fpingCpuPct: cpuPct(busy.samples, 'children'),
    threads: busy.threads,
    rssMeanMb: Math.round(rssMean / 102.4) / 10,
    rssMaxMb: Math.round(rssMax / 102.4) / 10,
    probeResultsPerS: Math.round((total / stats.probingS) * 10) / 10,
    expectedPerS: Math.round((n / intervalS) * 10) / 10,
    results: stats.runs,
    notUp,
    errors,
    skipped: stats.skipped,
    peakInFlight: stats.peakInFlight,
    readings: stats.readings,
    status: stats.status,
  };
  const cpuTotal = Math.round((result.gatewayCpuPct + result.fpingCpuPct) * 10) / 10;
  if (!args.json) {
    const row = (k: string, v: string) => process.stdout.write(`${k.padEnd(34)}${v}\n`);
    process.stdout.write(`\nprobe scheduler: ${n} targets every ${intervalS} s, measured ${seconds} s (${result.machine.cpuModel}, ${result.machine.cores} cores, node ${result.machine.node})\n\n`);
    row('gateway CPU, idle (no probes)', `${result.gatewayIdleCpuPct.toFixed(1)} % of one core`);
    row('gateway CPU, probing', `${result.gatewayCpuPct.toFixed(1)} % of one core (${result.threads})`);
    row('fping children CPU', `${result.fpingCpuPct.toFixed(1)} % of one core`);
    row('total', `${cpuTotal.toFixed(1)} % of one core (guideline ≤ ${TARGET_CPU_PCT} %: ${cpuTotal <= TARGET_CPU_PCT ? 'PASS' : 'FAIL'})`);
    row('gateway RSS', `${result.rssMeanMb} MB mean, ${result.rssMaxMb} MB max (idle, no probes: ${result.gatewayIdleRssMb} MB)`);
    row('probe results', `${total} in ${stats.probingS.toFixed(0)} s: ${result.probeResultsPerS}/s (${result.expectedPerS}/s expected; the first round spreads over one interval)`);
    row('  not UP / errors / skipped', `${notUp} / ${errors} / ${stats.skipped}`);
    row('most probes in flight', String(stats.peakInFlight));
    row('readings stored', String(stats.readings));
    process.stdout.write('\n');
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const role = args.role;
const run = role === 'peers' ? runPeers() : role === 'gateway' ? runGatewaySide(String(args.config)) : main();
run.then(
  () => process.exit(0),
  (err: unknown) => fatal((err as Error).stack ?? String(err)),
);
