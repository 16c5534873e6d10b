// Who hears about an incident: the rules that match it, turned into (channel, recipient) pairs, and
// whether a maintenance window keeps it quiet.

import type { IncidentRecord } from '../backbone/central-db.js';
import type { Backbone } from '../backbone/description.js';
import type { NotifyConfig, RuleDef, WindowDef } from './config.js';
import { placesOf } from './places.js';

export interface Target {
  channel: string;
  /** An e-mail address, phone number or chat id; '' for a webhook. */
  recipient: string;
}

export function ruleMatches(bb: Backbone, rule: RuleDef, inc: IncidentRecord): boolean {
  const m = rule.match;
  if (m.severity && !m.severity.includes(inc.severity)) return false;
  if (m.kind && !m.kind.includes(inc.kind)) return false;
  const sites = placesOf(bb, inc).sites;
  if (m.priority && !sites.some((s) => m.priority!.includes(s.priority))) return false;
  const lower = (xs: string[]) => xs.map((x) => x.toLowerCase());
  if (
    m.kecamatan &&
    !sites.some((s) => s.kecamatan && lower(m.kecamatan!).includes(s.kecamatan.toLowerCase()))
  )
    return false;
  if (m.agency && !sites.some((s) => s.agency && lower(m.agency!).includes(s.agency.toLowerCase())))
    return false;
  return true;
}

/** The recipients on one channel for a list of roles (or the channel's own list without roles). */
export function recipients(cfg: NotifyConfig, channel: string, roles: string[]): string[] {
  const ch = cfg.channels[channel];
  if (!ch) return [];
  if (ch.type === 'webhook') return [''];
  const field = ch.type === 'smtp' ? 'email' : ch.type === 'chat_gateway' ? 'chat' : 'telegram';
  if (roles.length > 0) return [...new Set(roles.flatMap((r) => cfg.roles[r]?.[field] ?? []))];
  return ch.type === 'telegram' ? ch.chat_ids : ch.to;
}

export function targetsFor(
  cfg: NotifyConfig,
  pairs: Array<{ channels: string[]; roles: string[] }>,
): Target[] {
  const seen = new Set<string>();
  const out: Target[] = [];
  for (const p of pairs)
    for (const channel of p.channels)
      for (const recipient of recipients(cfg, channel, p.roles)) {
        const k = `${channel}\u0000${recipient}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.push({ channel, recipient });
      }
  return out;
}

export function incidentTargets(cfg: NotifyConfig, bb: Backbone, inc: IncidentRecord): Target[] {
  return targetsFor(
    cfg,
    cfg.rules.filter((r) => ruleMatches(bb, r, inc)),
  );
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Weekday and minutes since midnight at `at` in the time zone. */
export function localClock(at: number, timeZone: string): { day: string; minutes: number; date: string } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return {
    day: String(parts.weekday).toLowerCase().slice(0, 3),
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
    date: `${parts.year}-${parts.month}-${parts.day}`,
  };
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

export function windowOpen(w: WindowDef, at: number, timeZone: string): boolean {
  if (w.start && w.end) return at >= Date.parse(w.start) && at < Date.parse(w.end);
  if (!w.weekly) return false;
  const { day, minutes } = localClock(at, timeZone);
  const from = minutesOf(w.weekly.from);
  const to = minutesOf(w.weekly.to);
  if (from < to) return w.weekly.days.includes(day as never) && minutes >= from && minutes < to;
  // Over midnight (22:00–02:00): the part after midnight belongs to the day before.
  const yesterday = DAYS[(DAYS.indexOf(day) + 6) % 7]!;
  return (
    (w.weekly.days.includes(day as never) && minutes >= from) ||
    (w.weekly.days.includes(yesterday as never) && minutes < to)
  );
}

/** Quiet when every place the incident is about is under an open maintenance window. */
export function inMaintenance(cfg: NotifyConfig, bb: Backbone, inc: IncidentRecord, at: number): boolean {
  const open = cfg.maintenance.filter((w) => windowOpen(w, at, bb.timezone));
  if (open.length === 0) return false;
  const sites = new Set(open.flatMap((w) => w.sites));
  const links = new Set(open.flatMap((w) => w.links));
  const p = placesOf(bb, inc);
  // The cause decides: a link under maintenance cuts off the sites behind it, and that is expected.
  if (inc.kind === 'link')
    return (
      links.has(inc.subject) ||
      (bb.links.get(inc.subject) ? sites.has(bb.links.get(inc.subject)!.b.site) : false)
    );
  if (inc.kind === 'weather') return p.links.length > 0 && p.links.every((l) => links.has(l));
  return p.sites.length > 0 && sites.has(p.sites[0]!.id);
}
