/**
 * `ioc:` settings: the feed to the province IOC (Trung tâm giám sát, điều hành
 * thông minh tỉnh) — an HTTPS outbox of signed JSON envelopes (docs/ioc-feed.md)
 * and an optional MQTT uplink of live device status to a province broker.
 *
 * Secrets (bearer token, HMAC key, MQTT password) are never in the file: the
 * settings name the environment variables that hold them.
 */
import { z } from 'zod';
import { loose, str, type CheckRefs } from '../settings/check-kit.js';

/** Period kinds the feed sends on a schedule (gateway/indicators/types.ts PeriodKind minus `custom`). */
export const FEED_PERIOD_KINDS = ['day', 'month', 'quarter', 'half', 'year'] as const;
export type FeedPeriodKind = (typeof FEED_PERIOD_KINDS)[number];

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

export const IocMqttSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^(mqtts?|wss?):\/\/[^/\s]+\/?$/, 'must be mqtts://host:port (mqtt:// only on loopback), or wss://')
      .describe('Province broker, e.g. mqtts://mqtt.ioc.dongnai.gov.vn:8883'),
    username: z.string().min(1).optional().describe('Broker user name, as the province issued it'),
    passwordEnv: EnvName.optional().describe('Environment variable holding the broker password'),
    clientId: z.string().min(1).max(128).optional().describe('Default: commune-edge-<commune code>-<gateway.id>'),
    caFile: z.string().optional().describe("PEM file of the CA that signed the broker's certificate"),
    certFile: z.string().optional().describe('Client certificate (PEM) when the broker requires one'),
    keyFile: z.string().optional().describe('Private key (PEM) of certFile'),
    rejectUnauthorized: z.boolean().default(true).describe('false accepts any broker certificate (tests only)'),
    topicPrefix: z
      .string()
      .min(1)
      .default('ioc/{province}/{commune}')
      .describe('Topics: <prefix>/status/<device> (retained, per device), <prefix>/summary (retained), <prefix>/gateway (online/offline, last-will)'),
    qos: z.union([z.literal(0), z.literal(1)]).default(1).describe('QoS of the status publications (1: the broker acknowledges each)'),
    reconnectMinMs: z.number().int().min(100).default(1000).describe('First reconnect delay (jittered, doubling up to reconnectMaxMs)'),
    reconnectMaxMs: z.number().int().min(100).default(60_000).describe('Longest reconnect delay'),
  })
  .describe('Optional MQTT uplink of live device status (retained per device) to a province broker, TLS and auth');
export type IocMqttSettings = z.output<typeof IocMqttSchema>;

export const IocSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, 'must be an http(s):// URL')
      .describe('Receiver endpoint (full URL with path), e.g. https://ioc.dongnai.gov.vn/ce/v1/messages; http:// only on loopback'),
    tokenEnv: EnvName.default('CE_IOC_TOKEN').describe('Environment variable holding the bearer token'),
    hmacKeyEnv: EnvName.default('CE_IOC_HMAC_KEY').describe('Environment variable holding the HMAC-SHA256 key (its UTF-8 bytes)'),
    feedId: z
      .uuid()
      .optional()
      .describe('Stable feed id (UUID); default: generated once and kept in the local store. Set it to keep the id across a store wipe'),
    caFile: z.string().optional().describe("PEM file of the CA that signed the receiver's certificate (default: the system CAs)"),
    certFile: z.string().optional().describe('Client certificate (PEM), when the receiver requires mutual TLS'),
    keyFile: z.string().optional().describe('Private key (PEM) of certFile'),
    rejectUnauthorized: z.boolean().default(true).describe('false accepts any server certificate (tests only)'),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .default(30_000)
      .describe('Budget of one POST, connect to the end of the answer; a receiver that hangs is retried after it'),
    retryMinMs: z.number().int().min(10).default(2000).describe('First retry delay (jittered, doubling up to retryMaxMs)'),
    retryMaxMs: z.number().int().min(100).default(300_000).describe('Longest retry delay; also caps a Retry-After'),
    gzip: z.boolean().default(true).describe('Send bodies over 1 KiB with Content-Encoding: gzip (rural uplinks)'),
    statusIntervalS: z.number().min(1).max(86_400).default(300).describe('A full device-status snapshot at least this often'),
    statusDebounceS: z
      .number()
      .min(0)
      .max(3600)
      .default(15)
      .describe('After a state change, a status snapshot follows within this time; changes within it are coalesced into one'),
    events: z.boolean().default(true).describe('Send an event message for every device state change (down, up, degraded)'),
    indicatorsIntervalS: z.number().min(10).max(86_400).default(3600).describe('How often the current periods are computed and sent'),
    indicatorPeriods: z
      .array(z.enum(FEED_PERIOD_KINDS))
      .min(1)
      .default(['day', 'month', 'half'])
      .describe('Periods sent on the schedule; each closed period is also sent once, final, after its boundary'),
    maxOutboxMessages: z
      .number()
      .int()
      .min(10)
      .default(50_000)
      .describe('Outbox bound; when full, older status snapshots go first, then events, then superseded indicator reports'),
    maxOutboxBytes: z
      .number()
      .int()
      .min(65_536)
      .default(200 * 1024 * 1024)
      .describe('Outbox bound in stored (compressed) bytes'),
    maxParkedMessages: z.number().int().min(1).default(1000).describe('Parked (rejected) messages kept for GET /api/ioc/parked; oldest dropped'),
    mqtt: IocMqttSchema.optional(),
  })
  .describe('The feed to the province IOC');
