/**
 * The SNMP probe (net-snmp, v2c and v3 USM): one round = GET of a few OIDs per
 * target, after walking ifTable/hrProcessorTable once to learn the indexes.
 *
 * It keeps state per target, so it is a factory (`createSnmpProbe`), one per
 * gateway: the net-snmp session (one UDP socket, and for v3 the agent's engine
 * id, boots and time learned by discovery, RFC 3414 §4), the interface indexes,
 * and the previous round's octet counters for the rates. A session is dropped
 * after any failure and recreated next round, so a rebooted agent (new engine
 * boots, renumbered interfaces) costs one round at most.
 *
 * net-snmp's own retries are kept low: the scheduler's interval is the real
 * retry, and the whole round must fit in the target's timeout.
 */
import { isIPv6 } from 'node:net';
import snmp from 'net-snmp';
import { Counter, Gauge, type Registry } from 'prom-client';
import { CodedError } from '../../errors.js';
import type { Probe, ProbeOutcome, ProbeRunContext } from '../contract.js';
import { classifyNetError, downOutcome } from '../outcome.js';
import type { CounterSnapshot } from './counters.js';
import { HR_PROCESSOR_LOAD, IF, USM_STATS } from './mibs.js';
import { isAbsent, numberOf, planOids, readRound, textOf, type Discovery, type ResolvedInterface, type Varbind } from './mapping.js';
import type { SnmpTarget } from './settings.js';

export interface SnmpProbeOptions {
  /** Where ce_snmp_* metrics go: the gateway's `ctx.metrics.registry`. */
  registry?: Registry;
  /** Where `communityEnv` / `authKeyEnv` / `privKeyEnv` are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Named interfaces and processors are looked up again this often (ifIndex may change at reboot). */
  rediscoverAfterMs?: number;
  /** Monotonic clock (ms) for rates and latency; default performance.now. */
  monotonicNow?: () => number;
}

export interface SnmpProbe extends Probe<SnmpTarget> {
  /** Open net-snmp sessions (UDP sockets). */
  sessionCount(): number;
  close(): Promise<void>;
}

/** Varbinds per GET: far below any agent's message size (RFC 3417 §3.2: at least 484 octets must be accepted). */
const OIDS_PER_GET = 24;
const MAX_REPETITIONS = 20;
/** Rows a walk reads at most: a runaway agent must not hold the round. */
const MAX_WALK_ROWS = 4096;
const DEFAULT_REDISCOVER_MS = 10 * 60_000;

interface Credentials {
  community?: string;
  user?: snmp.User;
}

interface TargetState {
  session: snmp.Session | undefined;
  /** Identity of the session's settings (secrets, timeout): a change opens a new one. */
  sessionKey: string;
  /** The session got at least one response (for telling a wrong privacy key from a dead agent). */
  answered: boolean;
  discovery: Discovery | undefined;
  rediscover: boolean;
  prev: CounterSnapshot | undefined;
}

/** Why a round stopped early (abort = the scheduler's timeout or the gateway stopping). */
class RoundAborted extends Error {}

