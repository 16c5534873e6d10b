// Who may publish and subscribe where. A site box's account is fenced into its own site's topics,
// and may not pose as the central (request/…); a reader account only reads, unless it may also send
// requests to site boxes (the dashboard's, for clock sync).

import { parseTopic, TOPIC_ROOT } from '@pantau/contract';
import type { Account } from './credentials.js';

export type Decision = { ok: true } | { ok: false; reason: string };

const RETAINED_KINDS = new Set(['gateway-state', 'device-state', 'device-thumbnail']);

export function mayPublish(
  a: Account,
  topic: string,
  retain: boolean,
  bytes: number,
  maxBytes: number,
): Decision {
  if (bytes > maxBytes) return { ok: false, reason: `payload of ${bytes} bytes exceeds ${maxBytes}` };
  const t = parseTopic(topic);
  if (a.role === 'reader') {
    if (!a.requests) return { ok: false, reason: 'read-only account' };
    if (t?.kind !== 'request') return { ok: false, reason: 'this account may publish requests only' };
    if (retain) return { ok: false, reason: 'requests may not be retained' };
    return { ok: true };
  }
  if (!t) return { ok: false, reason: 'not a contract v1 topic' };
  if (t.site !== a.site)
    return { ok: false, reason: `site box of "${a.site}" may not publish for "${t.site}"` };
  if (t.kind === 'request') return { ok: false, reason: 'requests come from the central only' };
  if (retain && !RETAINED_KINDS.has(t.kind)) return { ok: false, reason: `${t.kind} may not be retained` };
  return { ok: true };
}

export function maySubscribe(a: Account, filter: string): Decision {
  if (a.role === 'reader') {
    return filter.startsWith(`${TOPIC_ROOT}/`)
      ? { ok: true }
      : { ok: false, reason: `readers see ${TOPIC_ROOT}/# only` };
  }
  // A site box listens for the central's requests to it, nothing else.
  const own = `${TOPIC_ROOT}/${a.site}/request/`;
  if (filter.startsWith(own) && !filter.slice(own.length).includes('/')) return { ok: true };
  return { ok: false, reason: `site box of "${a.site}" may subscribe only to ${own}#` };
}
