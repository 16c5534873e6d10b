// Watching the central broker itself: its figures for /metrics (Prometheus text) and its health for
// /healthz and the systemd watchdog (served by @pantau/config's observe.ts).

import { type DaemonHealth, feedWatchdog, scrapedMetrics, serveObservability } from '@pantau/config';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { IngestStats } from './ingest.js';

export interface BrokerFigures extends IngestStats {
  clients: number;
  authFailures: number;
  denied: number;
  limitHits: number;
}

export interface BrokerObserver {
  port: number;
  health(): DaemonHealth;
  close(): Promise<void>;
}

export async function observeBroker(o: {
  figures: () => BrokerFigures;
  /** Whether the store takes writes (an InfluxDB that is down makes the central unhealthy). */
  storeOk?: () => boolean;
  listen: { host: string; port: number } | null;
  log: Logger;
}): Promise<BrokerObserver> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pantau_broker_' });
  const health = (): DaemonHealth => {
    const reasons: string[] = [];
    if (o.storeOk && !o.storeOk()) reasons.push('the store does not take writes');
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
  counter('pantau_broker_ingest_rejected_total', 'Malformed messages set aside', [], (c) =>
    c.inc(o.figures().rejected),
  );
  counter('pantau_broker_refusals_total', 'Refused logins, ACL denials and limit hits', ['reason'], (c) => {
    const f = o.figures();
    c.inc({ reason: 'auth' }, f.authFailures);
    c.inc({ reason: 'acl' }, f.denied);
    c.inc({ reason: 'limit' }, f.limitHits);
  });
  gauge('pantau_broker_healthy', '1 when /healthz says ok', [], (g) => g.set(health().ok ? 1 : 0));

  const served = o.listen
    ? await serveObservability({ registry, health, listen: o.listen, log: o.log })
    : { port: 0, close: async () => {} };
  const watchdog = feedWatchdog({ health, log: o.log, status: 'serving' });
  return {
    port: served.port,
    health,
    close: async () => {
      watchdog.close();
      await served.close();
    },
  };
}