export function createSnmpProbe(options: SnmpProbeOptions = {}): SnmpProbe {
  const env = options.env ?? process.env;
  const rediscoverAfterMs = options.rediscoverAfterMs ?? DEFAULT_REDISCOVER_MS;
  const mono = options.monotonicNow ?? (() => performance.now());
  const states = new Map<string, TargetState>();
  const keys = new WeakMap<SnmpTarget, string>();
  const metrics = options.registry ? snmpMetrics(options.registry, () => sessionCount()) : undefined;

  function sessionCount(): number {
    let n = 0;
    for (const s of states.values()) if (s.session) n++;
    return n;
  }

  function stateFor(target: SnmpTarget): TargetState {
    let key = keys.get(target);
    if (key === undefined) {
      key = JSON.stringify(target);
      keys.set(target, key);
    }
    let state = states.get(key);
    if (!state) {
      state = { session: undefined, sessionKey: '', answered: false, discovery: undefined, rediscover: false, prev: undefined };
      states.set(key, state);
    }
    return state;
  }

  function dropSession(state: TargetState): void {
    const s = state.session;
    state.session = undefined;
    state.answered = false;
    if (s) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }

  function openSession(state: TargetState, target: SnmpTarget, creds: Credentials, timeoutMs: number, log: ProbeRunContext['log']): snmp.Session {
    // One request's timeout: the round's budget shared by the sends of one request.
    const requestTimeoutMs = Math.max(100, Math.floor(timeoutMs / (target.retries + 1)));
    const sessionKey = JSON.stringify([creds, requestTimeoutMs]);
    if (state.session && state.sessionKey === sessionKey) return state.session;
    dropSession(state);
    const opts: snmp.SessionOptions = {
      port: target.port,
      retries: target.retries,
      timeout: requestTimeoutMs,
      transport: isIPv6(target.host) ? 'udp6' : 'udp4',
      ...(target.context !== undefined ? { context: target.context } : {}),
    };
    const session =
      target.version === '3'
        ? snmp.createV3Session(target.host, creds.user!, { ...opts, version: snmp.Version3 })
        : snmp.createSession(target.host, creds.community!, { ...opts, version: snmp.Version2c });
    // net-snmp emits 'error' for a datagram it cannot decode; without a listener that would throw.
    session.on('error', (err: unknown) => log.debug({ device: target.device, err: String(err) }, 'snmp: undecodable datagram ignored'));
    state.session = session;
    state.sessionKey = sessionKey;
    state.answered = false;
    return session;
  }

  async function round(state: TargetState, session: snmp.Session, target: SnmpTarget, run: ProbeRunContext): Promise<ProbeOutcome> {
    const now = mono();
    if (!state.discovery || state.rediscover || now - state.discovery.atMs > rediscoverAfterMs) {
      const { discovery, requests } = await discover(session, target, now);
      current(state, session);
      state.discovery = discovery;
      state.rediscover = false;
      // A walk that came back was decrypted and authenticated: the credentials are right.
      if (requests > 0) state.answered = true;
      metrics?.discoveries.inc();
    }
    const discovery = state.discovery;
    const oids = planOids(target, discovery);
    const values = new Map<string, Varbind>();
    let latencyMs = 0;
    for (let i = 0; i < oids.length; i += OIDS_PER_GET) {
      const chunk = oids.slice(i, i + OIDS_PER_GET);
      const t0 = mono();
      const varbinds = await get(session, chunk);
      current(state, session);
      // The round trip of the first GET (sysUpTime and the interfaces): the agent's responsiveness.
      if (i === 0) latencyMs = mono() - t0;
      chunk.forEach((oid, k) => {
        const vb = varbinds[k];
        if (vb) values.set(oid, vb);
      });
    }
    state.answered = true;
    const atMs = mono();
    const walked = new Map<string, Varbind[]>();
    for (const [field, extra] of Object.entries(target.oids)) {
      if (extra.walk) walked.set(field, await walk(session, extra.oid));
    }
    current(state, session);

    const reading = readRound({ target, discovery, values, walked, prev: state.prev, atMs, latencyMs });
    if (target.profile === 'if-mib') state.prev = reading.snapshot;
    if (reading.rate && !reading.rate.ok && (reading.rate.why === 'agent-restarted' || reading.rate.why === 'counter-reset')) {
      metrics?.discontinuities.inc();
      run.log.info({ device: target.device, why: reading.rate.why }, 'snmp: counter discontinuity, no rate this round');
    }
    // An agent restart may renumber interfaces (RFC 2863 §3.1.5); a vanished row says the same.
    if (reading.rate && !reading.rate.ok && reading.rate.why === 'agent-restarted') state.rediscover = true;
    if (reading.vanished.some((r) => typeof r === 'string') || reading.processorsChanged) state.rediscover = true;
    for (const object of reading.missing) metrics?.missing.labels(object).inc();
    if (reading.missing.length > 0) run.log.debug({ device: target.device, missing: reading.missing }, 'snmp: objects the agent does not have');

    const outcome: ProbeOutcome = { fields: reading.fields, verdict: reading.verdict };
    const unknown = [...discovery.unresolved, ...reading.vanished.filter((r) => !discovery.unresolved.includes(String(r)))];
    if (unknown.length > 0) {
      const known = discovery.knownNames.slice(0, 20).join(', ') || '(names not read: only ifIndex numbers are configured)';
      outcome.error = {
        code: 'CE_SNMP_INTERFACE_UNKNOWN',
        detail: `${where(target)}: interface ${unknown.map((u) => JSON.stringify(u)).join(', ')} not found (ifName, ifDescr, ifAlias or ifIndex); the agent has: ${known}`,
      };
    }
    return outcome;
  }

  return {
    type: 'snmp',
    sessionCount,
    async run(target: SnmpTarget, run: ProbeRunContext): Promise<ProbeOutcome> {
      const state = stateFor(target);
      const creds = credentials(target, env); // throws CE_PROBE_CONFIG: nothing is stored for the round
      if (run.signal.aborted) return timeoutOutcome(target, run.timeoutMs, false);
      let session: snmp.Session;
      try {
        session = openSession(state, target, creds, run.timeoutMs, run.log);
      } catch (err) {
        dropSession(state);
        throw new CodedError('CE_PROBE_CONFIG', `${where(target)}: cannot open an SNMP session: ${(err as Error).message}`);
      }
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new RoundAborted());
        run.signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        return await Promise.race([round(state, session, target, run), aborted]);
      } catch (err) {
        // v3: the agent answered engine discovery (net-snmp keeps what it learned) but nothing after it.
        const engineAnswered = target.version === '3' && sessionLearnedEngine(session) && !state.answered;
        dropSession(state);
        return failureOutcome(err, target, run.timeoutMs, engineAnswered);
      } finally {
        if (onAbort) run.signal.removeEventListener('abort', onAbort);
      }
    },
    async close(): Promise<void> {
      for (const state of states.values()) dropSession(state);
      states.clear();
    },
  };
}

