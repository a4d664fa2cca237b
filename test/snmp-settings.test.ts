/**
 * SNMP target settings: the schema (types, defaults, unknown keys) and the
 * cross-checks the probes' checkProbes runs on raw config (v3 keys per security
 * level, profile vs device kind, interface syntax, extra OID fields).
 */
import { describe, expect, it } from 'vitest';
import { settingsFrom } from '../gateway/settings/load.js';
import { testSettingsInput } from './helpers/gateway.js';
import type { CheckRefs } from '../gateway/settings/check-kit.js';
import { ProbesSchema } from '../gateway/probes/settings.js';
import { checkSnmpTarget, SnmpTargetSchema } from '../gateway/probes/snmp/settings.js';

const DEVICES: [string, string][] = [
  ['fw-01', 'network'],
  ['ap-01-wifi', 'wifi_ap'],
  ['ups-01', 'power'],
  ['loa-01', 'loudspeaker'],
];

function check(raw: Record<string, unknown>): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  const refs: CheckRefs = {
    devices: new Map(DEVICES.map(([id, kind], index) => [id, { kind, index }])),
    issue: (path, message) => issues.push({ path: path.join('.'), message }),
  };
  checkSnmpTarget(raw, ['probes', 'targets', 0], refs);
  return issues;
}

const firewallV3 = {
  type: 'snmp' as const,
  device: 'fw-01',
  host: '192.168.1.1',
  version: '3' as const,
  user: 'ce-monitor',
  authKeyEnv: 'CE_FW_SNMP_AUTH',
  privKeyEnv: 'CE_FW_SNMP_PRIV',
  profile: 'if-mib' as const,
  interfaces: ['igb0'],
};
const apV2c = { type: 'snmp', device: 'ap-01-wifi', host: '192.168.1.20', version: '2c', communityEnv: 'CE_AP_COMMUNITY', profile: 'wifi-ap', interfaces: ['eth0'] };

describe('SnmpTargetSchema', () => {
  it('fills the defaults: port 161, authPriv with SHA and AES, retries 1, CPU threshold 90 %', () => {
    const t = SnmpTargetSchema.parse(firewallV3);
    expect(t.port).toBe(161);
    expect(t.securityLevel).toBe('authPriv');
    expect(t.authProtocol).toBe('sha');
    expect(t.privProtocol).toBe('aes');
    expect(t.retries).toBe(1);
    expect(t.cpuDegradedPct).toBe(90);
    expect(t.oids).toEqual({});
  });

  it('rejects unknown keys, a bad profile, a non-numeric OID and an ifIndex of 0', () => {
    expect(SnmpTargetSchema.safeParse({ ...apV2c, comunity: 'x' }).success).toBe(false);
    expect(SnmpTargetSchema.safeParse({ ...apV2c, profile: 'cisco' }).success).toBe(false);
    expect(SnmpTargetSchema.safeParse({ ...apV2c, oids: { clients: { oid: 'UBNT-MIB::unifiVapNumStations' } } }).success).toBe(false);
    expect(SnmpTargetSchema.safeParse({ ...apV2c, interfaces: [0] }).success).toBe(false);
    expect(SnmpTargetSchema.safeParse({ ...apV2c, version: '1' }).success).toBe(false);
  });

  it("accepts the scheduler's common target fields inside probes.targets", () => {
    const p = ProbesSchema.parse({ targets: [{ ...apV2c, id: 'ap-01-snmp', intervalS: 60, timeoutMs: 2000 }] });
    const t = p.targets[0]!;
    expect(t.type).toBe('snmp');
    expect(t).toMatchObject({ id: 'ap-01-snmp', intervalS: 60, timeoutMs: 2000, port: 161 });
  });
});

describe('a whole config with SNMP targets', () => {
  it('parses: defaults filled, the target frozen as the probe receives it', () => {
    const input = testSettingsInput('/tmp/ce-unused', {});
    const settings = settingsFrom({
      ...input,
      devices: [...(input.devices ?? []), { id: 'fw-01', name: 'Tường lửa', kind: 'network', hamlet: 'ap-01', role: 'firewall' }],
      probes: { targets: [firewallV3, { type: 'snmp' as const, device: 'ups-01', host: '192.168.1.30', version: '2c' as const, communityEnv: 'CE_UPS_COMMUNITY', profile: 'ups-mib' as const }] },
    });
    const [fw, ups] = settings.probes!.targets;
    expect(fw).toMatchObject({ type: 'snmp', port: 161, securityLevel: 'authPriv', interfaces: ['igb0'] });
    expect(ups).toMatchObject({ type: 'snmp', profile: 'ups-mib', interfaces: [] });
    expect(Object.isFrozen(fw)).toBe(true);
  });
});

