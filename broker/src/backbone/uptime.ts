// Uptime over a period, from the incidents: how long each link was down, each site cut off from the
// command center, and what that means per kecamatan and per agency. A site counts as down while a
// critical incident (its own outage, or a link or site further up that cuts it off) names it among
// the affected; a link while a critical incident names it. Warnings (a fading or faulty link that
// still carries traffic, weather) are "degraded" time, not downtime.

import type { IncidentRecord } from './central-db.js';
import type { Backbone } from './description.js';

export type UptimeGroup = 'link' | 'site' | 'kecamatan' | 'agency';

export interface UptimeRow {
  id: string;
  name: string;
  /** Sites counted in a kecamatan or agency row (1 for a site, 0 for a link). */
  sites: number;
  /** Down time in the period, ms (for a group: summed over its sites). */
  down_ms: number;
  degraded_ms: number;
  /** Share of the period up, 0–100 (for a group: of its site-time). */
  availability_pct: number;
  /** Outages that overlap the period. */
  outages: number;
  longest_ms: number;
  /** An outage still open at the end of the period. */
  down_now: boolean;
}

export interface UptimeReport {
  from: number;
  to: number;
  group: UptimeGroup;
  rows: UptimeRow[];
}

type Interval = [number, number];

/** Sorted, merged intervals: overlapping incidents are not counted twice. */
function union(xs: Interval[]): Interval[] {
  const s = [...xs].sort((a, b) => a[0] - b[0]);
  const out: Interval[] = [];
  for (const [a, b] of s) {
    const last = out.at(-1);
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

const total = (xs: Interval[]) => xs.reduce((n, [a, b]) => n + (b - a), 0);

interface Tally {
  down: Interval[];
  degraded: Interval[];
}

function clip(i: IncidentRecord, from: number, to: number): Interval | null {
  const a = Math.max(i.opened_at, from);
  const b = Math.min(i.closed_at ?? to, to);
  return b > a ? [a, b] : null;
}

function summarise(t: Tally | undefined, span: number, to: number): Omit<UptimeRow, 'id' | 'name' | 'sites'> {
  const down = union(t?.down ?? []);
  const degradedAll = union(t?.degraded ?? []);
  // Degraded while not down.
  let degraded = total(degradedAll);
  for (const [a, b] of degradedAll)
    for (const [c, d] of down) degraded -= Math.max(0, Math.min(b, d) - Math.max(a, c));
  const downMs = total(down);
  return {
    down_ms: downMs,
    degraded_ms: Math.max(0, degraded),
    availability_pct: span > 0 ? Math.round((1 - downMs / span) * 100_000) / 1000 : 100,
    outages: down.length,
    longest_ms: down.reduce((m, [a, b]) => Math.max(m, b - a), 0),
    down_now: down.some(([, b]) => b >= to),
  };
}

/** Uptime per link, site, kecamatan or agency over [from, to), from the incidents that overlap it. */
export function uptimeReport(
  bb: Backbone,
  incidents: IncidentRecord[],
  q: { from: number; to: number; group: UptimeGroup },
): UptimeReport {
  const { from, to } = q;
  const span = to - from;
  const links = new Map<string, Tally>();
  const sites = new Map<string, Tally>();
  const tally = (m: Map<string, Tally>, id: string) => {
    const t = m.get(id) ?? { down: [], degraded: [] };
    m.set(id, t);
    return t;
  };
  for (const i of incidents) {
    const iv = clip(i, from, to);
    if (!iv) continue;
    const key = i.severity === 'critical' && i.kind !== 'weather' ? 'down' : 'degraded';
    for (const l of i.affected.links) tally(links, l)[key].push(iv);
    for (const s of i.affected.sites) tally(sites, s)[key].push(iv);
    if (i.kind === 'link' && !i.affected.links.includes(i.subject)) tally(links, i.subject)[key].push(iv);
    if (i.kind === 'site' && !i.affected.sites.includes(i.subject)) tally(sites, i.subject)[key].push(iv);
  }

  let rows: UptimeRow[];
  if (q.group === 'link') {
    rows = [...bb.links.values()].map((l) => ({
      id: l.id,
      name: l.name ?? l.id,
      sites: 0,
      ...summarise(links.get(l.id), span, to),
    }));
  } else {
    // The command center is where availability is seen from: it is not one of the sites measured.
    const measured = [...bb.sites.values()].filter((s) => s.id !== bb.root);
    const siteRows = measured.map((s) => ({
      id: s.id,
      name: s.name,
      sites: 1,
      kecamatan: s.kecamatan ?? '—',
      agency: s.agency ?? '—',
      ...summarise(sites.get(s.id), span, to),
    }));
    if (q.group === 'site') rows = siteRows.map(({ kecamatan: _k, agency: _a, ...r }) => r);
    else {
      const groups = new Map<string, typeof siteRows>();
      for (const r of siteRows) {
        const g = q.group === 'kecamatan' ? r.kecamatan : r.agency;
        groups.set(g, [...(groups.get(g) ?? []), r]);
      }
      rows = [...groups.entries()].map(([g, rs]) => {
        const down = rs.reduce((n, r) => n + r.down_ms, 0);
        return {
          id: g,
          name: g,
          sites: rs.length,
          down_ms: down,
          degraded_ms: rs.reduce((n, r) => n + r.degraded_ms, 0),
          availability_pct: span > 0 ? Math.round((1 - down / (span * rs.length)) * 100_000) / 1000 : 100,
          outages: rs.reduce((n, r) => n + r.outages, 0),
          longest_ms: rs.reduce((m, r) => Math.max(m, r.longest_ms), 0),
          down_now: rs.some((r) => r.down_now),
        };
      });
    }
  }
  // Worst first: that is what a report is read for.
  rows.sort((a, b) => a.availability_pct - b.availability_pct || a.id.localeCompare(b.id));
  return { from, to, group: q.group, rows };
}

const csvCell = (v: string | number | boolean) => {
  let s = String(v);
  // A text cell a spreadsheet would run as a formula is kept as text.
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n;']/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The report as CSV (comma-separated, one header row in both languages' plain words). */
export function uptimeCsv(r: UptimeReport, timeZone: string): string {
  const fmt = (ms: number) =>
    new Intl.DateTimeFormat('sv-SE', {
      timeZone,
      dateStyle: 'short',
      timeStyle: 'medium',
    }).format(ms);
  const header = [
    r.group,
    'name',
    'sites',
    'availability_pct',
    'down_minutes',
    'degraded_minutes',
    'outages',
    'longest_minutes',
    'down_now',
    'from',
    'to',
  ];
  const minutes = (ms: number) => Math.round((ms / 60_000) * 10) / 10;
  const lines = r.rows.map((x) =>
    [
      x.id,
      x.name,
      x.sites,
      x.availability_pct,
      minutes(x.down_ms),
      minutes(x.degraded_ms),
      x.outages,
      minutes(x.longest_ms),
      x.down_now ? 'yes' : 'no',
      fmt(r.from),
      fmt(r.to),
    ]
      .map(csvCell)
      .join(','),
  );
  return `${[header.join(','), ...lines].join('\r\n')}\r\n`;
}
