/**
 * Settings of the gateway's own probes (`probes:` in the config): ICMP (fping),
 * TCP connect, HTTP(S), RTSP, SNMP (./snmp/settings.ts) and the LAN sweep of the
 * office computers. Each target names the device it reports for; its thresholds
 * give the UP / DEGRADED / DOWN verdict stored with the reading (the worst of it
 * and the device kind's own rule wins).
 */
import { z } from 'zod';
import { KINDS } from '../../devices/registry.js';
import { arr, checkDeviceRef, loose, str, type CheckRefs } from '../settings/check-kit.js';
import { checkSnmpTarget, SnmpTargetSchema } from './snmp/settings.js';

// Local copy of settings/schema.ts ID_PATTERN: schema.ts imports this module.
const Id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be lower-case letters, digits, ".", "_" or "-" (max 64), starting with a letter or digit');

/**
 * An IPv4/IPv6 address or a host name. Never starting with "-": hosts become fping
 * arguments, and fping would read "-x" as an option.
 */
const Host = z
  .string()
  .regex(/^(?!-)[A-Za-z0-9.:_-]{1,253}$/, 'must be an IPv4 or IPv6 address or a host name')
  .describe('IPv4 / IPv6 address or host name (prefer addresses: name resolution adds a failure mode)');

const Ipv4 = z
  .string()
  .regex(/^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/, 'must be an IPv4 address (ARP is IPv4 only)');

const Mac = z
  .string()
  .regex(/^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/, 'must be a MAC address like 00:1a:2b:3c:4d:5e');

export const DEFAULT_INTERVAL_S = 30;
export const DEFAULT_TIMEOUT_MS = 3000;
export const DEFAULT_CONCURRENCY = 64;

/** Fields every target has. */
const common = {
  id: Id.optional().describe('Stable id for logs and metrics; default <type>:<device>:<host or url>'),
  device: z.string().min(1).describe('The device (devices[].id) this probe reports for'),
  intervalS: z.number().min(1).max(86_400).optional().describe('Seconds between rounds; default probes.defaults.intervalS'),
  timeoutMs: z
    .number()
    .int()
    .min(100)
    .max(120_000)
    .optional()
    .describe('Budget of one round, connect to answer; default probes.defaults.timeoutMs. Must be shorter than the interval'),
};

export const IcmpTargetSchema = z
  .strictObject({
    type: z.literal('icmp'),
    ...common,
    host: Host,
    count: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(3)
      .describe('ICMP echo requests per round (fping -C). With 3, one lost reply is 33 % loss: use 5-10 for a loss figure on a line'),
    lossDegradedPct: z.number().min(0).max(100).default(5).describe('Loss at or above this % is DEGRADED (loss-high)'),
    lossDownPct: z
      .number()
      .min(0)
      .max(100)
      .default(50)
      .describe('Loss at or above this % is DOWN (loss-high); 100 % loss (no reply at all) is always DOWN (no-answer)'),
    rttDegradedMs: z.number().positive().default(300).describe('Mean round-trip time above this is DEGRADED (rtt-high); ITU-T G.114: 150 ms one way'),
  })
  .describe('ICMP echo (ping) through fping; all ICMP targets due in the same second share one fping process');

export const TcpTargetSchema = z
  .strictObject({
    type: z.literal('tcp'),
    ...common,
    host: Host,
    port: z.number().int().min(1).max(65_535),
    latencyDegradedMs: z.number().positive().default(1000).describe('A connect slower than this is DEGRADED (slow)'),
  })
  .describe('TCP connect (SYN, SYN-ACK, then close): the service port is open');

/** `200`, or a class such as `2xx`. */
const StatusSpec = z.union([z.number().int().min(100).max(599), z.string().regex(/^[1-5]xx$/, 'must be a status code or a class like "2xx"')]);

