// Decides what to say and when, then drives the queue. Incidents are grouped per cause into runs of
// trouble ("episodes"): a link that flaps twenty times in a minute is one run, so it gets one
// "opened" (after the settle time, saying how often it went down) and one "resolved" (after it has
// stayed up for clear_s), never fifty messages. Runs within min_interval_s of the last message
// about the same cause wait; maintenance windows hold "opened" back; an acknowledgement from the
// dashboard stops the reminders.

import type { Logger } from 'pino';
import type { CentralDb, IncidentRecord } from '../backbone/central-db.js';
import type { Backbone } from '../backbone/description.js';
import type { NotifyConfig } from './config.js';
import {
  digestMessage,
  type FlakyLink,
  incidentMessage,
  type Message,
  render,
  type Transition,
} from './messages.js';
import { NotifyStore } from './queue.js';
import { incidentTargets, inMaintenance, localClock, type Target, targetsFor } from './rules.js';
import { send } from './senders.js';

interface Episode {
  key: string;
  started_at: number;
  last_opened_at: number;
  open: boolean;
  last_closed_at: number | null;
  incidents: number;
  snapshot: IncidentRecord;
  /** What has been said about this run, and to whom. */
  said: {
    opened_at: number | null;
    severity: IncidentRecord['severity'] | null;
    sites: number;
    targets: Target[];
  };
  worsened: number;
  reminders: number;
  last_message_at: number | null;
  /** Set once resolved; kept until min_interval_s has passed so the next run waits its turn. */
  ended_at: number | null;
}

export interface NotifierOptions {
  cfg: NotifyConfig;
  backbone: Backbone;
  central: CentralDb;
  /** The central's SQLite file (central.db): the queue lives in it, beside the incidents. */
  statePath: string;
  log?: Logger;
  now?: () => number;
}

/** The queue and delivery figures for the broker's /metrics. */
export interface NotifyStats {
  /** Deliveries waiting (first try or a retry). */
  pending: number;
  /** When the oldest waiting delivery was queued (ms since epoch); null when none waits. */
  oldest_pending_at: number | null;
  /** Delivery outcomes since the broker started, per channel: failed counts attempts, each retried. */
  outcomes: Record<string, { sent: number; failed: number; given_up: number }>;
}

const RANK = { warning: 1, critical: 2 } as const;
const DAY = 86_400_000;

export class Notifier {
  readonly store: NotifyStore;
  private readonly cfg: NotifyConfig;
  private readonly bb: Backbone;
  private readonly central: CentralDb;
  private readonly log: Logger | undefined;
  private readonly now: () => number;
  private delivering: Promise<void> | null = null;
  private closing = false;
  private readonly outcomes: NotifyStats['outcomes'] = {};

  constructor(o: NotifierOptions) {
    this.cfg = o.cfg;
    this.bb = o.backbone;
    this.central = o.central;
    this.log = o.log;
    this.now = o.now ?? Date.now;
    this.store = new NotifyStore(o.statePath);
  }

  /** Plans from the incidents as they are now, then delivers what is due. Never throws. */
  async tick(now = this.now()): Promise<void> {
    if (this.closing) return;
    try {
      // One transaction: a crash mid-way leaves nothing half-said (and the dedup keys would catch it).
      this.store.db.transaction(() => this.plan(now))();
    } catch (e) {
      this.log?.error({ err: (e as Error).message }, 'notification planning failed');
    }
    await this.deliver().catch((e: Error) =>
      this.log?.error({ err: e.message }, 'notification delivery failed'),
    );
  }

  plan(now: number): void {
    const t = this.cfg.timing;
    const episodes = this.store.getEpisodes<Episode>();
    const readUntil = Number(this.store.meta('read_until') ?? now);
    const incidents = this.central
      .incidents({ since: readUntil, limit: 100_000 })
      .sort((a, b) => a.opened_at - b.opened_at);
    for (const inc of incidents) {
      let ep = episodes.get(inc.key);
      if (ep && ep.ended_at === null && inc.opened_at > ep.last_opened_at) {
        // Back within clear_s of the last clear: the same run of trouble, flapping.
        if (ep.last_closed_at !== null && inc.opened_at - ep.last_closed_at > t.clear_s * 1000) {
          this.finish(ep, ep.last_closed_at + t.clear_s * 1000);
        } else {
          ep.incidents += 1;
          ep.last_opened_at = inc.opened_at;
        }
      }
      if (!ep || (ep.ended_at !== null && inc.opened_at > ep.last_opened_at)) {
        ep = {
          key: inc.key,
          started_at: inc.opened_at,
          last_opened_at: inc.opened_at,
          open: true,
          last_closed_at: null,
          incidents: 1,
          snapshot: inc,
          said: { opened_at: null, severity: null, sites: 0, targets: [] },
          worsened: 0,
          reminders: 0,
          last_message_at: ep?.last_message_at ?? null,
          ended_at: null,
        };
        episodes.set(inc.key, ep);
      }
      if (inc.opened_at === ep.last_opened_at) {
        ep.open = inc.closed_at === null;
        ep.last_closed_at = inc.closed_at;
        ep.snapshot = inc;
      }
    }
    for (const ep of episodes.values()) {
      if (ep.ended_at === null) this.decide(ep, now);
      if (ep.ended_at !== null && now - ep.ended_at >= t.min_interval_s * 1000) {
        this.store.deleteEpisode(ep.key);
        continue;
      }
      this.store.putEpisode(ep.key, ep);
    }
    this.store.setMeta('read_until', String(now));
    this.digest(now);
    this.store.prune(now - 30 * DAY);
  }

