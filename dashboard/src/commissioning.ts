// A site's commissioning reports, as the broker keeps them in the central state db: the list (JSON)
// and each report as JSON or as the printable page the site box also made.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { CentralDb } from '@pantau/broker/backbone';
import { type CommissioningPayload, renderCommissioningHtml } from '@pantau/contract';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import { Slug } from './schemas.js';

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

const NO_DB = {
  error: 'not_found',
  message: 'no central state db (dashboard.yaml has no backbone) / belum ada basis data pusat',
};

/** Installers see only their own sites' reports: the site guard (site-scope.ts) refuses the others. */
export async function registerCommissioningRoutes(
  app: App,
  opts: { backbone?: { state_path: string } | undefined },
): Promise<void> {
  const db = opts.backbone ? new CentralDb(opts.backbone.state_path) : null;
  if (db) app.addHook('onClose', async () => db.close());

  app.get<{ Params: { site: string } }>(
    '/api/sites/:site/commissioning',
    { schema: { params: Type.Object({ site: Slug }) } },
    async (req, reply) => {
      if (!db) return reply.code(404).send(NO_DB);
      return db.commissioningReports(req.params.site).map((r) => {
        const body = JSON.parse(db.commissioningReport(r.site, r.id)!.body) as CommissioningPayload;
        return {
          ...r,
          by: body.by,
          devices: body.devices.length,
          devices_ok: body.devices.filter((d) => d.ok).length,
          links: body.links,
          html: `/api/sites/${r.site}/commissioning/${r.id}.html`,
        };
      });
    },
  );

  // `{id}.html`: the printable page; `{id}` or `{id}.json`: the report itself.
  app.get<{ Params: { site: string; file: string } }>(
    '/api/sites/:site/commissioning/:file',
    {
      schema: {
        params: Type.Object({
          site: Slug,
          file: Type.String({ pattern: '^[a-z0-9-]{1,100}(\\.html|\\.json)?$' }),
        }),
      },
    },
    async (req, reply) => {
      if (!db) return reply.code(404).send(NO_DB);
      const { site, file } = req.params;
      const html = file.endsWith('.html');
      const id = file.replace(/\.(html|json)$/, '');
      const r = db.commissioningReport(site, id);
      if (!r)
        return reply
          .code(404)
          .send({ error: 'not_found', message: `no commissioning report ${site}/${id} / laporan tidak ada` });
      if (!html) return reply.type('application/json; charset=utf-8').send(r.body);
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; img-src data:; style-src 'unsafe-inline'")
        .send(renderCommissioningHtml(JSON.parse(r.body) as CommissioningPayload));
    },
  );
}
