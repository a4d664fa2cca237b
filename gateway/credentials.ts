/**
 * Secrets at rest: device MQTT passwords as scrypt hashes (RFC 7914) with their
 * cost parameters in the string, API tokens as sha256 (tokens are random 256-bit
 * values, so a slow hash adds nothing).
 */
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}
/** ~40 ms and 16 MiB on a Raspberry Pi 4: slow for guessing, fine for a CONNECT. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 16384, r: 8, p: 1 };

export function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r });
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function verifyPassword(password: string | Buffer, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return Promise.resolve(false);
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  return new Promise((resolve) => {
    scrypt(password, salt, expected.length, { N, r, p, maxmem: 256 * N * r }, (err, derived) => {
      resolve(!err && derived.length === expected.length && timingSafeEqual(derived, expected));
    });
  });
}

/**
 * Password checks one (or `concurrency`) at a time, first come first served.
 *
 * Each scrypt check holds 128·N·r bytes (16 MiB at the default cost) on a libuv
 * thread. After a gateway restart every device reconnects at once, the cache of
 * recent logins is empty, and four threadpool threads ran four checks side by
 * side: +64 MiB of resident memory on the bench machine (realistic scenario with
 * the default cost, VmHWM 167 MB). One at a time bounds it to +16 MiB; the price is
 * latency: ~40 ms per device on a Raspberry Pi 4, so a commune of 100 MQTT devices
 * is back in ~4 s and the 500-device bench in ~13 s here. A client that hung up
 * while waiting (`wanted()` false) costs nothing.
 */
export class PasswordVerifier {
  private readonly waiting: (() => void)[] = [];
  private running = 0;

  constructor(private readonly concurrency = 1) {}

  /** Resolves false for a wrong password, and `null` when nobody waits for the answer any more. */
  verify(password: string | Buffer, encoded: string, wanted: () => boolean = () => true): Promise<boolean | null> {
    return new Promise((resolve) => {
      const run = () => {
        if (!wanted()) {
          resolve(null);
          return this.next();
        }
        this.running++;
        verifyPassword(password, encoded)
          .catch(() => false)
          .then((ok) => {
            this.running--;
            resolve(ok);
            this.next();
          });
      };
      if (this.running < this.concurrency) run();
      else this.waiting.push(run);
    });
  }

  /** Checks queued behind the running ones. */
  get queued(): number {
    return this.waiting.length;
  }

  private next(): void {
    if (this.running < this.concurrency) this.waiting.shift()?.();
  }
}

export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('hex')}`;
}

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}
