// Calls to the dashboard's API from the page. Every changing request carries the session's CSRF
// token (from /api/me or the login answer) in X-CSRF-Token; the login form's own token comes from
// GET /api/login.

import { tr } from './i18n.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The server's error code, e.g. forbidden_site. */
    readonly code: string | null = null,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

let csrf = '';

/** The token the server gave this session (or the login form). */
export function setCsrf(token: string): void {
  csrf = token;
}

export async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const method = (init?.method ?? 'GET').toUpperCase();
  const headers = new Headers(init?.headers);
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers.set('x-csrf-token', csrf);
  const res = await fetch(path, { credentials: 'same-origin', ...init, headers });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as {
      message?: string;
      error?: string;
      reason?: { id: string; en: string };
    };
    // A reason in both languages is shown in the page's; otherwise the message as it came.
    const message = body.reason ? tr(body.reason) : (body.message ?? `${path}: ${res.status}`);
    throw new ApiError(res.status, message, body.error ?? null, body);
  }
  return (await res.json()) as T;
}

/** Changing requests send JSON only: a cross-site form cannot, which is part of the CSRF defence. */
export function send<T>(
  method: 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  return api<T>(path, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
}

export const post = <T>(path: string, body: unknown): Promise<T> => send<T>('POST', path, body);

/** Logs in: fetches the login form's token first, then keeps the session's. */
export async function logIn(username: string, password: string): Promise<void> {
  setCsrf((await api<{ csrf: string }>('/api/login')).csrf);
  const me = await post<{ csrf: string }>('/api/login', { username, password });
  setCsrf(me.csrf);
}
