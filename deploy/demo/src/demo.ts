// `npm start`: the whole of Pantau on one machine. A central (broker + dashboard on the embedded
// SQLite store, judging the backbone's links) and two simulated site boxes — one at the command
// center, one at a hilltop relay — polling simulated radios recorded from real devices. Rain passes
// over the SCC–relay link (both ends fade: weather) and over one relay link. The links are
// commissioned automatically after the first minutes. Everything listens on 127.0.0.1 only;
// nothing needs the internet.

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBrokerConfig, startBroker } from '@pantau/broker';
import { type Scenario, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { generateSecret } from '@pantau/config';
import { loadDashboardConfig, startDashboard } from '@pantau/dashboard';
import { loadGatewayConfig, startGateway } from '@pantau/gateway';
import { startDemoCameras } from './cameras.js';
import { startDemoOffice } from './terminals.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DIR = resolve(process.env.PANTAU_DEMO_DIR ?? join(ROOT, '.pantau-demo'));
const MQTT_PORT = Number(process.env.PANTAU_DEMO_MQTT_PORT ?? 18830);
const HTTP_PORT = Number(process.env.PANTAU_DEMO_HTTP_PORT ?? 18080);
const RTSP_PORT = Number(process.env.PANTAU_DEMO_RTSP_PORT ?? 18554);
const FIXTURES = join(ROOT, 'test', 'fixtures', 'snmp');

interface DemoRadio {
  /** The site box that polls it. */
  site: 'scc' | 'relay-kota';
  id: string;
  name: string;
  recording: string;
  kind: 'radio' | 'host';
  scenarios: Scenario[];
}

const MINUTE = 60_000;
// Rain over the backbone link every 15 minutes: both ends sink 8 dB (past the 5 dB warning of the
// fade margin, short of the 10 dB critical line) over two minutes, stay, and recover.
const BACKBONE_RAIN: Scenario = {
  kind: 'fade',
  startMs: 4 * MINUTE,
  durationMs: 2 * MINUTE,
  depthDb: 8,
  recoverMs: 4 * MINUTE,
  everyMs: 15 * MINUTE,
};
const RADIOS: DemoRadio[] = [
  {
    site: 'scc',
    id: 'ptp-kota',
    name: 'Pemancar SCC → Relay Kota',
    recording: 'airos',
    kind: 'radio',
    scenarios: [{ kind: 'counters', bitRateIn: 40e6, bitRateOut: 10e6 }, BACKBONE_RAIN],
  },
  {
    site: 'relay-kota',
    id: 'ptp-scc',
    name: 'Pemancar Relay Kota → SCC',
    recording: 'airos',
    kind: 'radio',
    scenarios: [{ kind: 'counters', bitRateIn: 10e6, bitRateOut: 40e6 }, BACKBONE_RAIN],
  },
  {
    site: 'relay-kota',
    id: 'ptp-rsud',
    name: 'Pemancar Relay → RSUD Latemmamala',
    recording: 'airos',
    kind: 'radio',
    scenarios: [{ kind: 'counters', bitRateIn: 12e6, bitRateOut: 3e6 }],
  },
  // Rain over the hills every 12 minutes: the signal sinks 22 dB over four minutes (SNR falls below
  // 15 dB: "Sinyal lemah") and comes back; the noise floor stays put.
  {
    site: 'relay-kota',
    id: 'ptp-damkar',
    name: 'Pemancar Relay → Damkar (hujan)',
    recording: 'airos',
    kind: 'radio',
    scenarios: [
      { kind: 'counters', bitRateIn: 6e6, bitRateOut: 1.5e6 },
      {
        kind: 'fade',
        startMs: 0.5 * MINUTE,
        durationMs: 4 * MINUTE,
        depthDb: 22,
        recoverMs: 3 * MINUTE,
        everyMs: 12 * MINUTE,
      },
    ],
  },
  {
    site: 'relay-kota',
    id: 'ptp-psc',
    name: 'Pemancar Relay → PSC 119',
    recording: 'airos',
    kind: 'radio',
    scenarios: [{ kind: 'counters', bitRateIn: 4e6, bitRateOut: 1e6 }],
  },
  {
    site: 'relay-kota',
    id: 'ptp-gasis',
    name: 'Pemancar Relay → Lapangan Gasis',
    recording: 'airos',
    kind: 'radio',
    scenarios: [
      { kind: 'counters', bitRateIn: 20e6, bitRateOut: 5e6 },
      { kind: 'reboot', atMs: 2 * MINUTE },
    ],
  },
  {
    site: 'relay-kota',
    id: 'router-villa',
    name: 'Router Mes Villa Yuliana',
    recording: 'openwrt',
    kind: 'host',
    scenarios: [{ kind: 'counters', bitRateIn: 2e6, bitRateOut: 0.5e6 }],
  },
];

interface DemoSecrets {
  gateway: string;
  /** The command center's own site box; absent in demo folders made before it existed. */
  gatewayScc?: string;
  dashboardMqtt: string;
  admin: string;
  /** The dashboard's broker account may send requests (camera clock sync); older demo folders lack it. */
  dashboardRequests?: boolean;
}

function cli(pkg: 'broker' | 'dashboard', args: string[]): void {
  execFileSync(process.execPath, [join(ROOT, pkg, 'dist', 'cli.js'), ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function addGateway(site: string, password: string): void {
  const cred = join(DIR, 'credentials.yaml');
  cli('broker', ['credentials', 'add-gateway', '--file', cred, '--site', site, `--password=${password}`]);
  writeFileSync(join(DIR, `gateway-${site}.mqtt-password`), `${password}\n`, { mode: 0o600 });
}

function addDashboardAccount(password: string): void {
  cli('broker', [
    'credentials',
    'add-reader',
    '--file',
    join(DIR, 'credentials.yaml'),
    '--username',
    'dashboard',
    `--password=${password}`,
    '--requests',
  ]);
}

/** Credentials are generated on the first run and kept (0600) so the login stays the same. */
function firstRunSecrets(): DemoSecrets {
  const file = join(DIR, 'demo-secrets.json');
  if (existsSync(file)) {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as DemoSecrets;
    if (!kept.gatewayScc) {
      kept.gatewayScc = generateSecret();
      addGateway('scc', kept.gatewayScc);
      writeFileSync(file, JSON.stringify(kept, null, 2), { mode: 0o600 });
    }
    if (!kept.dashboardRequests) {
      cli('broker', [
        'credentials',
        'remove',
        '--file',
        join(DIR, 'credentials.yaml'),
        '--username',
        'dashboard',
      ]);
      addDashboardAccount(kept.dashboardMqtt);
      kept.dashboardRequests = true;
      writeFileSync(file, JSON.stringify(kept, null, 2), { mode: 0o600 });
    }
    if (!existsSync(join(DIR, 'gateway-relay-kota.mqtt-password')))
      writeFileSync(join(DIR, 'gateway-relay-kota.mqtt-password'), `${kept.gateway}\n`, { mode: 0o600 });
    return kept;
  }
  mkdirSync(DIR, { recursive: true, mode: 0o700 });
  const s: DemoSecrets = {
    gateway: generateSecret(),
    gatewayScc: generateSecret(),
    dashboardMqtt: generateSecret(),
    admin: generateSecret(9),
    dashboardRequests: true,
  };
  addGateway('relay-kota', s.gateway);
  addGateway('scc', s.gatewayScc!);
  addDashboardAccount(s.dashboardMqtt);
  cli('dashboard', [
    'users',
    'add',
    '--file',
    join(DIR, 'users.yaml'),
    '--username',
    'admin',
    '--role',
    'admin',
    `--password=${s.admin}`,
  ]);
  writeFileSync(join(DIR, 'dashboard.mqtt-password'), `${s.dashboardMqtt}\n`, { mode: 0o600 });
  writeFileSync(file, JSON.stringify(s, null, 2), { mode: 0o600 });
  return s;
}

const BACKBONE = `# Demo backbone: written by npm start. The tree of sites and links, rooted at the command center.
root: scc
sites:
  - { id: scc, name: "Command Center (SCC)", kecamatan: Lalabata, agency: Diskominfo, coords: [-4.3486, 119.8866] }
  - { id: relay-kota, name: "Menara Relay Kota", kecamatan: Lalabata, agency: Diskominfo, coords: [-4.3601, 119.8702] }
  - { id: rsud, name: "RSUD Latemmamala", kecamatan: Lalabata, agency: Dinas Kesehatan, priority: emergency, site_box: false, coords: [-4.3520, 119.8830] }
  - { id: damkar, name: "Pos Damkar", kecamatan: Liliriaja, agency: Damkar, priority: emergency, site_box: false, coords: [-4.3850, 119.8450] }
  - { id: psc, name: "PSC 119", kecamatan: Lalabata, agency: Dinas Kesehatan, priority: emergency, site_box: false, coords: [-4.3470, 119.8900] }
  - { id: gasis, name: "Lapangan Gasis", kecamatan: Lalabata, agency: Dispora, site_box: false, coords: [-4.3440, 119.8800] }
links:
  - { id: scc-kota, name: "SCC – Relay Kota", medium: radio, a: { site: scc, device: ptp-kota }, b: { site: relay-kota, device: ptp-scc }, capacity_bps: 150000000 }
  - { id: kota-rsud, name: "Relay – RSUD", medium: radio, a: { site: relay-kota, device: ptp-rsud }, b: { site: rsud }, capacity_bps: 100000000 }
  - { id: kota-damkar, name: "Relay – Damkar", medium: radio, a: { site: relay-kota, device: ptp-damkar }, b: { site: damkar }, capacity_bps: 100000000 }
  - { id: kota-psc, name: "Relay – PSC 119", medium: radio, a: { site: relay-kota, device: ptp-psc }, b: { site: psc }, capacity_bps: 100000000 }
  - { id: kota-gasis, name: "Relay – Gasis", medium: radio, a: { site: relay-kota, device: ptp-gasis }, b: { site: gasis }, capacity_bps: 100000000 }
`;
const RADIO_LINKS = ['scc-kota', 'kota-rsud', 'kota-damkar', 'kota-psc', 'kota-gasis'];
/** Before the first rain (and after the reboot of the Gasis radio has settled into the window). */
const COMMISSION_AFTER_MS = 2 * MINUTE;

/**
 * Records each radio link's baseline once, as an engineer would at commissioning, through the same
 * CLI. Run as a child process: the simulators in this process must keep answering meanwhile.
 */
async function commissionLinks(links: string[]): Promise<string[]> {
  const done: string[] = [];
  for (const link of links) {
    const ok = await new Promise<boolean>((resolveRun) =>
      execFile(
        process.execPath,
        [
          join(ROOT, 'broker', 'dist', 'cli.js'),
          'backbone',
          'commission',
          '--config',
          join(DIR, 'central.yaml'),
          '--link',
          link,
          '--minutes',
          '2',
          '--by',
          'demo',
        ],
        (err, _out, stderr) => {
          if (err) process.stderr.write(`demo: commissioning ${link} failed: ${stderr.trim()}\n`);
          resolveRun(!err);
        },
      ),
    );
    if (ok) done.push(link);
  }
  if (done.length > 0) process.stdout.write(`Baseline direkam / baselines recorded: ${done.join(', ')}\n`);
  return links.filter((l) => !done.includes(l));
}

/** Commissions once per demo folder; links without enough readings yet are tried again a minute later. */
function scheduleCommissioning(): { cancel: () => void } {
  const marker = join(DIR, 'commissioned.json');
  let timer: NodeJS.Timeout | undefined;
  const attempt = (links: string[], tries: number, delayMs: number) => {
    timer = setTimeout(async () => {
      const left = await commissionLinks(links);
      if (left.length === 0)
        writeFileSync(marker, JSON.stringify({ at: new Date().toISOString(), links: RADIO_LINKS }, null, 2));
      else if (tries > 1) attempt(left, tries - 1, 60_000);
    }, delayMs);
  };
  if (!existsSync(marker)) attempt(RADIO_LINKS, 5, COMMISSION_AFTER_MS);
  return { cancel: () => clearTimeout(timer) };
}

function hasPing(): boolean {
  return ['/usr/bin/ping', '/bin/ping'].some((p) => existsSync(p));
}

async function main(): Promise<void> {
  const secrets = firstRunSecrets();
  const agents = await Promise.all(
    RADIOS.map((r) =>
      startSimulatedAgent({
        recording: join(FIXTURES, r.recording, 'device.snmprec'),
        port: 0,
        scenarios: r.scenarios,
      }),
    ),
  );

  writeFileSync(join(DIR, 'backbone.yaml'), BACKBONE);
  writeFileSync(
    join(DIR, 'central.yaml'),
    `# Demo central: written by npm start\nmqtt:\n  host: 127.0.0.1\n  port: ${MQTT_PORT}\ncredentials_file: credentials.yaml\nstore: { kind: sqlite, path: central.db }\nbackbone: { file: backbone.yaml, state_path: central-state.db, evaluate_every_s: 10 }\nlog_level: warn\n`,
  );
  writeFileSync(
    join(DIR, 'dashboard.yaml'),
    `# Demo dashboard: written by npm start\nhttp: { host: 127.0.0.1, port: ${HTTP_PORT} }\nmqtt: { url: "mqtt://127.0.0.1:${MQTT_PORT}", username: dashboard, password_file: dashboard.mqtt-password }\nstore: { kind: sqlite, path: central.db }\nbackbone: { file: backbone.yaml, state_path: central-state.db }\nusers_file: users.yaml\nlanguage: id\ntimezone: Asia/Makassar\nlog_level: warn\n`,
  );
  const ping = hasPing();
  const cameras = await startDemoCameras(ROOT, DIR, RTSP_PORT);
  const office = await startDemoOffice(ROOT, 'Asia/Makassar');
  const siteYaml = (site: DemoRadio['site'], name: string, extra: string, moreDevices = '') => {
    const devices = RADIOS.map((r, i) => ({ r, port: agents[i]!.port }))
      .filter(({ r }) => r.site === site)
      .map(
        ({ r, port }) => `  - id: ${r.id}
    name: "${r.name}"
    kind: ${r.kind}
    address: 127.0.0.1
    snmp: { version: 2c, community: public, port: ${port} }
    ping: { enabled: ${ping}, count: 5 }
`,
      )
      .join('');
    const file = join(DIR, `site-${site}.yaml`);
    writeFileSync(
      file,
      `# Demo site box: written by npm start
site: { id: ${site}, name: "${name}" }
mqtt:
  urls: ["mqtt://127.0.0.1:${MQTT_PORT}"]
  username: gw-${site}
  password_file: gateway-${site}.mqtt-password
state_dir: gateway-state-${site}
log_level: warn
defaults: { interval_s: 5, timeout_ms: 1500, retries: 1 }
health_interval_s: 15
# Each site box's own /metrics and /healthz (two on one machine: one port each).
metrics: { port: ${site === 'scc' ? 9310 : 9311} }
devices:
${devices}${moreDevices}${extra}`,
    );
    return file;
  };
  const sccFile = siteYaml('scc', 'Command Center (SCC) Watansoppeng', '');
  // The relay measures its own path to the command center across the SCC–relay link.
  const relayFile = siteYaml(
    'relay-kota',
    'Menara Relay Kota Watansoppeng',
    ping
      ? `uplink:
  interval_s: 60
  probes: 10
  probe_interval_ms: 200
  hops: [{ id: scc, address: 127.0.0.1, name: "Command Center (SCC)", link: scc-kota }]
`
      : '',
    cameras.yaml + office.yaml,
  );

  // From here a failure must not leave the video source running behind the demo.
  process.once('exit', () => void cameras.close());
  const broker = await startBroker(loadBrokerConfig(join(DIR, 'central.yaml')));
  const dashboard = await startDashboard(loadDashboardConfig(join(DIR, 'dashboard.yaml')));
  const gateways = [
    await startGateway(loadGatewayConfig(sccFile)),
    await startGateway(loadGatewayConfig(relayFile)),
  ];
  const commissioning = scheduleCommissioning();

  process.stdout.write(
    [
      '',
      'Pantau demo berjalan / Pantau demo is running',
      `  Dasbor / Dashboard : http://127.0.0.1:${dashboard.port}/`,
      `  Login              : admin / ${secrets.admin}`,
      `  MQTT broker        : mqtt://127.0.0.1:${broker.port} (akun dashboard: dashboard / ${secrets.dashboardMqtt})`,
      `  Gateway lokasi     : scc dan relay-kota, ${RADIOS.length} perangkat simulasi`,
      cameras.banner,
      office.banner,
      '  Tautan / Links     : hujan melewati tautan SCC – Relay Kota tiap 15 menit (kedua ujung memudar)',
      '                       dan tautan Relay – Damkar; baseline direkam otomatis setelah 2 menit',
      ping ? '' : '  (ping tidak terpasang: latensi/paket hilang kosong — apt-get install iputils-ping)',
      `  Data demo          : ${DIR}`,
      '  Tekan Ctrl+C untuk berhenti / Press Ctrl+C to stop',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    commissioning.cancel();
    await Promise.all(gateways.map((g) => g.stop()));
    await dashboard.close();
    await broker.close();
    await Promise.all(agents.map((a) => a.close()));
    await cameras.close();
    await office.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(
    `Pantau demo failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exit(1);
});
