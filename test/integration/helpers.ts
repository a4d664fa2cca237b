/**
 * Shared by the integration tests (real peers over 127.0.0.1): free ports, temp
 * dirs, a Mosquitto with its own temp config, the gateway as a child process,
 * and small MQTT/HTTP helpers. Everything started here is stopped by the tests'
 * afterAll (see `Cleanup`), even when an assertion failed.
 *
 * A missing peer is an error with a clear message, never a skip: the
 * integration tests must not pass without having run.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import pino, { type Logger } from 'pino';

/** The repository root (this file is test/integration/helpers.ts, or its copy under dist/). */
export const ROOT: string = (() => {
  for (const up of ['../..', '../../..']) {
    const dir = fileURLToPath(new URL(`${up}/`, import.meta.url));
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'gateway'))) return dir;
  }
  return process.cwd();
})();
export const MAIN_JS = join(ROOT, 'dist', 'gateway', 'main.js');

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Thrown from a `waitFor` check: stop waiting at once (e.g. the process died). */
export class GiveUp extends Error {}

/** Poll `check` until it returns a truthy value; throw `what` (with the last error) after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs: number, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
      last = undefined;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/** Reject after `ms` with a message saying what did not happen. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

// ---------------------------------------------------------------------------
// Ports, dirs, cleanup
// ---------------------------------------------------------------------------

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ce-it-${prefix}-`));
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  return waitFor(
    `a listener on 127.0.0.1:${port}`,
    () =>
      new Promise<boolean>((resolve) => {
        const s: Socket = tcpConnect({ port, host: '127.0.0.1' });
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    timeoutMs,
    50,
  );
}

/**
 * Cleanup actions run in reverse order; each one is bounded and its failure is
 * reported after all others ran (a failing stop must not leak the next peer).
 */
