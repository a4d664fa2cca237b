/**
 * Settings of one SNMP probe target (`probes.targets[]` with `type: snmp`): the
 * firewall's WAN port, a switch's uplinks, a Wi-Fi AP, the network card of a UPS.
 *
 * Secrets never sit in the file for SNMPv3 (the YAML is copied around, pasted
 * into chats, committed): the config names the environment variables that hold
 * them. A v2c community may be inline, since it travels in clear text in every
 * request anyway, or come from `communityEnv`.
 *
 * Requirements that depend on other keys (v3 keys per security level, profile vs
 * device kind, `oids` field names) are checked in `checkSnmpTarget`, which the
 * probes' cross-check calls: the object stays a plain strictObject so the
 * scheduler can compose it (zod 4 refuses `.extend()` on refined objects).
 */
import { z } from 'zod';
import { kindById } from '../../../devices/registry.js';
import { hint, loose, str, type CheckRefs } from '../../settings/check-kit.js';

/** Which field mapping applies; each profile feeds exactly one device kind. */
export const SNMP_PROFILES = ['if-mib', 'wifi-ap', 'ups-mib'] as const;
export type SnmpProfile = (typeof SNMP_PROFILES)[number];
export const PROFILE_KIND: Record<SnmpProfile, string> = { 'if-mib': 'network', 'wifi-ap': 'wifi_ap', 'ups-mib': 'power' };

/** Fields a profile sets itself; `oids` may not redefine them. */
export const PROFILE_FIELDS: Record<SnmpProfile, readonly string[]> = {
  'if-mib': ['probe_ok', 'probe_latency_ms', 'uptime_s', 'link_up', 'rx_mbps', 'tx_mbps', 'cpu_pct'],
  'wifi-ap': ['probe_ok', 'probe_latency_ms', 'uptime_s', 'uplink_up', 'cpu_pct'],
  'ups-mib': ['probe_ok', 'probe_latency_ms', 'uptime_s', 'on_battery', 'mains_ok', 'battery_pct', 'runtime_min', 'input_v', 'output_v', 'load_pct'],
};

/** Dotted-decimal OID, e.g. 1.3.6.1.4.1.41112.1.6.1.2.1.8 (no leading dot, no names: no MIB files are loaded). */
const OID_RE = /^[0-2](\.\d+)+$/;
const Oid = z.string().regex(OID_RE, 'a dotted-decimal OID such as 1.3.6.1.2.1.1.3.0 (MIB names are not resolved)');

const ExtraOid = z.strictObject({
  oid: Oid.describe('Dotted-decimal OID of the value: a scalar instance (ending .0) or, with `walk`, a table column'),
  scale: z.number().default(1).describe('Multiplier applied to a numeric value (e.g. 0.1 for tenths of a percent)'),
  walk: z
    .enum(['sum', 'avg', 'max', 'min'])
    .optional()
    .describe('Treat `oid` as a table column: walk it each round and combine the rows (e.g. sum of stations over all VAPs)'),
  values: z
    .record(z.string(), z.union([z.boolean(), z.number(), z.string()]))
    .optional()
    .describe('Map raw values (as text) to field values, e.g. {"1": true, "2": false} for an up(1)/down(2) enumeration'),
});
export type ExtraOid = z.output<typeof ExtraOid>;

/**
 * The fields every probe target has. They must stay the same as `common` in
 * ../settings.ts (the scheduler reads them from every target); they are repeated
 * here because ../settings.ts imports this module, not the other way round.
 */
const common = {
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be lower-case letters, digits, ".", "_" or "-" (max 64), starting with a letter or digit')
    .optional()
    .describe('Stable id for logs and metrics; default <type>:<device>:<host or url>'),
  device: z.string().min(1).describe('Inventory id of the device this target measures (a network, wifi_ap or power device)'),
  intervalS: z.number().min(1).max(86_400).optional().describe('Seconds between rounds; default probes.defaults.intervalS'),
  timeoutMs: z
    .number()
    .int()
    .min(100)
    .max(120_000)
    .optional()
    .describe('Budget of one round (all requests, retries included); default probes.defaults.timeoutMs. Must be shorter than the interval'),
};

