/**
 * pino logger. JSON lines by default (journald, log shippers); a human format
 * when stdout is a terminal, rendered in-process (pino-pretty as a stream, not a
 * worker thread, to keep the Pi's memory down).
 */
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, opts: { pretty?: boolean } = {}): Logger {
  const usePretty = opts.pretty ?? (process.stdout.isTTY === true && process.env['LOG_FORMAT'] !== 'json');
  const base = {
    level,
    base: { svc: 'commune-edge' },
    // Secrets never reach logs (architecture.md, security model).
    redact: { paths: ['password', '*.password', 'token', '*.token', 'headers.authorization', 'req.headers.authorization'], censor: '[redacted]' },
  };
  if (usePretty) {
    // Loaded only for a terminal: a service under systemd logs JSON and saves the memory.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,svc' }));
  }
  return pino(base);
}

/**
 * At most one log line per key and interval; the lines in between are counted
 * and reported with the next one. Counters (metrics) still count every event.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  /** Returns whether the line was written (false: suppressed and counted). */
  warn(key: string, obj: Record<string, unknown>, msg: string, now = Date.now()): boolean {
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return false;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: now, suppressed: 0 });
    if (this.last.size > 10_000) this.last.clear(); // bounded under a flood of distinct keys
    this.log.warn(suppressed ? { ...obj, suppressedSinceLast: suppressed } : obj, msg);
    return true;
  }
}
