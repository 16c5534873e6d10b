// Watching the site box itself: /metrics in Prometheus' text format and /healthz for monitoring, on a
// small HTTP listener (localhost by default), and the systemd watchdog: while the daemon is healthy
// it tells systemd so every half watchdog period; a daemon whose polling has stalled stops telling,
// and systemd restarts it.

import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

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
  /** For tests: the notify command (systemd-notify). */
  notifyCommand?: string;
}

export interface Observer {
  health(): Health;
  /** The port /metrics listens on (0 when off). */
  port: number;
  close(): Promise<void>;
}

export async function startObserver(o: ObserveOptions): Promise<Observer> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pantau_gateway_' });
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

  const gauge = (name: string, help: string, labelNames: string[], read: (g: Gauge) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        read(this);
      },
    });
  // Counters read from the daemon's own totals: set, not incremented, at each scrape.
  const counter = (name: string, help: string, labelNames: string[], read: (c: Counter) => void) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        read(this);
      },
    });
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

  let server: Server | null = null;
  let port = 0;
  if (o.listen) {
    const srv = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end('GET only\n');
        return;
      }
      if (url === '/metrics') {
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
          (e: Error) => res.writeHead(500).end(`${e.message}\n`),
        );
        return;
      }
      if (url === '/healthz') {
        const h = health();
        res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(h)}\n`);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /metrics or /healthz\n');
    });
    try {
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(o.listen!.port, o.listen!.host, () => resolve());
      });
      server = srv;
      port = (srv.address() as { port: number }).port;
    } catch (e) {
      // Another daemon holds the port: the site box polls on without its metrics (and still
      // tells systemd it is ready, below).
      o.log.error({ err: (e as Error).message, port: o.listen.port }, 'metrics listener not started');
    }
  }

  // systemd's watchdog: Type=notify with WatchdogSec= sets NOTIFY_SOCKET and WATCHDOG_USEC.
  let watchdog: NodeJS.Timeout | undefined;
  const notifySocket = process.env.NOTIFY_SOCKET;
  if (notifySocket) {
    const cmd = o.notifyCommand ?? 'systemd-notify';
    // --pid names the daemon as the sender (systemd-notify is a short-lived child).
    const notify = (...args: string[]) =>
      execFile(cmd, [`--pid=${process.pid}`, ...args], { timeout: 5000 }, (err) => {
        if (err) o.log.warn({ err: err.message }, 'could not notify systemd');
      });
    notify('--ready', '--status=polling');
    const usec = Number(process.env.WATCHDOG_USEC ?? 0);
    if (usec > 0) {
      let warned = false;
      watchdog = setInterval(
        () => {
          const h = health();
          if (h.ok) {
            warned = false;
            notify('WATCHDOG=1');
          } else if (!warned) {
            warned = true;
            o.log.error({ reasons: h.reasons }, 'unhealthy: no longer feeding the systemd watchdog');
          }
        },
        Math.max(500, usec / 2000),
      );
    }
  }

  return {
    health,
    port,
    close: async () => {
      clearInterval(watchdog);
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    },
  };
}
