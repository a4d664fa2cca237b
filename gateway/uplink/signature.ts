/**
 * Request signing of the IOC feed (docs/ioc-feed.md, "Signature").
 *
 *   X-CE-Timestamp: <unix time, seconds>
 *   X-CE-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>.<body bytes>")>
 *
 * HMAC-SHA256 is RFC 2104 with SHA-256 (FIPS 180-4); the key is the UTF-8 bytes
 * of the secret. The signed string is the decimal timestamp, one ".", then the
 * HTTP body exactly as sent (after gzip when Content-Encoding: gzip), so the
 * receiver verifies before it parses anything, and a captured request cannot be
 * replayed after the receiver's clock-skew window (a replay inside the window
 * is answered from the idempotency store, never stored twice). The same scheme
 * as Stripe's and Slack's webhook signatures, which integrators already know.
 */
import { createHmac, timingSafeEqual, type Hmac } from 'node:crypto';

export const TIMESTAMP_HEADER = 'x-ce-timestamp';
export const SIGNATURE_HEADER = 'x-ce-signature';
export const SIGNATURE_PREFIX = 'sha256=';

/** An HMAC already fed with the "<timestamp>." prefix; update() it with the body bytes. */
export function signer(key: string | Buffer, timestamp: number | string): Hmac {
  return createHmac('sha256', key).update(`${timestamp}.`, 'utf8');
}

/** The X-CE-Signature value for a body sent at `timestamp` (unix seconds). */
export function sign(key: string | Buffer, timestamp: number | string, body: Buffer | string): string {
  return SIGNATURE_PREFIX + signer(key, timestamp).update(body).digest('hex');
}

/** Constant-time comparison of a received X-CE-Signature with the expected digest. */
export function signatureMatches(received: string | undefined, expectedHex: string): boolean {
  if (!received?.startsWith(SIGNATURE_PREFIX)) return false;
  const got = Buffer.from(received.slice(SIGNATURE_PREFIX.length), 'hex');
  const want = Buffer.from(expectedHex, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Verify a whole body (the receiver streams instead; this is for tests and tools). */
export function verify(key: string | Buffer, timestamp: number | string, body: Buffer | string, received: string | undefined): boolean {
  return signatureMatches(received, signer(key, timestamp).update(body).digest('hex'));
}
