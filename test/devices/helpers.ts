/**
 * Shared by the device tests: where the kind folders are, and a seeded PRNG so
 * simulator runs are reproducible.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../devices/prng.js';
export { mulberry32 };

export const DEVICES_DIR = fileURLToPath(new URL('../../devices/', import.meta.url));

/** Every folder under devices/ (each one is a device kind). */
export function kindFolders(): string[] {
  return readdirSync(DEVICES_DIR)
    .filter((name) => statSync(join(DEVICES_DIR, name)).isDirectory())
    .sort();
}

