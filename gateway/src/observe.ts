// Watching the site box itself: its figures for /metrics (Prometheus text) and its health for
// /healthz and the systemd watchdog (served by @pantau/config's observe.ts): a daemon whose polling
// has stalled is unhealthy, stops feeding the watchdog, and systemd restarts it.

import { feedWatchdog, nodeMetrics, scrapedMetrics, serveObservability } from '@pantau/config';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';

/** What the daemon reports; read at every scrape. */
export interface SiteBoxFigures {
  polls: { ok: number; failed: number; timeouts: number; backing_off: number };
  devices: number;
  outbox: { depth: number; oldestTs: number | null; dropped: number; rejected: number };
  mqtt: { connected: boolean; connects: number; sent: number; acked: number; backfill: number };
  seq: number;
  clock: { plausible: boolean; holding: boolean };
}

export interface Health {
  ok: boolean;
  reasons: string[];
  /** Seconds since a poll last finished (null: none yet). */
  last_poll_age_s: number | null;
  connected: boolean;
  outbox_depth: number;
}

export interface ObserveOptions {
  figures: () => SiteBoxFigures;
  /** A poll finishing later than this after the previous one means polling has stalled. */
  stallAfterS: number;
  log: Logger;
  listen?: { host: string; port: number } | null;
}

export interface Observer {
  health(): Health;
  /** The port /metrics listens on (0 when off). */
  port: number;
  close(): Promise<void>;
}

export async function startObserver(o: ObserveOptions): Promise<Observer> {
  const registry = new Registry();
  nodeMetrics(registry, 'pantau_gateway_');
  const startedAt = Date.now();
  let lastProgress = { total: -1, at: performance.now() };

  const progress = () => {
    const f = o.figures();
    const total = f.polls.ok + f.polls.failed;
    if (total !== lastProgress.total) lastProgress = { total, at: performance.now() };
    return f;
  };

  const health = (): Health => {
    const f = progress();
    const idleS = (performance.now() - lastProgress.at) / 1000;
    const reasons: string[] = [];
    if (f.devices > 0 && idleS > o.stallAfterS) reasons.push(`no poll finished for ${Math.round(idleS)} s`);
    return {
      ok: reasons.length === 0,
      reasons,
      last_poll_age_s: lastProgress.total > 0 ? Math.round(idleS) : null,
      connected: f.mqtt.connected,
      outbox_depth: f.outbox.depth,
    };
  };

  const { gauge, counter } = scrapedMetrics(registry);
  counter('pantau_gateway_polls_total', 'Device polls finished, by result', ['result'], (c) => {
    const f = o.figures();
    c.inc({ result: 'ok' }, f.polls.ok);
    c.inc({ result: 'failed' }, f.polls.failed - f.polls.timeouts);
    c.inc({ result: 'timeout' }, f.polls.timeouts);
  });
  gauge('pantau_gateway_devices', 'Devices configured', [], (g) => g.set(o.figures().devices));
  gauge('pantau_gateway_devices_backing_off', 'Devices polled less often after failures', [], (g) =>
    g.set(o.figures().polls.backing_off),
  );
  gauge('pantau_gateway_outbox_depth', 'Messages waiting for the central', [], (g) =>
    g.set(o.figures().outbox.depth),
  );
  gauge('pantau_gateway_outbox_oldest_age_seconds', 'Age of the oldest waiting reading', [], (g) => {
    const ts = o.figures().outbox.oldestTs;
    g.set(ts === null ? 0 : Math.max(0, (Date.now() - ts) / 1000));
  });
  counter('pantau_gateway_outbox_dropped_total', 'Messages dropped by the outbox bounds', [], (c) =>
    c.inc(o.figures().outbox.dropped),
  );
  counter('pantau_gateway_outbox_rejected_total', 'Messages the central would not take', [], (c) =>
    c.inc(o.figures().outbox.rejected),
  );
  gauge('pantau_gateway_mqtt_connected', '1 while connected to the central', [], (g) =>
    g.set(o.figures().mqtt.connected ? 1 : 0),
  );
  counter('pantau_gateway_mqtt_connects_total', 'Connections made to the central', [], (c) =>
    c.inc(o.figures().mqtt.connects),
  );
  counter('pantau_gateway_messages_sent_total', 'Outbox messages sent, by kind', ['kind'], (c) => {
    const m = o.figures().mqtt;
    c.inc({ kind: 'sent' }, m.sent);
    c.inc({ kind: 'acked' }, m.acked);
    c.inc({ kind: 'backfill' }, m.backfill);
  });
  gauge('pantau_gateway_sequence', 'The last sequence number handed out', [], (g) => g.set(o.figures().seq));
  gauge('pantau_gateway_clock_plausible', '1 when the clock is after 2025', [], (g) =>
    g.set(o.figures().clock.plausible ? 1 : 0),
  );
  gauge('pantau_gateway_clock_holding', '1 while readings wait for the clock to be set', [], (g) =>
    g.set(o.figures().clock.holding ? 1 : 0),
  );
  gauge('pantau_gateway_healthy', '1 when /healthz says ok', [], (g) => g.set(health().ok ? 1 : 0));
  gauge('pantau_gateway_start_time_seconds', 'When this daemon started', [], (g) => g.set(startedAt / 1000));

  const served = o.listen
    ? await serveObservability({ registry, health, listen: o.listen, log: o.log })
    : { port: 0, close: async () => {} };
  const watchdog = feedWatchdog({ health, log: o.log, status: 'polling' });

  return {
    health,
    port: served.port,
    close: async () => {
      watchdog.close();
      await served.close();
    },
  };
}
