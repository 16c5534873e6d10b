// The enrollments table in the central state database (beside baselines and incidents): one row per
// token issued, holding its hash, who issued it for which site, until when, and who redeemed it.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { defaultStatePath } from '../backbone/central-db.js';
import { openCentralState } from '../backbone/central-state.js';
import { DEFAULT_TTL_MS, MAX_TTL_MS, MIN_TTL_MS, newToken, normalizeToken, tokenHash } from './tokens.js';

/** Rows are kept this long past their expiry (the audit log keeps the story for longer). */
const KEEP_MS = 90 * 86400_000;

export type EnrollmentStatus = 'pending' | 'used' | 'expired' | 'revoked';

export interface BoxFacts {
  hostname: string;
  version: string;
  fingerprint: string;
}

export interface Enrollment {
  id: string;
  site: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_from: string | null;
  box: BoxFacts | null;
  revoked_at: number | null;
  revoked_by: string | null;
  /** Issued for a site that backbone.yaml does not list yet. */
  new_site: boolean;
  status: EnrollmentStatus;
}

interface Row {
  id: string;
  site: string;
  token_hash: Buffer;
  created_by: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_from: string | null;
  box: string | null;
  revoked_at: number | null;
  revoked_by: string | null;
  new_site: number;
}

export class TtlError extends Error {}

/** The TTL asked for, in ms: default 24 h, at most 7 days, at least one second. */
export function ttlMs(hours: number | undefined): number {
  if (hours === undefined) return DEFAULT_TTL_MS;
  const ms = Math.round(hours * 3600_000);
  if (!Number.isFinite(ms) || ms < MIN_TTL_MS) throw new TtlError('ttl_h must be at least 1 second');
  if (ms > MAX_TTL_MS) throw new TtlError('ttl_h must be at most 168 (7 days)');
  return ms;
}

export function statusOf(
  r: Pick<Row, 'used_at' | 'revoked_at' | 'expires_at'>,
  now: number,
): EnrollmentStatus {
  if (r.revoked_at !== null) return 'revoked';
  if (r.used_at !== null) return 'used';
  return r.expires_at <= now ? 'expired' : 'pending';
}

function view(r: Row, now: number): Enrollment {
  return {
    id: r.id,
    site: r.site,
    created_by: r.created_by,
    created_at: r.created_at,
    expires_at: r.expires_at,
    used_at: r.used_at,
    used_from: r.used_from,
    box: r.box ? (JSON.parse(r.box) as BoxFacts) : null,
    revoked_at: r.revoked_at,
    revoked_by: r.revoked_by,
    new_site: r.new_site === 1,
    status: statusOf(r, now),
  };
}

export class EnrollmentDb {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = openCentralState(path);
  }

  /** A new token for a site; the token itself is returned once and never stored. */
  issue(o: { site: string; by: string; ttlMs: number; newSite?: boolean; now?: number }): {
    enrollment: Enrollment;
    token: string;
  } {
    const now = o.now ?? Date.now();
    const token = newToken();
    const row: Row = {
      id: randomBytes(6).toString('hex'),
      site: o.site,
      token_hash: tokenHash(normalizeToken(token)!),
      created_by: o.by,
      created_at: now,
      expires_at: now + o.ttlMs,
      used_at: null,
      used_from: null,
      box: null,
      revoked_at: null,
      revoked_by: null,
      new_site: o.newSite ? 1 : 0,
    };
    this.db.prepare('DELETE FROM enrollments WHERE expires_at < ?').run(now - KEEP_MS);
    this.db
      .prepare(
        `INSERT INTO enrollments (id, site, token_hash, created_by, created_at, expires_at, new_site)
         VALUES (@id, @site, @token_hash, @created_by, @created_at, @expires_at, @new_site)`,
      )
      .run(row);
    return { enrollment: view(row, now), token };
  }

  list(o: { sites?: readonly string[]; now?: number } = {}): Enrollment[] {
    const now = o.now ?? Date.now();
    const rows = this.db.prepare('SELECT * FROM enrollments ORDER BY created_at DESC').all() as Row[];
    return rows.filter((r) => !o.sites || o.sites.includes(r.site)).map((r) => view(r, now));
  }

  get(id: string, now = Date.now()): Enrollment | null {
    const r = this.db.prepare('SELECT * FROM enrollments WHERE id = ?').get(id) as Row | undefined;
    return r ? view(r, now) : null;
  }

  /** Withdraws a token not used yet; false when there is none such. */
  revoke(id: string, by: string, now = Date.now()): boolean {
    return (
      this.db
        .prepare(
          'UPDATE enrollments SET revoked_at = ?, revoked_by = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL',
        )
        .run(now, by, id).changes === 1
    );
  }

  /**
   * The enrollment a typed token belongs to, or null. Every stored hash is compared, in constant time
   * and without stopping at a match, so the time taken says nothing about how close a guess came.
   */
  find(typed: string, now = Date.now()): Enrollment | null {
    const norm = normalizeToken(typed);
    const h = tokenHash(norm ?? 'not-a-token');
    let found: Row | null = null;
    for (const r of this.db.prepare('SELECT * FROM enrollments').all() as Row[])
      if (r.token_hash.length === h.length && timingSafeEqual(r.token_hash, h) && norm !== null) found = r;
    return found ? view(found, now) : null;
  }

  /** Marks a pending token used, once: false when someone else redeemed, revoked or it expired first. */
  claim(id: string, from: string, box: BoxFacts, now = Date.now()): boolean {
    return (
      this.db
        .prepare(
          `UPDATE enrollments SET used_at = ?, used_from = ?, box = ?
           WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
        )
        .run(now, from, JSON.stringify(box), id, now).changes === 1
    );
  }

  /** Gives a claimed token back when the account could not be written (the box may try again). */
  release(id: string): void {
    this.db
      .prepare('UPDATE enrollments SET used_at = NULL, used_from = NULL, box = NULL WHERE id = ?')
      .run(id);
  }

  close(): void {
    this.db.close();
  }
}

/**
 * The central state database when the config names none (no backbone section): the same default the
 * backbone uses, so the broker's CLI and the dashboard find the same file.
 */
export function centralStatePath(o: {
  configFile: string;
  store: { kind: 'sqlite'; path: string } | { kind: 'influx' };
  backboneStatePath?: string | undefined;
}): string {
  if (o.backboneStatePath) return o.backboneStatePath;
  return o.store.kind === 'sqlite'
    ? defaultStatePath(dirname(o.store.path), o.store.path)
    : defaultStatePath(dirname(resolve(o.configFile)));
}
