// Attendance terminals for BKD staff: per agency, each terminal's reachability, clock, log memory and
// last punch; and setting a terminal's clock through its site box (engineers, audited).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Backbone, loadBackbone } from '@pantau/broker/backbone';
import type { Store } from '@pantau/broker/store';
import type { DeviceStatePayload, TerminalStatus } from '@pantau/contract';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { Audit } from './audit.js';
import type { LiveFeed } from './live.js';
import { Slug } from './schemas.js';
import { forwardToSite } from './site-request.js';
import type { Role } from './users.js';

const Params = Type.Object({ site: Slug, device: Slug });
const CLOCK_SETTERS: Role[] = ['admin', 'engineer'];
const NO_AGENCY = '(tanpa instansi)';

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

export interface TerminalRow {
  site: string;
  device: string;
  name: string;
  site_name: string;
  status: DeviceStatePayload['status'];
  stale: boolean;
  reasons: DeviceStatePayload['reasons'];
  terminal: TerminalStatus | null;
  last_punch_age_s: number | null;
  serial: string | null;
  firmware: string | null;
  state_age_s: number;
}

export async function registerTerminalRoutes(
  app: App,
  opts: {
    backbone?: { file: string } | undefined;
    getStore: () => Store | null;
    live: LiveFeed;
    log: Logger;
    audit: Audit;
  },
): Promise<void> {
  const { getStore, live, log, audit } = opts;
  const bb: Backbone | null = opts.backbone ? loadBackbone(opts.backbone.file) : null;
  const terminals = async () =>
    ((await getStore()?.listDevices()) ?? []).filter((d) => d.state.kind === 'terminal');

  app.get('/api/terminals', async () => {
    const now = Date.now();
    const byAgency = new Map<string, TerminalRow[]>();
    for (const d of await terminals()) {
      const st = d.state;
      const site = bb?.sites.get(d.site);
      const stale = now - st.ts > 3 * st.interval_s * 1000;
      const row: TerminalRow = {
        site: d.site,
        device: d.device,
        name: st.name ?? d.device,
        site_name: site?.name ?? d.site,
        status: stale ? 'unknown' : st.status,
        stale,
        reasons: st.reasons,
        terminal: st.terminal ?? null,
        last_punch_age_s: st.terminal?.last_punch
          ? Math.max(0, Math.round((now - st.terminal.last_punch.ts) / 1000))
          : null,
        serial: st.serial ?? null,
        firmware: st.firmware ?? null,
        state_age_s: Math.max(0, Math.round((now - st.ts) / 1000)),
      };
      const agency = site?.agency ?? NO_AGENCY;
      byAgency.set(agency, [...(byAgency.get(agency) ?? []), row]);
    }
    const agencies = [...byAgency.entries()]
      .map(([agency, rows]) => ({
        agency,
        total: rows.length,
        reachable: rows.filter((r) => !r.stale && r.terminal?.state === 'up').length,
        terminals: rows.sort(
          (a, b) => a.site_name.localeCompare(b.site_name) || a.name.localeCompare(b.name),
        ),
      }))
      .sort((a, b) => a.agency.localeCompare(b.agency));
    const total = agencies.reduce((n, a) => n + a.total, 0);
    const reachable = agencies.reduce((n, a) => n + a.reachable, 0);
    return {
      summary: {
        reachable,
        total,
        id: `${reachable} dari ${total} mesin absensi terhubung`,
        en: `${reachable} of ${total} attendance terminals reachable`,
      },
      agencies,
    };
  });

  app.post<{ Params: Static<typeof Params> }>(
    '/api/terminals/:site/:device/clock-sync',
    { schema: { params: Params } },
    async (req, reply) => {
      const { site, device } = req.params;
      return forwardToSite(
        {
          site,
          device,
          op: 'terminal-clock-sync',
          audit: 'terminal_clock_sync',
          allowed: CLOCK_SETTERS,
          forbidden:
            'only engineers may set a terminal clock / hanya teknisi yang boleh menyetel jam mesin absensi',
          exists: async () => (await terminals()).some((d) => d.site === site && d.device === device),
        },
        req,
        reply,
        live,
        log,
        audit,
      );
    },
  );
}
