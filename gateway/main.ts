#!/usr/bin/env -S MALLOC_ARENA_MAX=1 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=2 --single-threaded --expose-gc
// The shebang caps V8's young generation at 2 MB per semi-space and glibc at one
// malloc arena, and exposes gc() for a full collection every 30 s (build.ts):
// together ~40 MB less resident memory on a Pi under a realistic load for under
// 1 % of a core (bench/ingest.ts, realistic scenario). `npm start` runs this file.
// --single-threaded: GC and JIT work on the main thread instead of V8's helper
// threads, whose hand-offs cost more than the work at a commune's load: 4.4-4.5 %
// of a core instead of 4.9-5.4 % (two runs each), for GC pauses of a few ms more;
// at full load it costs throughput (bench e2e 43.6k -> 38.6k points/s).
// Not --heap-growing-percent=20: ~5 MB less RSS at the realistic load, but at full
// load the frequent full collections halved end-to-end throughput (19.8k points/s,
// under the 30k target; 25.3k with 50).
// A fixed mmap threshold (glibc mallopt(3): setting it turns the dynamic one off)
// keeps every block of 128 KiB or more in its own mapping, given back on free:
// with the dynamic threshold, the first 16 MiB scrypt buffer of a device login
// raised it to 16 MiB and later ones stayed in the heap for good (+16 MB RSS after
// a reconnect storm).
/**
 * The `commune-edge` command line. Parses flags, loads settings, and hands over
 * to `buildGateway`; signals stop the gateway cleanly (store flushed).
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { buildGateway, VERSION } from './build.js';
import { hashPassword, hashToken, newToken } from './credentials.js';
import { createLogger } from './logger.js';
import { SystemdNotifier } from './watchdog.js';
import { buildDemoSettings, DEMO_PASSWORD } from './settings/demo.js';
import { formatProblems, parseSettingsYaml, validateSettings, type SettingsResult } from './settings/load.js';
import { SettingsSchema, type Settings } from './settings/schema.js';
import type { Simulation } from './simulate/runner.js';

/** The simulator pulls in mqtt.js; load it only for the demo and `simulate`. */
const simulator = () => import('./simulate/runner.js');

const ROOT = (() => {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const up of ['..', '../..']) if (existsSync(join(here, up, 'package.json'))) return join(here, up);
  return process.cwd();
})();
export const DEMO_CONFIG = join(ROOT, 'config', 'demo-commune.yaml');

const USAGE = `commune-edge ${VERSION} — IoT edge gateway for the digital infrastructure of a commune

Usage:
  commune-edge start [-c FILE] [--mqtt-port N] [--http-port N] [--data-dir DIR] [--no-simulate]
      Run the gateway. Without -c: the DEMO commune with simulated devices.
  commune-edge check-config FILE
      Validate a config; print every problem with its path, line and a hint.
  commune-edge simulate [-c FILE] [--url mqtt://HOST:PORT] [--passwords FILE] [--speed X]
                        [--fault TYPE:TARGET[@START_S][+DURATION_S]]... [--duration S]
      Drive the inventory as real MQTT clients (faults: silent, offline, power, flap, degrade).
  commune-edge simulate-peers [--opcua-port N] [--rtsp-port N] [--modbus-path PATH]
      Field-device simulators (OPC UA irrigation PLC, RTSP camera, RS-485 soil probes) for trying modbus:/opcua:/probes:.
  commune-edge indicators [-c FILE] [--data-dir DIR] [--period 2026-H1] [--json]
      The infrastructure indicators of a period (default: this month): Vietnamese table or JSON.
  commune-edge report --period 2026-H1 [--format xlsx|csv|pdf] [-o FILE] [-c FILE] [--data-dir DIR] [--lang vi|en]
      The half-year report of the culture-society office (Phòng VH-XH), with a progress bar.
  commune-edge ioc-receiver [--port N] [--data-dir DIR] ...
      The reference receiver of the province IOC feed (commune-edge ioc-receiver --help).
  commune-edge hash-password [PASSWORD]     scrypt hash for devices[].passwordHash (reads stdin if omitted)
  commune-edge hash-token                   a new API token and its hash for api.tokens[]
  commune-edge schema                       print the JSON Schema of the config
  commune-edge demo-config                  print the demo commune config (YAML)
`;

type Overrides = { mqttPort?: number; httpPort?: number; dataDir?: string };

