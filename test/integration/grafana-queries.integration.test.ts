/**
 * Every InfluxQL query of the Grafana dashboards (dashboards/grafana/dashboards)
 * runs against a real InfluxDB (Debian's influxd 1.6, the same InfluxQL the
 * compose stack's InfluxDB 2 serves through its v1 API) filled by the real
 * gateway with the demo commune's simulated devices, and returns rows.
 *
 * Grafana's macros are expanded as Grafana does: $timeFilter → a time range,
 * $__interval → an interval, $hamlet (multi-value, All = ".*") → the regex.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../../gateway/build.js';
import { buildDemoSettings, DEMO_PASSWORD } from '../../gateway/settings/demo.js';
import { settingsFrom } from '../../gateway/settings/load.js';
import { Simulation } from '../../gateway/simulate/runner.js';
import { Cleanup, ROOT, tempDir, waitFor } from './helpers.js';
import { startInfluxV1, type InfluxV1 } from './influx.js';

interface Target {
  refId: string;
  query: string;
}
const dashboards = readdirSync(join(ROOT, 'dashboards/grafana/dashboards'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({
    file: f,
    json: JSON.parse(readFileSync(join(ROOT, 'dashboards/grafana/dashboards', f), 'utf8')) as {
      panels: { title: string; targets: Target[] }[];
      templating: { list: { name: string; query?: string }[] };
    },
  }));

function expand(q: string): string {
  return q.replaceAll('$timeFilter', 'time > now() - 1h').replaceAll('$__interval', '10s').replaceAll('$hamlet', '.*');
}

describe('Grafana dashboards against InfluxDB with demo data', () => {
  const cleanup = new Cleanup();
  let influx: InfluxV1;
  let gw: Gateway;
  let sim: Simulation;
  const db = 'commune-edge';

  beforeAll(async () => {
    influx = await startInfluxV1(cleanup);
    const demo = buildDemoSettings();
    const settings = settingsFrom({
      ...demo,
      gateway: { ...demo.gateway, dataDir: tempDir('ce-grafana-') },
      log: { level: 'silent' },
      mqtt: { ...demo.mqtt, host: '127.0.0.1', port: 0 },
      api: { ...demo.api, host: '127.0.0.1', port: 0, docs: false },
      store: { commitIntervalMs: 10 },
      sinks: [{ id: 'influx', type: 'influxdb-v1', url: influx.url, database: db, forwarding: { batchAgeMs: 200, retryMinMs: 100, retryMaxMs: 1000 } }],
    });
    gw = await buildGateway(settings, { logger: pino({ level: 'silent' }) });
    await gw.start();
    cleanup.add('gateway', () => gw.stop('test'));
    // 60× time compression: a minute of simulation is an hour of demo traffic, with
    // faults early so there are DOWN transitions, flapping lines and low batteries.
    sim = new Simulation({
      settings,
      url: `mqtt://127.0.0.1:${gw.ports().mqtt}`,
      password: DEMO_PASSWORD,
      speed: 60,
      faults: [
        { type: 'flap', target: 'wan-viettel', atS: 0, forS: 20 },
        { type: 'silent', target: 'cam-anninh-3', atS: 0, forS: 20 },
        { type: 'power', target: 'ap-07', atS: 1, forS: 20 },
      ],
      log: pino({ level: 'silent' }),
    });
    sim.start();
    cleanup.add('simulation', () => sim.stop());
    // Data in every measurement the dashboards read, down states included, and for every panel query
    // (a one-stop-shop camera's first reading can come a little after the others).
    await waitFor(
      'demo data in InfluxDB',
      async () => {
        for (const { json } of dashboards) {
          for (const panel of json.panels) {
            for (const t of panel.targets) {
              const rows = (await influx.query(expand(t.query), db).catch(() => [])).flatMap((r) => r.series ?? []);
              if (rows.length === 0) return false;
            }
          }
        }
        const need = ['device_state', 'soil_probe', 'loudspeaker', 'camera', 'network', 'power', 'gateway_heartbeat'];
        for (const m of need) {
          const rows = await influx.rows(`SELECT count(*) FROM "${m}"`, db).catch(() => []);
          if (rows.length === 0) return false;
        }
        const down = await influx.rows(`SELECT count("state_code") FROM "device_state" WHERE "state" = 'DOWN'`, db).catch(() => []);
        return down.length > 0;
      },
      90_000,
      500,
    );
  }, 150_000);

  afterAll(() => cleanup.run());

  it('found the four dashboards', () => {
    expect(dashboards.map((d) => d.file).sort()).toEqual(['availability.json', 'device-states.json', 'indicators.json', 'soil-moisture.json']);
  });

  for (const { file, json } of dashboards) {
    it(`${file}: every panel query returns rows`, async () => {
      for (const panel of json.panels) {
        for (const t of panel.targets) {
          const results = await influx.query(expand(t.query), db);
          const err = results.find((r) => r.error)?.error;
          expect(err, `${file} / ${panel.title} / ${t.refId}: ${t.query}`).toBeUndefined();
          const values = results.flatMap((r) => r.series ?? []).flatMap((s) => s.values ?? []);
          expect(values.length, `${file} / ${panel.title} / ${t.refId} returned no rows: ${expand(t.query)}`).toBeGreaterThan(0);
        }
      }
    });
    it(`${file}: template variables resolve to the demo hamlets`, async () => {
      for (const v of json.templating.list) {
        if (!v.query) continue;
        const values = (await influx.query(v.query, db)).flatMap((r) => r.series ?? []).flatMap((s) => s.values ?? []);
        expect(values.map((row) => row[1])).toEqual(expect.arrayContaining(['ap-01', 'ap-19']));
      }
    });
  }
});
