/**
 * The `probes:` settings: defaults, the type-discriminated targets, and the
 * cross-checks (devices exist and fit the target type, office computers only in
 * the LAN sweep, unique addresses, timeouts inside intervals, the concurrency
 * bound against the worst case).
 */
import { describe, expect, it } from 'vitest';
import { validateSettings } from '../gateway/settings/load.js';
import type { SettingsInput } from '../gateway/settings/schema.js';
import { testSettingsInput } from './helpers/gateway.js';

type Probes = NonNullable<SettingsInput['probes']>;

/** The test commune plus a WAN line, a UPS, office PCs and the given probes. */
function withProbes(probes: Probes): SettingsInput {
  const base = testSettingsInput('/tmp/unused');
  return {
    ...base,
    devices: [
      ...(base.devices ?? []),
      { id: 'wan-1', name: 'Đường truyền Internet', kind: 'network', hamlet: 'ap-01', role: 'wan' },
      { id: 'pc-01', name: 'Máy tính kế toán', kind: 'office_pc', hamlet: 'ap-01' },
      { id: 'pc-02', name: 'Máy tính một cửa', kind: 'office_pc', hamlet: 'ap-01', role: 'onestop' },
    ],
    probes,
  };
}

function problems(probes: Probes): { path: string; message: string }[] {
  const r = validateSettings(withProbes(probes));
  return r.ok ? [] : r.problems;
}

