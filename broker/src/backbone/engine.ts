// The central's judgement beside ingest: keeps a short window of each link end's samples, the site
// boxes' and devices' states, flaps and reboots; every few seconds classifies every link, works out
// incidents along the tree and writes both to the central database.

import {
  type DeviceStatePayload,
  type EventPayload,
  type GatewayStatePayload,
  isStale,
  type Reading,
  type TelemetryPayload,
} from '@pantau/contract';
import type { Logger } from 'pino';
import type { CentralDb } from './central-db.js';
import { classifyLink, type EndInput, type LinkVerdict } from './classifier.js';
import { type Backbone, distanceKm, fadeThresholds, type LinkDef } from './description.js';
import { type EndSample, extractEnd } from './ends.js';
import { correlate, reconcile, type Situation } from './incidents.js';
import { labelOutage, type OutageContext } from './outage.js';

/** Samples kept per link end. */
const WINDOW_MS = 60 * 60_000;
/** A site box that said nothing for this long is treated as down, whatever its last word was. */
export const SITE_SILENT_MS = 180_000;
/** Links whose sites are this close (or share a kecamatan) are neighbours for the weather check. */
const NEIGHBOUR_KM = 20;

export interface LatencyFigures {
  site: string;
  ts: number;
  values: Reading['values'];
}

interface EndRef {
  link: string;
  end: 'a' | 'b';
  station?: string;
}

interface SiteSeen {
  state: 'online' | 'offline' | null;
  lastHeard: number;
}

export interface EngineOptions {
  backbone: Backbone;
  db: CentralDb;
  log?: Logger;
  now?: () => number;
}

export class CentralEngine {
  private readonly bb: Backbone;
  private readonly db: CentralDb;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly endsByDevice = new Map<string, EndRef[]>();
  private readonly samples = new Map<string, EndSample[]>();
  private readonly deviceStates = new Map<string, DeviceStatePayload>();
  private readonly sites = new Map<string, SiteSeen>();
  private readonly flaps = new Map<string, number[]>();
  private readonly reboots = new Map<string, number>();
  private readonly verdicts = new Map<string, LinkVerdict>();
  readonly latency = new Map<string, LatencyFigures>();
  /** Site → when its UPS went to battery and when mains came back. */
  private readonly power = new Map<string, { lostAt: number; restoredAt: number | null }>();
  /** Link → when its latest fade began and the last evaluation that found it fading. */
  private readonly fadedAt = new Map<string, { since: number; last: number }>();
  private readonly startedAt: number;

  constructor(opts: EngineOptions) {
    this.bb = opts.backbone;
    this.db = opts.db;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.startedAt = this.now();
    for (const l of this.bb.links.values())
      for (const end of ['a', 'b'] as const) {
        const e = l[end];
        if (!e.device) continue;
        const key = `${e.site}/${e.device}`;
        this.endsByDevice.set(key, [
          ...(this.endsByDevice.get(key) ?? []),
          { link: l.id, end, ...(e.station ? { station: e.station } : {}) },
        ]);
      }
    this.reloadVerdicts();
  }

  /**
   * Takes the latest verdicts from the database: at start, and when this broker takes over judging
   * from another broker in a cluster (its own would be as old as its last turn).
   */
  reloadVerdicts(): void {
    for (const s of this.db.linkStatuses()) this.verdicts.set(s.link, s.verdict);
  }

  private heard(site: string, at: number): void {
    const s = this.sites.get(site) ?? { state: null, lastHeard: 0 };
    s.lastHeard = Math.max(s.lastHeard, at);
    this.sites.set(site, s);
  }

  onTelemetry(site: string, p: TelemetryPayload, receivedAt = this.now()): void {
    this.heard(site, receivedAt);
    if (p.device === 'uplink') {
      for (const r of p.readings) {
        const link = r.labels?.link;
        const prev = link ? this.latency.get(link) : undefined;
        if (link && (!prev || prev.ts <= r.ts)) this.latency.set(link, { site, ts: r.ts, values: r.values });
      }
      return;
    }
    const refs = this.endsByDevice.get(`${site}/${p.device}`);
    if (!refs) return;
    const byTs = new Map<number, Reading[]>();
    for (const r of p.readings) byTs.set(r.ts, [...(byTs.get(r.ts) ?? []), r]);
    for (const ref of refs) {
      const key = `${ref.link}/${ref.end}`;
      const list = this.samples.get(key) ?? [];
      for (const readings of byTs.values()) {
        const s = extractEnd(readings, ref.station ? { station: ref.station } : {});
        if (!s) continue;
        const last = list.at(-1);
        // A link-uptime that went back is a flap even when the radio sent no event for it.
        if (
          last?.link_uptime_s !== undefined &&
          s.link_uptime_s !== undefined &&
          s.link_uptime_s < last.link_uptime_s
        )
          this.flap(ref.link, s.ts);
        list.push(s);
      }
      // Replayed batches arrive late: keep the window in time order.
      list.sort((x, y) => x.ts - y.ts);
      const cutoff = this.now() - WINDOW_MS;
      while (list.length > 0 && list[0]!.ts < cutoff) list.shift();
      this.samples.set(key, list);
    }
  }

