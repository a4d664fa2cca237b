/**
 * Deployment artefacts: docker-compose.yml, the Grafana provisioning and
 * dashboards, the systemd unit, the install script and the systemd watchdog.
 * Real tools where they run here: Debian's docker-compose (`config` needs no
 * engine), systemd-analyze, socat as the receiving end of $NOTIFY_SOCKET.
 * The InfluxQL of the dashboards runs against a real InfluxDB in
 * test/integration/grafana-queries.integration.test.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { measurementSchemas } from '../gateway/sinks/points.js';
import { SystemdNotifier } from '../gateway/watchdog.js';
import { until } from './helpers/gateway.js';

const ROOT = new URL('..', import.meta.url).pathname;
const GRAFANA = join(ROOT, 'dashboards/grafana');
const tmp: string[] = [];
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmp.push(d);
  return d;
}

interface Target {
  refId: string;
  query: string;
  datasource: { uid: string };
}
interface Panel {
  title: string;
  targets: Target[];
  datasource: { uid: string };
}
export function dashboards(): { file: string; json: { uid: string; title: string; panels: Panel[]; templating: { list: { query?: string }[] } } }[] {
  const dir = join(GRAFANA, 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ file: f, json: JSON.parse(readFileSync(join(dir, f), 'utf8')) }));
}

describe('docker-compose.yml', () => {
  it('passes `docker-compose config` (Debian docker-compose; no engine needed)', () => {
    const r = spawnSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config'], { encoding: 'utf8', cwd: ROOT });
    expect(r.error, 'docker-compose is installed by test/peers/ensure-peers.sh').toBeUndefined();
    expect(r.stderr).not.toMatch(/error|invalid/i);
    expect(r.status).toBe(0);
    const config = parseYaml(r.stdout) as { services: Record<string, { volumes?: unknown[]; command?: string[] }> };
    expect(Object.keys(config.services).sort()).toEqual(['gateway', 'grafana', 'influxdb']);
    // The gateway's config file and the mounted Grafana folders exist in the repository.
    const cmd = config.services['gateway']!.command!;
    const cfg = cmd[cmd.indexOf('-c') + 1]!;
    expect(existsSync(join(ROOT, cfg.replace('/app/', '')))).toBe(true);
    expect(JSON.stringify(config.services['grafana']!.volumes)).toContain('dashboards/grafana/provisioning');
  });
});

describe('Grafana provisioning and dashboards', () => {
  const ds = parseYaml(readFileSync(join(GRAFANA, 'provisioning/datasources/influxdb.yaml'), 'utf8')) as {
    datasources: { uid: string; type: string; jsonData: { version: string; dbName: string } }[];
  };
  const providers = parseYaml(readFileSync(join(GRAFANA, 'provisioning/dashboards/commune-edge.yaml'), 'utf8')) as {
    providers: { options: { path: string } }[];
  };

  it('provisions one InfluxQL data source on the bucket the compose sink writes', () => {
    expect(ds.datasources).toHaveLength(1);
    expect(ds.datasources[0]!.type).toBe('influxdb');
    expect(ds.datasources[0]!.jsonData.version).toBe('InfluxQL');
    const compose = readFileSync(join(ROOT, 'config/docker/demo-compose.yaml'), 'utf8');
    expect(compose).toContain(`bucket: ${ds.datasources[0]!.jsonData.dbName}`);
    expect(providers.providers[0]!.options.path).toBe('/var/lib/grafana/dashboards');
  });

  it('has the four dashboards the issue names, each with a unique uid', () => {
    const all = dashboards();
    expect(all.map((d) => d.file).sort()).toEqual(['availability.json', 'device-states.json', 'indicators.json', 'soil-moisture.json']);
    expect(new Set(all.map((d) => d.json.uid)).size).toBe(all.length);
  });

  it('queries only measurements, fields and tags the gateway writes, through the provisioned data source', () => {
    const schemas = new Map(measurementSchemas().map((m) => [m.measurement, m]));
    for (const { file, json } of dashboards()) {
      expect(json.panels.length, file).toBeGreaterThan(0);
      for (const p of json.panels) {
        expect(p.datasource.uid, `${file}: ${p.title}`).toBe(ds.datasources[0]!.uid);
        expect(p.targets.length, `${file}: ${p.title}`).toBeGreaterThan(0);
        for (const t of p.targets) {
          const from = [...t.query.matchAll(/FROM "([a-z_]+)"/g)].map((m) => m[1]!);
          expect(from.length, t.query).toBeGreaterThan(0);
          for (const m of from) {
            const schema = schemas.get(m);
            expect(schema, `${file}: unknown measurement ${m}`).toBeDefined();
            const fields = [...t.query.matchAll(/\b(?:last|mean|count|max|min|sum)\("([a-z_0-9]+)"\)/g)].map((x) => x[1]!);
            for (const f of fields) {
              // Outer queries over a subquery use its alias "s".
              if (f === 's') continue;
              expect(Object.keys(schema!.fields), `${file}: ${m} has no field ${f}`).toContain(f);
            }
            for (const tag of [...t.query.matchAll(/GROUP BY [^)]*?"([a-z_]+)"/g)].map((x) => x[1]!)) {
              expect([...schema!.tags, 'time'], `${file}: ${m} has no tag ${tag}`).toContain(tag);
            }
          }
        }
      }
    }
  });
});

describe('systemd unit and install script', () => {
  it('install.sh stages the documented layout (code, config, data, unit, journald) and keeps an existing config', () => {
    const root = tempDir('ce-install-');
    const run = () =>
      spawnSync('bash', [join(ROOT, 'config/systemd/install.sh'), '--root', root, '--no-systemctl', '--no-npm'], { encoding: 'utf8' });
    const first = run();
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('OK —');
    for (const p of [
      'opt/commune-edge/dist/gateway/main.js',
      'opt/commune-edge/package.json',
      'etc/commune-edge/config.yaml',
      'etc/commune-edge/env',
      'etc/systemd/system/commune-edge.service',
      'etc/systemd/journald.conf.d/commune-edge.conf',
    ]) {
      expect(existsSync(join(root, p)), p).toBe(true);
    }
    expect(statSync(join(root, 'var/lib/commune-edge')).isDirectory()).toBe(true);
    expect(statSync(join(root, 'etc/commune-edge/env')).mode & 0o777).toBe(0o600);
    // A second run (an upgrade) keeps the officer's config.
    writeFileSync(join(root, 'etc/commune-edge/config.yaml'), readFileSync(join(ROOT, 'config/demo-commune.yaml')));
    const second = run();
    expect(second.status).toBe(0);
    expect(readFileSync(join(root, 'etc/commune-edge/config.yaml'), 'utf8')).toContain('DEMO');
    expect(existsSync(join(root, 'opt/commune-edge.new'))).toBe(false);
  });

  it('the unit passes systemd-analyze verify (pointed at a staged install) with notify, watchdog and restart on failure', () => {
    const root = tempDir('ce-unit-');
    const staged = spawnSync('bash', [join(ROOT, 'config/systemd/install.sh'), '--root', root, '--no-systemctl', '--no-npm'], { encoding: 'utf8' });
    expect(staged.status).toBe(0);
    const unit = readFileSync(join(ROOT, 'config/systemd/commune-edge.service'), 'utf8');
    expect(unit).toMatch(/^Type=notify$/m);
    expect(unit).toMatch(/^WatchdogSec=\d+$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^User=commune-edge$/m);
    const dir = tempDir('ce-verify-');
    const file = join(dir, 'commune-edge.service');
    writeFileSync(file, unit.replaceAll('/opt/commune-edge', join(root, 'opt/commune-edge')));
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.stderr).not.toMatch(/Unknown|Failed|not executable|Invalid/);
    expect(r.status).toBe(0);
    // And verify does catch a broken unit (the check above can fail).
    writeFileSync(file, unit.replaceAll('/opt/commune-edge', '/nonexistent'));
    expect(spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' }).status).not.toBe(0);
  });
});

describe('systemd notify and watchdog (gateway/watchdog.ts)', () => {
  it('sends READY=1, feeds WATCHDOG=1 at half of WATCHDOG_USEC while healthy, stops feeding when not, and says STOPPING=1', async () => {
    const dir = tempDir('ce-notify-');
    const socket = join(dir, 'notify.sock');
    // The receiving end of $NOTIFY_SOCKET, as systemd has it: a unix datagram socket.
    const receiver = spawn('socat', ['-u', `UNIX-RECV:${socket}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let got = '';
    receiver.stdout.setEncoding('utf8').on('data', (d: string) => (got += d));
    try {
      await until(() => existsSync(socket), 5000, 'socat notify socket');
      let healthy = true;
      const notifier = new SystemdNotifier({
        log: pino({ level: 'silent' }),
        env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) },
        healthy: () => healthy,
      });
      expect(notifier.enabled).toBe(true);
      notifier.ready('test');
      await until(() => got.includes('READY=1') && (got.match(/WATCHDOG=1/g) ?? []).length >= 3, 5000, 'READY and 3 pings');
      expect(got).toContain(`MAINPID=${process.pid}`);
      healthy = false;
      await new Promise((r) => setTimeout(r, 150));
      const before = notifier.pings;
      await new Promise((r) => setTimeout(r, 400));
      expect(notifier.pings).toBe(before);
      notifier.stopping();
      await until(() => got.includes('STOPPING=1'), 5000, 'STOPPING');
    } finally {
      receiver.kill();
    }
  });

  it('is off without NOTIFY_SOCKET (not under systemd) and ignores a watchdog meant for another process', () => {
    const log = pino({ level: 'silent' });
    expect(new SystemdNotifier({ log, env: {}, healthy: () => true }).enabled).toBe(false);
    const other = new SystemdNotifier({ log, env: { NOTIFY_SOCKET: '/nonexistent', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '1' }, healthy: () => true });
    expect((other as unknown as { intervalMs: number | null }).intervalMs).toBeNull();
  });
});
