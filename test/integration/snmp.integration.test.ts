/**
 * The SNMP probe against a real agent: Debian's net-snmp snmpd on a free
 * loopback UDP port (test/integration/snmpd.ts), with a v2c community and v3
 * users. Interface status and octet counters are this machine's real `lo`;
 * UPS-MIB, hrProcessorLoad and a vendor client-count column are pinned with
 * snmpd `override` lines (no UPS or AP is attached here). Then the probe's
 * outcomes go through the real gateway pipeline, which proves the field names
 * and types pass the kinds' schemas.
 */
import { createServer, connect, type Server } from 'node:net';
import { cpus } from 'node:os';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeOutcome, ProbeRunContext } from '../../gateway/probes/contract.js';
import { HR_PROCESSOR_LOAD, UPS } from '../../gateway/probes/snmp/mibs.js';
import { createSnmpProbe, type SnmpProbe } from '../../gateway/probes/snmp/probe.js';
import { SnmpTargetSchema, type SnmpTarget } from '../../gateway/probes/snmp/settings.js';
import type { IngestOutcome } from '../../gateway/pipeline/ingest.js';
import { removeDir, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Cleanup, metricValue } from './helpers.js';
import { freeUdpPort, Snmpd } from './snmpd.js';

const AUTH_KEY = 'ce-auth-passphrase-1';
const PRIV_KEY = 'ce-priv-passphrase-2';
const ENV = {
  CE_SNMP_AUTH: AUTH_KEY,
  CE_SNMP_PRIV: PRIV_KEY,
  CE_SNMP_AUTH_WRONG: 'not-the-auth-passphrase',
  CE_SNMP_PRIV_WRONG: 'not-the-priv-passphrase',
  CE_SNMP_COMMUNITY: '', // set once the agent has its community
};
/** hrProcessorLoad pinned on every processor row the agent may have (hrDeviceIndex 196608 + n, net-snmp hr_proc). */
const CPU_LOAD = 45;
/** A UniFi-style per-VAP station count column (UBNT-UniFi-MIB unifiVapNumStations): 7 + 5 clients. */
const VAP_STATIONS = '1.3.6.1.4.1.41112.1.6.1.2.1.8';
const TIMEOUT_MS = 1500;

const log = pino({ level: 'silent' });
function runCtx(timeoutMs = TIMEOUT_MS, signal: AbortSignal = AbortSignal.timeout(timeoutMs)): ProbeRunContext {
  return { signal, timeoutMs, log, now: () => Date.now() };
}