describe('checkSnmpTarget', () => {
  it('accepts a complete v3 firewall target and a v2c AP target', () => {
    expect(check(firewallV3)).toEqual([]);
    expect(check(apV2c)).toEqual([]);
    expect(check({ type: 'snmp', device: 'ups-01', host: '10.0.0.5', version: '2c', community: 'public', profile: 'ups-mib' })).toEqual([]);
  });

  it('v3: authPriv (the default) needs user, authKeyEnv and privKeyEnv', () => {
    const issues = check({ type: 'snmp', device: 'fw-01', host: '192.168.1.1', version: '3', profile: 'if-mib' });
    expect(issues.map((i) => i.path).sort()).toEqual(['probes.targets.0.authKeyEnv', 'probes.targets.0.privKeyEnv', 'probes.targets.0.user']);
    expect(issues.find((i) => i.path.endsWith('privKeyEnv'))!.message).toMatch(/authPriv needs privKeyEnv/);
  });

  it('v3: authNoPriv needs authKeyEnv only, and says privKeyEnv is unused', () => {
    const { privKeyEnv: _p, ...noPriv } = firewallV3;
    expect(check({ ...noPriv, securityLevel: 'authNoPriv' })).toEqual([]);
    const issues = check({ ...firewallV3, securityLevel: 'authNoPriv' });
    expect(issues).toEqual([{ path: 'probes.targets.0.privKeyEnv', message: expect.stringMatching(/only used with securityLevel authPriv/) }]);
  });

  it('v3: rejects a community, v2c: rejects v3 keys and needs a community', () => {
    expect(check({ ...firewallV3, community: 'public' }).map((i) => i.path)).toEqual(['probes.targets.0.community']);
    const { communityEnv: _c, ...noCommunity } = apV2c;
    expect(check(noCommunity)[0]!.message).toMatch(/v2c needs a read community/);
    expect(check({ ...apV2c, user: 'x' })[0]!.message).toMatch(/user is an SNMPv3 setting/);
    expect(check({ ...apV2c, community: 'public' })[0]!.message).toMatch(/either community or communityEnv/);
  });

  it('an *Env key that holds a secret instead of a variable name is caught', () => {
    const issues = check({ ...firewallV3, authKeyEnv: 'my secret pass!' });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toMatch(/names an environment variable/);
    expect(issues[0]!.message).not.toContain('secret pass');
  });

  it('profile must match the device kind, with the right profile as hint; other kinds are refused', () => {
    expect(check({ ...apV2c, profile: 'if-mib' })).toEqual([
      { path: 'probes.targets.0.profile', message: expect.stringMatching(/feeds network devices but "ap-01-wifi" is a wifi_ap; use profile: wifi-ap/) },
    ]);
    expect(check({ ...apV2c, device: 'loa-01' })[0]!.message).toMatch(/loudspeaker; SNMP targets feed network, wifi_ap or power/);
  });

  it('interfaces: duplicates, quoted numbers, and interfaces on a UPS are reported', () => {
    expect(check({ ...firewallV3, interfaces: ['igb0', 'IGB0'] })[0]!.message).toMatch(/already listed at interfaces\[0\]/);
    expect(check({ ...firewallV3, interfaces: ['3'] })[0]!.message).toMatch(/write 3 without quotes for an ifIndex/);
    expect(check({ type: 'snmp', device: 'ups-01', host: 'h', version: '2c', community: 'c', profile: 'ups-mib', interfaces: ['eth0'] })[0]!.message).toMatch(
      /not used by profile ups-mib/,
    );
  });

  it("oids: the field must be one of the kind's own, not a profile field; booleans need values", () => {
    const ok = check({ ...apV2c, oids: { clients: { oid: '1.3.6.1.4.1.41112.1.6.1.2.1.8', walk: 'sum' } } });
    expect(ok).toEqual([]);
    expect(check({ ...apV2c, oids: { client: { oid: '1.3.6.1.4.1.1.0' } } })[0]!.message).toMatch(/wifi_ap has no field "client"; did you mean "clients"\?/);
    expect(check({ ...apV2c, oids: { cpu_pct: { oid: '1.3.6.1.4.1.1.0' } } })[0]!.message).toMatch(/set by profile wifi-ap/);
    expect(check({ ...apV2c, oids: { radio_up: { oid: '1.3.6.1.4.1.1.0' } } })[0]!.message).toMatch(/boolean: give values/);
    expect(check({ ...apV2c, oids: { radio_up: { oid: '1.3.6.1.4.1.1.0', values: { '1': true, '2': false } } } })).toEqual([]);
  });
});
