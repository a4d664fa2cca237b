/**
 * Clock sanity for a box without a real-time clock.
 *
 * A Raspberry Pi boots with the time it saved at shutdown (fake-hwclock) or
 * 1970, until NTP answers, which on a rural uplink may take a while; sensors
 * and their bridges have the same problem. The gateway knows one trustworthy
 * bound: its *last known good time*, the last sign of life of its previous run
 * (store: last heartbeat or committed reading). So:
 * - a device timestamp before that time, or more than 10 min in the future, is
 *   not written as such: the reading is re-stamped with the gateway's time and
 *   flagged (tsSource "restamped", field clock_restamped in InfluxDB);
 * - if the gateway's own clock is behind that time, it keeps time from the last
 *   known good time plus monotonic uptime (a holdover clock) and flags what it
 *   stamps, until the system clock catches up (NTP).
 */
import type { Clock } from './context.js';

const MAX_FUTURE_MS = 10 * 60 * 1000;
/** Without a previous run, timestamps older than this are still not believed. */
const MAX_PAST_MS = 30 * 24 * 3600 * 1000;

export interface ClockStatus {
  state: 'ok' | 'behind-last-known-good';
  lastKnownGood: number | null;
  restamped: number;
}

export class ClockGuard implements Clock {
  private readonly base: Clock;
  private readonly lastKnownGood: number | null;
  private readonly monoStart = performance.now();
  restamped = 0;

  constructor(base: Clock, lastKnownGood: number | null) {
    this.base = base;
    this.lastKnownGood = lastKnownGood;
  }

  /** True while the system clock is behind the last known good time. */
  get holdover(): boolean {
    return this.lastKnownGood !== null && this.base.now() < this.lastKnownGood;
  }

  now(): number {
    const t = this.base.now();
    if (this.lastKnownGood === null || t >= this.lastKnownGood) return t;
    return this.lastKnownGood + Math.round(performance.now() - this.monoStart);
  }

  /** May a device's own timestamp be written as it is? */
  acceptDeviceTs(ts: number, now: number): boolean {
    const floor = Math.max(this.lastKnownGood ?? -Infinity, now - MAX_PAST_MS);
    return ts >= floor && ts <= now + MAX_FUTURE_MS;
  }

  status(): ClockStatus {
    return { state: this.holdover ? 'behind-last-known-good' : 'ok', lastKnownGood: this.lastKnownGood, restamped: this.restamped };
  }
}
