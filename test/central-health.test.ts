// The central broker's /healthz follows its store: a broker whose store does not take writes says
// so (503 with the reason, pantau_broker_healthy 0) and is healthy again once writes go through. It
// keeps feeding systemd's watchdog meanwhile: restarting it would not mend the store. Real processes: the broker, and for InfluxDB a real influxd.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from './support/central.js';
import { type Influxd, startInfluxd } from './support/influxd.js';
import { type NotifySocket, notifySocket } from './support/notify-socket.js';
import { type Daemon, freePort, runDaemon, tempDir, waitFor } from './support/procs.js';

interface Health {
  ok: boolean;
  reasons: string[];
}

describe('central broker /healthz and its store', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  async function startBroker(
    store: string,
  ): Promise<{ dir: string; mqttPort: number; metrics: string; watchdog: NotifySocket; broker: Daemon }> {
    const dir = tempDir('central-health');
    cleanups.push(dir.remove);
    const watchdog = await notifySocket(dir.path);
    cleanups.push(watchdog.close);
    const mqttPort = await freePort();
    const metricsPort = await freePort();
    await cli('broker', [
      'credentials',
      'add-gateway',
      '--file',
      join(dir.path, 'credentials.yaml'),
      '--site',
      'rsud',
      '--password=gw-rsud-secret',
    ]);
    writeFileSync(
      join(dir.path, 'central.yaml'),
      `mqtt: { host: 127.0.0.1, port: ${mqttPort} }
credentials_file: credentials.yaml
${store}
metrics: { port: ${metricsPort} }
log_level: warn
`,
    );
    // Under systemd's watchdog (WatchdogSec=1), through the real systemd-notify.
    const broker: Daemon = runDaemon('broker', ['--config', join(dir.path, 'central.yaml')], {
      NOTIFY_SOCKET: watchdog.path,
      WATCHDOG_USEC: '1000000',
    });
    cleanups.push(() => broker.stop());
    const metrics = `http://127.0.0.1:${metricsPort}`;
    await waitFor('broker /healthz', async () => (await fetch(`${metrics}/healthz`)).ok, 20_000).catch(
      (e: Error) => {
        throw new Error(`${e.message}\n${broker.output()}`);
      },
    );
    return { dir: dir.path, mqttPort, metrics, watchdog, broker };
  }

  /** A site box's health message, as the site box sends it (QoS 1); the broker stores it before it acknowledges. */
  function publishHealth(mqttPort: number): void {
    const c = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, {
      username: 'gw-rsud',
      password: 'gw-rsud-secret',
      reconnectPeriod: 0,
    });
    c.on('error', () => {});
    c.on('connect', () =>
      c.publish(
        'pantau/v1/rsud/gateway/health',
        JSON.stringify({
          v: 1,
          ts: Date.now(),
          uptime_s: 60,
          load1: 0.1,
          mem_rss_bytes: 50e6,
          mem_free_bytes: 200e6,
          polls: { ok: 1, failed: 0, timeouts: 0, backing_off: 0 },
          outbox: { depth: 0, oldest_ts: null },
          dropped: 0,
          seq: 1,
        }),
        { qos: 1 },
        () => c.end(true),
      ),
    );
    // A refused message closes the connection unacknowledged; don't wait for it.
    setTimeout(() => c.end(true), 15_000).unref();
  }

  const health = async (metrics: string) => {
    const r = await fetch(`${metrics}/healthz`);
    return { status: r.status, body: (await r.json()) as Health };
  };
  /** An unhealthy store makes /healthz say so, but the broker still feeds the watchdog: a restart
   * would not mend the store, and would drop what the broker holds for it. */
  const stillFed = async (w: NotifySocket) => {
    const pings = () => w.messages.filter((m) => m.fields.WATCHDOG === '1').length;
    const before = pings();
    await waitFor('watchdog pings while the store fails', () => pings() >= before + 3, 5000);
  };
  const healthyGauge = async (metrics: string) =>
    /^pantau_broker_healthy (\d)/m.exec(await (await fetch(`${metrics}/metrics`)).text())?.[1];

  it('SQLite: unhealthy while the file is locked against writes, healthy again after', async () => {
    const { dir, mqttPort, metrics, watchdog } = await startBroker(
      'store: { kind: sqlite, path: central.db }',
    );
    publishHealth(mqttPort);
    // The writer thread has the file open and has written: what follows is a write that fails, not
    // a start (a writer thread that cannot open the file dies, and the next write starts another).
    const db = new Database(join(dir, 'central.db'));
    cleanups.push(() => db.close());
    await waitFor('a first stored message', () =>
      db.prepare("SELECT 1 FROM sites WHERE site = 'rsud'").get(),
    );
    expect((await health(metrics)).status).toBe(200);

    // Another process holds the write lock (an operator's sqlite3 shell left in a transaction, a
    // copy tool): the broker's writes wait SQLite's busy timeout (10 s), then fail. Not a read-only
    // folder: the broker keeps its open file writable, and root writes through permissions anyway.
    db.exec('BEGIN IMMEDIATE');
    publishHealth(mqttPort);
    await waitFor('/healthz 503', async () => (await health(metrics)).status === 503, 25_000, 250);
    const h = await health(metrics);
    expect(h.body.ok).toBe(false);
    expect(h.body.reasons).toHaveLength(1);
    expect(h.body.reasons[0], JSON.stringify(h.body)).toMatch(/store does not take writes.*locked/);
    expect(await healthyGauge(metrics)).toBe('0');
    await stillFed(watchdog);

    db.exec('ROLLBACK');
    publishHealth(mqttPort);
    await waitFor('/healthz 200 again', async () => (await health(metrics)).status === 200, 15_000, 250);
    expect(await healthyGauge(metrics)).toBe('1');
  }, 60_000);

  it('InfluxDB: unhealthy while influxd is down, healthy again once it is back', async () => {
    const influxd: Influxd = await startInfluxd();
    cleanups.push(() => influxd.remove());
    const { mqttPort, metrics, watchdog, broker } = await startBroker(
      `store: { kind: influx, url: "${influxd.url}", database: pantau, batch: { flush_ms: 100 } }`,
    );
    publishHealth(mqttPort);
    // Set up and written to before influxd stops: what follows is a write that fails.
    const q = encodeURIComponent('SELECT count(body) FROM "keep"."gateway_health"');
    await waitFor('a first stored message', async () =>
      JSON.stringify(await (await fetch(`${influxd.url}/query?db=pantau&q=${q}`)).json()).includes('"count"'),
    );
    expect((await health(metrics)).status).toBe(200);

    await influxd.stop();
    publishHealth(mqttPort);
    await waitFor('/healthz 503', async () => (await health(metrics)).status === 503, 20_000, 250).catch(
      (e: Error) => {
        throw new Error(
          `${e.message}\nbroker: ${broker.output()}\ninfluxd: ${influxd.output().slice(-3000)}`,
        );
      },
    );
    expect((await health(metrics)).body.reasons).toEqual([
      expect.stringMatching(/store does not take writes: writing to InfluxDB fails/),
    ]);
    expect(await healthyGauge(metrics)).toBe('0');
    await stillFed(watchdog);

    await influxd.restart();
    // The writer retries with back-off (at most 30 s) and delivers what it kept.
    await waitFor('/healthz 200 again', async () => (await health(metrics)).status === 200, 45_000, 250);
  }, 90_000);
});
