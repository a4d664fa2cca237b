/**
 * The optional MQTT uplink of live status against a real Mosquitto (Debian
 * package), configured as a province broker would be: TLS only (a throwaway CA,
 * openssl), no anonymous clients, a password file (mosquitto_passwd).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { IocFeed } from '../../gateway/uplink/feed.js';
import { metric, publish, startTestGateway } from '../helpers/gateway.js';
import { Cleanup, connectMqtt, freePort, Mosquitto, mosquittoBinary, removeDir, tempDir, waitFor } from './helpers.js';
import { feedSettings, IOC_ENV, makeCerts, type TestCerts } from './ioc-helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const USER = 'commune-12345';
const PASSWORD = 'uplink-secret-9876';

/** Mosquitto with a TLS listener and a password file, in its own temp dir. */
async function provinceBroker(): Promise<{ broker: Mosquitto; certs: TestCerts; url: string }> {
  const port = await freePort();
  const dir = tempDir('ioc-mosq');
  cleanup.add('broker dir', () => removeDir(dir));
  const certs = makeCerts(dir);
  const pwFile = join(dir, 'passwd');
  writeFileSync(pwFile, '');
  mosquittoBinary(); // a clear error when Mosquitto is not installed (mosquitto_passwd comes with it)
  execFileSync('mosquitto_passwd', ['-b', pwFile, USER, PASSWORD], { stdio: ['ignore', 'ignore', 'pipe'] });
  const broker = new Mosquitto(port, dir);
  const conf = [
    `listener ${port} 127.0.0.1`,
    `cafile ${certs.caFile}`,
    `certfile ${certs.certFile}`,
    `keyfile ${certs.keyFile}`,
    'allow_anonymous false',
    `password_file ${pwFile}`,
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
  ];
  if (process.getuid?.() === 0) conf.push('user root');
  writeFileSync(broker.confPath, conf.join('\n') + '\n');
  await broker.start();
  cleanup.add('broker', () => broker.stop());
  return { broker, certs, url: `mqtts://127.0.0.1:${port}` };
}

