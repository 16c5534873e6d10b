// Site power end to end: a site box reads a UPS over Modbus (Debian's pymodbus as the UPS) and a
// CyberPower UPS over SNMP (the recording in the simulator), the mains fail, the box reports power
// lost, then the site goes dark: the central's incident says power, not radio.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Central, startCentral } from './support/central.js';
import { type ModbusServer, requireModbusPeer, startModbusServer } from './support/modbus.js';
import { type Daemon, ROOT, runDaemon, tempDir, waitFor } from './support/procs.js';

interface DeviceView {
  device: string;
  kind: string;
  status: string;
  reasons: Array<{ code: string; id: string }>;
  figures: Record<string, { value: number }>;
}

describe('site power through real processes', () => {
  const dir = tempDir('power');
  let central: Central;
  let ups: ModbusServer;
  let snmpUps: SimulatedAgent;
  let gateway: Daemon;

  const api = async <T>(path: string) => (await central.api<T>(path, 'insinyur')).body;
  const device = async (id: string) =>
    (await api<DeviceView[]>('/api/devices?site=pasar')).find((d) => d.device === id);

  beforeAll(async () => {
    requireModbusPeer();
    ups = await startModbusServer();
    snmpUps = await startSimulatedAgent({
      recording: join(ROOT, 'test/fixtures/snmp/cyberpower/device.snmprec'),
      port: 0,
    });
    central = await startCentral({
      dir: dir.path,
      sites: ['pasar'],
      users: [['insinyur', 'engineer']],
      backbone: `root: scc
sites:
  - { id: scc, name: Command Center }
  - { id: pasar, name: Pasar Sentral, agency: Dinas Perdagangan }
links:
  - { id: scc-pasar, medium: fiber, a: { site: scc }, b: { site: pasar } }
`,
    });
    const mqttPort = central.mqttPort;
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
    gateway = runDaemon('gateway', ['run', '--config', join(dir.path, 'pasar.yaml')]);
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await central?.stop();
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
