/**
 * TCP connect probe: the three-way handshake completes (RFC 9293 §3.5), then
 * the socket is closed at once. A RST is `refused` (the host is up, the service
 * is not), silence until the timeout is `timeout` (host down, or a firewall
 * dropping SYNs).
 */
import { connect, type Socket } from 'node:net';
import type { Probe, ProbeOutcome, ProbeRunContext } from './contract.js';
import { classifyNetError, downOutcome, latencyVerdict, roundMs } from './outcome.js';
import type { TcpTarget } from './settings.js';

export const tcpProbe: Probe<TcpTarget> = {
  type: 'tcp',
  run(target: TcpTarget, run: ProbeRunContext): Promise<ProbeOutcome> {
    const where = `${target.host}:${target.port}`;
    return new Promise<ProbeOutcome>((resolve) => {
      const started = performance.now();
      let settled = false;
      let socket: Socket | undefined;
      const finish = (outcome: ProbeOutcome) => {
        if (settled) return;
        settled = true;
        run.signal.removeEventListener('abort', onAbort);
        socket?.destroy();
        resolve(outcome);
      };
      const onAbort = () =>
        finish(downOutcome({ code: 'CE_PROBE_TIMEOUT', reason: 'timeout' }, `${where}: no TCP connection within ${run.timeoutMs} ms`));
      if (run.signal.aborted) return onAbort();
      run.signal.addEventListener('abort', onAbort, { once: true });
      socket = connect({ host: target.host, port: target.port });
      socket.once('connect', () => {
        const latency = roundMs(performance.now() - started);
        finish({ fields: { probe_ok: true, probe_latency_ms: latency }, verdict: latencyVerdict(latency, target.latencyDegradedMs) });
      });
      socket.on('error', (err) => {
        const failure = classifyNetError(err);
        finish(downOutcome(failure, `${where}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      });
    });
  },
};
