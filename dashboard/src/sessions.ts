// Server-side sessions (the cookie holds only a random id) and a brake on password guessing.

import { randomBytes } from 'node:crypto';
import type { Role } from './users.js';

export interface Session {
  id: string;
  username: string;
  /** The user's role and sites as of the last request: refreshed from the users file on each one. */
  role: Role;
  sites: string[];
  /** Sent back by the page on every changing request (X-CSRF-Token). */
  csrf: string;
  created: number;
  lastSeen: number;
}

const IDLE_MS = 12 * 3600_000;

export class Sessions {
  private readonly byId = new Map<string, Session>();
  private readonly enders = new Map<string, Set<() => void>>();

  create(username: string, role: Role, sites: string[] = []): Session {
    const now = Date.now();
    const s: Session = {
      id: randomBytes(32).toString('base64url'),
      username,
      role,
      sites,
      csrf: randomBytes(32).toString('base64url'),
      created: now,
      lastSeen: now,
    };
    this.byId.set(s.id, s);
    return s;
  }

  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.byId.get(id);
    if (!s) return null;
    if (Date.now() - s.lastSeen > IDLE_MS) {
      this.destroy(id);
      return null;
    }
    s.lastSeen = Date.now();
    return s;
  }

  destroy(id: string | undefined): void {
    if (!id || !this.byId.delete(id)) return;
    const enders = this.enders.get(id);
    this.enders.delete(id);
    for (const f of enders ?? []) f();
  }

  /** Ends every session of a user (removed, disabled, password reset) but `except`. */
  endFor(username: string, except?: string): number {
    let n = 0;
    for (const s of [...this.byId.values()])
      if (s.username === username && s.id !== except) {
        this.destroy(s.id);
        n++;
      }
    return n;
  }

  /** Applies a new role or site list to a user's open sessions (and their live streams). */
  update(username: string, role: Role, sites: string[]): void {
    for (const s of this.byId.values())
      if (s.username === username) {
        s.role = role;
        s.sites = sites;
      }
  }

  /** Runs `f` when the session ends (a live stream closes itself); returns the unsubscribe. */
  onEnd(id: string, f: () => void): () => void {
    const set = this.enders.get(id) ?? new Set();
    this.enders.set(id, set);
    set.add(f);
    return () => set.delete(f);
  }
}

/** After `max` failures for one username from one address, refuse for `lockMs`. */
export class LoginBrake {
  private readonly failures = new Map<string, { count: number; until: number }>();
  constructor(
    private readonly max = 5,
    private readonly lockMs = 60_000,
  ) {}

  private key(username: string, ip: string): string {
    return `${username}\u0000${ip}`;
  }

  /** Seconds until the next attempt is allowed; 0 when allowed now. */
  blockedFor(username: string, ip: string): number {
    const f = this.failures.get(this.key(username, ip));
    if (!f || f.count < this.max) return 0;
    const left = f.until - Date.now();
    if (left <= 0) {
      this.failures.delete(this.key(username, ip));
      return 0;
    }
    return Math.ceil(left / 1000);
  }

  fail(username: string, ip: string): void {
    const k = this.key(username, ip);
    const f = this.failures.get(k) ?? { count: 0, until: 0 };
    f.count++;
    if (f.count >= this.max) f.until = Date.now() + this.lockMs;
    this.failures.set(k, f);
  }

  succeed(username: string, ip: string): void {
    this.failures.delete(this.key(username, ip));
  }
}
