/**
 * fping (https://fping.org, Debian package `fping`) runs the ICMP echoes: Node
 * has no raw sockets, and one fping process pings many hosts in parallel, so the
 * scheduler batches every ICMP target due in the same second into one run
 * (spawning a `ping` per target would cost a fork/exec each, far too much at 300
 * targets every 10 s on a Pi).
 *
 *   fping -C <count> -q -p <period ms> -t <timeout ms> -i <interval ms> host...
 *
 * -C prints, at the end, one line per host on stderr: `host : 0.10 0.12 -`
 * (RTT in ms per echo request, `-` for no reply). Exit status (fping(8)): 0 all
 * hosts answered, 1 some did not, 2 a name did not resolve, 3 bad arguments,
 * 4 a system call failed (e.g. no ICMP socket: missing cap_net_raw).
 */
import { spawn } from 'node:child_process';
import { CodedError } from '../errors.js';

export interface FpingTiming {
  /** -p: between two echo requests to the same host. */
  periodMs: number;
  /** -t: how long to wait for each reply. */
  perPingTimeoutMs: number;
  /** -i: between two echo requests to different hosts (spreads the burst). */
  intervalMs: number;
}

/** Margin for fping's start-up and exit inside the budget. */
const MARGIN_MS = 100;

/**
 * fping timing that ends within `budgetMs`: the run lasts about
 * (count - 1) × period + hosts × interval + per-ping timeout. Periods of at least
 * 20 ms and intervals of at least 1 ms stay inside what fping allows a non-root
 * user (its "too risky for mere mortals" limits).
 */
export function fpingTiming(count: number, budgetMs: number, hostCount: number): FpingTiming {
  const intervalMs = Math.max(1, Math.min(10, Math.floor(200 / Math.max(1, hostCount))));
  const periodMs = Math.max(20, Math.min(1000, Math.floor(budgetMs / (2 * count))));
  const perPingTimeoutMs = Math.max(50, budgetMs - (count - 1) * periodMs - hostCount * intervalMs - MARGIN_MS);
  return { periodMs, perPingTimeoutMs, intervalMs };
}

/** Per host, the RTT of each echo request in ms, or null for no reply. */
export type FpingResults = Map<string, (number | null)[]>;

const LINE = /^(\S+)\s+:\s+((?:[\d.]+|-)(?:\s+(?:[\d.]+|-))*)\s*$/;

/** Parse fping -C -q output; other lines (ICMP errors, warnings) are ignored. */
export function parseFpingOutput(text: string): FpingResults {
  const out: FpingResults = new Map();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line.trim());
    if (!m || out.has(m[1]!)) continue;
    out.set(
      m[1]!,
      m[2]!.split(/\s+/).map((x) => (x === '-' ? null : Number(x))),
    );
  }
  return out;
}

export interface FpingRun {
  fpingPath: string;
  hosts: string[];
  count: number;
  budgetMs: number;
  signal: AbortSignal;
}

/** Output beyond this is not kept (a line per host; 1 MiB is thousands of hosts). */
const MAX_OUTPUT = 1024 * 1024;

/**
 * One fping run over `hosts` (duplicates removed). Resolves with the per-host
 * results; throws CodedError for gateway-side failures (fping missing, no ICMP
 * socket, bad arguments, killed by the signal).
 */
export function runFping(run: FpingRun): Promise<FpingResults> {
  const hosts = [...new Set(run.hosts)];
  const t = fpingTiming(run.count, run.budgetMs, hosts.length);
  const args = ['-C', String(run.count), '-q', '-p', String(t.periodMs), '-t', String(t.perPingTimeoutMs), '-i', String(t.intervalMs), ...hosts];
  return new Promise<FpingResults>((resolve, reject) => {
    if (run.signal.aborted) return reject(new CodedError('CE_PROBE_TIMEOUT', 'fping not started: aborted'));
    let output = '';
    // Its own process group, so that an abort kills fping and anything a wrapper started (kill(-pgid)).
    const child = spawn(run.fpingPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const keep = (d: string) => {
      if (output.length < MAX_OUTPUT) output += d;
    };
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
    const onAbort = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // the group is gone already, or the platform has none
      }
    };
    run.signal.addEventListener('abort', onAbort, { once: true });
    let spawnError: NodeJS.ErrnoException | undefined;
    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = err;
    });
    child.on('close', (code, sig) => {
      run.signal.removeEventListener('abort', onAbort);
      if (spawnError) {
        const missing = spawnError.code === 'ENOENT' || spawnError.code === 'EACCES';
        return reject(
          new CodedError(missing ? 'CE_PROBE_TOOL_MISSING' : 'CE_PROBE_CONFIG', `${run.fpingPath}: ${spawnError.code ?? spawnError.message} (apt-get install fping)`),
        );
      }
      if (sig !== null || run.signal.aborted) {
        return reject(new CodedError('CE_PROBE_TIMEOUT', `fping did not finish within ${run.budgetMs} ms (${hosts.length} hosts); killed`));
      }
      if (code === 4) {
        return reject(new CodedError('CE_PROBE_TOOL_MISSING', `fping cannot ping (needs cap_net_raw or root): ${output.trim().slice(0, 200)}`));
      }
      if (code === 3 || (code !== 0 && code !== 1 && code !== 2)) {
        return reject(new CodedError('CE_PROBE_CONFIG', `fping exit ${code}: ${output.trim().slice(0, 200)}`));
      }
      resolve(parseFpingOutput(output));
    });
  });
}