export type IocSettings = z.output<typeof IocSchema>;
export type IocSettingsInput = z.input<typeof IocSchema>;

const LOOPBACK = /^(127(\.\d{1,3}){3}|localhost|\[::1\]|::1)$/i;

/** Host name of an URL, or undefined when it does not parse. */
function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/**
 * Cross-field checks (run on raw input too, so `check-config` lists them with
 * type errors): clear-text transports only on loopback, backoff bounds in order,
 * a client key with its certificate, distinct secrets for token and HMAC key.
 */
export function checkIoc(raw: Record<string, unknown>, refs: CheckRefs): void {
  const at = (...p: (string | number)[]) => ['ioc', ...p];
  const url = str(raw['url']);
  if (url?.startsWith('http://')) {
    const host = hostOf(url);
    if (host !== undefined && !LOOPBACK.test(host)) {
      refs.issue(at('url'), `the IOC feed must use https:// (the token and the data would cross the network in clear); http:// is allowed only for 127.0.0.1/localhost, got host "${host}"`);
    }
  }
  const min = raw['retryMinMs'];
  const max = raw['retryMaxMs'];
  if (typeof min === 'number' && typeof max === 'number' && min > max) {
    refs.issue(at('retryMinMs'), `retryMinMs (${min}) is larger than retryMaxMs (${max})`);
  }
  if ((raw['certFile'] === undefined) !== (raw['keyFile'] === undefined)) {
    refs.issue(at(raw['certFile'] === undefined ? 'certFile' : 'keyFile'), 'certFile and keyFile go together (mutual TLS)');
  }
  const tokenEnv = str(raw['tokenEnv']) ?? 'CE_IOC_TOKEN';
  const hmacKeyEnv = str(raw['hmacKeyEnv']) ?? 'CE_IOC_HMAC_KEY';
  if (tokenEnv === hmacKeyEnv) {
    refs.issue(at('hmacKeyEnv'), `the HMAC key and the bearer token must be different secrets, both are read from ${tokenEnv}`);
  }
  const statusInterval = raw['statusIntervalS'];
  const debounce = raw['statusDebounceS'];
  if (typeof statusInterval === 'number' && typeof debounce === 'number' && debounce > statusInterval) {
    refs.issue(at('statusDebounceS'), `statusDebounceS (${debounce}) is longer than statusIntervalS (${statusInterval}): changes would wait for the next periodic snapshot anyway`);
  }
  if (raw['mqtt'] !== undefined) {
    const m = loose(raw['mqtt']);
    const murl = str(m['url']);
    if (murl && /^(mqtt|ws):\/\//.test(murl)) {
      const host = hostOf(murl.replace(/^mqtt:/, 'http:').replace(/^ws:/, 'http:'));
      if (host !== undefined && !LOOPBACK.test(host)) {
        refs.issue(at('mqtt', 'url'), `the MQTT uplink must use mqtts:// or wss:// toward the province; clear text is allowed only for 127.0.0.1/localhost, got host "${host}"`);
      }
    }
    if (m['passwordEnv'] !== undefined && m['username'] === undefined) {
      refs.issue(at('mqtt', 'username'), 'mqtt.passwordEnv is set but mqtt.username is missing');
    }
    if ((m['certFile'] === undefined) !== (m['keyFile'] === undefined)) {
      refs.issue(at('mqtt', m['certFile'] === undefined ? 'certFile' : 'keyFile'), 'certFile and keyFile go together (client certificate)');
    }
    const rmin = m['reconnectMinMs'];
    const rmax = m['reconnectMaxMs'];
    if (typeof rmin === 'number' && typeof rmax === 'number' && rmin > rmax) {
      refs.issue(at('mqtt', 'reconnectMinMs'), `reconnectMinMs (${rmin}) is larger than reconnectMaxMs (${rmax})`);
    }
  }
}
