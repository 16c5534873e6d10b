import { describe, expect, it } from 'vitest';
import { attendanceGaps } from './attendance.js';
import type { IncidentRecord } from './central-db.js';
import { parseBackbone } from './description.js';

const bb = parseBackbone(`root: scc
sites:
  - { id: scc, name: Command Center, agency: Diskominfo }
  - { id: bukit, name: Relay Bukit }
  - { id: rsud, name: RSUD, agency: Dinas Kesehatan }
  - { id: puskesmas, name: Puskesmas Tanete, agency: Dinas Kesehatan }
  - { id: bkd, name: Kantor BKD, agency: BKD }
links:
  - { id: scc-bukit, medium: radio, a: { site: scc }, b: { site: bukit } }
  - { id: bukit-rsud, medium: radio, a: { site: bukit }, b: { site: rsud } }
  - { id: bukit-pkm, medium: radio, a: { site: bukit }, b: { site: puskesmas } }
  - { id: scc-bkd, medium: fiber, a: { site: scc }, b: { site: bkd } }
`);
const H = 3600_000;
const DAY = Date.UTC(2026, 11, 1, 0, 0);
const inc = (over: Partial<IncidentRecord>): IncidentRecord => ({
  key: 'x',
  kind: 'link',
  subject: 'x',
  severity: 'critical',
  title: { code: 'link_down', id: 'putus', en: 'down' },
  affected: { sites: [], links: [], devices: [] },
  opened_at: DAY,
  updated_at: DAY,
  closed_at: null,
  ...over,
});
const terminals = [
  { site: 'rsud', device: 'absen-igd' },
  { site: 'rsud', device: 'absen-poli' },
  { site: 'puskesmas', device: 'absen-1' },
  { site: 'bkd', device: 'absen-bkd' },
];

describe('attendance that may be incomplete', () => {
  it('lists per agency the sites with terminals cut off, clipped to the period, overlaps merged', () => {
    const relay = inc({
      key: 'link:scc-bukit',
      subject: 'scc-bukit',
      affected: { sites: ['bukit', 'puskesmas', 'rsud'], links: [], devices: [] },
      opened_at: DAY + 7 * H,
      closed_at: DAY + 9 * H,
      outage: { label: 'power', reason: { code: 'outage_power', id: 'Listrik padam', en: 'Power cut' } },
    });
    const pkm = inc({
      key: 'link:bukit-pkm',
      subject: 'bukit-pkm',
      affected: { sites: ['puskesmas'], links: [], devices: [] },
      opened_at: DAY + 8 * H,
      closed_at: DAY + 10 * H,
    });
    const hung = inc({
      key: 'device:bkd/absen-bkd',
      kind: 'device',
      subject: 'bkd/absen-bkd',
      opened_at: DAY + 11 * H,
    });
    const camera = inc({
      key: 'device:bkd/cam-1',
      kind: 'device',
      subject: 'bkd/cam-1',
      opened_at: DAY + 11 * H,
    });
    const before = inc({
      key: 'site:rsud',
      kind: 'site',
      subject: 'rsud',
      opened_at: DAY - 5 * H,
      closed_at: DAY - 4 * H,
    });
    const r = attendanceGaps(
      bb,
      [relay, pkm, hung, camera, before],
      terminals,
      { from: DAY + 8 * H, to: DAY + 12 * H },
      DAY + 13 * H,
    );
    expect(r.map((a) => [a.agency, a.minutes])).toEqual([
      // Relay 8–9 h (clipped at the period's start) and the Puskesmas link 8–10 h: 120 minutes, not 180.
      ['Dinas Kesehatan', 120],
      // The hung terminal from 11 h to the end of the period; the camera does not count.
      ['BKD', 60],
    ]);
    const health = r[0]!.gaps;
    expect(health.map((g) => `${g.site} ${g.minutes} ${g.incident}`)).toEqual([
      'puskesmas 60 link:scc-bukit',
      'rsud 60 link:scc-bukit',
      'puskesmas 120 link:bukit-pkm',
    ]);
    expect(health.find((g) => g.site === 'rsud')!).toMatchObject({
      terminals: ['absen-igd', 'absen-poli'],
      outage: { label: 'power' },
    });
    expect(r[1]!.gaps[0]!.terminals).toEqual(['absen-bkd']);
  });
});
