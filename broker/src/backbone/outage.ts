// Why did it go dark? An outage incident is labelled power (a UPS went to battery, or a radio
// restarted, before the silence), RF (the link was fading before it broke) or device hang (a device
// silent while the site's power and link are fine). Power cuts are the other common cause of
// outages besides weather; telling them apart sends the right person: the electrician, the radio
// team, or someone to restart a box.

import type { Reason } from '@pantau/contract';
import type { IncidentRecord } from './central-db.js';
import type { LinkVerdict } from './classifier.js';
import type { Backbone } from './description.js';

export type OutageLabel = 'power' | 'rf' | 'device_hang' | 'unknown';

/** How far back a power loss or a fade still explains an outage. */
export const OUTAGE_LOOKBACK_MS = 2 * 3600_000;

export interface OutageContext {
  bb: Backbone;
  links: Map<string, LinkVerdict>;
  /** Site → when its UPS last went to battery, and when mains came back (null while on battery). */
  power: Map<string, { lostAt: number; restoredAt: number | null }>;
  /** Link → when its latest fade (a drop beyond its warning line) began and was last seen. */
  fadedAt: Map<string, { since: number; last: number }>;
  now: number;
  names: { site: (id: string) => string; link: (id: string) => string };
  timeOf: (ts: number) => string;
}

const reason = (code: string, id: string, en: string): Reason => ({ code, id, en });

/** The sites whose power could explain the incident: where it happened and, for a link, both ends. */
function sitesOf(inc: Pick<IncidentRecord, 'kind' | 'subject' | 'affected'>, bb: Backbone): string[] {
  if (inc.kind === 'link') {
    const l = bb.links.get(inc.subject);
    return l ? [l.b.site, l.a.site] : [];
  }
  if (inc.kind === 'site') return [inc.subject];
  if (inc.kind === 'device') return [inc.subject.split('/')[0]!];
  return [];
}

function powerLost(site: string, ctx: OutageContext): { lostAt: number } | null {
  const p = ctx.power.get(site);
  if (!p) return null;
  // Still on battery, or lost recently enough to explain what followed.
  if (p.restoredAt === null || ctx.now - p.lostAt <= OUTAGE_LOOKBACK_MS) return { lostAt: p.lostAt };
  return null;
}

export function labelOutage(
  inc: Pick<IncidentRecord, 'kind' | 'subject' | 'affected'>,
  ctx: OutageContext,
): { label: OutageLabel; reason: Reason } | null {
  if (inc.kind === 'weather') return null;
  const link = inc.kind === 'link' ? ctx.links.get(inc.subject) : undefined;
  // A degraded link is not an outage: its own verdict already says why.
  if (inc.kind === 'link' && link?.status !== 'down') return null;
  for (const site of sitesOf(inc, ctx.bb)) {
    const p = powerLost(site, ctx);
    if (p)
      return {
        label: 'power',
        reason: reason(
          'outage_power',
          `Listrik padam: UPS di ${ctx.names.site(site)} beralih ke baterai pukul ${ctx.timeOf(p.lostAt)}, lalu senyap`,
          `Power cut: the UPS at ${ctx.names.site(site)} went to battery at ${ctx.timeOf(p.lostAt)}, then silence`,
        ),
      };
  }
  if (link?.cause === 'device_power')
    return {
      label: 'power',
      reason: reason(
        'outage_power',
        'Listrik padam atau perangkat mati: radio menyala ulang sebelum tautan putus',
        'Power cut or a dead box: a radio restarted before the link broke',
      ),
    };
  // The link that carries the outage: the incident's own link, or the one feeding the site.
  const carrier = inc.kind === 'link' ? inc.subject : ctx.bb.upstream.get(sitesOf(inc, ctx.bb)[0] ?? '')?.id;
  const faded = carrier ? ctx.fadedAt.get(carrier) : undefined;
  if (carrier && faded && ctx.now - faded.last <= OUTAGE_LOOKBACK_MS && inc.kind !== 'device')
    return {
      label: 'rf',
      reason: reason(
        'outage_rf',
        `Gangguan RF: tautan ${ctx.names.link(carrier)} melemah sejak pukul ${ctx.timeOf(faded.since)} sebelum putus`,
        `RF: link ${ctx.names.link(carrier)} was fading from ${ctx.timeOf(faded.since)} before it broke`,
      ),
    };
  if (inc.kind === 'device') {
    const site = sitesOf(inc, ctx.bb)[0]!;
    return {
      label: 'device_hang',
      reason: reason(
        'outage_device_hang',
        `Perangkat hang: ${inc.subject.split('/')[1]} tidak menjawab padahal listrik dan tautan di ${ctx.names.site(site)} baik`,
        `Device hang: ${inc.subject.split('/')[1]} silent while power and link at ${ctx.names.site(site)} are fine`,
      ),
    };
  }
  return {
    label: 'unknown',
    reason: reason(
      'outage_unknown',
      'Sebab belum diketahui: tidak ada tanda listrik padam atau pelemahan sebelumnya',
      'Cause not known yet: no sign of a power cut or a fade before it',
    ),
  };
}
