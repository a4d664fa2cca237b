/**
 * The one settings schema. Types (`Settings`), defaults, documentation (the
 * `.describe()` texts) and config/schema.json all derive from it. Objects are
 * strict: an unknown key is an error with its path and a "did you mean" hint
 * (gateway/settings/load.ts). Cross-references (hamlets, profiles, bridges, roles)
 * are checked in `superRefine` so every problem is reported in one pass.
 */
import { z } from 'zod';
import { KIND_IDS, kindById } from '../../devices/registry.js';
import { arr, hint, loose, obj, str, summarizeIds, type CheckRefs, type CrossIssue } from './check-kit.js';
import { checkModbus, ModbusSchema } from '../inputs/modbus/settings.js';
import { checkOpcua, OpcuaSchema } from '../inputs/opcua/settings.js';
import { checkProbes, ProbesSchema } from '../probes/settings.js';
import { checkIndicators, IndicatorsSchema } from '../indicators/settings.js';
import { checkIoc, IocSchema } from '../uplink/settings.js';
import { AlertsSchema, checkAlerts } from '../alerts/settings.js';

export { closest, summarizeIds, type CrossIssue } from './check-kit.js';

export const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const Id = z
  .string()
  .regex(ID_PATTERN, 'must be lower-case letters, digits, ".", "_" or "-" (max 64), starting with a letter or digit');

const Port = z.number().int().min(0).max(65535);

const Label = z.string().min(1).max(200);

const Hamlet = z
  .strictObject({
    id: Id.describe('Short id used in topics, tags and reports, e.g. "ap-01"'),
    name: Label.describe('Name as the commune writes it, e.g. "Ấp 1" or "Ấp Đồng Bà"'),
    population: z.number().int().min(0).optional().describe('Residents (for coverage weighting)'),
  })
  .describe('A hamlet (ấp) or residential area (khu dân cư) of the commune');

const FieldMapping = z.strictObject({
  path: z.string().min(1).describe('Dot path of the value in the vendor JSON payload, e.g. "video.ok" or "pwr.mv"'),
  scale: z.number().optional().describe('Multiply the vendor value by this (e.g. 0.001 for mV to V)'),
  offset: z.number().optional().describe('Then add this'),
  values: z
    .record(z.string(), z.union([z.boolean(), z.number(), z.string()]))
    .optional()
    .describe('Map vendor enum strings to canonical values, e.g. { "ON": true, "OFF": false }'),
});

export const DEFAULT_TELEMETRY_TOPIC = 'ce/{device}/telemetry';
export const DEFAULT_STATUS_TOPIC = 'ce/{device}/status';

