import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EnrollmentDb, ttlMs } from './db.js';
import { newToken, normalizeToken } from './tokens.js';

describe('enrollment tokens', () => {
  it('are four groups of four from the unambiguous alphabet, and differ each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const t = newToken();
      expect(t).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
      seen.add(t);
    }
    expect(seen.size).toBe(2000);
    // Every symbol of the alphabet turns up: all 5 bits of each character are random.
    const chars = new Set([...seen].join('').replace(/-/g, ''));
    expect(chars.size).toBe(32);
  });

  it('read back whatever the case, spacing, and O/I/L typed for 0/1', () => {
    expect(normalizeToken('abcd-ef01-ghjk-mnpq')).toBe('ABCDEF01GHJKMNPQ');
    expect(normalizeToken(' ABCD EFOI GHJK MNPL ')).toBe('ABCDEF01GHJKMNP1');
    expect(normalizeToken('ABCD-EFGH-JKMN-PQR')).toBeNull();
    expect(normalizeToken('ABCD-EFGH-JKMN-PQRU')).toBeNull();
  });

  it('TTL: 24 h by default, at most 7 days, at least a second', () => {
    expect(ttlMs(undefined)).toBe(24 * 3600_000);
    expect(ttlMs(168)).toBe(168 * 3600_000);
    expect(() => ttlMs(169)).toThrow(/at most 168/);
    expect(() => ttlMs(0.0001)).toThrow(/at least 1 second/);
  });
});

describe('enrollments table', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-enroll-'));
  const path = join(dir, 'central-state.db');
  const db = new EnrollmentDb(path);
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const box = { hostname: 'gw-1', version: '0.1.0', fingerprint: 'f'.repeat(32) };

  it('keeps only the hash, finds a token however it is typed, and lets it be claimed once', () => {
    const { enrollment, token } = db.issue({ site: 'rsud', by: 'eng', ttlMs: 3600_000 });
    const bytes = readFileSync(path).toString('latin1') + readFileSync(`${path}-wal`).toString('latin1');
    expect(bytes).not.toContain(token.replace(/-/g, ''));
    expect(bytes).not.toContain(token);
    expect(db.find(token.toLowerCase().replace(/-/g, ' '))?.id).toBe(enrollment.id);
    expect(db.find('0000-0000-0000-0000')).toBeNull();
    expect(db.find('not a token')).toBeNull();
    expect(db.claim(enrollment.id, '10.0.0.5', box)).toBe(true);
    expect(db.claim(enrollment.id, '10.0.0.6', box)).toBe(false);
    const e = db.get(enrollment.id)!;
    expect(e).toMatchObject({ status: 'used', used_from: '10.0.0.5', box });
    db.release(enrollment.id);
    expect(db.get(enrollment.id)!.status).toBe('pending');
  });

  it('an expired or revoked token cannot be claimed', () => {
    const now = Date.now();
    const a = db.issue({ site: 'pasar', by: 'eng', ttlMs: 1000, now: now - 5000 }).enrollment;
    expect(db.get(a.id)!.status).toBe('expired');
    expect(db.claim(a.id, '10.0.0.5', box)).toBe(false);
    const b = db.issue({ site: 'pasar', by: 'eng', ttlMs: 3600_000 }).enrollment;
    expect(db.revoke(b.id, 'eng')).toBe(true);
    expect(db.revoke(b.id, 'eng')).toBe(false);
    expect(db.get(b.id)).toMatchObject({ status: 'revoked', revoked_by: 'eng' });
    expect(db.claim(b.id, '10.0.0.5', box)).toBe(false);
    expect(db.list({ sites: ['pasar'] }).map((e) => e.id)).toEqual([b.id, a.id]);
  });
});
