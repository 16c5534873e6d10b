import { describe, expect, it } from 'vitest';
import {
  digestAuthorization,
  digestResponse,
  parseDigestChallenge,
  passwordDigest,
  securityHeader,
  usernameToken,
  verifyDigestAuthorization,
} from './auth.js';
import { findDeep, parseXml, textAt } from './xml.js';

describe('WS-Security UsernameToken', () => {
  it('PasswordDigest = Base64(SHA-1(nonce + created + password)): the ONVIF programmer guide example', () => {
    const nonce = Buffer.from('LKqI6G/AikKCQrN0zqZFlg==', 'base64');
    expect(passwordDigest(nonce, '2010-09-16T07:50:45Z', 'userpassword')).toBe(
      'tuOSpGlFlIXsozq4HFNeeGeFLEI=',
    );
  });

  it('Created is our clock plus the camera offset', () => {
    const now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const nonce = Buffer.alloc(16, 1);
    expect(usernameToken('admin', 'pw', 0, now, nonce).created).toBe('2026-01-02T03:04:05.678Z');
    const ahead = usernameToken('admin', 'pw', 3_600_000, now, nonce);
    expect(ahead.created).toBe('2026-01-02T04:04:05.678Z');
    expect(ahead.digest).toBe(passwordDigest(nonce, '2026-01-02T04:04:05.678Z', 'pw'));
    const behind = usernameToken('admin', 'pw', -90_000, now, nonce);
    expect(behind.created).toBe('2026-01-02T03:02:35.678Z');
  });

  it('the header carries user, digest, nonce and Created, escaped', () => {
    const t = usernameToken('a<b', 'pw', 0, 0, Buffer.from('nonce'));
    const xml = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>${securityHeader(t)}</s:Header></s:Envelope>`;
    const token = findDeep(parseXml(xml), 'UsernameToken');
    expect(textAt(token, 'Username')).toBe('a<b');
    expect(textAt(token, 'Password')).toBe(t.digest);
    expect(textAt(token, 'Nonce')).toBe(Buffer.from('nonce').toString('base64'));
    expect(textAt(token, 'Created')).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('HTTP Digest', () => {
  it('computes the RFC 2617 example response', () => {
    expect(
      digestResponse({
        username: 'Mufasa',
        password: 'Circle Of Life',
        realm: 'testrealm@host.com',
        method: 'GET',
        uri: '/dir/index.html',
        nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
        nc: '00000001',
        cnonce: '0a4f113b',
        qop: 'auth',
      }),
    ).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('prefers the MD5 challenge among several (Hikvision sends MD5 and SHA-256), and ignores Basic', () => {
    const ch = parseDigestChallenge([
      'Basic realm="x"',
      'Digest qop="auth", realm="IP Camera", nonce="n256", algorithm="SHA-256", stale="FALSE"',
      'Digest qop="auth", realm="IP Camera", nonce="nmd5", stale="FALSE"',
    ]);
    expect(ch).toEqual({ realm: 'IP Camera', nonce: 'nmd5', qop: 'auth', stale: false });
    expect(parseDigestChallenge(['Basic realm="x"'])).toBeUndefined();
    expect(parseDigestChallenge('Digest realm="r", nonce="n", algorithm=SHA-256')?.algorithm).toBe('SHA-256');
  });

  it('what the client signs, the server side verifies (MD5 and SHA-256, with and without qop)', () => {
    const creds = { username: 'admin', password: 'pw' };
    for (const ch of [
      { realm: 'r', nonce: 'abc', qop: 'auth,auth-int', opaque: 'o' },
      { realm: 'r', nonce: 'abc', algorithm: 'SHA-256', qop: 'auth' },
      { realm: 'r', nonce: 'abc' },
    ]) {
      const h = digestAuthorization(ch, creds, 'POST', '/onvif/device_service', 3);
      expect(h).toMatch(/^Digest username="admin", realm="r", nonce="abc", uri="\/onvif\/device_service"/);
      const expectOk = { ...creds, realm: 'r', method: 'POST' };
      expect(verifyDigestAuthorization(h, expectOk)).toEqual({ ok: true, nonce: 'abc' });
      expect(verifyDigestAuthorization(h, { ...expectOk, password: 'other' }).ok).toBe(false);
      expect(verifyDigestAuthorization(h, { ...expectOk, method: 'GET' }).ok).toBe(false);
    }
    expect(digestAuthorization({ realm: 'r', nonce: 'n', qop: 'auth' }, creds, 'GET', '/', 26)).toContain(
      'nc=0000001a',
    );
  });
});
