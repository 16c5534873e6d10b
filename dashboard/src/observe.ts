// Watching the dashboard itself: request latency per route, live-stream clients, broker connection,
// for /metrics (Prometheus text) and /healthz on its own localhost listener (@pantau/config).

import { type DaemonHealth, feedWatchdog, nodeMetrics, serveObservability } from '@pantau/config';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Gauge, Histogram, Registry } from 'prom-client';

export interface DashboardObserver {
  port: number;
  /** Counts a live-stream (server-sent events) client for as long as it stays. */
  streamOpened(): () => void;
  close(): Promise<void>;
}

export async function observeDashboard(o: {
  // biome-ignore lint/suspicious/noExplicitAny: any fastify instance, whatever its logger type
  app: FastifyInstance<any, any, any, any>;
  brokerConnected: () => boolean;
  listen: { host: string; port: number } | null;
  log: Logger;
}): Promise<DashboardObserver> {
  const registry = new Registry();
  nodeMetrics(registry, 'pantau_dashboard_');
  const latency = new Histogram({
    name: 'pantau_dashboard_http_request_duration_seconds',
    help: 'API and page requests, by route and status class',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  let streams = 0;
  new Gauge({
    name: 'pantau_dashboard_live_clients',
    help: 'Browsers connected to the live stream',
    registers: [registry],
    collect() {
      this.set(streams);
    },
  });
  new Gauge({
    name: 'pantau_dashboard_broker_connected',
    help: '1 while the live feed is connected to the broker',
    registers: [registry],
    collect() {
      this.set(o.brokerConnected() ? 1 : 0);
    },
  });
  const started = new WeakMap<object, bigint>();
  o.app.addHook('onRequest', async (req) => {
    started.set(req, process.hrtime.bigint());
  });
  o.app.addHook('onResponse', async (req, reply) => {
    const t0 = started.get(req);
    if (t0 === undefined) return;
    // The route pattern, not the URL: one series per route, not per site or device.
    const route = (req.routeOptions?.url as string | undefined) ?? 'unmatched';
    latency.observe(
      { method: req.method, route, status: `${Math.floor(reply.statusCode / 100)}xx` },
      Number(process.hrtime.bigint() - t0) / 1e9,
    );
  });

  const health = (): DaemonHealth => {
    const reasons = o.brokerConnected() ? [] : ['the live feed is not connected to the broker'];
    return { ok: reasons.length === 0, reasons };
  };
  const served = o.listen
    ? await serveObservability({ registry, health, listen: o.listen, log: o.log })
    : { port: 0, close: async () => {} };
  const watchdog = feedWatchdog({ health: () => ({ ok: true, reasons: [] }), log: o.log, status: 'serving' });
  return {
    port: served.port,
    streamOpened: () => {
      streams++;
      let open = true;
      return () => {
        if (open) streams--;
        open = false;
      };
    },
    close: async () => {
      watchdog.close();
      await served.close();
    },
  };
}
