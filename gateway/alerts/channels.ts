/**
 * Alert channels: one `send(notice)` per kind of destination. A send resolves on
 * success and throws `ChannelError` otherwise; `retryable: false` (the receiver
 * said the request itself is wrong: 4xx other than 408/429) parks the notice
 * instead of retrying it forever. The outbox (outbox.ts) owns retries.
 */
import type { Transporter } from 'nodemailer';
import type { AlertChannelSettings } from './settings.js';

/** What every channel renders: the Vietnamese text plus structured facts for machines. */
export interface AlertNotice {
  /** Stable per alert instance: `<rule>:<subject>`; the de-duplication key. */
  key: string;
  ruleId: string;
  ruleType: string;
  severity: 'warning' | 'critical';
  /** fire: first notice; repeat: still going; recover: cleared. */
  phase: 'fire' | 'repeat' | 'recover';
  subject: { type: 'device' | 'hamlet' | 'gateway'; id: string; name: string; hamlet?: string | undefined };
  /** When the condition began (epoch ms). */
  since: number;
  /** When it cleared (recover only). */
  clearedAt?: number;
  /** Subject line / first line, Vietnamese. */
  title: string;
  /** Full Vietnamese text (plain, with line breaks). */
  text: string;
  commune: { code: string; name: string };
  gatewayId: string;
  /** ISO time the notice was created. */
  createdAt: string;
}

