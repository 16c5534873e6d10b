// Logins to the installer page: a session cookie (HttpOnly, SameSite=Strict) with its own CSRF token
// for every POST, idle expiry, and guessing slowed down — per client address and for the box as a
// whole, since a PIN is short.

import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface Session {
  csrf: string;
  lastUsed: number;
}

export class Sessions {
  private readonly byToken = new Map<string, Session>();
  constructor(
    private readonly idleMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  create(): { token: string; session: Session } {
    this.sweep();
    const token = randomBytes(32).toString('base64url');
    const session = { csrf: randomBytes(24).toString('base64url'), lastUsed: this.now() };
    this.byToken.set(token, session);
    return { token, session };
  }

  /** The live session for a cookie value, touched; undefined when unknown or idle too long. */
  get(token: string | undefined): Session | undefined {
    if (!token) return undefined;
    const s = this.byToken.get(token);
    if (!s) return undefined;
    if (this.now() - s.lastUsed > this.idleMs) {
      this.byToken.delete(token);
      return undefined;
    }
    s.lastUsed = this.now();
    return s;
  }

  drop(token: string | undefined): void {
    if (token) this.byToken.delete(token);
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, s] of this.byToken) if (t - s.lastUsed > this.idleMs) this.byToken.delete(k);
  }
}

export const sameToken = (a: string | undefined, b: string): boolean => {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * Wrong PINs: after FREE_TRIES from one address each further try must wait twice as long as the
 * last (1 s, 2 s, 4 s … up to 15 min); all addresses together get the same treatment after
 * GLOBAL_FREE failures, so rotating addresses does not help. A success clears the address's count.
 */
export class Throttle {
  static readonly FREE_TRIES = 3;
  static readonly GLOBAL_FREE = 20;
  static readonly MAX_WAIT_MS = 15 * 60_000;
  private readonly failures = new Map<string, { count: number; last: number }>();
  private global = { count: 0, last: 0 };

  constructor(private readonly now: () => number = Date.now) {}

  private static wait(count: number, free: number): number {
    return count < free ? 0 : Math.min(Throttle.MAX_WAIT_MS, 1000 * 2 ** (count - free));
  }

  /** Milliseconds this client must still wait before its PIN is even checked; 0 = go ahead. */
  retryAfterMs(client: string): number {
    const t = this.now();
    const f = this.failures.get(client);
    const own = f ? f.last + Throttle.wait(f.count, Throttle.FREE_TRIES) - t : 0;
    const all = this.global.last + Throttle.wait(this.global.count, Throttle.GLOBAL_FREE) - t;
    return Math.max(0, own, all);
  }

  failed(client: string): void {
    const t = this.now();
    const f = this.failures.get(client) ?? { count: 0, last: t };
    this.failures.set(client, { count: f.count + 1, last: t });
    // The global count decays: an hour without failures forgets them.
    if (t - this.global.last > 3600_000) this.global = { count: 0, last: t };
    this.global = { count: this.global.count + 1, last: t };
    if (this.failures.size > 10_000) this.failures.clear();
  }

  succeeded(client: string): void {
    this.failures.delete(client);
  }
}