/** A province-side subscriber collecting the retained status of the commune. */
async function watch(url: string, certs: TestCerts): Promise<{ client: MqttClient; seen: Map<string, Record<string, unknown>> }> {
  const { readFileSync } = await import('node:fs');
  const client = await connectMqtt(url, { username: USER, password: PASSWORD, ca: readFileSync(certs.caFile), clientId: `watch-${Math.random()}` });
  cleanup.add('watcher', () => new Promise<void>((r) => client.end(true, {}, () => r())));
  const seen = new Map<string, Record<string, unknown>>();
  client.on('message', (topic, payload) => seen.set(topic, JSON.parse(payload.toString()) as Record<string, unknown>));
  await new Promise<void>((resolve, reject) => client.subscribe('ioc/75/12345/#', { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  return { client, seen };
}

describe('IOC MQTT uplink against Mosquitto (TLS, password)', () => {
  it('publishes every device retained, follows changes, republishes after a broker restart, says offline on stop', async () => {
    const { broker, certs, url } = await provinceBroker();
    const feed = new IocFeed({
      // The HTTPS feed points at a closed port here: only the uplink is under test.
      settings: feedSettings(`http://127.0.0.1:${await freePort()}/v1/messages`, {
        statusIntervalS: 3600,
        mqtt: { url, username: USER, passwordEnv: 'IOC_MQTT_PW', caFile: certs.caFile, reconnectMinMs: 100, reconnectMaxMs: 500 },
      }),
      env: { ...IOC_ENV, IOC_MQTT_PW: PASSWORD },
    });
    const tg = await startTestGateway();
    cleanup.add('gateway dir', () => removeDir(tg.dir));
    cleanup.add('gateway', () => tg.close());
    await feed.start(tg.gw.ctx);
    cleanup.add('feed', () => feed.stop());
    await waitFor('the uplink connected', () => feed.outboxStatus().mqtt?.connected, 15_000);

    const w = await watch(url, certs);
    await waitFor('every device retained', () => ['loa-01', 'loa-02', 'ups-01', 'cam-1', 'cam-2'].every((d) => w.seen.has(`ioc/75/12345/status/${d}`)), 10_000);
    expect(w.seen.get('ioc/75/12345/status/cam-1')).toMatchObject({ id: 'cam-1', kind: 'camera', role: 'onestop', hamlet: 'ap-01', state: 'UNKNOWN', reason: 'never-seen' });
    expect(w.seen.get('ioc/75/12345/gateway')).toMatchObject({ state: 'online', gatewayId: 'gw-test' });
    expect(w.seen.get('ioc/75/12345/summary')).toMatchObject({ total: 5, counts: { UNKNOWN: 5 } });

    // A device speaks: its state goes out at once.
    const loa = await tg.connect('loa-01');
    await publish(loa, 'ce/loa-01/telemetry', JSON.stringify({ supply_v: 12.5, amp_temp_c: 40, amp_ok: true, rsrp_dbm: -95 }));
    await waitFor('loa-01 UP on the broker', () => w.seen.get('ioc/75/12345/status/loa-01')?.['state'] === 'UP', 10_000);
    expect((w.seen.get('ioc/75/12345/status/loa-01')!['since'] as string).endsWith('+07:00')).toBe(true);
    await waitFor('the summary follows', () => (w.seen.get('ioc/75/12345/summary')?.['counts'] as Record<string, number>)?.['UP'] === 1, 10_000);

    // The broker restarts without persistence (retained messages lost): the uplink
    // reconnects and publishes everything again.
    const connectsBefore = feed.outboxStatus().mqtt!.connects;
    await broker.restart();
    await waitFor('the uplink reconnected', () => feed.outboxStatus().mqtt!.connects > connectsBefore && feed.outboxStatus().mqtt!.connected, 20_000);
    const w2 = await watch(url, certs);
    await waitFor('retained again after the restart', () => w2.seen.get('ioc/75/12345/status/loa-01')?.['state'] === 'UP' && w2.seen.size >= 7, 10_000);
    const m = await tg.get('/metrics', 'viewer');
    expect(metric(m.body, 'ce_ioc_mqtt_connected')).toBe(1);
    expect(metric(m.body, 'ce_ioc_mqtt_published_total')).toBeGreaterThanOrEqual(14);

    await feed.stop();
    await waitFor('offline announced', () => w2.seen.get('ioc/75/12345/gateway')?.['state'] === 'offline', 10_000);
  });

  it('a wrong password or an untrusted broker certificate: not connected, the reason shown, nothing crashes', async () => {
    const { url, certs } = await provinceBroker();
    const tg = await startTestGateway();
    cleanup.add('gateway dir', () => removeDir(tg.dir));
    cleanup.add('gateway', () => tg.close());
    const mk = (mqtt: Record<string, unknown>, pw: string) =>
      new IocFeed({
        settings: feedSettings(`http://127.0.0.1:1/v1/messages`, { statusIntervalS: 3600, mqtt: { url, username: USER, passwordEnv: 'PW', reconnectMinMs: 100, reconnectMaxMs: 300, ...mqtt } }),
        env: { ...IOC_ENV, PW: pw },
      });
    const badPw = mk({ caFile: certs.caFile }, 'wrong');
    await badPw.start(tg.gw.ctx);
    cleanup.add('feed bad password', () => badPw.stop());
    await waitFor('refused', () => badPw.outboxStatus().mqtt?.lastError, 10_000);
    expect(badPw.outboxStatus().mqtt).toMatchObject({ connected: false, connects: 0 });
    expect(badPw.outboxStatus().mqtt!.lastError).toMatch(/not authorized|bad user ?name or password/i);

    const badCa = mk({ caFile: certs.otherCaFile }, PASSWORD);
    // Same gateway registry: a second feed replaces the first one's metrics (tests only).
    await badCa.start(tg.gw.ctx);
    cleanup.add('feed bad CA', () => badCa.stop());
    await waitFor('TLS refused', () => badCa.outboxStatus().mqtt?.lastError, 10_000);
    expect(badCa.outboxStatus().mqtt!.lastError).toMatch(/certificate|self.signed|issuer/i);
    expect(badCa.outboxStatus().mqtt!.connected).toBe(false);
  });
});
