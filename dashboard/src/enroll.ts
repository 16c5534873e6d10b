// Enrolling a site box: engineers (and installers, for the sites they are given) issue a one-time,
// expiring token here; the installer types it on the box, which redeems it at POST /enroll for its
// site id and broker account. Only the token's hash is kept; every step goes to the audit log.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadBackbone } from '@pantau/broker/backbone';
import {
  type Enrollment,
  EnrollmentDb,
  ProvisionError,
  provisionGateway,
  TtlError,
  ttlMs,
} from '@pantau/broker/enroll';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import { renderSVG } from 'uqr';
import type { Audit } from './audit.js';
import type { EnrollSettings } from './enroll-config.js';
import { Slug } from './schemas.js';
import { LoginBrake, type Session } from './sessions.js';
import { inScope } from './site-scope.js';

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

const IssueBody = Type.Object(
  {
    site: Slug,
    /** Hours the token stays valid: default 24, at most 168; fractions allowed (down to one second). */
    ttl_h: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 168 })),
    /** The site is not in backbone.yaml yet: enroll it anyway (engineers add it to the backbone later). */
    new_site: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const RedeemBody = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 64 }),
    box: Type.Object(
      {
        hostname: Type.String({ minLength: 1, maxLength: 255 }),
        version: Type.String({ minLength: 1, maxLength: 64 }),
        fingerprint: Type.String({ minLength: 1, maxLength: 128 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }) });

/** After this many failed redemptions from one address, that address is refused for LOCK_MS. */
const MAX_FAILURES = 5;
const LOCK_MS = 10 * 60_000;

/**
 * The sites a session may enroll: all for engineers and admins, an installer only those the users
 * file gives them (a `sites:` list, read defensively: without one, none).
 */
export function sitesOf(s: Session): 'all' | readonly string[] {
  if (s.role === 'admin' || s.role === 'engineer') return 'all';
  return s.role === 'installer' ? s.sites : [];
}

/** The token as a QR code, so a phone or a USB scanner at the box can read it instead of typing. */
export function tokenQrSvg(token: string): string {
  return renderSVG(token, { ecc: 'M', border: 4, pixelSize: 8 });
}

