/**
 * Alerts: rules evaluated against the live device states, turned into notices,
 * kept in a durable outbox, delivered per channel with retries.
 *
 *   condition true ──delayS──▶ FIRING ──notice "fire"──▶ (every repeatS) "repeat"
 *        │ (cleared before delayS: nothing sent — a blip is not an alert)
 *   FIRING ──condition false──▶ notice "recover" (if a notice went out)
 *
 * De-duplication: one instance per rule and subject (`<rule>:<subject>`), kept in
 * SQLite (`alert_state`), so a restart neither re-sends a notice nor forgets an
 * open alert. Quiet hours hold warnings until the window ends (still firing →
 * sent then; cleared meanwhile → nothing at all); critical notices go out at once;
 * a recovery goes out whenever its first notice did. Every notice is written to `alert_outbox` (one row per
 * channel) in the same transaction that changes the instance, and a send loop
 * per channel drains it in order with jittered exponential backoff: a failed
 * send is retried from disk, across restarts; a refusal (4xx) is parked.
 */
import type Database from 'better-sqlite3';
import type { GatewayContext } from '../context.js';
import { Counter, Gauge } from 'prom-client';
import { ChannelError, createChannel, type AlertChannel, type AlertNotice } from './channels.js';
import type { AlertRule, AlertsSettings } from './settings.js';
import { localParts } from '../indicators/periods.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alert_state (
  key TEXT PRIMARY KEY,
  rule_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  since INTEGER NOT NULL,          -- condition true since
  fired_at INTEGER,                -- first notice (null: pending, within delay or held by quiet hours)
  last_notice_at INTEGER,
  acked_by TEXT,
  acked_at INTEGER
);
CREATE TABLE IF NOT EXISTS alert_outbox (
  id INTEGER PRIMARY KEY,
  channel_id TEXT NOT NULL,
  alert_key TEXT NOT NULL,
  phase TEXT NOT NULL,
  notice TEXT NOT NULL,            -- AlertNotice JSON
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  last_error TEXT,
  sent_at INTEGER,
  parked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alert_outbox_pending ON alert_outbox (channel_id, sent_at, parked, id);
`;

/** A condition that holds now, for one subject. */
interface Condition {
  key: string;
  rule: AlertRule;
  subject: AlertNotice['subject'];
  /** When it began, if known (the device's state `since`), else now. */
  since: number;
  /** Facts for the message. */
  detail: string;
}

interface StateRow {
  key: string;
  rule_id: string;
  subject: string;
  since: number;
  fired_at: number | null;
  last_notice_at: number | null;
  acked_by: string | null;
  acked_at: number | null;
}

export interface ActiveAlert {
  key: string;
  ruleId: string;
  severity: 'warning' | 'critical';
  subject: AlertNotice['subject'];
  since: number;
  firing: boolean;
  detail: string;
  ackedBy: string | null;
}

const KIND_VI: Record<string, string> = {
  loudspeaker: 'Cụm loa',
  camera: 'Camera',
  network: 'Thiết bị mạng',
  wifi_ap: 'Điểm Wi-Fi',
  soil_probe: 'Cảm biến độ ẩm đất',
  vconf: 'Thiết bị hội nghị truyền hình',
  power: 'Nguồn điện / UPS',
  irrigation: 'Bộ điều khiển tưới',
  office_pc: 'Máy tính',
};

export class AlertEngine {
  private ctx!: GatewayContext;
  private db!: Database.Database;
  private settings!: AlertsSettings;
  private channels = new Map<string, AlertChannel>();
  private timer: NodeJS.Timeout | null = null;
  private sendTimers = new Map<string, NodeJS.Timeout>();
  private sending = new Set<string>();
  private active = new Map<string, Condition>();
  private stopped = false;
  private readonly aborts = new Set<AbortController>();
  private metrics!: { notices: Counter<'channel' | 'result'>; outbox: Gauge; dropped: Counter };
  private onTransition = () => this.evaluate();
  /** `HH:MM dd/mm/yyyy` in the commune's zone (without ICU for fixed-offset zones: see localParts). */
  private readonly timeFmt: { format(t: number): string };
  /** `HH:MM` in the commune's zone, for quiet hours. */
  private readonly clockFmt: { format(t: number): string };

  constructor(private readonly tz = 'Asia/Ho_Chi_Minh') {
    const two = (n: number) => String(n).padStart(2, '0');
    this.timeFmt = {
      format: (t) => {
        const p = localParts(tz, t);
        return `${two(p.hour)}:${two(p.minute)} ${two(p.day)}/${two(p.month)}/${p.year}`;
      },
    };
    this.clockFmt = {
      format: (t) => {
        const p = localParts(tz, t);
        return `${two(p.hour)}:${two(p.minute)}`;
      },
    };
  }

  start(ctx: GatewayContext): void {
    this.ctx = ctx;
    this.settings = ctx.settings.alerts;
    this.db = ctx.store.database;
    this.db.exec(SCHEMA);
    this.metrics = {
      notices: new Counter({ name: 'ce_alert_notices_total', help: 'Alert notices by channel and result (sent, retry, parked)', labelNames: ['channel', 'result'] as const, registers: [ctx.metrics.registry] }),
      outbox: new Gauge({ name: 'ce_alert_outbox_notices', help: 'Alert notices waiting to be sent', registers: [ctx.metrics.registry], collect: () => undefined }),
      dropped: new Counter({ name: 'ce_alert_outbox_dropped_total', help: 'Unsent notices dropped because the outbox reached alerts.maxOutbox', registers: [ctx.metrics.registry] }),
    };
    for (const c of this.settings.channels) this.channels.set(c.id, createChannel(c));
    // No rules, nothing to evaluate: no timer, no listener (a Pi without alerts pays nothing);
    // notices left in the outbox by an earlier configuration are still sent below.
    if (this.settings.rules.length > 0) {
      ctx.health.on('transition', this.onTransition);
      this.timer = setInterval(() => this.evaluate(), this.settings.evaluateS * 1000);
      this.timer.unref();
    }
    this.evaluate();
    for (const id of this.channels.keys()) this.scheduleSend(id, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ctx?.health.off('transition', this.onTransition);
    if (this.timer) clearInterval(this.timer);
    for (const t of this.sendTimers.values()) clearTimeout(t);
    for (const a of this.aborts) a.abort();
    for (const c of this.channels.values()) await c.close().catch(() => undefined);
  }

  // ---------------------------------------------------------------------------
  // Conditions
  // ---------------------------------------------------------------------------

  private conditions(now: number): Condition[] {
    const { ctx } = this;
    const out: Condition[] = [];
    const inv = ctx.inventory;
    const hamletName = (id: string) => ctx.settings.hamlets.find((h) => h.id === id)?.name ?? id;
    const deviceSubject = (id: string): AlertNotice['subject'] => {
      const d = inv.devices.get(id)!;
      return { type: 'device', id, name: d.name, hamlet: hamletName(d.hamlet) };
    };
    for (const rule of this.settings.rules) {
      switch (rule.type) {
        case 'device-down':
          for (const s of ctx.health.all()) {
            if (s.state !== 'DOWN') continue;
            const d = inv.devices.get(s.deviceId);
            if (!d) continue;
            if (rule.kinds && !rule.kinds.includes(d.kind.id)) continue;
            if (rule.roles && (!d.role || !rule.roles.includes(d.role))) continue;
            if (rule.devices && !rule.devices.includes(d.id)) continue;
            out.push({ key: `${rule.id}:${d.id}`, rule, subject: deviceSubject(d.id), since: s.since, detail: s.reason });
          }
          break;
        case 'hamlet-loudspeakers-lost': {
          for (const h of ctx.settings.hamlets) {
            const speakers = [...inv.devices.values()].filter((d) => d.hamlet === h.id && d.kind.id === 'loudspeaker');
            if (speakers.length === 0) continue;
            const states = speakers.map((d) => ctx.health.get(d.id)!);
            // UNKNOWN is not "lost": the gateway cannot tell (it just started, or never heard them).
            if (!states.every((s) => s.state === 'DOWN')) continue;
            out.push({
              key: `${rule.id}:${h.id}`,
              rule,
              subject: { type: 'hamlet', id: h.id, name: h.name },
              since: Math.max(...states.map((s) => s.since)),
              detail: `${speakers.length}/${speakers.length}`,
            });
          }
          break;
        }
        case 'onestop-ioc-lost':
          for (const d of inv.devices.values()) {
            if (d.kind.id !== 'camera' || (d.role ?? d.kind.defaultRole) !== 'onestop') continue;
            const s = ctx.health.get(d.id);
            const link = s?.lastReading?.fields['ioc_link'];
            if (link !== false && s?.state !== 'DOWN') continue;
            out.push({ key: `${rule.id}:${d.id}`, rule, subject: deviceSubject(d.id), since: link === false ? (s?.lastReading?.ts ?? now) : s!.since, detail: link === false ? 'ioc-link-down' : 'camera-down' });
          }
          break;
        case 'spool-above': {
          const pct = (ctx.store.usedBytes() / ctx.settings.store.maxBytes) * 100;
          if (pct >= rule.thresholdPct) {
            out.push({ key: `${rule.id}:gateway`, rule, subject: { type: 'gateway', id: ctx.settings.gateway.id, name: `Gateway ${ctx.settings.gateway.id}` }, since: now, detail: pct.toFixed(1) });
          }
          break;
        }
        case 'gateway-on-battery': {
          const s = ctx.health.get(rule.device);
          const f = s?.lastReading?.fields;
          if (f && (f['on_battery'] === true || f['mains_ok'] === false)) {
            out.push({ key: `${rule.id}:${rule.device}`, rule, subject: deviceSubject(rule.device), since: s!.lastReading!.ts, detail: typeof f['battery_pct'] === 'number' ? String(f['battery_pct']) : '' });
          }
          break;
        }
      }
    }
    return out;
  }

  /** Evaluate all rules now (timer, and every state change). */
  evaluate(): void {
    if (this.stopped || !this.ctx) return;
    const now = this.ctx.clock.now();
    let current: Condition[];
    try {
      current = this.conditions(now);
    } catch (err) {
      this.ctx.log.error({ err: (err as Error).message }, 'alert evaluation failed');
      return;
    }
    const byKey = new Map(current.map((c) => [c.key, c]));
    const rows = new Map((this.db.prepare('SELECT * FROM alert_state').all() as StateRow[]).map((r) => [r.key, r]));
    const quiet = this.inQuietHours(now);
    const tx = this.db.transaction(() => {
      for (const c of current) {
        let row = rows.get(c.key);
        if (!row) {
          this.db.prepare('INSERT INTO alert_state (key, rule_id, subject, since) VALUES (?, ?, ?, ?)').run(c.key, c.rule.id, c.subject.id, c.since);
          row = { key: c.key, rule_id: c.rule.id, subject: c.subject.id, since: c.since, fired_at: null, last_notice_at: null, acked_by: null, acked_at: null };
        }
        const held = quiet && c.rule.severity !== 'critical';
        if (row.fired_at === null) {
          if (now - row.since >= c.rule.delayS * 1000 && !held) {
            this.enqueue(c, 'fire', row.since, now);
            this.db.prepare('UPDATE alert_state SET fired_at = ?, last_notice_at = ? WHERE key = ?').run(now, now, c.key);
          }
        } else if (c.rule.repeatS > 0 && row.acked_by === null && !held && now - (row.last_notice_at ?? row.fired_at) >= c.rule.repeatS * 1000) {
          this.enqueue(c, 'repeat', row.since, now);
          this.db.prepare('UPDATE alert_state SET last_notice_at = ? WHERE key = ?').run(now, c.key);
        }
      }
      for (const row of rows.values()) {
        if (byKey.has(row.key)) continue;
        const rule = this.settings.rules.find((r) => r.id === row.rule_id);
        // A notice went out (in this run or before a restart): say it is over. A warning
        // held by quiet hours and cleared meanwhile never went out, so nothing is said.
        const prior = this.active.get(row.key) ?? (rule ? this.conditionFromRow(rule, row) : undefined);
        if (row.fired_at !== null && rule?.recovery && prior) this.enqueue(prior, 'recover', row.since, now);
        this.db.prepare('DELETE FROM alert_state WHERE key = ?').run(row.key);
      }
    });
    tx();
    this.active = byKey;
  }

  /** The condition an alert of a previous run was about (its subject may no longer be in the inventory). */
  private conditionFromRow(rule: AlertRule, row: StateRow): Condition {
    const { ctx } = this;
    const hamlet = ctx.settings.hamlets.find((h) => h.id === row.subject);
    const device = ctx.inventory.devices.get(row.subject);
    const subject: AlertNotice['subject'] = device
      ? { type: 'device', id: device.id, name: device.name, hamlet: ctx.settings.hamlets.find((h) => h.id === device.hamlet)?.name ?? device.hamlet }
      : hamlet
        ? { type: 'hamlet', id: hamlet.id, name: hamlet.name }
        : { type: 'gateway', id: row.subject, name: `Gateway ${row.subject}` };
    return { key: row.key, rule, subject, since: row.since, detail: '' };
  }

  private inQuietHours(now: number): boolean {
    const q = this.settings.quietHours;
    if (!q) return false;
    const hhmm = this.clockFmt.format(now);
    return q.from <= q.to ? hhmm >= q.from && hhmm < q.to : hhmm >= q.from || hhmm < q.to;
  }

  // ---------------------------------------------------------------------------
  // Notices (Vietnamese) and the outbox
  // ---------------------------------------------------------------------------

  private duration(ms: number): string {
    const min = Math.max(0, Math.round(ms / 60_000));
    if (min < 60) return `${min} phút`;
    const h = Math.floor(min / 60);
    return min % 60 ? `${h} giờ ${min % 60} phút` : `${h} giờ`;
  }

  private notice(c: Condition, phase: AlertNotice['phase'], since: number, now: number): AlertNotice {
    const { settings } = this.ctx;
    const where = c.subject.hamlet ? ` (${c.subject.hamlet})` : '';
    const at = this.timeFmt.format(since);
    const device = c.subject.type === 'device' ? this.ctx.inventory.devices.get(c.subject.id) : undefined;
    const what = device ? `${KIND_VI[device.kind.id] ?? device.kind.label.vi} "${c.subject.name}"${where}` : c.subject.name;
    let headline: string;
    switch (c.rule.type) {
      case 'device-down':
        headline = `${what} mất kết nối từ ${at}`;
        break;
      case 'hamlet-loudspeakers-lost':
        headline = `${c.subject.name}: mất toàn bộ cụm loa (${c.detail}) từ ${at}`;
        break;
      case 'onestop-ioc-lost':
        headline = `${what} (bộ phận một cửa) mất kết nối về IOC tỉnh từ ${at}`;
        break;
      case 'spool-above':
        headline = `Bộ nhớ đệm của gateway đã dùng ${c.detail.replace('.', ',')} % (ngưỡng ${c.rule.thresholdPct} %): InfluxDB hoặc đường truyền có thể đang gián đoạn`;
        break;
      case 'gateway-on-battery':
        headline = `Mất điện lưới tại trụ sở: gateway đang chạy bằng UPS${c.detail ? ` (pin còn ${c.detail} %)` : ''} từ ${at}`;
        break;
    }
    const prefix = phase === 'recover' ? 'ĐÃ KHÔI PHỤC' : c.rule.severity === 'critical' ? 'KHẨN' : 'CẢNH BÁO';
    const lines =
      phase === 'recover'
        ? [`${headline} — đã hoạt động trở lại lúc ${this.timeFmt.format(now)}, gián đoạn ${this.duration(now - since)}.`]
        : [`${headline}${phase === 'repeat' ? ` (vẫn chưa khắc phục sau ${this.duration(now - since)})` : ''}.`];
    if (phase !== 'recover' && c.rule.type === 'device-down') lines.push(`Lý do: ${c.detail}.`);
    lines.push(`${settings.commune.name} — gateway ${settings.gateway.id}.`);
    return {
      key: c.key,
      ruleId: c.rule.id,
      ruleType: c.rule.type,
      severity: c.rule.severity,
      phase,
      subject: c.subject,
      since,
      ...(phase === 'recover' ? { clearedAt: now } : {}),
      title: `[${prefix}] ${settings.commune.name}: ${headline}`,
      text: `[${prefix}] ${lines.join('\n')}`,
      commune: { code: settings.commune.code, name: settings.commune.name },
      gatewayId: settings.gateway.id,
      createdAt: new Date(now).toISOString(),
    };
  }

  private enqueue(c: Condition, phase: AlertNotice['phase'], since: number, now: number): void {
    const n = this.notice(c, phase, since, now);
    const insert = this.db.prepare('INSERT INTO alert_outbox (channel_id, alert_key, phase, notice, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?)');
    for (const ch of c.rule.channels) insert.run(ch, n.key, phase, JSON.stringify(n), now, now);
    this.ctx.log.info({ alert: n.key, phase, channels: c.rule.channels }, n.title);
    const pending = (this.db.prepare('SELECT count(*) AS n FROM alert_outbox WHERE sent_at IS NULL AND parked = 0').get() as { n: number }).n;
    if (pending > this.settings.maxOutbox) {
      const drop = pending - this.settings.maxOutbox;
      this.db.prepare('DELETE FROM alert_outbox WHERE id IN (SELECT id FROM alert_outbox WHERE sent_at IS NULL AND parked = 0 ORDER BY id LIMIT ?)').run(drop);
      this.metrics.dropped.inc(drop);
      this.ctx.log.warn({ dropped: drop }, 'alert outbox full: oldest unsent notices dropped');
    }
    for (const ch of c.rule.channels) queueMicrotask(() => this.scheduleSend(ch, 0));
  }

  // ---------------------------------------------------------------------------
  // Delivery
  // ---------------------------------------------------------------------------

  private scheduleSend(channelId: string, delayMs: number): void {
    if (this.stopped || !this.channels.has(channelId)) return;
    const existing = this.sendTimers.get(channelId);
    if (existing) clearTimeout(existing);
    const t = setTimeout(() => void this.drain(channelId), Math.max(0, delayMs));
    t.unref();
    this.sendTimers.set(channelId, t);
  }

  /** Send the channel's pending notices in order; stop at the first retryable failure. */
  private async drain(channelId: string): Promise<void> {
    if (this.sending.has(channelId) || this.stopped) return;
    this.sending.add(channelId);
    const channel = this.channels.get(channelId)!;
    const cfg = this.settings.channels.find((c) => c.id === channelId)!;
    try {
      for (;;) {
        if (this.stopped) return;
        const row = this.db
          .prepare('SELECT id, notice, attempts, next_at FROM alert_outbox WHERE channel_id = ? AND sent_at IS NULL AND parked = 0 ORDER BY id LIMIT 1')
          .get(channelId) as { id: number; notice: string; attempts: number; next_at: number } | undefined;
        if (!row) return;
        const now = this.ctx.clock.now();
        if (row.next_at > now) return this.scheduleSend(channelId, row.next_at - now);
        const abort = new AbortController();
        this.aborts.add(abort);
        const timer = setTimeout(() => abort.abort(), cfg.timeoutMs);
        try {
          await channel.send(JSON.parse(row.notice) as AlertNotice, abort.signal);
          this.db.prepare('UPDATE alert_outbox SET sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?').run(this.ctx.clock.now(), row.id);
          this.metrics.notices.inc({ channel: channelId, result: 'sent' });
        } catch (err) {
          const e = err instanceof ChannelError ? err : new ChannelError((err as Error).message, true);
          if (!e.retryable) {
            this.db.prepare('UPDATE alert_outbox SET parked = 1, attempts = attempts + 1, last_error = ? WHERE id = ?').run(e.message, row.id);
            this.metrics.notices.inc({ channel: channelId, result: 'parked' });
            this.ctx.log.error({ channel: channelId, err: e.message }, 'alert notice refused by the channel; parked (fix the channel settings)');
            continue;
          }
          const attempts = row.attempts + 1;
          const base = Math.min(cfg.retryMaxMs, cfg.retryMinMs * 2 ** Math.min(attempts - 1, 20));
          const wait = Math.max(e.retryAfterMs ?? 0, base / 2 + Math.random() * (base / 2));
          this.db.prepare('UPDATE alert_outbox SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?').run(attempts, this.ctx.clock.now() + wait, e.message, row.id);
          this.metrics.notices.inc({ channel: channelId, result: 'retry' });
          this.ctx.log.warn({ channel: channelId, attempts, retryInMs: Math.round(wait), err: e.message }, 'alert notice not sent; will retry');
          return this.scheduleSend(channelId, wait);
        } finally {
          clearTimeout(timer);
          this.aborts.delete(abort);
        }
      }
    } finally {
      this.sending.delete(channelId);
      this.metrics.outbox.set((this.db.prepare('SELECT count(*) AS n FROM alert_outbox WHERE sent_at IS NULL AND parked = 0').get() as { n: number }).n);
    }
  }

  // ---------------------------------------------------------------------------
  // API
  // ---------------------------------------------------------------------------

  activeAlerts(): ActiveAlert[] {
    if (!this.ctx) return [];
    const rows = new Map((this.db.prepare('SELECT * FROM alert_state').all() as StateRow[]).map((r) => [r.key, r]));
    return [...this.active.values()].map((c) => {
      const r = rows.get(c.key);
      return {
        key: c.key,
        ruleId: c.rule.id,
        severity: c.rule.severity,
        subject: c.subject,
        since: r?.since ?? c.since,
        firing: r?.fired_at != null,
        detail: c.detail,
        ackedBy: r?.acked_by ?? null,
      };
    });
  }

  /** Acknowledge: stops the repeats of an open alert (the recovery notice still goes out). */
  acknowledge(key: string, by: string): boolean {
    const info = this.db.prepare('UPDATE alert_state SET acked_by = ?, acked_at = ? WHERE key = ?').run(by, this.ctx.clock.now(), key);
    return info.changes > 0;
  }

  outbox(limit = 100): { id: number; channel: string; key: string; phase: string; attempts: number; lastError: string | null; sentAt: number | null; parked: boolean; createdAt: number }[] {
    const rows = this.db.prepare('SELECT * FROM alert_outbox ORDER BY id DESC LIMIT ?').all(limit) as {
      id: number;
      channel_id: string;
      alert_key: string;
      phase: string;
      attempts: number;
      last_error: string | null;
      sent_at: number | null;
      parked: number;
      created_at: number;
    }[];
    return rows.map((r) => ({ id: r.id, channel: r.channel_id, key: r.alert_key, phase: r.phase, attempts: r.attempts, lastError: r.last_error, sentAt: r.sent_at, parked: r.parked === 1, createdAt: r.created_at }));
  }
}
