// The backbone as a schematic, from the command center outward: one row per hop, laid out by the
// tree (or, on request, by the sites' coordinates). No map tiles: nothing comes from the internet.
// Links are coloured by their verdict and labelled with how far their power has dropped.

import { api } from './api.js';
import { age, esc, now } from './format.js';
import { t, tk, tr } from './i18n.js';
import type { BackboneLink, BackboneSite, BackboneView, SiteRow } from './types.js';

const NODE_W = 190;
const NODE_H = 46;
const COL = 210;
const ROW = 120;
const PAD = 30;
/** The broker judges links every few seconds; a verdict older than this is shown as stale. */
const VERDICT_STALE_MS = 5 * 60_000;

let layout: 'tree' | 'geo' = (localStorage.getItem('pantau.map') as 'tree' | 'geo' | null) ?? 'tree';

interface Pos {
  x: number;
  y: number;
}

/** Tree positions: leaves take successive columns, a parent sits over the middle of its children. */
export function treeLayout(bb: BackboneView): Map<string, Pos> {
  const links = new Map(bb.links.map((l) => [l.id, l]));
  const children = new Map<string, string[]>();
  for (const s of bb.sites) {
    const up = s.upstream ? links.get(s.upstream) : undefined;
    if (!up || s.id === bb.root) continue;
    children.set(up.a.site, [...(children.get(up.a.site) ?? []), s.id]);
  }
  const pos = new Map<string, Pos>();
  let next = 0;
  const place = (id: string, depth: number): number => {
    const kids = (children.get(id) ?? []).filter((k) => !pos.has(k));
    let x: number;
    if (kids.length === 0) x = next++;
    else {
      const xs = kids.map((k) => place(k, depth + 1));
      x = (Math.min(...xs) + Math.max(...xs)) / 2;
    }
    pos.set(id, { x, y: depth });
    return x;
  };
  place(bb.root, 0);
  // Sites the tree does not reach (no upstream link described) go on a row of their own.
  const orphans = bb.sites.filter((s) => !pos.has(s.id));
  const deepest = Math.max(0, ...[...pos.values()].map((p) => p.y));
  for (const [i, s] of orphans.entries()) pos.set(s.id, { x: i, y: deepest + 1 });
  for (const p of pos.values()) {
    p.x = PAD + p.x * COL;
    p.y = PAD + p.y * ROW;
  }
  return pos;
}

/** Coordinates projected onto the drawing (equirectangular, fine for one regency). */
function geoLayout(bb: BackboneView, width: number): Map<string, Pos> {
  const withCoords = bb.sites.filter((s) => s.coords);
  const pos = new Map<string, Pos>();
  if (withCoords.length === 0) return treeLayout(bb);
  const lats = withCoords.map((s) => s.coords![0]);
  const lons = withCoords.map((s) => s.coords![1]);
  const [minLat, maxLat, minLon, maxLon] = [
    Math.min(...lats),
    Math.max(...lats),
    Math.min(...lons),
    Math.max(...lons),
  ];
  const kx = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const spanX = Math.max((maxLon - minLon) * kx, 1e-6);
  const spanY = Math.max(maxLat - minLat, 1e-6);
  const scale = Math.min((width - 2 * PAD - NODE_W) / spanX, (ROW * 4) / spanY);
  for (const s of withCoords)
    pos.set(s.id, {
      x: PAD + (s.coords![1] - minLon) * kx * scale,
      y: PAD + (maxLat - s.coords![0]) * scale,
    });
  const bottom = Math.max(...[...pos.values()].map((p) => p.y)) + ROW;
  for (const [i, s] of bb.sites.filter((x) => !x.coords).entries())
    pos.set(s.id, { x: PAD + i * COL, y: bottom });
  return pos;
}

function linkState(l: BackboneLink): string {
  return l.status?.status ?? 'unknown';
}

function siteState(s: BackboneSite, box: SiteRow | undefined): string {
  if (!s.site_box) return 'passive';
  if (!box) return 'unknown';
  if (box.state === 'offline') return 'down';
  if (box.silent) return 'unknown';
  return box.state === 'online' ? 'ok' : 'unknown';
}

