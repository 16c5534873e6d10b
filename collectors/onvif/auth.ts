// The two ways an ONVIF camera checks credentials, both sides of each (the simulator verifies with
// the same code the collector signs with, and the tests pin both to the published formulas).
//
// WS-Security UsernameToken (OASIS Username Token Profile 1.0):
//   PasswordDigest = Base64(SHA-1(nonce bytes + Created + password))
// where Created is an ISO-8601 UTC time. A camera rejects a Created too far from its own clock, so
// Created must be *the camera's* time: local time plus the camera's measured clock offset.
//
// HTTP Digest (RFC 7616, MD5, qop=auth; RFC 2069 form without qop when the camera offers none):
//   HA1 = MD5(user:realm:password), HA2 = MD5(method:uri)
//   response = MD5(HA1:nonce:nc:cnonce:qop:HA2)

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { escapeXml } from './xml.js';

const WSSE_NS = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
const WSU_NS = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
export const PASSWORD_DIGEST_TYPE =
  'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest';
export const PASSWORD_TEXT_TYPE =
  'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText';
const BASE64_ENCODING =
  'http://docs.oasis-open.org/wss/2004/01/oasis-200401-soap-message-security-1.0#Base64Binary';

/** Base64(SHA-1(nonce + created + password)). */
export function passwordDigest(nonce: Buffer, created: string, password: string): string {
  return createHash('sha1')
    .update(Buffer.concat([nonce, Buffer.from(created, 'utf8'), Buffer.from(password, 'utf8')]))
    .digest('base64');
}

export interface UsernameToken {
  username: string;
  nonce: Buffer;
  created: string;
  digest: string;
}

/**
 * A UsernameToken whose Created is the camera's clock: `now + offsetMs`. `offsetMs` is the camera's
 * clock minus ours, as measured from its unauthenticated GetSystemDateAndTime.
 */
export function usernameToken(
  username: string,
  password: string,
  offsetMs: number,
  now: number = Date.now(),
  nonce: Buffer = randomBytes(16),
): UsernameToken {
  const created = new Date(Math.round(now + offsetMs)).toISOString();
  return { username, nonce, created, digest: passwordDigest(nonce, created, password) };
}

/** The `<wsse:Security>` SOAP header for a token. */
export function securityHeader(t: UsernameToken): string {
  return (
    `<wsse:Security xmlns:wsse="${WSSE_NS}" xmlns:wsu="${WSU_NS}" s:mustUnderstand="1">` +
    '<wsse:UsernameToken>' +
    `<wsse:Username>${escapeXml(t.username)}</wsse:Username>` +
    `<wsse:Password Type="${PASSWORD_DIGEST_TYPE}">${t.digest}</wsse:Password>` +
    `<wsse:Nonce EncodingType="${BASE64_ENCODING}">${t.nonce.toString('base64')}</wsse:Nonce>` +
    `<wsu:Created>${t.created}</wsu:Created>` +
    '</wsse:UsernameToken></wsse:Security>'
  );
}

export const md5 = (s: string): string => createHash('md5').update(s, 'utf8').digest('hex');

