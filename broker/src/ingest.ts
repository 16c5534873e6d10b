// Everything a site box publishes lands in the store. A malformed payload is logged and counted,
// never stored and never fatal: one broken site box must not take the central down.

import {
  type CommissioningPayload,
  type DeviceStatePayload,
  decode,
  type EventPayload,
  type GatewayHealthPayload,
  type GatewayStatePayload,
  parseTopic,
  type TelemetryPayload,
} from '@pantau/contract';
import type { Logger } from 'pino';
import { BaselineError, computeBaseline } from './backbone/baseline.js';
import type { CentralDb } from './backbone/central-db.js';
import type { Backbone } from './backbone/description.js';
import { checkCommissioning } from './commissioning.js';
import type { IngestResult, MalformedTelemetry, Store, ThumbnailRecord } from './store/index.js';
import { checkTelemetry, isObj, isTs, Malformed, need } from './telemetry-check.js';

export interface IngestStats {
  batches: number;
  samples: number;
  duplicates: number;
  states: number;
  events: number;
  rejected: number;
  /** Births of a site box run whose first sequence number the central already held. */
  seqClashes: number;
}

const DUPLICATE_SUMMARY_MS = 5000;

/** Sees what was ingested, after it is stored: the central's link judgement listens here. */
export interface IngestObserver {
  onTelemetry(site: string, p: TelemetryPayload, receivedAt: number): void;
  onDeviceState(site: string, p: DeviceStatePayload, receivedAt: number): void;
  onGatewayState(site: string, p: GatewayStatePayload, receivedAt: number): void;
  onGatewayHealth(site: string, receivedAt: number): void;
  onEvent(site: string, p: EventPayload, receivedAt: number): void;
}

type Message =
  | { kind: 'telemetry'; site: string; p: TelemetryPayload }
  | { kind: 'gateway-state'; site: string; p: GatewayStatePayload }
  | { kind: 'gateway-health'; site: string; p: GatewayHealthPayload }
  | { kind: 'device-state'; site: string; p: DeviceStatePayload }
  | { kind: 'thumbnail'; site: string; t: ThumbnailRecord }
  | { kind: 'event'; site: string; p: EventPayload }
  | { kind: 'commissioning'; site: string; p: CommissioningPayload; body: string };

/** A contract message checked field by field; null for what ingest ignores; throws Malformed. */
function check(topic: string, payload: Buffer): Message | null {
  const t = parseTopic(topic);
  if (!t || t.kind === 'request' || t.kind === 'response') return null;
  if (payload.length === 0) return null; // a cleared retained message
  let p: Record<string, unknown>;
  try {
    p = decode(payload);
  } catch (e) {
    throw new Malformed((e as Error).message);
  }
  switch (t.kind) {
    case 'device-telemetry':
      return { kind: 'telemetry', site: t.site, p: checkTelemetry(p, t.device) };
    case 'gateway-state':
      need(p.state === 'online' || p.state === 'offline', 'state must be online or offline');
      need(isTs(p.ts), 'ts missing');
      need(p.site === undefined || p.site === t.site, 'site does not match the topic');
      return {
        kind: 'gateway-state',
        site: t.site,
        p: { ...(p as unknown as GatewayStatePayload), site: t.site },
      };
    case 'gateway-health':
      need(isTs(p.ts), 'ts missing');
      return { kind: 'gateway-health', site: t.site, p: p as unknown as GatewayHealthPayload };
    case 'device-state':
      need(p.device === t.device, 'device does not match the topic');
      need(
        isTs(p.ts) && typeof p.status === 'string' && Array.isArray(p.reasons) && isObj(p.figures),
        'incomplete device state',
      );
      return { kind: 'device-state', site: t.site, p: p as unknown as DeviceStatePayload };
    case 'device-thumbnail': {
      need(p.device === t.device, 'device does not match the topic');
      need(isTs(p.ts) && p.mime === 'image/jpeg' && typeof p.data === 'string', 'incomplete thumbnail');
      const data = Buffer.from(p.data as string, 'base64');
      // JPEG starts with FF D8: anything else is not shown on an operator's screen.
      need(data.length > 2 && data[0] === 0xff && data[1] === 0xd8, 'thumbnail is not a JPEG');
      return {
        kind: 'thumbnail',
        site: t.site,
        t: { device: t.device, ts: p.ts as number, mime: 'image/jpeg', data },
      };
    }
    case 'commissioning':
      try {
        return {
          kind: 'commissioning',
          site: t.site,
          p: checkCommissioning(t.site, p),
          body: payload.toString('utf8'),
        };
      } catch (e) {
        throw new Malformed((e as Error).message);
      }
    case 'events':
      need(
        Number.isSafeInteger(p.seq) && isTs(p.ts) && typeof p.type === 'string',
        'event needs seq, ts and type',
      );
      return { kind: 'event', site: t.site, p: p as unknown as EventPayload };
  }
}

