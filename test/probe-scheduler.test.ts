/**
 * The probe scheduler (gateway/probes/source.ts) inside the real gateway
 * (buildGateway, in-process), against real peers on 127.0.0.1 (HTTP and TCP
 * servers, a server that accepts and never answers, the RTSP camera simulator):
 * the concurrency bound, no stacking of rounds, the phase spread, stop()
 * aborting probes in flight, results in the store and in device health, and one
 * broken probe not touching the others. (ICMP and the LAN sweep need fping:
 * test/integration/probes.integration.test.ts.)
 */
import { mkdtempSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RtspResponder } from '../devices/camera/rtsp-responder.js';
import { buildGateway, type Gateway } from '../gateway/build.js';
import type { Probe, ProbeOutcome } from '../gateway/probes/contract.js';
import { httpProbe } from '../gateway/probes/http.js';
import type { ProbesSettings } from '../gateway/probes/settings.js';
import { phaseOf, ProbeSource, type ProbeSourceOptions } from '../gateway/probes/source.js';
import { tcpProbe } from '../gateway/probes/tcp.js';
import { settingsFrom } from '../gateway/settings/load.js';
import type { SettingsInput } from '../gateway/settings/schema.js';
import { metric, removeDir, testSettingsInput, until } from './helpers/gateway.js';

type ProbesInput = NonNullable<SettingsInput['probes']>;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** `n` extra camera devices cam-p-00 .. (kind camera carries the probe fields). */
function cameras(n: number): NonNullable<SettingsInput['devices']> {
  return Array.from({ length: n }, (_, i) => ({ id: `cam-p-${String(i).padStart(2, '0')}`, name: `Camera ${i}`, kind: 'camera' as const, hamlet: 'ap-01', role: 'security' }));
}

interface Harness {
  gw: Gateway;
  source: ProbeSource;
  /** performance.now() just before source.start(). */
  startedAt: number;
  readings(deviceId: string): Array<{ fields: Record<string, unknown> }>;
  metrics(): Promise<string>;
}

/**
 * The real gateway with `probes`, and our ProbeSource started on it (the lead
 * wires it into build.ts later). `override` replaces validated probe settings
 * after the config check, for tests that need a configuration the check refuses
 * on purpose (a concurrency below the worst case, a timeout longer than the
 * interval): the scheduler must still behave.
 */
async function start(probes: ProbesInput, opts: { devices?: number; override?: Partial<ProbesSettings>; source?: ProbeSourceOptions } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ce-probe-sched-'));
  const base = testSettingsInput(dir);
  let settings = settingsFrom({ ...base, devices: [...(base.devices ?? []), ...cameras(opts.devices ?? 0)], probes });
  if (opts.override) settings = { ...settings, probes: { ...settings.probes!, ...opts.override } };
  // probes: false — this harness starts its own scheduler (with test seams) on the real gateway.
  const gw = await buildGateway(settings, { logger: pino({ level: 'silent' }), probes: false });
  await gw.start();
  const source = new ProbeSource(opts.source);
  cleanups.push(() => removeDir(dir));
  cleanups.push(() => gw.stop('test'));
  cleanups.push(() => source.stop());
  const startedAt = performance.now();
  await source.start(gw.ctx);
  return {
    gw,
    source,
    startedAt,
    readings: (deviceId) =>
      gw.ctx.store
        .spoolRows('readings', 0, 100_000)
        .map((r) => r.reading!)
        .filter((r) => r.deviceId === deviceId),
    metrics: async () => (await gw.api.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer viewer-token-0123456789' } })).body,
  };
}

function listen(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An HTTP server answering after `delayMs`, counting requests in progress (overall and per path). */
async function slowHttp(delayMs: number) {
  const stats = { open: 0, maxOpen: 0, perPath: new Map<string, number>(), maxPerPath: 0, requests: 0, firstAt: new Map<string, number>() };
  const server = createHttpServer((req, res) => {
    const path = req.url ?? '/';
    stats.requests++;
    if (!stats.firstAt.has(path)) stats.firstAt.set(path, performance.now());
    stats.open++;
    stats.maxOpen = Math.max(stats.maxOpen, stats.open);
    const n = (stats.perPath.get(path) ?? 0) + 1;
    stats.perPath.set(path, n);
    stats.maxPerPath = Math.max(stats.maxPerPath, n);
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      stats.open--;
      stats.perPath.set(path, stats.perPath.get(path)! - 1);
    };
    res.on('close', end);
    const timer = setTimeout(() => res.end('ok'), delayMs);
    res.on('close', () => clearTimeout(timer));
  });
  const port = await listen(server);
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { port, stats };
}

/** Accepts TCP and never answers; counts connections open now and at most. */
async function hangServer() {
  const sockets = new Set<Socket>();
  const stats = { accepted: 0, maxOpen: 0, get open() {
    return sockets.size;
  } };
  const server = createTcpServer((s) => {
    stats.accepted++;
    sockets.add(s);
    stats.maxOpen = Math.max(stats.maxOpen, sockets.size);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.resume();
  });
  const port = await listen(server);
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port, stats };
}