function drawing(bb: BackboneView, boxes: Map<string, SiteRow>): string {
  const pos = layout === 'geo' ? geoLayout(bb, 1300) : treeLayout(bb);
  const w = Math.max(...[...pos.values()].map((p) => p.x)) + NODE_W + PAD;
  const h = Math.max(...[...pos.values()].map((p) => p.y)) + NODE_H + PAD;
  const centre = (id: string) => {
    const p = pos.get(id)!;
    return { x: p.x + NODE_W / 2, y: p.y + NODE_H / 2 };
  };
  const lines = bb.links
    .filter((l) => pos.has(l.a.site) && pos.has(l.b.site))
    .map((l) => {
      const a = centre(l.a.site);
      const b = centre(l.b.site);
      const st = linkState(l);
      const stale = l.status_updated_at !== null && now() - l.status_updated_at > VERDICT_STALE_MS;
      const drop = l.status?.impairment_db;
      const crit = l.fade?.critical_db;
      const label =
        drop !== null && drop !== undefined && drop >= 0.5
          ? `−${drop.toFixed(1)} dB`
          : l.medium === 'radio'
            ? ''
            : tk(`medium_${l.medium}`);
      const title = `${l.name ?? l.id} — ${tk(st)}${l.status?.reasons[0] ? `: ${tr(l.status.reasons[0])}` : ''}${crit && drop ? ` (${t('fade_margin')}: ${(crit - drop).toFixed(1)} dB)` : ''}`;
      const mx = (a.x + b.x) / 2;
      const my = (a.y + b.y) / 2;
      return `<g class="link ${st}${stale ? ' stale' : ''}${l.standby ? ' standby' : ''} medium-${esc(l.medium)}" data-link="${esc(l.id)}" tabindex="0" role="link" aria-label="${esc(title)}">
        <title>${esc(title)}</title>
        <line class="hit" x1="${a.x}" y1="${a.y}" x2="${b.x}" y2="${b.y}"/>
        <line class="wire" x1="${a.x}" y1="${a.y}" x2="${b.x}" y2="${b.y}"/>
        ${label ? `<text x="${mx + 8}" y="${my}" class="link-label">${esc(label)}</text>` : ''}
      </g>`;
    });
  const nodes = bb.sites
    .filter((s) => pos.has(s.id))
    .map((s) => {
      const p = pos.get(s.id)!;
      const st = siteState(s, boxes.get(s.id));
      const name = s.name.length > 19 ? `${s.name.slice(0, 18)}…` : s.name;
      return `<g class="site ${st}${s.id === bb.root ? ' root' : ''}" data-site="${esc(s.id)}" transform="translate(${p.x},${p.y})">
        <title>${esc(s.name)}${s.kecamatan ? ` · Kec. ${esc(s.kecamatan)}` : ''} — ${esc(st === 'passive' ? '' : tk(st === 'ok' ? 'online' : st === 'down' ? 'offline' : 'unknown'))}</title>
        <rect width="${NODE_W}" height="${NODE_H}" rx="8"/>
        <circle cx="14" cy="${NODE_H / 2}" r="7"/>
        <text x="28" y="${NODE_H / 2 - 3}" class="site-name">${esc(name)}</text>
        <text x="28" y="${NODE_H / 2 + 13}" class="site-sub">${esc(s.kecamatan ? `Kec. ${s.kecamatan}` : s.id)}${layout === 'geo' && !s.coords ? ` · ${esc(t('no_coords'))}` : ''}</text>
      </g>`;
    });
  return `<svg id="map-svg" viewBox="0 0 ${w} ${h}" width="${w}" preserveAspectRatio="xMidYMin meet" role="img" aria-label="${esc(t('nav_map'))}">${lines.join('')}${nodes.join('')}</svg>`;
}

function linkTable(bb: BackboneView): string {
  const rank: Record<string, number> = { down: 0, degraded: 1, unknown: 2, ok: 3 };
  const links = [...bb.links].sort(
    (a, b) =>
      (rank[linkState(a)] ?? 9) - (rank[linkState(b)] ?? 9) || (a.name ?? a.id).localeCompare(b.name ?? b.id),
  );
  return `<div class="table-wrap"><table class="grid" id="links-table"><thead><tr><th>${t('col_link')}</th><th>${t('col_state')}</th><th>${t('verdict')}</th></tr></thead><tbody>${links
    .map((l) => {
      const st = linkState(l);
      return `<tr class="row-${st}"><td data-label="${t('col_link')}"><a href="#link/${esc(l.id)}">${esc(l.name ?? l.id)}</a>${l.standby ? ` <span class="muted">(${t('standby')})</span>` : ''}</td>
        <td data-label="${t('col_state')}"><span class="badge ${st}">${esc(tk(st))}</span></td>
        <td data-label="${t('verdict')}"><div>${l.status?.reasons.map((r) => esc(tr(r))).join('<br>') ?? '—'} ${l.status_updated_at ? age(l.status_updated_at, VERDICT_STALE_MS) : ''}</div></td></tr>`;
    })
    .join('')}</tbody></table></div>`;
}

export async function renderMap(el: HTMLElement): Promise<void> {
  const [bb, sites] = await Promise.all([api<BackboneView>('/api/backbone'), api<SiteRow[]>('/api/sites')]);
  const boxes = new Map(sites.map((s) => [s.site, s]));
  el.innerHTML = `
    <div class="toolbar">
      <label><input type="radio" name="map-layout" value="tree"${layout === 'tree' ? ' checked' : ''}> ${t('map_layout_tree')}</label>
      <label><input type="radio" name="map-layout" value="geo"${layout === 'geo' ? ' checked' : ''}> ${t('map_layout_geo')}</label>
    </div>
    <p class="muted hint">${t('map_hint')}</p>
    <div class="map-wrap">${drawing(bb, boxes)}</div>
    ${linkTable(bb)}`;
  if (el.dataset.bound) return;
  el.dataset.bound = '1';
  el.addEventListener('change', (ev) => {
    const input = ev.target as HTMLInputElement;
    if (input.name !== 'map-layout') return;
    layout = input.value as 'tree' | 'geo';
    localStorage.setItem('pantau.map', layout);
    void renderMap(el);
  });
  const open = (ev: Event) => {
    const g = (ev.target as Element).closest<SVGGElement>('g.link');
    if (g?.dataset.link) location.hash = `#link/${g.dataset.link}`;
  };
  el.addEventListener('click', open);
  el.addEventListener('keydown', (ev) => {
    if ((ev as KeyboardEvent).key === 'Enter') open(ev);
  });
}
