// The backbone in the API: sites and links with the central's verdicts, a link's two ends side by
// side, commissioning a baseline (engineers), attendance gaps and pairing proposals (incidents and
// uptime reports: incidents.ts).

import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  attendanceGaps,
  type Backbone,
  BaselineError,
  CentralDb,
  computeBaseline,
  descendants,
  loadBackbone,
  proposalYaml,
  proposePairs,
} from '@pantau/broker/backbone';
import type { Store } from '@pantau/broker/store';
import type { MetricName } from '@pantau/contract';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { Audit } from './audit.js';
import { registerIncidentRoutes } from './incidents.js';
import { Slug } from './schemas.js';
import { JSON_TYPE, SHARE_MS, SharedAnswers } from './shared-answer.js';
import { inScope, scopeOf } from './site-scope.js';
import { registerSummaryRoute } from './summary.js';
import type { Role } from './users.js';

const BaselineBody = Type.Object(
  {
    /** The quiet window the baseline is the median of. */
    minutes: Type.Integer({ minimum: 1, maximum: 24 * 60, default: 15 }),
    note: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

const LATENCY: MetricName[] = [
  'loss_pct',
  'latency_ms',
  'jitter_ms',
  'latency_min_ms',
  'latency_p10_ms',
  'latency_p25_ms',
  'latency_p50_ms',
  'latency_p75_ms',
  'latency_p90_ms',
  'latency_max_ms',
];
const GapsQuery = Type.Object(
  {
    from: Type.Optional(Type.Integer({ minimum: 0 })),
    to: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/** Roles that may commission a link (record its baseline). */
const COMMISSIONERS: Role[] = ['admin', 'engineer'];

export interface LinkRoutesOptions {
  backbone?: { file: string; state_path: string } | undefined;
  getStore: () => Store | null;
  log: Logger;
  audit: Audit;
}

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

export async function registerLinkRoutes(app: App, opts: LinkRoutesOptions): Promise<void> {
  const { getStore, audit } = opts;
  let bb: Backbone | null = null;
  let db: CentralDb | null = null;
  if (opts.backbone) {
    bb = loadBackbone(opts.backbone.file);
    db = new CentralDb(opts.backbone.state_path);
    app.addHook('onClose', async () => db?.close());
  }
  registerIncidentRoutes(app, { bb, db, audit });
  registerSummaryRoute(app, { bb, db, getStore });
  const noBackbone = { error: 'not_found', message: 'no backbone configured / backbone belum diatur' };

  /** The latest burst of each hop of a site box's uplink path that crosses this link. */
  const latencyOf = async (link: string, site: string) => {
    const store = getStore();
    if (!store) return null;
    const to = Date.now();
    const from = to - 3 * 3600_000;
    const out: Record<string, { value: number; ts: number }> = {};
    let hop: Record<string, string> | null = null;
    for (const metric of LATENCY) {
      const series = (await store.history({ site, device: 'uplink', metric, from, to })).filter(
        (s) => s.labels.link === link,
      );
      for (const s of series) {
        const last = s.points.at(-1);
        if (last && (!out[metric] || out[metric].ts < last[0])) {
          out[metric] = { ts: last[0], value: last[1] };
          hop = s.labels;
        }
      }
    }
    return hop ? { from_site: site, hop, figures: out } : null;
  };

  const shared = new SharedAnswers(SHARE_MS);
  const backbone = async (bb: Backbone, db: CentralDb) => {
    const statuses = new Map(db.linkStatuses().map((s) => [s.link, s]));
    return {
      root: bb.root,
      sites: [...bb.sites.values()].map((s) => ({
        ...s,
        upstream: bb.upstream.get(s.id)?.id ?? null,
        behind: descendants(bb, s.id).length,
      })),
      links: [...bb.links.values()].map((l) => ({
        ...l,
        fade: l.fade ?? bb.fadeDefaults,
        status: statuses.get(l.id)?.verdict ?? null,
        status_updated_at: statuses.get(l.id)?.updated_at ?? null,
        baseline: db.baseline(l.id),
      })),
    };
  };

  app.get('/api/backbone', async (_req, reply) => {
    if (!bb || !db) return reply.code(404).send(noBackbone);
    return reply.type(JSON_TYPE).send(await shared.get('backbone', () => backbone(bb!, db!)));
  });

  app.get<{ Params: { id: string } }>(
    '/api/links/:id',
    { schema: { params: Type.Object({ id: Slug }) } },
    async (req, reply) => {
      if (!bb || !db) return reply.code(404).send(noBackbone);
      const l = bb.links.get(req.params.id);
      if (!l) return reply.code(404).send({ error: 'not_found', message: `no link "${req.params.id}"` });
      const status = db.linkStatuses().find((s) => s.link === l.id);
      const devices = (await getStore()?.listDevices()) ?? [];
      const end = (e: typeof l.a) => ({
        ...e,
        site_name: bb!.sites.get(e.site)?.name ?? e.site,
        device_state: devices.find((d) => d.site === e.site && d.device === e.device)?.state ?? null,
      });
      return {
        ...l,
        fade: l.fade ?? bb.fadeDefaults,
        a: end(l.a),
        b: end(l.b),
        status: status?.verdict ?? null,
        status_updated_at: status?.updated_at ?? null,
        baseline: db.baseline(l.id),
        baseline_history: db.baselineHistory(l.id),
        latency: await latencyOf(l.id, l.b.site),
      };
    },
  );

  app.post<{ Params: { id: string }; Body: Static<typeof BaselineBody> }>(
    '/api/links/:id/baseline',
    { schema: { params: Type.Object({ id: Slug }), body: BaselineBody } },
    async (req, reply) => {
      const session = req.session!;
      if (!COMMISSIONERS.includes(session.role as Role))
        return reply.code(403).send({
          error: 'forbidden',
          message: 'only engineers may commission a link / hanya teknisi yang boleh merekam baseline',
        });
      if (!bb || !db) return reply.code(404).send(noBackbone);
      const store = getStore();
      if (!bb.links.has(req.params.id))
        return reply.code(404).send({ error: 'not_found', message: `no link "${req.params.id}"` });
      if (!store) return reply.code(409).send({ error: 'no_data', message: 'the store has no readings yet' });
      const to = Date.now();
      try {
        const b = await computeBaseline(store, bb, req.params.id, {
          from: to - req.body.minutes * 60_000,
          to,
          by: session.username,
        });
        db.putBaseline(req.params.id, b);
        shared.clear();
        audit(req, 'baseline_recorded', req.params.id, { baseline: b, note: req.body.note });
        return reply.code(201).send(b);
      } catch (e) {
        if (e instanceof BaselineError) return reply.code(409).send({ error: 'no_data', message: e.message });
        throw e;
      }
    },
  );

  app.get<{ Querystring: Static<typeof GapsQuery> }>(
    '/api/attendance/gaps',
    { schema: { querystring: GapsQuery } },
    async (req, reply) => {
      if (!bb || !db) return reply.code(404).send(noBackbone);
      const to = req.query.to ?? Date.now();
      const from = req.query.from ?? to - 24 * 3600_000;
      if (from >= to)
        return reply.code(400).send({ error: 'bad_request', message: 'from must be before to' });
      const terminals = ((await getStore()?.listDevices()) ?? [])
        .filter((d) => d.state.kind === 'terminal')
        .map((d) => ({ site: d.site, device: d.device, ...(d.state.name ? { name: d.state.name } : {}) }));
      return {
        from,
        to,
        agencies: attendanceGaps(bb, db.incidents({ since: from, limit: 5000 }), terminals, { from, to }),
      };
    },
  );

  app.get('/api/pairing', async (req) => {
    const devices = ((await getStore()?.listDevices()) ?? []).map((d) => ({
      site: d.site,
      device: d.device,
      ...(d.state.macs ? { macs: d.state.macs } : {}),
      ...(d.state.peers ? { peers: d.state.peers } : {}),
    }));
    const all = proposePairs(bb, devices);
    // An installer sees the pairs one of whose ends is at an assigned site (the other end is what
    // the pairing is for) and the unknown peers of assigned sites.
    const mine = (p: { a: { site: string }; b: { site: string } }) =>
      inScope(req.session, p.a.site) || inScope(req.session, p.b.site);
    const report = scopeOf(req.session)
      ? {
          proposals: all.proposals.filter(mine),
          known: all.known.filter(mine),
          unknownPeers: all.unknownPeers.filter((u) => inScope(req.session, u.site)),
        }
      : all;
    return { ...report, proposals: report.proposals.map((p) => ({ ...p, yaml: proposalYaml(p) })) };
  });

  if (opts.backbone && !existsSync(opts.backbone.state_path)) opts.log.info('central state database created');
}
