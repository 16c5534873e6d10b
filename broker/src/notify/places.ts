// Which places an incident is about, from the backbone: rules match on their priority, kecamatan and
// agency, maintenance windows on their ids, and messages name them (never an address).

import type { IncidentRecord } from '../backbone/central-db.js';
import type { Backbone, SiteDef } from '../backbone/description.js';

export interface Places {
  /** The sites the incident is at or cuts off, the cause's own first. */
  sites: SiteDef[];
  /** The links it is about (the cause's own first). */
  links: string[];
}

export function placesOf(bb: Backbone, inc: IncidentRecord): Places {
  const siteIds: string[] = [];
  const linkIds: string[] = [];
  if (inc.kind === 'site') siteIds.push(inc.subject);
  if (inc.kind === 'device') siteIds.push(inc.subject.split('/')[0]!);
  if (inc.kind === 'link') {
    linkIds.push(inc.subject);
    const l = bb.links.get(inc.subject);
    // The far end is the place people know the link by ("the link to RSUD"); the near end is
    // usually the command center itself.
    if (l) siteIds.push(l.b.site);
  }
  for (const id of inc.affected.links) {
    linkIds.push(id);
    const l = bb.links.get(id);
    if (l && inc.kind === 'weather') siteIds.push(l.b.site);
  }
  siteIds.push(...inc.affected.sites);
  const sites = [...new Set(siteIds)].flatMap((id) => {
    const s = bb.sites.get(id);
    return s ? [s] : [];
  });
  // The cause's own place first, then the ones cut off, emergency services before the rest.
  const [first, ...rest] = sites;
  rest.sort((x, y) => RANK[x.priority] - RANK[y.priority]);
  return { sites: first ? [first, ...rest] : [], links: [...new Set(linkIds)] };
}

const RANK = { emergency: 0, basic: 1, normal: 2 } as const;

export const siteName = (bb: Backbone, id: string) => bb.sites.get(id)?.name ?? id;
export const linkName = (bb: Backbone, id: string) => bb.links.get(id)?.name ?? id;
