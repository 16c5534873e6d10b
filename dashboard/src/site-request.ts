// Asking a site box to act on one of its devices (set a camera's or a terminal's clock): only the
// roles allowed, only for a device the central knows, every attempt in the audit log, and an answer
// that says whose fault a failure is (404 unknown device, 502 the site box refused, 504 no answer).

import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { LiveFeed } from './live.js';
import type { Session } from './sessions.js';
import type { Role } from './users.js';

export interface SiteRequest {
  site: string;
  /** The device acted on; absent for an operation of the site box itself (config push, discover). */
  device?: string;
  /** The request topic's operation, e.g. camera-clock-sync. */
  op: string;
  /** The audit log's name for the action. */
  audit: string;
  allowed: Role[];
  forbidden: string;
  /** Whether the central knows this device as the right kind (or the site, without a device). */
  exists: () => Promise<boolean>;
  /** The request's arguments besides device and by. */
  args?: Record<string, unknown>;
  /** How long to wait for the box's answer; default 20 s. */
  timeoutMs?: number;
  /** Told how it ended, before the reply is sent (e.g. to record a config push's outcome). */
  onAnswer?: (a: { ok: boolean; result?: unknown; error?: { code: string; message: string } }) => void;
}

export async function forwardToSite(
  r: SiteRequest,
  session: Session,
  reply: FastifyReply,
  live: LiveFeed,
  log: Logger,
): Promise<unknown> {
  if (!r.allowed.includes(session.role as Role))
    return reply.code(403).send({ error: 'forbidden', message: r.forbidden });
  if (!(await r.exists()))
    return reply.code(404).send({
      error: 'not_found',
      message: r.device ? `no such device ${r.site}/${r.device}` : `no such site ${r.site}`,
    });
  const audit = {
    audit: r.audit,
    username: session.username,
    site: r.site,
    ...(r.device ? { device: r.device } : {}),
    // What was asked, not the answer: a config text is in the site_configs table, not the log.
    ...(r.args ? { args: Object.fromEntries(Object.entries(r.args).filter(([k]) => k !== 'yaml')) } : {}),
  };
  try {
    const res = await live.request(
      r.site,
      r.op,
      { ...(r.args ?? {}), ...(r.device ? { device: r.device } : {}), by: session.username },
      r.timeoutMs,
    );
    r.onAnswer?.({
      ok: res.ok,
      ...(res.ok ? { result: res.result } : {}),
      ...(res.error ? { error: res.error } : {}),
    });
    if (!res.ok) {
      log.warn({ ...audit, ok: false, error: res.error }, `${r.audit} refused by the site box`);
      // The box judged the arguments or the device: the asker's mistake, not the box's failure.
      const code = res.error?.code === 'bad_args' ? 400 : res.error?.code === 'unknown_device' ? 404 : 502;
      return reply
        .code(code)
        .send({ error: res.error?.code ?? 'failed', message: `site box: ${res.error?.message ?? 'failed'}` });
    }
    log.info({ ...audit, ok: true, result: res.result }, r.audit);
    return res.result;
  } catch (e) {
    r.onAnswer?.({ ok: false, error: { code: 'no_answer', message: (e as Error).message } });
    log.warn({ ...audit, ok: false, error: (e as Error).message }, `${r.audit} failed`);
    return reply.code(504).send({ error: 'no_answer', message: (e as Error).message });
  }
}