const TopicTemplate = z
  .string()
  .min(1)
  .max(200)
  .refine((t) => t.includes('{device}'), 'must contain the {device} placeholder')
  .refine((t) => !/[#+]/.test(t), 'must not contain MQTT wildcards (# or +)');

const Profile = z
  .strictObject({
    kind: z.enum(KIND_IDS).describe('Device kind this vendor model reports'),
    description: z.string().optional(),
    topics: z
      .strictObject({
        telemetry: TopicTemplate.default(DEFAULT_TELEMETRY_TOPIC).describe(
          'Topic the device (or its bridge) publishes telemetry on; {device} is the device externalId (default: its id)',
        ),
        status: TopicTemplate.nullable()
          .default(DEFAULT_STATUS_TOPIC)
          .describe('Online/offline topic, usually the MQTT last-will; null when the model has none'),
      })
      .default({ telemetry: DEFAULT_TELEMETRY_TOPIC, status: DEFAULT_STATUS_TOPIC }),
    timestamp: z
      .strictObject({
        path: z.string().default('ts').describe('Dot path of the device timestamp in the payload'),
        unit: z
          .enum(['auto', 'ms', 's', 'iso'])
          .default('auto')
          .describe('auto: numbers below 1e11 are seconds, above are milliseconds; strings are ISO-8601'),
      })
      .default({ path: 'ts', unit: 'auto' }),
    fields: z
      .record(z.string(), z.union([z.string(), FieldMapping]))
      .default({})
      .describe('Canonical field name → vendor path (string) or mapping. Canonical names in the payload are accepted too.'),
    status: z
      .strictObject({
        online: z.array(z.string()).default(['online', '1', 'true', 'up']),
        offline: z.array(z.string()).default(['offline', '0', 'false', 'down']),
      })
      .default({ online: ['online', '1', 'true', 'up'], offline: ['offline', '0', 'false', 'down'] })
      .describe('Status payload values (case-insensitive) meaning online / offline'),
  })
  .describe('How one vendor model publishes: topics, field names, scales. Vendor differences live here, not in code.');

const PasswordHash = z
  .string()
  .regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'must be an scrypt hash made by `commune-edge hash-password`')
  .describe('scrypt$N$r$p$salt$hash, from `commune-edge hash-password`');

const Device = z
  .strictObject({
    id: Id.describe('Unique device id; also its MQTT username unless it reports through a bridge'),
    name: Label.describe('Human name, e.g. "Cụm loa ấp 3 - nhà văn hóa"'),
    kind: z.enum(KIND_IDS),
    hamlet: Id.describe('Hamlet id where the device serves'),
    role: z.string().optional().describe("Role within its kind (e.g. camera: onestop, security); default: the kind's first role"),
    profile: Id.optional().describe('Vendor profile id (profiles.*); default: the canonical ce/{device}/... topics'),
    externalId: z.string().min(1).max(64).regex(/^[^/#+]+$/).optional().describe('Id the vendor uses in topics, if not `id`'),
    passwordHash: PasswordHash.optional().describe('MQTT password hash when the device connects itself'),
    bridge: Id.optional().describe('Bridge (NVR, LoRa gateway, agent) that publishes for this device'),
    heartbeatS: z.number().int().min(1).max(86_400).optional().describe("Expected reporting interval; default: the kind's"),
    location: z.strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) }).optional(),
  })
  .describe('One device of the inventory');

const Bridge = z
  .strictObject({
    id: Id.describe('MQTT username of the bridge'),
    name: Label,
    passwordHash: PasswordHash,
  })
  .describe('A client that publishes for several devices (NVR, LoRa/RS-485 gateway, network agent)');

const Role = z.enum(['viewer', 'officer', 'admin']);

const ApiToken = z.strictObject({
  name: Label.describe('Who holds the token, for the audit log'),
  role: Role.describe('viewer: read; officer: also operational data (rejects); admin: also configuration'),
  tokenHash: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:<64 hex>" (commune-edge hash-token)')
    .describe('sha256 of the bearer token'),
});

const Forwarding = z
  .strictObject({
    batchPoints: z.number().int().min(1).max(100_000).default(5000).describe('Points per write request'),
    batchAgeMs: z.number().int().min(0).max(60_000).default(1000).describe('Send a partial batch once its oldest point waited this long'),
    retryMinMs: z.number().int().min(50).default(1000).describe('First retry delay after a failed write (jittered, doubling)'),
    retryMaxMs: z.number().int().min(100).default(300_000).describe('Longest retry delay'),
    replayPointsPerS: z
      .number()
      .int()
      .min(1)
      .default(20_000)
      .describe('Pace of the backlog after an outage; live readings are sent first and are not paced'),
    timeoutMs: z.number().int().min(100).default(10_000).describe('A write that takes longer is abandoned and retried'),
  })
  .describe('Batching, retries and replay pacing of one sink');
const FORWARDING_DEFAULTS = { batchPoints: 5000, batchAgeMs: 1000, retryMinMs: 1000, retryMaxMs: 300_000, replayPointsPerS: 20_000, timeoutMs: 10_000 };

const HttpUrl = z.string().regex(/^https?:\/\/[^/\s]+\/?$/, 'must be http(s)://host:port (no path)');

