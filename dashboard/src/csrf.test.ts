import { describe, expect, it } from 'vitest';
import { foreignOrigin, LoginTokens, sameToken } from './csrf.js';

describe('CSRF checks', () => {
  it('compares tokens whole, and never an empty one', () => {
    expect(sameToken('abc', 'abc')).toBe(true);
    expect(sameToken('abc', 'abd')).toBe(false);
    expect(sameToken('abc', 'abcd')).toBe(false);
    expect(sameToken('', '')).toBe(false);
    expect(sameToken(undefined, undefined)).toBe(false);
  });

  it('accepts our own origin or none, refuses another', () => {
    expect(foreignOrigin({ host: '10.1.1.5:8080' })).toBeNull();
    expect(foreignOrigin({ host: '10.1.1.5:8080', origin: 'http://10.1.1.5:8080' })).toBeNull();
    expect(foreignOrigin({ host: 'pantau.local', referer: 'https://pantau.local/#users' })).toBeNull();
    expect(foreignOrigin({ host: 'pantau.local', origin: 'https://evil.example' })).toMatch(
      /Origin https:\/\/evil/,
    );
    // Origin wins over a Referer that would pass.
    expect(
      foreignOrigin({
        host: 'pantau.local',
        origin: 'https://evil.example',
        referer: 'https://pantau.local/',
      }),
    ).not.toBeNull();
    expect(foreignOrigin({ host: 'pantau.local', referer: 'http://pantau.local:81/' })).toMatch(/Referer/);
    expect(foreignOrigin({ host: 'pantau.local', origin: 'null' })).toMatch(/not a URL/);
  });

  it('login tokens: issued here, repeated in the header, not expired', () => {
    const tokens = new LoginTokens();
    const t = tokens.issue();
    expect(tokens.valid(t, t)).toBe(true);
    expect(tokens.valid(t, undefined)).toBe(false);
    expect(tokens.valid(t, `${t}x`)).toBe(false);
    // Another process's (or a forged) token, even when cookie and header agree.
    const other = new LoginTokens().issue();
    expect(tokens.valid(other, other)).toBe(false);
    const forged = `${t.split('.').slice(0, 2).join('.')}.AAAA`;
    expect(tokens.valid(forged, forged)).toBe(false);
    const old = tokens.issue(Date.now() - 2 * 3600_000);
    expect(tokens.valid(old, old)).toBe(false);
  });
});
