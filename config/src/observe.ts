// What every Pantau daemon shares for watching itself: /metrics (Prometheus text) and /healthz on
// a small HTTP listener, and feeding systemd's watchdog while the daemon says it is healthy.

import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { Type } from '@sinclair/typebox';
import { Counter, collectDefaultMetrics, Gauge, type Registry } from 'prom-client';

/** A daemon's `metrics:` block: its /metrics and /healthz listener, localhost by default. */
export const metricsSchema = (defaultPort: number) =>
  Type.Object(
    {
      enabled: Type.Boolean({ default: true }),
      /** Localhost by default: open it to the monitoring server deliberately. */
      host: Type.String({ format: 'host', default: '127.0.0.1' }),
      port: Type.Integer({ minimum: 0, maximum: 65535, default: defaultPort }),
    },
    { additionalProperties: false, default: {} },
  );

interface Log {
  warn(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

/** A daemon's own verdict on itself. */
export interface DaemonHealth {
  ok: boolean;
  reasons: string[];
}

/** Anything that renders Prometheus text (a prom-client Registry). */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/**
 * Serves GET /metrics and GET /healthz (200 or 503 with the health as JSON). A port already taken is
 * logged, not thrown: a daemon keeps doing its job without its metrics.
 */
export async function serveObservability(o: {
  registry: MetricsSource;
  health: () => DaemonHealth;
  listen: { host: string; port: number };
  log: Log;
}): Promise<{ port: number; close(): Promise<void> }> {
  const srv: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end('GET only\n');
      return;
    }
    if (url === '/metrics') {
      o.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(text),
        (e: Error) => res.writeHead(500).end(`${e.message}\n`),
      );
      return;
    }
    if (url === '/healthz') {
      const h = o.health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(h)}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /metrics or /healthz\n');
  });
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(o.listen.port, o.listen.host, () => resolve());
    });
  } catch (e) {
    o.log.error({ err: (e as Error).message, port: o.listen.port }, 'metrics listener not started');
    return { port: 0, close: async () => {} };
  }
  return {
    port: (srv.address() as { port: number }).port,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

/**
 * Under systemd with Type=notify (NOTIFY_SOCKET set): READY once, then WATCHDOG=1 every half
 * WATCHDOG_USEC while `health()` is ok. A hung or stalled daemon stops feeding it and is restarted.
 * Node has no unix datagram sockets, so the messages go through `systemd-notify --pid=<daemon>`
 * (the unit needs NotifyAccess=all): MAINPID names the daemon, and systemd-notify waits (BARRIER=1)
 * until systemd has read each message, so systemd can still tell which unit sent it.
 */
export function feedWatchdog(o: { health: () => DaemonHealth; log: Log; status: string }): { close(): void } {
  if (!process.env.NOTIFY_SOCKET) return { close: () => {} };
  const notify = (...args: string[]) =>
    execFile('systemd-notify', [`--pid=${process.pid}`, ...args], { timeout: 5000 }, (err) => {
      if (err) o.log.warn({ err: err.message }, 'could not notify systemd');
    });
  notify('--ready', `--status=${o.status}`);
  const usec = Number(process.env.WATCHDOG_USEC ?? 0);
  if (!(usec > 0)) return { close: () => {} };
  let warned = false;
  const timer = setInterval(
    () => {
      const h = o.health();
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
  return { close: () => clearInterval(timer) };
}

/**
 * Metrics read from a daemon's own figures at each scrape: a gauge is set, a counter (a total the
 * daemon keeps) is reset and set, never incremented here.
 */
export function scrapedMetrics(registry: Registry) {
  return {
    gauge: (name: string, help: string, labelNames: string[], read: (g: Gauge) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          read(this);
        },
      }),
    counter: (name: string, help: string, labelNames: string[], read: (c: Counter) => void) =>
      new Counter({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          read(this);
        },
      }),
  };
}

/**
 * Node's own figures (memory, CPU, event loop lag, GC, active handles by type) under the daemon's
 * prefix. prom-client also sums the active handles, requests and resources into gauges named
 * `…_total`, a suffix Prometheus keeps for counters (`promtool check metrics` rejects them); their
 * per-type gauges say the same, so the sums are left out.
 */
export function nodeMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const n of ['active_handles_total', 'active_requests_total', 'active_resources_total'])
    registry.removeSingleMetric(`${prefix}nodejs_${n}`);
}