function loadConfig(file: string | undefined, overrides: Overrides): { result: SettingsResult; file: string } {
  const path = file ?? DEMO_CONFIG;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { file: path, result: { ok: false, problems: [{ path: '(file)', message: `CE_CONFIG_UNREADABLE: ${(err as Error).message}` }] } };
  }
  const hasOverrides = overrides.mqttPort !== undefined || overrides.httpPort !== undefined || overrides.dataDir !== undefined;
  if (!hasOverrides) return { file: path, result: parseSettingsYaml(text) };
  // Flags override the file: apply them to the parsed document, then validate.
  const first = parseSettingsYaml(text);
  if (!first.ok) return { file: path, result: first };
  const raw = parseYaml(text) as Record<string, Record<string, unknown>>;
  if (overrides.mqttPort !== undefined) raw['mqtt'] = { ...(raw['mqtt'] ?? {}), port: overrides.mqttPort };
  if (overrides.httpPort !== undefined) raw['api'] = { ...(raw['api'] ?? {}), port: overrides.httpPort };
  if (overrides.dataDir !== undefined) raw['gateway'] = { ...(raw['gateway'] ?? {}), dataDir: overrides.dataDir };
  return { file: path, result: validateSettings(raw) };
}

function port(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`${flag}: "${v}" is not a port number`);
    process.exit(2);
  }
  return n;
}

async function cmdStart(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      'mqtt-port': { type: 'string' },
      'http-port': { type: 'string' },
      'data-dir': { type: 'string' },
      'no-simulate': { type: 'boolean' },
    },
  });
  const overrides: Overrides = {};
  const mp = port(values['mqtt-port'], '--mqtt-port');
  const hp = port(values['http-port'], '--http-port');
  if (mp !== undefined) overrides.mqttPort = mp;
  if (hp !== undefined) overrides.httpPort = hp;
  if (values['data-dir']) overrides.dataDir = values['data-dir'];
  const { result, file } = loadConfig(values.config, overrides);
  if (!result.ok) {
    console.error(formatProblems(file, result.problems));
    console.error(`\n${result.problems.length} problem(s) in ${file}; the gateway did not start (CE_CONFIG_INVALID).`);
    process.exit(1);
  }
  const settings = result.settings;
  const log = createLogger(settings.log.level);
  const demo = settings.gateway.demo;
  const extraTokens = [];
  let viewerToken: string | undefined;
  let officerToken: string | undefined;
  if (demo) {
    viewerToken = newToken();
    officerToken = newToken();
    extraTokens.push({ name: 'demo-viewer', role: 'viewer' as const, tokenHash: hashToken(viewerToken) });
    extraTokens.push({ name: 'demo-officer', role: 'officer' as const, tokenHash: hashToken(officerToken) });
  }
  const gw = await buildGateway(settings, { logger: log, extraTokens });
  // Fed only while group commits succeed: a commit failing with none succeeding since is a wedged store.
  let seen = { commits: 0, commitErrors: 0 };
  const notifier = new SystemdNotifier({
    log,
    healthy: () => {
      const now = { ...gw.ctx.store.stats };
      const ok = now.commitErrors === seen.commitErrors || now.commits > seen.commits;
      seen = { commits: now.commits, commitErrors: now.commitErrors };
      return ok;
    },
  });
  let simulation: Simulation | null = null;
  let stopping = false;
  const shutdown = async (reason: string, code: number) => {
    if (stopping) {
      log.warn('second signal: exiting without waiting');
      process.exit(code || 130);
    }
    stopping = true;
    notifier.stopping();
    try {
      await simulation?.stop();
      await gw.stop(reason);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'error while stopping');
      code = code || 1;
    }
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception; stopping');
    void shutdown('crash', 1);
  });
  try {
    await gw.start();
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'could not start (port in use? see --mqtt-port / --http-port)');
    await gw.stop('start-failed').catch(() => undefined);
    process.exit(1);
  }
  const ports = gw.ports();
  notifier.ready(`${gw.ctx.inventory.devices.size} devices; HTTP ${ports.http}, MQTT ${ports.mqtt ?? '-'}`);
  if (demo) {
    if (!values['no-simulate']) {
      const { demoScenario, Simulation } = await simulator();
      const scenario = demoScenario();
      simulation = new Simulation({
        settings,
        url: `mqtt://127.0.0.1:${ports.mqtt}`,
        password: DEMO_PASSWORD,
        faults: scenario.faults,
        repeatS: scenario.repeatS,
        log,
      });
      simulation.start();
    }
    const bar = '='.repeat(72);
    process.stdout.write(
      `\n${bar}\n DEMO commune "${settings.commune.name}": ${gw.ctx.inventory.devices.size} simulated devices in ${settings.hamlets.length} hamlets\n` +
        `   http://127.0.0.1:${ports.http}/                  (dashboard: log in with the viewer or officer token)\n` +
        `   http://127.0.0.1:${ports.http}/api/health        (no token)\n` +
        `   http://127.0.0.1:${ports.http}/docs              (API docs)\n` +
        `   viewer token:  ${viewerToken}\n` +
        `   officer token: ${officerToken}\n` +
        `   e.g. curl -H "Authorization: Bearer ${viewerToken}" http://127.0.0.1:${ports.http}/api/devices\n` +
        `   MQTT broker on port ${ports.mqtt}; demo device passwords are "demo-<device id>"\n${bar}\n\n`,
    );
  }
}

