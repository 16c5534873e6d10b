import { describe, expect, it } from 'vitest';
import type { IncidentRecord } from './central-db.js';
import { type Backbone, parseBackbone } from './description.js';
import { uptimeCsv, uptimeReport } from './uptime.js';

const bb: Backbone = parseBackbone(
  `root: scc
sites:
  - { id: scc, name: Command Center }
  - { id: bukit, name: Relay Bukit, kecamatan: Tanete, agency: Diskominfo }
  - { id: rsud, name: "RSUD, Latemmamala", kecamatan: Tanete, agency: Dinkes }
  - { id: pasar, name: "=Pasar Sentral", kecamatan: Kota, agency: Diskominfo }
links:
  - { id: scc-bukit, medium: radio, a: { site: scc }, b: { site: bukit } }
  - { id: bukit-rsud, medium: radio, a: { site: bukit }, b: { site: rsud } }
  - { id: scc-pasar, medium: fiber, a: { site: scc }, b: { site: pasar } }
`,
  'backbone.yaml',
);

const H = 3600_000;
const inc = (
  key: string,
  kind: IncidentRecord['kind'],
  severity: IncidentRecord['severity'],
  opened: number,
  closed: number | null,
  affected: Partial<IncidentRecord['affected']>,
): IncidentRecord => ({
  key,
  kind,
  subject: key.split(':')[1]!,
  severity,
  title: { code: 'x', id: key, en: key },
  affected: { sites: [], links: [], devices: [], ...affected },
  opened_at: opened,
  updated_at: opened,
  closed_at: closed,
});

describe('uptime from incidents', () => {
  // A day; the trunk to Bukit is down 2 h (cutting off Bukit and RSUD), RSUD's own box is down 1 h
  // overlapping it by half an hour, the trunk faded for 3 h around the outage, and Pasar is down
  // from 23:00 to beyond the end of the day.
  const incidents = [
    inc('link:scc-bukit', 'link', 'critical', 10 * H, 12 * H, {
      sites: ['bukit', 'rsud'],
      links: ['scc-bukit'],
    }),
    inc('site:rsud', 'site', 'critical', 11.5 * H, 12.5 * H, { sites: ['rsud'] }),
    inc('weather:Tanete', 'weather', 'warning', 9 * H, 13 * H, { links: ['scc-bukit'] }),
    inc('site:pasar', 'site', 'critical', 23 * H, null, { sites: ['pasar'] }),
    inc('site:old', 'site', 'critical', -5 * H, -4 * H, { sites: ['pasar'] }),
  ];
  const q = { from: 0, to: 24 * H };

  it('counts overlapping outages once and fading apart from downtime', () => {
    const links = uptimeReport(bb, incidents, { ...q, group: 'link' }).rows;
    expect(links.find((r) => r.id === 'scc-bukit')).toMatchObject({
      down_ms: 2 * H,
      degraded_ms: 2 * H, // 4 h of fade, 2 of them while down
      outages: 1,
      availability_pct: 91.667,
    });
    const sites = uptimeReport(bb, incidents, { ...q, group: 'site' }).rows;
    expect(sites.map((r) => r.id)).toEqual(['rsud', 'bukit', 'pasar']); // worst first
    expect(sites[0]).toMatchObject({ down_ms: 2.5 * H, outages: 1, longest_ms: 2.5 * H, down_now: false });
    expect(sites.find((r) => r.id === 'pasar')).toMatchObject({ down_ms: 1 * H, down_now: true });
    expect(sites.some((r) => r.id === 'scc')).toBe(false);
  });

  it('groups by kecamatan and agency over site-time', () => {
    const kec = uptimeReport(bb, incidents, { ...q, group: 'kecamatan' }).rows;
    expect(kec.find((r) => r.id === 'Tanete')).toMatchObject({
      sites: 2,
      down_ms: 4.5 * H,
      availability_pct: Math.round((1 - 4.5 / 48) * 100_000) / 1000,
    });
    const ag = uptimeReport(bb, incidents, { ...q, group: 'agency' }).rows;
    expect(ag.find((r) => r.id === 'Diskominfo')).toMatchObject({ sites: 2, down_ms: 3 * H, down_now: true });
  });

  it('writes CSV a spreadsheet reads safely', () => {
    const csv = uptimeCsv(uptimeReport(bb, incidents, { ...q, group: 'site' }), 'Asia/Makassar');
    const lines = csv.trimEnd().split('\r\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(
      /^rsud,"RSUD, Latemmamala",1,89\.583,150,0,1,150,no,1970-01-01 08:00:00,1970-01-02 08:00:00$/,
    );
    // A name starting with "=" stays text.
    expect(lines.find((l) => l.startsWith('pasar'))).toContain(`"'=Pasar Sentral"`);
  });
});
