// Site power end to end: a site box reads a UPS over Modbus (Debian's pymodbus as the UPS) and a
// CyberPower UPS over SNMP (the recording in the simulator), the mains fail, the box reports power
// lost, then the site goes dark: the central's incident says power, not radio.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModbusServer, requireModbusPeer, startModbusServer } from './support/modbus.js';
import { type Daemon, freePort, ROOT, runDaemon, tempDir, waitFor } from './support/procs.js';

const run = promisify(execFile);

interface DeviceView {
  device: string;
  kind: string;
  status: string;
  reasons: Array<{ code: string; id: string }>;
  figures: Record<string, { value: number }>;
}

describe('site power through real processes', () => {
  const dir = tempDir('power');
  const daemons: Daemon[] = [];
  let ups: ModbusServer;
  let snmpUps: SimulatedAgent;
  let gateway: Daemon;
  let httpPort: number;
  let cookie = '';

  const api = async <T>(path: string) =>
    (await (await fetch(`http://127.0.0.1:${httpPort}${path}`, { headers: { cookie } })).json()) as T;
  const device = async (id: string) =>
    (await api<DeviceView[]>('/api/devices?site=pasar')).find((d) => d.device === id);

  beforeAll(async () => {
    requireModbusPeer();
    ups = await startModbusServer();
    snmpUps = await startSimulatedAgent({
      recording: join(ROOT, 'test/fixtures/snmp/cyberpower/device.snmprec'),
      port: 0,
    });
    const mqttPort = await freePort();
    httpPort = await freePort();
    const cred = join(dir.path, 'credentials.yaml');
    const cli = (pkg: string, args: string[]) =>
      run(process.execPath, [join(ROOT, `${pkg}/dist/cli.js`), ...args]);
    await cli('broker', [
      'credentials',
      'add-gateway',
      '--file',
      cred,
      '--site',
      'pasar',
      '--password',
      'gw-pasar-secret',
    ]);
    await cli('broker', [
      'credentials',
      'add-reader',
      '--file',
      cred,
      '--username',
      'dashboard',
      '--password',
      'dash-secret-1',
    ]);
    await cli('dashboard', [
      'users',
      'add',
      '--file',
      join(dir.path, 'users.yaml'),
      '--username',
      'insinyur',
      '--role',
      'engineer',
      '--password',
      'insinyur-secret-1',
    ]);
    writeFileSync(join(dir.path, 'dashboard.pw'), 'dash-secret-1\n');
    writeFileSync(join(dir.path, 'pasar.pw'), 'gw-pasar-secret\n');
    writeFileSync(
      join(dir.path, 'backbone.yaml'),
      `root: scc
sites:
  - { id: scc, name: Command Center }
  - { id: pasar, name: Pasar Sentral, agency: Dinas Perdagangan }
links:
  - { id: scc-pasar, medium: fiber, a: { site: scc }, b: { site: pasar } }
`,
    );
    writeFileSync(
      join(dir.path, 'central.yaml'),
      `mqtt: { host: 127.0.0.1, port: ${mqttPort} }
credentials_file: credentials.yaml
store: { kind: sqlite, path: central.db }
backbone: { file: backbone.yaml, state_path: central-state.db, evaluate_every_s: 1 }
log_level: warn
`,
    );
    writeFileSync(
      join(dir.path, 'dashboard.yaml'),
      `http: { host: 127.0.0.1, port: ${httpPort} }
mqtt: { url: "mqtt://127.0.0.1:${mqttPort}", username: dashboard, password_file: dashboard.pw }
store: { kind: sqlite, path: central.db }
backbone: { file: backbone.yaml, state_path: central-state.db }
users_file: users.yaml
log_level: warn
`,
    );
    writeFileSync(
      join(dir.path, 'pasar.yaml'),
      `site: { id: pasar, name: Pasar Sentral }
mqtt: { urls: ["mqtt://127.0.0.1:${mqttPort}"], username: gw-pasar, password_file: pasar.pw, keepalive_s: 5 }
state_dir: state
log_level: warn
defaults: { interval_s: 1, timeout_ms: 800, retries: 0 }
devices:
  - { id: ups-modbus, name: "UPS ruang server", kind: power, address: 127.0.0.1, modbus: { port: ${ups.port}, unit_id: 1, map: ups-generic } }
  - { id: ups-snmp, name: "UPS CyberPower", kind: power, address: 127.0.0.1, snmp: { port: ${snmpUps.port} } }
`,
    );
    daemons.push(runDaemon('broker', ['--config', join(dir.path, 'central.yaml')]));
    daemons.push(runDaemon('dashboard', ['--config', join(dir.path, 'dashboard.yaml')]));
    gateway = runDaemon('gateway', ['run', '--config', join(dir.path, 'pasar.yaml')]);
    await waitFor(
      'dashboard up',
      async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok,
      20_000,
    );
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'insinyur', password: 'insinyur-secret-1' }),
    });
    cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await Promise.all(daemons.map((d) => d.stop()));
    await ups?.stop();
    await snmpUps?.close();
    dir.remove();
  }, 30_000);

  it('reads both UPSes on mains, with units in the figures', async () => {
    const m = await waitFor('Modbus UPS read', async () => {
      const d = await device('ups-modbus');
      return d?.figures.on_battery ? d : null;
    });
    expect(m).toMatchObject({ kind: 'power', status: 'ok' });
    expect(m.figures.on_battery!.value).toBe(0);
    expect(m.figures.input_voltage_v!.value).toBeGreaterThan(180);
    const s = await waitFor('SNMP UPS read', async () => {
      const d = await device('ups-snmp');
      return d?.figures.battery_pct ? d : null;
    });
    expect(s.kind).toBe('power');
    expect(s.figures.on_battery!.value).toBe(0);
  });

  it('mains fail: power lost once (debounced), then the site goes dark and the incident says power', async () => {
    ups.signal('SIGUSR1'); // the UPS goes to battery
    const onBattery = await waitFor('UPS on battery', async () => {
      const d = await device('ups-modbus');
      return d?.figures.on_battery?.value === 1 ? d : null;
    });
    expect(onBattery.status).toBe('degraded');
    expect(onBattery.reasons.map((r) => r.id)).toContain('Listrik padam: UPS memakai baterai');
    const lost = await waitFor(
      'power_lost event',
      async () => {
        const ev =
          await api<Array<{ type: string; device?: string; severity: string }>>('/api/events?site=pasar');
        const found = ev.filter((e) => e.type === 'power_lost' && e.device === 'ups-modbus');
        return found.length > 0 ? found : null;
      },
      10_000,
    );
    expect(lost[0]!.severity).toBe('critical');
    // Still on battery a few polls later: reported once, not once per poll.
    await new Promise((r) => setTimeout(r, 3000));
    const again = await api<Array<{ type: string; device?: string }>>('/api/events?site=pasar');
    expect(again.filter((e) => e.type === 'power_lost' && e.device === 'ups-modbus')).toHaveLength(1);
    // The battery runs flat: the site box dies with everything else.
    await gateway.stop('SIGKILL');
    const inc = await waitFor(
      'site incident labelled power',
      async () => {
        const list =
          await api<Array<{ key: string; outage?: { label: string; reason: { id: string } } }>>(
            '/api/incidents?open=true',
          );
        return list.find((i) => i.key === 'site:pasar' && i.outage);
      },
      30_000,
      500,
    );
    expect(inc.outage!.label).toBe('power');
    expect(inc.outage!.reason.id).toMatch(
      /^Listrik padam: UPS di Pasar Sentral beralih ke baterai pukul \d\d:\d\d, lalu senyap$/,
    );
  }, 60_000);
});