/** A round that outlived its abort (its session was closed and replaced) must not touch the target's state. */
function current(state: TargetState, session: snmp.Session): void {
  if (state.session !== session) throw new RoundAborted();
}

function where(target: SnmpTarget): string {
  return `${target.host}:${target.port}`;
}

/** Secrets from the environment variables the config names (v3 keys are never inline). */
function credentials(target: SnmpTarget, env: NodeJS.ProcessEnv): Credentials {
  const fromEnv = (key: 'communityEnv' | 'authKeyEnv' | 'privKeyEnv'): string => {
    const name = target[key];
    const value = name !== undefined ? env[name] : undefined;
    if (value === undefined || value === '') {
      throw new CodedError('CE_PROBE_CONFIG', `${where(target)} (${target.device}): ${key} names the environment variable ${name ?? '(none)'}, which is not set`);
    }
    return value;
  };
  if (target.version === '2c') {
    return { community: target.community ?? fromEnv('communityEnv') };
  }
  if (target.user === undefined) throw new CodedError('CE_PROBE_CONFIG', `${where(target)} (${target.device}): SNMPv3 target without user`);
  const user: snmp.User = { name: target.user, level: snmp.SecurityLevel[target.securityLevel] };
  if (target.securityLevel !== 'noAuthNoPriv') {
    user.authProtocol = snmp.AuthProtocols[target.authProtocol];
    user.authKey = fromEnv('authKeyEnv');
  }
  if (target.securityLevel === 'authPriv') {
    user.privProtocol = snmp.PrivProtocols[target.privProtocol];
    user.privKey = fromEnv('privKeyEnv');
  }
  return { user };
}

/** net-snmp stores the authoritative engine's parameters once a v3 discovery report arrived (index.js onMsg). */
function sessionLearnedEngine(session: snmp.Session): boolean {
  const params = (session as unknown as { msgSecurityParameters?: { msgAuthoritativeEngineID?: unknown } }).msgSecurityParameters;
  return params?.msgAuthoritativeEngineID !== undefined;
}

function get(session: snmp.Session, oids: string[]): Promise<Varbind[]> {
  return new Promise((resolve, reject) => {
    session.get(oids, (err, varbinds) => (err ? reject(err) : resolve(varbinds ?? [])));
  });
}

/** All rows of a table column (GETBULK for v2c/v3), at most MAX_WALK_ROWS. */
function walk(session: snmp.Session, oid: string): Promise<Varbind[]> {
  return new Promise((resolve, reject) => {
    const rows: Varbind[] = [];
    session.subtree(
      oid,
      MAX_REPETITIONS,
      (varbinds) => {
        for (const vb of varbinds) if (!isAbsent(vb)) rows.push(vb);
        return rows.length >= MAX_WALK_ROWS;
      },
      (err) => (err ? reject(err) : resolve(rows)),
    );
  });
}

