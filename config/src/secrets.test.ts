import { describe, expect, it } from 'vitest';
import { generateSecret, hashSecret, verifySecret } from './secrets.js';

describe('secrets', () => {
  it('verifies the right secret and refuses a wrong one', async () => {
    const h = await hashSecret('rahasia-soppeng');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(h).not.toContain('rahasia');
    expect(await verifySecret('rahasia-soppeng', h)).toBe(true);
    expect(await verifySecret('rahasia-soppenG', h)).toBe(false);
    expect(await verifySecret('x', 'plain-text')).toBe(false);
  });
  it('salts every hash', async () => {
    expect(await hashSecret('a')).not.toBe(await hashSecret('a'));
    expect(generateSecret()).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});

describe('generated secrets on a command line', () => {
  it('never start with "-" (it would read as an option)', () => {
    for (let i = 0; i < 2000; i++) expect(generateSecret(9).startsWith('-')).toBe(false);
  });
});