export const HttpTargetSchema = z
  .strictObject({
    type: z.literal('http'),
    ...common,
    url: z.string().regex(/^https?:\/\/[^\s/?#]+([/?#]\S*)?$/, 'must be an http:// or https:// URL').describe('e.g. https://192.168.1.64/ (a camera web UI)'),
    method: z.enum(['GET', 'HEAD']).default('GET'),
    expectStatus: z
      .array(StatusSpec)
      .min(1)
      .default(['2xx', '3xx'])
      .describe('Statuses that count as working (codes or classes); redirects are not followed'),
    keyword: z.string().min(1).max(200).optional().describe('Text the body must contain (searched in the first keywordMaxBytes, UTF-8); GET only'),
    keywordMaxBytes: z.number().int().min(1024).max(1_048_576).default(65_536).describe('Body bytes read at most when searching the keyword'),
    latencyDegradedMs: z.number().positive().default(2000).describe('Time to the response headers above this is DEGRADED (slow)'),
    caFile: z.string().optional().describe('PEM CA (or the self-signed certificate itself) to verify the device with'),
    insecureTls: z
      .boolean()
      .default(false)
      .describe('Accept any certificate (device web UIs are self-signed). Default false: verify against the system CAs or caFile'),
  })
  .describe('HTTP(S) request: status, time to headers, optional keyword in the body');

export const RtspTargetSchema = z
  .strictObject({
    type: z.literal('rtsp'),
    ...common,
    url: z
      .string()
      .regex(/^rtsp:\/\/[^\s/?#@]+(\/\S*)?$/, 'must be rtsp://host[:port]/path without credentials (use username and passwordEnv)')
      .describe('e.g. rtsp://192.168.1.64:554/Streaming/Channels/101 (Hikvision) or /cam/realmonitor?channel=1&subtype=0 (Dahua)'),
    username: z.string().min(1).optional(),
    passwordEnv: z.string().min(1).optional().describe('Environment variable holding the password (secrets stay out of files)'),
    method: z
      .enum(['options', 'describe'])
      .default('describe')
      .describe('options: the RTSP server answers; describe: the stream exists, and its codec (SDP)'),
    latencyDegradedMs: z.number().positive().default(2000).describe('An exchange slower than this is DEGRADED (slow)'),
  })
  .describe('RTSP OPTIONS / DESCRIBE (RFC 2326) with Digest or Basic auth: the stream answers, codec from the SDP');

export const ProbeTargetSchema = z.discriminatedUnion('type', [
  IcmpTargetSchema,
  TcpTargetSchema,
  HttpTargetSchema,
  RtspTargetSchema,
  SnmpTargetSchema,
]);

export const LanSweepSchema = z
  .strictObject({
    intervalS: z.number().min(10).max(3600).default(60).describe('Seconds between sweeps'),
    timeoutMs: z.number().int().min(200).max(30_000).default(2000).describe('Budget of one sweep (fping round, then the ARP table)'),
    lookbackMin: z
      .number()
      .min(1)
      .max(1440)
      .default(15)
      .describe('A computer counts as on the LAN when seen (ICMP or ARP) within this many minutes'),
    computers: z
      .array(
        z.strictObject({
          device: z.string().min(1).describe('An office_pc device (devices[].id)'),
          ip: Ipv4,
          mac: Mac.optional().describe('Expected MAC; another MAC answering ARP for the IP is DEGRADED (mac-mismatch)'),
        }),
      )
      .default([]),
  })
  .describe('Sweep of the office computers: one fping round, then /proc/net/arp (Windows PCs drop ping but answer ARP)');

export const ProbesSchema = z
  .strictObject({
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(DEFAULT_CONCURRENCY)
      .describe('Probes in flight at most (one fping batch counts as one). Must cover the worst case: every target timing out at once'),
    fpingPath: z.string().min(1).default('fping').describe('fping executable (Debian package fping), for ICMP targets and the LAN sweep'),
    defaults: z
      .strictObject({
        intervalS: z.number().min(1).max(86_400).default(DEFAULT_INTERVAL_S),
        timeoutMs: z.number().int().min(100).max(120_000).default(DEFAULT_TIMEOUT_MS),
      })
      .default({ intervalS: DEFAULT_INTERVAL_S, timeoutMs: DEFAULT_TIMEOUT_MS })
      .describe('Interval and timeout of targets that do not set their own'),
    targets: z.array(ProbeTargetSchema).default([]),
    lanSweep: LanSweepSchema.optional(),
  })
  .describe("The gateway's own active probes");

export type ProbesSettings = z.output<typeof ProbesSchema>;
export type ProbeTarget = z.output<typeof ProbeTargetSchema>;
export type IcmpTarget = z.output<typeof IcmpTargetSchema>;
export type TcpTarget = z.output<typeof TcpTargetSchema>;
export type HttpTarget = z.output<typeof HttpTargetSchema>;
export type RtspTarget = z.output<typeof RtspTargetSchema>;
export type LanSweepSettings = z.output<typeof LanSweepSchema>;

/** The kind a LAN-sweep computer must be. */
export const OFFICE_PC_KIND = 'office_pc';

/**
 * Which device kinds a target type may report for: the kind must carry the
 * `probed()` fields (devices/capabilities.ts), RTSP only where a stream is
 * expected. Office computers are swept (lanSweep), not probed one by one: their
 * `probe_ok` means "seen within the look-back window".
 */
export function kindsFor(type: string): string[] | undefined {
  const probedKinds = KINDS.filter((k) => k.fieldByName.has('probe_ok') && k.id !== OFFICE_PC_KIND).map((k) => k.id as string);
  switch (type) {
    case 'icmp':
    case 'tcp':
    case 'http':
      return probedKinds;
    case 'rtsp':
      return probedKinds.filter((k) => k === 'camera' || k === 'vconf');
    default:
      return undefined; // snmp: the SNMP settings module judges its own kinds
  }
}

/** The stable key of a target (its `id`, else type, device and address). */
export function targetKey(t: { type: string; device: string; id?: string | undefined; host?: string; port?: number; url?: string }): string {
  if (t.id) return t.id;
  const addr = t.url ?? (t.host !== undefined ? (t.port !== undefined ? `${t.host}:${t.port}` : t.host) : '');
  return `${t.type}:${t.device}${addr ? `:${addr}` : ''}`;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Cross-references of the `probes` object. Runs on the raw input (so
 * `check-config` reports these with the type errors) and on the parsed settings
 * (defaults filled in: test values, not presence): devices exist and fit
 * the target type, computers are office PCs with unique addresses, thresholds are
 * ordered, timeouts fit the intervals, and the concurrency bound covers the worst
 * case (every target timing out at once: when the office switch loses power, all
 * targets time out together, and that is when the officer needs the data).
 */
export function checkProbes(raw: Record<string, unknown>, refs: CheckRefs): void {
  const defaults = loose(raw['defaults']);
  const defInterval = num(defaults['intervalS']) ?? DEFAULT_INTERVAL_S;
  const defTimeout = num(defaults['timeoutMs']) ?? DEFAULT_TIMEOUT_MS;
  const concurrency = num(raw['concurrency']) ?? DEFAULT_CONCURRENCY;

  let demand = 0;
  let icmpTimeoutMax = 0;
  const keys = new Map<string, number>();
  arr(raw['targets']).forEach((t, i) => {
    const at = (...p: (string | number)[]) => ['probes', 'targets', i, ...p];
    const type = str(t['type']);
    const device = t['device'];
    if (type !== undefined && typeof device === 'string') {
      const d = refs.devices.get(device);
      if (d?.kind === OFFICE_PC_KIND) {
        refs.issue(at('device'), `device "${device}" is an office_pc: office computers are probed by probes.lanSweep, not by targets`);
      } else {
        checkDeviceRef(refs, at('device'), device, kindsFor(type));
      }
      const key = targetKey({
        type,
        device,
        id: str(t['id']),
        ...(str(t['host']) !== undefined ? { host: str(t['host'])! } : {}),
        ...(num(t['port']) !== undefined ? { port: num(t['port'])! } : {}),
        ...(str(t['url']) !== undefined ? { url: str(t['url'])! } : {}),
      });
      const prior = keys.get(key);
      if (prior !== undefined) refs.issue(at(t['id'] !== undefined ? 'id' : 'device'), `duplicate probe target "${key}" (same as probes.targets[${prior}])`);
      else keys.set(key, i);
    }
    const intervalMs = (num(t['intervalS']) ?? defInterval) * 1000;
    const timeoutMs = num(t['timeoutMs']) ?? defTimeout;
    if (timeoutMs >= intervalMs) {
      refs.issue(at(t['timeoutMs'] !== undefined ? 'timeoutMs' : 'intervalS'), `timeout ${timeoutMs} ms must be shorter than the interval ${intervalMs / 1000} s`);
    }
    if (type === 'icmp') {
      icmpTimeoutMax = Math.max(icmpTimeoutMax, timeoutMs);
      const degraded = num(t['lossDegradedPct']) ?? 5;
      const down = num(t['lossDownPct']) ?? 50;
      if (degraded > down) refs.issue(at('lossDegradedPct'), `lossDegradedPct ${degraded} is above lossDownPct ${down}`);
    } else if (type === 'http') {
      if (t['keyword'] !== undefined && t['method'] === 'HEAD') refs.issue(at('keyword'), 'a keyword needs a body: use method GET');
      if (t['caFile'] !== undefined && t['insecureTls'] === true) refs.issue(at('insecureTls'), 'caFile and insecureTls: true contradict each other; keep one');
      if ((t['caFile'] !== undefined || t['insecureTls'] === true) && typeof t['url'] === 'string' && t['url'].startsWith('http://')) {
        refs.issue(at('url'), 'caFile / insecureTls apply to https:// URLs only');
      }
    } else if (type === 'snmp') {
      // The SNMP work's own checks (credentials per version, profile vs kind).
      checkSnmpTarget(t, ['probes', 'targets', i], refs);
    } else if (type === 'rtsp') {
      if ((t['username'] === undefined) !== (t['passwordEnv'] === undefined)) {
        refs.issue(at(t['username'] === undefined ? 'username' : 'passwordEnv'), 'username and passwordEnv go together');
      }
    }
    // ICMP targets share fping processes (counted below); every other target holds a slot while it runs.
    if (type !== 'icmp') demand += timeoutMs / intervalMs;
  });
  // ICMP: at most one fping batch per second per parameter set (see source.ts), each holding a slot until its timeout.
  if (icmpTimeoutMax > 0) demand += Math.ceil(icmpTimeoutMax / 1000);

  if (raw['lanSweep'] !== undefined) {
    const sweep = loose(raw['lanSweep']);
    const ips = new Map<string, number>();
    const devices = new Map<string, number>();
    arr(sweep['computers']).forEach((c, i) => {
      const at = (...p: (string | number)[]) => ['probes', 'lanSweep', 'computers', i, ...p];
      checkDeviceRef(refs, at('device'), c['device'], [OFFICE_PC_KIND]);
      const ip = str(c['ip']);
      if (ip !== undefined) {
        const prior = ips.get(ip);
        if (prior !== undefined) refs.issue(at('ip'), `duplicate ip ${ip} (also probes.lanSweep.computers[${prior}])`);
        else ips.set(ip, i);
      }
      const dev = str(c['device']);
      if (dev !== undefined) {
        const prior = devices.get(dev);
        if (prior !== undefined) refs.issue(at('device'), `computer "${dev}" is listed twice (also probes.lanSweep.computers[${prior}])`);
        else devices.set(dev, i);
      }
    });
    const intervalS = num(sweep['intervalS']) ?? 60;
    const timeoutMs = num(sweep['timeoutMs']) ?? 2000;
    if (timeoutMs >= intervalS * 1000) refs.issue(['probes', 'lanSweep', 'timeoutMs'], `timeout ${timeoutMs} ms must be shorter than the interval ${intervalS} s`);
    const lookbackMin = num(sweep['lookbackMin']) ?? 15;
    if (lookbackMin * 60 < intervalS) {
      refs.issue(['probes', 'lanSweep', 'lookbackMin'], `look-back ${lookbackMin} min is shorter than one sweep interval (${intervalS} s)`);
    }
    demand += timeoutMs / (intervalS * 1000);
  }

  const needed = Math.ceil(demand - 1e-9);
  if (needed > concurrency) {
    refs.issue(
      ['probes', 'concurrency'],
      `concurrency ${concurrency} is below the worst case: when every target times out at once (e.g. the office switch loses power) ` +
        `about ${needed} probes are in flight (sum of timeoutMs / interval); set concurrency: ${needed} or more, or lengthen intervals`,
    );
  }
}