const InfluxV1Sink = z
  .strictObject({
    id: Id.describe('Sink id, used in metrics, the API and the spool cursors (keep it stable)'),
    type: z.literal('influxdb-v1'),
    url: HttpUrl.describe('e.g. http://127.0.0.1:8086'),
    database: z.string().min(1).default('commune_edge'),
    retentionPolicy: z.string().optional().describe("Default: the database's default policy"),
    username: z.string().optional(),
    passwordEnv: z.string().optional().describe('Environment variable holding the password'),
    createDatabase: z.boolean().default(true).describe('CREATE DATABASE at start (idempotent; needs admin rights when auth is on)'),
    caFile: z.string().optional(),
    rejectUnauthorized: z.boolean().default(true),
    forwarding: Forwarding.default(FORWARDING_DEFAULTS),
  })
  .describe('InfluxDB 1.x (InfluxQL), e.g. a local one on the Pi');

const InfluxV2Sink = z
  .strictObject({
    id: Id.describe('Sink id, used in metrics, the API and the spool cursors (keep it stable)'),
    type: z.literal('influxdb-v2'),
    url: HttpUrl.describe('e.g. https://influx.province.example:8086'),
    org: z.string().min(1),
    bucket: z.string().min(1),
    tokenEnv: z.string().describe('Environment variable holding the API token (write permission on the bucket)'),
    caFile: z.string().optional(),
    rejectUnauthorized: z.boolean().default(true),
    gzip: z.boolean().default(true).describe('Compress request bodies (recommended on a slow uplink)'),
    forwarding: Forwarding.default(FORWARDING_DEFAULTS),
  })
  .describe('InfluxDB 2.x / 3.x (v2 write API), e.g. the province\'s');

export const SinkSchema = z.discriminatedUnion('type', [InfluxV1Sink, InfluxV2Sink]);

