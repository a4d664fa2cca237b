/**
 * Shared by the device tests: where the kind folders are, and a seeded PRNG so
 * simulator runs are reproducible.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEVICES_DIR = fileURLToPath(new URL('../../devices/', import.meta.url));

/** Every folder under devices/ (each one is a device kind). */
export function kindFolders(): string[] {
  return readdirSync(DEVICES_DIR)
    .filter((name) => statSync(join(DEVICES_DIR, name)).isDirectory())
    .sort();
}

/** mulberry32: small, fast, good enough to drive simulators deterministically. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
