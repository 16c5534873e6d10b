// One HTTP exchange with a camera, over Node's own http/https, with the facts the collector needs
// to tell the camera states apart: whether the TCP connection was ever made (Unreachable versus
// Reachable), a hard deadline for the whole exchange (not just an idle timer), a cap on the answer's
// size, and HTTP Digest/Basic answered when the camera challenges.

import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { CollectorError, type CollectorErrorKind } from '../common/errors.js';
import { type DigestChallenge, digestAuthorization, parseDigestChallenge } from './auth.js';

/** A failed exchange. `connected` says whether a TCP connection to the camera was made. */
export class OnvifError extends CollectorError {
  override name = 'OnvifError';
  constructor(
    kind: CollectorErrorKind,
    message: string,
    readonly connected: boolean,
    readonly detail: { status?: number; faultCode?: string; faultSubcode?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(kind, message, options);
  }
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every WWW-Authenticate value (a camera may send one per algorithm). */
  wwwAuthenticate: string[];
  body: Buffer;
}

export interface HttpRequest {
  url: URL;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Deadline for the whole exchange: connect, send, and the full answer. */
  timeoutMs: number;
  /** The answer is abandoned past this many bytes. */
  maxBytes: number;
  signal?: AbortSignal;
  agent?: http.Agent;
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

const hostPort = (u: URL) => `${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}`;

/** Sends one request and reads the whole answer (any status), or throws an OnvifError. */
export function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const { url } = req;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      reject(new OnvifError('unsupported', `unsupported URL scheme ${url.protocol} in ${url.href}`, false));
      return;
    }
    let connected = false;
    let settled = false;
    const where = hostPort(url);
    const fail = (e: OnvifError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      r.destroy();
      reject(e);
    };
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(req.body, 'utf8'));
    const lib = url.protocol === 'https:' ? https : http;
    const r = lib.request({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: req.method,
      headers,
      agent: req.agent ?? false,
      // Cameras carry self-signed certificates; the private network is the trust boundary.
      ...(url.protocol === 'https:' ? { rejectUnauthorized: false } : {}),
    });
    const timer = setTimeout(() => {
      fail(
        connected
          ? new OnvifError('timeout', `no complete answer from ${where} within ${req.timeoutMs} ms`, true)
          : new OnvifError('unreachable', `no TCP connection to ${where} within ${req.timeoutMs} ms`, false),
      );
    }, req.timeoutMs);
    const onAbort = () => fail(new OnvifError('timeout', `request to ${where} aborted`, connected));
    if (req.signal?.aborted) {
      onAbort();
      return;
    }
    req.signal?.addEventListener('abort', onAbort, { once: true });
    r.on('socket', (s: Socket) => {
      if (!s.connecting) connected = true;
      else s.once('connect', () => (connected = true));
    });
    r.on('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? '';
      if (!connected || UNREACHABLE_CODES.has(code)) {
        fail(
          new OnvifError(
            'unreachable',
            `cannot connect to ${where}: ${code || e.message}`,
            false,
            {},
            { cause: e },
          ),
        );
      } else {
        fail(
          new OnvifError(
            'malformed',
            `connection to ${where} broke: ${code || e.message}`,
            true,
            {},
            { cause: e },
          ),
        );
      }
    });
    r.on('response', (res) => {
      connected = true;
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > req.maxBytes) {
        fail(
          new OnvifError(
            'malformed',
            `answer from ${where} is ${declared} bytes, over the ${req.maxBytes}-byte cap`,
            true,
            {
              status: res.statusCode ?? 0,
            },
          ),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > req.maxBytes) {
          fail(
            new OnvifError('malformed', `answer from ${where} exceeds the ${req.maxBytes}-byte cap`, true, {
              status: res.statusCode ?? 0,
            }),
          );
          return;
        }
        chunks.push(c);
      });
      res.on('error', (e) =>
        fail(
          new OnvifError('malformed', `answer from ${where} broke off: ${e.message}`, true, {}, { cause: e }),
        ),
      );
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        const www: string[] = [];
        for (let k = 0; k + 1 < res.rawHeaders.length; k += 2) {
          if (res.rawHeaders[k]!.toLowerCase() === 'www-authenticate') www.push(res.rawHeaders[k + 1]!);
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          wwwAuthenticate: www,
          body: Buffer.concat(chunks),
        });
      });
    });
    r.end(req.body);
  });
}

export interface Credentials {
  username: string;
  password: string;
}

/**
 * Remembers a camera's Digest challenge, so later requests authenticate up front (nonce count
 * rising) instead of paying a 401 round trip each time.
 */
export class HttpAuthState {
  challenge: DigestChallenge | undefined;
  nc = 0;
  basic = false;
  /** Which scheme the camera asked for, once it asked. */
  get scheme(): 'digest' | 'basic' | undefined {
    return this.challenge ? 'digest' : this.basic ? 'basic' : undefined;
  }
}

function authorization(
  state: HttpAuthState,
  creds: Credentials,
  method: string,
  url: URL,
): string | undefined {
  if (state.challenge) {
    state.nc += 1;
    return digestAuthorization(state.challenge, creds, method, `${url.pathname}${url.search}`, state.nc);
  }
  if (state.basic) return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  return undefined;
}

/**
 * Sends a request; when the camera answers 401 with a Digest (or only a Basic) challenge, answers it
 * once. A 401 that persists after credentials were sent is returned as is (the caller decides it
 * is an authentication failure).
 */
export async function httpRequestWithAuth(
  req: HttpRequest,
  creds: Credentials | undefined,
  state: HttpAuthState,
): Promise<HttpResponse & { authSent: boolean }> {
  const send = async (auth: string | undefined) => {
    const headers = { ...req.headers };
    if (auth) headers.Authorization = auth;
    return httpRequest({ ...req, headers });
  };
  const first = creds ? authorization(state, creds, req.method, req.url) : undefined;
  const res = await send(first);
  if (res.status !== 401 || !creds) return { ...res, authSent: first !== undefined };
  const ch = parseDigestChallenge(res.wwwAuthenticate);
  const fresh = ch && (!state.challenge || ch.nonce !== state.challenge.nonce || ch.stale === true);
  if (ch && (first === undefined || fresh)) {
    state.challenge = ch;
    state.nc = 0;
  } else if (!ch && first === undefined && res.wwwAuthenticate.some((v) => /^\s*Basic\b/i.test(v))) {
    state.basic = true;
  } else {
    return { ...res, authSent: first !== undefined };
  }
  const again = await send(authorization(state, creds, req.method, req.url));
  return { ...again, authSent: true };
}