export const SettingsSchema = z
  .strictObject({
    $schema: z.string().optional().describe('Path or URL of config/schema.json, for editors'),
    commune: z.strictObject({
      code: z.string().regex(/^\d{5}$/, 'must be the 5-digit administrative unit code (mã ĐVHC)'),
      name: Label.describe('e.g. "Xã Tà Lài"'),
      province: z.strictObject({
        code: z.string().regex(/^\d{2}$/, 'must be the 2-digit province code'),
        name: Label,
      }),
      timezone: z.string().default('Asia/Ho_Chi_Minh').describe('IANA zone for periods and reports'),
    }),
    gateway: z
      .strictObject({
        id: Id.default('gw-01').describe('Gateway id, unique within the province'),
        dataDir: z.string().default('./data').describe('Where the local store lives'),
        heartbeatS: z
          .number()
          .int()
          .min(5)
          .max(600)
          .default(30)
          .describe('How often the gateway records its own heartbeat; a gap longer than 2× this is UNKNOWN time'),
        demo: z.boolean().default(false).describe('Marks a demo commune in logs and API'),
      })
      .default({ id: 'gw-01', dataDir: './data', heartbeatS: 30, demo: false }),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        rejectLogIntervalS: z
          .number()
          .min(0)
          .default(10)
          .describe('At most one log line per client and reason in this interval (the counters still count all)'),
      })
      .default({ level: 'info', rejectLogIntervalS: 10 }),
    hamlets: z.array(Hamlet).min(1),
    mqtt: z
      .strictObject({
        mode: z.enum(['embedded', 'external']).default('embedded'),
        host: z.string().default('0.0.0.0').describe('Embedded broker listen address'),
        port: Port.default(1883),
        tls: z
          .strictObject({
            port: Port.default(8883),
            certFile: z.string(),
            keyFile: z.string(),
            caFile: z.string().optional().describe('Set to require client certificates signed by this CA'),
          })
          .optional()
          .describe('Optional MQTT over TLS listener'),
        websocket: z
          .strictObject({ port: Port.default(8083) })
          .optional()
          .describe('Optional MQTT over WebSocket listener'),
        maxPayloadBytes: z
          .number()
          .int()
          .min(64)
          .max(1_048_576)
          .default(16_384)
          .describe('Larger payloads are acknowledged and dropped (CE_PAYLOAD_TOO_LARGE)'),
        maxPacketBytes: z
          .number()
          .int()
          .min(1024)
          .max(268_435_455)
          .default(262_144)
          .describe('Larger packets close the connection before they are buffered (CE_PACKET_TOO_LARGE)'),
        rateLimit: z
          .strictObject({
            msgsPerS: z.number().min(1).default(100).describe('Sustained messages/s per client'),
            burst: z.number().int().min(1).default(1000).describe('Bucket size per client'),
          })
          .default({ msgsPerS: 100, burst: 1000 }),
        external: z
          .strictObject({
            url: z.string().regex(/^(mqtts?|wss?|tcp|ssl):\/\//, 'must be mqtt://, mqtts://, ws:// or wss://'),
            username: z.string().optional(),
            passwordEnv: z
              .string()
              .optional()
              .describe('Name of the environment variable holding the broker password (secrets stay out of files)'),
            clientId: z.string().optional().describe('Default: commune-edge-<gateway.id>; kept stable for the persistent session'),
            caFile: z.string().optional(),
            certFile: z.string().optional(),
            keyFile: z.string().optional(),
            rejectUnauthorized: z.boolean().default(true),
            reconnectMinMs: z.number().int().min(100).default(1000),
            reconnectMaxMs: z.number().int().min(1000).default(60_000),
          })
          .optional()
          .describe('Subscribe to an external broker (e.g. Mosquitto) instead of embedding one'),
      })
      .default({
        mode: 'embedded',
        host: '0.0.0.0',
        port: 1883,
        maxPayloadBytes: 16_384,
        maxPacketBytes: 262_144,
        rateLimit: { msgsPerS: 100, burst: 1000 },
      }),
    profiles: z.record(Id, Profile).default({}),
    bridges: z.array(Bridge).default([]),
    devices: z.array(Device).default([]),
    health: z
      .strictObject({
        missedHeartbeats: z
          .number()
          .min(1)
          .default(3)
          .describe('A device is DOWN after this many expected intervals without a message'),
        // partialRecord: a record keyed by an enum is exhaustive in zod 4; any subset of kinds is fine here.
        kinds: z
          .partialRecord(
            z.enum(KIND_IDS),
            z.strictObject({ heartbeatS: z.number().int().min(1).optional(), missedHeartbeats: z.number().min(1).optional() }),
          )
          .default({})
          .describe('Per-kind overrides'),
      })
      .default({ missedHeartbeats: 3, kinds: {} }),
    store: z
      .strictObject({
        path: z.string().optional().describe('SQLite file; default <gateway.dataDir>/commune-edge.db'),
        maxBytes: z
          .number()
          .int()
          .min(1_048_576)
          .default(2 * 1024 ** 3)
          .describe('Size cap; the oldest readings are evicted first (counted in ce_store_evicted_total)'),
        commitIntervalMs: z
          .number()
          .int()
          .min(1)
          .max(5000)
          .default(50)
          .describe('Group commit window: PUBACK waits at most this long plus the commit'),
        commitMaxRows: z.number().int().min(1).default(4000).describe('Commit early when this many rows are waiting'),
        durability: z
          .enum(['power-safe', 'crash-safe'])
          .default('power-safe')
          .describe('power-safe: fsync every group commit (synchronous=FULL); crash-safe: survives kill -9 only (NORMAL)'),
        rejectsKept: z.number().int().min(0).default(1000).describe('Recent rejected messages kept for the API'),
        cacheKiB: z
          .number()
          .int()
          .min(64)
          .max(1_048_576)
          .default(2048)
          .describe(
            "SQLite page cache in KiB. Appends and the sinks' reads of recent rows stay in it; older pages come from the OS page cache. better-sqlite3 builds SQLite with 16 MB, which a store fills within minutes",
          ),
      })
      .default({ maxBytes: 2 * 1024 ** 3, commitIntervalMs: 50, commitMaxRows: 4000, durability: 'power-safe', rejectsKept: 1000, cacheKiB: 2048 }),
    modbus: ModbusSchema.optional().describe('Serial RS-485 Modbus RTU buses polled by the gateway (soil probes, meters)'),
    opcua: OpcuaSchema.optional().describe('OPC UA servers (irrigation PLCs); node-opcua is loaded only when this is set'),
    probes: ProbesSchema.optional().describe("The gateway's own active probes: ICMP, TCP, HTTP(S), RTSP, SNMP, LAN sweep"),
    indicators: IndicatorsSchema.describe('Targets, responsible units and maintenance windows of the infrastructure indicators'),
    ioc: IocSchema.optional().describe('The feed to the province IOC (HTTPS outbox, optional MQTT uplink)'),
    alerts: AlertsSchema.prefault({}).describe('Alert rules, channels (webhook, e-mail, Telegram, Zalo OA) and quiet hours'),
    sinks: z
      .array(SinkSchema)
      .default([])
      .describe('Where the spooled readings, transitions and heartbeats are forwarded; none = local store only'),
    api: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        port: Port.default(8080),
        tokens: z.array(ApiToken).default([]),
        metricsRequireToken: z.boolean().default(true).describe('false lets Prometheus scrape /metrics without a token'),
        docs: z.boolean().default(true).describe('Serve OpenAPI docs at /docs'),
      })
      .default({ host: '0.0.0.0', port: 8080, tokens: [], metricsRequireToken: true, docs: true }),
  })
  .superRefine((s, ctx) => {
    for (const i of crossCheck(s)) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
  });