describe('SNMP probe against Debian snmpd', () => {
  const cleanup = new Cleanup();
  const registry = new Registry();
  let agent: Snmpd;
  let probe: SnmpProbe;
  let t: (over: Record<string, unknown>) => SnmpTarget;

  beforeAll(async () => {
    agent = new Snmpd({
      users: [
        { name: 'ce-priv', auth: 'SHA', authKey: AUTH_KEY, priv: 'AES', privKey: PRIV_KEY, access: 'priv' },
        { name: 'ce-auth256', auth: 'SHA-256', authKey: AUTH_KEY, access: 'auth' },
        { name: 'ce-noaccess', auth: 'SHA', authKey: AUTH_KEY, priv: 'AES', privKey: PRIV_KEY },
      ],
      overrides: [
        { oid: UPS.upsOutputSource, type: 'integer', value: 5 }, // battery(5)
        { oid: UPS.upsEstimatedChargeRemaining, type: 'integer', value: 64 },
        { oid: UPS.upsEstimatedMinutesRemaining, type: 'integer', value: 23 },
        { oid: UPS.upsInputVoltage, type: 'integer', value: 0 },
        { oid: UPS.upsOutputVoltage, type: 'integer', value: 229 },
        { oid: UPS.upsOutputPercentLoad, type: 'integer', value: 41 },
        ...Array.from({ length: Math.max(2, cpus().length) }, (_, i) => ({ oid: `${HR_PROCESSOR_LOAD}.${196608 + i}`, type: 'integer' as const, value: CPU_LOAD })),
        { oid: `${VAP_STATIONS}.1`, type: 'unsigned', value: 7 },
        { oid: `${VAP_STATIONS}.2`, type: 'unsigned', value: 5 },
      ],
    });
    cleanup.add('snmpd', () => agent.dispose());
    await agent.start();
    ENV.CE_SNMP_COMMUNITY = agent.community;
    probe = createSnmpProbe({ registry, env: ENV });
    cleanup.add('probe', () => probe.close());
    t = (over) =>
      SnmpTargetSchema.parse({ type: 'snmp', device: 'fw-01', host: '127.0.0.1', port: agent.port, version: '2c', communityEnv: 'CE_SNMP_COMMUNITY', profile: 'if-mib', interfaces: ['lo'], ...over });
  });

  afterAll(async () => {
    await cleanup.run();
  });

  it('v2c if-mib: lo is up, sysUpTime → uptime_s, and the rate is non-zero after loopback traffic between two rounds', async () => {
    const target = t({});
    const first = await probe.run(target, runCtx());
    expect(first.error, agent.log).toBeUndefined();
    expect(first.fields).toMatchObject({ probe_ok: true, link_up: true, cpu_pct: CPU_LOAD });
    expect(first.fields['uptime_s']).toEqual(expect.any(Number));
    expect(first.fields['probe_latency_ms']).toBeGreaterThan(0);
    expect(first.fields['rx_mbps']).toBeUndefined(); // no previous counters yet
    expect(first.verdict).toEqual({ state: 'UP', reason: 'ok' });

    const startedAt = Date.now();
    const bytes = await loopbackTraffic(32 * 1024 * 1024);
    // net-snmp's agent caches ifTable for a few seconds: let the cache expire after the traffic.
    await new Promise((r) => setTimeout(r, 4500));
    const second = await probe.run(target, runCtx());
    const elapsedS = (Date.now() - startedAt) / 1000;
    expect(second.error).toBeUndefined();
    // Loopback counts every byte once in and once out; TCP/IP headers only add to it.
    const floorMbps = ((bytes * 8) / 1e6 / (elapsedS + 1)) * 0.9;
    expect(second.fields['rx_mbps']).toBeGreaterThan(floorMbps);
    expect(second.fields['tx_mbps']).toBeGreaterThan(floorMbps);
    expect(second.fields['uptime_s'] as number).toBeGreaterThanOrEqual(first.fields['uptime_s'] as number);
    expect(probe.sessionCount()).toBe(1); // one session per target, kept between rounds
  });

  it('v3 authPriv (SHA + AES-128) reads the same objects', async () => {
    const o = await probe.run(t({ version: '3', communityEnv: undefined, user: 'ce-priv', authKeyEnv: 'CE_SNMP_AUTH', privKeyEnv: 'CE_SNMP_PRIV' }), runCtx());
    expect(o.error, agent.log).toBeUndefined();
    expect(o.fields).toMatchObject({ probe_ok: true, link_up: true, cpu_pct: CPU_LOAD });
  });

  it('v3 authNoPriv with SHA-256 (RFC 7860)', async () => {
    const o = await probe.run(
      t({ version: '3', communityEnv: undefined, user: 'ce-auth256', securityLevel: 'authNoPriv', authProtocol: 'sha256', authKeyEnv: 'CE_SNMP_AUTH' }),
      runCtx(),
    );
    expect(o.error, agent.log).toBeUndefined();
    expect(o.fields['link_up']).toBe(true);
  });

  it('wrong v3 authentication passphrase → CE_SNMP_AUTH naming usmStatsWrongDigests, quickly, no crash', async () => {
    const started = Date.now();
    const o = await probe.run(t({ version: '3', communityEnv: undefined, user: 'ce-priv', authKeyEnv: 'CE_SNMP_AUTH_WRONG', privKeyEnv: 'CE_SNMP_PRIV' }), runCtx());
    expect(o.error?.code).toBe('CE_SNMP_AUTH');
    expect(o.error?.detail).toMatch(/usmStatsWrongDigests.*authentication passphrase \(CE_SNMP_AUTH_WRONG\)/);
    expect(o.error?.detail).not.toContain(ENV.CE_SNMP_AUTH_WRONG); // the secret itself is never in a message
    expect(o).toMatchObject({ fields: { probe_ok: true }, verdict: { state: 'DEGRADED', reason: 'auth-failed' } });
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS); // a report comes back at once, no timeout
  });

  it('wrong v3 privacy passphrase → CE_SNMP_AUTH pointing at the privacy key (snmpd drops what it cannot decrypt)', async () => {
    const o = await probe.run(t({ version: '3', communityEnv: undefined, user: 'ce-priv', authKeyEnv: 'CE_SNMP_AUTH', privKeyEnv: 'CE_SNMP_PRIV_WRONG' }), runCtx());
    expect(o.error?.code).toBe('CE_SNMP_AUTH');
    expect(o.error?.detail).toMatch(/engine discovery but not the encrypted request.*privacy passphrase \(CE_SNMP_PRIV_WRONG\)/);
  });

  it('unknown v3 user → CE_SNMP_AUTH naming usmStatsUnknownUserNames', async () => {
    const o = await probe.run(t({ version: '3', communityEnv: undefined, user: 'nobody', authKeyEnv: 'CE_SNMP_AUTH', privKeyEnv: 'CE_SNMP_PRIV' }), runCtx());
    expect(o.error?.code).toBe('CE_SNMP_AUTH');
    expect(o.error?.detail).toMatch(/usmStatsUnknownUserNames.*user "nobody" does not exist/);
  });

  it('a v3 user without any access (no rouser) → CE_SNMP_AUTH, not a crash', async () => {
    const o = await probe.run(t({ version: '3', communityEnv: undefined, user: 'ce-noaccess', authKeyEnv: 'CE_SNMP_AUTH', privKeyEnv: 'CE_SNMP_PRIV' }), runCtx());
    expect(o.error?.code, JSON.stringify(o)).toBe('CE_SNMP_AUTH');
    expect(o.verdict.state).toBe('DEGRADED');
  });

  it('wrong v2c community → CE_SNMP_TIMEOUT within the timeout, explaining that it looks like no answer', async () => {
    const started = Date.now();
    const o = await probe.run(t({ communityEnv: undefined, community: 'not-the-community' }), runCtx());
    const took = Date.now() - started;
    expect(o).toMatchObject({ fields: { probe_ok: false }, verdict: { state: 'DOWN', reason: 'timeout' }, error: { code: 'CE_SNMP_TIMEOUT' } });
    expect(o.error?.detail).toMatch(/wrong community looks exactly like this.*RFC 3584/);
    expect(took).toBeLessThan(TIMEOUT_MS + 500); // event-loop slack on a busy CI box
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
  });

  it('a port with no agent → CE_SNMP_TIMEOUT (v2c and v3), within the timeout', async () => {
    const port = await freeUdpPort();
    for (const over of [{ port }, { port, version: '3', communityEnv: undefined, user: 'ce-priv', authKeyEnv: 'CE_SNMP_AUTH', privKeyEnv: 'CE_SNMP_PRIV' }]) {
      const started = Date.now();
      const o = await probe.run(t(over), runCtx());
      expect(o.error?.code).toBe('CE_SNMP_TIMEOUT');
      expect(o.fields).toEqual({ probe_ok: false });
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 500);
    }
  });

  it('the AbortSignal ends a round at once (gateway stop), with a timeout outcome', async () => {
    const port = await freeUdpPort();
    const ac = new AbortController();
    setTimeout(() => ac.abort('probes-stopped'), 150);
    const started = Date.now();
    const o = await probe.run(t({ port }), runCtx(10_000, ac.signal));
    expect(o.error?.code).toBe('CE_SNMP_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('an interface name the agent does not have → CE_SNMP_INTERFACE_UNKNOWN listing its interfaces; other fields kept', async () => {
    const o = await probe.run(t({ interfaces: ['lo', 'wan-vnpt'] }), runCtx());
    expect(o.error?.code).toBe('CE_SNMP_INTERFACE_UNKNOWN');
    expect(o.error?.detail).toMatch(/"wan-vnpt" not found.*the agent has: .*\blo\b/);
    expect(o.verdict).toEqual({ state: 'DEGRADED', reason: 'interface-unknown' });
    expect(o.fields).toMatchObject({ probe_ok: true, link_up: true });
  });

  it('interfaces and processors are walked once, then only GET, until rediscoverAfterMs has passed', async () => {
    const discoveries = async (r: Registry) => metricValue(await r.metrics(), 'ce_snmp_discoveries_total') ?? 0;
    const [rA, rB] = [new Registry(), new Registry()];
    const kept = createSnmpProbe({ registry: rA, env: ENV });
    const eager = createSnmpProbe({ registry: rB, env: ENV, rediscoverAfterMs: 0 });
    try {
      for (let i = 0; i < 3; i++) {
        expect((await kept.run(t({}), runCtx())).fields['link_up']).toBe(true);
        expect((await eager.run(t({}), runCtx())).fields['link_up']).toBe(true);
      }
      expect(await discoveries(rA)).toBe(1);
      expect(await discoveries(rB)).toBe(3);
      expect(metricValue(await rA.metrics(), 'ce_snmp_sessions')).toBe(1);
    } finally {
      await kept.close();
      await eager.close();
    }
  });

  it('a missing secret variable is gateway-side: CE_PROBE_CONFIG is thrown, nothing to store', async () => {
    await expect(probe.run(t({ communityEnv: 'CE_SNMP_NOT_SET' }), runCtx())).rejects.toMatchObject({ code: 'CE_PROBE_CONFIG' });
  });

  it('agent restart: no rate that round (counted), v2c and v3 sessions recover', async () => {
    const v2 = t({ interfaces: [1] }); // lo is ifIndex 1 on Linux; an ifIndex works as well as a name
    const v3 = t({ version: '3', communityEnv: undefined, user: 'ce-priv', authKeyEnv: 'CE_SNMP_AUTH', privKeyEnv: 'CE_SNMP_PRIV', interfaces: ['lo'] });
    const before = await probe.run(v2, runCtx());
    expect(before.fields['link_up']).toBe(true);
    expect((await probe.run(v3, runCtx())).error).toBeUndefined();
    const discontinuities = metricValue(await registry.metrics(), 'ce_snmp_counter_discontinuities_total') ?? 0;

    // Let sysUpTime grow past what a fresh agent shows, then restart it on the same port.
    await new Promise((r) => setTimeout(r, 1500));
    await agent.restart();
    const after = await probe.run(v2, runCtx());
    expect(after.error, agent.log).toBeUndefined();
    expect(after.fields['rx_mbps']).toBeUndefined();
    expect(after.fields['uptime_s'] as number).toBeLessThan(before.fields['uptime_s'] as number);
    expect(metricValue(await registry.metrics(), 'ce_snmp_counter_discontinuities_total')).toBe(discontinuities + 1);
    const next = await probe.run(v2, runCtx());
    expect(next.fields['rx_mbps']).toEqual(expect.any(Number));

    // v3: the agent's snmpEngineBoots went up; the session resynchronises (RFC 3414 §3.2 step 7) within two rounds.
    let v3After: ProbeOutcome = await probe.run(v3, runCtx());
    if (v3After.error) v3After = await probe.run(v3, runCtx());
    expect(v3After.error, JSON.stringify(v3After)).toBeUndefined();
    expect(v3After.fields['link_up']).toBe(true);
  });

  describe('through the gateway pipeline (kind schemas, health)', () => {
    let gw: TestGateway;
    beforeAll(async () => {
      gw = await startTestGateway((s) => ({
        ...s,
        devices: [
          ...(s.devices ?? []),
          { id: 'fw-01', name: 'Tường lửa', kind: 'network', hamlet: 'ap-01', role: 'firewall' },
          { id: 'ap-01-wifi', name: 'Wi-Fi UBND xã', kind: 'wifi_ap', hamlet: 'ap-01', role: 'government' },
        ],
      }));
      cleanup.add('gateway', async () => {
        await gw.close();
        removeDir(gw.dir);
      });
    });

    const submit = (deviceId: string, outcome: ProbeOutcome) =>
      new Promise<IngestOutcome>((resolve) =>
        gw.gw.ctx.pipeline.submit({ deviceId, fields: outcome.fields, transport: 'probe', verdict: outcome.verdict, commitNow: true }, resolve),
      );

    it('network (if-mib): accepted, stored with every field, UP', async () => {
      const target = t({});
      await probe.run(target, runCtx());
      await new Promise((r) => setTimeout(r, 3200));
      const outcome = await probe.run(target, runCtx());
      expect(outcome.fields['rx_mbps']).toEqual(expect.any(Number));
      const r = await submit('fw-01', outcome);
      expect(r, JSON.stringify(r)).toMatchObject({ accepted: true });
      const status = gw.gw.ctx.health.get('fw-01')!;
      expect(status.state).toBe('UP');
      expect(status.lastReading?.fields).toEqual(outcome.fields);
      expect(status.lastReading?.quality).toBe('good');
    });

    it('wifi_ap (wifi-ap + vendor column summed): clients, uplink, CPU stored, UP', async () => {
      const outcome = await probe.run(t({ device: 'ap-01-wifi', profile: 'wifi-ap', oids: { clients: { oid: VAP_STATIONS, walk: 'sum' } } }), runCtx());
      expect(outcome.error).toBeUndefined();
      expect(outcome.fields).toMatchObject({ probe_ok: true, uplink_up: true, cpu_pct: CPU_LOAD, clients: 12 });
      expect(await submit('ap-01-wifi', outcome)).toMatchObject({ accepted: true });
      const status = gw.gw.ctx.health.get('ap-01-wifi')!;
      expect(status.state).toBe('UP');
      expect(status.lastReading?.fields).toEqual(outcome.fields);
    });

    it('power (ups-mib): on battery with 64 % and 23 min → the kind says DEGRADED on-battery', async () => {
      const outcome = await probe.run(t({ device: 'ups-01', profile: 'ups-mib', interfaces: [] }), runCtx());
      expect(outcome.error).toBeUndefined();
      expect(outcome.fields).toMatchObject({ on_battery: true, mains_ok: false, battery_pct: 64, runtime_min: 23, input_v: 0, output_v: 229, load_pct: 41 });
      expect(await submit('ups-01', outcome)).toMatchObject({ accepted: true });
      const status = gw.gw.ctx.health.get('ups-01')!;
      expect(status).toMatchObject({ state: 'DEGRADED', reason: 'on-battery' });
      expect(status.lastReading?.fields).toEqual(outcome.fields);
    });

    it('a timed-out target is stored as probe_ok false and the device goes DOWN', async () => {
      const outcome = await probe.run(t({ port: await freeUdpPort() }), runCtx(600));
      expect(await submit('fw-01', outcome)).toMatchObject({ accepted: true });
      expect(gw.gw.ctx.health.get('fw-01')).toMatchObject({ state: 'DOWN' });
    });
  });

  it('close() closes every session', async () => {
    expect(probe.sessionCount()).toBeGreaterThan(0);
    await probe.close();
    expect(probe.sessionCount()).toBe(0);
  });
});

/** Push `bytes` through a TCP connection on 127.0.0.1 (counted on `lo`); resolves with the bytes received. */
async function loopbackTraffic(bytes: number): Promise<number> {
  let received = 0;
  const server: Server = createServer((s) => {
    s.on('data', (d: Buffer) => (received += d.length));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  try {
    await new Promise<void>((resolve, reject) => {
      const c = connect({ port, host: '127.0.0.1' }, () => {
        const chunk = Buffer.alloc(1024 * 1024, 0x5a);
        let sent = 0;
        const pump = () => {
          while (sent < bytes) {
            sent += chunk.length;
            if (!c.write(chunk)) return void c.once('drain', pump);
          }
          c.end();
        };
        pump();
      });
      c.on('error', reject);
      c.on('close', () => resolve());
    });
    const deadline = Date.now() + 5000;
    while (received < bytes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  return received;
}
