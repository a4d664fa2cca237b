/**
 * ICMP probes and the LAN sweep against the real fping (Debian package, see
 * test/peers/ensure-peers.sh), inside the real gateway (buildGateway, with our
 * ProbeSource started on it).
 *
 * Hosts that never answer, and office PCs that answer ARP but drop ping, are
 * made with Linux network namespaces, so that no packet leaves the machine:
 * `fping-ns.sh` (written below) runs fping in a fresh, throw-away network
 * namespace (`unshare -n`, needs root, as CI runs) holding only a loopback and
 * veth pairs to two more throw-away namespaces:
 *
 *   10.77.0.2  "Windows PC": net.ipv4.icmp_echo_ignore_all=1 (drops ping, answers ARP), MAC 02:00:00:00:00:0a
 *   10.77.1.2  "Linux PC": answers ping, MAC 02:00:00:00:00:0b
 *   10.77.0.9  nobody: ARP goes unanswered, ping times out
 *   127.0.0.x  the namespace's own loopback: answers ping
 *
 * Why namespaces and not an unused address on the real network: an unrouted
 * address would send ICMP and ARP off this machine (and a TEST-NET address may
 * still leave through the default route); a blackhole route fails at send()
 * instead of timing out; a firewall rule would change the host. A namespace
 * created per fping run has no way out, and disappears with the process.
 * The wrapper copies the namespace's /proc/net/arp after fping, for the sweep.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../../gateway/build.js';
import { createIcmpProbe } from '../../gateway/probes/icmp.js';
import { runFping } from '../../gateway/probes/fping.js';
import { IcmpTargetSchema, type ProbesSettings } from '../../gateway/probes/settings.js';
import { ProbeSource } from '../../gateway/probes/source.js';
import { settingsFrom } from '../../gateway/settings/load.js';
import type { SettingsInput } from '../../gateway/settings/schema.js';
import { metric, testSettingsInput } from '../helpers/gateway.js';
import { Cleanup, removeDir, sleep, tempDir, waitFor } from './helpers.js';

let dir: string;
let fpingNs: string;
let fpingLog: string;
let arpCopy: string;
const cleanup = new Cleanup();

function need(cmd: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${cmd} is needed by this test (fping: apt-get install fping; unshare/nsenter: util-linux; ip: iproute2)`);
  }
}

beforeAll(() => {
  for (const cmd of ['fping', 'unshare', 'nsenter', 'ip']) need(cmd);
  if (process.getuid?.() !== 0) throw new Error('this test creates network namespaces: run it as root (CI does)');
  dir = tempDir('probes');
  cleanup.add('temp dir', () => removeDir(dir));
  fpingLog = join(dir, 'fping.log');
  arpCopy = join(dir, 'arp');
  fpingNs = join(dir, 'fping-ns.sh');
  writeFileSync(
    fpingNs,
    `#!/bin/sh
# fping inside a throw-away network namespace (see the test's header comment).
echo "$*" >> '${fpingLog}'
echo $$ > '${fpingLog}.pid'
exec unshare -n sh -c '
set -e
ip link set lo up
same() { [ "$(readlink /proc/$1/ns/net)" = "$(readlink /proc/self/ns/net)" ]; }
pc() { # lan-if pc-if lan-addr pc-addr mac ignore-echo
  unshare -n sleep 20 >/dev/null 2>&1 & pid=$!
  while same $pid; do sleep 0.01; done
  ip link add "$1" type veth peer name "$2"
  ip link set "$2" address "$5"
  ip link set "$2" netns $pid
  ip addr add "$3" dev "$1"; ip link set "$1" up
  nsenter -t $pid -n sh -c "ip addr add $4 dev $2 && ip link set $2 up && sysctl -qw net.ipv4.icmp_echo_ignore_all=$6"
  echo $pid
}
A=$(pc v0a v1a 10.77.0.1/24 10.77.0.2/24 02:00:00:00:00:0a 1)
B=$(pc v0b v1b 10.77.1.1/24 10.77.1.2/24 02:00:00:00:00:0b 0)
rc=0; fping "$@" || rc=$?
cat /proc/net/arp > '${arpCopy}.tmp' && mv '${arpCopy}.tmp' '${arpCopy}'
kill $A $B 2>/dev/null || true
exit $rc
' sh "$@"
`,
  );
  chmodSync(fpingNs, 0o755);
});
afterAll(() => cleanup.run());

const gateways: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (gateways.length) await gateways.pop()!();
});

/** Log lines (JSON) of a gateway, for the assertions on coded errors. */
function captureLog(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      out.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines: () => out.flatMap((l) => l.trim().split('\n')).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

interface Harness {
  gw: Gateway;
  source: ProbeSource;
  log: () => Array<Record<string, unknown>>;
  readings(deviceId: string): Array<{ fields: Record<string, unknown> }>;
  metrics(): Promise<string>;
}

async function start(devices: NonNullable<SettingsInput['devices']>, probes: NonNullable<SettingsInput['probes']>, override: Partial<ProbesSettings> = {}): Promise<Harness> {
  const base = testSettingsInput(join(dir, `gw-${gateways.length}-${Date.now()}`));
  let settings = settingsFrom({ ...base, devices: [...(base.devices ?? []), ...devices], probes });
  settings = { ...settings, probes: { ...settings.probes!, ...override } };
  const { logger, lines } = captureLog();
  // probes: false — the test starts its own scheduler, reading a copy of the ARP table.
  const gw = await buildGateway(settings, { logger, probes: false });
  await gw.start();
  const source = new ProbeSource({ arpTablePath: arpCopy });
  gateways.push(async () => {
    await source.stop();
    await gw.stop('test');
  });
  await source.start(gw.ctx);
  return {
    gw,
    source,
    log: lines,
    readings: (id) =>
      gw.ctx.store
        .spoolRows('readings', 0, 100_000)
        .map((r) => r.reading!)
        .filter((r) => r.deviceId === id),
    metrics: async () => (await gw.api.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer viewer-token-0123456789' } })).body,
  };
}

const fpingRuns = (): string[] => (existsSync(fpingLog) ? readFileSync(fpingLog, 'utf8').trim().split('\n').filter(Boolean) : []);

describe('fping', () => {
  it('pings loopback addresses in one run, count echoes each', async () => {
    const r = await runFping({ fpingPath: 'fping', hosts: ['127.0.0.1', '127.0.0.2', '127.0.0.1'], count: 3, budgetMs: 1500, signal: new AbortController().signal });
    expect([...r.keys()].sort()).toStrictEqual(['127.0.0.1', '127.0.0.2']);
    for (const rtts of r.values()) {
      expect(rtts).toHaveLength(3);
      expect(rtts.every((x) => typeof x === 'number' && x >= 0 && x < 100)).toBe(true);
    }
  });

  it('a loopback host is UP with 0 % loss and its mean RTT', async () => {
    const probe = createIcmpProbe('fping', { pathFields: true });
    const ac = new AbortController();
    const o = await probe.run(IcmpTargetSchema.parse({ type: 'icmp', device: 'wan-1', host: '127.0.0.1' }), { signal: ac.signal, timeoutMs: 1500, log: pino({ level: 'silent' }), now: Date.now });
    expect(o.verdict).toStrictEqual({ state: 'UP', reason: 'ok' });
    expect(o.fields).toMatchObject({ probe_ok: true, probe_loss_pct: 0, loss_pct: 0 });
    expect(o.fields['rtt_ms']).toBe(o.fields['probe_latency_ms']);
  });

  it('a host that never answers is DOWN no-answer within the timeout (inside a namespace)', async () => {
    const probe = createIcmpProbe(fpingNs);
    const started = performance.now();
    const o = await probe.run(IcmpTargetSchema.parse({ type: 'icmp', device: 'wan-1', host: '10.77.0.9' }), {
      signal: new AbortController().signal,
      timeoutMs: 1500,
      log: pino({ level: 'silent' }),
      now: Date.now,
    });
    const elapsed = performance.now() - started;
    expect(o.verdict).toStrictEqual({ state: 'DOWN', reason: 'no-answer' });
    expect(o.fields).toStrictEqual({ probe_ok: false, probe_loss_pct: 100 });
    expect(o.error).toStrictEqual({ code: 'CE_PROBE_NO_ANSWER', detail: '10.77.0.9: no reply to 3 ICMP echo requests' });
    // fping's timing fits the budget (plus the namespace set-up of the wrapper).
    expect(elapsed).toBeGreaterThan(400);
    expect(elapsed).toBeLessThan(2500);
  });

  it('an aborted run kills fping', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort('timeout'), 100);
    const started = performance.now();
    await expect(runFping({ fpingPath: fpingNs, hosts: ['10.77.0.9'], count: 5, budgetMs: 5000, signal: ac.signal })).rejects.toMatchObject({ code: 'CE_PROBE_TIMEOUT' });
    expect(performance.now() - started).toBeLessThan(1000);
    // The whole process group went: fping and the wrapper's namespace holders (kill(pgid, 0) → ESRCH).
    const pgid = Number(readFileSync(`${fpingLog}.pid`, 'utf8'));
    await waitFor('the fping process group gone', () => {
      try {
        process.kill(-pgid, 0);
        return false;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ESRCH';
      }
    }, 2000);
  });
});

