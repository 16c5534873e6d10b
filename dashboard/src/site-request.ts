// Asking a site box to act on one of its devices (set a camera's or a terminal's clock): only the
// roles allowed, only for a device the central knows, every attempt in the audit log, and an answer
// that says whose fault a failure is (404 unknown device, 502 the site box refused, 504 no answer).

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Audit } from './audit.js';
import type { LiveFeed } from './live.js';
import type { Role } from './users.js';

export interface SiteRequest {
  site: string;
  device: string;
  /** The request topic's operation, e.g. camera-clock-sync. */
  op: string;
  /** The audit log's name for the action. */
  audit: string;
  allowed: Role[];
  forbidden: string;
  /** Whether the central knows this device as the right kind. */
  exists: () => Promise<boolean>;
}

export async function forwardToSite(
  r: SiteRequest,
  req: FastifyRequest,
  reply: FastifyReply,
  live: LiveFeed,
  log: Logger,
  audit: Audit,
): Promise<unknown> {
  const session = req.session!;
  if (!r.allowed.includes(session.role as Role))
    return reply.code(403).send({ error: 'forbidden', message: r.forbidden });
  if (!(await r.exists()))
    return reply.code(404).send({ error: 'not_found', message: `no such device ${r.site}/${r.device}` });
  const target = `${r.site}/${r.device}`;
  try {
    const res = await live.request(r.site, r.op, { device: r.device, by: session.username });
    if (!res.ok) {
      audit(req, r.audit, target, { ok: false, error: res.error ?? null });
      log.warn({ target, error: res.error }, `${r.audit} refused by the site box`);
      return reply
        .code(502)
        .send({ error: res.error?.code ?? 'failed', message: `site box: ${res.error?.message ?? 'failed'}` });
    }
    audit(req, r.audit, target, { ok: true, result: res.result });
    return res.result;
  } catch (e) {
    audit(req, r.audit, target, { ok: false, error: (e as Error).message });
    return reply.code(504).send({ error: 'no_answer', message: (e as Error).message });
  }
}
