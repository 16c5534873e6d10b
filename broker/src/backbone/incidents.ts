// One incident per cause. A site box that goes silent, the devices behind it and the sites further
// out are not separate alarms when the link that feeds them is down: they are the affected of that
// link's incident. The walk goes up the tree to the highest failure on the path to the command center.

import type { Reason } from '@pantau/contract';
import type { IncidentRecord } from './central-db.js';
import type { LinkVerdict } from './classifier.js';
import { type Backbone, descendants } from './description.js';

export interface SituationSite {
  /** The site box is offline (last will) or has been silent too long. */
  down: boolean;
  /** Devices the site box reports down. */
  devicesDown: string[];
  /** Every device the site box reports on. */
  devices: string[];
}

export interface Situation {
  sites: Map<string, SituationSite>;
  links: Map<string, LinkVerdict>;
  names: { site: (id: string) => string; link: (id: string) => string };
}

export type IncidentCause = { kind: 'link' | 'site'; id: string };

export type ProposedIncident = Omit<IncidentRecord, 'opened_at' | 'updated_at' | 'closed_at'>;

const linkDown = (s: Situation, id: string) => s.links.get(id)?.status === 'down';
const siteDown = (s: Situation, id: string) => s.sites.get(id)?.down === true;

/** The highest failure on the path from `site` to the command center, or null when the path is up. */
export function rootCause(bb: Backbone, s: Situation, site: string): IncidentCause | null {
  const up = bb.upstream.get(site);
  // A failure nearer to the command center explains every one further out.
  const upper = up ? rootCause(bb, s, up.a.site) : null;
  if (upper) return upper;
  if (up && linkDown(s, up.id)) return { kind: 'link', id: up.id };
  if (siteDown(s, site)) return { kind: 'site', id: site };
  return null;
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

export function correlate(bb: Backbone, s: Situation): ProposedIncident[] {
  const byCause = new Map<string, ProposedIncident>();
  const add = (cause: IncidentCause, severity: 'warning' | 'critical', title: Reason) => {
    const key = `${cause.kind}:${cause.id}`;
    let inc = byCause.get(key);
    if (!inc) {
      inc = {
        key,
        kind: cause.kind,
        subject: cause.id,
        severity,
        title,
        affected: { sites: [], links: [], devices: [] },
      };
      byCause.set(key, inc);
    }
    return inc;
  };
  const siteIds = unique([...bb.sites.keys(), ...s.sites.keys()]);
  // Silent sites and their devices go under the highest cause on their path.
  for (const site of siteIds) {
    const cause = rootCause(bb, s, site);
    if (!cause) continue;
    const inc = add(cause, 'critical', titleOf(bb, s, cause));
    if (siteDown(s, site) || bb.sites.get(site)?.site_box === false) {
      inc.affected.sites.push(site);
      inc.affected.devices.push(...(s.sites.get(site)?.devices ?? []).map((d) => `${site}/${d}`));
    }
  }
  // Down links not explained by something further up are their own cause.
  for (const [id, v] of s.links) {
    if (v.status !== 'down') continue;
    const l = bb.links.get(id);
    if (!l) continue;
    const upper = rootCause(bb, s, l.a.site);
    const inc = upper
      ? add(upper, 'critical', titleOf(bb, s, upper))
      : add({ kind: 'link', id }, 'critical', titleOf(bb, s, { kind: 'link', id }));
    inc.affected.links.push(id);
  }
  // A site whose path is up but which reports devices down: one incident per device.
  for (const [site, st] of s.sites) {
    if (st.down || rootCause(bb, s, site)) continue;
    for (const d of st.devicesDown) {
      byCause.set(`device:${site}/${d}`, {
        key: `device:${site}/${d}`,
        kind: 'device',
        subject: `${site}/${d}`,
        severity: 'warning',
        title: {
          code: 'device_down',
          id: `${d} di ${s.names.site(site)} tidak menjawab`,
          en: `${d} at ${s.names.site(site)} does not answer`,
        },
        affected: { sites: [], links: [], devices: [`${site}/${d}`] },
      });
    }
  }
  // Links fading for the same weather in one area: one incident for the area.
  const weather = new Map<string, string[]>();
  for (const [id, v] of s.links) {
    if (v.status !== 'degraded' || v.cause !== 'weather_fade') continue;
    const l = bb.links.get(id);
    const area = (l && (bb.sites.get(l.b.site)?.kecamatan ?? bb.sites.get(l.a.site)?.kecamatan)) ?? id;
    weather.set(area, [...(weather.get(area) ?? []), id]);
  }
  for (const [area, links] of weather) {
    const severity = links.some((id) => s.links.get(id)!.level === 2) ? 'critical' : 'warning';
    byCause.set(`weather:${area}`, {
      key: `weather:${area}`,
      kind: 'weather',
      subject: area,
      severity,
      title: {
        code: 'weather_fade',
        id: `Cuaca: ${links.length} tautan di ${area} melemah (${links.map(s.names.link).join(', ')})`,
        en: `Weather: ${links.length} link(s) in ${area} fading (${links.map(s.names.link).join(', ')})`,
      },
      affected: { sites: [], links, devices: [] },
    });
  }
  // Other degraded links (interference, alignment, power, unstable): one incident per link.
  for (const [id, v] of s.links) {
    if (v.status !== 'degraded' || v.cause === 'weather_fade' || byCause.has(`link:${id}`)) continue;
    byCause.set(`link:${id}`, {
      key: `link:${id}`,
      kind: 'link',
      subject: id,
      severity: v.level === 2 ? 'critical' : 'warning',
      title: v.reasons[0] ?? { code: v.cause, id: s.names.link(id), en: s.names.link(id) },
      affected: { sites: [], links: [id], devices: [] },
    });
  }
  for (const inc of byCause.values()) {
    inc.affected.sites = unique(inc.affected.sites).sort();
    inc.affected.links = unique(inc.affected.links).sort();
    inc.affected.devices = unique(inc.affected.devices).sort();
  }
  return [...byCause.values()];
}

function titleOf(bb: Backbone, s: Situation, c: IncidentCause): Reason {
  if (c.kind === 'link') {
    const behind = descendants(bb, bb.links.get(c.id)?.b.site ?? '').length + 1;
    const v = s.links.get(c.id);
    const power = v?.cause === 'device_power';
    return {
      code: power ? 'link_down_power' : 'link_down',
      id: `Tautan ${s.names.link(c.id)} putus${power ? ' (radio menyala ulang: kemungkinan listrik padam)' : ''}: ${behind} lokasi di belakangnya tidak terjangkau`,
      en: `Link ${s.names.link(c.id)} is down${power ? ' (radio restarted: likely a power cut)' : ''}: ${behind} site(s) behind it unreachable`,
    };
  }
  const up = bb.upstream.get(c.id);
  return {
    code: 'site_down',
    id: `Lokasi ${s.names.site(c.id)} tidak terjangkau${up ? `; tautan ${s.names.link(up.id)} tidak dilaporkan putus (kemungkinan listrik atau kotak lokasi)` : ''}`,
    en: `Site ${s.names.site(c.id)} unreachable${up ? `; link ${s.names.link(up.id)} not reported down (likely power or the site box)` : ''}`,
  };
}

/** Opens new incidents, updates running ones and closes the ones whose cause is gone. */
export function reconcile(
  open: IncidentRecord[],
  proposed: ProposedIncident[],
  now: number,
): IncidentRecord[] {
  const changed: IncidentRecord[] = [];
  const byKey = new Map(open.map((i) => [i.key, i]));
  for (const p of proposed) {
    const cur = byKey.get(p.key);
    if (!cur) {
      changed.push({ ...p, opened_at: now, updated_at: now, closed_at: null });
      continue;
    }
    byKey.delete(p.key);
    if (
      JSON.stringify([cur.affected, cur.title, cur.severity, cur.outage]) !==
      JSON.stringify([p.affected, p.title, p.severity, p.outage])
    )
      changed.push({ ...cur, ...p, updated_at: now });
  }
  for (const gone of byKey.values()) changed.push({ ...gone, closed_at: now, updated_at: now });
  return changed;
}
