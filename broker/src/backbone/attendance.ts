// Which agencies' attendance may be incomplete for a period: a terminal behind a link or site that
// was down could not be read, and may have missed punches if it hung. BKD staff need the list per
// agency, with the hours, before they close a month's attendance.

import type { Reason } from '@pantau/contract';
import type { IncidentRecord } from './central-db.js';
import type { Backbone } from './description.js';

export interface TerminalRef {
  site: string;
  device: string;
  name?: string;
}

export interface AttendanceGap {
  site: string;
  site_name: string;
  /** Terminals at that site (as their site boxes report them). */
  terminals: string[];
  from: number;
  to: number;
  minutes: number;
  incident: string;
  title: Reason;
  outage?: IncidentRecord['outage'];
}

export interface AgencyGaps {
  agency: string;
  gaps: AttendanceGap[];
  /** Minutes in the period during which at least one of the agency's terminals was cut off. */
  minutes: number;
}

/** Merged length of intervals, minutes. */
function coveredMinutes(intervals: Array<[number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let cur: [number, number] | null = null;
  for (const [a, b] of sorted) {
    if (!cur || a > cur[1]) {
      if (cur) total += cur[1] - cur[0];
      cur = [a, b];
    } else cur[1] = Math.max(cur[1], b);
  }
  if (cur) total += cur[1] - cur[0];
  return Math.round(total / 60_000);
}

/**
 * Gaps per agency for [from, to): every incident overlapping the period that cut off a site where
 * a terminal is, or a terminal itself. Sites without a known agency are listed under "(tanpa instansi)".
 */
export function attendanceGaps(
  bb: Backbone,
  incidents: IncidentRecord[],
  terminals: TerminalRef[],
  period: { from: number; to: number },
  now = Date.now(),
): AgencyGaps[] {
  const bySite = new Map<string, string[]>();
  for (const t of terminals) bySite.set(t.site, [...(bySite.get(t.site) ?? []), t.device]);
  const gaps: AttendanceGap[] = [];
  for (const inc of incidents) {
    if (inc.kind === 'weather') continue;
    const from = Math.max(inc.opened_at, period.from);
    const to = Math.min(inc.closed_at ?? now, period.to);
    if (to <= from) continue;
    const sites = new Set<string>(inc.affected.sites);
    if (inc.kind === 'site') sites.add(inc.subject);
    // A terminal that itself stopped answering.
    const deviceSite = inc.kind === 'device' ? inc.subject.split('/')[0]! : null;
    const deviceId = inc.kind === 'device' ? inc.subject.split('/')[1]! : null;
    if (deviceSite && bySite.get(deviceSite)?.includes(deviceId!)) sites.add(deviceSite);
    for (const site of sites) {
      const here = bySite.get(site);
      if (!here?.length) continue;
      gaps.push({
        site,
        site_name: bb.sites.get(site)?.name ?? site,
        terminals: deviceSite === site && deviceId ? [deviceId] : here,
        from,
        to,
        minutes: Math.round((to - from) / 60_000),
        incident: inc.key,
        title: inc.title,
        ...(inc.outage ? { outage: inc.outage } : {}),
      });
    }
  }
  const byAgency = new Map<string, AttendanceGap[]>();
  for (const g of gaps) {
    const agency = bb.sites.get(g.site)?.agency ?? '(tanpa instansi)';
    byAgency.set(agency, [...(byAgency.get(agency) ?? []), g]);
  }
  return [...byAgency.entries()]
    .map(([agency, list]) => ({
      agency,
      gaps: list.sort((a, b) => a.from - b.from),
      minutes: coveredMinutes(list.map((g) => [g.from, g.to])),
    }))
    .sort((a, b) => b.minutes - a.minutes || a.agency.localeCompare(b.agency));
}
