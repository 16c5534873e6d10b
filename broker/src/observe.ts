// Watching the central broker itself: its figures for /metrics (Prometheus text) and its health for
// /healthz and the systemd watchdog (served by @pantau/config's observe.ts).

import {
  type DaemonHealth,
  feedWatchdog,
  nodeMetrics,
  scrapedMetrics,
  serveObservability,
} from '@pantau/config';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { IngestStats } from './ingest.js';
import type { NotifyStats } from './notify/notifier.js';
import type { StoreHealth } from './store/types.js';

export interface BrokerFigures extends IngestStats {
  clients: number;
  authFailures: number;
  denied: number;
  limitHits: number;
  /** Telemetry messages the fast lane (fast-lane.ts) stored and acknowledged, not aedes. */
  fastLaneMessages: number;
  /** Deliveries to clean MQTT 3.1.1 readers the fast lane wrote (fast-delivery.ts), not aedes. */
  fastDeliveries: number;
  /** Deliveries dropped because a reader's queue was full (mqtt.max_queued). */
  droppedDeliveries: number;
}

export interface BrokerObserver {
  port: number;
  health(): DaemonHealth;
  close(): Promise<void>;
}

export async function observeBroker(o: {
  figures: () => BrokerFigures;
  /** Whether the store takes writes (a SQLite file that refuses them, an InfluxDB that is down). */
  store?: () => StoreHealth;
  /** The notification queue and deliveries, when notifications are on. */
  notify?: (() => NotifyStats) | null;
  listen: { host: string; port: number } | null;
  log: Logger;
}): Promise<BrokerObserver> {
  const registry = new Registry();
  nodeMetrics(registry, 'pantau_broker_');
  const health = (): DaemonHealth => {
    const reasons: string[] = [];
    const store = o.store?.();
    if (store && !store.ok) reasons.push(`the store does not take writes: ${store.reason ?? 'unknown'}`);
    return { ok: reasons.length === 0, reasons };
  };
  const { gauge, counter } = scrapedMetrics(registry);
  gauge('pantau_broker_mqtt_connections', 'MQTT clients connected (site boxes, dashboards, tools)', [], (g) =>
    g.set(o.figures().clients),
  );
  counter('pantau_broker_ingested_total', 'Messages stored, by kind', ['kind'], (c) => {
    const f = o.figures();
    c.inc({ kind: 'telemetry' }, f.batches);
    c.inc({ kind: 'state' }, f.states);
    c.inc({ kind: 'event' }, f.events);
  });
  counter('pantau_broker_ingested_samples_total', 'Readings stored', [], (c) => c.inc(o.figures().samples));
  counter('pantau_broker_ingest_duplicates_total', 'Telemetry batches already stored (replays)', [], (c) =>
    c.inc(o.figures().duplicates),
  );
  counter(
    'pantau_broker_sequence_clashes_total',
    'Site box runs that started numbering among numbers already stored for their site',
    [],
    (c) => c.inc(o.figures().seqClashes),
  );
  counter(
    'pantau_broker_fast_lane_messages_total',
    'Telemetry messages acknowledged by the fast lane rather than aedes (part of ingested_total)',
    [],
    (c) => c.inc(o.figures().fastLaneMessages),
  );
  counter(
    'pantau_broker_fast_deliveries_total',
    'Deliveries to clean MQTT 3.1.1 sessions written by the fast lane rather than aedes',
    [],
    (c) => c.inc(o.figures().fastDeliveries),
  );
  counter(
    'pantau_broker_dropped_deliveries_total',
    'Deliveries dropped because a reader did not keep up: its queue full (mqtt.max_queued), or 8 MiB of QoS 0 unsent',
    [],
    (c) => c.inc(o.figures().droppedDeliveries),
  );
  counter('pantau_broker_ingest_rejected_total', 'Malformed messages set aside', [], (c) =>
    c.inc(o.figures().rejected),
  );
  counter('pantau_broker_refusals_total', 'Refused logins, ACL denials and limit hits', ['reason'], (c) => {
    const f = o.figures();
    c.inc({ reason: 'auth' }, f.authFailures);
    c.inc({ reason: 'acl' }, f.denied);
    c.inc({ reason: 'limit' }, f.limitHits);
  });
  const notify = o.notify;
  if (notify) {
    gauge(
      'pantau_broker_notify_queue_pending',
      'Notifications waiting to be delivered (first try or retry)',
      [],
      (g) => g.set(notify().pending),
    );
    gauge(
      'pantau_broker_notify_queue_oldest_age_seconds',
      'Age of the oldest notification waiting to be delivered (0: none waits)',
      [],
      (g) => {
        const at = notify().oldest_pending_at;
        g.set(at === null ? 0 : Math.max(0, (Date.now() - at) / 1000));
      },
    );
    counter(
      'pantau_broker_notifications_total',
      'Notification delivery attempts since start, by channel and result (failed: retried later; given_up: dropped)',
      ['channel', 'result'],
      (c) => {
        for (const [channel, n] of Object.entries(notify().outcomes))
          for (const result of ['sent', 'failed', 'given_up'] as const) c.inc({ channel, result }, n[result]);
      },
    );
  }
  gauge('pantau_broker_healthy', '1 when /healthz says ok', [], (g) => g.set(health().ok ? 1 : 0));

  const served = o.listen
    ? await serveObservability({ registry, health, listen: o.listen, log: o.log })
    : { port: 0, close: async () => {} };
  // The watchdog restarts a broker whose event loop hangs, not one whose store fails: a restart
  // brings no InfluxDB back and would drop the points the broker holds for it meanwhile.
  const watchdog = feedWatchdog({ health: () => ({ ok: true, reasons: [] }), log: o.log, status: 'serving' });
  return {
    port: served.port,
    health,
    close: async () => {
      watchdog.close();
      await served.close();
    },
  };
}
