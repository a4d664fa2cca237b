/**
 * The cost of the province view: 100 communes' IOC feeds into the reference
 * receiver (gateway/uplink/receiver.ts), then the province re-aggregation.
 *
 *   node dist/bench/ioc-receiver.js [--communes 100] [--status 10] [--events 10]
 *                                   [--synchronous FULL|NORMAL] [--json]
 *
 * The receiver runs alone in a child process (this file with --child-receiver,
 * the same code path as `commune-edge ioc-receiver`), so its CPU (utime+stime from
 * /proc) and RSS are its own. This process builds the communes' messages as a
 * gateway does (envelope, gzip, HMAC signature with a fresh timestamp) and sends
 * each commune's messages in order on its own keep-alive connection, all communes
 * at once: a province's gateways catching up after an outage of the receiver.
 *
 * Each commune: 60–500 devices (spread evenly) in 10–25 hamlets; an indicators
 * message for the day, the month and the half-year with 20 indicators, each with
 * per-hamlet and per-device breakdowns of its device kinds; `--status` status
 * snapshots (every device) and `--events` events. Printed: ingest messages/s and
 * MB/s (on the wire, gzip, and as JSON), receiver CPU and RSS, and the time of
 * GET /province/indicators over all communes (checked against the sums the
 * generator knows).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { DeviceBreakdown, IndicatorReport, IndicatorResult, Period } from '../gateway/indicators/types.js';
import { buildEnvelope, indicatorsBody, type EnvelopeHeader, type StatusBody } from '../gateway/uplink/envelope.js';
import { sign } from '../gateway/uplink/signature.js';

const TOKEN = 'bench-ioc-token';
const KEY = 'bench-ioc-hmac-key';

const { values: args } = parseArgs({
  options: {
    'child-receiver': { type: 'boolean' },
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    communes: { type: 'string', default: '100' },
    status: { type: 'string', default: '10' },
    events: { type: 'string', default: '10' },
    synchronous: { type: 'string', default: 'FULL' },
    'aggregate-runs': { type: 'string', default: '5' },
    'receiver-node-arg': { type: 'string', multiple: true, default: [] },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

// ---------------------------------------------------------------------------
// Synthetic communes
// ---------------------------------------------------------------------------

const TZ = 'Asia/Ho_Chi_Minh';
const at = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d) - 7 * 3600_000;
const PERIODS: Period[] = [
  { id: '2026-05-14', kind: 'day', from: at(2026, 5, 14), to: at(2026, 5, 15), timezone: TZ },
  { id: '2026-05', kind: 'month', from: at(2026, 5, 1), to: at(2026, 6, 1), timezone: TZ },
  { id: '2026-H1', kind: 'half', from: at(2026, 1, 1), to: at(2026, 7, 1), timezone: TZ },
];
const NOW = at(2026, 5, 14) + 15 * 3600_000;

/** Share of a commune's devices per kind (field notes: loudspeakers, cameras, network, Wi-Fi, soil probes, vconf, power). */
const KIND_SHARE: [string, number, string | undefined][] = [
  ['loudspeaker', 0.3, 'hamlet'],
  ['camera', 0.25, 'security'],
  ['network', 0.1, 'lan_switch'],
  ['wifi_ap', 0.1, 'public'],
  ['soil_probe', 0.15, 'farm'],
  ['vconf', 0.02, 'office'],
  ['power', 0.08, 'rack'],
];

