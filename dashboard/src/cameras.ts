// The monitoring-point board (titik pantau) in the API: a tile per camera with its place, state,
// the age of its last good frame and its thumbnail; "X dari N titik aktif"; emergency and basic
// services first; filters by kecamatan and agency. Engineers can set a camera's clock through its
// site box (audited).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Backbone, loadBackbone, type SiteDef } from '@pantau/broker/backbone';
import type { DeviceRecord, Store } from '@pantau/broker/store';
import type { CameraStatus, DeviceStatePayload } from '@pantau/contract';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { Audit } from './audit.js';
import type { LiveFeed } from './live.js';
import { Slug } from './schemas.js';
import { JSON_TYPE, SHARE_MS, SharedAnswers } from './shared-answer.js';
import { forwardToSite } from './site-request.js';
import type { Role } from './users.js';

const BoardQuery = Type.Object(
  {
    kecamatan: Type.Optional(Type.String({ minLength: 1, maxLength: 80 })),
    agency: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
  },
  { additionalProperties: false },
);
const Params = Type.Object({ site: Slug, device: Slug });

/** Roles that may set a camera's clock. */
const CLOCK_SETTERS: Role[] = ['admin', 'engineer'];
const PRIORITY_RANK: Record<SiteDef['priority'], number> = { emergency: 0, basic: 1, normal: 2 };
/** Without a probe for this many intervals, a tile is stale, whatever it last said. */
const STALE_INTERVALS = 3;

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

export interface CameraRoutesOptions {
  backbone?: { file: string } | undefined;
  getStore: () => Store | null;
  live: LiveFeed;
  log: Logger;
  audit: Audit;
}

export interface CameraTile {
  site: string;
  device: string;
  name: string;
  site_name: string;
  kecamatan: string | null;
  agency: string | null;
  priority: SiteDef['priority'];
  status: DeviceStatePayload['status'];
  /** Frames advancing, not frozen, not black, and the state is current. */
  active: boolean;
  stale: boolean;
  reasons: DeviceStatePayload['reasons'];
  camera: CameraStatus | null;
  last_good_frame_age_s: number | null;
  thumbnail: { url: string; ts: number; age_s: number } | null;
  vendor: string | null;
  model: string | null;
  state_age_s: number;
}

const ageS = (ts: number, now: number) => Math.max(0, Math.round((now - ts) / 1000));

export function tileOf(d: DeviceRecord, site: SiteDef | undefined, now: number): CameraTile {
  const st = d.state;
  const cam = st.camera ?? null;
  const stale = now - st.ts > STALE_INTERVALS * st.interval_s * 1000;
  const active = !stale && !!cam && cam.stream === 'up' && !cam.frozen && !cam.black && st.status !== 'down';
  const thumbTs = cam?.thumbnail_ts ?? null;
  return {
    site: d.site,
    device: d.device,
    name: st.name ?? d.device,
    site_name: site?.name ?? d.site,
    kecamatan: site?.kecamatan ?? null,
    agency: site?.agency ?? null,
    priority: site?.priority ?? 'normal',
    status: stale ? 'unknown' : st.status,
    active,
    stale,
    reasons: st.reasons,
    camera: cam,
    last_good_frame_age_s: cam?.last_good_frame ? ageS(cam.last_good_frame, now) : null,
    thumbnail: thumbTs
      ? {
          url: `/api/cameras/${d.site}/${d.device}/thumbnail?ts=${thumbTs}`,
          ts: thumbTs,
          age_s: ageS(thumbTs, now),
        }
      : null,
    vendor: st.vendor ?? null,
    model: st.model ?? null,
    state_age_s: ageS(st.ts, now),
  };
}

const STATUS_RANK: Record<string, number> = { down: 0, degraded: 1, unknown: 2, ok: 3 };

/** Emergency and basic services first; within them, the points in trouble first; then by name. */
export function sortTiles(tiles: CameraTile[]): CameraTile[] {
  return [...tiles].sort(
    (a, b) =>
      PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
      Number(a.active) - Number(b.active) ||
      (STATUS_RANK[a.status] ?? 9) - (STATUS_RANK[b.status] ?? 9) ||
      a.site_name.localeCompare(b.site_name) ||
      a.name.localeCompare(b.name),
  );
}

export async function registerCameraRoutes(app: App, opts: CameraRoutesOptions): Promise<void> {
  const { getStore, live, log, audit } = opts;
  const bb: Backbone | null = opts.backbone ? loadBackbone(opts.backbone.file) : null;

  const shared = new SharedAnswers(SHARE_MS);
  const cameras = async () =>
    ((await getStore()?.listDevices()) ?? []).filter((d) => d.state.kind === 'camera');

  app.get<{ Querystring: Static<typeof BoardQuery> }>(
    '/api/cameras',
    { schema: { querystring: BoardQuery } },
    async (req, reply) =>
      reply
        .type(JSON_TYPE)
        .send(
          await shared.get(JSON.stringify([req.query.kecamatan, req.query.agency]), () => board(req.query)),
        ),
  );

  async function board(q: Static<typeof BoardQuery>) {
    const now = Date.now();
    const all = (await cameras()).map((d) => tileOf(d, bb?.sites.get(d.site), now));
    const shown = all.filter(
      (t) => (!q.kecamatan || t.kecamatan === q.kecamatan) && (!q.agency || t.agency === q.agency),
    );
    const active = shown.filter((t) => t.active).length;
    const uniq = (xs: Array<string | null>) => [...new Set(xs.filter((x): x is string => !!x))].sort();
    return {
      summary: {
        active,
        total: shown.length,
        id: `${active} dari ${shown.length} titik aktif`,
        en: `${active} of ${shown.length} monitoring points live`,
      },
      filters: { kecamatan: uniq(all.map((t) => t.kecamatan)), agency: uniq(all.map((t) => t.agency)) },
      tiles: sortTiles(shown),
    };
  }

  app.get<{ Params: Static<typeof Params> }>(
    '/api/cameras/:site/:device/thumbnail',
    { schema: { params: Params } },
    async (req, reply) => {
      const t = await getStore()?.thumbnail(req.params.site, req.params.device);
      if (!t)
        return reply.code(404).send({
          error: 'not_found',
          message: `no thumbnail yet for ${req.params.site}/${req.params.device}`,
        });
      return reply
        .header('content-type', t.mime)
        .header('cache-control', 'private, max-age=60')
        .header('last-modified', new Date(t.ts).toUTCString())
        .send(t.data);
    },
  );

  app.post<{ Params: Static<typeof Params> }>(
    '/api/cameras/:site/:device/clock-sync',
    { schema: { params: Params } },
    async (req, reply) => {
      const { site, device } = req.params;
      return forwardToSite(
        {
          site,
          device,
          op: 'camera-clock-sync',
          audit: 'camera_clock_sync',
          allowed: CLOCK_SETTERS,
          forbidden: 'only engineers may set a camera clock / hanya teknisi yang boleh menyetel jam kamera',
          exists: async () => (await cameras()).some((d) => d.site === site && d.device === device),
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
