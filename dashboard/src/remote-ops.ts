// Remote operations on a site box from the command center: push a new site.yaml (checked here with
// the box's own validator before it is sent, kept as a numbered version, the box's answer recorded)
// and remote hands (discover, probe, ping, traceroute, restart one device's poller). Engineers and
// admins only; every request goes through forwardToSite, which audits it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { type SiteConfigRecord, SiteConfigs } from '@pantau/broker';
import type { Store } from '@pantau/broker/store';
import { ConfigError } from '@pantau/config';
import { checkGatewayConfigText } from '@pantau/gateway/config';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { Audit } from './audit.js';
import { type DashboardConfig, statePath } from './config.js';
import type { LiveFeed } from './live.js';
import { Slug } from './schemas.js';
import type { Session } from './sessions.js';
import { forwardToSite } from './site-request.js';
import type { Role } from './users.js';

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

/** Roles that may change a site box or act through it. */
const OPERATORS: Role[] = ['admin', 'engineer'];
const FORBIDDEN =
  'only engineers may operate a site box remotely / hanya teknisi yang boleh mengoperasikan kotak lokasi dari jauh';
/** The same bound as the site box's (gateway/src/daemon.ts MAX_CONFIG_BYTES). */
const MAX_CONFIG_BYTES = 96 * 1024;
/** A push waits for the box to apply the config and watch its devices' first polls. */
export const PUSH_TIMEOUT_MS = 120_000;
/**
 * The box must start within this (args.not_after), so it finishes (30 s of first polls at most)
 * while the central still waits: a push recorded as unanswered is never applied later.
 */
export const PUSH_START_MS = 60_000;

/** The remote hands and how long the central waits for each. */
const HANDS: Record<string, { timeoutMs: number }> = {
  discover: { timeoutMs: 20_000 },
  probe: { timeoutMs: 60_000 },
  ping: { timeoutMs: 30_000 },
  traceroute: { timeoutMs: 180_000 },
  'restart-collector': { timeoutMs: 20_000 },
};

const SiteParams = Type.Object({ site: Slug });
const OpParams = Type.Object({ site: Slug, op: Type.String({ maxLength: 40 }) });
const ConfigQuery = Type.Object(
  { version: Type.Optional(Type.Integer({ minimum: 1 })) },
  { additionalProperties: false },
);
const PushBody = Type.Object(
  { yaml: Type.String({ minLength: 1, maxLength: MAX_CONFIG_BYTES }) },
  { additionalProperties: false },
);
// The box checks every argument (remote-hands.ts); here only the shape and size.
const OpBody = Type.Record(Type.String({ maxLength: 40 }), Type.Unknown(), { maxProperties: 10 });

export interface RemoteOpsOptions {
  cfg: DashboardConfig;
  getStore: () => Store | null;
  live: LiveFeed;
  log: Logger;
  audit: Audit;
}

/** The box's answer to a push, as the site_configs table keeps it. */
export function outcome(a: { ok: boolean; result?: unknown; error?: { code: string; message: string } }): {
  status: SiteConfigRecord['status'];
  detail: string | null;
} {
  if (!a.ok)
    return {
      status: a.error?.code === 'no_answer' ? 'no_answer' : 'failed',
      detail: a.error ? `${a.error.code}: ${a.error.message}` : null,
    };
  const r = a.result as { ok?: boolean; rolledBack?: boolean; error?: string } | undefined;
  if (r?.ok) return { status: 'applied', detail: null };
  return { status: r?.rolledBack ? 'rolled_back' : 'refused', detail: r?.error ?? 'no reason given' };
}

export interface ConfigProblem {
  message: string;
  issues: Array<{ line: number; column: number; field: string; message: string }>;
}

/** A site.yaml checked as the box would, but without the files it names (those are on the box). */
export function checkSiteConfig(site: string, yaml: string): ConfigProblem | null {
  try {
    const parsed = checkGatewayConfigText(yaml, `${site}/site.yaml`);
    if (parsed.site.id === site) return null;
    const message = `site.id: is "${parsed.site.id}", this is site "${site}"`;
    return {
      message: `${site}/site.yaml: ${message}`,
      issues: [{ line: 0, column: 0, field: 'site.id', message }],
    };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return {
      message: e.message,
      issues: e.issues.map(({ line, column, field, message }) => ({ line, column, field, message })),
    };
  }
}

