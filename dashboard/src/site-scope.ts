// Installers see only the sites assigned to them (users.yaml `sites:`). A request that names another
// site, in its path or its query, is refused with 403 naming the site; lists that name none are
// filtered by the routes with `inScope`. Every other role sees every site.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { Session } from './sessions.js';

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

/** Whether a session may see a site. */
export function inScope(s: Session | null, site: string): boolean {
  if (!s) return false;
  return s.role !== 'installer' || s.sites.includes(site);
}

/** The sites a session is limited to, or null when it sees them all. */
export function scopeOf(s: Session | null): readonly string[] | null {
  return s?.role === 'installer' ? s.sites : null;
}

export function forbiddenSite(s: Session, site: string) {
  return {
    error: 'forbidden_site',
    site,
    message: `site "${site}" is not assigned to ${s.username} / lokasi "${site}" tidak ditugaskan kepada ${s.username}`,
  };
}

export function registerSiteGuard(app: App): void {
  // After validation, so `site` is what the route will use, decoded and checked as a slug.
  app.addHook('preHandler', async (req: FastifyRequest, reply) => {
    const s = req.session;
    if (s?.role !== 'installer' || !req.url.startsWith('/api/')) return;
    for (const from of [req.params, req.query] as unknown[]) {
      const site = (from as { site?: unknown } | undefined)?.site;
      if (typeof site === 'string' && !inScope(s, site)) return reply.code(403).send(forbiddenSite(s, site));
    }
  });
}
