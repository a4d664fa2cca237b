/**
 * A pseudo-terminal pair from Debian's socat, standing in for a USB-RS485 adapter
 * and the bus behind it: the gateway opens `gwPath`, the slave simulator opens
 * `devPath`. Stopping socat makes both ptys vanish (the ports get EIO/close and the
 * links disappear: an unplugged adapter); `start()` again brings the same link
 * paths back with new ptys (the adapter plugged back in).
 *
 * A missing socat is an error with a clear message, never a skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export class PtyPair {
  readonly gwPath: string;
  readonly devPath: string;
  private proc: ChildProcess | null = null;
  private log = '';

  constructor(dir: string, names: { gw?: string; dev?: string } = {}) {
    this.gwPath = join(dir, names.gw ?? 'ttyGW');
    this.devPath = join(dir, names.dev ?? 'ttyDEV');
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Start socat and wait until both links exist. */
  async start(timeoutMs = 5000): Promise<void> {
    if (this.running) return;
    // Stale links from a killed run would make the wait below succeed too early.
    rmSync(this.gwPath, { force: true });
    rmSync(this.devPath, { force: true });
    const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.gwPath}`, `pty,raw,echo=0,link=${this.devPath}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.proc = proc;
    proc.stderr?.on('data', (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-4000);
    });
    const spawnError = new Promise<never>((_, reject) =>
      proc.once('error', (err) => reject(new Error(`cannot run socat (apt-get install socat; test/peers/ensure-peers.sh): ${err.message}`))),
    );
    const ready = (async () => {
      const deadline = Date.now() + timeoutMs;
      while (!(existsSync(this.gwPath) && existsSync(this.devPath))) {
        if (proc.exitCode !== null) throw new Error(`socat exited with ${proc.exitCode}: ${this.log}`);
        if (Date.now() > deadline) throw new Error(`socat links not ready after ${timeoutMs} ms: ${this.log}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await Promise.race([ready, spawnError]);
  }

  /** Stop socat (SIGTERM, then SIGKILL) and wait for it to exit; the ptys vanish. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const killTimer = setTimeout(() => proc.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(killTimer);
    rmSync(this.gwPath, { force: true });
    rmSync(this.devPath, { force: true });
  }
}