/** Parses `key=value, key="quoted, value"` auth parameters (after the scheme). */
export function parseAuthParams(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    out[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return out;
}

export interface DigestChallenge {
  realm: string;
  nonce: string;
  qop?: string;
  opaque?: string;
  algorithm?: string;
  stale?: boolean;
}

/**
 * Picks a usable Digest challenge from WWW-Authenticate header values (a camera may send several:
 * MD5 and SHA-256, or Basic beside Digest). MD5 first, SHA-256 when that is all there is.
 */
export function parseDigestChallenge(headers: string | string[] | undefined): DigestChallenge | undefined {
  const values = headers === undefined ? [] : Array.isArray(headers) ? headers : [headers];
  const found: DigestChallenge[] = [];
  for (const v of values) {
    const m = /^\s*Digest\s+(.*)$/is.exec(v);
    if (!m) continue;
    const p = parseAuthParams(m[1]!);
    if (p.realm === undefined || p.nonce === undefined) continue;
    const ch: DigestChallenge = { realm: p.realm, nonce: p.nonce };
    if (p.qop !== undefined) ch.qop = p.qop;
    if (p.opaque !== undefined) ch.opaque = p.opaque;
    if (p.algorithm !== undefined) ch.algorithm = p.algorithm;
    if (p.stale !== undefined) ch.stale = p.stale.toLowerCase() === 'true';
    found.push(ch);
  }
  const alg = (c: DigestChallenge) => (c.algorithm ?? 'MD5').toUpperCase();
  return (
    found.find((c) => alg(c) === 'MD5') ??
    found.find((c) => alg(c) === 'MD5-SESS') ??
    found.find((c) => alg(c) === 'SHA-256')
  );
}

function hashFor(algorithm: string | undefined): (s: string) => string {
  return (algorithm ?? 'MD5').toUpperCase().startsWith('SHA-256')
    ? (s) => createHash('sha256').update(s, 'utf8').digest('hex')
    : md5;
}

/** Computes the Digest `response` value. */
export function digestResponse(p: {
  username: string;
  password: string;
  realm: string;
  method: string;
  uri: string;
  nonce: string;
  nc?: string;
  cnonce?: string;
  qop?: string;
  algorithm?: string;
}): string {
  const h = hashFor(p.algorithm);
  let ha1 = h(`${p.username}:${p.realm}:${p.password}`);
  if ((p.algorithm ?? '').toUpperCase().endsWith('-SESS')) ha1 = h(`${ha1}:${p.nonce}:${p.cnonce ?? ''}`);
  const ha2 = h(`${p.method}:${p.uri}`);
  return p.qop ? h(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`) : h(`${ha1}:${p.nonce}:${ha2}`);
}

/** Client side: the Authorization header answering a challenge, for request number `nc` under its nonce. */
export function digestAuthorization(
  ch: DigestChallenge,
  creds: { username: string; password: string },
  method: string,
  uri: string,
  nc: number,
  cnonce: string = randomBytes(8).toString('hex'),
): string {
  const qops = (ch.qop ?? '').split(',').map((q) => q.trim().toLowerCase());
  const qop = qops.includes('auth') ? 'auth' : undefined;
  const ncHex = nc.toString(16).padStart(8, '0');
  const response = digestResponse({
    ...creds,
    realm: ch.realm,
    method,
    uri,
    nonce: ch.nonce,
    nc: ncHex,
    cnonce,
    ...(qop ? { qop } : {}),
    ...(ch.algorithm ? { algorithm: ch.algorithm } : {}),
  });
  const q = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  const parts = [
    `username=${q(creds.username)}`,
    `realm=${q(ch.realm)}`,
    `nonce=${q(ch.nonce)}`,
    `uri=${q(uri)}`,
  ];
  if (ch.algorithm) parts.push(`algorithm=${ch.algorithm}`);
  if (qop) parts.push(`qop=${qop}`, `nc=${ncHex}`, `cnonce=${q(cnonce)}`);
  parts.push(`response=${q(response)}`);
  if (ch.opaque !== undefined) parts.push(`opaque=${q(ch.opaque)}`);
  return `Digest ${parts.join(', ')}`;
}

/** Server side: checks an Authorization header against the expected credentials; returns the nonce it used. */
export function verifyDigestAuthorization(
  header: string | undefined,
  expect: { username: string; password: string; realm: string; method: string },
): { ok: boolean; nonce?: string } {
  if (!header) return { ok: false };
  const m = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!m) return { ok: false };
  const p = parseAuthParams(m[1]!);
  if (!p.nonce || !p.uri || !p.response || p.username === undefined) return { ok: false };
  if (p.username !== expect.username || p.realm !== expect.realm) return { ok: false, nonce: p.nonce };
  const want = digestResponse({
    username: expect.username,
    password: expect.password,
    realm: expect.realm,
    method: expect.method,
    uri: p.uri,
    nonce: p.nonce,
    ...(p.nc !== undefined ? { nc: p.nc } : {}),
    ...(p.cnonce !== undefined ? { cnonce: p.cnonce } : {}),
    ...(p.qop !== undefined ? { qop: p.qop } : {}),
    ...(p.algorithm !== undefined ? { algorithm: p.algorithm } : {}),
  });
  const a = Buffer.from(want);
  const b = Buffer.from(p.response.toLowerCase());
  return { ok: a.length === b.length && timingSafeEqual(a, b), nonce: p.nonce };
}
