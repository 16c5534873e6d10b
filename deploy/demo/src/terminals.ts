// The demo's attendance terminals and site power: byte-exact ZKTeco simulators (one healthy, one
// with its log memory nearly full, one whose clock is ten minutes off) and a CyberPower UPS answering
// SNMP from a recording of a real one.

import { join } from 'node:path';
import { startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { startZkSimulator, type ZkSimulator } from '@pantau/collectors/zkteco/simulator';

export interface DemoOffice {
  yaml: string;
  banner: string;
  close(): Promise<void>;
}

export async function startDemoOffice(root: string, timeZone: string): Promise<DemoOffice> {
  const terminals: Array<{ id: string; name: string; sim: ZkSimulator }> = [
    {
      id: 'absen-rsud',
      name: 'Mesin absensi RSUD — lobi',
      sim: await startZkSimulator({ serial: 'RSUD0001', recordSize: 40, records: 2400, timeZone }),
    },
    {
      id: 'absen-camat',
      name: 'Mesin absensi Kantor Camat',
      sim: await startZkSimulator({
        serial: 'CMT0001',
        recordSize: 16,
        records: 2900,
        capacity: { records: 3000 },
        timeZone,
      }),
    },
    {
      id: 'absen-damkar',
      name: 'Mesin absensi Pos Damkar',
      sim: await startZkSimulator({
        serial: 'DMK0001',
        recordSize: 8,
        records: 800,
        clockOffsetS: 600,
        timeZone,
      }),
    },
  ];
  const ups = await startSimulatedAgent({
    recording: join(root, 'test', 'fixtures', 'snmp', 'cyberpower', 'device.snmprec'),
    port: 0,
  });
  // New punches keep arriving, one every half minute somewhere.
  const punching = setInterval(() => terminals[Math.floor(Math.random() * 2)]!.sim.addPunch(), 30_000);
  const yaml = [
    ...terminals.map(
      (t) => `  - id: ${t.id}
    name: "${t.name}"
    kind: terminal
    address: 127.0.0.1
    interval_s: 60
    zk: { port: ${t.sim.port} }
`,
    ),
    `  - id: ups-relay
    name: "UPS Menara Relay"
    kind: power
    address: 127.0.0.1
    snmp: { version: 2c, community: public, port: ${ups.port} }
`,
  ].join('');
  return {
    yaml,
    banner: `  Absensi & listrik  : ${terminals.length} mesin absensi (satu memorinya hampir penuh, satu jamnya selisih 10 menit), 1 UPS`,
    close: async () => {
      clearInterval(punching);
      await Promise.all(terminals.map((t) => t.sim.close()));
      await ups.close();
    },
  };
}