export const SnmpTargetSchema = z.strictObject({
  type: z.literal('snmp'),
  ...common,
  host: z
    .string()
    .regex(/^(?!-)[A-Za-z0-9.:_-]{1,253}$/, 'must be an IPv4 or IPv6 address or a host name')
    .describe('Address of the SNMP agent: IPv4 / IPv6 address or host name (prefer addresses: name resolution adds a failure mode)'),
  port: z.number().int().min(1).max(65535).default(161).describe('UDP port of the agent'),
  version: z.enum(['2c', '3']).describe('SNMP version: 2c (community) or 3 (user-based security, RFC 3414)'),
  community: z.string().min(1).optional().describe('v2c: the read community, inline (prefer communityEnv)'),
  communityEnv: z.string().min(1).optional().describe('v2c: environment variable holding the read community'),
  user: z.string().min(1).optional().describe('v3: USM user name'),
  securityLevel: z
    .enum(['noAuthNoPriv', 'authNoPriv', 'authPriv'])
    .default('authPriv')
    .describe('v3: authPriv (authenticated and encrypted) unless the device cannot do it'),
  authProtocol: z
    .enum(['md5', 'sha', 'sha224', 'sha256', 'sha384', 'sha512'])
    .default('sha')
    .describe('v3: authentication digest (RFC 3414 md5/sha, RFC 7860 sha224..sha512); must match the device'),
  authKeyEnv: z.string().min(1).optional().describe('v3: environment variable holding the authentication passphrase'),
  privProtocol: z
    .enum(['des', 'aes', 'aes256b', 'aes256r'])
    .default('aes')
    .describe('v3: privacy cipher (RFC 3826 aes = AES-128; aes256b/aes256r: Blumenthal/Reeder key localisation, vendor-specific)'),
  privKeyEnv: z.string().min(1).optional().describe('v3: environment variable holding the privacy passphrase'),
  context: z.string().optional().describe('v3: context name, when the agent serves several (rare)'),
  profile: z
    .enum(SNMP_PROFILES)
    .describe('Field mapping: if-mib (network: link, rates, CPU), wifi-ap (uplink, CPU, vendor OIDs), ups-mib (RFC 1628 UPS-MIB)'),
  interfaces: z
    .array(z.union([z.string().min(1), z.number().int().min(1)]))
    .default([])
    .describe('The interfaces that matter (the firewall WAN port, the AP uplink): ifName, ifDescr or ifAlias text, or an ifIndex number'),
  oids: z
    .record(z.string(), ExtraOid)
    .default({})
    .describe("Extra fields from vendor MIBs: { field: { oid, scale, walk, values } }; the field must exist in the device's kind"),
  cpuDegradedPct: z.number().min(0).max(100).default(90).describe('DEGRADED when the average hrProcessorLoad is above this'),
  retries: z
    .number()
    .int()
    .min(0)
    .max(3)
    .default(1)
    .describe('Re-sends within one round (the timeout is shared); the next round is the real retry'),
});
export type SnmpTarget = z.output<typeof SnmpTargetSchema>;

const V3_LEVELS_NEEDING_AUTH = new Set(['authNoPriv', 'authPriv']);
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** SNMPv3 settings that have schema defaults, so they are present on every parsed target. */
const V3_DEFAULTED = ['securityLevel', 'authProtocol', 'privProtocol'] as const;

/**
 * The cross-checks also run on parsed settings (defaults filled in), where a v2c
 * target carries the v3 defaults it never set; they would read as
 * "v3 settings on a v2c target". Leave out the keys that merely hold their default.
 */
function withoutV3Defaults(t: Record<string, unknown>): Record<string, unknown> {
  if (t['version'] !== '2c') return t;
  const out = { ...t };
  for (const k of V3_DEFAULTED) {
    const field = SnmpTargetSchema.shape[k] as z.ZodType;
    if (out[k] !== undefined && out[k] === field.safeParse(undefined).data) delete out[k];
  }
  return out;
}

/**
 * Cross-checks of one raw `type: snmp` target, called by the probes' `checkProbes`
 * with its path (e.g. ['probes', 'targets', 3]). Reports through `refs.issue`.
 */
