/**
 * OPC UA client transport: subscribe to the tags of irrigation PLCs (Siemens
 * S7-1200/1500, Delta, Mitsubishi ...) and feed them to the pipeline as canonical
 * fields of inventory devices.
 *
 * The only gateway module that imports node-opcua (with the simulator): it costs
 * tens of MB, so gateway/build.ts loads it with `await import()` only when `opcua`
 * is configured.
 *
 * Per server: one client, one session, one subscription (OPC UA Part 4 §5.13), one
 * monitored item per configured node (§5.12). Data changes of one publish response
 * are coalesced into one submission per device (./mapping.ts).
 *
 * Reconnection is ours, not node-opcua's: node-opcua's built-in reconnection
 * (session reactivation, TransferSubscriptions) has its own fixed backoff and, when
 * the PLC restarted and lost the session, must fall back to re-creating everything
 * anyway. So every failure or loss tears the client down and, after a jittered
 * exponential delay, a new client creates session, subscription and monitored items
 * again: one path, the same after a PLC reboot, a cable pulled or wrong credentials.
 * A session that stops delivering publish responses (keep-alives, Part 4 §5.13.1.1)
 * is declared lost by a watchdog even when the TCP socket looks open.
 *
 * Subscriptions report only changes, so a steady pump would look silent to the
 * health tracker: while the session is alive, each device's latest values are sent
 * again with `plc_online: true` every heartbeat interval. When the session is lost
 * its devices get `plc_online: false` (DOWN, plc-offline).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { format } from 'node:util';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import {
  AttributeIds,
  ClientMonitoredItemGroup,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  UserTokenType,
  setDebugLogger,
  setErrorLogger,
  setWarningLogger,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type UserIdentityInfo,
} from 'node-opcua-client';
import { Counter, Gauge } from 'prom-client';
import type { GatewayContext, Source, SourceStatus } from '../../context.js';
import { CodedError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { classifyOpcuaError, ItemTable, severity, statusName, type DeviceUpdate, type ItemBinding, type ItemChange } from './mapping.js';
import { nodeIdWithIndex, parseNodeId } from './node-id.js';
import type { OpcuaServerSettings, OpcuaSettings } from './settings.js';

// ---------------------------------------------------------------------------
// node-opcua's own logging
// ---------------------------------------------------------------------------

/**
 * node-opcua prints warnings and errors with console.log (coloured, multi-line),
 * many of them for conditions we handle and report ourselves (a refused
 * connection, an untrusted certificate, the Node 20 PKCS#1 v1.5 notice W27). Its
 * loggers are process-wide: route them to the gateway log at debug level (visible
 * with log.level debug), set here before any client runs.
 */
let nodeOpcuaLog: Logger | null = null;
const routeNodeOpcua = (level: 'debug' | 'trace') => (_context: unknown, ...args: unknown[]) => {
  nodeOpcuaLog?.[level]({ component: 'node-opcua' }, format(...args).slice(0, 2000));
};
function installNodeOpcuaLogging(): void {
  setWarningLogger(routeNodeOpcua('debug'));
  setErrorLogger(routeNodeOpcua('debug'));
  setDebugLogger(routeNodeOpcua('trace'));
}
// At import: node-opcua reports some things (W27) asynchronously right after loading.
installNodeOpcuaLogging();

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

class StaleAttempt extends Error {}

