// The dashboard's HTTP side: login, the JSON API, server-sent events and the static page.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import { type DeviceRecord, openStore, type SiteRecord, type Store } from '@pantau/broker/store';
import { isMetricName, isStale, METRICS, type MetricName } from '@pantau/contract';
import { type Static, Type } from '@sinclair/typebox';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import pino, { type Logger } from 'pino';
import { liveEventFor, registerAccessGuard } from './access.js';
import { AuditLog, auditor, registerAuditRoute } from './audit.js';
import { registerCameraRoutes } from './cameras.js';
import { registerCommissioningRoutes } from './commissioning.js';
import { type DashboardConfig, statePath } from './config.js';
import { CSRF_HEADER, foreignOrigin, LOGIN_COOKIE, LoginTokens, sameToken } from './csrf.js';
import { registerEnrollRoutes } from './enroll.js';
import { registerLinkRoutes } from './links.js';
import { type LiveEvent, LiveFeed } from './live.js';
import { observeDashboard } from './observe.js';
import { registerRemoteOps } from './remote-ops.js';
import { Slug } from './schemas.js';
import { LoginBrake, type Session, Sessions } from './sessions.js';
import { JSON_TYPE, SHARE_MS, SharedAnswers } from './shared-answer.js';
import { inScope, registerSiteGuard, scopeOf } from './site-scope.js';
import { SITE_SILENT_MS } from './summary.js';
import { registerTerminalRoutes } from './terminals.js';
import { registerUserRoutes } from './user-routes.js';
import { type Role, UserDirectory } from './users.js';
import { registerVendorRoutes } from './vendor.js';

const COOKIE = 'pantau_sid';
const PUBLIC_DIR = join(import.meta.dirname, '..', 'public');
const MAX_RANGE_MS = 400 * 86400_000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Login and its form's token: the only /api paths without a session. */
const isLoginPath = (url: string) => url === '/api/login' || url.startsWith('/api/login?');

/** What may wait for one browser's live stream before it is dropped (it reconnects by itself). */
const MAX_STREAM_BACKLOG = 1 << 20;

export interface RunningDashboard {
  port: number;
  close(): Promise<void>;
}