export async function registerEnrollRoutes(
  app: App,
  o: {
    enroll: EnrollSettings | undefined;
    backbone: { file: string } | undefined;
    log: Logger;
    audit: Audit;
  },
): Promise<void> {
  const { log, audit: record } = o;
  // The site box redeeming a token has no session: the trail names it by its hostname.
  const boxUser = (box: { hostname?: string } | undefined) => ({
    user: `site box ${box?.hostname ?? '?'}`,
    role: null,
  });
  const settings = o.enroll;
  const db = settings ? new EnrollmentDb(settings.statePath) : null;
  app.addHook('onClose', async () => db?.close());
  const brake = new LoginBrake(MAX_FAILURES, LOCK_MS);
  // One redemption at a time: each reads and rewrites the accounts file.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const run = queue.then(f, f);
    queue = run.catch(() => {});
    return run;
  };
  const notConfigured = {
    error: 'not_configured',
    message:
      'enrollment is not configured (enroll: in dashboard.yaml) / pendaftaran kotak lokasi belum diatur',
  };

  app.post<{ Body: Static<typeof IssueBody> }>(
    '/api/enrollments',
    { schema: { body: IssueBody } },
    async (req, reply) => {
      if (!db) return reply.code(404).send(notConfigured);
      const s = req.session!;
      const { site } = req.body;
      if (!inScope(s, site))
        return reply.code(403).send({
          error: 'forbidden',
          message: `you may not enroll site "${site}" / Anda tidak boleh mendaftarkan lokasi "${site}"`,
        });
      if (o.backbone && !req.body.new_site && !loadBackbone(o.backbone.file).sites.has(site))
        return reply.code(404).send({
          error: 'unknown_site',
          message: `site "${site}" is not in backbone.yaml; add it there, or enroll it as a new site (new_site: true) / lokasi "${site}" tidak ada di backbone.yaml`,
        });
      let ttl: number;
      try {
        ttl = ttlMs(req.body.ttl_h);
      } catch (e) {
        if (e instanceof TtlError) return reply.code(400).send({ error: 'bad_request', message: e.message });
        throw e;
      }
      const { enrollment, token } = db.issue({
        site,
        by: s.username,
        ttlMs: ttl,
        newSite: req.body.new_site === true,
      });
      record(req, 'enroll_issue', site, { enrollment: enrollment.id, expires_at: enrollment.expires_at });
      return reply.code(201).send({ ...enrollment, token, qr_svg: tokenQrSvg(token) });
    },
  );

  app.get('/api/enrollments', async (req, reply) => {
    if (!db) return reply.code(404).send(notConfigured);
    const sites = sitesOf(req.session!);
    return db.list(sites === 'all' ? {} : { sites });
  });

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/enrollments/:id/revoke',
    { schema: { params: IdParams } },
    async (req, reply) => {
      if (!db) return reply.code(404).send(notConfigured);
      const s = req.session!;
      const e = db.get(req.params.id);
      if (!e || !inScope(s, e.site))
        return reply.code(404).send({ error: 'not_found', message: `no enrollment "${req.params.id}"` });
      if (!db.revoke(e.id, s.username))
        return reply
          .code(409)
          .send({ error: e.status, message: `enrollment ${e.id} is ${e.status}, not pending` });
      record(req, 'enroll_revoke', e.site, { enrollment: e.id });
      return db.get(e.id);
    },
  );

  // The site box's side: no session (the token is the credential), refused per address after a few misses.
  app.post<{ Body: Static<typeof RedeemBody> }>(
    '/enroll',
    { schema: { body: RedeemBody } },
    async (req, reply) => {
      if (!db || !settings) return reply.code(404).send(notConfigured);
      const ip = req.ip;
      const { box } = req.body;
      const audit = { audit: 'enroll_redeem', ip, box };
      const wait = brake.blockedFor('enroll', ip);
      if (wait > 0) {
        record(req, 'enroll_redeem', null, { ok: false, reason: 'rate_limited' }, boxUser(box));
        reply.header('retry-after', String(wait));
        return reply.code(429).send({
          error: 'too_many_attempts',
          message: `too many wrong tokens from this address; try again in ${wait} s / terlalu banyak token salah, coba lagi dalam ${wait} detik`,
        });
      }
      const refuse = (code: number, e: Enrollment | null, reason: string, message: string) => {
        brake.fail('enroll', ip);
        record(
          req,
          'enroll_redeem',
          e?.site ?? null,
          { ok: false, reason, ...(e ? { enrollment: e.id } : {}), box },
          boxUser(box),
        );
        return reply.code(code).send({ error: reason, message });
      };
      return serial(async () => {
        const e = db.find(req.body.token);
        if (!e) return refuse(404, null, 'unknown_token', 'unknown token / token tidak dikenal');
        const why = (x: Enrollment) =>
          x.status === 'used'
            ? refuse(
                409,
                x,
                'token_used',
                `this token was already used (${new Date(x.used_at!).toISOString()}) / token sudah dipakai`,
              )
            : x.status === 'revoked'
              ? refuse(410, x, 'token_revoked', 'this token was withdrawn / token sudah dicabut')
              : refuse(
                  410,
                  x,
                  'token_expired',
                  `this token expired at ${new Date(x.expires_at).toISOString()}; ask for a new one / token sudah kedaluwarsa, minta token baru`,
                );
        if (e.status !== 'pending' || !db.claim(e.id, ip, box)) return why(db.get(e.id) ?? e);
        let account: { username: string; password: string };
        try {
          account = await provisionGateway(settings.credentialsFile, e.site);
        } catch (err) {
          db.release(e.id);
          log.error(
            { ...audit, ok: false, site: e.site, enrollment: e.id, err: (err as Error).message },
            'enrollment failed: the account could not be written',
          );
          return reply.code(err instanceof ProvisionError ? 409 : 500).send({
            error: 'account_failed',
            message: `the central could not create the site box's account: ${err instanceof ProvisionError ? err.message : 'see the dashboard log'}`,
          });
        }
        brake.succeed('enroll', ip);
        record(
          req,
          'enroll_redeem',
          e.site,
          { ok: true, enrollment: e.id, account: account.username, box },
          boxUser(box),
        );
        return {
          site: e.site,
          mqtt: { urls: settings.mqttUrls, username: account.username, password: account.password },
          ...(settings.caPem ? { ca_pem: settings.caPem } : {}),
        };
      });
    },
  );
}