  onDeviceState(site: string, p: DeviceStatePayload, receivedAt = this.now()): void {
    this.heard(site, receivedAt);
    // A UPS's own state says whether the site runs on battery, even if its event was lost.
    const battery = (p.figures as Record<string, { value: number; ts: number } | undefined>).on_battery;
    if (p.kind === 'power' && battery) {
      const cur = this.power.get(site);
      if (battery.value === 1 && (!cur || cur.restoredAt !== null))
        this.power.set(site, { lostAt: battery.ts, restoredAt: null });
      if (battery.value === 0 && cur && cur.restoredAt === null) cur.restoredAt = battery.ts;
    }
    this.deviceStates.set(`${site}/${p.device}`, p);
  }

  onGatewayState(site: string, p: GatewayStatePayload, receivedAt = this.now()): void {
    this.heard(site, receivedAt);
    this.sites.get(site)!.state = p.state;
  }

  onGatewayHealth(site: string, receivedAt = this.now()): void {
    this.heard(site, receivedAt);
  }

  onEvent(site: string, e: EventPayload, receivedAt = this.now()): void {
    this.heard(site, receivedAt);
    if (e.type === 'power_lost') this.power.set(site, { lostAt: e.ts, restoredAt: null });
    if (e.type === 'power_restored') {
      const p = this.power.get(site);
      if (p && p.restoredAt === null) p.restoredAt = e.ts;
    }
    if (!e.device) return;
    const refs = this.endsByDevice.get(`${site}/${e.device}`) ?? [];
    if (e.type === 'device_rebooted') this.reboots.set(`${site}/${e.device}`, e.ts);
    if (e.type === 'link_flap')
      for (const ref of refs) {
        const station = (e.data as { station?: string } | undefined)?.station;
        if (!ref.station || !station || ref.station === station) this.flap(ref.link, e.ts);
      }
  }

  private flap(link: string, ts: number): void {
    const list = this.flaps.get(link) ?? [];
    if (!list.includes(ts)) list.push(ts);
    this.flaps.set(
      link,
      list.filter((t) => this.now() - t <= WINDOW_MS),
    );
  }

  siteDown(site: string, now = this.now()): boolean {
    const s = this.sites.get(site);
    // Never heard of: down, once site boxes have had time to announce themselves after a restart.
    if (!s) return this.bb.sites.get(site)?.site_box !== false && now - this.startedAt > SITE_SILENT_MS;
    return s.state === 'offline' || now - s.lastHeard > SITE_SILENT_MS;
  }

  private endInput(link: LinkDef, end: 'a' | 'b', now: number): EndInput {
    const e = link[end];
    const samples = this.samples.get(`${link.id}/${end}`) ?? [];
    if (!e.device) return { samples: [], reachable: null };
    const key = `${e.site}/${e.device}`;
    const st = this.deviceStates.get(key);
    let reachable: boolean | null;
    if (!st)
      reachable =
        samples.length > 0 ? !this.siteDown(e.site, now) : this.siteDown(e.site, now) ? false : null;
    else
      reachable = st.status !== 'down' && !this.siteDown(e.site, now) && !isStale(st.ts, st.interval_s, now);
    // Only fresh samples describe the link now.
    const fresh = st ? samples.filter((s) => !isStale(s.ts, st.interval_s, now)) : samples;
    const rebootedAt = this.reboots.get(key);
    return { samples: fresh.length > 0 ? samples : [], reachable, ...(rebootedAt ? { rebootedAt } : {}) };
  }

  private areaOf(l: LinkDef): { kecamatan: string[]; coords: Array<readonly [number, number]> } {
    const sites = [this.bb.sites.get(l.a.site), this.bb.sites.get(l.b.site)];
    return {
      kecamatan: sites.flatMap((s) => (s?.kecamatan ? [s.kecamatan] : [])),
      coords: sites.flatMap((s) => (s?.coords ? [s.coords] : [])),
    };
  }

  private neighbours(l: LinkDef, m: LinkDef): boolean {
    const x = this.areaOf(l);
    const y = this.areaOf(m);
    if (x.kecamatan.some((k) => y.kecamatan.includes(k))) return true;
    return x.coords.some((p) => y.coords.some((q) => distanceKm(p, q) <= NEIGHBOUR_KM));
  }

