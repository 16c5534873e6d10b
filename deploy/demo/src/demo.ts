// `npm start`: the whole of Pantau on one machine. A central (broker + dashboard on the embedded
// SQLite store) and one simulated site box polling simulated radios recorded from real devices,
// one of them fading as in rain. Everything listens on 127.0.0.1 only; nothing needs the internet.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBrokerConfig, startBroker } from '@pantau/broker';
import { type Scenario, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { generateSecret } from '@pantau/config';
import { loadDashboardConfig, startDashboard } from '@pantau/dashboard';
import { loadGatewayConfig, startGateway } from '@pantau/gateway';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DIR = resolve(process.env.PANTAU_DEMO_DIR ?? join(ROOT, '.pantau-demo'));
const MQTT_PORT = Number(process.env.PANTAU_DEMO_MQTT_PORT ?? 18830);
const HTTP_PORT = Number(process.env.PANTAU_DEMO_HTTP_PORT ?? 18080);
const FIXTURES = join(ROOT, 'test', 'fixtures', 'snmp');

interface DemoRadio {
  id: string;
  name: string;
  recording: string;
  kind: 'radio' | 'host';
  scenarios: Scenario[];
}

const MINUTE = 60_000;
const RADIOS: DemoRadio[] = [
  {
    id: 'ptp-rsud',
    name: 'Pemancar RSUD Latemmamala → SCC',
    recording: 'airos',
    kind: 'radio',
    scenarios: [{ kind: 'counters', bitRateIn: 12e6, bitRateOut: 3e6 }],
  },
  // Rain over the hills every 12 minutes: the signal sinks 22 dB over four minutes (SNR falls below
  // 15 dB: "Sinyal lemah") and comes back; the noise floor stays put.
  {
    id: 'ptp-damkar',
    name: 'Pemancar Damkar → SCC (hujan)',
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
    id: 'ptp-psc',
    name: 'Pemancar PSC 119 → SCC',
    recording: 'airos',
    kind: 'radio',
    scenarios: [{ kind: 'counters', bitRateIn: 4e6, bitRateOut: 1e6 }],
  },
  {
    id: 'ptp-gasis',
    name: 'Pemancar Lapangan Gasis → SCC',
    recording: 'airos',
    kind: 'radio',
    scenarios: [
      { kind: 'counters', bitRateIn: 20e6, bitRateOut: 5e6 },
      { kind: 'reboot', atMs: 2 * MINUTE },
    ],
  },
  {
    id: 'router-villa',
    name: 'Router Mes Villa Yuliana',
    recording: 'openwrt',
    kind: 'host',
    scenarios: [{ kind: 'counters', bitRateIn: 2e6, bitRateOut: 0.5e6 }],
  },
];

interface DemoSecrets {
  gateway: string;
  dashboardMqtt: string;
  admin: string;
}

function cli(pkg: 'broker' | 'dashboard', args: string[]): void {
  execFileSync(process.execPath, [join(ROOT, pkg, 'dist', 'cli.js'), ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Credentials are generated on the first run and kept (0600) so the login stays the same. */
function firstRunSecrets(): DemoSecrets {
  const file = join(DIR, 'demo-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DemoSecrets;
  mkdirSync(DIR, { recursive: true, mode: 0o700 });
  const s: DemoSecrets = {
    gateway: generateSecret(),
    dashboardMqtt: generateSecret(),
    admin: generateSecret(9),
  };
  const cred = join(DIR, 'credentials.yaml');
  cli('broker', [
    'credentials',
    'add-gateway',
    '--file',
    cred,
    '--site',
    'relay-kota',
    '--password',
    s.gateway,
  ]);
  cli('broker', [
    'credentials',
    'add-reader',
    '--file',
    cred,
    '--username',
    'dashboard',
    '--password',
    s.dashboardMqtt,
  ]);
  cli('dashboard', [
    'users',
    'add',
    '--file',
    join(DIR, 'users.yaml'),
    '--username',
    'admin',
    '--role',
    'admin',
    '--password',
    s.admin,
  ]);
  writeFileSync(join(DIR, 'gateway.mqtt-password'), `${s.gateway}\n`, { mode: 0o600 });
  writeFileSync(join(DIR, 'dashboard.mqtt-password'), `${s.dashboardMqtt}\n`, { mode: 0o600 });
  writeFileSync(file, JSON.stringify(s, null, 2), { mode: 0o600 });
  return s;
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

  writeFileSync(
    join(DIR, 'central.yaml'),
    `# Demo central: written by npm start\nmqtt:\n  host: 127.0.0.1\n  port: ${MQTT_PORT}\ncredentials_file: credentials.yaml\nstore: { kind: sqlite, path: central.db }\nlog_level: warn\n`,
  );
  writeFileSync(
    join(DIR, 'dashboard.yaml'),
    `# Demo dashboard: written by npm start\nhttp: { host: 127.0.0.1, port: ${HTTP_PORT} }\nmqtt: { url: "mqtt://127.0.0.1:${MQTT_PORT}", username: dashboard, password_file: dashboard.mqtt-password }\nstore: { kind: sqlite, path: central.db }\nusers_file: users.yaml\nlanguage: id\ntimezone: Asia/Makassar\nlog_level: warn\n`,
  );
  const ping = hasPing();
  const devices = RADIOS.map(
    (r, i) => `  - id: ${r.id}
    name: "${r.name}"
    kind: ${r.kind}
    address: 127.0.0.1
    snmp: { version: 2c, community: public, port: ${agents[i]!.port} }
    ping: { enabled: ${ping}, count: 5 }
`,
  ).join('');
  writeFileSync(
    join(DIR, 'site.yaml'),
    `# Demo site box: written by npm start
site: { id: relay-kota, name: "Menara Relay Kota Watansoppeng" }
mqtt:
  urls: ["mqtt://127.0.0.1:${MQTT_PORT}"]
  username: gw-relay-kota
  password_file: gateway.mqtt-password
state_dir: gateway-state
log_level: warn
defaults: { interval_s: 5, timeout_ms: 1500, retries: 1 }
health_interval_s: 15
devices:
${devices}`,
  );

  const broker = await startBroker(loadBrokerConfig(join(DIR, 'central.yaml')));
  const dashboard = await startDashboard(loadDashboardConfig(join(DIR, 'dashboard.yaml')));
  const gateway = await startGateway(loadGatewayConfig(join(DIR, 'site.yaml')));

  process.stdout.write(
    [
      '',
      'Pantau demo berjalan / Pantau demo is running',
      `  Dasbor / Dashboard : http://127.0.0.1:${dashboard.port}/`,
      `  Login              : admin / ${secrets.admin}`,
      `  MQTT broker        : mqtt://127.0.0.1:${broker.port} (akun dashboard: dashboard / ${secrets.dashboardMqtt})`,
      `  Gateway lokasi     : relay-kota, ${RADIOS.length} perangkat simulasi (satu memudar karena hujan)`,
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
    await gateway.stop();
    await dashboard.close();
    await broker.close();
    await Promise.all(agents.map((a) => a.close()));
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