/** Settings for the commands that read the store of a (possibly running) gateway: -c FILE (default: the demo), --data-dir. */
function storeSettings(values: { config?: string | undefined; 'data-dir'?: string | undefined }): Settings {
  const { result, file } = loadConfig(values.config, values['data-dir'] ? { dataDir: values['data-dir'] } : {});
  if (!result.ok) {
    console.error(formatProblems(file, result.problems));
    process.exit(1);
  }
  return result.settings;
}

async function cmdIndicators(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, 'data-dir': { type: 'string' }, period: { type: 'string', short: 'p' }, json: { type: 'boolean' } },
  });
  const settings = storeSettings(values);
  const { runIndicatorsCommand } = await import('./indicators/cli.js');
  process.exitCode = await runIndicatorsCommand({ settings, periodId: values.period, format: values.json ? 'json' : 'table', out: process.stdout, err: process.stderr });
}

async function cmdReport(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      'data-dir': { type: 'string' },
      period: { type: 'string', short: 'p' },
      format: { type: 'string', short: 'f', default: 'xlsx' },
      out: { type: 'string', short: 'o' },
      lang: { type: 'string', default: 'vi' },
    },
  });
  if (!values.period) {
    console.error('report: --period is required, e.g. --period 2026-H1 (also 2026-H2, 2026, 2026-Q3, 2026-05, 2026-01-01..2026-03-31)');
    process.exit(2);
  }
  if (!['xlsx', 'csv', 'pdf'].includes(values.format)) {
    console.error(`report: --format must be xlsx, csv or pdf (got "${values.format}")`);
    process.exit(2);
  }
  if (values.lang !== 'vi' && values.lang !== 'en') {
    console.error(`report: --lang must be vi or en (got "${values.lang}")`);
    process.exit(2);
  }
  const settings = storeSettings(values);
  const [{ openIndicatorStore }, { reportComputer }, { runReportCommand }, { Inventory }] = await Promise.all([
    import('./indicators/cli.js'),
    import('./indicators/engine.js'),
    import('./report/cli.js'),
    import('./pipeline/inventory.js'),
  ]);
  let opened;
  try {
    opened = openIndicatorStore(settings, (t) => process.stderr.write(t));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
  try {
    // The store was rolled up when opened; the computation must not write beside a running gateway.
    const compute = reportComputer({ settings, store: opened.store, inventory: new Inventory(settings), rollup: false });
    const result = await runReportCommand({
      computeReport: (periodId, onProgress) => compute(periodId, onProgress),
      periodId: values.period,
      format: values.format as 'xlsx' | 'csv' | 'pdf',
      ...(values.out ? { outPath: values.out } : {}),
      stderrIsTTY: process.stderr.isTTY === true,
      lang: values.lang,
      inventory: { hamlets: settings.hamlets },
    });
    process.exitCode = result.exitCode;
  } finally {
    opened.close();
  }
}

function cmdCheckConfig(argv: string[]): void {
  const file = argv[0];
  if (!file) {
    console.error('usage: commune-edge check-config FILE');
    process.exit(2);
  }
  const { result } = loadConfig(file, {});
  if (!result.ok) {
    console.error(formatProblems(file, result.problems));
    console.error(`\n${result.problems.length} problem(s).`);
    process.exit(1);
  }
  const s = result.settings;
  console.log(`${file}: OK — ${s.commune.name} (${s.commune.code}), ${s.hamlets.length} hamlets, ${s.devices.length} devices, ${Object.keys(s.profiles).length} profiles`);
}