  /** Classifies every link, then works out incidents; returns the verdicts. */
  evaluate(now = this.now()): Map<string, LinkVerdict> {
    const links = [...this.bb.links.values()];
    const inputs = new Map(
      links.map((l) => [
        l.id,
        {
          id: l.id,
          name: l.name ?? l.id,
          thresholds: fadeThresholds(this.bb, l),
          baseline: this.db.baseline(l.id),
          a: this.endInput(l, 'a', now),
          b: this.endInput(l, 'b', now),
          flaps: this.flaps.get(l.id) ?? [],
          previous: this.verdicts.get(l.id) ?? null,
          now,
        },
      ]),
    );
    // First pass alone, to know which links are losing power; second pass with the neighbours.
    const alone = new Map(
      links.map((l) => [l.id, classifyLink({ ...inputs.get(l.id)!, fadingNeighbours: [] })]),
    );
    const next = new Map<string, LinkVerdict>();
    for (const l of links) {
      const fading = links
        .filter((m) => m.id !== l.id && alone.get(m.id)!.fading && this.neighbours(l, m))
        .map((m) => m.name ?? m.id);
      const area = this.areaOf(l).kecamatan[0];
      const v = classifyLink({
        ...inputs.get(l.id)!,
        fadingNeighbours: fading,
        ...(area ? { area: `Kec. ${area}` } : {}),
      });
      const prev = this.verdicts.get(l.id);
      if (!prev || prev.status !== v.status || prev.cause !== v.cause)
        this.log?.info(
          { link: l.id, status: v.status, cause: v.cause, reason: v.reasons[0]?.en },
          'link verdict',
        );
      if (v.fading || v.level > 0) {
        const f = this.fadedAt.get(l.id);
        // One fade episode while evaluations keep finding it; a new one after a quiet spell.
        if (f && now - f.last <= 10 * 60_000) f.last = now;
        else this.fadedAt.set(l.id, { since: now, last: now });
      }
      const latency = this.latency.get(l.id);
      if (latency) v.latency = latency;
      next.set(l.id, v);
      this.verdicts.set(l.id, v);
      this.db.putLinkStatus(l.id, v, now);
    }
    this.updateIncidents(next, now);
    return next;
  }

  private situation(links: Map<string, LinkVerdict>, now: number): Situation {
    const sites = new Map<string, Situation['sites'] extends Map<string, infer V> ? V : never>();
    const ids = new Set([...this.bb.sites.keys(), ...this.sites.keys()]);
    for (const site of ids) {
      if (this.bb.sites.get(site)?.site_box === false) continue;
      const devices = [...this.deviceStates.entries()].filter(([k]) => k.startsWith(`${site}/`));
      sites.set(site, {
        down: this.siteDown(site, now),
        devices: devices.map(([k]) => k.slice(site.length + 1)),
        devicesDown: devices.filter(([, d]) => d.status === 'down').map(([k]) => k.slice(site.length + 1)),
      });
    }
    return {
      sites,
      links,
      names: {
        site: (id) => this.bb.sites.get(id)?.name ?? id,
        link: (id) => this.bb.links.get(id)?.name ?? id,
      },
    };
  }

  private updateIncidents(links: Map<string, LinkVerdict>, now: number): void {
    const situation = this.situation(links, now);
    const proposed = correlate(this.bb, situation);
    const time = new Intl.DateTimeFormat('id-ID', {
      timeZone: this.bb.timezone,
      hour: '2-digit',
      minute: '2-digit',
    });
    const ctx: OutageContext = {
      bb: this.bb,
      links,
      power: this.power,
      fadedAt: this.fadedAt,
      now,
      names: situation.names,
      timeOf: (ts) => time.format(ts).replace('.', ':'),
    };
    // The label is decided when the outage starts; later evidence (power back) must not relabel it.
    const openNow = this.db.openIncidents();
    const open = new Map(openNow.map((i) => [i.key, i]));
    for (const p of proposed) {
      const known = open.get(p.key)?.outage;
      const label = known ?? labelOutage(p, ctx);
      if (label) p.outage = label;
    }
    for (const inc of reconcile(openNow, proposed, now)) {
      this.db.putIncident(inc);
      this.log?.info(
        { incident: inc.key, closed: inc.closed_at !== null, affected: inc.affected.sites.length },
        inc.closed_at === null ? inc.title.en : `closed: ${inc.title.en}`,
      );
    }
  }

  /** What the radios say about their peers, for pairing proposals. */
  devices(): Array<{ site: string; device: string; macs?: string[]; peers?: string[] }> {
    return [...this.deviceStates.entries()].map(([k, d]) => {
      const [site, device] = k.split('/') as [string, string];
      return { site, device, ...(d.macs ? { macs: d.macs } : {}), ...(d.peers ? { peers: d.peers } : {}) };
    });
  }
}
