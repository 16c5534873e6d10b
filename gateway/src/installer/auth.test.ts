import { describe, expect, it } from 'vitest';
import { Sessions, sameToken, Throttle } from './auth.js';

describe('installer login slow-down', () => {
  it('lets three wrong PINs through, then doubles the wait per address', () => {
    let now = 1_000_000;
    const t = new Throttle(() => now);
    for (let i = 0; i < 3; i++) {
      expect(t.retryAfterMs('10.1.2.50')).toBe(0);
      t.failed('10.1.2.50');
    }
    expect(t.retryAfterMs('10.1.2.50')).toBe(1000);
    now += 1000;
    expect(t.retryAfterMs('10.1.2.50')).toBe(0);
    t.failed('10.1.2.50');
    expect(t.retryAfterMs('10.1.2.50')).toBe(2000);
    // Another address is not held back by this one's failures…
    expect(t.retryAfterMs('10.1.2.51')).toBe(0);
    // …and a success clears the address's count.
    t.succeeded('10.1.2.50');
    expect(t.retryAfterMs('10.1.2.50')).toBe(0);
  });

  it('caps the wait at 15 minutes', () => {
    const now = 0;
    const t = new Throttle(() => now);
    for (let i = 0; i < 40; i++) t.failed('a');
    expect(t.retryAfterMs('a')).toBe(Throttle.MAX_WAIT_MS);
  });

  it('slows everyone once many addresses guessed wrong (rotating addresses does not help)', () => {
    const now = 5_000_000;
    const t = new Throttle(() => now);
    for (let i = 0; i < Throttle.GLOBAL_FREE; i++) t.failed(`10.0.0.${i}`);
    expect(t.retryAfterMs('10.9.9.9')).toBe(1000);
  });
});

describe('installer sessions', () => {
  it('expire after the idle time and are touched by use', () => {
    let now = 0;
    const s = new Sessions(60_000, () => now);
    const { token, session } = s.create();
    expect(session.csrf.length).toBeGreaterThan(20);
    now = 50_000;
    expect(s.get(token)).toBe(session);
    now = 100_000;
    expect(s.get(token)).toBe(session);
    now = 170_000;
    expect(s.get(token)).toBeUndefined();
    expect(s.get('forged')).toBeUndefined();
  });

  it('compares CSRF tokens whole', () => {
    expect(sameToken('abc', 'abc')).toBe(true);
    expect(sameToken('ab', 'abc')).toBe(false);
    expect(sameToken(undefined, 'abc')).toBe(false);
  });
});
