// The command center on InfluxDB, through real processes: a private influxd, the broker and the
// dashboard both configured with `store: { kind: influx }`, and a site box polling a simulated
// airMAX radio. What the site box publishes must come back through the dashboard's API, and the
// sequence it sent must be proven complete from what InfluxDB holds.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Central, startCentral } from './support/central.js';
import { type Influxd, startInfluxd } from './support/influxd.js';
import { type Daemon, ROOT, runDaemon, tempDir, waitFor } from './support/procs.js';

const RECORDING = join(ROOT, 'test/fixtures/snmp/airos/device.snmprec');

interface SiteView {
  site: string;
  state: string;
  missing_readings: number;
}

describe('the command center with the InfluxDB store', () => {
  const dir = tempDir('influx-central');
  let influxd: Influxd;
  let central: Central;
  let agent: SimulatedAgent;
  let gateway: Daemon | null = null;
  const api = async <T>(path: string) => {
    const r = await central.api<T>(path, 'insinyur');
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };

  beforeAll(async () => {
    influxd = await startInfluxd();
    agent = await startSimulatedAgent({ recording: RECORDING, port: 0 });
    central = await startCentral({
      dir: dir.path,
      sites: ['rsud'],
      users: [['insinyur', 'engineer']],
      influx: { url: influxd.url, database: 'pantau' },
    });
    writeFileSync(
      join(dir.path, 'rsud.yaml'),
      `site: { id: rsud }
mqtt: { urls: ["mqtt://127.0.0.1:${central.mqttPort}"], username: gw-rsud, password_file: rsud.pw, keepalive_s: 5 }
state_dir: state-rsud
log_level: warn
defaults: { interval_s: 1, timeout_ms: 800, retries: 0 }
health_interval_s: 2
devices:
  - { id: ptp-scc, kind: radio, address: 127.0.0.1, snmp: { version: 2c, community: public, port: ${agent.port} } }
`,
    );
    gateway = runDaemon('gateway', ['run', '--config', join(dir.path, 'rsud.yaml')]);
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await central?.stop();
    await agent?.close();
    await influxd?.remove();
    dir.remove();
  }, 30_000);

  it('shows the site and its radio history, read from InfluxDB', async () => {
    const sites = await waitFor(
      'the site online',
      async () => {
        const s = await api<SiteView[]>('/api/sites');
        return s[0]?.state === 'online' ? s : null;
      },
      30_000,
    );
    expect(sites.map((s) => s.site)).toEqual(['rsud']);
    const hist = await waitFor(
      'rx power history',
      async () => {
        const now = Date.now();
        const h = await api<Array<{ labels: Record<string, string>; points: Array<[number, number]> }>>(
          `/api/history?site=rsud&device=ptp-scc&metric=rx_power_dbm&from=${now - 600_000}&to=${now + 1000}`,
        );
        return (h[0]?.points.length ?? 0) >= 3 ? h : null;
      },
      30_000,
    );
    // The value in the airMAX recording, carried unchanged through MQTT and InfluxDB.
    expect(hist[0]!.points.every(([, v]) => v === -69)).toBe(true);
    const devices = await api<Array<{ device: string }>>('/api/devices?site=rsud');
    expect(devices.map((d) => d.device)).toEqual(['ptp-scc']);

    // The points are where docs/store.md says: measurement per metric, site and device as tags.
    const q = encodeURIComponent(
      `SELECT count("value") FROM "raw"."rx_power_dbm" WHERE "site" = 'rsud' AND "device" = 'ptp-scc'`,
    );
    const raw = (await (await fetch(`${influxd.url}/query?db=pantau&q=${q}`)).json()) as {
      results: Array<{ series?: Array<{ values: number[][] }> }>;
    };
    expect(raw.results[0]!.series![0]!.values[0]![1]).toBeGreaterThanOrEqual(3);

    // Every batch the site box sent is accounted for (a batch's ledger line is written once its
    // readings are in InfluxDB, so it follows them by one write).
    const seq = await waitFor(
      'the sequence ledger',
      async () => {
        const r = await api<{ received: number; missing_count: number; first: number }>(
          '/api/sites/rsud/sequence',
        );
        return r.received > 3 ? r : null;
      },
      10_000,
    );
    expect(seq.missing_count).toBe(0);
  });
});