describe('probes settings', () => {
  it('parses every target type and fills the defaults', () => {
    const r = validateSettings(
      withProbes({
        targets: [
          { type: 'icmp', device: 'wan-1', host: '8.8.8.8' },
          { type: 'tcp', device: 'cam-1', host: '192.168.1.64', port: 554 },
          { type: 'http', device: 'cam-1', url: 'https://192.168.1.64/', insecureTls: true },
          { type: 'rtsp', device: 'cam-2', url: 'rtsp://192.168.1.65:554/Streaming/Channels/101', username: 'probe', passwordEnv: 'CAM_PW' },
        ],
        lanSweep: { computers: [{ device: 'pc-01', ip: '192.168.1.21', mac: '3C-52-82-1A-2B-3C' }] },
      }),
    );
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const p = r.settings.probes!;
    expect(p.concurrency).toBe(64);
    expect(p.fpingPath).toBe('fping');
    expect(p.defaults).toStrictEqual({ intervalS: 30, timeoutMs: 3000 });
    expect(p.targets[0]).toMatchObject({ type: 'icmp', count: 3, lossDegradedPct: 5, lossDownPct: 50, rttDegradedMs: 300 });
    expect(p.targets[2]).toMatchObject({ type: 'http', method: 'GET', expectStatus: ['2xx', '3xx'], keywordMaxBytes: 65536, insecureTls: true });
    expect(p.targets[3]).toMatchObject({ type: 'rtsp', method: 'describe' });
    expect(p.lanSweep).toMatchObject({ intervalS: 60, lookbackMin: 15, timeoutMs: 2000 });
  });

  it('takes SNMP targets (schema and checks of gateway/probes/snmp) in the same list', () => {
    const ok = validateSettings(withProbes({ targets: [{ type: 'snmp', device: 'wan-1', host: '192.168.1.1', version: '2c', communityEnv: 'CE_SNMP_COMMUNITY', profile: 'if-mib' }] }));
    if (!ok.ok) throw new Error(JSON.stringify(ok.problems));
    expect(ok.settings.probes!.targets[0]).toMatchObject({ type: 'snmp', device: 'wan-1', port: 161 });
    const out = problems({ targets: [{ type: 'snmp', device: 'nope', host: '192.168.1.1', version: '2c', communityEnv: 'X', profile: 'if-mib' }] });
    expect(out).toContainEqual({ path: 'probes.targets[0].device', message: expect.stringContaining('unknown device "nope"') });
    // A v3 setting written on a v2c target is still reported (only schema defaults are ignored).
    const v3OnV2c = problems({ targets: [{ type: 'snmp', device: 'wan-1', host: '192.168.1.1', version: '2c', communityEnv: 'X', profile: 'if-mib', securityLevel: 'noAuthNoPriv' }] });
    expect(v3OnV2c.map((p) => p.path)).toStrictEqual(['probes.targets[0].securityLevel']);
  });

  it('names an unknown device with a hint', () => {
    const out = problems({ targets: [{ type: 'tcp', device: 'cam-3', host: '10.0.0.3', port: 80 }] });
    expect(out).toContainEqual({ path: 'probes.targets[0].device', message: expect.stringContaining('unknown device "cam-3"') });
  });

  it('refuses a target type that does not fit the device kind', () => {
    const out = problems({
      targets: [
        { type: 'rtsp', device: 'loa-01', url: 'rtsp://10.0.0.9/stream' },
        { type: 'rtsp', device: 'wan-1', url: 'rtsp://10.0.0.1/stream' },
        { type: 'icmp', device: 'loa-01', host: '10.0.0.9' },
      ],
    });
    expect(out).toContainEqual({ path: 'probes.targets[0].device', message: 'device "loa-01" is a loudspeaker; expected camera or vconf' });
    expect(out).toContainEqual({ path: 'probes.targets[1].device', message: expect.stringContaining('is a network; expected camera or vconf') });
    expect(out).toContainEqual({ path: 'probes.targets[2].device', message: expect.stringContaining('is a loudspeaker') });
  });

  it('sends office computers to the LAN sweep, and only them', () => {
    const out = problems({
      targets: [{ type: 'icmp', device: 'pc-01', host: '192.168.1.21' }],
      lanSweep: {
        computers: [
          { device: 'cam-1', ip: '192.168.1.64' },
          { device: 'pc-01', ip: '192.168.1.21' },
          { device: 'pc-02', ip: '192.168.1.21' },
          { device: 'pc-02', ip: '192.168.1.22' },
        ],
      },
    });
    expect(out).toContainEqual({ path: 'probes.targets[0].device', message: expect.stringContaining('probed by probes.lanSweep') });
    expect(out).toContainEqual({ path: 'probes.lanSweep.computers[0].device', message: 'device "cam-1" is a camera; expected office_pc' });
    expect(out).toContainEqual({ path: 'probes.lanSweep.computers[2].ip', message: expect.stringContaining('duplicate ip 192.168.1.21') });
    expect(out).toContainEqual({ path: 'probes.lanSweep.computers[3].device', message: expect.stringContaining('listed twice') });
  });

  it('rejects hosts that fping would read as options, bad URLs and bad MACs', () => {
    const out = problems({
      targets: [
        { type: 'icmp', device: 'wan-1', host: '-f/etc/shadow' },
        { type: 'http', device: 'cam-1', url: 'ftp://192.168.1.64/' },
        { type: 'rtsp', device: 'cam-1', url: 'rtsp://admin:secret@192.168.1.64/stream' },
      ],
      lanSweep: { computers: [{ device: 'pc-01', ip: '192.168.1.300', mac: '3c:52:82' }] },
    });
    const paths = out.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'probes.targets[0].host',
        'probes.targets[1].url',
        'probes.targets[2].url',
        'probes.lanSweep.computers[0].ip',
        'probes.lanSweep.computers[0].mac',
      ]),
    );
  });

  it('wants timeouts shorter than intervals, ordered loss thresholds, and consistent TLS and credentials', () => {
    const out = problems({
      defaults: { intervalS: 5, timeoutMs: 3000 },
      targets: [
        { type: 'tcp', device: 'cam-1', host: '10.0.0.1', port: 80, timeoutMs: 5000 },
        { type: 'icmp', device: 'wan-1', host: '10.0.0.2', lossDegradedPct: 60, lossDownPct: 50 },
        { type: 'http', device: 'cam-1', url: 'http://10.0.0.1/', method: 'HEAD', keyword: 'Hikvision', insecureTls: true },
        { type: 'rtsp', device: 'cam-2', url: 'rtsp://10.0.0.3/s', username: 'probe' },
      ],
    });
    expect(out).toContainEqual({ path: 'probes.targets[0].timeoutMs', message: 'timeout 5000 ms must be shorter than the interval 5 s' });
    expect(out).toContainEqual({ path: 'probes.targets[1].lossDegradedPct', message: 'lossDegradedPct 60 is above lossDownPct 50' });
    expect(out).toContainEqual({ path: 'probes.targets[2].keyword', message: 'a keyword needs a body: use method GET' });
    expect(out).toContainEqual({ path: 'probes.targets[2].url', message: 'caFile / insecureTls apply to https:// URLs only' });
    expect(out).toContainEqual({ path: 'probes.targets[3].passwordEnv', message: 'username and passwordEnv go together' });
  });

  it('reports duplicate targets', () => {
    const out = problems({
      targets: [
        { type: 'tcp', device: 'cam-1', host: '10.0.0.1', port: 80 },
        { type: 'tcp', device: 'cam-1', host: '10.0.0.1', port: 80 },
        { type: 'tcp', device: 'cam-1', host: '10.0.0.1', port: 443 },
      ],
    });
    expect(out).toStrictEqual([{ path: 'probes.targets[1].device', message: 'duplicate probe target "tcp:cam-1:10.0.0.1:80" (same as probes.targets[0])' }]);
  });

  it('wants a concurrency bound that covers every target timing out at once', () => {
    // 40 TCP targets, each 3 s of a 10 s interval: 12 slots busy when all time out.
    const targets = Array.from({ length: 40 }, (_, i) => ({ type: 'tcp' as const, device: 'cam-1', host: `10.0.0.${i + 1}`, port: 554, intervalS: 10, timeoutMs: 3000 }));
    const tight = problems({ concurrency: 11, targets });
    expect(tight).toHaveLength(1);
    expect(tight[0]!.path).toBe('probes.concurrency');
    expect(tight[0]!.message).toContain('set concurrency: 12 or more');
    expect(problems({ concurrency: 12, targets })).toStrictEqual([]);
    // ICMP targets share fping runs: 300 of them need a few slots, not 90.
    const pings = Array.from({ length: 300 }, (_, i) => ({ type: 'icmp' as const, device: 'wan-1', host: `10.1.${i >> 8}.${i & 255}`, intervalS: 10 }));
    expect(problems({ concurrency: 4, targets: pings })).toStrictEqual([]);
  });

  it('rejects unknown keys inside a target with a hint', () => {
    const r = validateSettings(withProbes({ targets: [{ type: 'tcp', device: 'cam-1', host: '10.0.0.1', port: 80, prot: 81 } as never] }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.path)).toContain('probes.targets[0].prot');
  });
});
