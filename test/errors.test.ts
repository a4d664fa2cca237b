import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../gateway/errors.js';

describe('coded errors', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  it.each(Object.keys(ERRORS))('%s is documented in docs/errors.md with its HTTP status', (code) => {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    expect(row, `${code} missing from docs/errors.md`).toBeDefined();
    expect(row).toContain(`| ${ERRORS[code as keyof typeof ERRORS].status} |`);
  });
  it('documents no code that does not exist', () => {
    const documented = [...doc.matchAll(/^\| `(CE_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERRORS).sort());
  });
});