export class Cleanup {
  private readonly actions: { what: string; fn: () => unknown }[] = [];
  add(what: string, fn: () => unknown): void {
    this.actions.push({ what, fn });
  }
  async run(): Promise<void> {
    const errors: string[] = [];
    while (this.actions.length) {
      const { what, fn } = this.actions.pop()!;
      try {
        await withTimeout(Promise.resolve().then(fn), 15_000, `cleanup: ${what}`);
      } catch (err) {
        errors.push(`${what}: ${(err as Error).message}`);
      }
    }
    if (errors.length) throw new Error(`cleanup failed:\n  ${errors.join('\n  ')}`);
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process with its output captured and its exit as a promise. */
export class Child {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  exit: Exit | null = null;
  readonly exited: Promise<Exit>;

  constructor(readonly name: string, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.proc = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise<Exit>((resolve) => {
      this.proc.once('error', (err) => {
        this.stderr += `\n[spawn error] ${err.message}`;
        this.exit = { code: -1, signal: null };
        resolve(this.exit);
      });
      this.proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Last lines of stdout and stderr, for assertion messages. */
  tail(lines = 30): string {
    const t = (s: string) => s.split('\n').slice(-lines).join('\n');
    return `--- ${this.name} stdout (tail) ---\n${t(this.stdout)}\n--- ${this.name} stderr (tail) ---\n${t(this.stderr)}`;
  }

  /** Wait for a line of output matching `re` (stdout and stderr). */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return waitFor(
      `${this.name} to print ${re}`,
      () => {
        const m = re.exec(this.stdout) ?? re.exec(this.stderr);
        if (!m && !this.running) throw new GiveUp(`${this.name} exited (${JSON.stringify(this.exit)}) first\n${this.tail()}`);
        return m;
      },
      timeoutMs,
    );
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running && this.proc.pid) this.proc.kill(sig);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 10_000): Promise<Exit> {
    if (!this.running) return this.exit!;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

// ---------------------------------------------------------------------------
// Mosquitto (Debian package)
// ---------------------------------------------------------------------------

/** Path of the mosquitto binary; throws (the test fails, it does not skip) when missing. */
export function mosquittoBinary(): string {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = join(d, 'mosquitto');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  throw new Error(
    'mosquitto is not installed: the external-broker integration tests need a real Mosquitto. ' +
      'Run `bash test/peers/ensure-peers.sh` (as root: apt-get install mosquitto), or `npm test`, which runs it.',
  );
}

/**
 * A Mosquitto on 127.0.0.1:<port> with persistence in its own temp dir, so
 * persistent sessions (subscriptions, queued QoS 1 messages) survive `restart()`.
 */
export class Mosquitto {
  readonly dir: string;
  readonly confPath: string;
  child: Child | null = null;
  private starts = 0;
  private pastLogs = '';

  constructor(readonly port: number, dir?: string) {
    this.dir = dir ?? tempDir('mosquitto');
    this.confPath = join(this.dir, 'mosquitto.conf');
    const conf = [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${this.dir}/`,
      'persistence_file mosquitto.db',
      'autosave_interval 1',
      'max_queued_messages 100000',
      'max_inflight_messages 100',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      'log_type subscribe',
      'connection_messages true',
      'log_timestamp_format %H:%M:%S',
    ];
    // Run as root (CI), mosquitto drops to user "mosquitto", which cannot write the temp dir.
    if (process.getuid?.() === 0) conf.push('user root');
    writeFileSync(this.confPath, conf.join('\n') + '\n');
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Everything the broker logged, across restarts. */
  get log(): string {
    return this.pastLogs + (this.child?.stderr ?? '');
  }

  /** What the running (or last) instance logged. */
  get currentLog(): string {
    return this.child?.stderr ?? '';
  }

  async start(): Promise<void> {
    if (this.child?.running) throw new Error('mosquitto already running');
    const bin = mosquittoBinary();
    if (this.child) this.pastLogs += this.child.stderr;
    this.starts++;
    const child = new Child(`mosquitto#${this.starts}`, bin, ['-c', this.confPath]);
    this.child = child;
    // "running" is logged once its listeners are open (and not if the port was taken).
    await child.waitForOutput(/mosquitto version \S+ running/, 10_000);
    await waitForPort(this.port, 5000);
  }

  /** SIGTERM: mosquitto writes its persistence file and exits. */
  async stop(): Promise<void> {
    if (!this.child?.running) return;
    const e = await this.child.stop(5000);
    if (e.signal === 'SIGKILL') throw new Error(`mosquitto did not exit on SIGTERM within 5 s\n${this.child.tail()}`);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

// ---------------------------------------------------------------------------
// The gateway as a child process (dist/gateway/main.js)
// ---------------------------------------------------------------------------

/** Build dist/ when it is missing (`npm test` builds it before vitest). */
export function ensureDist(): void {
  if (existsSync(MAIN_JS)) return;
  execFileSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'inherit', timeout: 180_000 });
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing after \`npx tsc -p .\``);
}

/** `node dist/gateway/main.js start ...args`; logs as JSON lines (LOG_FORMAT=json). */
export function spawnGateway(name: string, args: string[]): Child {
  return new Child(name, process.execPath, [MAIN_JS, 'start', ...args], {
    env: { ...process.env, LOG_FORMAT: 'json', NODE_ENV: 'test' },
  });
}

export interface HealthBody {
  status: string;
  demo: boolean;
  gateway: { id: string; startedAt: string };
  devices: { total: number; byState: { UP: number; DEGRADED: number; DOWN: number; UNKNOWN: number } };
  inputs: { name: string; connected: boolean; detail?: string; clients?: number }[];
  store: { readings: number; commitErrors: number };
}

/** Wait until GET /api/health answers 200 (fails early, with its output, if the child exits). */
export async function waitForHealth(child: Child, httpPort: number, timeoutMs: number): Promise<HealthBody> {
  return waitFor(
    `GET http://127.0.0.1:${httpPort}/api/health from ${child.name}`,
    async () => {
      if (!child.running) throw new GiveUp(`${child.name} exited (${JSON.stringify(child.exit)})\n${child.tail()}`);
      const r = await httpGet(httpPort, '/api/health');
      return r.status === 200 ? (r.body as HealthBody) : null;
    },
    timeoutMs,
    100,
  );
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

export interface HttpResult {
  status: number;
  body: unknown;
  text: string;
}

export async function httpGet(port: number, path: string, token?: string): Promise<HttpResult> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (metrics)
  }
  return { status: res.status, body, text };
}

// ---------------------------------------------------------------------------
// MQTT
// ---------------------------------------------------------------------------

/** Connect with mqtt.js; resolves on CONNACK, rejects on error or after `timeoutMs`. No auto-reconnect by default. */
export function connectMqtt(url: string, opts: IClientOptions = {}, timeoutMs = 10_000): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: timeoutMs, protocolVersion: 4, ...opts });
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error(`MQTT connect to ${url} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    client.once('connect', () => {
      clearTimeout(timer);
      client.removeListener('error', onError);
      client.on('error', () => undefined); // later errors are seen through publish callbacks
      resolve(client);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      client.end(true);
      reject(new Error(`MQTT connect to ${url} failed: ${err.message}`));
    };
    client.once('error', onError);
  });
}

/** Publish and resolve on PUBACK (QoS 1) or after the write (QoS 0). */
export function publish(client: MqttClient, topic: string, payload: string | Buffer, qos: 0 | 1 = 1, timeoutMs = 10_000): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve, reject) => client.publish(topic, payload, { qos }, (err) => (err ? reject(err) : resolve()))),
    timeoutMs,
    `PUBACK for ${topic}`,
  );
}

/** Disconnect cleanly when connected (else just release it); force-close if that does not finish in 3 s. */
export async function endMqtt(client: MqttClient | null | undefined): Promise<void> {
  if (!client) return;
  const end = (force: boolean) => new Promise<void>((r) => client.end(force, {}, () => r()));
  try {
    await withTimeout(end(!client.connected), 3000, 'mqtt end');
  } catch {
    await withTimeout(end(true), 1000, 'mqtt end (forced)').catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------

/** A healthy `power` reading (UP by the kind's rules) carrying `seq` in uptime_s (integer, no max). */
export function powerReading(seq: number): string {
  return JSON.stringify({ mains_ok: true, input_v: 228.5, on_battery: false, battery_pct: 100, load_pct: 30, uptime_s: seq });
}

/** Parse a Prometheus text exposition value: `name{labels} value`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const l of (m[2] ?? '').replace(/^\{|\}$/g, '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[l[1]!] = l[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/**
 * A throwaway TCP server standing in for a broker that is down: it records every
 * MQTT CONNECT (time of the TCP connection, client id) and closes the socket.
 */
export async function connectionRecorder(port: number): Promise<{ attempts: { at: number; clientId: string }[]; close: () => Promise<void> }> {
  const attempts: { at: number; clientId: string }[] = [];
  const sockets = new Set<Socket>();
  const srv: Server = createServer((s) => {
    const at = Date.now();
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => {
      if (p.cmd === 'connect') attempts.push({ at, clientId: p.clientId });
      s.destroy();
    });
    parser.on('error', () => s.destroy());
    s.on('data', (d: Buffer) => parser.parse(d));
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    attempts,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------

export interface LogLine {
  level: number;
  msg: string;
  time: number;
  [k: string]: unknown;
}

/** A pino logger whose JSON lines are kept in memory (for in-process gateways). */
export function memoryLogger(level = 'info'): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level, base: { svc: 'commune-edge' } },
    {
      write(s: string) {
        try {
          lines.push(JSON.parse(s) as LogLine);
        } catch {
          lines.push({ level: 0, msg: s, time: Date.now() });
        }
      },
    },
  );
  return { log, lines };
}

/** JSON log lines of a child gateway (LOG_FORMAT=json) that parse. */
export function jsonLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a partial line
    }
  }
  return out;
}