describe('ICMP targets in the gateway', () => {
  it('batches the targets due together into one fping, and sets network path fields', async () => {
    const devices = [
      { id: 'wan-1', name: 'Internet', kind: 'network' as const, hamlet: 'ap-01', role: 'wan' },
      { id: 'tslcd-1', name: 'TSLCD', kind: 'network' as const, hamlet: 'ap-01', role: 'tslcd' },
      { id: 'fw-1', name: 'Tường lửa', kind: 'network' as const, hamlet: 'ap-01', role: 'firewall' },
    ];
    // A 1 s interval with 1 s ICMP phases: every target is due every second, together.
    const h = await start(
      devices,
      {
        fpingPath: fpingNs,
        targets: [
          { type: 'icmp', device: 'wan-1', host: '127.0.0.1', intervalS: 1, timeoutMs: 800 },
          { type: 'icmp', device: 'tslcd-1', host: '10.77.0.9', intervalS: 1, timeoutMs: 800 },
          { type: 'icmp', device: 'fw-1', host: '10.77.1.2', intervalS: 1, timeoutMs: 800 },
          { type: 'icmp', device: 'cam-1', host: '127.0.0.2', intervalS: 1, timeoutMs: 800 },
        ],
      },
    );
    const before = fpingRuns().length;
    await waitFor('three rounds of every ICMP target', () => ['wan-1', 'tslcd-1', 'fw-1', 'cam-1'].every((d) => h.readings(d).length >= 3), 15_000);
    const runs = fpingRuns().slice(before);
    // One fping per round for all four targets (not four), and each names them all.
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.length).toBeLessThan(h.readings('wan-1').length + 2);
    expect(runs.every((r) => ['127.0.0.1', '10.77.0.9', '10.77.1.2', '127.0.0.2'].every((host) => r.split(' ').includes(host)))).toBe(true);

    expect(h.gw.ctx.health.get('wan-1')).toMatchObject({ state: 'UP' });
    expect(h.gw.ctx.health.get('fw-1')).toMatchObject({ state: 'UP' });
    expect(h.gw.ctx.health.get('cam-1')).toMatchObject({ state: 'UP' });
    expect(h.gw.ctx.health.get('tslcd-1')).toMatchObject({ state: 'DOWN' });
    const wan = h.readings('wan-1').at(-1)!.fields;
    expect(wan).toMatchObject({ probe_ok: true, probe_loss_pct: 0, loss_pct: 0 });
    expect(wan['rtt_ms']).toBeTypeOf('number');
    expect(h.readings('tslcd-1').at(-1)!.fields).toStrictEqual({ probe_ok: false, probe_loss_pct: 100, loss_pct: 100 });
    // A camera has no path fields: only the probe fields.
    expect(Object.keys(h.readings('cam-1').at(-1)!.fields).sort()).toStrictEqual(['probe_latency_ms', 'probe_loss_pct', 'probe_ok']);
    const text = await h.metrics();
    expect(metric(text, 'ce_probe_runs_total{type="icmp",result="down"}')).toBeGreaterThanOrEqual(3);
    expect(metric(text, 'ce_probe_runs_total{type="icmp",result="up"}')).toBeGreaterThanOrEqual(9);
    expect(h.source.status()).toStrictEqual({ name: 'probes', connected: true, detail: '4 targets, 1 down' });
    // The dead target's coded error is logged, once per interval, not every round.
    const noAnswer = h.log().filter((l) => l['code'] === 'CE_PROBE_NO_ANSWER');
    expect(noAnswer.length).toBe(1);
    expect(noAnswer[0]).toMatchObject({ device: 'tslcd-1', verdict: 'DOWN' });
  });

  it('without fping: CE_PROBE_TOOL_MISSING once, ICMP devices not marked DOWN, other probes unaffected', async () => {
    const tcp = createServer((s) => s.destroy());
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    cleanup.add('tcp server', () => new Promise<void>((r) => tcp.close(() => r())));
    const port = (tcp.address() as { port: number }).port;
    const h = await start([{ id: 'wan-1', name: 'Internet', kind: 'network' as const, hamlet: 'ap-01', role: 'wan' }], {
      fpingPath: join(dir, 'no-such-fping'),
      targets: [
        { type: 'icmp', device: 'wan-1', host: '127.0.0.1', intervalS: 1, timeoutMs: 500 },
        { type: 'tcp', device: 'cam-1', host: '127.0.0.1', port, intervalS: 1, timeoutMs: 500 },
      ],
      lanSweep: { computers: [] },
    });
    await waitFor('tcp rounds', () => h.readings('cam-1').length >= 3, 10_000);
    await sleep(200);
    const missing = h.log().filter((l) => l['code'] === 'CE_PROBE_TOOL_MISSING');
    expect(missing).toHaveLength(1);
    expect(String(missing[0]!['msg'])).toContain('no-such-fping: ENOENT');
    expect(h.readings('wan-1')).toHaveLength(0);
    expect(h.gw.ctx.health.get('wan-1')?.state).toBe('UNKNOWN');
    expect(h.gw.ctx.health.get('cam-1')?.state).toBe('UP');
    expect(metric(await h.metrics(), 'ce_probe_runs_total{type="icmp",result="error"}')).toBeGreaterThanOrEqual(2);
    expect(h.source.status().detail).toBe('2 targets, 0 down; fping missing: ICMP and LAN sweep not running');
  });
});

