// Bring your own broker: the central on a real Debian mosquitto configured by
// `pantau-broker mosquitto-config`. The ingest and the dashboard are its MQTT clients; a site box
// publishes to it. Anonymous clients and cross-site publishes are refused by mosquitto itself, and an
// ingest killed with -9 loses nothing (its persistent session queues the readings).

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginTo } from './support/central.js';
import { type Daemon, freePort, ROOT, requireBinary, runDaemon, tempDir, waitFor } from './support/procs.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const run = promisify(execFile);
const broker = (args: string[]) => run(process.execPath, [join(ROOT, 'broker/dist/cli.js'), ...args]);

interface Sequence {
  last: number | null;
  received: number;
  missing_count: number;
}

describe('central on an existing mosquitto (bring your own broker)', () => {
  const dir = tempDir('byob');
  let port: number;
  let httpPort: number;
  let mosquitto: ChildProcess;
  let ingest: Daemon;
  let dashboard: Daemon;
  let gateway: Daemon;
  let agent: SimulatedAgent;
  let cookie = '';
  const centralYaml = join(dir.path, 'central.yaml');

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, { headers: { cookie } });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const mqttArgs = (user?: string, pass?: string) => [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    ...(user ? ['-u', user, '-P', pass!] : []),
  ];
  const pub = (user: string | undefined, pass: string | undefined, topic: string, msg: string) =>
    run('/usr/bin/mosquitto_pub', [...mqttArgs(user, pass), '-q', '1', '-t', topic, '-m', msg]);
  /** What the dashboard's account sees on `filter` within `ms`. */
  const watch = async (filter: string, ms: number): Promise<string[]> => {
    const { stdout } = await run('/usr/bin/mosquitto_sub', [
      ...mqttArgs('dashboard', 'dash-secret-1'),
      '-t',
      filter,
      '-v',
      '-W',
      String(Math.ceil(ms / 1000)),
    ]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    return stdout.trim().split('\n').filter(Boolean);
  };

  beforeAll(async () => {
    requireBinary(MOSQUITTO, 'apt-get install -y mosquitto mosquitto-clients');
    requireBinary('/usr/bin/mosquitto_pub', 'apt-get install -y mosquitto-clients');
    port = await freePort();
    httpPort = await freePort();
    const cred = join(dir.path, 'credentials.yaml');
    for (const site of ['rsud', 'pkm'])
      await broker([
        'credentials',
        'add-gateway',
        '--file',
        cred,
        '--site',
        site,
        `--password=gw-${site}-secret`,
      ]);
    await broker([
      'credentials',
      'add-reader',
      '--file',
      cred,
      '--username',
      'dashboard',
      '--password=dash-secret-1',
      '--requests',
    ]);
    await broker([
      'credentials',
      'add-reader',
      '--file',
      cred,
      '--username',
      'pantau-ingest',
      '--password=ingest-secret-1',
    ]);
    const mq = join(dir.path, 'mosquitto');
    await broker([
      'mosquitto-config',
      '--credentials',
      cred,
      '--out',
      mq,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
    ]);
    // As root, mosquitto would switch to its own user, who cannot read our temp dir.
    appendFileSync(join(mq, 'mosquitto.conf'), `user ${userInfo().username}\n`);
    mosquitto = spawn(MOSQUITTO, ['-c', join(mq, 'mosquitto.conf')], { stdio: 'ignore' });
    await waitFor('mosquitto up', () =>
      pub('dashboard', 'dash-secret-1', 'pantau/v1/rsud/request/ping', '{}').then(
        () => true,
        () => false,
      ),
    );

    writeFileSync(join(dir.path, 'ingest.pw'), 'ingest-secret-1\n');
    writeFileSync(
      centralYaml,
      `external_broker:
  urls: ["mqtt://127.0.0.1:${port}"]
  username: pantau-ingest
  password_file: ingest.pw
  client_id: pantau-ingest-test
credentials_file: credentials.yaml
store: { kind: sqlite, path: central.db }
log_level: warn
`,
    );
    ingest = runDaemon('broker', ['ingest', '--config', centralYaml]);

    writeFileSync(join(dir.path, 'dashboard.pw'), 'dash-secret-1\n');
    await run(process.execPath, [
      join(ROOT, 'dashboard/dist/cli.js'),
      'users',
      'add',
      '--file',
      join(dir.path, 'users.yaml'),
      '--username',
      'ops',
      // Site boxes, readings and sequence reports are the engineers' views.
      '--role',
      'engineer',
      '--password=ops-secret-1',
    ]);
    writeFileSync(
      join(dir.path, 'dashboard.yaml'),
      `http: { host: 127.0.0.1, port: ${httpPort} }
mqtt: { url: "mqtt://127.0.0.1:${port}", username: dashboard, password_file: dashboard.pw }
store: { kind: sqlite, path: central.db }
users_file: users.yaml
log_level: warn
`,
    );
    dashboard = runDaemon('dashboard', ['--config', join(dir.path, 'dashboard.yaml')]);
    await waitFor(
      'dashboard up',
      async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok,
      20_000,
    );
    cookie = (await loginTo(`http://127.0.0.1:${httpPort}`, 'ops', 'ops-secret-1')).cookie;

    agent = await startSimulatedAgent({
      recording: join(ROOT, 'test/fixtures/snmp/airos/device.snmprec'),
      port: 0,
      scenarios: [{ kind: 'counters', bitRateIn: 1e6, bitRateOut: 1e6 }],
    });
    writeFileSync(join(dir.path, 'gw.pw'), 'gw-rsud-secret');
    writeFileSync(
      join(dir.path, 'site.yaml'),
      `site: { id: rsud }
mqtt: { urls: ["mqtt://127.0.0.1:${port}"], username: gw-rsud, password_file: gw.pw, keepalive_s: 5 }
state_dir: state
log_level: warn
defaults: { interval_s: 1, timeout_ms: 500, retries: 0 }
devices:
  - id: ptp-scc
    address: 127.0.0.1
    snmp: { port: ${agent.port} }
`,
    );
    gateway = runDaemon('gateway', ['run', '--config', join(dir.path, 'site.yaml')]);
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await dashboard?.stop();
    await ingest?.stop();
    if (mosquitto && mosquitto.exitCode === null) {
      const gone = new Promise((r) => mosquitto.once('exit', r));
      mosquitto.kill('SIGTERM');
      await gone;
    }
    await agent?.close();
    dir.remove();
  });

  it('shows the site box and its readings in the dashboard, ingested through mosquitto', async () => {
    const site = await waitFor(
      'site online in the dashboard',
      async () =>
        (await api<Array<{ site: string; state: string }>>('/api/sites')).find(
          (s) => s.site === 'rsud' && s.state === 'online',
        ),
      30_000,
    );
    expect(site.site).toBe('rsud');
    const device = await waitFor(
      'device figures',
      async () =>
        (
          await api<Array<{ device: string; state: { figures: Record<string, { value: number }> } }>>(
            '/api/devices?site=rsud',
          )
        ).find((d) => d.device === 'ptp-scc' && d.state.figures.rx_power_dbm),
      30_000,
    );
    expect(typeof device.state.figures.rx_power_dbm!.value).toBe('number');
    const now = Date.now();
    const hist = await waitFor(
      'stored history',
      async () => {
        const h = await api<Array<{ points: Array<[number, number]> }>>(
          `/api/history?site=rsud&device=ptp-scc&metric=rx_power_dbm&from=${now - 600_000}&to=${now + 60_000}`,
        );
        return h[0]?.points.length ? h : null;
      },
      20_000,
    );
    expect(hist[0]!.points[0]![1]).toBeLessThan(0); // dBm
  }, 90_000);

  it('refuses anonymous clients and wrong passwords', async () => {
    await expect(pub(undefined, undefined, 'pantau/v1/rsud/events', '{}')).rejects.toThrow();
    await expect(pub('gw-rsud', 'wrong', 'pantau/v1/rsud/events', '{}')).rejects.toThrow();
  });

  it('fences a site box into its own site: another site, requests and reading others are denied', async () => {
    const seen = watch('pantau/v1/#', 3000);
    await new Promise((r) => setTimeout(r, 500)); // the watcher subscribes first
    await pub('gw-pkm', 'gw-pkm-secret', 'pantau/v1/rsud/intruder/state', '{"forged":1}');
    await pub('gw-pkm', 'gw-pkm-secret', 'pantau/v1/rsud/request/camera-clock-sync', '{"forged":2}');
    await pub('gw-rsud', 'gw-rsud-secret', 'pantau/v1/rsud/request/camera-clock-sync', '{"forged":3}');
    await pub('gw-pkm', 'gw-pkm-secret', 'pantau/v1/pkm/own-device/state', '{"allowed":1}'); // the control
    const lines = await seen;
    expect(lines.filter((l) => l.includes('forged'))).toEqual([]);
    expect(lines.some((l) => l.startsWith('pantau/v1/pkm/own-device/state') && l.includes('allowed'))).toBe(
      true,
    );
    // A site box does not read other sites' traffic either.
    const { stdout } = await run('/usr/bin/mosquitto_sub', [
      ...mqttArgs('gw-pkm', 'gw-pkm-secret'),
      '-t',
      'pantau/v1/rsud/#',
      '-v',
      '-W',
      '3',
    ]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    expect(stdout.trim()).toBe('');
  }, 20_000);

  it("carries the dashboard's requests to the site box it names, and only there", async () => {
    const listen = (user: string, pass: string, site: string) =>
      run('/usr/bin/mosquitto_sub', [
        ...mqttArgs(user, pass),
        '-t',
        `pantau/v1/${site}/request/+`,
        '-v',
        '-W',
        '3',
      ]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    const rsud = listen('gw-rsud', 'gw-rsud-secret', 'rsud');
    const pkm = listen('gw-pkm', 'gw-pkm-secret', 'pkm');
    await new Promise((r) => setTimeout(r, 500));
    await pub('dashboard', 'dash-secret-1', 'pantau/v1/rsud/request/camera-clock-sync', '{"id":"r1"}');
    expect((await rsud).stdout).toContain('pantau/v1/rsud/request/camera-clock-sync {"id":"r1"}');
    expect((await pkm).stdout.trim()).toBe('');
  }, 20_000);

  it('loses nothing when the ingest is killed with -9: the persistent session queues the readings', async () => {
    const seq = () => api<Sequence>('/api/sites/rsud/sequence');
    const before = await waitFor('some telemetry stored', async () => {
      const s = await seq();
      return s.received > 2 ? s : null;
    });
    await ingest.stop('SIGKILL');
    // The site box goes on publishing into the ingest's queue at mosquitto.
    await waitFor('site box publishing while the ingest is down', async () => {
      const lines = await watch('pantau/v1/rsud/ptp-scc/telemetry', 1000);
      return lines.length > 0;
    });
    await new Promise((r) => setTimeout(r, 3000));
    const during = await seq();
    ingest = runDaemon('broker', ['ingest', '--config', centralYaml]);
    const after = await waitFor(
      'queued readings ingested',
      async () => {
        const s = await seq();
        return s.last !== null && s.last >= (during.last ?? 0) + 4 ? s : null;
      },
      30_000,
    );
    expect(after.missing_count).toBe(0);
    expect(after.received).toBeGreaterThan(before.received);
    expect(after.last! - after.received).toBe((after as Sequence & { first: number }).first - 1);
  }, 60_000);
});