async function cmdSimulate(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      url: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
      passwords: { type: 'string' },
      speed: { type: 'string', default: '1' },
      fault: { type: 'string', multiple: true },
      duration: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const { result, file } = loadConfig(values.config, {});
  if (!result.ok) {
    console.error(formatProblems(file, result.problems));
    process.exit(1);
  }
  const settings: Settings = result.settings;
  let password: (u: string) => string = DEMO_PASSWORD;
  if (values.passwords) {
    const map = z.record(z.string(), z.string()).parse(parseYaml(readFileSync(values.passwords, 'utf8')));
    password = (u) => map[u] ?? '';
  } else if (!settings.gateway.demo) {
    console.error('--passwords FILE (YAML: username: password) is needed for a non-demo config');
    process.exit(2);
  }
  const log = createLogger(settings.log.level);
  const { parseFault, Simulation } = await simulator();
  let faults;
  try {
    faults = (values.fault ?? []).map(parseFault);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const sim = new Simulation({ settings, url: values.url!, password, speed: Number(values.speed), faults, log, seed: Number(values.seed ?? 1) });
  sim.start();
  log.info({ url: values.url, devices: settings.devices.length, faults }, 'simulating');
  const stop = async () => {
    await sim.stop();
    log.info(sim.stats, 'simulation stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  if (values.duration) setTimeout(() => void stop(), Number(values.duration) * 1000);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start':
      return cmdStart(rest);
    case 'check-config':
      return cmdCheckConfig(rest);
    case 'simulate':
      return cmdSimulate(rest);
    case 'hash-password': {
      const pw = rest[0] ?? (await readStdin());
      if (!pw) {
        console.error('empty password');
        process.exit(2);
      }
      console.log(hashPassword(pw));
      return;
    }
    case 'hash-token': {
      const token = newToken();
      console.log(`token:     ${token}\ntokenHash: ${hashToken(token)}`);
      return;
    }
    case 'schema':
      console.log(JSON.stringify(settingsJsonSchema(), null, 2));
      return;
    case 'indicators':
      return cmdIndicators(rest);
    case 'report':
      return cmdReport(rest);
    case 'simulate-peers':
      return (await import('./simulate/peers.js')).runSimulatePeers(rest);
    case 'ioc-receiver':
      return (await import('./uplink/receiver.js')).runIocReceiverCommand(rest);
    case 'demo-config': {
      const { values } = parseArgs({ args: rest, options: { 'influxdb-v2': { type: 'string' } } });
      process.stdout.write(demoConfigYaml(values['influxdb-v2']));
      return;
    }
    case '--version':
    case 'version':
      console.log(VERSION);
      return;
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      console.error(`unknown command "${cmd}"\n\n${USAGE}`);
      process.exit(2);
  }
}

/** config/schema.json: derived from the zod schema (the input side: defaults make keys optional). */
export function settingsJsonSchema(): unknown {
  return {
    ...(z.toJSONSchema(SettingsSchema, { io: 'input', unrepresentable: 'any' }) as object),
    $id: 'https://commune-edge.example/schema/config.json',
    title: 'commune-edge configuration',
  };
}

/**
 * The demo commune as YAML; with `influxdbV2Url`, plus a sink to that InfluxDB 2
 * (org "commune", bucket "commune-edge", token from CE_INFLUX_TOKEN): the config
 * docker-compose.yml runs (config/docker/demo-compose.yaml).
 */
export function demoConfigYaml(influxdbV2Url?: string): string {
  const settings = buildDemoSettings();
  const withSink = influxdbV2Url
    ? {
        ...settings,
        // Written to config/docker/, one level below config/schema.json.
        $schema: '../schema.json',
        sinks: [{ id: 'influxdb', type: 'influxdb-v2', url: influxdbV2Url, org: 'commune', bucket: 'commune-edge', tokenEnv: 'CE_INFLUX_TOKEN' }],
      }
    : settings;
  const cmd = influxdbV2Url ? `commune-edge demo-config --influxdb-v2 ${influxdbV2Url}` : 'commune-edge demo-config';
  return (
    `# The DEMO commune (generated by \`${cmd}\`; do not edit by hand).\n` +
    '# 19 hamlets and ~60 simulated devices. Every demo MQTT password is "demo-<username>".\n' +
    stringifyYaml(withSink, { lineWidth: 0 })
  );
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  });
}
