/**
 * `alerts:` settings: rules (what is worth waking the IT officer for), channels
 * (webhook, e-mail, Telegram, Zalo OA) and quiet hours. Secrets (SMTP password,
 * bot tokens, OA access token) come from environment variables named here.
 */
import { z } from 'zod';
import { arr, checkDeviceRef, hint, str, type CheckRefs } from '../settings/check-kit.js';

const Id = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, ".", "_" or "-"');
const HttpsUrl = z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL');
const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h, commune time)');

const Retry = {
  retryMinMs: z.number().int().min(100).default(5_000).describe('First retry after a failed send'),
  retryMaxMs: z.number().int().min(100).default(600_000).describe('Longest wait between retries (jittered exponential backoff)'),
  timeoutMs: z.number().int().min(500).default(15_000).describe('One send attempt gives up after this long'),
};

const WebhookChannel = z
  .strictObject({
    id: Id,
    type: z.literal('webhook'),
    url: HttpsUrl.describe('Receives POST application/json (see docs/alerts.md for the body)'),
    tokenEnv: z.string().optional().describe('Environment variable with a bearer token sent as Authorization'),
    ...Retry,
  })
  .describe('Generic JSON webhook (a ticketing system, a chat bridge, the province)');

const EmailChannel = z
  .strictObject({
    id: Id,
    type: z.literal('email'),
    host: z.string().min(1).describe('SMTP server, e.g. smtp.gmail.com or the province mail server'),
    port: z.number().int().min(1).max(65535).default(587),
    secure: z.boolean().default(false).describe('TLS from the start (port 465); false = STARTTLS when offered'),
    requireTls: z.boolean().default(false).describe('Refuse to send unless STARTTLS succeeds'),
    user: z.string().optional(),
    passwordEnv: z.string().optional().describe('Environment variable with the SMTP password'),
    from: z.string().min(3).describe('e.g. "Gateway xã Tà Lài <canhbao@talai.gov.vn>"'),
    to: z.array(z.string().min(3)).min(1),
    rejectUnauthorized: z.boolean().default(true),
    ...Retry,
  })
  .describe('E-mail over SMTP (nodemailer)');

const TelegramChannel = z
  .strictObject({
    id: Id,
    type: z.literal('telegram'),
    botTokenEnv: z.string().describe('Environment variable with the bot token from @BotFather'),
    chatId: z.union([z.string(), z.number()]).describe('Chat or group id the bot posts to'),
    apiBase: HttpsUrl.default('https://api.telegram.org').describe('Bot API base URL (a local Bot API server, or tests)'),
    ...Retry,
  })
  .describe('Telegram bot message (Bot API sendMessage)');

const ZaloChannel = z
  .strictObject({
    id: Id,
    type: z.literal('zalo'),
    accessTokenEnv: z.string().describe('Environment variable with the Zalo Official Account access token'),
    userIds: z.array(z.string().min(1)).min(1).describe('Zalo user ids (followers of the OA) to message'),
    endpoint: HttpsUrl.default('https://openapi.zalo.me/v3.0/oa/message/cs').describe('OA message API (consultation message)'),
    ...Retry,
  })
  .describe('Zalo Official Account message (OA Open API v3)');

export const AlertChannelSchema = z.discriminatedUnion('type', [WebhookChannel, EmailChannel, TelegramChannel, ZaloChannel]);

const Common = {
  id: Id.describe('Rule id, used in de-duplication keys, the API and messages'),
  delayS: z.number().min(0).default(300).describe('The condition must hold this long before the first notice (no alert for a blip)'),
  repeatS: z.number().min(0).default(0).describe('Repeat the notice this often while it lasts; 0 = once'),
  recovery: z.boolean().default(true).describe('Send a recovery notice when the condition clears (only after a notice went out)'),
  severity: z.enum(['warning', 'critical']).default('warning').describe('critical notices go out during quiet hours too'),
  channels: z.array(Id).min(1).describe('Channel ids to notify'),
};

const DeviceDownRule = z.strictObject({
  ...Common,
  type: z.literal('device-down'),
  kinds: z.array(z.string()).optional().describe('Only devices of these kinds (default: all)'),
  roles: z.array(z.string()).optional().describe('Only devices with these roles'),
  devices: z.array(z.string()).optional().describe('Only these devices'),
});
const HamletLoudspeakersRule = z.strictObject({
  ...Common,
  type: z.literal('hamlet-loudspeakers-lost'),
});
const OnestopIocRule = z.strictObject({
  ...Common,
  type: z.literal('onestop-ioc-lost'),
});
const SpoolRule = z.strictObject({
  ...Common,
  type: z.literal('spool-above'),
  thresholdPct: z.number().min(1).max(100).default(80).describe('Local store use, % of store.maxBytes'),
});
const OnBatteryRule = z.strictObject({
  ...Common,
  type: z.literal('gateway-on-battery'),
  device: z.string().describe('The power (UPS) device that feeds the gateway and the office network'),
});

export const AlertRuleSchema = z.discriminatedUnion('type', [DeviceDownRule, HamletLoudspeakersRule, OnestopIocRule, SpoolRule, OnBatteryRule]);

export const AlertsSchema = z.strictObject({
  channels: z.array(AlertChannelSchema).default([]),
  rules: z.array(AlertRuleSchema).default([]),
  quietHours: z
    .strictObject({ from: ClockTime, to: ClockTime })
    .optional()
    .describe('Warnings wait until the end of this window (commune time); critical notices go out at once'),
  evaluateS: z.number().min(1).max(300).default(5).describe('How often the rules are evaluated (also on every state change)'),
  maxOutbox: z.number().int().min(10).default(10_000).describe('Unsent notices kept; beyond it the oldest are dropped (counted)'),
});
export type AlertsSettings = z.output<typeof AlertsSchema>;
export type AlertRule = z.output<typeof AlertRuleSchema>;
export type AlertChannelSettings = z.output<typeof AlertChannelSchema>;

export function checkAlerts(raw: Record<string, unknown>, refs: CheckRefs): void {
  const channelIds: string[] = [];
  arr(raw['channels']).forEach((c, i) => {
    const id = str(c['id']);
    if (id === undefined) return;
    if (channelIds.includes(id)) refs.issue(['alerts', 'channels', i, 'id'], `duplicate channel id "${id}"`);
    channelIds.push(id);
  });
  const ruleIds = new Set<string>();
  arr(raw['rules']).forEach((r, i) => {
    const at = (...p: (string | number)[]) => ['alerts', 'rules', i, ...p];
    const id = str(r['id']);
    if (id !== undefined) {
      if (ruleIds.has(id)) refs.issue(at('id'), `duplicate rule id "${id}"`);
      ruleIds.add(id);
    }
    (Array.isArray(r['channels']) ? r['channels'] : []).forEach((c: unknown, j: number) => {
      if (typeof c === 'string' && !channelIds.includes(c)) {
        refs.issue(at('channels', j), `unknown channel "${c}"; ${hint(c, channelIds)}known: ${channelIds.join(', ') || '(none defined)'}`);
      }
    });
    if (r['type'] === 'gateway-on-battery') checkDeviceRef(refs, at('device'), r['device'], ['power']);
    if (r['type'] === 'device-down') {
      (Array.isArray(r['devices']) ? r['devices'] : []).forEach((d: unknown, j: number) => checkDeviceRef(refs, at('devices', j), d));
    }
  });
}