  private decide(ep: Episode, now: number): void {
    const t = this.cfg.timing;
    const inc = ep.snapshot;
    if (!ep.open && ep.last_closed_at !== null && now - ep.last_closed_at >= t.clear_s * 1000) {
      this.finish(ep, now);
      return;
    }
    const quiet = inMaintenance(this.cfg, this.bb, inc, now);
    const spaced = ep.last_message_at === null || now - ep.last_message_at >= t.min_interval_s * 1000;
    if (ep.said.opened_at === null) {
      // Down now, or flapping: a single blip that cleared before the settle time says nothing.
      const trouble = ep.open || ep.incidents >= 3;
      if (!trouble || quiet || !spaced || now - ep.started_at < t.settle_s * 1000) return;
      const targets = incidentTargets(this.cfg, this.bb, inc);
      if (targets.length === 0) return;
      this.emit(ep, 'opened', 0, targets, now);
      ep.said = { opened_at: now, severity: inc.severity, sites: inc.affected.sites.length, targets };
      return;
    }
    if (quiet || !ep.open) return;
    const worse =
      RANK[inc.severity] > RANK[ep.said.severity ?? 'warning'] || inc.affected.sites.length > ep.said.sites;
    if (worse && spaced) {
      const targets = union(ep.said.targets, incidentTargets(this.cfg, this.bb, inc));
      ep.worsened += 1;
      this.emit(ep, 'worsened', ep.worsened, targets, now);
      ep.said = { ...ep.said, severity: inc.severity, sites: inc.affected.sites.length, targets };
      return;
    }
    if (
      inc.severity === 'critical' &&
      t.repeat_s > 0 &&
      ep.last_message_at !== null &&
      now - ep.last_message_at >= t.repeat_s * 1000 &&
      !this.store.acknowledged(ep.key, ep.started_at)
    ) {
      ep.reminders += 1;
      this.emit(ep, 'reminder', ep.reminders, ep.said.targets, now);
    }
  }

  private finish(ep: Episode, now: number): void {
    if (ep.said.opened_at !== null) this.emit(ep, 'resolved', 0, ep.said.targets, now);
    ep.ended_at = now;
  }

  private emit(ep: Episode, t: Transition, n: number, targets: Target[], now: number): void {
    const m = incidentMessage(
      this.bb,
      ep.snapshot,
      t,
      {
        started_at: ep.started_at,
        incidents: ep.incidents,
        ...(t === 'resolved' && ep.last_closed_at !== null ? { ended_at: ep.last_closed_at } : {}),
      },
      now,
    );
    this.enqueue(`${ep.key}@${ep.started_at}:${t}:${n}`, m, targets, now);
    ep.last_message_at = now;
    this.log?.info({ incident: ep.key, transition: t, recipients: targets.length }, 'notification queued');
  }

  private enqueue(dedup: string, m: Message, targets: Target[], now: number): void {
    for (const target of targets) {
      const ch = this.cfg.channels[target.channel];
      // Said before a restart on a channel since taken out of notify.yaml.
      if (!ch) continue;
      this.store.enqueue(
        {
          dedup: `${dedup}:${target.channel}:${target.recipient}`,
          channel: target.channel,
          recipient: target.recipient,
          subject: m.subject.id,
          text: render(m.text, ch.language),
          data: JSON.stringify({ ...m.data, texts: m.text }),
        },
        now,
      );
    }
  }

