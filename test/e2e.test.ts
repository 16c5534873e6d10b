// End to end through real processes: simulated radio → gateway → broker → SQLite store → dashboard API.
// Also the availability promises: kill -9 of the gateway shows `offline` by last will, and a broker
// restart brings the gateway back `online` without restarting the gateway.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '@pantau/broker/store';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginTo } from './support/central.js';
import { type Daemon, freePort, ROOT, requireBinary, runDaemon, tempDir, waitFor } from './support/procs.js';
import { promtoolCheck } from './support/promtool.js';

const RECORDING = join(ROOT, 'test/fixtures/snmp/airos/device.snmprec');

interface ApiSite {
  site: string;
  state: string;
  last_heard: number | null;
}
interface ApiDevice {
  site: string;
  device: string;
  state: { status: string; figures: Record<string, { value: number; ts: number }> };
}

describe('end to end: one site box, the central and the dashboard', () => {
  const dir = tempDir('e2e');
  let agent: SimulatedAgent;
  let mqttPort: number;
  let httpPort: number;
  let metricsPort: number;
  let brokerMetricsPort: number;
  let dashboardMetricsPort: number;
  let broker: Daemon;
  let gateway: Daemon;
  let dashboard: Daemon;
  let cookie = '';
  const centralYaml = join(dir.path, 'central.yaml');
  const siteYaml = join(dir.path, 'site.yaml');

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, { headers: { cookie } });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const siteState = async () => (await api<ApiSite[]>('/api/sites')).find((s) => s.site === 'rsud');

  beforeAll(async () => {
    requireBinary('/usr/bin/ping', 'apt-get install -y iputils-ping');
    agent = await startSimulatedAgent({
      recording: RECORDING,
      port: 0,
      scenarios: [{ kind: 'counters', bitRateIn: 8_000_000, bitRateOut: 2_000_000 }],
    });
    mqttPort = await freePort();
    httpPort = await freePort();
    metricsPort = await freePort();
    brokerMetricsPort = await freePort();
    dashboardMetricsPort = await freePort();
    const node = process.execPath;
    const cred = join(dir.path, 'credentials.yaml');
    execFileSync(node, [
      join(ROOT, 'broker/dist/cli.js'),
      'credentials',
      'add-gateway',
      '--file',
      cred,
      '--site',
      'rsud',
      '--password',
      'gw-secret-1',
    ]);
    execFileSync(node, [
      join(ROOT, 'broker/dist/cli.js'),
      'credentials',
      'add-reader',
      '--file',
      cred,
      '--username',
      'dashboard',
      '--password',
      'dash-secret-1',
    ]);
    execFileSync(node, [
      join(ROOT, 'dashboard/dist/cli.js'),
      'users',
      'add',
      '--file',
      join(dir.path, 'users.yaml'),
      '--username',
      'admin',
      '--role',
      'admin',
      '--password',
      'admin-secret-1',
    ]);
    writeFileSync(join(dir.path, 'gateway.pw'), 'gw-secret-1\n');
    writeFileSync(join(dir.path, 'dashboard.pw'), 'dash-secret-1\n');
    writeFileSync(
      centralYaml,
      `mqtt:\n  host: 127.0.0.1\n  port: ${mqttPort}\ncredentials_file: credentials.yaml\nstore: { kind: sqlite, path: central.db }\nmetrics: { port: ${brokerMetricsPort} }\nlog_level: warn\n`,
    );
    writeFileSync(
      join(dir.path, 'dashboard.yaml'),
      `http: { host: 127.0.0.1, port: ${httpPort} }\nmqtt: { url: "mqtt://127.0.0.1:${mqttPort}", username: dashboard, password_file: dashboard.pw }\nstore: { kind: sqlite, path: central.db }\nusers_file: users.yaml\nmetrics: { port: ${dashboardMetricsPort} }\nlog_level: warn\n`,
    );
    writeFileSync(
      siteYaml,
      `site: { id: rsud, name: "RSUD Latemmamala" }
mqtt:
  urls: ["mqtt://127.0.0.1:${mqttPort}"]
  username: gw-rsud
  password_file: gateway.pw
  keepalive_s: 5
state_dir: gw-state
log_level: warn
defaults: { interval_s: 1, timeout_ms: 800, retries: 0 }
health_interval_s: 2
metrics: { port: ${metricsPort} }
devices:
  - id: ptp-scc
    name: "Pemancar RSUD → SCC"
    kind: radio
    address: 127.0.0.1
    snmp: { version: 2c, community: public, port: ${agent.port} }
    ping: { enabled: true, count: 3 }
`,
    );
    broker = runDaemon('broker', ['--config', centralYaml]);
    dashboard = runDaemon('dashboard', ['--config', join(dir.path, 'dashboard.yaml')]);
    gateway = runDaemon('gateway', ['run', '--config', siteYaml]);
    await waitFor(
      'dashboard up',
      async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok,
      20_000,
    );
    const login = await loginTo(`http://127.0.0.1:${httpPort}`, 'admin', 'admin-secret-1');
    expect(login.status).toBe(200);
    cookie = login.cookie;
    expect(cookie).toMatch(/^pantau_sid=/);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([gateway?.stop('SIGKILL'), dashboard?.stop(), broker?.stop()]);
    await agent?.close();
    dir.remove();
  });

  it('shows the radio reading in the dashboard API, with history', async () => {
    const dev = await waitFor(
      'device state with figures',
      async () => {
        const devices = await api<ApiDevice[]>('/api/devices?site=rsud');
        const d = devices.find((x) => x.device === 'ptp-scc');
        return d?.state.figures.if_in_bps && d.state.figures.latency_ms ? d : undefined;
      },
      30_000,
    );
    // The values in the airMAX recording, carried unchanged through MQTT and the store.
    expect(dev.state.figures.rx_power_dbm?.value).toBe(-69);
    expect(dev.state.figures.ccq_pct?.value).toBe(92);
    expect(dev.state.figures.snr_db?.value).toBe(34);
    // Simulated traffic is 8 Mbit/s in; a rate from counters polled over loopback must be close.
    expect(dev.state.figures.if_in_bps?.value).toBeGreaterThan(6_000_000);
    expect(dev.state.figures.if_in_bps?.value).toBeLessThan(10_000_000);
    expect(dev.state.figures.latency_ms?.value).toBeGreaterThanOrEqual(0);

    // Telemetry goes through the outbox, the device's state straight out: the state can be first.
    const hist = await waitFor(
      'rx power history',
      async () => {
        const now = Date.now();
        const h = await api<Array<{ labels: Record<string, string>; points: Array<[number, number]> }>>(
          `/api/history?site=rsud&device=ptp-scc&metric=rx_power_dbm&from=${now - 600_000}&to=${now + 1000}`,
        );
        return h[0]?.points.length ? h : undefined;
      },
      30_000,
    );
    expect(hist[0]?.points.every(([, v]) => v === -69)).toBe(true);
    // The sites list is shared by every screen for up to a second: ask until it says online.
    await waitFor('site online', async () => (await siteState())?.state === 'online', 10_000);
  });

  it("the site box's own /metrics (Prometheus text) and /healthz", async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const fams = new Map(parsePrometheus(text).map((f) => [f.name, f]));
    const ok = fams.get('pantau_gateway_polls_total')!.metrics.find((m) => m.labels!.result === 'ok');
    expect(Number(ok!.value)).toBeGreaterThan(0);
    expect(Number(fams.get('pantau_gateway_mqtt_connected')!.metrics[0]!.value)).toBe(1);
    expect(Number(fams.get('pantau_gateway_devices')!.metrics[0]!.value)).toBe(1);
    const h = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    expect(h.status).toBe(200);
    // The strict check: parsed and linted as Prometheus itself does.
    await promtoolCheck(text, "the site box's /metrics");
  });

  it("the broker's and the dashboard's own /metrics: connections, ingest, request latency", async () => {
    const scrape = async (port: number) =>
      new Map(
        parsePrometheus(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).map((f) => [
          f.name,
          f,
        ]),
      );
    const bText = await (await fetch(`http://127.0.0.1:${brokerMetricsPort}/metrics`)).text();
    await promtoolCheck(bText, "the broker's /metrics");
    const b = await scrape(brokerMetricsPort);
    expect(Number(b.get('pantau_broker_mqtt_connections')!.metrics[0]!.value)).toBeGreaterThanOrEqual(1);
    const stored = b.get('pantau_broker_ingested_total')!.metrics.find((m) => m.labels!.kind === 'telemetry');
    expect(Number(stored!.value)).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${brokerMetricsPort}/healthz`)).status).toBe(200);
    await fetch(`http://127.0.0.1:${httpPort}/api/sites`, { headers: { cookie } });
    const dText = await (await fetch(`http://127.0.0.1:${dashboardMetricsPort}/metrics`)).text();
    await promtoolCheck(dText, "the dashboard's /metrics");
    const d = new Map(parsePrometheus(dText).map((f) => [f.name, f]));
    expect(d.get('pantau_dashboard_http_request_duration_seconds')!.type).toBe('HISTOGRAM');
    // The parser keeps no labels on histograms: the per-route count is read from its own line.
    const count = dText.match(
      /^pantau_dashboard_http_request_duration_seconds_count\{[^}]*route="\/api\/sites"[^}]*\} (\d+)$/m,
    );
    expect(Number(count?.[1])).toBeGreaterThan(0);
    // A live gauge: the dashboard's feed may be between connections at any one scrape.
    await waitFor(
      'the dashboard reports its broker link',
      async () => {
        const again = await scrape(dashboardMetricsPort);
        return Number(again.get('pantau_dashboard_broker_connected')!.metrics[0]!.value) === 1;
      },
      15_000,
    );
  });

  it('streams live updates to the page as server-sent events', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/stream`, {
      headers: { cookie },
      signal: ctrl.signal,
    });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    await waitFor(
      'a device-state event',
      async () => {
        const { value } = await reader.read();
        text += new TextDecoder().decode(value);
        return text.includes('event: device-state') && text.includes('"device":"ptp-scc"');
      },
      15_000,
      0,
    );
    ctrl.abort();
  });

  it('marks the site box offline by last will when it is killed with -9', async () => {
    await gateway.stop('SIGKILL');
    await waitFor('offline by last will', async () => (await siteState())?.state === 'offline', 20_000);
    gateway = runDaemon('gateway', ['run', '--config', siteYaml]);
    await waitFor('online again', async () => (await siteState())?.state === 'online', 20_000);
  });

  it('comes back online after a broker restart without a gateway restart', async () => {
    const gatewayPid = gateway.proc.pid;
    await broker.stop();
    const restartedAt = Date.now();
    broker = runDaemon('broker', ['--config', centralYaml]);
    // The birth message carries the time it was composed: one newer than the restart proves re-publication.
    const store = openStore({ kind: 'sqlite', path: join(dir.path, 'central.db') }, { readonly: true });
    try {
      const birth = await waitFor(
        'birth re-published after the broker restart',
        async () => {
          const s = (await store.listSites()).find((x) => x.site === 'rsud')?.state;
          return s && s.state === 'online' && s.ts > restartedAt ? s : undefined;
        },
        30_000,
      );
      expect(birth.state).toBe('online');
    } finally {
      await store.close();
    }
    await waitFor('dashboard shows online', async () => (await siteState())?.state === 'online', 10_000);
    expect(gateway.proc.pid).toBe(gatewayPid);
    expect(gateway.proc.exitCode).toBeNull();
  });
});
