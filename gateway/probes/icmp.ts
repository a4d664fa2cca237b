/**
 * ICMP echo probe (RFC 792) through fping: loss % and mean round-trip time per
 * host, judged by the target's thresholds. The scheduler batches targets (one
 * fping per group of targets due together, see source.ts); `createIcmpProbe` is
 * the same thing for one target, for the Probe contract.
 *
 * Network devices (WAN anchor, TSLCD far end, firewall) also get their path
 * fields `rtt_ms` / `loss_pct` (devices/network: the path capability), so a line
 * probed by the gateway and one measured by an agent look the same.
 */
import type { FieldValue, Verdict } from '../../devices/define.js';
import type { Probe, ProbeOutcome, ProbeRunContext } from './contract.js';
import { runFping, type FpingResults } from './fping.js';
import { roundMs } from './outcome.js';
import type { IcmpTarget } from './settings.js';

export interface IcmpJob {
  target: IcmpTarget;
  /** The device kind has `rtt_ms` and `loss_pct` (the network kind): fill them too. */
  pathFields: boolean;
}

/** One host's fping result → outcome. `rtts` undefined: fping printed nothing for the host. */
export function icmpOutcome(job: IcmpJob, rtts: (number | null)[] | undefined): ProbeOutcome {
  const { target } = job;
  if (rtts === undefined) {
    return {
      fields: { probe_ok: false },
      verdict: { state: 'DOWN', reason: 'unreachable' },
      error: { code: 'CE_PROBE_UNREACHABLE', detail: `${target.host}: fping gave no result (name not resolved?)` },
    };
  }
  const answered = rtts.filter((x): x is number => x !== null);
  const sent = rtts.length;
  const lossPct = Math.round(((sent - answered.length) / sent) * 1000) / 10;
  const fields: Record<string, FieldValue> = { probe_ok: answered.length > 0, probe_loss_pct: lossPct };
  if (job.pathFields) fields['loss_pct'] = lossPct;
  if (answered.length === 0) {
    return {
      fields,
      verdict: { state: 'DOWN', reason: 'no-answer' },
      error: { code: 'CE_PROBE_NO_ANSWER', detail: `${target.host}: no reply to ${sent} ICMP echo requests` },
    };
  }
  const meanRtt = roundMs(answered.reduce((a, b) => a + b, 0) / answered.length);
  fields['probe_latency_ms'] = meanRtt;
  if (job.pathFields) fields['rtt_ms'] = meanRtt;
  let verdict: Verdict = { state: 'UP', reason: 'ok' };
  if (lossPct >= target.lossDownPct) verdict = { state: 'DOWN', reason: 'loss-high' };
  else if (lossPct >= target.lossDegradedPct) verdict = { state: 'DEGRADED', reason: 'loss-high' };
  else if (meanRtt > target.rttDegradedMs) verdict = { state: 'DEGRADED', reason: 'rtt-high' };
  return { fields, verdict };
}

/** Outcomes of a batch, in the order of `jobs`, from one fping run's results. */
export function icmpBatchOutcomes(jobs: readonly IcmpJob[], results: FpingResults): ProbeOutcome[] {
  return jobs.map((job) => icmpOutcome(job, results.get(job.target.host)));
}

/** One fping run for a group of targets with the same count and budget. */
export async function runIcmpBatch(fpingPath: string, jobs: readonly IcmpJob[], budgetMs: number, signal: AbortSignal): Promise<ProbeOutcome[]> {
  const count = jobs[0]?.target.count ?? 3;
  const results = await runFping({ fpingPath, hosts: jobs.map((j) => j.target.host), count, budgetMs, signal });
  return icmpBatchOutcomes(jobs, results);
}

/** The Probe contract for a single ICMP target (the scheduler batches instead). */
export function createIcmpProbe(fpingPath = 'fping', opts: { pathFields?: boolean } = {}): Probe<IcmpTarget> {
  return {
    type: 'icmp',
    async run(target: IcmpTarget, run: ProbeRunContext): Promise<ProbeOutcome> {
      const [outcome] = await runIcmpBatch(fpingPath, [{ target, pathFields: opts.pathFields === true }], run.timeoutMs, run.signal);
      return outcome!;
    },
  };
}