/** 20 indicators, each over one kind's devices (several per kind, as the starting set has). */
const INDICATORS: { id: string; kind: string; unit: '%' | 'phút' | 'sự cố'; method: IndicatorResult['method']; target: number | null }[] = [
  { id: 'loudspeaker_availability', kind: 'loudspeaker', unit: '%', method: 'time-weighted', target: 95 },
  { id: 'loudspeaker_hamlet_coverage', kind: 'loudspeaker', unit: '%', method: 'count-in-period', target: 100 },
  { id: 'loudspeaker_cellular_coverage', kind: 'loudspeaker', unit: '%', method: 'count-in-period', target: 100 },
  { id: 'loudspeaker_incidents', kind: 'loudspeaker', unit: 'sự cố', method: 'events', target: null },
  { id: 'loudspeaker_mttr', kind: 'loudspeaker', unit: 'phút', method: 'mean-duration', target: null },
  { id: 'onestop_camera_ioc', kind: 'camera', unit: '%', method: 'count-at-end', target: 100 },
  { id: 'onestop_camera_availability', kind: 'camera', unit: '%', method: 'time-weighted', target: 99 },
  { id: 'security_camera_availability', kind: 'camera', unit: '%', method: 'time-weighted', target: 95 },
  { id: 'camera_incidents', kind: 'camera', unit: 'sự cố', method: 'events', target: null },
  { id: 'camera_mttr', kind: 'camera', unit: 'phút', method: 'mean-duration', target: null },
  { id: 'office_computers_lan', kind: 'network', unit: '%', method: 'count-at-end', target: 100 },
  { id: 'wan_availability', kind: 'network', unit: '%', method: 'time-weighted', target: 99 },
  { id: 'tslcd_availability', kind: 'network', unit: '%', method: 'time-weighted', target: 99 },
  { id: 'public_wifi_in_service', kind: 'wifi_ap', unit: '%', method: 'time-weighted', target: 90 },
  { id: 'wifi_incidents', kind: 'wifi_ap', unit: 'sự cố', method: 'events', target: null },
  { id: 'vconf_availability', kind: 'vconf', unit: '%', method: 'time-weighted', target: 99 },
  { id: 'soil_data_completeness', kind: 'soil_probe', unit: '%', method: 'completeness', target: 90 },
  { id: 'soil_probe_availability', kind: 'soil_probe', unit: '%', method: 'time-weighted', target: 90 },
  { id: 'mains_power_availability', kind: 'power', unit: '%', method: 'time-weighted', target: 99 },
  { id: 'power_incidents', kind: 'power', unit: 'sự cố', method: 'events', target: null },
];

interface Device {
  id: string;
  kind: string;
  role: string | undefined;
  hamlet: string;
}

interface Commune {
  code: string;
  name: string;
  hamlets: { id: string; name: string }[];
  devices: Device[];
}

/** Deterministic pseudo-random numbers (the same communes every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function makeCommune(i: number, n: number): Commune {
  const devicesN = Math.round(60 + ((500 - 60) * i) / Math.max(1, n - 1));
  const hamletsN = 10 + (i % 16);
  const hamlets = Array.from({ length: hamletsN }, (_, h) => ({ id: `ap-${String(h + 1).padStart(2, '0')}`, name: `Ấp ${h + 1}` }));
  const devices: Device[] = [];
  for (const [kind, share, role] of KIND_SHARE) {
    const count = Math.max(1, Math.round(devicesN * share));
    for (let d = 0; d < count; d++) devices.push({ id: `${kind}-${String(d + 1).padStart(3, '0')}`, kind, role, hamlet: hamlets[d % hamletsN]!.id });
  }
  return { code: String(10001 + i), name: `Xã Thử ${i + 1}`, hamlets, devices };
}

/** Per-indicator sums the generator knows, to check the province view. */
type Truth = Map<string, Map<string, { numerator: number; denominator: number }>>;

function report(c: Commune, period: Period, seed: number, truth: Truth): IndicatorReport {
  const rand = rng(seed);
  const span = Math.min(period.to, NOW) - period.from;
  const indicators: IndicatorResult[] = INDICATORS.map((ind) => {
    const mine = c.devices.filter((d) => d.kind === ind.kind);
    const byDevice: DeviceBreakdown[] = mine.map((d) => {
      const unknownMs = Math.round(span * 0.02 * rand());
      const known = span - unknownMs;
      const downMs = Math.round(known * 0.08 * rand());
      const degradedMs = Math.round(known * 0.03 * rand());
      const upMs = known - downMs - degradedMs;
      const incidents = Math.floor(rand() * 4);
      let numerator: number;
      let denominator: number;
      switch (ind.method) {
        case 'time-weighted':
          [numerator, denominator] = [upMs + degradedMs, known];
          break;
        case 'events':
          [numerator, denominator] = [incidents, 1];
          break;
        case 'mean-duration':
          [numerator, denominator] = [incidents * 30 * rand(), incidents];
          break;
        case 'completeness':
          [numerator, denominator] = [Math.floor((span / 60_000) * (0.9 + 0.1 * rand())), Math.floor(span / 60_000)];
          break;
        default:
          [numerator, denominator] = [rand() < 0.95 ? 1 : 0, 1];
      }
      const scale = ind.unit === '%' ? 100 : 1;
      return {
        id: d.id,
        name: `${d.kind} ${d.id}`,
        kind: d.kind,
        role: d.role,
        hamlet: d.hamlet,
        value: denominator ? (numerator / denominator) * scale : null,
        numerator,
        denominator,
        coverage: known / span,
        upMs,
        degradedMs,
        downMs,
        unknownMs,
        maintenanceMs: 0,
        incidents,
        mttrMin: incidents ? 30 * rand() : null,
      };
    });
    const scale = ind.unit === '%' ? 100 : 1;
    const byHamlet = c.hamlets.map((h) => {
      const ds = byDevice.filter((d) => d.hamlet === h.id);
      const numerator = ds.reduce((s, d) => s + d.numerator, 0);
      const denominator = ds.reduce((s, d) => s + d.denominator, 0);
      return { id: h.id, name: h.name, value: denominator ? (numerator / denominator) * scale : null, numerator, denominator, coverage: ds.length ? 0.99 : null };
    });
    const numerator = byDevice.reduce((s, d) => s + d.numerator, 0);
    const denominator = byDevice.reduce((s, d) => s + d.denominator, 0);
    if (period.kind === 'half') {
      const t = truth.get(ind.id) ?? new Map();
      t.set(c.code, { numerator, denominator });
      truth.set(ind.id, t);
    }
    const value = denominator ? (numerator / denominator) * scale : null;
    return {
      id: ind.id,
      name: { vi: ind.id, en: ind.id },
      unit: { vi: ind.unit, en: ind.unit === '%' ? '%' : ind.unit === 'phút' ? 'min' : 'incidents' },
      method: ind.method,
      value,
      numerator,
      denominator,
      target: ind.target === null ? null : { op: '>=', value: ind.target },
      status: value === null ? 'KHONG_DU_DU_LIEU' : ind.target === null || value >= ind.target ? 'DAT' : 'CHUA_DAT',
      coverage: 0.99,
      responsibleUnit: 'Phòng Văn hóa - Xã hội',
      byHamlet,
      byDevice,
    };
  });
  return {
    commune: { code: c.code, name: c.name, province: { code: '75', name: 'Đồng Nai' } },
    gatewayId: 'gw-01',
    period,
    generatedAt: new Date(NOW).toISOString(),
    gatewayCoverage: 0.99,
    partial: period.to > NOW,
    indicators,
  };
}

