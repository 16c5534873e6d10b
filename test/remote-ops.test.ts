// Remote operations from the command center on a real site box: config push (applied without a
// restart, rolled back when it breaks a device, refused at the central when invalid) and remote
// hands (discover, probe, ping, traceroute, restart one poller) against simulators on 127.0.0.x,
// with broker, dashboard and site box as real processes.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type OnvifSimulator, startOnvifSimulator } from '@pantau/collectors/onvif/simulator';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Central, cli, startCentral } from './support/central.js';
import { type ModbusServer, requireModbusPeer, startModbusServer } from './support/modbus.js';
import { type Daemon, freePort, ROOT, requireBinary, runDaemon, tempDir, waitFor } from './support/procs.js';

const AIROS = join(ROOT, 'test', 'fixtures', 'snmp', 'airos', 'device.snmprec');

interface ApiDevice {
  device: string;
  status: string;
  state: { ts: number; last_seen: number | null };
}
interface PushAnswer {
  site: string;
  version: number;
  status: string;
  detail: string | null;
  result: { ok: boolean; rolledBack?: boolean; error?: string; changes: Record<string, string[]> };
}

describe('remote operations on a site box', () => {
  const dir = tempDir('remote-ops');
  const file = join(dir.path, 'site.yaml');
  let central: Central;
  let gw: Daemon;
  let r1: SimulatedAgent;
  let r2: SimulatedAgent;
  let cam: OnvifSimulator;
  let closedPort: number;
  let modbus: ModbusServer;

  const siteYaml = (devices: string) => `site: { id: rsud, name: RSUD }
mqtt: { urls: ["mqtt://127.0.0.1:${central.mqttPort}"], username: gw-rsud, password_file: rsud.pw }
state_dir: state
log_level: warn
metrics: { enabled: false }
clock: { wait_for_sync_s: 0 }
health_interval_s: 2
defaults: { interval_s: 2, timeout_ms: 500, retries: 0 }
devices:
${devices}`;
  const radio = (id: string, a: SimulatedAgent, port = a.port) => `  - id: ${id}
    address: ${a.host}
    snmp: { version: 2c, community: public, port: ${port} }
`;
  const push = (yaml: string, user = 'eng') =>
    central.api<PushAnswer & { error?: string; message?: string; issues?: Array<Record<string, unknown>> }>(
      '/api/sites/rsud/config',
      user,
      { method: 'POST', body: JSON.stringify({ yaml }) },
    );
  const op = <T>(name: string, args: Record<string, unknown>, user = 'eng') =>
    central.api<T & { error?: string; message?: string }>(`/api/sites/rsud/ops/${name}`, user, {
      method: 'POST',
      body: JSON.stringify(args),
    });
  const device = async (id: string) =>
    (await central.api<ApiDevice[]>('/api/devices?site=rsud', 'eng')).body.find((d) => d.device === id);

  beforeAll(async () => {
    requireBinary('/usr/sbin/traceroute', 'apt-get install -y traceroute');
    requireModbusPeer();
    modbus = await startModbusServer();
    central = await startCentral({
      dir: dir.path,
      sites: ['rsud'],
      users: [
        ['eng', 'engineer'],
        ['op', 'operator'],
        ['inst', 'installer'],
      ],
      requests: true,
    });
    // Each device on its own loopback address, as on a site's LAN.
    r1 = await startSimulatedAgent({ recording: AIROS, host: '127.0.0.2', port: 0 });
    r2 = await startSimulatedAgent({ recording: AIROS, host: '127.0.0.3', port: 0 });
    cam = await startOnvifSimulator({
      host: '127.0.0.4',
      username: 'admin',
      password: 'kamera-1',
      rtspBase: 'rtsp://127.0.0.4:8554/main',
      discoveryPort: 0,
    });
    closedPort = await freePort();
    writeFileSync(file, siteYaml(radio('r1', r1)));
    gw = runDaemon('gateway', ['run', '--config', file]);
    await waitFor('r1 at the central', async () => (await device('r1'))?.status === 'ok', 30_000).catch(
      (e: Error) => {
        throw new Error(`${e.message}\ngateway: ${gw.output()}`);
      },
    );
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await central?.stop();
    await r1?.close();
    await r2?.close();
    await cam?.close();
    await modbus?.stop();
    dir.remove();
  });

  it('a config adding a device is applied without a restart and its readings arrive', async () => {
    const pid = gw.proc.pid;
    const res = await push(siteYaml(radio('r1', r1) + radio('r2', r2)));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ version: 1, status: 'applied' });
    expect(res.body.result.changes).toEqual({ added: ['r2'], removed: [], changed: [] });
    await waitFor('r2 at the central', async () => (await device('r2'))?.status === 'ok', 20_000);
    expect(gw.proc.pid).toBe(pid);
    expect(gw.proc.exitCode).toBeNull();
    expect(readFileSync(file, 'utf8')).toContain(`port: ${r2.port}`);
    const rec = await central.api<{ version: number; status: string; yaml: string; by: string }>(
      '/api/sites/rsud/config',
      'eng',
    );
    expect(rec.body).toMatchObject({ version: 1, status: 'applied', by: 'eng' });
    expect(rec.body.yaml).toContain('id: r2');
  });

  it('a config that silences a device is rolled back on the box and shown so at the central', async () => {
    const pushedAt = Date.now();
    const res = await push(siteYaml(radio('r1', r1, closedPort) + radio('r2', r2)));
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body).toMatchObject({ version: 2, status: 'rolled_back' });
    expect(res.body.detail).toContain('r1: snmp answered before the change and not after it');
    expect(res.body.result.rolledBack).toBe(true);
    // The old config is back on disk and in the pollers: r1 is read again on its real port.
    expect(readFileSync(file, 'utf8')).toContain(`port: ${r1.port}`);
    const seen = r1.requests;
    await waitFor('r1 polled again', () => r1.requests > seen, 10_000);
    await waitFor(
      'r1 ok after the rollback',
      async () => {
        const d = await device('r1');
        return d?.status === 'ok' && d.state.ts > pushedAt;
      },
      20_000,
    );
    const rec = await central.api<{ status: string; detail: string; versions: Array<{ version: number }> }>(
      '/api/sites/rsud/config?version=2',
      'eng',
    );
    expect(rec.body.status).toBe('rolled_back');
    expect(rec.body.detail).toContain('r1');
    // The box says so on its event topic too, with the version.
    await waitFor(
      'config events at the central',
      async () => {
        const events = await central.api<Array<{ type: string; data?: { version?: string } }>>(
          '/api/events?site=rsud&limit=200',
          'eng',
        );
        const of = (t: string) => events.body.find((e) => e.type === t)?.data?.version;
        return of('config_applied') === '1' && of('config_rolled_back') === '2';
      },
      10_000,
    );
  });

  it('a new device whose collector cannot work with its config is rolled back too', async () => {
    // Unit 2 is a solar charge controller: the UPS register map does not fit it (Modbus exception 2).
    const ups = `  - id: ups
    kind: power
    address: 127.0.0.1
    modbus: { transport: tcp, port: ${modbus.port}, unit_id: 2, map: ups-generic }
`;
    const res = await push(siteYaml(radio('r1', r1) + radio('r2', r2) + ups));
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body).toMatchObject({ version: 3, status: 'rolled_back' });
    expect(res.body.result.changes.added).toEqual(['ups']);
    expect(res.body.detail).toContain('ups: its collector cannot work with the new config');
    expect(res.body.detail).toContain('register map does not fit');
    expect(readFileSync(file, 'utf8')).not.toContain('id: ups');
    const seen = r2.requests;
    await waitFor('r2 still polled', () => r2.requests > seen, 10_000);
  });

  it('SIGHUP (systemctl reload) applies the edited site.yaml in the same process', async () => {
    const pid = gw.proc.pid;
    // The installer removes r2 by hand and reloads.
    writeFileSync(file, siteYaml(radio('r1', r1)));
    gw.proc.kill('SIGHUP');
    await waitFor(
      'the reload reported at the central',
      async () => {
        const events = await central.api<
          Array<{ type: string; data?: { by?: string; changes?: { removed?: string[] } } }>
        >('/api/events?site=rsud&limit=200', 'eng');
        return events.body.some(
          (e) =>
            e.type === 'config_applied' && e.data?.by === 'sighup' && e.data.changes?.removed?.[0] === 'r2',
        );
      },
      15_000,
    );
    expect(gw.proc.pid).toBe(pid);
    expect(gw.proc.exitCode).toBeNull();
    // Back as the remaining tests expect it.
    const res = await push(siteYaml(radio('r1', r1) + radio('r2', r2)));
    expect(res.body.status).toBe('applied');
  });

  it('a config invalid by schema is refused at the central with line and field, never sent', async () => {
    const bad = siteYaml(`${radio('r1', r1)}    interval_s: lima\n`);
    const res = await push(bad);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_config');
    expect(res.body.message).toMatch(/rsud\/site\.yaml:13:\d+: devices\[0\]\.interval_s: must be an integer/);
    expect(res.body.issues?.[0]).toMatchObject({ line: 13, field: 'devices[0].interval_s' });
    const wrongSite = await push(siteYaml(radio('r1', r1)).replace('id: rsud', 'id: pasar'));
    expect(wrongSite.status).toBe(400);
    expect(wrongSite.body.message).toContain('site.id');
    // Neither was recorded nor sent: the newest version is still the last rolled-back one.
    const rec = await central.api<{ version: number }>('/api/sites/rsud/config', 'eng');
    expect(rec.body.version).toBe(4);
  });

  it('only engineers and admins may push or use remote hands', async () => {
    for (const user of ['op', 'inst']) {
      expect((await push(siteYaml(radio('r1', r1)), user)).status).toBe(403);
      expect((await op('ping', { address: '127.0.0.2' }, user)).status).toBe(403);
      expect((await central.api('/api/sites/rsud/config', user)).status).toBe(403);
    }
  });

  it('discover finds the ONVIF camera by unicast WS-Discovery', async () => {
    const res = await op<{ found: Array<{ address: string; xaddrs: string[] }>; count: number }>('discover', {
      addresses: [`127.0.0.4:${cam.discoveryPort}`],
      timeout_ms: 1500,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.found.map((d) => d.address)).toContain('127.0.0.4');
    expect(res.body.found[0]!.xaddrs.join(' ')).toContain(`127.0.0.4:${cam.port}`);
  });

  it('probe reads a configured device, and an address not in the config, now', async () => {
    const byId = await op<{ device: string; snmp: { identity: { vendor: string } } }>('probe', {
      device: 'r2',
    });
    expect(byId.status, JSON.stringify(byId.body)).toBe(200);
    expect(byId.body.snmp.identity.vendor).toBe('Ubiquiti');
    const adHoc = await op<{ snmp: { readings: Array<{ values: Record<string, number> }> } }>('probe', {
      kind: 'snmp',
      address: '127.0.0.3',
      port: r2.port,
    });
    expect(adHoc.status).toBe(200);
    expect(adHoc.body.snmp.readings[0]!.values.rx_power_dbm).toBe(-69);
    const unknown = await op('probe', { device: 'no-such' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('unknown_device');
  });

  it('ping and traceroute to a device on the LAN', async () => {
    const ping = await op<{ received: number; loss_pct: number }>('ping', { address: '127.0.0.2', count: 3 });
    expect(ping.status, JSON.stringify(ping.body)).toBe(200);
    expect(ping.body.received).toBe(3);
    const trace = await op<{ reached: boolean; hops: Array<{ hop: number; address: string }> }>(
      'traceroute',
      {
        address: '127.0.0.3',
        max_hops: 5,
      },
    );
    expect(trace.status, JSON.stringify(trace.body)).toBe(200);
    expect(trace.body.reached).toBe(true);
    expect(trace.body.hops.at(-1)).toMatchObject({ address: '127.0.0.3' });
  });

  it('restart-collector restarts one device poller in the running box', async () => {
    const pid = gw.proc.pid;
    const seen = r2.requests;
    const res = await op<{ device: string; restarted: string[] }>('restart-collector', { device: 'r2' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ device: 'r2', restarted: ['snmp:r2'] });
    // Polled at once, not somewhere in the next interval; same process.
    await waitFor('r2 polled after the restart', () => r2.requests > seen, 1500);
    expect(gw.proc.pid).toBe(pid);
  });

  it('pantau-dashboard site-config push does what the API does, from a shell at the central', async () => {
    const f = join(dir.path, 'push.yaml');
    writeFileSync(
      f,
      siteYaml(radio('r1', r1) + radio('r2', r2)).replace('name: RSUD', 'name: RSUD Latemmamala'),
    );
    const conf = join(dir.path, 'dashboard.yaml');
    const { stdout } = await cli('dashboard', [
      'site-config',
      'push',
      '--config',
      conf,
      '--site',
      'rsud',
      '--file',
      f,
    ]);
    expect(stdout).toMatch(/site rsud config version 5: applied/);
    const list = await cli('dashboard', ['site-config', 'list', '--config', conf, '--site', 'rsud']);
    expect(list.stdout.split('\n')[0]).toMatch(/^5\t\S+\tcli:\S+\tapplied$/);
    expect(readFileSync(file, 'utf8')).toContain('RSUD Latemmamala');
    writeFileSync(f, 'site: { id: rsud }\nmqtt: { urls: [] }\n');
    const bad = await cli('dashboard', [
      'site-config',
      'push',
      '--config',
      conf,
      '--site',
      'rsud',
      '--file',
      f,
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toContain(`${f}:2:`);
  });

  it('bad arguments are answered 400 bad_args by the box, and the box keeps running', async () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['ping', { address: '-f 127.0.0.1' }],
      ['ping', { address: '127.0.0.2', count: 10_000 }],
      ['traceroute', { address: '127.0.0.3', max_hops: 'many' }],
      ['discover', { addresses: Array.from({ length: 40 }, (_, i) => `127.0.1.${i}`) }],
      ['probe', { kind: 'snmp', address: '127.0.0.3', version: '3' }],
      ['ping', { address: '127.0.0.2', shell: 'rm -rf /' }],
    ];
    for (const [name, args] of cases) {
      const res = await op(name, args);
      expect(res.status, `${name} ${JSON.stringify(args)}`).toBe(400);
      expect(res.body.error).toBe('bad_args');
    }
    expect((await op('reboot', {})).status).toBe(404);
    // A push that waited past the central's patience (not_after) is not applied.
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${central.mqttPort}`, {
      username: 'dashboard',
      password: 'dash-secret-1',
    });
    try {
      const answer = new Promise<{ ok: boolean; error?: { code: string } }>((resolve) =>
        client.on('message', (_t, b) => resolve(JSON.parse(b.toString()))),
      );
      await client.subscribeAsync('pantau/v1/rsud/response/config-push', { qos: 1 });
      const yaml = siteYaml(radio('r1', r1));
      await client.publishAsync(
        'pantau/v1/rsud/request/config-push',
        JSON.stringify({ v: 1, id: 'late-1', ts: Date.now(), args: { yaml, not_after: Date.now() - 1000 } }),
        { qos: 1 },
      );
      expect((await answer).error?.code).toBe('expired');
      expect(readFileSync(file, 'utf8')).toContain('id: r2');
    } finally {
      await client.endAsync();
    }
    expect(gw.proc.exitCode).toBeNull();
    const ping = await op<{ received: number }>('ping', { address: '127.0.0.2', count: 1 });
    expect(ping.body.received).toBe(1);
  });
});