describe('probe scheduler', () => {
  it('never has more probes in flight than the concurrency bound, and skips rounds instead of stacking them', async () => {
    const { port, stats } = await slowHttp(300);
    const targets = cameras(40).map((d, i) => ({ type: 'http' as const, device: d.id, url: `http://127.0.0.1:${port}/t${i}`, intervalS: 1, timeoutMs: 900 }));
    // 40 targets × 300 ms over 5 slots = 2.4 s per round, for a 1 s interval: overloaded on purpose.
    const h = await start({ targets, concurrency: 64 }, { devices: 40, override: { concurrency: 5 } });
    await sleep(1500);
    const inFlight = metric(await h.metrics(), 'ce_probe_in_flight');
    expect(inFlight).toBeGreaterThan(0);
    expect(inFlight).toBeLessThanOrEqual(5);
    await sleep(2000);
    expect(stats.maxOpen).toBe(5); // the bound is reached ...
    expect(h.source.peakInFlight).toBe(5); // ... and never passed
    expect(stats.maxPerPath).toBe(1); // a target never has two requests at once
    const text = await h.metrics();
    expect(metric(text, 'ce_probe_skipped_total{type="http"}')).toBeGreaterThan(0);
    expect(metric(text, 'ce_probe_runs_total{type="http",result="up"}')).toBeGreaterThanOrEqual(stats.requests - 5);
    expect(metric(text, 'ce_probe_duration_seconds_count{type="http"}')).toBeGreaterThan(0);
    // Every request answered in time became a stored reading with the status.
    const all = cameras(40).flatMap((d) => h.readings(d.id));
    expect(all.length).toBeGreaterThanOrEqual(stats.requests - 5);
    expect(all.every((r) => r.fields['http_status'] === 200 && r.fields['probe_ok'] === true)).toBe(true);
  });

  it('starts each target at its own phase of the interval (deterministic spread)', async () => {
    const { port, stats } = await slowHttp(0);
    const targets = cameras(30).map((d, i) => ({ type: 'http' as const, device: d.id, url: `http://127.0.0.1:${port}/p${i}`, intervalS: 2, timeoutMs: 1000 }));
    const h = await start({ targets }, { devices: 30 });
    await until(() => stats.firstAt.size === 30, 4000, 'a first round of all 30 targets');
    const offsets = targets.map((t) => ({ at: stats.firstAt.get(new URL(t.url).pathname)! - h.startedAt, phase: phaseOf(`http:${t.device}:${t.url}`, 2000, 100) }));
    for (const o of offsets) {
      // Each target fires at its phase (plus event-loop and connect time), never all at once.
      expect(o.at).toBeGreaterThanOrEqual(o.phase - 5);
      expect(o.at).toBeLessThan(o.phase + 150);
    }
    const times = offsets.map((o) => o.at).sort((a, b) => a - b);
    expect(times.at(-1)! - times[0]!).toBeGreaterThan(1000);
    const densest = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 100).length));
    expect(densest).toBeLessThanOrEqual(8);
  });

  it('a target that hangs is DOWN every round, skipped while running, and stop() aborts it at once', async () => {
    const { port, stats } = await hangServer();
    const targets = cameras(3).map((d, i) => ({ type: 'http' as const, device: d.id, url: `http://127.0.0.1:${port}/h${i}`, intervalS: 1, timeoutMs: 800 }));
    // timeoutMs 2500 > intervalS 1: refused by the config check, forced here to make rounds overlap.
    const h = await start({ targets }, { devices: 3, override: { targets: targets.map((t) => ({ ...t, timeoutMs: 2500, method: 'GET', expectStatus: ['2xx', '3xx'], keywordMaxBytes: 65536, latencyDegradedMs: 2000, insecureTls: false })) } });
    await until(() => cameras(3).every((d) => h.gw.ctx.health.get(d.id)?.state === 'DOWN'), 5000, 'the hung targets DOWN');
    await sleep(1200);
    expect(stats.maxOpen).toBeLessThanOrEqual(3); // one connection per target at a time: never stacked
    expect(metric(await h.metrics(), 'ce_probe_skipped_total{type="http"}')).toBeGreaterThanOrEqual(3);
    for (const d of cameras(3)) {
      const r = h.readings(d.id);
      expect(r.length).toBeGreaterThanOrEqual(1);
      expect(r.every((x) => x.fields['probe_ok'] === false)).toBe(true);
    }
    // New rounds are in flight again: stop() must abort them, not wait 2.5 s.
    await until(() => stats.open > 0, 3000, 'a probe in flight');
    const before = h.readings('cam-p-00').length + h.readings('cam-p-01').length + h.readings('cam-p-02').length;
    const t = performance.now();
    await h.source.stop();
    expect(performance.now() - t).toBeLessThan(500);
    await until(() => stats.open === 0, 1000, 'the probe connections closed');
    await sleep(1500);
    const after = h.readings('cam-p-00').length + h.readings('cam-p-01').length + h.readings('cam-p-02').length;
    expect(after).toBe(before); // nothing submitted at or after stop (an aborted probe is not a DOWN device)
  });

  it('stores every round: UP, refused (DOWN) and an RTSP camera with its codec; status and metrics say so', async () => {
    const tcp = createTcpServer((s) => s.destroy());
    const tcpPort = await listen(tcp);
    cleanups.push(() => new Promise<void>((r) => tcp.close(() => r())));
    const closed = createTcpServer();
    const closedPort = await listen(closed);
    await new Promise<void>((r) => closed.close(() => r()));
    const cam = new RtspResponder({ codec: 'H265', auth: { username: 'probe', password: 'pw' } });
    await cam.start();
    cleanups.push(() => cam.stop());
    process.env['CE_TEST_SCHED_CAM_PW'] = 'pw';
    const h = await start({
      targets: [
        { type: 'tcp', device: 'ups-01', host: '127.0.0.1', port: tcpPort, intervalS: 1, timeoutMs: 500 },
        { type: 'tcp', device: 'cam-2', host: '127.0.0.1', port: closedPort, intervalS: 1, timeoutMs: 500 },
        { type: 'rtsp', device: 'cam-1', url: cam.url(), username: 'probe', passwordEnv: 'CE_TEST_SCHED_CAM_PW', intervalS: 1, timeoutMs: 800 },
      ],
    });
    await until(() => h.readings('cam-2').length >= 3 && h.readings('ups-01').length >= 3 && h.readings('cam-1').length >= 3, 6000, 'three rounds of each');
    expect(h.gw.ctx.health.get('ups-01')).toMatchObject({ state: 'UP' });
    // The camera kind's probe rule names it (no-answer); the probe's own reason (refused) is in the log and the error.
    expect(h.gw.ctx.health.get('cam-2')).toMatchObject({ state: 'DOWN' });
    expect(h.readings('cam-2').every((r) => r.fields['probe_ok'] === false)).toBe(true);
    expect(h.gw.ctx.health.get('cam-1')).toMatchObject({ state: 'UP' });
    expect(h.readings('cam-1').at(-1)!.fields).toMatchObject({ probe_ok: true, stream_codec: 'H265', http_status: 200 });
    const api = await h.gw.api.inject({ method: 'GET', url: '/api/devices/cam-2', headers: { authorization: 'Bearer viewer-token-0123456789' } });
    expect(api.json()).toMatchObject({ state: 'DOWN' });
    expect(h.source.status()).toStrictEqual({ name: 'probes', connected: true, detail: '3 targets, 1 down' });
    const text = await h.metrics();
    expect(metric(text, 'ce_probe_runs_total{type="tcp",result="down"}')).toBeGreaterThanOrEqual(3);
    expect(metric(text, 'ce_probe_runs_total{type="rtsp",result="up"}')).toBeGreaterThanOrEqual(3);
    expect(metric(text, 'ce_messages_received_total{transport="probe"}')).toBeGreaterThanOrEqual(9);
    // A device that comes back is UP on the next round.
    const revived = createTcpServer((s) => s.destroy());
    await new Promise<void>((r) => revived.listen(closedPort, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => revived.close(() => r())));
    await until(() => h.gw.ctx.health.get('cam-2')?.state === 'UP', 3000, 'cam-2 UP again');
  });

  it('one broken probe does not touch the others; a probe that ignores its signal is cut and reported', async () => {
    const tcp = createTcpServer((s) => s.destroy());
    const port = await listen(tcp);
    cleanups.push(() => new Promise<void>((r) => tcp.close(() => r())));
    // Injected probes (options.probes replaces by type): a TCP probe that throws for one device,
    // and an HTTP probe that never settles (breaks the contract on purpose).
    const throwing: Probe<{ device: string }> = {
      type: 'tcp',
      run: (target, ctx) => {
        if (target.device === 'cam-p-00') throw new Error('bug in a probe');
        return tcpProbe.run(target as never, ctx);
      },
    };
    let stuckRuns = 0;
    const stuck: Probe<unknown> = {
      type: 'http',
      run: () => {
        stuckRuns++;
        return new Promise<ProbeOutcome>(() => undefined);
      },
    };
    const h = await start(
      {
        targets: [
          { type: 'tcp', device: 'cam-p-00', host: '127.0.0.1', port, intervalS: 1, timeoutMs: 500 },
          { type: 'tcp', device: 'cam-p-01', host: '127.0.0.1', port, intervalS: 1, timeoutMs: 500 },
          { type: 'http', device: 'cam-p-02', url: `http://127.0.0.1:${port}/`, intervalS: 1, timeoutMs: 300 },
        ],
      },
      { devices: 3, source: { probes: { tcp: throwing, http: stuck } } },
    );
    await until(() => h.readings('cam-p-01').length >= 2, 4000, 'the healthy target probed twice');
    expect(h.gw.ctx.health.get('cam-p-01')?.state).toBe('UP');
    // The throwing target stores nothing (a gateway bug is not a DOWN device) and is counted as error.
    expect(h.readings('cam-p-00')).toHaveLength(0);
    expect(h.gw.ctx.health.get('cam-p-00')?.state).toBe('UNKNOWN');
    expect(metric(await h.metrics(), 'ce_probe_runs_total{type="tcp",result="error"}')).toBeGreaterThanOrEqual(1);
    // The stuck probe is reported DOWN (timeout) 1 s after its timeout; its slot stays held, so it is never run twice.
    await until(() => h.readings('cam-p-02').length >= 1, 3000, 'the stuck target reported');
    expect(h.readings('cam-p-02')[0]!.fields).toStrictEqual({ probe_ok: false });
    expect(h.gw.ctx.health.get('cam-p-02')?.state).toBe('DOWN');
    await sleep(1000);
    expect(stuckRuns).toBe(1);
    expect(metric(await h.metrics(), 'ce_probe_skipped_total{type="http"}')).toBeGreaterThanOrEqual(1);
    const t = performance.now();
    await h.source.stop(); // bounded even with a probe that never settles
    expect(performance.now() - t).toBeLessThan(6000);
  });

  it('loads the SNMP probe (gateway/probes/snmp) for snmp targets and runs it like the others', async () => {
    // A UDP port nothing listens on: the agent is "down" (no SNMP agent runs in this unit test;
    // test/integration/snmp*.integration.test.ts talks to a real snmpd).
    const { createSocket } = await import('node:dgram');
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    await new Promise<void>((r) => sock.close(() => r()));
    process.env['CE_TEST_SNMP_COMMUNITY'] = 'public';
    const h = await start({
      targets: [{ type: 'snmp', device: 'ups-01', host: '127.0.0.1', port, version: '2c', communityEnv: 'CE_TEST_SNMP_COMMUNITY', profile: 'ups-mib', intervalS: 1, timeoutMs: 600 }],
    });
    await until(() => h.readings('ups-01').length >= 1, 5000, 'an SNMP round stored');
    expect(h.readings('ups-01')[0]!.fields['probe_ok']).toBe(false);
    expect(h.gw.ctx.health.get('ups-01')?.state).toBe('DOWN');
    expect(metric(await h.metrics(), 'ce_probe_runs_total{type="snmp",result="down"}')).toBeGreaterThanOrEqual(1);
  });

  it('does nothing without probes, and resolves start and stop at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-probe-none-'));
    const gw = await buildGateway(settingsFrom(testSettingsInput(dir)), { logger: pino({ level: 'silent' }) });
    await gw.start();
    cleanups.push(() => removeDir(dir));
    cleanups.push(() => gw.stop('test'));
    const source = new ProbeSource();
    await source.start(gw.ctx);
    expect(source.status()).toStrictEqual({ name: 'probes', connected: true, detail: '0 targets, 0 down' });
    await source.stop();
  });
});