export async function registerRemoteOps(app: App, o: RemoteOpsOptions): Promise<void> {
  let db: SiteConfigs | null = null;
  const configs = (): SiteConfigs => {
    db ??= new SiteConfigs(statePath(o.cfg));
    return db;
  };
  app.addHook('onClose', async () => db?.close());

  /** A site the central has heard from. */
  const siteKnown = async (site: string) =>
    ((await o.getStore()?.listSites()) ?? []).some((s) => s.site === site);
  const allowed = (session: Session | null, reply: FastifyReply): session is Session => {
    if (session && OPERATORS.includes(session.role as Role)) return true;
    void reply.code(403).send({ error: 'forbidden', message: FORBIDDEN });
    return false;
  };

  // A site.yaml may be sent as JSON {yaml} or as the file itself (application/yaml). Never
  // text/plain, which a cross-site form could send.
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string', bodyLimit: MAX_CONFIG_BYTES },
    (_req, body, done) => done(null, { yaml: body }),
  );

  app.post<{ Params: Static<typeof SiteParams>; Body: Static<typeof PushBody> }>(
    '/api/sites/:site/config',
    { schema: { params: SiteParams, body: PushBody }, bodyLimit: MAX_CONFIG_BYTES + 1024 },
    async (req, reply) => {
      if (!allowed(req.session, reply)) return reply;
      const { site } = req.params;
      const { yaml } = req.body;
      const problem = checkSiteConfig(site, yaml);
      if (problem) {
        o.audit(req, 'site_config_push', site, {
          ok: false,
          error: 'invalid_config',
          message: problem.message,
        });
        return reply.code(400).send({ error: 'invalid_config', ...problem });
      }
      if (!(await siteKnown(site)))
        return reply.code(404).send({ error: 'not_found', message: `no such site ${site}` });
      const rec = configs().add(site, yaml, req.session.username);
      let answer: ReturnType<typeof outcome> = { status: 'no_answer', detail: null };
      const res = await forwardToSite(
        {
          site,
          op: 'config-push',
          audit: 'site_config_push',
          allowed: OPERATORS,
          forbidden: FORBIDDEN,
          exists: async () => true,
          args: { yaml, version: String(rec.version), not_after: Date.now() + PUSH_START_MS },
          timeoutMs: PUSH_TIMEOUT_MS,
          onAnswer: (a) => {
            answer = outcome(a);
            configs().answer(site, rec.version, answer.status, answer.detail);
          },
        },
        req,
        reply,
        o.live,
        o.log,
        o.audit,
      );
      if (reply.sent) return reply;
      const body = { site, version: rec.version, status: answer.status, detail: answer.detail, result: res };
      // The box answered, but did not take the config: the request was fine, its content was not.
      return reply.code(answer.status === 'applied' ? 200 : 422).send(body);
    },
  );

  app.get<{ Params: Static<typeof SiteParams>; Querystring: Static<typeof ConfigQuery> }>(
    '/api/sites/:site/config',
    { schema: { params: SiteParams, querystring: ConfigQuery } },
    async (req, reply) => {
      if (!allowed(req.session, reply)) return reply;
      const { site } = req.params;
      const one = configs().get(site, req.query.version);
      if (!one)
        return reply.code(404).send({
          error: 'not_found',
          message:
            req.query.version === undefined
              ? `no config was sent to site ${site} from here`
              : `site ${site} has no config version ${req.query.version}`,
        });
      return {
        ...one,
        last_applied: configs().lastApplied(site)?.version ?? null,
        versions: configs().list(site),
      };
    },
  );

  app.post<{ Params: Static<typeof OpParams>; Body: Record<string, unknown> }>(
    '/api/sites/:site/ops/:op',
    { schema: { params: OpParams, body: OpBody } },
    async (req, reply) => {
      if (!allowed(req.session, reply)) return reply;
      const { site, op } = req.params;
      const hand = HANDS[op];
      if (!hand)
        return reply.code(404).send({
          error: 'not_found',
          message: `no operation "${op}" (${Object.keys(HANDS).join(', ')})`,
        });
      const args = { ...req.body };
      // The session says who asked, never the body.
      delete args.by;
      const res = await forwardToSite(
        {
          site,
          op,
          audit: `site_op_${op.replace(/-/g, '_')}`,
          allowed: OPERATORS,
          forbidden: FORBIDDEN,
          exists: () => siteKnown(site),
          args,
          timeoutMs: hand.timeoutMs,
        },
        req,
        reply,
        o.live,
        o.log,
        o.audit,
      );
      return reply.sent ? reply : res;
    },
  );
}
