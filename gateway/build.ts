/**
 * `buildGateway(settings)`: the whole gateway as an object, separate from the CLI,
 * so tests boot the real thing in-process (fastify `inject()`, real MQTT clients
 * over loopback) and `main` only parses flags and handles signals.
 */
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AlertEngine } from './alerts/engine.js';
import { registerAlertRoutes } from './alerts/routes.js';
import { dashboardPlugin } from './api/dashboard.js';
import { historyPlugin } from './api/history.js';
import { livePlugin } from './api/live.js';
import { buildApi, type ApiPlugin } from './api/server.js';
import { ClockGuard } from './clock-guard.js';
import { systemClock, type Clock, type GatewayContext, type Source } from './context.js';
import { HealthTracker } from './health/tracker.js';
import { EmbeddedBroker } from './inputs/mqtt-embedded.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { Pipeline } from './pipeline/ingest.js';
import { Inventory } from './pipeline/inventory.js';
import type { ApiRole, Settings } from './settings/schema.js';
import { Store } from './store/store.js';
import type { Sink } from './sinks/contract.js';
import { Forwarder } from './sinks/forwarder.js';
import type { ProbeSourceOptions } from './probes/source.js';
import { reportComputer, type ComputeReportFn } from './indicators/engine.js';
import { scheduleRollup } from './indicators/rollup.js';
import { indicatorsApiPlugin } from './indicators/routes.js';
import { registerReportRoutes } from './report/routes.js';
import type { IocFeed } from './uplink/feed.js';
import { PointMapper } from './sinks/points.js';

export interface BuildOptions {
  logger?: Logger;
  clock?: Clock;
  /** Extra API tokens (already hashed), e.g. the demo's printed viewer token. */
  extraTokens?: { name: string; role: ApiRole; tokenHash: string }[];
  /** Periodic timers (health tick, heartbeat); tests may drive them by hand. */
  timers?: boolean;
  /** Extra API route modules (tests of parts not wired here yet). */
  apiPlugins?: ApiPlugin[];
  /**
   * Options of the probe scheduler, or `false` to leave it out even when `probes:`
   * is configured (scheduler tests start their own with test seams).
   */
  probes?: ProbeSourceOptions | false;
  /** Replaces the indicators engine behind the report routes and the IOC feed (tests with a fixed report). */
  computeReport?: ComputeReportFn;
}

export interface Gateway {
  ctx: GatewayContext;
  api: FastifyInstance;
  sources: Source[];
  /** The embedded broker, when mqtt.mode is embedded. */
  broker: EmbeddedBroker | null;
  /** One per configured sink (InfluxDB v1 / v2). */
  forwarders: Forwarder[];
  alerts: AlertEngine;
  /** The province IOC feed, when `ioc:` is configured. */
  iocFeed: IocFeed | null;
  /** Indicators of a period (`2026-H1`, ...), as the API, the report and the IOC feed compute them. */
  computeReport: ComputeReportFn;
  start(): Promise<void>;
  stop(reason?: string): Promise<void>;
  /** Bound ports after start (0 in settings = a free port). */
  ports(): { http: number; mqtt: number | undefined };
  /** One health tick and heartbeat, as the timers do. */
  tick(): void;
}