function statusBody(c: Commune, k: number): StatusBody {
  const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '+00:00');
  const devices = c.devices.map((d, i) => ({
    id: d.id,
    name: `${d.kind} ${d.id}`,
    kind: d.kind,
    role: d.role ?? null,
    hamlet: d.hamlet,
    state: (i + k) % 37 === 0 ? ('DOWN' as const) : ('UP' as const),
    since: iso(NOW - 3600_000),
    reason: (i + k) % 37 === 0 ? 'heartbeat-timeout' : 'ok',
    lastSeen: iso(NOW - 60_000),
  }));
  const down = devices.filter((d) => d.state === 'DOWN').length;
  return { trigger: 'periodic', total: devices.length, counts: { UP: devices.length - down, DEGRADED: 0, DOWN: down, UNKNOWN: 0 }, hamlets: c.hamlets, devices };
}

interface Wire {
  body: Buffer;
  jsonBytes: number;
  messageId: string;
  gzip: boolean;
}

function buildMessages(c: Commune, statusN: number, eventsN: number, truth: Truth, seed: number): Wire[] {
  const feedId = randomUUID();
  let seq = 0;
  const header = (): EnvelopeHeader => ({
    feedId,
    messageId: randomUUID(),
    seq: ++seq,
    generatedAt: new Date(NOW + seq * 1000).toISOString().replace('Z', '+00:00'),
    gatewayId: 'gw-01',
    commune: { code: c.code, name: c.name, province: { code: '75', name: 'Đồng Nai' } },
  });
  const envelopes: Record<string, unknown>[] = [];
  for (let k = 0; k < statusN; k++) {
    envelopes.push(buildEnvelope('status', header(), statusBody(c, k)));
    if (k < eventsN) {
      const d = c.devices[(k * 7) % c.devices.length]!;
      envelopes.push(
        buildEnvelope('event', header(), {
          event: 'down',
          device: { id: d.id, name: d.id, kind: d.kind, role: d.role ?? null, hamlet: d.hamlet },
          from: 'UP',
          to: 'DOWN',
          at: new Date(NOW).toISOString().replace('Z', '+00:00'),
          reason: 'heartbeat-timeout',
        }),
      );
    }
  }
  for (const p of PERIODS) envelopes.push(buildEnvelope('indicators', header(), indicatorsBody(report(c, p, seed + p.from, truth))));
  return envelopes.map((e) => {
    const json = Buffer.from(JSON.stringify(e));
    // As the gateway does: gzip above 1 KiB.
    const gzip = json.length > 1024;
    return { body: gzip ? gzipSync(json) : json, jsonBytes: json.length, messageId: e['messageId'] as string, gzip };
  });
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

function postOne(agent: http.Agent, port: number, w: Wire): Promise<number> {
  const ts = Math.floor(Date.now() / 1000);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/messages',
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': w.body.length,
          ...(w.gzip ? { 'content-encoding': 'gzip' } : {}),
          authorization: `Bearer ${TOKEN}`,
          'idempotency-key': w.messageId,
          'x-ce-timestamp': String(ts),
          'x-ce-signature': sign(KEY, ts, w.body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(res.statusCode) : reject(new Error(`${res.statusCode} ${Buffer.concat(chunks).toString()}`))));
      },
    );
    req.on('error', reject);
    req.end(w.body);
  });
}

