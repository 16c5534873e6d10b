// Enrollment tokens: short enough to type on a site box's keyboard (four groups of four), 80 random
// bits so guessing is hopeless even without the rate limit, and kept at the central only as a hash.

import { createHash, randomBytes } from 'node:crypto';

/** Crockford's base32: no I, L, O or U, so what is read aloud or off a screen is typed back right. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const LENGTH = 16;

export const DEFAULT_TTL_MS = 24 * 3600_000;
export const MAX_TTL_MS = 7 * 24 * 3600_000;
export const MIN_TTL_MS = 1000;

/** A new token as shown to people: XXXX-XXXX-XXXX-XXXX (16 × 5 bits = 80 bits). */
export function newToken(): string {
  const bytes = randomBytes(10);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let s = '';
  for (let i = LENGTH - 1; i >= 0; i--) s += ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return s.match(/.{4}/g)!.join('-');
}

/**
 * The canonical form of what someone typed: case, spaces and dashes do not matter, and the letters
 * people confuse with digits count as those digits (O → 0, I and L → 1). Null when it cannot be a token.
 */
export function normalizeToken(typed: string): string | null {
  const s = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (s.length !== LENGTH) return null;
  for (const c of s) if (!ALPHABET.includes(c)) return null;
  return s;
}

/**
 * The stored form. A plain SHA-256 is enough here (unlike passwords): the token is 80 random bits,
 * so there is no dictionary to try against a stolen hash.
 */
export function tokenHash(normalized: string): Buffer {
  return createHash('sha256').update(`pantau-enroll\0${normalized}`).digest();
}