export const VERSION: string = (() => {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const up of ['..', '../..']) {
    try {
      const pkg = JSON.parse(readFileSync(join(here, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'commune-edge' && pkg.version) return pkg.version;
    } catch {
      // not at this level (source tree vs dist/)
    }
  }
  return '0.0.0';
})();

export async function buildGateway(settings: Settings, options: BuildOptions = {}): Promise<Gateway> {
  const log = options.logger ?? createLogger(settings.log.level);
  const clock = options.clock ?? systemClock;
  const metrics = createMetrics();
  const storePath = settings.store.path ?? resolve(settings.gateway.dataDir, 'commune-edge.db');
  const store = new Store({
    path: storePath,
    maxBytes: settings.store.maxBytes,
    commitIntervalMs: settings.store.commitIntervalMs,
    commitMaxRows: settings.store.commitMaxRows,
    durability: settings.store.durability,
    cacheKiB: settings.store.cacheKiB,
    rejectsKept: settings.store.rejectsKept,
    onEvict: (perKind, freedBytes) => {
      for (const [kind, n] of Object.entries(perKind)) metrics.evicted.inc({ kind }, n);
      log.warn({ code: 'CE_STORE_EVICTED', perKind, freedBytes, maxBytes: settings.store.maxBytes }, 'store full: oldest readings evicted');
    },
    onCommitError: (err) => {
      metrics.commitErrors.inc();
      log.error({ code: 'CE_STORE_WRITE', err: err.message }, 'store commit failed; nothing in it was acknowledged');
    },
  });
  store.onCommit(() => metrics.commitSeconds.observe(store.stats.lastCommitMs / 1000));
  for (const [kind, n] of Object.entries(store.evictionTotals())) metrics.evicted.inc({ kind }, n);

  const inventory = new Inventory(settings);
  const previous = store.lastRun();
  const clockGuard = new ClockGuard(clock, previous ? store.lastSignOfLife(previous) : null);
  if (clockGuard.holdover) {
    log.warn(
      { systemTime: new Date(clock.now()).toISOString(), lastKnownGood: new Date(clockGuard.status().lastKnownGood!).toISOString() },
      'system clock is behind the last known good time (no RTC, no NTP yet): keeping time from it and flagging timestamps',
    );
  }
  const startedAt = clockGuard.now();
  const runId = store.startRun(startedAt, VERSION);

  // health and pipeline need the context themselves: filled in right below.
  const ctx = { settings, log, metrics, store, inventory, clock: clockGuard, clockGuard, runId, version: VERSION } as unknown as GatewayContext;
  ctx.health = new HealthTracker(ctx);
  ctx.pipeline = new Pipeline(ctx);
  ctx.health.restore(previous, startedAt);
  if (previous && previous.stoppedAt === null) {
    log.warn(
      { previousRun: previous.runId, lastHeartbeat: new Date(previous.lastBeatAt).toISOString(), gapS: Math.round((startedAt - previous.lastBeatAt) / 1000) },
      'previous run ended without a clean stop (power cut or kill); the gap is recorded as UNKNOWN',
    );
  }
  ctx.health.on('transition', (t) => {
    const level = t.to === 'DOWN' ? 'warn' : 'info';
    log[level]({ device: t.deviceId, from: t.from, to: t.to, reason: t.reason }, 'device state changed');
  });

  const broker = settings.mqtt.mode === 'embedded' ? new EmbeddedBroker() : null;
  // The external-broker client (mqtt.js) is loaded only when configured: ~9 MB on a Pi.
  const sources: Source[] = broker ? [broker] : [new (await import('./inputs/mqtt-external.js')).ExternalBroker()];
  // Field transports, each loaded only when configured (serialport, node-opcua: test/footprint.test.ts).
  if (settings.modbus && settings.modbus.buses.length > 0) sources.push(new (await import('./inputs/modbus/source.js')).ModbusSource());
  if (settings.opcua && settings.opcua.servers.length > 0) sources.push(new (await import('./inputs/opcua/source.js')).OpcuaSource());
  // The probe scheduler is loaded only when probes: is configured; its SNMP probe (net-snmp) only when an snmp target exists.
  if (settings.probes && options.probes !== false) sources.push(new (await import('./probes/source.js')).ProbeSource(options.probes));

  const mapper = new PointMapper(settings, inventory);
  // The InfluxDB client libraries are loaded only when a sink of their type is
  // configured (test/footprint.test.ts): a commune without InfluxDB never loads them.
  const forwarders: Forwarder[] = [];
  for (const sinkSettings of settings.sinks) {
    const sink: Sink =
      sinkSettings.type === 'influxdb-v1'
        ? new (await import('./sinks/influx-v1.js')).InfluxV1Sink(sinkSettings)
        : new (await import('./sinks/influx-v2.js')).InfluxV2Sink(sinkSettings);
    forwarders.push(new Forwarder(ctx, sink, sinkSettings, mapper));
  }
  store.onCommit(() => {
    for (const f of forwarders) f.notify();
  });
  store.setUndeliveredFrom(() => (forwarders.length ? Math.min(...forwarders.map((f) => f.readingsCursor())) : null));

  const alerts = new AlertEngine(settings.commune.timezone);
  // The indicators engine, shared by the API, the half-year report and the IOC feed.
  const computeReport = options.computeReport ?? reportComputer({ settings, store, inventory, clock: clockGuard });
  // The IOC feed (envelope schemas, outbox, HTTP client) is loaded only when `ioc:` is configured.
  const iocFeed: IocFeed | null = settings.ioc
    ? new (await import('./uplink/feed.js')).IocFeed({ settings: settings.ioc, computeReport: (periodId) => computeReport(periodId) })
    : null;
  const iocRoutes = iocFeed ? (await import('./uplink/routes.js')).registerIocRoutes : null;
  const api = await buildApi({
    forwarders,
    ctx,
    sources,
    startedAt,
    extraTokens: options.extraTokens ?? [],
    demo: settings.gateway.demo,
    plugins: [
      (app) => registerAlertRoutes(app, alerts),
      indicatorsApiPlugin,
      (app) => registerReportRoutes(app, { computeReport, inventory: () => ({ hamlets: settings.hamlets }) }),
      ...(iocFeed && iocRoutes ? [(app: FastifyInstance) => iocRoutes(app, { feed: iocFeed })] : []),
      dashboardPlugin,
      livePlugin,
      historyPlugin,
      ...(options.apiPlugins ?? []),
    ],
  });

  const timers: NodeJS.Timeout[] = [];
  let lastBeat = 0;
  const tick = () => {
    const now = clockGuard.now();
    ctx.health.tick(now);
    if (now - lastBeat >= settings.gateway.heartbeatS * 1000) {
      lastBeat = now;
      store.recordBeat(runId, now);
      ctx.health.persistDirty();
    }
  };

  let stopped = false;
  let stopRollup: (() => void) | null = null;
  const ports = () => {
    const addr = api.server.address();
    return { http: typeof addr === 'object' && addr ? addr.port : settings.api.port, mqtt: broker?.ports.mqtt };
  };
  return {
    ctx,
    api,
    sources,
    broker,
    forwarders,
    alerts,
    iocFeed,
    computeReport,
    tick,
    async start() {
      store.recordBeat(runId, clockGuard.now());
      for (const s of sources) await s.start(ctx);
      for (const f of forwarders) f.start();
      if (iocFeed) await iocFeed.start(ctx);
      alerts.start(ctx);
      // Readings-based indicators (soil completeness, RSRP, mains) are rolled up every minute, so they survive spool eviction.
      if (options.timers !== false) stopRollup = scheduleRollup(ctx);
      await api.listen({ port: settings.api.port, host: settings.api.host });
      if (options.timers !== false) timers.push(setInterval(tick, 1000));
      // With --expose-gc (set in the shebang of main.ts), a full collection every
      // 30 s keeps the old generation near its live size instead of letting
      // garbage pile up to V8's growth limit: ~10 ms of CPU per run, tens of MB
      // of resident memory on a Pi (bench/ingest.ts, realistic scenario).
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc && options.timers !== false) timers.push(setInterval(gc, 30_000).unref());
      log.info(
        {
          commune: `${settings.commune.name} (${settings.commune.code})`,
          devices: inventory.devices.size,
          demo: settings.gateway.demo,
          ports: ports(),
          store: storePath,
        },
        settings.gateway.demo ? 'DEMO commune-edge gateway started (simulated devices)' : 'commune-edge gateway started',
      );
    },
    async stop(reason = 'stop') {
      if (stopped) return;
      stopped = true;
      for (const t of timers) clearInterval(t);
      await alerts.stop();
      // Inputs first so nothing new arrives, then drain the group commit.
      for (const s of sources) await s.stop().catch((err: Error) => log.warn({ err: err.message, source: s.name }, 'source stop failed'));
      await iocFeed?.stop().catch((err: Error) => log.warn({ err: err.message }, 'IOC feed stop failed'));
      stopRollup?.();
      await api.close();
      // The spool is on disk: forwarders stop after their write in flight.
      await Promise.all(forwarders.map((f) => f.stop()));
      // Readings still in the commit queue update health when they commit: let
      // them land first, then close every state as UNKNOWN.
      await store.flush();
      const now = clockGuard.now();
      ctx.health.stop(now);
      await store.flush();
      store.stopRun(runId, now, reason);
      await store.close();
      log.info({ reason }, 'gateway stopped; store flushed');
    },
    ports,
  };
}
