// The words of every message: plain Bahasa Indonesia first (English after it when a channel asks),
// naming the place, its kecamatan and its priority, the local time with its zone, never an address.

import type { IncidentRecord } from '../backbone/central-db.js';
import type { Backbone } from '../backbone/description.js';
import { linkName, placesOf } from './places.js';

export type Transition = 'opened' | 'worsened' | 'resolved' | 'reminder';

export interface Bilingual {
  id: string;
  en: string;
}

export interface Message {
  subject: Bilingual;
  text: Bilingual;
  /** What a webhook receives beside the text. */
  data: Record<string, unknown>;
}

export interface EpisodeFacts {
  /** When the trouble began (the first incident of a flapping run). */
  started_at: number;
  /** How many times it went down in this run. */
  incidents: number;
  /** When it last cleared (for resolved). */
  ended_at?: number;
}

const ZONES: Record<string, string> = {
  'Asia/Jakarta': 'WIB',
  'Asia/Pontianak': 'WIB',
  'Asia/Makassar': 'WITA',
  'Asia/Jayapura': 'WIT',
};

export function clock(bb: Backbone, at: number): { time: string; date: Bilingual } {
  const tz = bb.timezone;
  const time = new Intl.DateTimeFormat('en-GB', {
    timeZone: tz,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(at);
  const fmt = (locale: string) =>
    new Intl.DateTimeFormat(locale, { timeZone: tz, day: 'numeric', month: 'short', year: 'numeric' }).format(
      at,
    );
  return { time: `${time} ${ZONES[tz] ?? tz}`, date: { id: fmt('id-ID'), en: fmt('en-GB') } };
}

export function duration(ms: number): Bilingual {
  const m = Math.max(0, Math.round(ms / 60_000));
  if (m < 1) {
    const s = Math.max(1, Math.round(ms / 1000));
    return { id: `${s} detik`, en: `${s} s` };
  }
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  const min = m % 60;
  const id = [d ? `${d} hari` : '', h ? `${h} jam` : '', min ? `${min} menit` : ''].filter(Boolean).join(' ');
  const en = [d ? `${d} d` : '', h ? `${h} h` : '', min ? `${min} min` : ''].filter(Boolean).join(' ');
  return { id, en };
}

const PRIORITY: Record<string, Bilingual> = {
  emergency: { id: 'layanan darurat', en: 'emergency service' },
  basic: { id: 'layanan dasar', en: 'basic service' },
};

const HEAD: Record<Transition, (sev: IncidentRecord['severity']) => Bilingual> = {
  opened: (s) => (s === 'critical' ? { id: 'GANGGUAN', en: 'OUTAGE' } : { id: 'PERINGATAN', en: 'WARNING' }),
  worsened: () => ({ id: 'MEMBURUK', en: 'WORSE' }),
  resolved: () => ({ id: 'PULIH (sudah normal)', en: 'RESOLVED (back to normal)' }),
  reminder: () => ({ id: 'BELUM DITANGGAPI', en: 'NOT ACKNOWLEDGED' }),
};

/** The text for one incident transition. */
export function incidentMessage(
  bb: Backbone,
  inc: IncidentRecord,
  t: Transition,
  ep: EpisodeFacts,
  now: number,
): Message {
  const p = placesOf(bb, inc);
  const head = HEAD[t](inc.severity);
  const start = clock(bb, ep.started_at);
  const where = (lang: 'id' | 'en') =>
    p.sites
      .slice(0, 6)
      .map((s) => {
        const extra = [
          s.kecamatan ? `${lang === 'id' ? 'Kec.' : 'Kec.'} ${s.kecamatan}` : '',
          PRIORITY[s.priority]?.[lang] ?? '',
        ].filter(Boolean);
        return extra.length ? `${s.name} (${extra.join(', ')})` : s.name;
      })
      .join('; ') +
    (p.sites.length > 6
      ? lang === 'id'
        ? `; dan ${p.sites.length - 6} lokasi lain`
        : `; and ${p.sites.length - 6} more`
      : '');
  const lines = (lang: 'id' | 'en'): string[] => {
    const id = lang === 'id';
    const out: string[] = [`${head[lang]}: ${inc.title[lang]}`];
    if (p.sites.length) out.push(`${id ? 'Lokasi' : 'Place'}: ${where(lang)}`);
    if (inc.kind !== 'link' && p.links.length)
      out.push(`${id ? 'Tautan' : 'Links'}: ${p.links.map((l) => linkName(bb, l)).join(', ')}`);
    if (inc.outage) out.push(`${id ? 'Dugaan penyebab' : 'Likely cause'}: ${inc.outage.reason[lang]}`);
    if (t === 'resolved') {
      const end = ep.ended_at ?? inc.closed_at ?? now;
      const endC = clock(bb, end);
      out.push(
        id
          ? `Berlangsung ${duration(end - ep.started_at).id} (${start.time} – ${endC.time}, ${start.date.id})`
          : `Lasted ${duration(end - ep.started_at).en} (${start.time} – ${endC.time}, ${start.date.en})`,
      );
    } else
      out.push(
        id
          ? `Sejak ${start.time}, ${start.date.id} (${duration(now - ep.started_at).id} yang lalu)`
          : `Since ${start.time}, ${start.date.en} (${duration(now - ep.started_at).en} ago)`,
      );
    if (ep.incidents > 1)
      out.push(
        id
          ? `Terputus-sambung ${ep.incidents} kali sejak ${start.time}`
          : `Went down ${ep.incidents} times since ${start.time}`,
      );
    if (t !== 'resolved' && inc.severity === 'critical')
      out.push(
        id
          ? 'Tanggapi insiden ini di dasbor Pantau agar pengingat berhenti.'
          : 'Acknowledge it on the Pantau dashboard to stop reminders.',
      );
    return out;
  };
  const subj = (lang: 'id' | 'en') => `[Pantau] ${head[lang]}: ${inc.title[lang]}`;
  return {
    subject: { id: subj('id'), en: subj('en') },
    text: { id: lines('id').join('\n'), en: lines('en').join('\n') },
    data: {
      transition: t,
      incident: {
        key: inc.key,
        kind: inc.kind,
        subject: inc.subject,
        severity: inc.severity,
        title: inc.title,
        affected: inc.affected,
        ...(inc.outage ? { outage: inc.outage } : {}),
        opened_at: inc.opened_at,
        closed_at: inc.closed_at,
      },
      episode: ep,
      places: p.sites.map((s) => ({
        site: s.id,
        name: s.name,
        ...(s.kecamatan ? { kecamatan: s.kecamatan } : {}),
        ...(s.agency ? { agency: s.agency } : {}),
        priority: s.priority,
      })),
    },
  };
}

export interface FlakyLink {
  link: string;
  incidents: number;
  /** Time spent degraded in the 24 h. */
  degraded_ms: number;
}

/** The morning summary: links that kept warning but never went down. */
export function digestMessage(bb: Backbone, flaky: FlakyLink[], now: number): Message {
  const c = clock(bb, now);
  const area = (id: string) => {
    const l = bb.links.get(id);
    const k = l && (bb.sites.get(l.b.site)?.kecamatan ?? bb.sites.get(l.a.site)?.kecamatan);
    return k ? ` (Kec. ${k})` : '';
  };
  const list = (lang: 'id' | 'en') =>
    flaky.map((f) =>
      lang === 'id'
        ? `- ${linkName(bb, f.link)}${area(f.link)}: ${f.incidents} kali melemah, total ${duration(f.degraded_ms).id}`
        : `- ${linkName(bb, f.link)}${area(f.link)}: weakened ${f.incidents} times, ${duration(f.degraded_ms).en} in all`,
    );
  const id = [
    `Ringkasan harian Pantau, 24 jam sampai ${c.time} ${c.date.id}.`,
    flaky.length
      ? 'Tautan yang sering melemah tetapi tidak putus (perlu diperiksa sebelum benar-benar putus):'
      : 'Tidak ada tautan yang sering melemah.',
    ...list('id'),
  ];
  const en = [
    `Pantau daily digest, 24 h to ${c.time} ${c.date.en}.`,
    flaky.length
      ? 'Links that kept weakening but never went down (worth a look before they do):'
      : 'No flaky links.',
    ...list('en'),
  ];
  return {
    subject: {
      id: `[Pantau] Ringkasan harian: ${flaky.length} tautan sering melemah`,
      en: `[Pantau] Daily digest: ${flaky.length} flaky link(s)`,
    },
    text: { id: id.join('\n'), en: en.join('\n') },
    data: { transition: 'digest', flaky, until: now },
  };
}

/** The text a channel sends: Bahasa Indonesia, then English when asked for. */
export function render(b: Bilingual, lang: 'id' | 'id+en'): string {
  return lang === 'id' ? b.id : `${b.id}\n\n— English —\n${b.en}`;
}
