// The summary for leadership (and the header line of every other view): how many monitoring points
// are live ("X dari N titik aktif"), which links are in trouble and which sites are cut off. Computed
// here so that leadership needs no access to the detailed APIs.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Backbone, CentralDb } from '@pantau/broker/backbone';
import type { Store } from '@pantau/broker/store';
import type { Reason } from '@pantau/contract';
import type { FastifyInstance, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import { tileOf } from './cameras.js';
import { JSON_TYPE, SHARE_MS, SharedAnswers } from './shared-answer.js';

/** A site box that has said nothing for this long is shown as not heard from, even if its last word was "online". */
export const SITE_SILENT_MS = 180_000;

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

export interface Summary {
  server_time: number;
  cameras: { active: number; total: number; id: string; en: string };
  links: {
    total: number;
    trouble: Array<{
      id: string;
      name: string;
      status: string;
      cause: string;
      reason: Reason | null;
      since: number;
      updated_at: number;
    }>;
  };
  sites: {
    total: number;
    down: Array<{ site: string; name: string; state: string; last_heard: number | null }>;
  };
  incidents_open: number;
}

interface SummarySources {
  bb: Backbone | null;
  db: CentralDb | null;
  getStore: () => Store | null;
}

export function registerSummaryRoute(app: App, o: SummarySources): void {
  const shared = new SharedAnswers(SHARE_MS);
  app.get('/api/summary', async (_req, reply) =>
    reply.type(JSON_TYPE).send(await shared.get('summary', () => summary(o))),
  );
}

async function summary(o: SummarySources): Promise<Summary> {
  const now = Date.now();
  const store = o.getStore();
  const devices = (await store?.listDevices()) ?? [];
  const tiles = devices
    .filter((d) => d.state.kind === 'camera')
    .map((d) => tileOf(d, o.bb?.sites.get(d.site), now));
  const active = tiles.filter((t) => t.active).length;
  const statuses = o.db?.linkStatuses() ?? [];
  const trouble = statuses
    // Links nobody measures are not "in trouble" for leadership; the engineers' map shows them grey.
    .filter((s) => s.verdict.status === 'degraded' || s.verdict.status === 'down')
    .map((s) => ({
      id: s.link,
      name: o.bb?.links.get(s.link)?.name ?? s.link,
      status: s.verdict.status,
      cause: s.verdict.cause,
      reason: s.verdict.reasons[0] ?? null,
      since: s.verdict.since,
      updated_at: s.updated_at,
    }))
    .sort((a, b) => (a.status === 'down' ? 0 : 1) - (b.status === 'down' ? 0 : 1) || a.since - b.since);
  const sites = (await store?.listSites()) ?? [];
  const down = sites
    .filter(
      (s) => s.state?.state === 'offline' || s.last_heard === null || now - s.last_heard > SITE_SILENT_MS,
    )
    .map((s) => ({
      site: s.site,
      name: s.state?.name ?? o.bb?.sites.get(s.site)?.name ?? s.site,
      state: s.state?.state === 'offline' ? 'offline' : 'silent',
      last_heard: s.last_heard,
    }));
  return {
    server_time: now,
    cameras: {
      active,
      total: tiles.length,
      id: `${active} dari ${tiles.length} titik aktif`,
      en: `${active} of ${tiles.length} monitoring points live`,
    },
    links: { total: o.bb?.links.size ?? 0, trouble },
    sites: { total: sites.length, down },
    incidents_open: o.db?.openIncidents().length ?? 0,
  };
}
