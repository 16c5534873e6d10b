// The installer's LAN scan against simulators on several loopback addresses (all of 127/8 is local
// on Linux): SNMP agents replaying recorded radios and a UPS, an ONVIF camera answering unicast
// WS-Discovery, a ZKTeco terminal and a Modbus TCP server (Debian's pymodbus). The scan must find
// each one, classify it, and tell configured devices from new ones; test-device must read them.

import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type OnvifSimulator, startOnvifSimulator } from '@pantau/collectors/onvif/simulator';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { startZkSimulator, type ZkSimulator } from '@pantau/collectors/zkteco/simulator';
import { scan } from '@pantau/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModbusServer, requireModbusPeer, startModbusServer } from './support/modbus.js';
import { freePort, ROOT, tempDir } from './support/procs.js';
import { type RtspServer, requireRtspPeers, startRtspServer } from './support/rtsp.js';

const run = promisify(execFile);
const FIX = join(ROOT, 'test', 'fixtures', 'snmp');
const CAM_PASSWORD = 'kamera-rahasia';

describe('LAN scan (installer)', () => {
  const agents: SimulatedAgent[] = [];
  let camera: OnvifSimulator;
  let terminal: ZkSimulator;
  let modbus: ModbusServer;
  let rtsp: RtspServer;
  let snmpPort: number;
  let wsdPort: number;
  let zkPort: number;
  const dir = tempDir('scan');

  beforeAll(async () => {
    requireModbusPeer();
    requireRtspPeers();
    // One port for every address of a kind, as on a real LAN (161 everywhere); chosen free here.
    snmpPort = await freePort();
    wsdPort = await freePort();
    zkPort = await freePort();
    const rtspPort = await freePort();
    rtsp = await startRtspServer(rtspPort);
    for (const [host, rec] of [
      ['127.0.0.2', 'airos'],
      ['127.0.0.3', 'cyberpower'],
      ['127.0.0.4', 'siklu'],
    ] as const)
      agents.push(
        await startSimulatedAgent({
          recording: join(FIX, rec, 'device.snmprec'),
          host,
          port: snmpPort,
          community: 'rahasia-situs',
        }),
      );
    camera = await startOnvifSimulator({
      host: '127.0.0.5',
      username: 'admin',
      password: CAM_PASSWORD,
      rtspBase: `rtsp://127.0.0.1:${rtspPort}/moving`,
      rtspSubBase: `rtsp://127.0.0.1:${rtspPort}/sub`,
      discoveryPort: wsdPort,
      name: 'Kamera Pasar',
    });
    terminal = await startZkSimulator({
      host: '127.0.0.6',
      port: zkPort,
      transport: 'tcp',
      serial: 'PSR0001',
      clockOffsetS: 120,
      timeZone: 'Asia/Makassar',
    });
    // This one also answers Read Device Identification (43/14).
    modbus = await startModbusServer({ host: '127.0.0.7', port: snmpPort, identity: true });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await camera?.close();
    await terminal?.close();
    await modbus?.stop();
    await rtsp?.stop();
    dir.remove();
  });

  const options = () => ({
    subnets: ['127.0.0.0/28'],
    communities: ['public', 'rahasia-situs'],
    snmpPort,
    wsdPort,
    zkPort,
    modbusPort: snmpPort,
    modbusUnits: [1, 3],
    timeoutMs: 600,
    camera: { username: 'admin', password: CAM_PASSWORD },
  });

  it('finds and classifies every simulator on the subnet', async () => {
    const found = await scan.scanLan({
      ...options(),
      devices: [
        { id: 'ups-kantor', kind: 'power', address: '127.0.0.3', snmp: { version: '2c', port: snmpPort } },
      ],
    });
    const at = (address: string, via: string) => found.find((f) => f.address === address && f.via === via);
    expect(at('127.0.0.2', 'snmp')).toMatchObject({
      kind: 'radio',
      vendor: 'Ubiquiti',
      model: 'Rocket Prism 5AC Gen2',
      profile: 'airmax',
      already_configured: false,
      access: { snmp: { community: 'rahasia-situs', version: '2c' } },
    });
    expect(at('127.0.0.3', 'snmp')).toMatchObject({
      kind: 'power',
      vendor: 'CyberPower',
      model: 'OL2200RTXL2U',
      already_configured: true,
    });
    expect(at('127.0.0.4', 'snmp')).toMatchObject({ kind: 'radio', vendor: 'Siklu' });
    expect(at('127.0.0.5', 'ws-discovery')).toMatchObject({
      kind: 'camera',
      vendor: 'Mockup Manufacturer',
      model: 'Mockup Model',
      firmware: 'Mockup_15_14_13',
      name: 'Kamera Pasar',
      port: camera.port,
    });
    expect(at('127.0.0.6', 'zk')).toMatchObject({
      kind: 'terminal',
      vendor: 'ZKTeco',
      model: 'X100-C',
      serial: 'PSR0001',
      port: zkPort,
    });
    expect(at('127.0.0.7', 'modbus')).toMatchObject({
      kind: 'power',
      vendor: 'Pantau Test',
      model: 'Test UPS 1000',
      firmware: '2.3',
      profile: 'ups-generic',
      access: { modbus: { unit_id: 1, map: 'ups-generic' } },
    });
    // Nothing invented: 127.0.0.8–14 host nothing, and .1 has no peer on these ports.
    expect(
      found.filter(
        (f) =>
          !['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7'].includes(f.address),
      ),
    ).toEqual([]);
  }, 60_000);

  it('without camera credentials still lists the camera, by its discovery scopes', async () => {
    const { camera: _c, ...noCreds } = options();
    const found = await scan.scanLan({
      ...noCreds,
      addresses: ['127.0.0.5'],
      subnets: [],
      kinds: ['camera'],
    });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      kind: 'camera',
      name: 'Kamera Pasar',
      access: { onvif: { authenticated: false } },
    });
    expect(found[0]!.vendor).toBeUndefined();
    expect(found[0]!.note?.en).toMatch(/username and password/);
  });

  it('refuses a subnet larger than a /22 and a malformed one', async () => {
    await expect(scan.scanLan({ subnets: ['10.0.0.0/16'] })).rejects.toThrow(/too large/);
    await expect(scan.scanLan({ subnets: ['10.0.0.300/24'] })).rejects.toThrow(/not a subnet/);
    expect(scan.expandCidr('10.1.2.0/22')).toHaveLength(1022);
    expect(scan.expandCidr('10.1.2.77/30')).toEqual(['10.1.2.77', '10.1.2.78']);
  });

  it('pantau-gateway scan --json prints the same, and test-device reads each kind', async () => {
    const cli = join(ROOT, 'gateway', 'dist', 'cli.js');
    const pw = join(dir.path, 'cam.pw');
    writeFileSync(pw, `${CAM_PASSWORD}\n`);
    const { stdout } = await run(process.execPath, [
      cli,
      'scan',
      '--subnet',
      '127.0.0.0/29',
      '--community',
      'public,rahasia-situs',
      '--snmp-port',
      String(snmpPort),
      '--wsd-port',
      String(wsdPort),
      '--zk-port',
      String(zkPort),
      '--modbus-port',
      String(snmpPort),
      '--camera-user',
      'admin',
      '--camera-password-file',
      pw,
      '--timeout',
      '600',
      '--json',
    ]);
    const found = JSON.parse(stdout) as scan.FoundDevice[];
    expect(found.map((f) => `${f.address} ${f.via}`).sort()).toEqual([
      '127.0.0.2 snmp',
      '127.0.0.3 snmp',
      '127.0.0.4 snmp',
      '127.0.0.5 ws-discovery',
      '127.0.0.6 zk',
    ]);
    const text = await run(process.execPath, [
      cli,
      'scan',
      '--address',
      '127.0.0.2',
      '--community',
      'rahasia-situs',
      '--snmp-port',
      String(snmpPort),
      '--only',
      'snmp',
    ]);
    expect(text.stdout).toMatch(/127\.0\.0\.2:\d+ +radio +via snmp +Ubiquiti Rocket Prism 5AC Gen2/);
    expect(text.stdout).toMatch(/NEW \/ BARU/);

    const terminalTest = await run(process.execPath, [
      cli,
      'test-device',
      '--address',
      '127.0.0.6',
      '--via',
      'zk',
      '--port',
      String(zkPort),
      '--json',
    ]);
    const t = JSON.parse(terminalTest.stdout) as scan.DeviceTestResult;
    expect(t.ok).toBe(true);
    // The simulator runs 120 s ahead; the terminal counts whole seconds.
    expect(t.clock_offset_s).toBeGreaterThan(118);
    expect(t.clock_offset_s).toBeLessThan(122);

    const cam = JSON.parse(
      (
        await run(
          process.execPath,
          [
            cli,
            'test-device',
            '--address',
            '127.0.0.5',
            '--via',
            'onvif',
            '--port',
            String(camera.port),
            '--username',
            'admin',
            '--password-file',
            pw,
            '--json',
          ],
          { timeout: 30_000 },
        )
      ).stdout,
    ) as scan.DeviceTestResult;
    expect(cam.ok).toBe(true);
    expect(cam.stream?.up).toBe(true);
    expect(cam.stream?.frames.advancing).toBe(true);
    expect(Math.abs(cam.clock_offset_s ?? 99)).toBeLessThan(2);

    const ups = JSON.parse(
      (
        await run(process.execPath, [
          cli,
          'test-device',
          '--address',
          '127.0.0.7',
          '--via',
          'modbus',
          '--port',
          String(snmpPort),
          '--map',
          'ups-generic',
          '--json',
        ])
      ).stdout,
    ) as scan.DeviceTestResult;
    expect(ups.ok).toBe(true);
    expect(ups.readings?.[0]?.values.battery_pct).toBe(100);

    // Commissioning from the shell: day-one values of the site's devices, a far end through its link.
    writeFileSync(
      join(dir.path, 'site.yaml'),
      `site: { id: pasar, timezone: Asia/Makassar }
mqtt: { urls: ["mqtt://127.0.0.1:1"], username: gw-pasar, password: unused-here }
state_dir: state
devices:
  - { id: radio-pasar, kind: radio, address: 127.0.0.2, snmp: { community: rahasia-situs, port: ${snmpPort} } }
  - { id: ups-pasar, kind: power, address: 127.0.0.3, snmp: { community: rahasia-situs, port: ${snmpPort} } }
  - { id: absen-pasar, kind: terminal, address: 127.0.0.6, zk: { port: ${zkPort} } }
`,
    );
    const commission = await run(process.execPath, [
      cli,
      'commission',
      '--config',
      join(dir.path, 'site.yaml'),
      '--far-end',
      `radio-pasar=127.0.0.4:${snmpPort}`,
      '--far-community',
      'rahasia-situs',
      '--json',
    ]).catch((e: { stdout: string }) => e);
    const report = JSON.parse((commission as { stdout: string }).stdout) as {
      devices: Array<{
        id: string;
        ok: boolean;
        readings?: Array<{ values: Record<string, number> }>;
        clock_offset_s?: number;
      }>;
      links: Array<{ a: string; b: string }>;
    };
    expect(report.devices.map((d) => d.id)).toEqual([
      'radio-pasar',
      'ups-pasar',
      'absen-pasar',
      'radio-pasar-far',
    ]);
    expect(report.links).toEqual([{ a: 'radio-pasar', b: 'radio-pasar-far' }]);
    const near = report.devices[0]!;
    expect(near.readings?.some((r) => r.values.rx_power_dbm !== undefined)).toBe(true);
    expect(report.devices[3]!.readings?.some((r) => r.values.rx_power_dbm !== undefined)).toBe(true);
    expect(report.devices[2]!.clock_offset_s).toBeGreaterThan(118);
    expect(
      readFileSync(
        join(
          dir.path,
          'state',
          'commissioning',
          `${(JSON.parse((commission as { stdout: string }).stdout) as { id: string }).id}.html`,
        ),
        'utf8',
      ),
    ).toMatch(/Laporan komisioning/);
    const unknownRadio = await run(process.execPath, [
      cli,
      'commission',
      '--config',
      join(dir.path, 'site.yaml'),
      '--far-end',
      'nope=127.0.0.4',
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((unknownRadio as { stderr: string }).stderr).toMatch(/no radio with that id/);

    const bad = await run(process.execPath, [
      cli,
      'test-device',
      '--address',
      '127.0.0.9',
      '--via',
      'snmp',
      '--port',
      String(snmpPort),
      '--timeout',
      '300',
    ]).catch((e: { code: number; stdout: string }) => e);
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stdout: string }).stdout).toMatch(/FAIL SNMP gagal/);
  }, 90_000);
});