async function getJson(port: number, path: string): Promise<{ ms: number; body: unknown }> {
  const t = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(60_000) });
  const body = (await res.json()) as unknown;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return { ms: performance.now() - t, body };
}

async function main(): Promise<void> {
  const h = await import('./harness.js');
  const { spawn } = await import('node:child_process');
  const communesN = Number(args.communes);
  const statusN = Number(args.status);
  const eventsN = Number(args.events);
  const runs = Number(args['aggregate-runs']);
  if (!Number.isInteger(communesN) || communesN < 1 || communesN > 99_000) h.fatal('--communes: 1..99000');
  h.setQuiet(args.json === true);

  h.progress(`building the messages of ${communesN} communes (${statusN} status, ${eventsN} events, 3 indicator periods × ${INDICATORS.length} indicators)`);
  const truth: Truth = new Map();
  const communes = Array.from({ length: communesN }, (_, i) => makeCommune(i, communesN));
  const streams = communes.map((c, i) => buildMessages(c, statusN, eventsN, truth, 1000 + i));
  const all = streams.flat();
  const wireBytes = all.reduce((s, w) => s + w.body.length, 0);
  const jsonBytes = all.reduce((s, w) => s + w.jsonBytes, 0);
  const devices = communes.reduce((s, c) => s + c.devices.length, 0);
  const indicatorJson = streams.map((s) => s.slice(-1)[0]!.jsonBytes);

  const dataDir = mkdtempSync(join(tmpdir(), 'ce-bench-ioc-'));
  h.extraDirs.add(dataDir);
  const port = await h.freePort();
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...args['receiver-node-arg']!, self, '--child-receiver', '--port', String(port), '--data-dir', dataDir, '--synchronous', args.synchronous!], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  h.children.add(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const ready = await h.waitFor(() => /listening on/.test(out), 15_000);
  if (!ready || !child.pid) h.fatal(`the receiver did not start: ${out}`);
  const pid = child.pid!;
  const cpu0 = h.readProcCpuS(pid)!;
  const rss0 = h.readProcMem(pid)!;

  h.progress(`sending ${all.length} messages (${(wireBytes / h.MB).toFixed(1)} MB gzip, ${(jsonBytes / h.MB).toFixed(1)} MB JSON) from ${communesN} communes at once`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: communesN });
  let peakRssKb = rss0.rssKb;
  const sampler = setInterval(() => {
    const m = h.readProcMem(pid);
    if (m) peakRssKb = Math.max(peakRssKb, m.rssKb);
  }, 50);
  const t0 = performance.now();
  // Each commune in order on its own connection (the gateway's FIFO); all communes concurrently.
  await Promise.all(
    streams.map(async (s) => {
      for (const w of s) await postOne(agent, port, w);
    }),
  );
  const ingestS = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const cpu1 = h.readProcCpuS(pid)!;
  const mem1 = h.readProcMem(pid)!;
  agent.destroy();

  const stats = (await getJson(port, '/stats')).body as { stored: number; duplicates: number; rejected: Record<string, number> };
  if (stats.stored !== all.length) h.fatal(`the receiver stored ${stats.stored} of ${all.length} messages (${JSON.stringify(stats.rejected)})`);

  h.progress(`GET /province/indicators?period=2026-H1 × ${runs}`);
  const cpuA = h.readProcCpuS(pid)!;
  const times: number[] = [];
  const serverMs: number[] = [];
  let province: { communes: { reporting: number }; indicators: { id: string; numerator: number; denominator: number }[] } | null = null;
  for (let i = 0; i < runs; i++) {
    const r = await getJson(port, '/province/indicators?period=2026-H1');
    times.push(r.ms);
    province = r.body as typeof province;
    serverMs.push((r.body as { computeMs: number }).computeMs);
  }
  const cpuB = h.readProcCpuS(pid)!;
  // The province view must be the sums the generator knows.
  if (province!.communes.reporting !== communesN) h.fatal(`province view: ${province!.communes.reporting} communes reporting, expected ${communesN}`);
  for (const ind of province!.indicators) {
    const t = [...truth.get(ind.id)!.values()];
    const num = t.reduce((s, x) => s + x.numerator, 0);
    const den = t.reduce((s, x) => s + x.denominator, 0);
    if (Math.abs(ind.numerator - num) > 1e-6 * Math.max(1, num) || Math.abs(ind.denominator - den) > 1e-6 * Math.max(1, den)) {
      h.fatal(`province view of ${ind.id}: ${ind.numerator}/${ind.denominator}, expected ${num}/${den}`);
    }
  }
  const communesList = await getJson(port, '/communes');
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));

  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const result = {
    machine: h.machine(),
    communes: communesN,
    devices,
    messages: all.length,
    perCommune: { status: statusN, events: eventsN, indicators: PERIODS.length },
    indicatorsMessageJsonKb: { min: Math.round(Math.min(...indicatorJson) / 1024), max: Math.round(Math.max(...indicatorJson) / 1024) },
    wireMb: +(wireBytes / h.MB).toFixed(2),
    jsonMb: +(jsonBytes / h.MB).toFixed(2),
    synchronous: args.synchronous,
    ingestS: +ingestS.toFixed(2),
    messagesPerS: Math.round(all.length / ingestS),
    wireMbPerS: +(wireBytes / h.MB / ingestS).toFixed(2),
    jsonMbPerS: +(jsonBytes / h.MB / ingestS).toFixed(2),
    receiverCpuPctOfOneCore: Math.round(((cpu1 - cpu0) / ingestS) * 1000) / 10,
    receiverCpuS: +(cpu1 - cpu0).toFixed(2),
    receiverRssMb: { start: +(rss0.rssKb / 1024).toFixed(1), peak: +(peakRssKb / 1024).toFixed(1), end: +(mem1.rssKb / 1024).toFixed(1) },
    provinceView: {
      runs,
      medianMs: +median.toFixed(1),
      maxMs: +Math.max(...times).toFixed(1),
      serverComputeMsMedian: [...serverMs].sort((a, b) => a - b)[Math.floor(serverMs.length / 2)],
      receiverCpuMsPerQuery: Math.round(((cpuB - cpuA) / runs) * 1000),
    },
    communesListMs: +communesList.ms.toFixed(1),
  };
  if (args.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  const rows: [string, string][] = [
    ['machine', `${result.machine.cpuModel}, ${result.machine.cores} cores, Node ${result.machine.node}`],
    ['load', `${communesN} communes, ${devices} devices; ${all.length} messages (${statusN} status + ${eventsN} events + 3 indicators per commune); indicator messages ${result.indicatorsMessageJsonKb.min}–${result.indicatorsMessageJsonKb.max} KB JSON`],
    ['ingest', `${result.messagesPerS} msgs/s, ${result.wireMbPerS} MB/s on the wire (gzip), ${result.jsonMbPerS} MB/s JSON; ${result.ingestS} s for ${result.wireMb} MB (${result.jsonMb} MB JSON); synchronous=${args.synchronous}`],
    ['receiver CPU', `${result.receiverCpuPctOfOneCore} % of one core during ingest (${result.receiverCpuS} s)`],
    ['receiver RSS', `${result.receiverRssMb.start} MB idle, peak ${result.receiverRssMb.peak} MB, ${result.receiverRssMb.end} MB after`],
    ['province view', `GET /province/indicators?period=2026-H1 over ${communesN} communes: median ${result.provinceView.medianMs} ms, max ${result.provinceView.maxMs} ms (server ${result.provinceView.serverComputeMsMedian} ms; ${result.provinceView.receiverCpuMsPerQuery} ms CPU); sums checked`],
    ['GET /communes', `${result.communesListMs} ms`],
  ];
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(14)} ${v}\n`);
  process.stdout.write(JSON.stringify(result) + '\n');
}

// Dispatch last: the constants above must be initialised first (top-level await).
if (args['child-receiver']) {
  // The receiver alone in this process (as `commune-edge ioc-receiver`).
  const { runIocReceiverCommand } = await import('../gateway/uplink/receiver.js');
  process.env['CE_IOC_TOKEN'] = TOKEN;
  process.env['CE_IOC_HMAC_KEY'] = KEY;
  process.env['LOG_LEVEL'] ??= 'warn';
  await runIocReceiverCommand(['--port', args.port!, '--data-dir', args['data-dir']!, '--synchronous', args.synchronous!]);
} else if (args.help) {
  process.stdout.write(
    'node dist/bench/ioc-receiver.js [--communes 100] [--status 10] [--events 10] [--synchronous FULL|NORMAL] [--aggregate-runs 5] [--json]\n',
  );
} else {
  await main();
}
