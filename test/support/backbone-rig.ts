// A small backbone as real processes, shared by the link tests and the browser tests: two site boxes
// (the command center and a relay on a hill) each poll one end of a radio link (simulated airMAX
// radios), the relay probes its path to the center across the link, and rain sets in at both ends
// after `rainAtMs` and stays.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { type Central, startCentral } from './central.js';
import { type Daemon, ROOT, runDaemon } from './procs.js';

const RECORDING = join(ROOT, 'test/fixtures/snmp/airos/device.snmprec');
/** Rain deepens over this long once it starts. */
export const FADE_MS = 5_000;
const UPLINK = `uplink:
  interval_s: 10
  probes: 5
  probe_interval_ms: 200
  hops: [{ id: pusat, address: 127.0.0.1, name: Command Center, link: scc-bukit }]
`;

/** The two sites and the link between them; more sites and links may follow in the same lists. */
export const BACKBONE_SITES = `  - { id: scc, name: Command Center, kecamatan: Kota, coords: [-4.36, 119.62] }
  - { id: bukit, name: Relay Bukit, kecamatan: Tanete, coords: [-4.45, 119.75] }
`;
export const BACKBONE_LINKS = `  - id: scc-bukit
    name: "SCC – Bukit"
    medium: radio
    a: { site: scc, device: r-bukit }
    b: { site: bukit, device: r-scc }
    capacity_bps: 150000000
`;

export interface BackboneRig {
  central: Central;
  agents: SimulatedAgent[];
  daemons: Daemon[];
  stop(): Promise<void>;
}

export async function startBackboneRig(o: {
  dir: string;
  users: Array<[username: string, role: string, sites?: string[]]>;
  rainAtMs: number;
  /** More sites (YAML list items) beyond the two; their site boxes are the test's business. */
  moreSites?: { ids: string[]; yaml: string; links?: string };
}): Promise<BackboneRig> {
  const rain = {
    kind: 'fade' as const,
    startMs: o.rainAtMs,
    durationMs: FADE_MS,
    depthDb: 9,
    recoverMs: 3_600_000,
  };
  const agents: SimulatedAgent[] = [];
  const daemons: Daemon[] = [];
  for (let i = 0; i < 2; i++)
    agents.push(await startSimulatedAgent({ recording: RECORDING, port: 0, scenarios: [rain] }));
  const central = await startCentral({
    dir: o.dir,
    sites: ['scc', 'bukit', ...(o.moreSites?.ids ?? [])],
    users: o.users,
    backbone: `root: scc
sites:
${BACKBONE_SITES}${o.moreSites?.yaml ?? ''}links:
${BACKBONE_LINKS}${o.moreSites?.links ?? ''}`,
  });
  const sites = [
    { site: 'scc', device: 'r-bukit', agent: agents[0]! },
    { site: 'bukit', device: 'r-scc', agent: agents[1]! },
  ];
  for (const s of sites) {
    writeFileSync(
      join(o.dir, `${s.site}.yaml`),
      `site: { id: ${s.site} }
mqtt: { urls: ["mqtt://127.0.0.1:${central.mqttPort}"], username: gw-${s.site}, password_file: ${s.site}.pw, keepalive_s: 5 }
state_dir: state-${s.site}
log_level: warn
defaults: { interval_s: 1, timeout_ms: 800, retries: 0 }
health_interval_s: 2
devices:
  - { id: ${s.device}, kind: radio, address: 127.0.0.1, snmp: { version: 2c, community: public, port: ${s.agent.port} } }
${s.site === 'bukit' ? UPLINK : ''}`,
    );
    daemons.push(runDaemon('gateway', ['run', '--config', join(o.dir, `${s.site}.yaml`)]));
  }
  return {
    central,
    agents,
    daemons,
    stop: async () => {
      await Promise.all(daemons.map((d) => d.stop()));
      await central.stop();
      await Promise.all(agents.map((a) => a.close()));
    },
  };
}
