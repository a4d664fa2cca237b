/**
 * The optional TLS and WebSocket listeners of the embedded broker: same
 * authentication, ACLs and pipeline as plain TCP.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, pw, removeDir, startTestGateway, type TestGateway } from './helpers/gateway.js';

let t: TestGateway;
let certDir: string;

beforeAll(async () => {
  certDir = mkdtempSync(join(tmpdir(), 'ce-tls-'));
  // A self-signed certificate for 127.0.0.1, made with the system's openssl.
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'),
  ], { stdio: 'ignore' });
  t = await startTestGateway((s) => ({
    ...s,
    mqtt: { ...s.mqtt, tls: { port: 0, certFile: join(certDir, 'cert.pem'), keyFile: join(certDir, 'key.pem') }, websocket: { port: 0 } },
  }));
});
afterAll(async () => {
  await t.close();
  removeDir(t.dir);
  removeDir(certDir);
});

function connectUrl(url: string, username: string, password: string, extra: mqtt.IClientOptions = {}) {
  const client = mqtt.connect(url, { username, password, reconnectPeriod: 0, ...extra });
  return new Promise<mqtt.MqttClient>((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

describe('TLS and WebSocket listeners', () => {
  it('accepts a device over MQTT/TLS with a certificate it trusts, and stores its reading', async () => {
    const c = await connectUrl(`mqtts://127.0.0.1:${t.gw.broker!.ports.tls}`, 'loa-01', pw('loa-01'), { ca: readFileSync(join(certDir, 'cert.pem')) });
    await publish(c, 'ce/loa-01/telemetry', JSON.stringify({ volume_pct: 61 }));
    expect((await t.get('/api/devices/loa-01')).json.lastReading.fields.volume_pct).toBe(61);
    c.end(true);
  });

  it('refuses a TLS client that does not trust the certificate (no plaintext fallback)', async () => {
    await expect(connectUrl(`mqtts://127.0.0.1:${t.gw.broker!.ports.tls}`, 'loa-01', pw('loa-01'))).rejects.toThrow(/self[- ]signed/i);
  });

  it('accepts MQTT over WebSocket with the same credentials and ACL', async () => {
    const c = await connectUrl(`ws://127.0.0.1:${t.gw.broker!.ports.ws}`, 'ups-01', pw('ups-01'));
    await publish(c, 'ce/ups-01/telemetry', JSON.stringify({ load_pct: 42 }));
    expect((await t.get('/api/devices/ups-01')).json.lastReading.fields.load_pct).toBe(42);
    c.end(true);
    await expect(connectUrl(`ws://127.0.0.1:${t.gw.broker!.ports.ws}`, 'ups-01', 'wrong')).rejects.toThrow(/username or password/i);
  });
});