function notify(observer: IngestObserver, m: Message, receivedAt: number): void {
  if (m.kind === 'telemetry') observer.onTelemetry(m.site, m.p, receivedAt);
  else if (m.kind === 'gateway-state') observer.onGatewayState(m.site, m.p, receivedAt);
  else if (m.kind === 'gateway-health') observer.onGatewayHealth(m.site, receivedAt);
  else if (m.kind === 'device-state') observer.onDeviceState(m.site, m.p, receivedAt);
  else if (m.kind === 'event') observer.onEvent(m.site, m.p, receivedAt);
}

/** The readings a baseline recorded at commissioning is the median of (as the dashboard's default). */
const COMMISSIONING_BASELINE_MS = 15 * 60_000;

/**
 * Ingest: checks, stores, then tells the observer. A malformed payload is counted and logged and
 * resolves; a store that fails rejects, so the broker does not acknowledge what it did not keep.
 * `central`: the central state db, where commissioning reports are kept (none without a backbone:
 * a report is then logged and dropped).
 */
export function createIngest(
  store: Store,
  log: Logger,
  observer?: IngestObserver,
  opts: { central?: CentralDb | null; backbone?: Backbone | null } = {},
) {
  const stats: IngestStats = {
    batches: 0,
    samples: 0,
    duplicates: 0,
    states: 0,
    events: 0,
    rejected: 0,
    seqClashes: 0,
  };
  // Replays are normal after a lost acknowledgement or a fail-over between brokers; one summary
  // line per burst says they happened without a line per batch.
  let repeats = 0;
  const repeated = () => {
    if (repeats++ > 0) return;
    setTimeout(() => {
      log.info({ duplicates: repeats }, 'replayed batches already stored (ignored)');
      repeats = 0;
    }, DUPLICATE_SUMMARY_MS).unref();
  };

  /**
   * Commissioning a site records the baseline of each radio link it is an end of, from the readings of
   * the last minutes (both ends where they report), as an engineer's "record baseline" does; a link
   * with too few readings yet keeps its old baseline and the log says why.
   */
  async function recordBaselines(site: string, p: CommissioningPayload, at: number): Promise<void> {
    const bb = opts.backbone;
    if (!bb || !opts.central) return;
    for (const link of bb.links.values()) {
      if (link.medium !== 'radio' || (link.a.site !== site && link.b.site !== site)) continue;
      try {
        const b = await computeBaseline(store, bb, link.id, {
          from: at - COMMISSIONING_BASELINE_MS,
          to: at,
          by: `commissioning ${p.id} (${p.by})`,
        });
        opts.central.putBaseline(link.id, b);
        log.info(
          { site, link: link.id, report: p.id, samples: b.samples },
          'link baseline recorded at commissioning',
        );
      } catch (e) {
        if (!(e instanceof BaselineError)) throw e;
        log.warn(
          { site, link: link.id, report: p.id, reason: e.message },
          'link baseline not recorded at commissioning',
        );
      }
    }
  }

  /** A stored telemetry batch counted; false for a replay of one already stored. */
  const counted = (res: IngestResult): boolean => {
    if (!res.accepted) {
      stats.duplicates++;
      repeated();
      return false;
    }
    stats.batches++;
    stats.samples += res.samples;
    return true;
  };
  const rejected = (topic: string, reason: string) => {
    stats.rejected++;
    log.warn({ topic, reason }, 'rejected a malformed payload');
  };

  /**
   * Telemetry, most of what a central hears, goes to a store that checks it in its writer thread
   * as it came: decoding and checking it here took a seventh of the broker's event loop at
   * saturation (`npm run bench`, CPU profile). It is decoded here only for an observer.
   */
  async function ingestText(
    topic: string,
    site: string,
    device: string,
    payload: Buffer,
    receivedAt: number,
  ) {
    textSettled(
      topic,
      site,
      payload,
      receivedAt,
      await store.ingestTelemetryText!(site, device, payload, receivedAt),
    );
  }

  /** What the store said of telemetry it checked itself: set aside as malformed, or counted and observed. */
  function textSettled(
    topic: string,
    site: string,
    payload: Buffer,
    receivedAt: number,
    res: IngestResult | MalformedTelemetry,
  ): void {
    if ('malformed' in res) rejected(topic, res.malformed);
    else if (counted(res) && observer)
      observer.onTelemetry(site, decode(payload) as unknown as TelemetryPayload, receivedAt);
  }

  /**
   * As ingest, answered through `done` (an error: not stored), for the fast lane's telemetry: with a
   * store that queues telemetry text, no promise is made per batch.
   */
  function ingestThen(topic: string, payload: Buffer, done: (err: Error | null) => void): void {
    const receivedAt = Date.now();
    const t = store.queueTelemetryText && payload.length > 0 ? parseTopic(topic) : null;
    if (t?.kind !== 'device-telemetry') {
      ingest(topic, payload, receivedAt).then(() => done(null), done);
      return;
    }
    store.queueTelemetryText!(t.site, t.device, payload, receivedAt, (err, res) => {
      if (err) return done(err);
      try {
        textSettled(topic, t.site, payload, receivedAt, res!);
      } catch (e) {
        return done(e as Error);
      }
      done(null);
    });
  }

  async function ingest(topic: string, payload: Buffer, receivedAt = Date.now()): Promise<void> {
    if (store.ingestTelemetryText && payload.length > 0) {
      const t = parseTopic(topic);
      if (t?.kind === 'device-telemetry') return ingestText(topic, t.site, t.device, payload, receivedAt);
    }
    let m: Message | null;
    try {
      m = check(topic, payload);
    } catch (e) {
      return rejected(topic, (e as Error).message);
    }
    if (!m) return;
    switch (m.kind) {
      case 'telemetry':
        if (!counted(await store.ingestTelemetry(m.site, m.p, receivedAt))) return;
        break;
      case 'gateway-state': {
        const clash = await store.putGatewayState(m.site, m.p, receivedAt);
        stats.states++;
        if (clash) {
          // Never silent: this run's readings are taken for ones already stored until it passes them.
          stats.seqClashes++;
          log.warn(
            {
              site: m.site,
              seq_first: clash.seq_first,
              held_max: clash.held_max,
              seq_origin: m.p.seq_origin,
            },
            'a site box started numbering at or below numbers already stored for its site: its readings up to held_max will be dropped as duplicates (a replaced box whose clock was not set, or an old state_dir restored?)',
          );
        }
        break;
      }
      case 'gateway-health':
        await store.putGatewayHealth(m.site, m.p, receivedAt);
        break;
      case 'device-state':
        await store.putDeviceState(m.site, m.p, receivedAt);
        stats.states++;
        break;
      case 'thumbnail':
        await store.putThumbnail(m.site, m.t, receivedAt);
        break;
      case 'event':
        await store.putEvent(m.site, m.p, receivedAt);
        stats.events++;
        break;
      case 'commissioning':
        // Beside the link baselines it is the day-one record of, not in the telemetry store.
        if (!opts.central) {
          log.warn(
            { site: m.site },
            'commissioning report dropped: no central state db (no backbone configured)',
          );
          return;
        }
        opts.central.putCommissioningReport({
          site: m.site,
          id: m.p.id,
          created_at: m.p.ts,
          received_at: receivedAt,
          body: m.body,
        });
        log.info({ site: m.site, id: m.p.id, devices: m.p.devices.length }, 'commissioning report kept');
        await recordBaselines(m.site, m.p, receivedAt);
        return;
    }
    if (observer) notify(observer, m, receivedAt);
  }

  return { ingest, ingestThen, stats };
}

/**
 * Tells the observer about a message without storing it: for a broker in a cluster, whose link
 * judgement must see what every broker received. A telemetry batch seen again (a replay) is told
 * once; malformed payloads are ignored here (the receiving broker's ingest counts them). A site box
 * re-sends at most its window of unacknowledged messages (20 by default), so the last `remember`
 * numbers per site are plenty, and stay small for hundreds of sites.
 */
export function createObserverFeed(observer: IngestObserver, remember = 1024) {
  const seen = new Map<string, Set<number>>();
  return (topic: string, payload: Buffer, receivedAt = Date.now()): void => {
    let m: Message | null;
    try {
      m = check(topic, payload);
    } catch {
      return;
    }
    if (!m) return;
    if (m.kind === 'telemetry') {
      const s = seen.get(m.site) ?? new Set<number>();
      seen.set(m.site, s);
      if (s.has(m.p.seq)) return;
      s.add(m.p.seq);
      // Sets iterate in insertion order: the oldest number goes first.
      if (s.size > remember) s.delete(s.values().next().value!);
    }
    notify(observer, m, receivedAt);
  };
}
