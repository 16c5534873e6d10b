// Cross-site request forgery: a changing request must carry the session's token in X-CSRF-Token
// (a page on another site can neither read the token nor set that header without our consent) and,
// when the browser says where it comes from (Origin, else Referer), come from the dashboard itself.
// Login has no session yet: the page first asks GET /api/login for a token that is also set as a
// cookie, signed with a key that lives only in this process, and sends it back in the header.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const CSRF_HEADER = 'x-csrf-token';
export const LOGIN_COOKIE = 'pantau_login';
const LOGIN_TOKEN_MS = 3600_000;

/** Compares two strings in time independent of where they differ (hashes make the lengths equal). */
export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/**
 * Null when the request's Origin (or, without one, its Referer) names the host it was sent to, or
 * names none; otherwise why not. The Host header is what the browser connected to, so a dashboard
 * behind a name or an address works without configuring either.
 */
export function foreignOrigin(headers: IncomingHttpHeaders): string | null {
  const origin = headers.origin;
  const referer = headers.referer;
  const from = origin ?? referer;
  if (from === undefined) return null;
  let host: string;
  try {
    host = new URL(from).host;
  } catch {
    return `${origin !== undefined ? 'Origin' : 'Referer'} "${from}" is not a URL`;
  }
  if (!headers.host || host !== headers.host)
    return `${origin !== undefined ? 'Origin' : 'Referer'} ${from} is not this dashboard (${headers.host ?? 'no Host'})`;
  return null;
}

/** Tokens for the login form: stateless (nothing to fill up), expiring, signed per process. */
export class LoginTokens {
  private readonly key = randomBytes(32);

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }

  issue(now = Date.now()): string {
    const body = `${randomBytes(18).toString('base64url')}.${now + LOGIN_TOKEN_MS}`;
    return `${body}.${this.sign(body)}`;
  }

  /** The header must repeat the cookie, and the cookie must be one this process issued and not expired. */
  valid(cookie: string | undefined, header: string | undefined, now = Date.now()): boolean {
    if (!sameToken(cookie, header)) return false;
    const parts = cookie!.split('.');
    if (parts.length !== 3) return false;
    const body = `${parts[0]}.${parts[1]}`;
    return sameToken(this.sign(body), parts[2]) && Number(parts[1]) > now;
  }
}