describe('LAN sweep of office computers', () => {
  it('counts a PC that drops ping but answers ARP, checks MACs, and finds the one switched off', async () => {
    const pcs = [
      { id: 'pc-win', name: 'Máy tính kế toán (Windows)', kind: 'office_pc' as const, hamlet: 'ap-01' },
      { id: 'pc-linux', name: 'Máy tính một cửa', kind: 'office_pc' as const, hamlet: 'ap-01', role: 'onestop' },
      { id: 'pc-off', name: 'Máy tính đã tắt', kind: 'office_pc' as const, hamlet: 'ap-01' },
      { id: 'pc-lo', name: 'Máy tính (loopback)', kind: 'office_pc' as const, hamlet: 'ap-01' },
    ];
    const computers = [
      { device: 'pc-win', ip: '10.77.0.2', mac: '02-00-00-00-00-0A' },
      { device: 'pc-linux', ip: '10.77.1.2', mac: '02:00:00:00:00:ff' }, // not its MAC: someone else answers for its IP
      { device: 'pc-off', ip: '10.77.0.9' },
      { device: 'pc-lo', ip: '127.0.0.3' }, // answers ping; loopback has no ARP
    ];
    // intervalS 2 is below the schema's minimum of 10 s (a real sweep need not run faster); forced for the test.
    const h = await start(pcs, { fpingPath: fpingNs, lanSweep: { computers } }, { lanSweep: { intervalS: 2, timeoutMs: 1500, lookbackMin: 15, computers } });
    await waitFor('two sweeps', () => h.readings('pc-off').length >= 2, 15_000);
    const last = (id: string) => h.readings(id).at(-1)!.fields;

    expect(last('pc-win')).toStrictEqual({ probe_ok: true, seen_icmp: false, seen_arp: true, last_seen_min: 0, mac_ok: true });
    expect(h.gw.ctx.health.get('pc-win')).toMatchObject({ state: 'UP' });

    expect(last('pc-linux')).toMatchObject({ probe_ok: true, seen_icmp: true, seen_arp: true, mac_ok: false });
    expect(h.gw.ctx.health.get('pc-linux')).toMatchObject({ state: 'DEGRADED', reason: 'mac-mismatch' });

    expect(last('pc-off')).toStrictEqual({ probe_ok: false, seen_icmp: false, seen_arp: false });
    expect(h.gw.ctx.health.get('pc-off')).toMatchObject({ state: 'DOWN' });

    expect(last('pc-lo')).toMatchObject({ probe_ok: true, seen_icmp: true, seen_arp: false, last_seen_min: 0 });
    expect(h.gw.ctx.health.get('pc-lo')).toMatchObject({ state: 'UP' });

    // One fping per sweep for all computers, one echo each.
    const sweeps = fpingRuns().filter((r) => r.includes('10.77.0.2'));
    expect(sweeps.length).toBeGreaterThanOrEqual(2);
    expect(sweeps.every((r) => r.startsWith('-C 1 ') && ['10.77.0.2', '10.77.1.2', '10.77.0.9', '127.0.0.3'].every((ip) => r.split(' ').includes(ip)))).toBe(true);
    const text = await h.metrics();
    expect(metric(text, 'ce_probe_runs_total{type="lan_sweep",result="up"}')).toBeGreaterThanOrEqual(4);
    expect(metric(text, 'ce_probe_runs_total{type="lan_sweep",result="degraded"}')).toBeGreaterThanOrEqual(2);
    expect(metric(text, 'ce_probe_runs_total{type="lan_sweep",result="down"}')).toBeGreaterThanOrEqual(2);
    expect(h.source.status().detail).toBe('4 targets, 1 down');
  });
});
