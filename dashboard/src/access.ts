// Which role may call which API: the page shows each role only its views, and the server refuses the
// rest with 403, so hiding a menu entry is never the only thing between a user and the data.
// Unlisted /api routes are for engineers and admins only (deny by default).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { LiveEvent } from './live.js';
import type { Role } from './users.js';

const ALL: readonly Role[] = ['admin', 'engineer', 'operator', 'leadership', 'installer', 'hr'];
const TECH: readonly Role[] = ['admin', 'engineer'];

/** Longest matching prefix wins; a prefix matches the path itself or the path followed by "/" or "?". */
const RULES: ReadonlyArray<[prefix: string, roles: readonly Role[]]> = [
  ['/api/login', ALL],
  ['/api/logout', ALL],
  ['/api/me', ALL],
  ['/api/metrics', ALL],
  ['/api/stream', ALL],
  ['/api/summary', ALL],
  ['/api/cameras', [...TECH, 'operator']],
  ['/api/incidents', [...TECH, 'operator']],
  // Availability reports go to leadership too (the Regent's monthly figures).
  ['/api/uptime', [...TECH, 'operator', 'leadership']],
  ['/api/events', [...TECH, 'operator', 'hr', 'installer']],
  ['/api/terminals', [...TECH, 'hr']],
  ['/api/attendance', [...TECH, 'hr']],
  // Installers check site boxes and devices on the day they set them up.
  ['/api/sites', [...TECH, 'installer']],
  ['/api/sites/:site/commissioning', [...TECH, 'installer']],
  ['/api/devices', [...TECH, 'installer']],
  ['/api/history', [...TECH, 'installer']],
  ['/api/pairing', [...TECH, 'installer']],
  // Installers only for the sites the users file gives them (enroll.ts checks the site).
  ['/api/enrollments', [...TECH, 'installer']],
  // Changing a site box's config or acting through it: engineers only, installers included out.
  ['/api/sites/:site/config', TECH],
  ['/api/sites/:site/ops', TECH],
  ['/api/backbone', TECH],
  ['/api/links', TECH],
  // Engineers read the audit trail (who set a clock, who recorded a baseline); only admins manage users.
  ['/api/audit', TECH],
  ['/api/users', ['admin']],
];

function matches(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}?`);
}

/** The roles allowed on a request path (query string included or not). */
export function rolesFor(url: string): readonly Role[] {
  let best: (typeof RULES)[number] | null = null;
  for (const r of RULES) if (matches(url, r[0]) && (!best || r[0].length > best[0].length)) best = r;
  return best ? best[1] : TECH;
}

export function mayCall(role: Role, url: string): boolean {
  return rolesFor(url).includes(role);
}

/** Refuses an API call the session's role may not make. Runs after the session is looked up. */
type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

export function registerAccessGuard(app: App): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.url.startsWith('/api/') || !req.session) return;
    // The route that will answer (its pattern), not the raw URL: encoded or doubled characters in a
    // path cannot make one route pass for another. No route: it answers 404 anyway.
    const route = req.routeOptions.url;
    if (route === undefined || mayCall(req.session.role, route)) return;
    return reply.code(403).send({
      error: 'forbidden',
      message: `role "${req.session.role}" may not use ${route} / peran "${req.session.role}" tidak boleh membuka ${route}`,
    });
  });
}

/**
 * What the live stream tells a role about a change. Engineers get the message itself; the other
 * roles only learn that something at a site changed, and reload the data their APIs allow them.
 */
export function liveEventFor(role: Role, e: LiveEvent): LiveEvent | Omit<LiveEvent, 'payload'> {
  if (TECH.includes(role)) return e;
  return { type: e.type, site: e.site, ...(e.device ? { device: e.device } : {}) };
}
