// Hashed secrets for every credential file Pantau keeps (broker accounts, dashboard users).
// scrypt from node:crypto: memory-hard, and no native addon to build on a Raspberry Pi.

import { randomBytes, type ScryptOptions, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';

const scrypt = (pw: string, salt: Buffer, len: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    scryptCb(pw, salt, len, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );

// N=2^14 keeps one verification near 50 ms on a Pi-class CPU: slow for guessing, fast enough for logins.
const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

/** Returns `scrypt$N$r$p$salt$hash` (base64url parts). */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, KEYLEN, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Constant-time check of a secret against a stored hash; a malformed hash never matches. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyB64, 'base64url');
  if (expected.length < 16) return false;
  const key = await scrypt(secret, Buffer.from(saltB64, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 256 * 1024 * 1024,
  });
  return timingSafeEqual(key, expected);
}

/** A random secret that survives copy-paste and shells: base64url, 24 bytes of entropy. */
export function generateSecret(bytes = 24): string {
  const s = randomBytes(bytes).toString('base64url');
  // A leading '-' reads as an option when the secret is pasted into a command line.
  return s.startsWith('-') ? `x${s.slice(1)}` : s;
}