  private digest(now: number): void {
    const d = this.cfg.digest;
    if (!d) return;
    const local = localClock(now, this.bb.timezone);
    const at = Number(d.time.slice(0, 2)) * 60 + Number(d.time.slice(3, 5));
    if (local.minutes < at || this.store.meta('digest_date') === local.date) return;
    const m = digestMessage(this.bb, flakyLinks(this.central, now - DAY, now, d.min_incidents), now);
    this.enqueue(
      `digest:${local.date}`,
      m,
      targetsFor(this.cfg, [{ channels: d.channels, roles: d.roles }]),
      now,
    );
    this.store.setMeta('digest_date', local.date);
    this.log?.info({ date: local.date }, 'daily digest queued');
  }

  /** Sends what is due; one pass at a time, later calls wait for the running one. */
  deliver(): Promise<void> {
    if (!this.delivering)
      this.delivering = this.deliverDue().finally(() => {
        this.delivering = null;
      });
    return this.delivering;
  }

  private async deliverDue(): Promise<void> {
    const d = this.cfg.delivery;
    for (const row of this.store.due(this.now())) {
      if (this.closing) return;
      const ch = this.cfg.channels[row.channel];
      if (!ch || this.now() - row.created_at > d.give_up_days * DAY) {
        this.store.dead(row.id, this.now());
        this.count(row.channel, 'given_up');
        this.log?.error(
          {
            channel: row.channel,
            recipient: row.recipient,
            id: row.dedup,
            attempts: row.attempts,
            err: row.last_error,
          },
          ch
            ? 'notification given up after retrying too long'
            : 'notification dropped: channel no longer configured',
        );
        continue;
      }
      try {
        await send(ch, row.recipient, {
          id: row.dedup,
          subject: row.subject,
          text: row.text,
          data: JSON.parse(row.data) as Record<string, unknown>,
        });
        this.store.sent(row.id, this.now());
        this.count(row.channel, 'sent');
        this.log?.info({ channel: row.channel, id: row.dedup }, 'notification delivered');
      } catch (e) {
        const wait = Math.min(d.retry_first_s * 2 ** row.attempts, d.retry_max_s) * 1000;
        this.store.failed(row.id, (e as Error).message, this.now() + wait);
        this.count(row.channel, 'failed');
        this.log?.warn(
          {
            channel: row.channel,
            id: row.dedup,
            attempts: row.attempts + 1,
            retry_in_s: wait / 1000,
            err: (e as Error).message,
          },
          'notification not delivered, will retry',
        );
      }
    }
  }

  private count(channel: string, outcome: 'sent' | 'failed' | 'given_up'): void {
    const o = this.outcomes[channel] ?? { sent: 0, failed: 0, given_up: 0 };
    o[outcome] += 1;
    this.outcomes[channel] = o;
  }

  /** Read at each scrape of /metrics; the queue's figures come from its table. */
  stats(): NotifyStats {
    const q = this.closing
      ? { n: 0, oldest: null }
      : (this.store.db
          .prepare(
            "SELECT count(*) AS n, min(created_at) AS oldest FROM notify_queue WHERE state = 'pending'",
          )
          .get() as { n: number; oldest: number | null });
    return {
      pending: q.n,
      oldest_pending_at: q.oldest,
      outcomes: structuredClone(this.outcomes),
    };
  }

  /** Lets a delivery in flight finish its row, then closes the queue. */
  async close(): Promise<void> {
    this.closing = true;
    await this.delivering?.catch(() => {});
    this.store.close();
  }
}

function union(a: Target[], b: Target[]): Target[] {
  const seen = new Set(a.map((x) => `${x.channel}\u0000${x.recipient}`));
  return [...a, ...b.filter((x) => !seen.has(`${x.channel}\u0000${x.recipient}`))];
}

/** Links that warned at least `min` times in [from, to) and were never part of a critical incident. */
export function flakyLinks(central: CentralDb, from: number, to: number, min: number): FlakyLink[] {
  const stats = new Map<string, { n: number; ms: number; critical: boolean }>();
  for (const inc of central.incidentsBetween(from, to)) {
    const links = new Set(inc.kind === 'link' ? [inc.subject, ...inc.affected.links] : inc.affected.links);
    for (const l of links) {
      const s = stats.get(l) ?? { n: 0, ms: 0, critical: false };
      if (inc.severity === 'critical') s.critical = true;
      else {
        s.n += 1;
        s.ms += Math.min(inc.closed_at ?? to, to) - Math.max(inc.opened_at, from);
      }
      stats.set(l, s);
    }
  }
  return [...stats.entries()]
    .filter(([, s]) => !s.critical && s.n >= min)
    .map(([link, s]) => ({ link, incidents: s.n, degraded_ms: s.ms }))
    .sort((a, b) => b.incidents - a.incidents || a.link.localeCompare(b.link));
}
