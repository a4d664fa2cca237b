/**
 * InfluxDB peers for the integration tests (real processes and sockets on 127.0.0.1):
 *
 * - `startInfluxV1`: a real `influxd` 1.x (Debian package `influxdb`, 1.6 here)
 *   with its own temp dir and generated config, on free ports; it can be
 *   restarted on the same port and data dir (an outage), paused with SIGSTOP
 *   (a peer that hangs) and resumed.
 * - `startInfluxV2Contract`: a node:http server standing in for the InfluxDB 2.x
 *   write API (`POST /api/v2/write`), as documented by InfluxData, for contract
 *   tests (Debian has no InfluxDB 2 package). It records every request and can be
 *   told to fail the next requests or to reject some lines.
 *
 * Everything started here registers its stop with the caller's `Cleanup`. A
 * missing `influxd` is an error that says how to install it, never a skip.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect as tcpConnect, type AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Child, GiveUp, freePort, removeDir, tempDir, waitFor, type Cleanup, type Exit } from './helpers.js';

// ---------------------------------------------------------------------------
// influxd 1.x (Debian package)
// ---------------------------------------------------------------------------

const INSTALL_HINT =
  'Run `bash test/peers/ensure-peers.sh` (as root: apt-get install influxdb), or `npm test`, which runs it.';

/** Directories searched for `influxd`: PATH, then where Debian and tarballs put it. */
export function influxdSearchDirs(): string[] {
  return [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin', '/usr/sbin'];
}

/** Path of an InfluxDB 1.x `influxd`; throws (the test fails, it does not skip) when missing or not 1.x. */
export function influxdBinary(dirs: string[] = influxdSearchDirs()): string {
  for (const d of dirs) {
    const p = join(d, 'influxd');
    try {
      accessSync(p, constants.X_OK);
    } catch {
      continue;
    }
    checkVersion(p);
    return p;
  }
  throw new Error(
    'influxd is not installed: the InfluxDB integration tests need a real InfluxDB 1.x server (Debian package `influxdb`). ' +
      INSTALL_HINT,
  );
}

const versions = new Map<string, string>();

/** `influxd version` must say v1.x: a 2.x `influxd` takes neither this config nor InfluxQL /query. */
function checkVersion(bin: string): string {
  let v = versions.get(bin);
  if (v === undefined) {
    try {
      v = execFileSync(bin, ['version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (err) {
      throw new Error(`\`${bin} version\` failed: ${(err as Error).message}. ${INSTALL_HINT}`);
    }
    versions.set(bin, v);
  }
  if (!/^InfluxDB v1\./.test(v)) {
    throw new Error(`${bin} is not InfluxDB 1.x (\`influxd version\`: ${JSON.stringify(v)}); the tests need 1.x. ${INSTALL_HINT}`);
  }
  return v;
}

/** Last resort if the test process dies without running its cleanup: no influxd outlives it. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(proc: ChildProcess): void {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of live) {
      try {
        p.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  });
}

export interface InfluxV1Options {
  /** Enable `[http] auth-enabled` and create an admin user (random password unless given). */
  auth?: boolean | { username: string; password: string };
  /** How long to wait for GET /ping → 204 at each start (default 20 s). */
  startTimeoutMs?: number;
  /** Names the process in messages (default "influxd"). */
  name?: string;
}

/** One statement's result from /query (InfluxDB 1.x JSON). */
export interface InfluxSeries {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values?: unknown[][];
}
export interface InfluxResult {
  statement_id: number;
  series?: InfluxSeries[];
  error?: string;
  messages?: { level: string; text: string }[];
}

export type Row = Record<string, unknown>;

export interface WriteResult {
  status: number;
  text: string;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** A real influxd 1.x on 127.0.0.1 (see `startInfluxV1`). */
export class InfluxV1 {
  readonly dir: string;
  readonly confPath: string;
  readonly admin: { username: string; password: string } | null;
  child: Child | null = null;
  private starts = 0;
  private pastLogs = '';
  private isPaused = false;

  constructor(
    private readonly bin: string,
    public port: number,
    public rpcPort: number,
    private readonly opts: InfluxV1Options,
  ) {
    this.dir = tempDir('influxd');
    this.confPath = join(this.dir, 'influxdb.conf');
    const a = opts.auth;
    this.admin = a === true ? { username: 'admin', password: randomBytes(12).toString('hex') } : a ? { ...a } : null;
    this.writeConfig();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return !!this.child?.running;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Everything influxd printed, across restarts (quiet: warnings and errors). */
  get log(): string {
    return this.pastLogs + (this.child ? this.child.stdout + this.child.stderr : '');
  }

  /** Basic auth for the admin user, when auth is enabled. */
  authHeaders(): Record<string, string> {
    if (!this.admin) return {};
    return { authorization: `Basic ${Buffer.from(`${this.admin.username}:${this.admin.password}`).toString('base64')}` };
  }

  private writeConfig(): void {
    const q = (s: string) => JSON.stringify(s);
    const conf = [
      'reporting-disabled = true',
      // The RPC service (backup/restore) binds 127.0.0.1:8088 by default: give it its own free port.
      `bind-address = ${q(`127.0.0.1:${this.rpcPort}`)}`,
      '',
      '[meta]',
      `  dir = ${q(join(this.dir, 'meta'))}`,
      '  logging-enabled = false',
      '',
      '[data]',
      `  dir = ${q(join(this.dir, 'data'))}`,
      `  wal-dir = ${q(join(this.dir, 'wal'))}`,
      '  query-log-enabled = false',
      '',
      '[monitor]',
      '  store-enabled = false',
      '',
      '[subscriber]',
      '  enabled = false',
      '',
      '[continuous_queries]',
      '  enabled = false',
      '  log-enabled = false',
      '',
      '[http]',
      '  enabled = true',
      `  bind-address = ${q(`127.0.0.1:${this.port}`)}`,
      `  auth-enabled = ${this.admin ? 'true' : 'false'}`,
      '  log-enabled = false',
      '  pprof-enabled = false',
      '',
      '[logging]',
      '  level = "warn"',
      '  suppress-logo = true',
      '',
    ];
    writeFileSync(this.confPath, conf.join('\n'));
  }

  /** Start influxd (first start, or again after `stop()`) and wait for GET /ping → 204. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.opts.name ?? 'influxd'} already running`);
    // /ping must be answered by this influxd, not by whatever else holds the port.
    for (const p of [this.port, this.rpcPort]) {
      if (await listening(p)) throw new PortInUse(`127.0.0.1:${p} is already in use by another process; influxd cannot start on it`);
    }
    if (this.child) this.pastLogs += this.child.stdout + this.child.stderr;
    this.starts++;
    const env: NodeJS.ProcessEnv = {};
    // INFLUXDB_* variables override the config file: none of the caller's leak in.
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('INFLUXDB_')) env[k] = v;
    const child = new Child(`${this.opts.name ?? 'influxd'}#${this.starts}`, this.bin, ['run', '-config', this.confPath], {
      cwd: this.dir,
      env,
    });
    this.child = child;
    this.isPaused = false;
    if (child.proc.pid) track(child.proc);
    const timeoutMs = this.opts.startTimeoutMs ?? 20_000;
    try {
      await waitFor(
        `GET ${this.url}/ping → 204 from ${child.name}`,
        async () => {
          if (!child.running) throw new GiveUp(`${child.name} exited (${JSON.stringify(child.exit)}) before answering /ping`);
          const r = await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(1000) });
          await r.arrayBuffer();
          return r.status === 204;
        },
        timeoutMs,
        25,
      );
    } catch (err) {
      await child.stop(2000);
      throw new Error(`${(err as Error).message}\nconfig ${this.confPath}\n${child.tail(40)}`);
    }
  }

  /** Creates the admin user through /query: allowed while no user exists (InfluxDB 1.x). */
  async createAdmin(): Promise<void> {
    if (!this.admin) return;
    const { username, password } = this.admin;
    const res = await fetch(`${this.url}/query`, {
      method: 'POST',
      body: new URLSearchParams({ q: `CREATE USER ${ident(username)} WITH PASSWORD ${str(password)} WITH ALL PRIVILEGES` }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    if (res.status !== 200 || /"error"/.test(text)) throw new Error(`creating the admin user failed: HTTP ${res.status} ${text}`);
  }

  /**
   * SIGTERM, wait for the exit; SIGKILL after `graceMs`. A paused influxd gets
   * SIGCONT first (a stopped process does not act on SIGTERM).
   */
  async stop(graceMs = 10_000): Promise<Exit | null> {
    const child = this.child;
    if (!child?.running) return child?.exit ?? null;
    if (this.isPaused) this.resume();
    return child.stop(graceMs);
  }

  /** An outage: stop, then start again on the same ports and data dir (data written before is kept). */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** SIGSTOP: the sockets stay open (the kernel still accepts connections) but nothing is answered. */
  pause(): void {
    if (!this.running) throw new Error('influxd is not running');
    this.child!.signal('SIGSTOP');
    this.isPaused = true;
    // kill(2) returns before the target is stopped; on a loaded machine influxd could still
    // answer a request. Wait (briefly, synchronously) until the kernel shows it stopped (state T).
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      try {
        const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        if (state === 'T' || state === 't') break;
      } catch {
        break;
      }
    }
  }

  /** SIGCONT: requests made while paused are answered now. */
  resume(): void {
    if (!this.running) throw new Error('influxd is not running');
    this.child!.signal('SIGCONT');
    this.isPaused = false;
  }

  /**
   * InfluxQL over HTTP (epoch=ms): SELECT/SHOW with GET, anything else with POST.
   * Returns the parsed `results` (statement errors are in `results[i].error`);
   * throws when the HTTP status is not 200.
   */
  async query(q: string, db?: string): Promise<InfluxResult[]> {
    const params = new URLSearchParams({ q, epoch: 'ms' });
    if (db) params.set('db', db);
    const read = /^\s*(SELECT|SHOW)\b/i.test(q) && !/\bINTO\b/i.test(q);
    const res = read
      ? await fetch(`${this.url}/query?${params}`, { headers: this.authHeaders(), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      : await fetch(`${this.url}/query`, {
          method: 'POST',
          headers: this.authHeaders(),
          body: params,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`influxd /query ${JSON.stringify(q)}: HTTP ${res.status} ${text}`);
    const body = JSON.parse(text) as { results?: InfluxResult[]; error?: string };
    if (body.error) throw new Error(`influxd /query ${JSON.stringify(q)}: ${body.error}`);
    return body.results ?? [];
  }

  /**
   * Rows of all series of all statements, as `{time, ...columns, ...tags}`
   * (tags from GROUP BY). Throws on a statement error.
   */
  async rows(q: string, db?: string): Promise<Row[]> {
    const out: Row[] = [];
    for (const r of await this.query(q, db)) {
      if (r.error) throw new Error(`influxd ${JSON.stringify(q)}: ${r.error}`);
      for (const s of r.series ?? []) {
        for (const values of s.values ?? []) {
          const row: Row = {};
          s.columns.forEach((c, i) => (row[c] = values[i]));
          Object.assign(row, s.tags ?? {});
          out.push(row);
        }
      }
    }
    return out;
  }

  async createDatabase(name: string): Promise<void> {
    const [r] = await this.query(`CREATE DATABASE ${ident(name)}`);
    if (r?.error) throw new Error(`CREATE DATABASE ${name}: ${r.error}`);
  }

  /** POST line protocol to /write (as the admin when auth is on). Does not throw on HTTP errors. */
  async write(db: string, lines: string | string[], precision: 'ns' | 'u' | 'ms' | 's' = 'ms'): Promise<WriteResult> {
    const res = await fetch(`${this.url}/write?${new URLSearchParams({ db, precision })}`, {
      method: 'POST',
      headers: { ...this.authHeaders(), 'content-type': 'text/plain; charset=utf-8' },
      body: Array.isArray(lines) ? lines.join('\n') : lines,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return { status: res.status, text: await res.text() };
  }
}

export class PortInUse extends Error {}

/** Whether something accepts TCP connections on 127.0.0.1:port right now. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ port, host: '127.0.0.1' });
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(true); // connect neither accepted nor refused within 1 s: not free
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** An InfluxQL identifier, double-quoted. */
export function ident(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** An InfluxQL string literal, single-quoted. */
function str(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Two distinct free ports (HTTP, RPC). */
async function twoPorts(): Promise<[number, number]> {
  const a = await freePort();
  for (;;) {
    const b = await freePort();
    if (b !== a) return [a, b];
  }
}

/**
 * A real influxd 1.x on 127.0.0.1:<free port> with its own temp dir (removed at
 * cleanup) and config; stopped by `cleanup`. With `auth`, the admin user exists
 * when this resolves and `query`/`rows`/`write` use it.
 */
export async function startInfluxV1(cleanup: Cleanup, opts: InfluxV1Options = {}): Promise<InfluxV1> {
  const bin = influxdBinary();
  let lastErr: Error | null = null;
  // Another process may take a free port between freePort() and influxd's bind: retry on new ports.
  for (let attempt = 0; attempt < 3; attempt++) {
    const [port, rpcPort] = await twoPorts();
    const inf = new InfluxV1(bin, port, rpcPort, opts);
    cleanup.add(`remove ${inf.dir}`, () => removeDir(inf.dir));
    cleanup.add(`stop influxd on ${inf.url}`, async () => {
      const e = await inf.stop();
      if (e?.signal === 'SIGKILL') throw new Error(`influxd did not exit on SIGTERM within 10 s\n${inf.child?.tail()}`);
    });
    try {
      await inf.start();
    } catch (err) {
      lastErr = err as Error;
      if (err instanceof PortInUse || /address already in use/.test(inf.log)) continue;
      throw err;
    }
    await inf.createAdmin();
    return inf;
  }
  throw lastErr ?? new Error('influxd did not start');
}

// ---------------------------------------------------------------------------
// InfluxDB 2.x write API contract server
// ---------------------------------------------------------------------------

/** A parsed line-protocol point (timestamp kept as written: it may exceed 2^53). */
export interface LinePoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, { type: 'float' | 'integer' | 'unsigned' | 'string' | 'boolean'; value: number | string | boolean }>;
  timestamp: string | null;
}

export class LineProtocolError extends Error {}

/** Parse one line of InfluxDB line protocol; throws LineProtocolError with InfluxDB's wording. */
export function parseLine(line: string): LinePoint {
  let i = 0;
  const n = line.length;
  // Reads up to an unescaped char in `stops`; `\x` is x for escapable chars, kept as-is otherwise.
  const read = (stops: string, escapable: string): string => {
    let out = '';
    while (i < n) {
      const c = line[i]!;
      if (c === '\\' && i + 1 < n && escapable.includes(line[i + 1]!)) {
        out += line[i + 1];
        i += 2;
        continue;
      }
      if (stops.includes(c)) break;
      out += c;
      i++;
    }
    return out;
  };
  const measurement = read(', ', ', ');
  if (!measurement) throw new LineProtocolError('missing measurement');
  const tags: Record<string, string> = {};
  while (line[i] === ',') {
    i++;
    const k = read('=, ', ',= ');
    if (line[i] !== '=') throw new LineProtocolError('missing tag value');
    i++;
    const v = read(', ', ',= ');
    if (!k || !v) throw new LineProtocolError(k ? 'missing tag value' : 'missing tag key');
    tags[k] = v;
  }
  if (line[i] !== ' ') throw new LineProtocolError('missing fields');
  while (line[i] === ' ') i++;
  const fields: LinePoint['fields'] = {};
  for (;;) {
    const k = read('=, ', ',= ');
    if (!k) throw new LineProtocolError('missing fields');
    if (line[i] !== '=') throw new LineProtocolError('invalid field format');
    i++;
    if (line[i] === '"') {
      i++;
      let s = '';
      for (;;) {
        if (i >= n) throw new LineProtocolError('unbalanced quotes');
        const c = line[i]!;
        if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
          s += line[i + 1];
          i += 2;
          continue;
        }
        if (c === '"') break;
        s += c;
        i++;
      }
      i++;
      fields[k] = { type: 'string', value: s };
    } else {
      fields[k] = fieldValue(read(', ', ''));
    }
    if (line[i] === ',') {
      i++;
      continue;
    }
    break;
  }
  let timestamp: string | null = null;
  if (i < n) {
    if (line[i] !== ' ') throw new LineProtocolError('invalid field format');
    while (line[i] === ' ') i++;
    const ts = line.slice(i).trimEnd();
    if (ts) {
      if (!/^-?\d+$/.test(ts)) throw new LineProtocolError('bad timestamp');
      timestamp = ts;
    }
  }
  return { measurement, tags, fields, timestamp };
}

function fieldValue(raw: string): LinePoint['fields'][string] {
  if (/^-?\d+i$/.test(raw)) return { type: 'integer', value: Number(raw.slice(0, -1)) };
  if (/^\d+u$/.test(raw)) return { type: 'unsigned', value: Number(raw.slice(0, -1)) };
  if (/^(t|T|true|True|TRUE)$/.test(raw)) return { type: 'boolean', value: true };
  if (/^(f|F|false|False|FALSE)$/.test(raw)) return { type: 'boolean', value: false };
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) return { type: 'float', value: Number(raw) };
  if (!raw) throw new LineProtocolError('missing field value');
  throw new LineProtocolError('invalid number');
}

/** One request the contract server received (decoded), and how it answered. */
export interface V2Request {
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Decoded (gunzipped) body. */
  body: string;
  /** Non-empty, non-comment lines of the decoded body. */
  lines: string[];
  status: number;
  response: { code: string; message: string } | null;
}

export interface V2ErrorBody {
  code: string;
  message: string;
}

export interface InfluxV2ContractOptions {
  /** The API token expected in `Authorization: Token <token>` (random by default). */
  token?: string;
  /** When set, another `org` answers 404 (any non-empty org is accepted otherwise). */
  org?: string;
  /** When set, another `bucket` answers 404 (any non-empty bucket is accepted otherwise). */
  bucket?: string;
}

export interface InfluxV2Contract {
  url: string;
  port: number;
  token: string;
  /** Every request, in arrival order. */
  requests: V2Request[];
  /** Every accepted (written) line so far, in order. */
  lines: string[];
  /**
   * The next `times` write requests (POST /api/v2/write, before any other check)
   * get `status` with `body` (a default `{code, message}` for the status when
   * omitted) and `headers` (e.g. `{ 'Retry-After': '2' }`); none of their lines is
   * written. Calls queue up.
   */
  respondNext(status: number, body?: V2ErrorBody | null, times?: number, headers?: Record<string, string>): void;
  /**
   * Lines matching `pred` are dropped, the others written, and the answer is 422
   * `{"code":"unprocessable entity","message":"failure writing points to database: partial write: <reason> dropped=K"}`
   * (reason: a field type conflict on the first dropped line, unless given). `null` clears it.
   */
  rejectLinesMatching(pred: ((line: string) => boolean) | null, reason?: (line: string) => string): void;
  close(): Promise<void>;
}

const DEFAULT_CODES: Record<number, V2ErrorBody> = {
  400: { code: 'invalid', message: 'bad request' },
  401: { code: 'unauthorized', message: 'unauthorized access' },
  403: { code: 'forbidden', message: 'insufficient permissions for write' },
  404: { code: 'not found', message: 'not found' },
  413: { code: 'request too large', message: 'unable to read data: points batch is too large' },
  422: { code: 'unprocessable entity', message: 'failure writing points to database: partial write' },
  429: { code: 'too many requests', message: 'too many requests' },
  500: { code: 'internal error', message: 'internal error' },
  503: { code: 'unavailable', message: 'service unavailable' },
};

/** What InfluxDB says about a field type conflict, for the first field of `line`. */
export function fieldTypeConflict(line: string): string {
  let p: LinePoint;
  try {
    p = parseLine(line);
  } catch {
    return 'field type conflict';
  }
  const [name, f] = Object.entries(p.fields)[0]!;
  const existing = f.type === 'float' ? 'integer' : 'float';
  return `field type conflict: input field "${name}" on measurement "${p.measurement}" is type ${f.type}, already exists as type ${existing}`;
}

/**
 * A loopback stand-in for the InfluxDB 2.x write API (see `InfluxV2Contract`):
 * `POST /api/v2/write?org=&bucket=&precision=` with `Authorization: Token`,
 * gzip or plain line protocol → 204; `GET /ping` → 204; `GET /health` → 200.
 * Errors are `{"code": ..., "message": ...}` as InfluxDB 2.x sends them.
 */
export async function startInfluxV2Contract(cleanup: Cleanup, opts: InfluxV2ContractOptions = {}): Promise<InfluxV2Contract> {
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const requests: V2Request[] = [];
  const lines: string[] = [];
  const programmed: { status: number; body: V2ErrorBody | null; headers: Record<string, string> }[] = [];
  let reject: { pred: (line: string) => boolean; reason: (line: string) => string } | null = null;

  const handle = (req: IncomingMessage, res: ServerResponse, raw: Buffer) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rec: V2Request = {
      at: Date.now(),
      method: req.method ?? '',
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      headers: req.headers,
      body: '',
      lines: [],
      status: 0,
      response: null,
    };
    requests.push(rec);
    const send = (status: number, body: V2ErrorBody | object | null, headers: Record<string, string> = {}) => {
      rec.status = status;
      if (body && 'code' in body && 'message' in body) rec.response = body as V2ErrorBody;
      const h: Record<string, string> = { 'X-Influxdb-Build': 'OSS', 'X-Influxdb-Version': 'v2-contract', ...headers };
      if (body === null) {
        res.writeHead(status, h).end();
      } else {
        res.writeHead(status, { ...h, 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
      }
    };
    const fail = (status: number, code: string, message: string) => send(status, { code, message });

    if (u.pathname === '/ping' && (req.method === 'GET' || req.method === 'HEAD')) return send(204, null);
    if (u.pathname === '/health' && req.method === 'GET') {
      return send(200, { name: 'influxdb', message: 'ready for queries and writes', status: 'pass', checks: [], version: 'v2-contract', commit: 'contract' });
    }
    if (u.pathname !== '/api/v2/write') return fail(404, 'not found', 'path not found');
    if (req.method !== 'POST') return fail(405, 'method not allowed', 'method not allowed');

    // Decode first (best effort) so that even rejected requests record their lines.
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    let decoded: string | null = null;
    let gzipError = false;
    if (encoding === 'gzip') {
      try {
        decoded = gunzipSync(raw).toString('utf8');
      } catch {
        gzipError = true;
      }
    } else if (encoding === 'identity' || encoding === '') {
      decoded = raw.toString('utf8');
    }
    if (decoded !== null) {
      rec.body = decoded;
      rec.lines = decoded.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    }

    const next = programmed[0];
    if (next) {
      programmed.shift();
      return send(next.status, next.body, next.headers);
    }
    const auth = req.headers['authorization'] ?? '';
    if (!/^Token /.test(auth) || auth.slice('Token '.length) !== token) return fail(401, 'unauthorized', 'unauthorized access');
    const precision = u.searchParams.get('precision') || 'ns';
    if (!['ns', 'us', 'ms', 's'].includes(precision)) {
      return fail(400, 'invalid', 'invalid precision; valid precision units are ns, us, ms, and s');
    }
    const bucket = u.searchParams.get('bucket') || u.searchParams.get('bucketID') || '';
    if (!bucket) return fail(404, 'not found', 'bucket not found');
    if (gzipError) return fail(400, 'invalid', 'gzipped HTTP body contains an invalid header');
    if (decoded === null) return fail(415, 'unsupported media type', `unsupported Content-Encoding: ${encoding}`);
    const org = u.searchParams.get('org') || u.searchParams.get('orgID') || '';
    if (!org) return fail(400, 'invalid', 'Please provide either orgID or org');
    if (opts.org !== undefined && org !== opts.org) return fail(404, 'not found', `organization name "${org}" not found`);
    if (opts.bucket !== undefined && bucket !== opts.bucket) return fail(404, 'not found', `bucket "${bucket}" not found`);
    // A malformed line rejects the whole batch: 400 with the first malformed line.
    for (const l of rec.lines) {
      try {
        parseLine(l);
      } catch (err) {
        if (!(err instanceof LineProtocolError)) throw err;
        return fail(400, 'invalid', `unable to parse '${l}': ${err.message}`);
      }
    }
    const dropped: string[] = [];
    for (const l of rec.lines) (reject?.pred(l) ? dropped : lines).push(l);
    if (dropped.length && reject) {
      return fail(
        422,
        'unprocessable entity',
        `failure writing points to database: partial write: ${reject.reason(dropped[0]!)} dropped=${dropped.length}`,
      );
    }
    return send(204, null);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks));
      } catch (err) {
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8' });
          res.end(JSON.stringify({ code: 'internal error', message: (err as Error).message }));
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | null = null;
  const close = () =>
    (closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
  cleanup.add(`close InfluxDB v2 contract server on ${port}`, close);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    token,
    requests,
    lines,
    respondNext(status, body, times = 1, headers = {}) {
      const b = body === undefined ? (DEFAULT_CODES[status] ?? { code: 'internal error', message: `status ${status}` }) : body;
      for (let k = 0; k < times; k++) programmed.push({ status, body: status === 204 ? null : b, headers });
    },
    rejectLinesMatching(pred, reason = fieldTypeConflict) {
      reject = pred ? { pred, reason } : null;
    },
    close,
  };
}