const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
const DevicesQuery = Type.Object({ site: Type.Optional(Slug) }, { additionalProperties: false });
const HistoryQuery = Type.Object(
  {
    site: Slug,
    device: Slug,
    metric: Type.String({ minLength: 1, maxLength: 64 }),
    from: Type.Integer({ minimum: 0 }),
    to: Type.Integer({ minimum: 0 }),
    labels: Type.Optional(Type.String({ pattern: '^[a-z_]+:[^,]+(,[a-z_]+:[^,]+)*$', maxLength: 200 })),
    max_points: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
  },
  { additionalProperties: false },
);
const EventsQuery = Type.Object(
  {
    site: Type.Optional(Slug),
    since: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);

declare module 'fastify' {
  interface FastifyRequest {
    session: Session | null;
  }
}

function siteView(s: SiteRecord, now: number) {
  const st = s.state;
  const silent = s.last_heard === null || now - s.last_heard > SITE_SILENT_MS;
  return {
    site: s.site,
    name: st?.name ?? s.site,
    state: st?.state ?? 'unknown',
    last_heard: s.last_heard,
    age_s: s.last_heard === null ? null : Math.max(0, Math.round((now - s.last_heard) / 1000)),
    silent,
    since: st?.ts ?? null,
    version: st?.version ?? null,
    uptime_s: st?.uptime_s ?? null,
    outbox_depth: s.health?.outbox.depth ?? st?.outbox_depth ?? null,
    clock: st?.clock ?? null,
    health: s.health,
  };
}

function deviceView(d: DeviceRecord, now: number) {
  const st = d.state;
  const figures: Record<string, { value: number; ts: number; age_s: number; stale: boolean }> = {};
  for (const [k, f] of Object.entries(st.figures ?? {})) {
    if (!f) continue;
    figures[k] = {
      value: f.value,
      ts: f.ts,
      age_s: Math.max(0, Math.round((now - f.ts) / 1000)),
      stale: isStale(f.ts, st.interval_s, now),
    };
  }
  return {
    site: d.site,
    device: d.device,
    name: st.name ?? d.device,
    kind: st.kind,
    status: st.status,
    reasons: st.reasons,
    last_seen: st.last_seen,
    last_seen_age_s: st.last_seen === null ? null : Math.max(0, Math.round((now - st.last_seen) / 1000)),
    // The state itself goes stale when the site box stops reporting (a silent site is not "ok").
    stale: isStale(st.ts, st.interval_s, now),
    interval_s: st.interval_s,
    vendor: st.vendor ?? null,
    model: st.model ?? null,
    firmware: st.firmware ?? null,
    figures,
    state: st,
  };
}

export async function startDashboard(
  cfg: DashboardConfig,
  opts: { logger?: Logger } = {},
): Promise<RunningDashboard> {
  const log = opts.logger ?? pino({ level: cfg.log_level, base: { service: 'pantau-dashboard' } });
  const sessions = new Sessions();
  const brake = new LoginBrake();
  const loginTokens = new LoginTokens();
  const directory = new UserDirectory(cfg.users_file, (e) =>
    log.error({ err: e.message }, 'users file unreadable; keeping the last good one'),
  );
  const auditLog = new AuditLog(statePath(cfg));
  const audit = auditor(auditLog, log.child({ component: 'audit' }));
  const secure = cfg.http.secure_cookies || cfg.httpsFiles !== undefined;
  const live = new LiveFeed({
    urls: cfg.mqtt.urls ?? (cfg.mqtt.url ? [cfg.mqtt.url] : []),
    username: cfg.mqtt.username,
    password: cfg.mqttPassword,
    ...(cfg.mqttTls ? { tls: cfg.mqttTls } : {}),
    log,
  });
  live.start();

  // The broker creates the store; until it exists the dashboard answers with empty lists.
  let store: Store | null = null;
  const getStore = (): Store | null => {
    if (!store && (cfg.store.kind !== 'sqlite' || existsSync(cfg.store.path))) {
      try {
        store = openStore(cfg.store, { readonly: true });
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'store not readable yet');
      }
    }
    return store;
  };

  const app = Fastify({
    ...(cfg.httpsFiles ? { https: { ...cfg.httpsFiles, minVersion: 'TLSv1.2' as const } } : {}),
    // Request lines at info would drown the journal on a busy control-room screen; errors still log.
    loggerInstance: log.child({ component: 'http' }, { level: 'warn' }),
    bodyLimit: 16 * 1024,
    forceCloseConnections: true,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false },
    },
  });
  await app.register(fastifyCookie);
  const observer = await observeDashboard({
    app,
    brokerConnected: () => live.connected,
    listen: cfg.metrics?.enabled ? { host: cfg.metrics.host, port: cfg.metrics.port } : null,
    log,
  });
  app.decorateRequest('session', null);

  app.setErrorHandler(
    (err: Error & { validation?: unknown; statusCode?: number; validationContext?: string }, _req, reply) => {
      if (err.validation) {
        return reply
          .code(400)
          .send({ error: 'bad_request', message: `${err.validationContext ?? 'input'}: ${err.message}` });
      }
      const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (code === 500) log.error({ err: err.message }, 'request failed');
      return reply.code(code).send({
        error: code === 500 ? 'internal' : 'bad_request',
        message: code === 500 ? 'internal error' : err.message,
      });
    },
  );

  // Every /api route but login needs a session, of a user who still exists and is enabled; the
  // role and sites are the users file's now, so a change there counts from the next request.
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    let s = sessions.get(req.cookies[COOKIE]);
    if (s) {
      const u = directory.get(s.username);
      if (!u || u.disabled) {
        sessions.endFor(s.username);
        s = null;
      } else {
        s.role = u.role;
        s.sites = u.sites ?? [];
      }
    }
    req.session = s;
    if (!req.url.startsWith('/api/') || isLoginPath(req.url)) return;
    if (!req.session)
      return reply.code(401).send({ error: 'unauthorized', message: 'login required / silakan masuk' });
  });
  // A changing request needs the session's token (login: the login form's) and, when the browser
  // names one, our own origin. SameSite=Strict cookies and JSON-only bodies stay as further layers.
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (SAFE_METHODS.has(req.method) || !req.url.startsWith('/api/')) return;
    const refuse = (message: string) => reply.code(403).send({ error: 'csrf', message });
    const foreign = foreignOrigin(req.headers);
    if (foreign) return refuse(`${foreign} / permintaan dari situs lain ditolak`);
    const token = req.headers[CSRF_HEADER];
    const sent = typeof token === 'string' ? token : undefined;
    if (isLoginPath(req.url)) {
      if (!loginTokens.valid(req.cookies[LOGIN_COOKIE], sent))
        return refuse(
          'missing or wrong X-CSRF-Token: reload the page and log in again / token CSRF tidak ada atau salah: muat ulang halaman lalu masuk lagi',
        );
      return;
    }
    if (!req.session || !sameToken(req.session.csrf, sent))
      return refuse(
        'missing or wrong X-CSRF-Token: reload the page / token CSRF tidak ada atau salah: muat ulang halaman',
      );
  });
  registerAccessGuard(app);
  registerSiteGuard(app);

  // The login form's CSRF token, also set as a short-lived cookie it must match.
  app.get('/api/login', async (_req, reply) => {
    const token = loginTokens.issue();
    reply.setCookie(LOGIN_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/api/login',
      secure,
      maxAge: 3600,
    });
    return { csrf: token };
  });

  app.post<{ Body: Static<typeof LoginBody> }>(
    '/api/login',
    { schema: { body: LoginBody } },
    async (req, reply) => {
      const { username, password } = req.body;
      const wait = brake.blockedFor(username, req.ip);
      if (wait > 0) {
        reply.header('retry-after', String(wait));
        return reply.code(429).send({
          error: 'too_many_attempts',
          message: `too many failed logins; try again in ${wait} s / terlalu banyak percobaan, coba lagi dalam ${wait} detik`,
        });
      }
      const user = await directory.verify(username, password);
      if (!user) {
        brake.fail(username, req.ip);
        const known = directory.get(username);
        audit(req, 'login_failed', username, known?.disabled ? { reason: 'disabled' } : {}, {
          user: username,
          role: known?.role ?? null,
        });
        return reply.code(401).send({
          error: 'unauthorized',
          message: 'wrong username or password / nama pengguna atau kata sandi salah',
        });
      }
      brake.succeed(username, req.ip);
      // A session id from before the login is never reused (session fixation).
      sessions.destroy(req.cookies[COOKIE]);
      const s = sessions.create(user.username, user.role, user.sites ?? []);
      audit(req, 'login', user.username, {}, { user: user.username, role: user.role });
      reply.setCookie(COOKIE, s.id, {
        httpOnly: true,
        sameSite: 'strict',
        path: '/',
        secure,
        maxAge: 12 * 3600,
      });
      reply.clearCookie(LOGIN_COOKIE, { path: '/api/login' });
      return { username: user.username, role: user.role, sites: s.sites, csrf: s.csrf };
    },
  );

  app.post('/api/logout', async (req, reply) => {
    audit(req, 'logout', req.session!.username);
    sessions.destroy(req.cookies[COOKIE]);
    reply.clearCookie(COOKIE, { path: '/' });
    return { ok: true };
  });

  app.get('/api/me', async (req) => ({
    username: req.session!.username,
    role: req.session!.role,
    sites: scopeOf(req.session),
    csrf: req.session!.csrf,
    language: cfg.language,
    timezone: cfg.timezone,
  }));

  registerUserRoutes(app, { directory, sessions, brake, audit });
  registerAuditRoute(app, auditLog);

  app.get('/api/metrics', async () => METRICS);

  const shared = new SharedAnswers(SHARE_MS);
  const siteList = async () => {
    const now = Date.now();
    const store = getStore();
    const sites = (await store?.listSites()) ?? [];
    return Promise.all(
      sites.map(async (s) => {
        const seq = await store!.sequenceReport(s.site);
        return {
          ...siteView(s, now),
          dropped: s.health?.dropped ?? null,
          missing_readings: seq.missing_count,
          backfilled_batches: seq.backfilled_batches,
        };
      }),
    );
  };
  app.get('/api/sites', async (req, reply) => {
    // Every site, computed once for all who ask within a second; an installer's own sites from it.
    const all = await shared.get('sites', siteList);
    const scope = scopeOf(req.session);
    if (!scope) return reply.type(JSON_TYPE).send(all);
    return (JSON.parse(all) as Array<{ site: string }>).filter((s) => scope.includes(s.site));
  });

  app.get<{ Params: { site: string } }>(
    '/api/sites/:site/sequence',
    { schema: { params: Type.Object({ site: Slug }) } },
    async (req, reply) => {
      const store = getStore();
      if (!store || !(await store.listSites()).some((s) => s.site === req.params.site))
        return reply.code(404).send({ error: 'not_found', message: `no site box "${req.params.site}"` });
      return store.sequenceReport(req.params.site);
    },
  );

  app.get<{ Querystring: Static<typeof DevicesQuery> }>(
    '/api/devices',
    { schema: { querystring: DevicesQuery } },
    async (req) => {
      const now = Date.now();
      return ((await getStore()?.listDevices(req.query.site)) ?? [])
        .filter((d) => inScope(req.session, d.site))
        .map((d) => deviceView(d, now));
    },
  );

  app.get<{ Params: { site: string; device: string } }>(
    '/api/devices/:site/:device',
    { schema: { params: Type.Object({ site: Slug, device: Slug }) } },
    async (req, reply) => {
      const d = ((await getStore()?.listDevices(req.params.site)) ?? []).find(
        (x) => x.device === req.params.device,
      );
      if (!d)
        return reply
          .code(404)
          .send({ error: 'not_found', message: `no device ${req.params.site}/${req.params.device}` });
      return deviceView(d, Date.now());
    },
  );

  app.get<{ Querystring: Static<typeof HistoryQuery> }>(
    '/api/history',
    { schema: { querystring: HistoryQuery } },
    async (req, reply) => {
      const q = req.query;
      if (!isMetricName(q.metric))
        return reply
          .code(400)
          .send({ error: 'bad_request', message: `metric: unknown metric "${q.metric}"` });
      if (q.from >= q.to)
        return reply.code(400).send({ error: 'bad_request', message: 'from: must be before to' });
      if (q.to - q.from > MAX_RANGE_MS)
        return reply.code(400).send({ error: 'bad_request', message: 'to: range longer than 400 days' });
      const labels = q.labels
        ? Object.fromEntries(q.labels.split(',').map((p) => p.split(':', 2) as [string, string]))
        : undefined;
      return (
        (await getStore()?.history({
          site: q.site,
          device: q.device,
          metric: q.metric as MetricName,
          from: q.from,
          to: q.to,
          maxPoints: q.max_points,
          ...(labels ? { labels } : {}),
        })) ?? []
      );
    },
  );

  app.get<{ Querystring: Static<typeof EventsQuery> }>(
    '/api/events',
    { schema: { querystring: EventsQuery } },
    async (req) => {
      const q = req.query;
      const store = getStore();
      if (!store) return [];
      const since = q.since !== undefined ? { since: q.since } : {};
      const scope = scopeOf(req.session);
      if (q.site || !scope)
        return store.listEvents({ limit: q.limit, ...(q.site ? { site: q.site } : {}), ...since });
      // An installer's events: each assigned site's newest, merged, newest first like the store's.
      const lists = await Promise.all(
        scope.map((site) => store.listEvents({ limit: q.limit, site, ...since })),
      );
      return lists
        .flat()
        .sort((a, b) => b.ts - a.ts)
        .slice(0, q.limit);
    },
  );

  await registerLinkRoutes(app, { backbone: cfg.backbone, getStore, log, audit });
  await registerCommissioningRoutes(app, { backbone: cfg.backbone });
  await registerCameraRoutes(app, { backbone: cfg.backbone, getStore, live, log, audit });
  await registerTerminalRoutes(app, { backbone: cfg.backbone, getStore, live, log, audit });
  await registerEnrollRoutes(app, { enroll: cfg.enroll, backbone: cfg.backbone, log, audit });
  await registerRemoteOps(app, { cfg, getStore, live, log, audit });

  // Each event's text per role, made once and written to every stream of that role: serialising it
  // again per browser made the fan-out cost grow with the payload times the clients (bench).
  const frames = new WeakMap<LiveEvent, Map<Role, string>>();
  const frameOf = (role: Role, e: LiveEvent): string => {
    let byRole = frames.get(e);
    if (!byRole) {
      byRole = new Map();
      frames.set(e, byRole);
    }
    let text = byRole.get(role);
    if (text === undefined) {
      text = `event: ${e.type}\ndata: ${JSON.stringify(liveEventFor(role, e))}\n\n`;
      byRole.set(role, text);
    }
    return text;
  };

  app.get('/api/stream', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`event: hello\ndata: ${JSON.stringify({ server_time: Date.now() })}\n\n`);
    // The session object itself: a role or site change reaches an open stream, and the stream ends
    // with the session (logout, user removed or disabled).
    const session = req.session!;
    // The events of one turn of the event loop go out in one write (one system call per browser,
    // not one per event). A browser that stops reading is dropped once a megabyte waits for it,
    // instead of the dashboard buffering for it without end; its EventSource reconnects by itself.
    let pending = '';
    const flush = () => {
      if (res.destroyed) return;
      if (res.writableLength > MAX_STREAM_BACKLOG) res.destroy();
      else res.write(pending);
      pending = '';
    };
    const off = live.subscribe((e) => {
      if (!inScope(session, e.site)) return;
      if (pending === '') setImmediate(flush);
      pending += frameOf(session.role, e);
    });
    const beat = setInterval(() => res.write(`: keep-alive ${Date.now()}\n\n`), 15_000);
    const gone = observer.streamOpened();
    const unEnd = sessions.onEnd(session.id, () => res.end());
    req.raw.on('close', () => {
      clearInterval(beat);
      off();
      gone();
      unEnd();
    });
  });

  app.get('/healthz', async () => ({
    ok: true,
    mqtt: live.connected,
    store: getStore() !== null,
    server_time: Date.now(),
  }));

  registerVendorRoutes(app);
  await app.register(fastifyStatic, { root: PUBLIC_DIR, index: 'index.html', wildcard: false });

  await app.listen({ host: cfg.http.host, port: cfg.http.port });
  const port = (app.server.address() as { port: number }).port;
  log.info({ port }, 'dashboard listening');
  return {
    port,
    close: async () => {
      await live.stop();
      await observer.close();
      await app.close();
      await store?.close();
      auditLog.close();
    },
  };
}