export type SettingsInput = z.input<typeof SettingsSchema>;
export type Settings = z.output<typeof SettingsSchema>;
export type DeviceSettings = Settings['devices'][number];
export type ProfileSettings = Settings['profiles'][string];
export type ApiRole = z.infer<typeof Role>;
export type SinkSettings = Settings['sinks'][number];


/**
 * References between parts of the config. Written defensively (it also runs on raw,
 * not yet valid input, so that `check-config` reports these problems together with
 * type errors: zod skips refinements of an object whose fields failed).
 */
export function crossCheck(raw: unknown): CrossIssue[] {
  const out: CrossIssue[] = [];
  const issue = (path: (string | number)[], message: string) => out.push({ path, message });
  const s = loose(raw);
  const hamlets = arr(s['hamlets']);
  const profiles = obj(s['profiles']);
  const bridges = arr(s['bridges']);
  const devices = arr(s['devices']);

  const hamletIds = hamlets.map((h) => str(h['id'])).filter((x): x is string => x !== undefined);
  const hamletSet = new Set<string>();
  hamlets.forEach((h, i) => {
    const id = str(h['id']);
    if (id === undefined) return;
    if (hamletSet.has(id)) issue(['hamlets', i, 'id'], `duplicate hamlet id "${id}"`);
    hamletSet.add(id);
  });

  for (const [pid, pRaw] of Object.entries(profiles)) {
    const p = loose(pRaw);
    const kind = kindById(str(p['kind']) ?? '');
    if (!kind) continue;
    for (const field of Object.keys(obj(p['fields']))) {
      if (!kind.fieldByName.has(field)) {
        const known = kind.fields.map((f) => f.name);
        issue(['profiles', pid, 'fields', field], `"${field}" is not a ${kind.id} field; ${hint(field, known)}known: ${known.join(', ')}`);
      }
    }
  }

  const bridgeIds = new Set(bridges.map((b) => str(b['id'])).filter((x): x is string => x !== undefined));
  const ids = new Set<string>();
  const topics = new Map<string, number>();
  devices.forEach((dRaw, i) => {
    const d = dRaw as {
      id?: unknown; hamlet?: unknown; kind?: unknown; role?: unknown; profile?: unknown;
      bridge?: unknown; passwordHash?: unknown; externalId?: unknown;
    };
    const at = (...p: (string | number)[]) => ['devices', i, ...p];
    if (typeof d.id !== 'string') return;
    if (ids.has(d.id)) issue(at('id'), `duplicate device id "${d.id}"`);
    ids.add(d.id);
    if (bridgeIds.has(d.id)) issue(at('id'), `device id "${d.id}" is also a bridge id; MQTT usernames must be unique`);
    if (typeof d.hamlet === 'string' && !hamletSet.has(d.hamlet)) {
      issue(at('hamlet'), `unknown hamlet "${d.hamlet}"; ${hint(d.hamlet, hamletIds)}known: ${summarizeIds(hamletIds)}`);
    }
    const kind = kindById(str(d.kind) ?? '');
    if (kind && typeof d.role === 'string' && !kind.roles.includes(d.role)) {
      issue(at('role'), `"${d.role}" is not a role of ${d.kind}; ${hint(d.role, [...kind.roles])}known: ${kind.roles.join(', ')}`);
    }
    let telemetryTemplate = DEFAULT_TELEMETRY_TOPIC;
    if (typeof d.profile === 'string') {
      const p = profiles[d.profile] === undefined ? undefined : loose(profiles[d.profile]);
      if (!p) {
        const known = Object.keys(profiles);
        issue(at('profile'), `unknown profile "${d.profile}"; ${hint(d.profile, known)}known: ${known.join(', ') || '(none defined)'}`);
      } else {
        if (p['kind'] !== d.kind) issue(at('profile'), `profile "${d.profile}" is for kind ${String(p['kind'])}, but the device is a ${String(d.kind)}`);
        telemetryTemplate = str(obj(p['topics'])['telemetry']) ?? DEFAULT_TELEMETRY_TOPIC;
      }
    }
    if (typeof d.bridge === 'string') {
      if (!bridgeIds.has(d.bridge)) {
        const known = [...bridgeIds];
        issue(at('bridge'), `unknown bridge "${d.bridge}"; ${hint(d.bridge, known)}known: ${known.join(', ') || '(none defined)'}`);
      }
      if (d.passwordHash !== undefined) issue(at('passwordHash'), 'a device that reports through a bridge has no password of its own');
    }
    // Two devices must never share a topic: the second would silently take the first's data.
    const telemetry = telemetryTemplate.replaceAll('{device}', str(d.externalId) ?? d.id);
    const prior = topics.get(telemetry);
    if (prior !== undefined) issue(at('externalId'), `topic "${telemetry}" is already used by devices[${prior}]`);
    else topics.set(telemetry, i);
  });

  const sinkIds = new Set<string>();
  arr(s['sinks']).forEach((k, i) => {
    const id = str(k['id']);
    if (id === undefined) return;
    if (sinkIds.has(id)) issue(['sinks', i, 'id'], `duplicate sink id "${id}"`);
    sinkIds.add(id);
  });

  const refs: CheckRefs = { devices: new Map(), issue };
  devices.forEach((d, index) => {
    const id = str(d['id']);
    if (id !== undefined && !refs.devices.has(id)) refs.devices.set(id, { kind: str(d['kind']), index });
  });
  if (s['modbus'] !== undefined) checkModbus(loose(s['modbus']), refs);
  if (s['opcua'] !== undefined) checkOpcua(loose(s['opcua']), refs);
  if (s['probes'] !== undefined) checkProbes(loose(s['probes']), refs);
  if (s['indicators'] !== undefined) checkIndicators(loose(s['indicators']), refs, hamletIds);
  if (s['ioc'] !== undefined) checkIoc(loose(s['ioc']), refs);
  if (s['alerts'] !== undefined) checkAlerts(loose(s['alerts']), refs);

  const mqtt = obj(s['mqtt']);
  if (mqtt['mode'] === 'external' && mqtt['external'] === undefined) {
    issue(['mqtt', 'external'], 'mqtt.mode is "external" but mqtt.external (url, ...) is missing');
  }
  return out;
}

