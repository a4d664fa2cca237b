/**
 * A counting semaphore with a FIFO queue: the bound on probes in flight
 * (`probes.concurrency`). Waiting is abortable, so `stop()` never waits for a
 * slot.
 */
export class Semaphore {
  private active = 0;
  private peak = 0;
  private readonly queue: Array<{ grant: () => void }> = [];

  constructor(readonly limit: number) {}

  /** Slots in use now. */
  get inUse(): number {
    return this.active;
  }

  /** Waiting for a slot now. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Most slots ever in use at once. */
  get peakInUse(): number {
    return this.peak;
  }

  /** Resolves with an idempotent release function once a slot is free. */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        this.active++;
        this.peak = Math.max(this.peak, this.active);
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.active--;
          this.queue.shift()?.grant();
        });
      };
      const entry = { grant };
      const onAbort = () => {
        const i = this.queue.indexOf(entry);
        if (i >= 0) this.queue.splice(i, 1);
        reject(signal.reason);
      };
      if (this.active < this.limit) return grant();
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(entry);
    });
  }
}
