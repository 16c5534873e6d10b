// backbone.yaml: the network as the central sees it. Sites (with kecamatan, agency and coordinates)
// and links (radio, fiber, copper, internet, wifi) whose A-end faces the command center and whose
// B-end faces away, so the links form a tree rooted at the command center. The tree is what lets
// the central say "unreachable because link X is down" once instead of alarming for every device.

import { CONFIG_KINDS, duplicateIds, loadConfig, parseConfig, type SemanticIssue } from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';

const Slug = Type.String({ pattern: '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$' });

export const MEDIA = ['radio', 'fiber', 'copper', 'internet', 'wifi'] as const;
export type Medium = (typeof MEDIA)[number];

const LinkEnd = Type.Object(
  {
    site: Slug,
    /** The radio (or switch port's device) at this end, as named in that site box's site.yaml. */
    device: Type.Optional(Slug),
    /** For a point-to-multipoint AP: the station's MAC in the AP's station table. */
    station: Type.Optional(Type.String({ pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' })),
  },
  { additionalProperties: false },
);

const FadeThresholds = Type.Object(
  {
    /** dB below the baseline (or the radio's own ideal level) that makes the link degraded. */
    warn_db: Type.Number({ minimum: 1, maximum: 40, default: 5 }),
    critical_db: Type.Number({ minimum: 1, maximum: 60, default: 10 }),
  },
  { additionalProperties: false },
);

export const BackboneSchema = Type.Object(
  {
    /** The site at the root of the tree: the command center (SCC / NOC). */
    root: Slug,
    /** The region's time zone: times in incident texts are written in it. */
    timezone: Type.String({ minLength: 1, default: 'Asia/Makassar' }),
    sites: Type.Array(
      Type.Object(
        {
          id: Slug,
          name: Type.String({ minLength: 1, maxLength: 120 }),
          kecamatan: Type.Optional(Type.String({ minLength: 1, maxLength: 80 })),
          agency: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
          /** [latitude, longitude] in decimal degrees. */
          coords: Type.Optional(
            Type.Tuple([
              Type.Number({ minimum: -90, maximum: 90 }),
              Type.Number({ minimum: -180, maximum: 180 }),
            ]),
          ),
          /** emergency (hospital, fire brigade, PSC), basic (KTP, one-stop service) or normal. */
          priority: Type.Union([Type.Literal('emergency'), Type.Literal('basic'), Type.Literal('normal')], {
            default: 'normal',
          }),
          /** Whether a Pantau site box runs here (a passive relay on a hilltop may have none). */
          site_box: Type.Boolean({ default: true }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    links: Type.Array(
      Type.Object(
        {
          id: Slug,
          name: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
          medium: Type.Union(MEDIA.map((m) => Type.Literal(m))),
          /** The end toward the command center. */
          a: LinkEnd,
          /** The end away from the command center. */
          b: LinkEnd,
          capacity_bps: Type.Optional(Type.Number({ minimum: 0 })),
          /** A standby path is watched but not part of the tree. */
          standby: Type.Boolean({ default: false }),
          fade: Type.Optional(FadeThresholds),
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
    /** Default fade thresholds; a link's own `fade` overrides them. */
    fade: Type.Object(
      {
        warn_db: Type.Number({ minimum: 1, default: 5 }),
        critical_db: Type.Number({ minimum: 1, default: 10 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type BackboneFile = Static<typeof BackboneSchema>;
export type SiteDef = BackboneFile['sites'][number];
export type LinkDef = BackboneFile['links'][number];

/** The backbone with its tree worked out. */
export interface Backbone {
  root: string;
  timezone: string;
  sites: Map<string, SiteDef>;
  links: Map<string, LinkDef>;
  /** Site → the tree link that reaches it from the command center (absent for the root). */
  upstream: Map<string, LinkDef>;
  /** Site → sites one hop further from the command center. */
  children: Map<string, string[]>;
  fadeDefaults: { warn_db: number; critical_db: number };
}

function checkTree(b: BackboneFile): SemanticIssue[] {
  const issues: SemanticIssue[] = [
    ...duplicateIds(b.sites, ['sites'], 'site id'),
    ...duplicateIds(b.links, ['links'], 'link id'),
  ];
  try {
    new Intl.DateTimeFormat('en', { timeZone: b.timezone });
  } catch {
    issues.push({
      path: ['timezone'],
      message: `unknown time zone "${b.timezone}" (e.g. Asia/Makassar, Asia/Jakarta)`,
    });
  }
  const siteIds = new Set(b.sites.map((s) => s.id));
  if (!siteIds.has(b.root)) issues.push({ path: ['root'], message: `no site "${b.root}" in sites` });
  const upstreamOf = new Map<string, number>();
  b.links.forEach((l, i) => {
    for (const end of ['a', 'b'] as const)
      if (!siteIds.has(l[end].site))
        issues.push({ path: ['links', i, end, 'site'], message: `no site "${l[end].site}" in sites` });
    if (l.a.site === l.b.site)
      issues.push({ path: ['links', i, 'b', 'site'], message: 'both ends are at the same site' });
    const fade = l.fade;
    if (fade && fade.critical_db <= fade.warn_db)
      issues.push({ path: ['links', i, 'fade', 'critical_db'], message: 'must be larger than warn_db' });
    if (l.standby) return;
    if (l.b.site === b.root)
      issues.push({
        path: ['links', i, 'b', 'site'],
        message: 'the command center is the root: it is always the A-end (the end toward the center)',
      });
    const prev = upstreamOf.get(l.b.site);
    if (prev !== undefined)
      issues.push({
        path: ['links', i, 'b', 'site'],
        message: `site "${l.b.site}" already has an upstream link (${b.links[prev]!.id}); mark one of them standby: true`,
      });
    else upstreamOf.set(l.b.site, i);
  });
  if (b.fade.critical_db <= b.fade.warn_db)
    issues.push({ path: ['fade', 'critical_db'], message: 'must be larger than warn_db' });
  if (issues.length > 0) return issues;
  // Every site must reach the root by following upstream links, without going round in a circle.
  b.sites.forEach((s, i) => {
    const seen = new Set<string>();
    let at = s.id;
    while (at !== b.root) {
      if (seen.has(at)) {
        issues.push({ path: ['sites', i, 'id'], message: `the links around "${s.id}" form a loop` });
        return;
      }
      seen.add(at);
      const up = upstreamOf.get(at);
      if (up === undefined) {
        issues.push({
          path: ['sites', i, 'id'],
          message: `site "${s.id}" is not connected to the command center "${b.root}" (no link has it as B-end)`,
        });
        return;
      }
      at = b.links[up]!.a.site;
    }
  });
  return issues;
}

function build(b: BackboneFile): Backbone {
  const upstream = new Map<string, LinkDef>();
  const children = new Map<string, string[]>();
  for (const l of b.links) {
    if (l.standby) continue;
    upstream.set(l.b.site, l);
    children.set(l.a.site, [...(children.get(l.a.site) ?? []), l.b.site]);
  }
  return {
    root: b.root,
    timezone: b.timezone,
    sites: new Map(b.sites.map((s) => [s.id, s])),
    links: new Map(b.links.map((l) => [l.id, l])),
    upstream,
    children,
    fadeDefaults: b.fade,
  };
}

export function loadBackbone(file: string): Backbone {
  return build(loadConfig(file, BackboneSchema, { check: checkTree, kind: CONFIG_KINDS.backbone }));
}

export function parseBackbone(text: string, file = 'backbone.yaml'): Backbone {
  return build(parseConfig(text, file, BackboneSchema, { check: checkTree, kind: CONFIG_KINDS.backbone }));
}

/** Sites from `site` up to the root, nearest first (the site itself excluded). */
export function ancestors(bb: Backbone, site: string): string[] {
  const out: string[] = [];
  let link = bb.upstream.get(site);
  while (link) {
    out.push(link.a.site);
    link = bb.upstream.get(link.a.site);
  }
  return out;
}

/** Every site behind `site` (further from the command center), depth first. */
export function descendants(bb: Backbone, site: string): string[] {
  const out: string[] = [];
  const walk = (s: string) => {
    for (const c of bb.children.get(s) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(site);
  return out;
}

export function fadeThresholds(bb: Backbone, link: LinkDef): { warn_db: number; critical_db: number } {
  return link.fade ?? bb.fadeDefaults;
}

/** Great-circle distance in km between two [lat, lon] points. */
export function distanceKm(a: readonly [number, number], b: readonly [number, number]): number {
  const rad = Math.PI / 180;
  const dLat = (b[0] - a[0]) * rad;
  const dLon = (b[1] - a[1]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}