export function checkSnmpTarget(input: Record<string, unknown>, path: (string | number)[], refs: CheckRefs): void {
  const raw = withoutV3Defaults(input);
  const at = (...k: (string | number)[]) => [...path, ...k];
  const profile = str(raw['profile']);
  const expectedKind = profile !== undefined && profile in PROFILE_KIND ? PROFILE_KIND[profile as SnmpProfile] : undefined;

  // Device: a kind an SNMP profile feeds, and the profile the one for that kind. An
  // unknown id is reported by checkProbes (checkDeviceRef, for every target type).
  const deviceId = raw['device'];
  if (typeof deviceId === 'string') {
    const d = refs.devices.get(deviceId);
    if (d?.kind !== undefined) {
      const fitting = (Object.entries(PROFILE_KIND) as [SnmpProfile, string][]).find(([, k]) => k === d.kind)?.[0];
      if (!fitting) {
        refs.issue(at('device'), `device "${deviceId}" is a ${d.kind}; SNMP targets feed network, wifi_ap or power devices`);
      } else if (expectedKind !== undefined && expectedKind !== d.kind) {
        refs.issue(at('profile'), `profile ${profile} feeds ${expectedKind} devices but "${deviceId}" is a ${d.kind}; use profile: ${fitting}`);
      }
    }
  }

  // Credentials per version.
  const version = raw['version'];
  const has = (k: string) => raw[k] !== undefined;
  const v3Keys = ['user', 'securityLevel', 'authProtocol', 'authKeyEnv', 'privProtocol', 'privKeyEnv', 'context'];
  if (version === '2c') {
    if (has('community') && has('communityEnv')) refs.issue(at('community'), 'give either community or communityEnv, not both');
    if (!has('community') && !has('communityEnv')) {
      refs.issue(at('communityEnv'), 'SNMP v2c needs a read community: communityEnv (an environment variable name) or community');
    }
    for (const k of v3Keys) if (has(k)) refs.issue(at(k), `${k} is an SNMPv3 setting; this target has version: "2c"`);
  } else if (version === '3') {
    for (const k of ['community', 'communityEnv']) if (has(k)) refs.issue(at(k), `${k} is an SNMP v2c setting; v3 uses user, authKeyEnv and privKeyEnv`);
    if (!has('user')) refs.issue(at('user'), 'SNMPv3 needs a user (the USM user name configured on the device)');
    const level = str(raw['securityLevel']) ?? 'authPriv';
    if (V3_LEVELS_NEEDING_AUTH.has(level) && !has('authKeyEnv')) {
      refs.issue(at('authKeyEnv'), `securityLevel ${level} needs authKeyEnv: the name of the environment variable holding the authentication passphrase`);
    }
    if (level === 'authPriv' && !has('privKeyEnv')) {
      refs.issue(at('privKeyEnv'), 'securityLevel authPriv needs privKeyEnv: the name of the environment variable holding the privacy passphrase');
    }
    if (level !== 'authPriv' && has('privKeyEnv')) refs.issue(at('privKeyEnv'), `privKeyEnv is only used with securityLevel authPriv (this target: ${level})`);
    if (level === 'noAuthNoPriv' && has('authKeyEnv')) refs.issue(at('authKeyEnv'), 'authKeyEnv is not used with securityLevel noAuthNoPriv');
  }
  for (const k of ['communityEnv', 'authKeyEnv', 'privKeyEnv']) {
    const v = raw[k];
    if (typeof v === 'string' && !ENV_NAME_RE.test(v)) {
      refs.issue(at(k), `${k} names an environment variable (letters, digits, _), not the secret itself: "${v.slice(0, 3)}…" does not look like one`);
    }
  }

  // Interfaces: not used by the UPS profile; no duplicates; numbers are ifIndex.
  const interfaces = raw['interfaces'];
  if (Array.isArray(interfaces)) {
    if (profile === 'ups-mib' && interfaces.length > 0) refs.issue(at('interfaces'), 'interfaces are not used by profile ups-mib');
    const seen = new Map<string, number>();
    interfaces.forEach((ref, i) => {
      if (typeof ref === 'string') {
        if (ref.trim() !== ref || ref.trim() === '') refs.issue(at('interfaces', i), `interface name "${ref}" has leading or trailing spaces`);
        if (/^\d+$/.test(ref)) refs.issue(at('interfaces', i), `"${ref}" is text; write ${ref} without quotes for an ifIndex`);
      }
      const key = String(ref).toLowerCase();
      const prior = seen.get(key);
      if (prior !== undefined) refs.issue(at('interfaces', i), `interface ${JSON.stringify(ref)} is already listed at interfaces[${prior}]`);
      else seen.set(key, i);
    });
  }

  // Extra OIDs: the field must be one of the kind's fields, and not one the profile sets itself.
  const oids = loose(raw['oids']);
  const kind = expectedKind !== undefined ? kindById(expectedKind) : undefined;
  for (const field of Object.keys(oids)) {
    if (!kind) break;
    if (profile !== undefined && PROFILE_FIELDS[profile as SnmpProfile]?.includes(field)) {
      refs.issue(at('oids', field), `field ${field} is set by profile ${profile}; extra OIDs are for the kind's other fields`);
    } else if (!kind.fieldByName.has(field)) {
      const names = kind.fields.map((f) => f.name).filter((n) => !PROFILE_FIELDS[profile as SnmpProfile].includes(n));
      refs.issue(at('oids', field), `${kind.id} has no field "${field}"; ${hint(field, names)}fields: ${names.join(', ')}`);
    } else {
      const spec = loose(oids[field]);
      const type = kind.fieldByName.get(field)?.type;
      if (spec['walk'] !== undefined && spec['values'] !== undefined) {
        refs.issue(at('oids', field, 'values'), 'walk combines numbers (sum, avg, max, min); it cannot be used with values');
      } else if (type === 'boolean' && spec['values'] === undefined) {
        // An SNMP enumeration such as up(1)/down(2) is not a truth value: 2 would read as true.
        refs.issue(at('oids', field), `${field} is a boolean: give values, e.g. values: { "1": true, "2": false }`);
      }
    }
  }
}