export class ChannelError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface AlertChannel {
  readonly id: string;
  readonly type: string;
  send(notice: AlertNotice, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

function secret(env: string | undefined, what: string): string {
  if (!env) throw new ChannelError(`${what}: no environment variable configured`, false);
  const v = process.env[env];
  if (!v) throw new ChannelError(`${what}: environment variable ${env} is not set`, false);
  return v;
}

/** POST JSON; classify the answer (RFC 9110: 408/429/5xx are worth retrying; Retry-After honoured). */
async function postJson(url: string, body: unknown, headers: Record<string, string>, signal: AbortSignal): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    throw new ChannelError(`${e.name === 'AbortError' || e.name === 'TimeoutError' ? 'timeout' : e.cause?.code ?? e.message}`, true);
  }
  const text = await res.text().catch(() => '');
  if (res.ok) {
    try {
      return text ? (JSON.parse(text) as unknown) : null;
    } catch {
      return text;
    }
  }
  const retryAfter = Number(res.headers.get('retry-after'));
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  throw new ChannelError(`HTTP ${res.status}: ${text.slice(0, 200)}`, retryable, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
}

class WebhookChannel implements AlertChannel {
  readonly type = 'webhook';
  constructor(private readonly cfg: Extract<AlertChannelSettings, { type: 'webhook' }>) {}
  get id() {
    return this.cfg.id;
  }
  async send(n: AlertNotice, signal: AbortSignal): Promise<void> {
    const headers: Record<string, string> = { 'idempotency-key': `${n.key}:${n.phase}:${n.createdAt}` };
    if (this.cfg.tokenEnv) headers['authorization'] = `Bearer ${secret(this.cfg.tokenEnv, `webhook ${this.cfg.id}`)}`;
    await postJson(this.cfg.url, { schema: 'commune-edge/alert/v1', ...n }, headers, signal);
  }
  async close() {}
}

/** Telegram Bot API `sendMessage` (https://core.telegram.org/bots/api#sendmessage): plain text, no parse mode to escape. */
class TelegramChannel implements AlertChannel {
  readonly type = 'telegram';
  constructor(private readonly cfg: Extract<AlertChannelSettings, { type: 'telegram' }>) {}
  get id() {
    return this.cfg.id;
  }
  async send(n: AlertNotice, signal: AbortSignal): Promise<void> {
    const token = secret(this.cfg.botTokenEnv, `telegram ${this.cfg.id}`);
    const answer = (await postJson(
      `${this.cfg.apiBase.replace(/\/$/, '')}/bot${token}/sendMessage`,
      { chat_id: this.cfg.chatId, text: n.text, disable_web_page_preview: true },
      {},
      signal,
    )) as { ok?: boolean; description?: string } | null;
    // The Bot API answers 200 {"ok": true, ...}; anything else is a refusal.
    if (!answer || answer.ok !== true) throw new ChannelError(`telegram refused: ${answer?.description ?? 'no ok'}`, false);
  }
  async close() {}
}

/**
 * Zalo Official Account "consultation" message (OA Open API v3:
 * POST /v3.0/oa/message/cs, header `access_token`, body {recipient:{user_id},
 * message:{text}}). The API answers HTTP 200 with {"error": 0} on success and a
 * non-zero `error` code otherwise (e.g. -216 invalid access token).
 */
class ZaloChannel implements AlertChannel {
  readonly type = 'zalo';
  constructor(private readonly cfg: Extract<AlertChannelSettings, { type: 'zalo' }>) {}
  get id() {
    return this.cfg.id;
  }
  async send(n: AlertNotice, signal: AbortSignal): Promise<void> {
    const token = secret(this.cfg.accessTokenEnv, `zalo ${this.cfg.id}`);
    for (const userId of this.cfg.userIds) {
      const answer = (await postJson(this.cfg.endpoint, { recipient: { user_id: userId }, message: { text: n.text.slice(0, 2000) } }, { access_token: token }, signal)) as {
        error?: number;
        message?: string;
      } | null;
      if (!answer || answer.error !== 0) {
        // -216/-124: token invalid or expired — the officer must renew it; retrying the same request cannot help.
        throw new ChannelError(`zalo error ${answer?.error ?? '?'}: ${answer?.message ?? ''}`, false);
      }
    }
  }
  async close() {}
}

class EmailChannel implements AlertChannel {
  readonly type = 'email';
  private transport: Transporter | null = null;
  constructor(private readonly cfg: Extract<AlertChannelSettings, { type: 'email' }>) {}
  get id() {
    return this.cfg.id;
  }
  private async transporter(): Promise<Transporter> {
    if (this.transport) return this.transport;
    // nodemailer is loaded only when an e-mail channel is configured.
    const nodemailer = (await import('nodemailer')).default;
    const pass = this.cfg.passwordEnv ? secret(this.cfg.passwordEnv, `email ${this.cfg.id}`) : undefined;
    this.transport = nodemailer.createTransport({
      host: this.cfg.host,
      port: this.cfg.port,
      secure: this.cfg.secure,
      requireTLS: this.cfg.requireTls,
      auth: this.cfg.user ? { user: this.cfg.user, pass: pass ?? '' } : undefined,
      tls: { rejectUnauthorized: this.cfg.rejectUnauthorized },
      connectionTimeout: this.cfg.timeoutMs,
      greetingTimeout: this.cfg.timeoutMs,
      socketTimeout: this.cfg.timeoutMs,
    });
    return this.transport;
  }
  async send(n: AlertNotice, signal: AbortSignal): Promise<void> {
    const t = await this.transporter();
    try {
      await Promise.race([
        t.sendMail({ from: this.cfg.from, to: this.cfg.to, subject: n.title, text: n.text, headers: { 'X-CE-Alert-Key': n.key, 'X-CE-Alert-Phase': n.phase } }),
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('timeout')), { once: true })),
      ]);
    } catch (err) {
      const e = err as Error & { responseCode?: number };
      // SMTP 5xx replies (RFC 5321 §4.2.1) are permanent: a wrong recipient or a refused sender.
      const permanent = typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode !== 554;
      throw new ChannelError(`smtp: ${e.message}`, !permanent);
    }
  }
  async close() {
    this.transport?.close();
    this.transport = null;
  }
}

export function createChannel(cfg: AlertChannelSettings): AlertChannel {
  switch (cfg.type) {
    case 'webhook':
      return new WebhookChannel(cfg);
    case 'telegram':
      return new TelegramChannel(cfg);
    case 'zalo':
      return new ZaloChannel(cfg);
    case 'email':
      return new EmailChannel(cfg);
  }
}