/** The last sub-identifier of a column instance: the row index (ifIndex, hrDeviceIndex). */
function rowIndex(columnOid: string, vb: Varbind): number | undefined {
  const rest = vb.oid.startsWith(columnOid + '.') ? vb.oid.slice(columnOid.length + 1) : '';
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

/**
 * Names → ifIndex (ifName first, the short name switches and firewalls show:
 * "ether1", "igb0", "Gi0/1"; then ifDescr; then ifAlias, the description the
 * admin typed: "WAN VNPT"), and the processors' hrDeviceIndex. Exact match
 * first, then case-insensitive.
 */
async function discover(session: snmp.Session, target: SnmpTarget, now: number): Promise<{ discovery: Discovery; requests: number }> {
  let requests = 0;
  const interfaces: ResolvedInterface[] = [];
  let pending: string[] = [];
  for (const ref of target.interfaces) {
    if (typeof ref === 'number') interfaces.push({ ref, ifIndex: ref });
    else pending.push(ref);
  }
  const knownNames: string[] = [];
  if (target.profile !== 'ups-mib') {
    for (const column of [IF.ifName, IF.ifDescr, IF.ifAlias]) {
      if (pending.length === 0) break;
      const rows = await walk(session, column);
      requests++;
      const names = new Map<number, string>();
      for (const vb of rows) {
        const idx = rowIndex(column, vb);
        const name = textOf(vb)?.trim();
        if (idx !== undefined && name) names.set(idx, name);
      }
      if (column !== IF.ifAlias) for (const n of names.values()) if (!knownNames.includes(n)) knownNames.push(n);
      pending = pending.filter((ref) => {
        const hit =
          [...names].find(([, n]) => n === ref) ?? [...names].find(([, n]) => n.toLowerCase() === ref.toLowerCase());
        if (hit) interfaces.push({ ref, ifIndex: hit[0] });
        return !hit;
      });
    }
  }
  // Keep the configured order (link_up and rates do not depend on it, the logs do).
  const order = new Map(target.interfaces.map((r, i) => [String(r), i]));
  interfaces.sort((a, b) => (order.get(String(a.ref)) ?? 0) - (order.get(String(b.ref)) ?? 0));

  let processors: number[] = [];
  if (target.profile !== 'ups-mib') {
    const rows = await walk(session, HR_PROCESSOR_LOAD);
    requests++;
    processors = rows.filter((vb) => numberOf(vb) !== undefined).map((vb) => rowIndex(HR_PROCESSOR_LOAD, vb)).filter((i): i is number => i !== undefined);
  }
  return { discovery: { interfaces, unresolved: pending, knownNames, processors, atMs: now }, requests };
}

function timeoutOutcome(target: SnmpTarget, timeoutMs: number, engineAnswered: boolean): ProbeOutcome {
  if (engineAnswered && target.securityLevel === 'authPriv') {
    // RFC 3414 §3.2 step 8 wants a usmStatsDecryptionErrors report here, but an agent
    // that cannot decrypt the scoped PDU usually just drops it (net-snmp's snmpd counts
    // snmpInASNParseErrs): silence after a successful discovery points at the privacy key.
    return {
      fields: { probe_ok: true },
      verdict: { state: 'DEGRADED', reason: 'auth-failed' },
      error: {
        code: 'CE_SNMP_AUTH',
        detail:
          `${where(target)}: the agent answered SNMPv3 engine discovery but not the encrypted request within ${timeoutMs} ms: ` +
          `the privacy passphrase (${target.privKeyEnv ?? 'privKeyEnv'}) or privProtocol (${target.privProtocol}) of user "${target.user}" likely does not match the device`,
      },
    };
  }
  const hint =
    target.version === '2c'
      ? 'with SNMP v2c a wrong community looks exactly like this, since the agent drops such requests without a word (RFC 3584 §5.2.1): ' +
        "check the community as well as the address, the port, the device's SNMP allow-list and firewall"
      : "check the address, the port, that SNMP is enabled on the device and that the gateway's address is allowed";
  return downOutcome({ code: 'CE_SNMP_TIMEOUT', reason: 'timeout' }, `${where(target)}: no SNMP answer within ${timeoutMs} ms; ${hint}`);
}

/** usmStats report texts net-snmp puts in its ResponseInvalidError (index.js UsmStats) → the RFC 3414 counter, and what to fix. */
const USM_REPORTS: { match: RegExp; counter: keyof typeof USM_STATS; fix: (t: SnmpTarget) => string }[] = [
  { match: /unknown user name/i, counter: 'unknownUserNames', fix: (t) => `user "${t.user}" does not exist on the device` },
  {
    match: /wrong digest/i,
    counter: 'wrongDigests',
    fix: (t) => `the authentication passphrase (${t.authKeyEnv ?? 'authKeyEnv'}) or authProtocol (${t.authProtocol}) does not match user "${t.user}" on the device`,
  },
  {
    match: /decryption error/i,
    counter: 'decryptionErrors',
    fix: (t) => `the privacy passphrase (${t.privKeyEnv ?? 'privKeyEnv'}) or privProtocol (${t.privProtocol}) does not match user "${t.user}" on the device`,
  },
  {
    match: /unsupported security level/i,
    counter: 'unsupportedSecLevels',
    fix: (t) => `user "${t.user}" is not set up for securityLevel ${t.securityLevel} on the device`,
  },
  { match: /not in time window/i, counter: 'notInTimeWindows', fix: () => 'engine time synchronisation failed (transient after an agent restart)' },
  { match: /unknown engine id/i, counter: 'unknownEngineIDs', fix: () => 'the agent did not accept its own engine id back (engine discovery failed)' },
];

/** net-snmp ResponseInvalidCode values (index.js). */
const E_COULD_NOT_DECRYPT = 4;
const E_AUTH_FAILURE = 5;
/** SNMPv2 error-status authorizationError (RFC 3416 §3). */
const AUTHORIZATION_ERROR = 16;

function authOutcome(target: SnmpTarget, detail: string): ProbeOutcome {
  return { fields: { probe_ok: true }, verdict: { state: 'DEGRADED', reason: 'auth-failed' }, error: { code: 'CE_SNMP_AUTH', detail: `${where(target)}: ${detail}` } };
}

export function failureOutcome(err: unknown, target: SnmpTarget, timeoutMs: number, engineAnswered: boolean): ProbeOutcome {
  // "Socket forcibly closed": close() (gateway stop) cancelled the request.
  const closed = err instanceof Error && /socket forcibly closed/i.test(err.message);
  if (err instanceof RoundAborted || err instanceof snmp.RequestTimedOutError || closed) return timeoutOutcome(target, timeoutMs, engineAnswered);
  if (err instanceof snmp.ResponseInvalidError) {
    if (err.code === E_AUTH_FAILURE) {
      const report = USM_REPORTS.find((r) => r.match.test(err.message));
      if (report) return authOutcome(target, `the agent refused the SNMPv3 request with a usmStats${cap(report.counter)} report (RFC 3414 §3.2): ${report.fix(target)}`);
      return authOutcome(target, `SNMPv3 authentication of the response failed (${err.message}): check authProtocol and the passphrases`);
    }
    if (err.code === E_COULD_NOT_DECRYPT) return authOutcome(target, `the response could not be decrypted (${err.message}): check privProtocol and the privacy passphrase`);
    return snmpErrorOutcome(target, `invalid response: ${err.message}`);
  }
  if (err instanceof snmp.RequestFailedError) {
    if (err.status === AUTHORIZATION_ERROR) {
      return authOutcome(
        target,
        `authorizationError: ${target.version === '3' ? `user "${target.user}"` : 'the community'} has no read access to these objects (VACM, RFC 3415: rouser/rocommunity and its view)`,
      );
    }
    return snmpErrorOutcome(target, `error status ${err.message}`);
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_OSSL_EVP_UNSUPPORTED') {
    // Node ≥ 17 (OpenSSL 3) has no DES without the legacy provider (net-snmp README, "Compatibility note on DES").
    throw new CodedError('CE_PROBE_CONFIG', `${where(target)}: privProtocol ${target.privProtocol} is not available in this Node.js (OpenSSL 3); use aes on the device, or run node with --openssl-legacy-provider`);
  }
  if (typeof code === 'string') {
    const failure = classifyNetError(err);
    return downOutcome(failure, `${where(target)}: ${code}`);
  }
  return snmpErrorOutcome(target, err instanceof Error ? err.message : String(err));
}

function snmpErrorOutcome(target: SnmpTarget, detail: string): ProbeOutcome {
  return { fields: { probe_ok: true }, verdict: { state: 'DEGRADED', reason: 'snmp-error' }, error: { code: 'CE_SNMP_RESPONSE', detail: `${where(target)}: ${detail}` } };
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function snmpMetrics(registry: Registry, sessions: () => number) {
  // Several probes may share a registry (tests): reuse what is already there.
  const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
  const missing =
    existing<Counter<'object'>>('ce_snmp_objects_missing_total') ??
    new Counter({
      name: 'ce_snmp_objects_missing_total',
      help: 'MIB objects an SNMP agent answered noSuchObject/noSuchInstance for; the field was left out of that reading',
      labelNames: ['object'] as const,
      registers: [registry],
    });
  const discontinuities =
    existing<Counter>('ce_snmp_counter_discontinuities_total') ??
    new Counter({
      name: 'ce_snmp_counter_discontinuities_total',
      help: 'SNMP rounds without an interface rate because the agent restarted or a counter was reset',
      registers: [registry],
    });
  const discoveries =
    existing<Counter>('ce_snmp_discoveries_total') ??
    new Counter({
      name: 'ce_snmp_discoveries_total',
      help: 'Walks of ifTable/ifXTable/hrProcessorTable to resolve interface names and processors',
      registers: [registry],
    });
  if (!existing('ce_snmp_sessions')) {
    new Gauge({
      name: 'ce_snmp_sessions',
      help: 'Open SNMP sessions (one UDP socket per target)',
      registers: [registry],
      collect() {
        this.set(sessions());
      },
    });
  }
  return { missing, discontinuities, discoveries };
}
