/**
 * systemd readiness and watchdog (sd_notify(3)) for the Raspberry Pi service
 * (config/systemd/commune-edge.service: Type=notify, WatchdogSec=60).
 *
 * Node cannot send to a unix datagram socket itself, and `systemd-notify` is racy
 * before systemd 254: it exits right after sending, and systemd then cannot map
 * the sender PID to our unit, so the message is dropped (systemd issue #2739).
 * So one long-lived `socat` child (in the unit's cgroup, NotifyAccess=all) turns
 * each line we write to its stdin into a datagram on $NOTIFY_SOCKET. When socat
 * is missing we fall back to `systemd-notify` per message and say so.
 *
 * The watchdog is fed only while the gateway is really working: the event loop
 * answered (this timer ran) and the store's last group commit did not fail. A
 * wedged store or loop stops the pings, and systemd restarts the service
 * (Restart=on-failure after WATCHDOG timeout, sd_watchdog_enabled(3)).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Logger } from './logger.js';

export interface WatchdogOptions {
  log: Logger;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Is the gateway healthy enough to feed the watchdog? */
  healthy: () => boolean;
}

export class SystemdNotifier {
  private readonly socket: string | undefined;
  private readonly intervalMs: number | null;
  private readonly log: Logger;
  private readonly healthy: () => boolean;
  private child: ChildProcess | null = null;
  private timer: NodeJS.Timeout | null = null;
  private useFallback = false;
  /** Watchdog pings sent (for tests and /api/health). */
  pings = 0;

  constructor(opts: WatchdogOptions) {
    const env = opts.env ?? process.env;
    this.log = opts.log;
    this.healthy = opts.healthy;
    this.socket = env['NOTIFY_SOCKET'] || undefined;
    // WATCHDOG_USEC is set by systemd when WatchdogSec= is; ping at half of it (sd_watchdog_enabled(3)).
    const usec = Number(env['WATCHDOG_USEC']);
    const pid = env['WATCHDOG_PID'];
    const forUs = pid === undefined || pid === '' || Number(pid) === process.pid;
    this.intervalMs = this.socket && Number.isFinite(usec) && usec > 0 && forUs ? Math.max(50, Math.floor(usec / 2000)) : null;
  }

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** After the gateway has started: READY=1 and the watchdog timer. */
  ready(status: string): void {
    if (!this.socket) return;
    this.openChannel();
    this.send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
    if (this.intervalMs !== null) {
      this.timer = setInterval(() => {
        if (!this.healthy()) {
          this.log.warn('watchdog: not feeding systemd (store commits failing); the service will be restarted if this lasts');
          return;
        }
        this.pings++;
        this.send('WATCHDOG=1');
      }, this.intervalMs);
      this.timer.unref();
      this.log.info({ intervalMs: this.intervalMs }, 'systemd watchdog enabled');
    }
  }

  status(text: string): void {
    this.send(`STATUS=${text}`);
  }

  /** At shutdown: STOPPING=1, then release the helper process. */
  stopping(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.send('STOPPING=1');
    const child = this.child;
    this.child = null;
    child?.stdin?.end();
  }

  private openChannel(): void {
    const socket = this.socket!;
    // Abstract-namespace sockets are written "@name" in NOTIFY_SOCKET (sd_notify(3)).
    const address = socket.startsWith('@') ? `ABSTRACT-SENDTO:${socket.slice(1)}` : `UNIX-SENDTO:${socket}`;
    const probe = spawnSync('socat', ['-V'], { stdio: 'ignore' });
    if (probe.error) {
      this.useFallback = true;
      this.log.warn('socat not found: sending to systemd with systemd-notify, which can lose messages before systemd 254 (apt install socat)');
      return;
    }
    const child = spawn('socat', ['-u', 'STDIN', address], { stdio: ['pipe', 'ignore', 'pipe'] });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => this.log.warn({ socat: d.trim() }, 'systemd notify channel'));
    child.on('error', (err) => {
      this.log.warn({ err: err.message }, 'systemd notify channel failed; falling back to systemd-notify');
      this.useFallback = true;
    });
    child.on('exit', (code) => {
      if (this.child === child) {
        this.child = null;
        this.useFallback = true;
        this.log.warn({ code }, 'systemd notify channel exited; falling back to systemd-notify');
      }
    });
    child.stdin?.on('error', () => undefined);
    this.child = child;
  }

  private send(message: string): void {
    if (!this.socket) return;
    if (this.child?.stdin && !this.useFallback) {
      // One write → one datagram (socat forwards each read; a merged read is still valid: newline-separated assignments).
      this.child.stdin.write(message + '\n');
      return;
    }
    if (this.useFallback) {
      const p = spawn('systemd-notify', message.split('\n'), { stdio: 'ignore' });
      p.on('error', () => undefined);
    }
  }
}
