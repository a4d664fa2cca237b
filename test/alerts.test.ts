/**
 * Alerts end to end: the real gateway (buildGateway) with alert rules, and real
 * loopback peers for every channel — an SMTP server (`smtp-server`, the library
 * nodemailer's authors maintain) and HTTP servers that implement the documented
 * request shapes of Telegram's Bot API sendMessage, Zalo OA's message API and a
 * generic webhook (those services cannot be reached from here: contract tests).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SettingsInput } from '../gateway/settings/schema.js';
import { removeDir, startTestGateway, TOKENS, until, type TestGateway } from './helpers/gateway.js';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
}

/** A loopback HTTP peer; `answer` decides the response per request. */
async function httpPeer(answer: (r: Received) => { status: number; body: unknown }): Promise<{ url: string; got: Received[]; server: Server; answer: typeof answer }> {
  const got: Received[] = [];
  const peer = { url: '', got, server: null as unknown as Server, answer };
  peer.server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8').on('data', (d: string) => (raw += d));
    req.on('end', () => {
      const r: Received = { path: req.url ?? '', headers: req.headers, body: raw ? JSON.parse(raw) : null };
      const a = peer.answer(r);
      if (a.status < 300) got.push(r);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => peer.server.listen(0, '127.0.0.1', r));
  peer.url = `http://127.0.0.1:${(peer.server.address() as AddressInfo).port}`;
  return peer;
}

describe('alerts', () => {
  let smtp: SMTPServer;
  let smtpPort = 0;
  const mails: { from: string; to: string[]; raw: string }[] = [];
  let telegram: Awaited<ReturnType<typeof httpPeer>>;
  let zalo: Awaited<ReturnType<typeof httpPeer>>;
  let hook: Awaited<ReturnType<typeof httpPeer>>;
  const gateways: TestGateway[] = [];

  beforeAll(async () => {
    process.env['CE_TEST_TG_TOKEN'] = '123456:test-bot-token';
    process.env['CE_TEST_ZALO_TOKEN'] = 'zalo-oa-access-token';
    process.env['CE_TEST_SMTP_PW'] = 'smtp-secret';
    smtp = new SMTPServer({
      authOptional: false,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      onAuth(auth, _session, cb) {
        if (auth.username === 'canhbao' && auth.password === 'smtp-secret') return cb(null, { user: 'canhbao' });
        return cb(new Error('bad credentials'));
      },
      onData(stream, session, cb) {
        let raw = '';
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (raw += d));
        stream.on('end', () => {
          mails.push({ from: String(session.envelope.mailFrom && session.envelope.mailFrom.address), to: session.envelope.rcptTo.map((r) => r.address), raw });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    smtpPort = (smtp.server.address() as AddressInfo).port;
    telegram = await httpPeer(() => ({ status: 200, body: { ok: true, result: { message_id: 1 } } }));
    zalo = await httpPeer(() => ({ status: 200, body: { error: 0, message: 'Success', data: { message_id: 'x' } } }));
    hook = await httpPeer(() => ({ status: 200, body: { ok: true } }));
  });

  afterEach(async () => {
    while (gateways.length) {
      const g = gateways.pop()!;
      await g.close();
      removeDir(g.dir);
    }
    mails.length = 0;
    for (const p of [telegram, zalo, hook]) {
      p.got.length = 0;
      p.answer = p === telegram ? () => ({ status: 200, body: { ok: true } }) : p === zalo ? () => ({ status: 200, body: { error: 0 } }) : () => ({ status: 200, body: {} });
    }
  });

  afterAll(async () => {
    await new Promise<void>((r) => smtp.close(() => r()));
    for (const p of [telegram, zalo, hook]) await new Promise<void>((r) => p.server.close(() => r()));
  });

  function alertSettings(rules: NonNullable<SettingsInput['alerts']>['rules'], extra: Partial<NonNullable<SettingsInput['alerts']>> = {}) {
    return (s: SettingsInput): SettingsInput => ({
      ...s,
      alerts: {
        evaluateS: 1,
        channels: [
          { id: 'hook', type: 'webhook', url: `${hook.url}/alerts`, retryMinMs: 100, retryMaxMs: 400 },
          { id: 'tg', type: 'telegram', botTokenEnv: 'CE_TEST_TG_TOKEN', chatId: -1001234, apiBase: telegram.url, retryMinMs: 100, retryMaxMs: 400 },
          { id: 'zalo', type: 'zalo', accessTokenEnv: 'CE_TEST_ZALO_TOKEN', userIds: ['84901234567'], endpoint: `${zalo.url}/v3.0/oa/message/cs`, retryMinMs: 100, retryMaxMs: 400 },
          { id: 'mail', type: 'email', host: '127.0.0.1', port: smtpPort, user: 'canhbao', passwordEnv: 'CE_TEST_SMTP_PW', from: 'Gateway xã <canhbao@xa.gov.vn>', to: ['it@xa.gov.vn'], retryMinMs: 100, retryMaxMs: 400 },
        ],
        rules,
        ...extra,
      },
    });
  }

  async function boot(rules: Parameters<typeof alertSettings>[0], extra: Parameters<typeof alertSettings>[1] = {}, dir?: string) {
    const g = await startTestGateway(alertSettings(rules, extra), {}, dir);
    gateways.push(g);
    return g;
  }

  it('a device DOWN reaches every channel once, in Vietnamese and in each documented request shape; its recovery once too', async () => {
    const g = await boot([{ id: 'ups-down', type: 'device-down', devices: ['ups-01'], delayS: 0, channels: ['hook', 'tg', 'zalo', 'mail'], severity: 'critical' }]);
    const now = g.gw.ctx.clock.now();
    g.gw.ctx.health.observeStatus('ups-01', false, now);
    await until(() => hook.got.length >= 1 && telegram.got.length >= 1 && zalo.got.length >= 1 && mails.length >= 1, 10_000, 'fire on 4 channels');

    // Telegram Bot API: POST /bot<token>/sendMessage {chat_id, text}.
    expect(telegram.got[0]!.path).toBe('/bot123456:test-bot-token/sendMessage');
    expect(telegram.got[0]!.body.chat_id).toBe(-1001234);
    expect(telegram.got[0]!.body.text).toMatch(/^\[KHẨN\] Nguồn điện \/ UPS "UPS" \(Ấp 1\) mất kết nối từ /);
    // Zalo OA v3: access_token header, recipient.user_id, message.text.
    expect(zalo.got[0]!.path).toBe('/v3.0/oa/message/cs');
    expect(zalo.got[0]!.headers['access_token']).toBe('zalo-oa-access-token');
    expect(zalo.got[0]!.body).toEqual({ recipient: { user_id: '84901234567' }, message: { text: expect.stringContaining('mất kết nối') } });
    // Webhook: the structured notice.
    expect(hook.got[0]!.body).toMatchObject({ schema: 'commune-edge/alert/v1', key: 'ups-down:ups-01', phase: 'fire', severity: 'critical', subject: { type: 'device', id: 'ups-01' } });
    expect(hook.got[0]!.headers['idempotency-key']).toContain('ups-down:ups-01:fire');
    // E-mail: authenticated, UTF-8 subject with the commune's name.
    expect(mails[0]!.to).toEqual(['it@xa.gov.vn']);
    expect(mails[0]!.raw).toMatch(/X-CE-Alert-Key: ups-down:ups-01/i);
    expect(mails[0]!.raw).toMatch(/Subject: =\?UTF-8\?/);

    // Still down over several evaluations: no second notice (de-duplication).
    await new Promise((r) => setTimeout(r, 2500));
    expect(hook.got.map((r) => r.body.phase)).toEqual(['fire']);
    const open = await g.get('/api/alerts');
    expect(open.json.alerts).toEqual([expect.objectContaining({ key: 'ups-down:ups-01', firing: true, severity: 'critical' })]);

    g.gw.ctx.health.observeStatus('ups-01', true, g.gw.ctx.clock.now());
    await until(() => hook.got.length === 2 && telegram.got.length === 2 && zalo.got.length === 2 && mails.length === 2, 10_000, 'recovery on 4 channels');
    expect(hook.got[1]!.body.phase).toBe('recover');
    expect(telegram.got[1]!.body.text).toMatch(/^\[ĐÃ KHÔI PHỤC\].*đã hoạt động trở lại lúc .*gián đoạn \d+ phút/s);
    expect((await g.get('/api/alerts')).json.alerts).toEqual([]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(hook.got).toHaveLength(2);
  });

  it('a blip shorter than the delay sends nothing; a repeat goes out while it lasts, until acknowledged', async () => {
    const g = await boot([
      { id: 'slow', type: 'device-down', devices: ['loa-01'], delayS: 30, channels: ['hook'] },
      { id: 'rep', type: 'device-down', devices: ['loa-02'], delayS: 0, repeatS: 1, channels: ['hook'] },
    ]);
    const h = g.gw.ctx.health;
    h.observeStatus('loa-01', false, g.gw.ctx.clock.now());
    h.observeStatus('loa-02', false, g.gw.ctx.clock.now());
    await until(() => hook.got.filter((r) => r.body.key === 'rep:loa-02').length >= 3, 10_000, 'fire + 2 repeats');
    expect(hook.got.filter((r) => r.body.key === 'rep:loa-02').map((r) => r.body.phase).slice(0, 3)).toEqual(['fire', 'repeat', 'repeat']);
    expect(hook.got.find((r) => r.body.text.includes('vẫn chưa khắc phục'))).toBeDefined();
    h.observeStatus('loa-01', true, g.gw.ctx.clock.now());
    // A viewer cannot acknowledge; an officer can, and the repeats stop.
    const viewer = await g.gw.api.inject({ method: 'POST', url: '/api/alerts/rep:loa-02/ack', headers: { authorization: `Bearer ${TOKENS.viewer}` } });
    expect(viewer.statusCode).toBe(403);
    const officer = await g.gw.api.inject({ method: 'POST', url: '/api/alerts/rep:loa-02/ack', headers: { authorization: `Bearer ${TOKENS.officer}` } });
    expect(officer.statusCode).toBe(200);
    expect(officer.json()).toEqual({ key: 'rep:loa-02', ackedBy: 'officer' });
    await new Promise((r) => setTimeout(r, 300));
    const after = hook.got.length;
    await new Promise((r) => setTimeout(r, 2200));
    expect(hook.got.length).toBe(after);
    expect(hook.got.some((r) => r.body.key.startsWith('slow:'))).toBe(false);
  });

  it('a hamlet that loses all its loudspeakers is one alert for the hamlet', async () => {
    const g = await boot([{ id: 'loa-hamlet', type: 'hamlet-loudspeakers-lost', delayS: 0, channels: ['hook'] }]);
    g.gw.ctx.health.observeStatus('loa-01', false, g.gw.ctx.clock.now());
    await until(() => hook.got.length >= 1, 10_000, 'hamlet alert');
    expect(hook.got[0]!.body).toMatchObject({ key: 'loa-hamlet:ap-01', subject: { type: 'hamlet', id: 'ap-01', name: 'Ấp 1' } });
    expect(hook.got[0]!.body.text).toContain('Ấp 1: mất toàn bộ cụm loa (1/1)');
  });

  it('a failed send is retried from the store: 503s with backoff, and across a gateway restart', async () => {
    let calls = 0;
    hook.answer = () => (++calls <= 2 ? { status: 503, body: { error: 'busy' } } : { status: 200, body: {} });
    const g = await boot([{ id: 'down', type: 'device-down', devices: ['ups-01'], delayS: 0, channels: ['hook'] }]);
    g.gw.ctx.health.observeStatus('ups-01', false, g.gw.ctx.clock.now());
    await until(() => hook.got.length === 1, 10_000, 'delivered after two 503s');
    expect(calls).toBe(3);
    // The peer records the request before it answers: wait until the gateway has the 200 and marked the notice sent.
    await until(async () => (await g.get('/api/alerts/outbox', 'officer')).json.notices[0]?.sentAt != null, 10_000, 'notice marked sent');
    const outbox = await g.get('/api/alerts/outbox', 'officer');
    expect(outbox.json.notices[0]).toMatchObject({ channel: 'hook', phase: 'fire', attempts: 3, lastError: null, parked: false });
    expect(outbox.json.notices[0].sentAt).not.toBeNull();

    // Now the receiver is unreachable while the device recovers, and the gateway restarts.
    hook.answer = () => ({ status: 503, body: {} });
    g.gw.ctx.health.observeStatus('ups-01', true, g.gw.ctx.clock.now());
    await until(async () => (await g.get('/api/alerts/outbox', 'officer')).json.notices.some((n: any) => n.phase === 'recover' && n.attempts >= 1), 10_000, 'recover attempted');
    const dir = g.dir;
    gateways.pop();
    await g.close();
    hook.answer = () => ({ status: 200, body: {} });
    await boot([{ id: 'down', type: 'device-down', devices: ['ups-01'], delayS: 0, channels: ['hook'] }], {}, dir);
    await until(() => hook.got.some((r) => r.body.phase === 'recover'), 10_000, 'recovery delivered by the next run');
    expect(hook.got.map((r) => r.body.phase)).toEqual(['fire', 'recover']);
  });

  it('a channel that refuses (Zalo error -216, expired token) parks the notice; the other channels deliver', async () => {
    zalo.answer = () => ({ status: 200, body: { error: -216, message: 'Access token is invalid' } });
    const g = await boot([{ id: 'down', type: 'device-down', devices: ['ups-01'], delayS: 0, channels: ['zalo', 'hook'] }]);
    g.gw.ctx.health.observeStatus('ups-01', false, g.gw.ctx.clock.now());
    await until(() => hook.got.length === 1, 10_000, 'webhook delivered');
    const parked = await until(async () => (await g.get('/api/alerts/outbox', 'officer')).json.notices.find((n: any) => n.channel === 'zalo' && n.parked), 10_000, 'zalo parked');
    expect(parked.lastError).toContain('-216');
    const metrics = (await g.get('/metrics')).body;
    expect(metrics).toMatch(/ce_alert_notices_total\{channel="zalo",result="parked"\} 1/);
  });

  it('quiet hours hold a warning until they end but let a critical notice through', async () => {
    // 23:30 in Asia/Ho_Chi_Minh (UTC+7) = 16:30 UTC.
    let now = Date.parse('2026-11-20T16:30:00Z');
    const clock = { now: () => now };
    const g = await startTestGateway(
      alertSettings(
        [
          { id: 'warn', type: 'device-down', devices: ['loa-01'], delayS: 0, channels: ['hook'] },
          { id: 'crit', type: 'device-down', devices: ['ups-01'], delayS: 0, channels: ['hook'], severity: 'critical' },
        ],
        { quietHours: { from: '22:00', to: '06:00' } },
      ),
      { clock },
    );
    gateways.push(g);
    g.gw.ctx.health.observeStatus('loa-01', false, now);
    g.gw.ctx.health.observeStatus('ups-01', false, now);
    await until(() => hook.got.length >= 1, 10_000, 'critical sent');
    await new Promise((r) => setTimeout(r, 1500));
    expect(hook.got.map((r) => r.body.key)).toEqual(['crit:ups-01']);
    // 06:01 commune time: the warning that still holds goes out.
    now = Date.parse('2026-11-20T23:01:00Z');
    g.gw.alerts.evaluate();
    await until(() => hook.got.length >= 2, 10_000, 'warning after quiet hours');
    expect(hook.got[1]!.body.key).toBe('warn:loa-01');
  });

  it('rejects alert settings that name unknown channels or devices, with hints', async () => {
    const { validateSettings } = await import('../gateway/settings/load.js');
    const { testSettingsInput } = await import('./helpers/gateway.js');
    const input = alertSettings([
      { id: 'x', type: 'device-down', devices: ['upss-01'], channels: ['hok'] },
      { id: 'y', type: 'gateway-on-battery', device: 'loa-01', channels: ['hook'] },
    ])(testSettingsInput('/tmp/unused'));
    const r = validateSettings(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const msgs = r.problems.map((p) => `${p.path}: ${p.message}`);
    expect(msgs).toContainEqual(expect.stringMatching(/alerts\.rules\[0\]\.channels\[0\]: unknown channel "hok"; did you mean "hook"\?/));
    expect(msgs).toContainEqual(expect.stringMatching(/alerts\.rules\[0\]\.devices\[0\]: unknown device "upss-01"; did you mean "ups-01"\?/));
    expect(msgs).toContainEqual(expect.stringMatching(/alerts\.rules\[1\]\.device: device "loa-01" is a loudspeaker; expected power/));
  });
});
