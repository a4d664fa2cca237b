/**
 * Device password hashes and the one-at-a-time verifier that bounds the memory of
 * a reconnect storm (each scrypt check holds 128·N·r bytes).
 */
import { describe, expect, it } from 'vitest';
import { PasswordVerifier, hashPassword, verifyPassword } from '../gateway/credentials.js';

const CHEAP = { N: 1024, r: 8, p: 1 };

describe('scrypt password hashes', () => {
  it('verify the right password and refuse a wrong one or a malformed hash', async () => {
    const hash = hashPassword('loa-ap-03', CHEAP);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$/);
    expect(await verifyPassword('loa-ap-03', hash)).toBe(true);
    expect(await verifyPassword('loa-ap-04', hash)).toBe(false);
    expect(await verifyPassword('loa-ap-03', 'sha256:abc')).toBe(false);
  });
});

describe('PasswordVerifier', () => {
  it('runs one check at a time, in arrival order, and every caller gets its own answer', async () => {
    const verifier = new PasswordVerifier(1);
    const hash = hashPassword('right', CHEAP);
    const order: string[] = [];
    const a = verifier.verify('right', hash).then((ok) => order.push(`a:${ok}`));
    const b = verifier.verify('wrong', hash).then((ok) => order.push(`b:${ok}`));
    const c = verifier.verify('right', hash).then((ok) => order.push(`c:${ok}`));
    // The first runs at once, the other two wait behind it.
    expect(verifier.queued).toBe(2);
    await Promise.all([a, b, c]);
    expect(order).toEqual(['a:true', 'b:false', 'c:true']);
    expect(verifier.queued).toBe(0);
  });

  it('skips a check whose client hung up while it waited, and goes on with the next', async () => {
    const verifier = new PasswordVerifier(1);
    const hash = hashPassword('right', CHEAP);
    let hungUp = false;
    const first = verifier.verify('right', hash);
    const abandoned = verifier.verify('right', hash, () => !hungUp);
    const last = verifier.verify('right', hash);
    hungUp = true;
    expect(await first).toBe(true);
    expect(await abandoned).toBeNull();
    expect(await last).toBe(true);
  });

  it('allows more checks side by side when asked to', () => {
    const verifier = new PasswordVerifier(2);
    const hash = hashPassword('right', CHEAP);
    const all = [verifier.verify('right', hash), verifier.verify('right', hash), verifier.verify('right', hash)];
    expect(verifier.queued).toBe(1);
    return Promise.all(all);
  });
});