/** Await `p` at most `ms`; a late rejection of `p` is swallowed (it must never become unhandled). */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  p.catch(() => undefined);
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new CodedError('CE_OPCUA_CONNECT', `${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

// ---------------------------------------------------------------------------
// Metrics (one set per source instance, on the gateway's registry)
// ---------------------------------------------------------------------------

function createOpcuaMetrics(ctx: GatewayContext) {
  const registers = [ctx.metrics.registry];
  return {
    connected: new Gauge({ name: 'ce_opcua_connected', help: '1 while the session and subscription to the OPC UA server are alive', labelNames: ['server'] as const, registers }),
    connectFailures: new Counter({
      name: 'ce_opcua_connect_failures_total',
      help: 'Failed attempts to connect, open a session or subscribe, by server and CE_* code',
      labelNames: ['server', 'code'] as const,
      registers,
    }),
    sessionsLost: new Counter({ name: 'ce_opcua_sessions_lost_total', help: 'Established sessions lost (connection closed, keep-alive missing)', labelNames: ['server'] as const, registers }),
    items: new Gauge({ name: 'ce_opcua_items', help: 'Configured items by state (monitored, rejected by the server)', labelNames: ['server', 'state'] as const, registers }),
    values: new Counter({ name: 'ce_opcua_values_received_total', help: 'Data-change values received from the server', labelNames: ['server'] as const, registers }),
    dropped: new Counter({
      name: 'ce_opcua_values_dropped_total',
      help: 'Values left out: Bad or Uncertain StatusCode, or a data type that does not fit the field',
      labelNames: ['server', 'reason'] as const,
      registers,
    }),
  };
}
type OpcuaMetrics = ReturnType<typeof createOpcuaMetrics>;

// ---------------------------------------------------------------------------
// The source
// ---------------------------------------------------------------------------

/** What a server link needs from its source (one typed context, not a list of arguments). */
interface LinkContext {
  gw: GatewayContext;
  metrics: OpcuaMetrics;
  pkiDir: string;
  applicationName: string;
  /** The gateway's own certificate exists (created once, not by several clients at the same time). */
  ensurePki(): Promise<void>;
  isStopping(): boolean;
  /** Submit one device update and remember when (for the keep-alive). */
  submit(update: DeviceUpdate): void;
}

export class OpcuaSource implements Source {
  readonly name = 'opcua';
  private readonly settings: OpcuaSettings | undefined;
  private ctx: GatewayContext | null = null;
  private links: ServerLink[] = [];
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly lastSubmit = new Map<string, number>();
  private log: Logger | null = null;

  /** `settings` defaults to `ctx.settings.opcua` at start. */
  constructor(settings?: OpcuaSettings) {
    this.settings = settings;
  }

  async start(ctx: GatewayContext): Promise<void> {
    this.ctx = ctx;
    const settings = this.settings ?? ctx.settings.opcua;
    if (!settings || settings.servers.length === 0) return;
    this.log = ctx.log.child({ source: 'opcua' });
    nodeOpcuaLog = this.log;
    installNodeOpcuaLogging(); // again: something else in the process (a simulator) may have set its own
    const metrics = createOpcuaMetrics(ctx);
    // Never the home directory (node-opcua's default): the gateway's data stays in its dataDir.
    const pkiDir = resolve(settings.pkiDir ?? join(ctx.settings.gateway.dataDir, 'opcua-pki'));
    mkdirSync(pkiDir, { recursive: true });
    const applicationName = `commune-edge-${ctx.settings.gateway.id}`;
    let pkiReady: Promise<void> | null = null;
    const linkCtx: LinkContext = {
      gw: ctx,
      metrics,
      pkiDir,
      applicationName,
      ensurePki: () => {
        pkiReady ??= createOwnCertificate(pkiDir, applicationName).catch((err: unknown) => {
          pkiReady = null; // try again at the next attempt
          throw err;
        });
        return pkiReady;
      },
      isStopping: () => this.stopping,
      submit: (u) => this.submit(u),
    };
    for (const server of settings.servers) {
      const link = new ServerLink(linkCtx, server, this.log.child({ server: server.id }));
      this.links.push(link);
      link.start();
    }
    // Keep-alive resolution: a quarter of the shortest heartbeat, between 250 ms and 5 s.
    const heartbeats = this.links.flatMap((l) => l.table.devices().map((d) => ctx.inventory.devices.get(d)?.heartbeatS ?? 60));
    const tickMs = Math.min(5000, Math.max(250, (Math.min(...heartbeats) * 1000) / 4));
    this.keepAliveTimer = setInterval(() => this.keepAlive(), tickMs);
    this.keepAliveTimer.unref();
  }

  private submit(update: DeviceUpdate): void {
    const ctx = this.ctx!;
    this.lastSubmit.set(update.deviceId, ctx.clock.now());
    ctx.pipeline.submit(
      {
        deviceId: update.deviceId,
        fields: update.fields,
        transport: 'opcua',
        ...(update.ts !== undefined ? { ts: update.ts } : {}),
        ...(update.verdict ? { verdict: update.verdict } : {}),
      },
      (outcome) => {
        // The pipeline counts and logs (rate-limited) what it rejects; nothing else to do here.
        if (!outcome.accepted) this.log?.debug({ code: outcome.code, device: update.deviceId, detail: outcome.detail }, 'opcua submission rejected');
      },
    );
  }

  /** Re-send each quiet device's latest values while its server's session is alive. */
  private keepAlive(): void {
    const ctx = this.ctx;
    if (!ctx || this.stopping) return;
    const now = ctx.clock.now();
    for (const link of this.links) {
      if (!link.alive()) continue;
      for (const deviceId of link.table.devices()) {
        const heartbeatMs = (ctx.inventory.devices.get(deviceId)?.heartbeatS ?? 60) * 1000;
        if (now - (this.lastSubmit.get(deviceId) ?? 0) < heartbeatMs) continue;
        const update = link.table.keepAlive(deviceId);
        if (update) this.submit(update);
      }
    }
  }

  status(): SourceStatus {
    const connected = this.links.length > 0 && this.links.every((l) => l.connected);
    const detail = this.links.map((l) => l.describe()).join('; ');
    return detail ? { name: this.name, connected, detail } : { name: this.name, connected };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = null;
    await Promise.all(this.links.map((l) => l.stop()));
    if (nodeOpcuaLog === this.log) nodeOpcuaLog = null;
  }
}

// ---------------------------------------------------------------------------
// One server
// ---------------------------------------------------------------------------

const NAMESPACE_ARRAY = 'ns=0;i=2255'; // Server_NamespaceArray, OPC UA Part 5 §6.3.1

/**
 * The gateway's application instance certificate (OPC UA Part 4 §6.1), self-signed,
 * in <pkiDir>/own/certs: made once, before the servers' first connections, so that
 * several clients do not generate keys into the same folder at the same time. The
 * PLC must trust it for Sign / SignAndEncrypt.
 */
async function createOwnCertificate(pkiDir: string, applicationName: string): Promise<void> {
  const certManager = new OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: false, disableFileWatchers: true });
  try {
    await certManager.initialize();
    await OPCUAClient.create({ applicationName, clientCertificateManager: certManager }).createDefaultCertificate();
  } finally {
    await certManager.dispose().catch(() => undefined);
  }
}

class ServerLink {
  readonly table: ItemTable;
  connected = false;
  private readonly link: LinkContext;
  private readonly cfg: OpcuaServerSettings;
  private readonly log: Logger;
  /** Incremented by every attempt and by stop: events of an older client are ignored. */
  private generation = 0;
  private client: OPCUAClient | null = null;
  private certManager: OPCUACertificateManager | null = null;
  private session: ClientSession | null = null;
  private subscription: ClientSubscription | null = null;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryAt = 0;
  private watchdogTimer: NodeJS.Timeout | null = null;
  private watchdogMs = 15_000;
  private lastPublishAt = 0;
  private lastError: CodedError | null = null;
  /** Devices already told plc_online false for the current outage. */
  private offlineMarked = false;
  private failuresInARow = 0;
  private lostAt = 0;
  private pending: ItemChange[] = [];
  private flushQueued = false;
  private stopped = false;
  /** The teardown in progress (a lost session's), awaited by stop. */
  private closing: Promise<void> = Promise.resolve();

  constructor(link: LinkContext, cfg: OpcuaServerSettings, log: Logger) {
    this.link = link;
    this.cfg = cfg;
    this.log = log;
    const inventory = link.gw.inventory;
    const bindings: ItemBinding[] = cfg.items.map((item, index) => {
      const device = inventory.devices.get(item.device);
      // Unreachable with a config that passed checkOpcua; a clear error rather than a crash later.
      if (!device) throw new CodedError('CE_CONFIG_INVALID', `opcua.servers[${cfg.id}].items[${index}]: unknown device ${item.device}`);
      const spec = device.kind.fieldByName.get(item.field);
      if (!spec) throw new CodedError('CE_CONFIG_INVALID', `opcua.servers[${cfg.id}].items[${index}]: ${item.field} is not a ${device.kind.id} field`);
      return { index, deviceId: item.device, field: item.field, fieldType: spec.type, nodeId: item.nodeId, scale: item.scale };
    });
    const plcOnlineDevices = new Set(bindings.filter((b) => inventory.devices.get(b.deviceId)?.kind.fieldByName.has('plc_online')).map((b) => b.deviceId));
    this.table = new ItemTable(bindings, {
      plcOnlineDevices,
      // A SourceTimestamp older than a few sampling + publishing cycles is a past change, not an observation.
      freshWindowMs: Math.max(10_000, 3 * (cfg.samplingIntervalMs + cfg.publishingIntervalMs)),
    });
    const m = link.metrics;
    m.connected.set({ server: cfg.id }, 0);
    m.items.set({ server: cfg.id, state: 'monitored' }, 0);
    m.items.set({ server: cfg.id, state: 'rejected' }, 0);
  }

  start(): void {
    void this.connect();
  }

  /** The session is up and publish responses keep coming. */
  alive(): boolean {
    return this.connected && Date.now() - this.lastPublishAt <= this.watchdogMs;
  }

  describe(): string {
    const rejected = this.table.rejected();
    const rejectedText = rejected.length
      ? ` (rejected: ${rejected.map((b) => `${b.deviceId}.${b.field} ${b.nodeId}`).join(', ')})`
      : '';
    if (this.connected) {
      return `${this.cfg.id}: connected, ${this.table.monitoredCount()}/${this.table.bindings.length} items monitored${rejectedText}`;
    }
    const why = this.lastError ? `${this.lastError.code} ${this.lastError.detail ?? ''}`.trim() : 'connecting';
    const retry = this.retryTimer ? `; retry in ${Math.max(0, Math.round((this.retryAt - Date.now()) / 1000))} s` : '';
    return `${this.cfg.id}: ${why}${retry}${rejectedText}`;
  }

  // --- connecting -------------------------------------------------------------

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    try {
      await this.open(gen);
      if (gen !== this.generation) return;
      this.onOpen();
    } catch (err) {
      if (gen !== this.generation || this.stopped || err instanceof StaleAttempt) return;
      this.onFailure(classifyOpcuaError(err));
    }
  }

  /** client → secure channel → session → subscription → monitored items, each step bounded. */
  private async open(gen: number): Promise<void> {
    const cfg = this.cfg;
    const timeout = cfg.connectTimeoutMs;
    const step = async <T>(p: Promise<T>, what: string): Promise<T> => {
      const v = await bounded(p, timeout, what);
      if (gen !== this.generation) throw new StaleAttempt();
      return v;
    };

    const identity = this.identity();
    await step(this.link.ensurePki(), 'PKI (own certificate)');
    // A certificate manager per attempt (no file watchers): a certificate the officer
    // moved from rejected/ to trusted/ is seen at the next attempt.
    const certManager = new OPCUACertificateManager({
      rootFolder: this.link.pkiDir,
      automaticallyAcceptUnknownCertificate: cfg.trustServerCertificate === 'auto',
      disableFileWatchers: true,
    });
    this.certManager = certManager;
    await step(certManager.initialize(), 'PKI initialisation');

    const client = OPCUAClient.create({
      applicationName: this.link.applicationName,
      clientName: `commune-edge ${this.link.gw.settings.gateway.id}`,
      clientCertificateManager: certManager,
      securityMode: MessageSecurityMode[cfg.securityMode],
      securityPolicy: SecurityPolicy[cfg.securityPolicy],
      // PLCs often advertise their endpoint under a host name or another address than
      // the one the gateway dials (NAT, DHCP name): take the endpoint that matches the
      // security mode and policy; a mode/policy it does not offer still fails clearly.
      endpointMustExist: false,
      // One try per attempt: the retry schedule (with jitter) is ours.
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
      keepSessionAlive: false, // the subscription's keep-alives do this (Part 4 §5.13.1.1)
      // Orphaned sessions (connection lost, no CloseSession) expire on the PLC after this;
      // small PLCs allow only a handful of sessions (an S7-1200 about ten).
      requestedSessionTimeout: 30_000,
      defaultTransactionTimeout: timeout,
    });
    this.client = client;
    client.on('connection_lost', () => this.onLost(gen, 'connection lost'));
    client.on('close', () => this.onLost(gen, 'connection closed'));
    await step(client.connect(cfg.endpoint), 'connect');

    if (cfg.securityMode !== 'None' && cfg.trustServerCertificate === 'auto') this.checkPinnedCertificate(client);

    const session = await step(client.createSession(identity), 'session');
    this.session = session;
    session.on('session_closed', () => this.onLost(gen, 'session closed by the server'));

    const itemsToMonitor = await this.resolveNodeIds(session, step);

    const maxKeepAliveCount = Math.max(2, Math.ceil(5000 / cfg.publishingIntervalMs));
    const subscription = await step(
      session.createSubscription2({
        requestedPublishingInterval: cfg.publishingIntervalMs,
        requestedMaxKeepAliveCount: maxKeepAliveCount,
        // Part 4 §5.13.2: the lifetime count must be at least three times the keep-alive count.
        requestedLifetimeCount: maxKeepAliveCount * 6,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 10,
      }),
      'subscription',
    );
    this.subscription = subscription;
    this.lastPublishAt = Date.now();
    subscription.on('raw_notification', () => {
      if (gen === this.generation) this.lastPublishAt = Date.now();
    });
    subscription.on('status_changed', (status: { name?: string; value: number }) => this.onLost(gen, `subscription status ${statusName(status)}`));
    subscription.on('terminated', () => this.onLost(gen, 'subscription terminated'));
    subscription.on('error', (err: Error) => this.onLost(gen, `subscription error: ${err.message}`));
    // Part 4 §5.13.1.1: the server sends a keep-alive at the latest every
    // publishingInterval × maxKeepAliveCount; three of them missing = the session is dead.
    this.watchdogMs = Math.max(5000, 3 * subscription.publishingInterval * subscription.maxKeepAliveCount);

    this.table.resetSession();
    const requests = itemsToMonitor.filter((x) => x.nodeId !== null);
    const m = this.link.metrics;
    // Nothing to monitor (every node id unresolvable): CreateMonitoredItems would
    // answer BadNothingToDo; the session still tells that the PLC is reachable.
    let monitored: { statusCode?: { value: number; name?: string } }[] = [];
    if (requests.length > 0) {
      // ClientMonitoredItemGroup.create (not subscription.monitorItems): the 'changed'
      // listener is in place before CreateMonitoredItems is sent. The first values
      // (Part 4 §5.12.1.2) may come in the same TCP read as its response, before an
      // awaited promise would resume.
      const group = ClientMonitoredItemGroup.create(
        subscription,
        requests.map((x) => ({ nodeId: x.nodeId!, attributeId: AttributeIds.Value })),
        // queueSize 1: the newest value per publishing cycle is what a reading keeps anyway.
        { samplingInterval: cfg.samplingIntervalMs, queueSize: 1, discardOldest: true },
        TimestampsToReturn.Both,
      );
      group.on('changed', (_mi: unknown, dataValue: DataValue, i: number) => {
        if (gen !== this.generation) return;
        const req = requests[i];
        if (!req) return;
        m.values.inc({ server: cfg.id });
        this.pending.push({ index: req.index, dataValue });
        // Every item of one publish response is reported in the same synchronous loop
        // (node-opcua ClientSubscription.onNotificationMessage): flush after it.
        if (!this.flushQueued) {
          this.flushQueued = true;
          queueMicrotask(() => this.flush());
        }
      });
      await step(
        new Promise<void>((resolve, reject) => {
          group.once('initialized', () => resolve());
          group.once('terminated', (err?: Error) => reject(err ?? new Error('monitored items terminated')));
        }),
        'monitored items',
      );
      monitored = group.monitoredItems;
    }
    // Items the server refused, reported by name (device, field, node id, status).
    const rejections: { binding: ItemBinding; status: string }[] = itemsToMonitor
      .filter((x) => x.nodeId === null)
      .map((x) => ({ binding: this.table.bindings[x.index]!, status: x.why }));
    monitored.forEach((mi, i) => {
      const index = requests[i]!.index;
      const status = mi.statusCode;
      if (status && severity(status.value) !== 'good') rejections.push({ binding: this.table.bindings[index]!, status: statusName(status) });
      else this.table.setMonitored(index);
    });
    for (const { binding, status } of rejections) {
      this.table.setRejected(binding.index);
      this.log.warn(
        { code: 'CE_OPCUA_NODE_REJECTED', device: binding.deviceId, field: binding.field, nodeId: binding.nodeId, status },
        `OPC UA node rejected: ${binding.deviceId}.${binding.field} ${binding.nodeId} → ${status}`,
      );
    }
    m.items.set({ server: cfg.id, state: 'monitored' }, this.table.monitoredCount());
    m.items.set({ server: cfg.id, state: 'rejected' }, this.table.rejected().length);

  }

  private identity(): UserIdentityInfo {
    const auth = this.cfg.auth;
    if (auth.type !== 'username') return { type: UserTokenType.Anonymous };
    const password = auth.passwordEnv ? process.env[auth.passwordEnv] : undefined;
    if (password === undefined) throw new CodedError('CE_OPCUA_AUTH', `environment variable ${auth.passwordEnv ?? '(passwordEnv)'} is not set`);
    return { type: UserTokenType.UserName, userName: auth.username ?? '', password };
  }

  /**
   * `nsu=` node ids name their namespace by URI: look the index up in the server's
   * NamespaceArray (it may differ between PLCs and firmware versions).
   */
  private async resolveNodeIds(
    session: ClientSession,
    step: <T>(p: Promise<T>, what: string) => Promise<T>,
  ): Promise<{ index: number; nodeId: string | null; why: string }[]> {
    const parsed = this.table.bindings.map((b) => ({ b, p: parseNodeId(b.nodeId) }));
    let namespaces: string[] | null = null;
    if (parsed.some(({ p }) => p.ok && 'uri' in p.nodeId.namespace)) {
      const dv = await step(session.read({ nodeId: NAMESPACE_ARRAY, attributeId: AttributeIds.Value }), 'NamespaceArray read');
      namespaces = Array.isArray(dv.value?.value) ? (dv.value.value as string[]) : [];
    }
    return parsed.map(({ b, p }) => {
      if (!p.ok) return { index: b.index, nodeId: null, why: `invalid node id: ${p.reason}` };
      const ns = p.nodeId.namespace;
      if ('index' in ns) return { index: b.index, nodeId: b.nodeId, why: '' };
      const idx = namespaces?.indexOf(ns.uri) ?? -1;
      if (idx < 0) return { index: b.index, nodeId: null, why: `namespace ${ns.uri} not in the server's NamespaceArray` };
      return { index: b.index, nodeId: nodeIdWithIndex(p.nodeId, idx), why: '' };
    });
  }

  /**
   * trustServerCertificate auto = trust on first use: node-opcua accepts an unknown
   * server certificate (and files it under trusted/); we pin the first one per
   * server and refuse a different one later (a replaced PLC, or someone in the
   * middle), until the officer deletes the pin file.
   */
  private checkPinnedCertificate(client: OPCUAClient): void {
    const cert = client.serverCertificate;
    const der = Array.isArray(cert) ? cert[0] : cert;
    if (!der) throw new CodedError('CE_OPCUA_SECURITY', 'the server sent no certificate on a secure channel');
    const thumb = createHash('sha256').update(der).digest('hex');
    const dir = join(this.link.pkiDir, 'pinned');
    const file = join(dir, `${this.cfg.id}.sha256`);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, `${thumb}\n`, { mode: 0o644 });
      this.log.info({ thumbprint: thumb, file }, 'OPC UA server certificate pinned (trust on first use)');
      return;
    }
    const pinned = readFileSync(file, 'utf8').trim();
    if (pinned !== thumb) {
      throw new CodedError(
        'CE_OPCUA_SECURITY',
        `server certificate changed (sha256 ${thumb.slice(0, 16)}…, pinned ${pinned.slice(0, 16)}…); if the PLC's certificate was renewed on purpose, delete ${file}`,
      );
    }
  }

  // --- running ----------------------------------------------------------------

  private onOpen(): void {
    const wasDown = this.lostAt > 0 ? ` after ${Math.round((Date.now() - this.lostAt) / 1000)} s` : '';
    this.connected = true;
    this.attempt = 0;
    this.failuresInARow = 0;
    this.lastError = null;
    this.offlineMarked = false;
    this.lostAt = 0;
    this.link.metrics.connected.set({ server: this.cfg.id }, 1);
    this.log.info(
      { endpoint: this.cfg.endpoint, monitored: this.table.monitoredCount(), rejected: this.table.rejected().length },
      `OPC UA subscription active${wasDown}`,
    );
    // The other devices' initial values come with the first publish response (Part 4
    // §5.12.1.2); a device none of whose nodes could be monitored learns now that the
    // PLC is reachable, and why it is DEGRADED.
    for (const deviceId of this.table.devices()) {
      if (this.table.monitoredCount(deviceId) > 0) continue;
      const update = this.table.keepAlive(deviceId);
      if (update) this.link.submit(update);
    }
    this.flush();
    this.watchdogTimer = setInterval(() => {
      if (this.connected && Date.now() - this.lastPublishAt > this.watchdogMs) {
        this.onLost(this.generation, `no publish response or keep-alive for ${Math.round((Date.now() - this.lastPublishAt) / 1000)} s`);
      }
    }, 1000);
    this.watchdogTimer.unref();
  }

  private flush(): void {
    this.flushQueued = false;
    // Values that came before the session counted as open wait for onOpen.
    if (!this.connected || this.pending.length === 0) return;
    const changes = this.pending;
    this.pending = [];
    const { updates, dropped } = this.table.apply(changes, this.link.gw.clock.now());
    for (const d of dropped) {
      this.link.metrics.dropped.inc({ server: this.cfg.id, reason: d.reason });
      this.droppedLog(d.binding, d.reason, d.detail);
    }
    for (const u of updates) this.link.submit(u);
  }

  /** One log line per item and reason while it lasts (the counter counts every value). */
  private readonly droppedLogged = new Set<string>();
  private droppedLog(b: ItemBinding, reason: string, detail: string): void {
    const key = `${b.index}:${reason}`;
    if (this.droppedLogged.has(key)) return;
    this.droppedLogged.add(key);
    this.log.warn(
      { code: 'CE_OPCUA_BAD_VALUE', device: b.deviceId, field: b.field, nodeId: b.nodeId, reason, detail },
      `OPC UA value left out: ${b.deviceId}.${b.field} ${b.nodeId} (${detail})`,
    );
  }

  private onLost(gen: number, why: string): void {
    if (gen !== this.generation || !this.connected || this.stopped || this.link.isStopping()) return;
    this.connected = false;
    this.lostAt = Date.now();
    this.droppedLogged.clear();
    const err = new CodedError('CE_OPCUA_SESSION_LOST', why);
    this.lastError = err;
    this.link.metrics.connected.set({ server: this.cfg.id }, 0);
    this.link.metrics.sessionsLost.inc({ server: this.cfg.id });
    this.log.warn({ code: err.code, endpoint: this.cfg.endpoint, detail: why }, `OPC UA session lost: ${why}; reconnecting`);
    this.markOffline();
    this.generation++;
    this.closing = this.teardown().then(() => this.scheduleReconnect());
  }

  private onFailure(err: CodedError): void {
    const previous = this.lastError;
    this.lastError = err;
    this.failuresInARow++;
    this.link.metrics.connectFailures.inc({ server: this.cfg.id, code: err.code });
    // The first failure of a streak, or a different problem, at warn; repetitions at
    // debug: a PLC that is off for a night must not fill the SD card with one line per retry.
    const level = this.failuresInARow === 1 || previous?.code !== err.code ? 'warn' : 'debug';
    this.log[level]({ code: err.code, endpoint: this.cfg.endpoint, detail: err.detail, attempt: this.failuresInARow }, `OPC UA connection failed: ${err.message}`);
    // The gateway could not read the PLC: its devices are DOWN (plc-offline), once per outage.
    this.markOffline();
    this.generation++;
    this.closing = this.teardown().then(() => this.scheduleReconnect());
  }

  private markOffline(): void {
    if (this.offlineMarked) return;
    this.offlineMarked = true;
    const now = this.link.gw.clock.now();
    for (const deviceId of this.table.devices()) {
      const update = this.table.offline(deviceId);
      if (update) this.link.submit(update);
      // A kind without plc_online: the health tracker's offline path (DOWN, offline).
      else this.link.gw.health.observeStatus(deviceId, false, now);
    }
  }

  /**
   * Full jitter over an exponentially growing cap (as for the external MQTT broker):
   * the gateways of a province that lost the same PLC network do not come back in step.
   */
  private scheduleReconnect(): void {
    if (this.stopped || this.link.isStopping() || this.retryTimer) return;
    this.attempt++;
    const { reconnectMinMs: min, reconnectMaxMs: max } = this.cfg;
    const cap = Math.min(max, min * 2 ** Math.min(this.attempt, 16));
    const delay = Math.round(min + Math.random() * Math.max(0, cap - min));
    this.retryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped && !this.link.isStopping()) void this.connect();
    }, delay);
  }

  /** Close whatever the current (or a failed) attempt opened; bounded, never throws. */
  private async teardown(): Promise<void> {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = null;
    this.pending = [];
    const client = this.client;
    const certManager = this.certManager;
    this.client = null;
    this.session = null;
    this.subscription = null;
    this.certManager = null;
    if (client) {
      try {
        // Closes the session too when the channel is still up (the PLC frees it at once).
        await bounded(client.disconnect(), 3000, 'disconnect');
      } catch {
        // The channel is gone or hangs: nothing more to release on our side.
      }
    }
    if (certManager) {
      try {
        await bounded(certManager.dispose(), 2000, 'PKI dispose');
      } catch {
        // best effort
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connected = false;
    this.link.metrics.connected.set({ server: this.cfg.id }, 0);
    await Promise.all([this.closing, this.teardown()]);
  }
}
