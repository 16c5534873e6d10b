// npm run bench: one poll round of 200 simulated airMAX radios by the gateway, compared in the same
// run with net-snmp's C tool `snmpbulkget` fetching the same OIDs from the same simulators; then the
// fleet benchmark (fleet.ts): 1,000 radios over 10 site boxes against prometheus-snmp-exporter; then the
// camera benchmark (cameras.ts): 16 cameras probed every 60 s by one site box for 10 minutes; then the
// outbox benchmark (outbox.ts): a 24-hour backlog of 200 devices written, and replayed into the central.
// Then the ingest benchmark (ingest.ts): points/s into the SQLite and InfluxDB stores against raw
// line-protocol writes to the same influxd; then the broker benchmark (broker.ts): Pantau's broker
// against mosquitto, throughput, latency, memory; then the scale-out benchmark (cluster.ts): site boxes into one broker, one broker with Redis, two
// brokers, and mosquitto as the peer. Then the dashboard benchmark (dashboard.ts): 200 sites, 400 links
// and 500 cameras with 50 dashboard clients: live fan-out CPU against one client, overview API
// latency, the page's first paint in Chromium and its JavaScript and CSS.
// BENCH_DEVICES=0 skips the first part, BENCH_FLEET_DEVICES=0 the second, BENCH_CAMERAS=0 the third,
// BENCH_OUTBOX=0 the fourth, BENCH_INGEST=0 the fifth, BENCH_BROKER=0 the sixth, BENCH_CLUSTER=0 the seventh,
// BENCH_DASHBOARD=0 the eighth.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { brokerBenchOptionsFromEnv, runBrokerBench } from './broker.js';
import { cameraOptionsFromEnv, runCameras } from './cameras.js';
import { clusterBenchOptionsFromEnv, runCluster } from './cluster.js';
import { dashboardBenchOptionsFromEnv, runDashboardBench } from './dashboard.js';
import { fleetOptionsFromEnv, runFleet } from './fleet.js';
import { ingestBenchOptionsFromEnv, runIngest } from './ingest.js';
import { outboxBenchOptionsFromEnv, runOutbox } from './outbox.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const N = Number(process.env.BENCH_DEVICES ?? 200);
const CONCURRENCY = 16;
const B = '1.3.6.1.4.1.41112.1.4';

// What the collector reads each round from an airMAX radio: the system group and radio scalars
// (asked as GETNEXT of their parents = non-repeaters), then table columns (repeaters).
const SCALARS = [
  '1.3.6.1.2.1.1.1',
  '1.3.6.1.2.1.1.2',
  '1.3.6.1.2.1.1.3',
  '1.3.6.1.2.1.1.5',
  `${B}.1.1.4`,
  `${B}.1.1.6`,
  `${B}.1.1.7`,
  `${B}.5.1.5`,
  `${B}.5.1.6`,
  `${B}.5.1.7`,
  `${B}.5.1.8`,
  `${B}.5.1.9`,
  `${B}.5.1.10`,
  `${B}.5.1.15`,
  `${B}.6.1.3`,
  `${B}.6.1.4`,
  `${B}.6.1.7`,
  `${B}.8.3`,
  `${B}.8.4`,
];
const COLUMNS = [
  `${B}.2.1.2`,
  ...[3, 4, 5, 6, 11, 12, 15, 16, 17, 18, 21].map((c) => `${B}.7.1.${c}`),
  '1.3.6.1.2.1.2.2.1.8',
  '1.3.6.1.2.1.2.2.1.10',
  '1.3.6.1.2.1.2.2.1.16',
  '1.3.6.1.2.1.31.1.1.1.6',
  '1.3.6.1.2.1.31.1.1.1.10',
];

async function pollRound(): Promise<void> {
  if (!existsSync('/usr/bin/snmpbulkget')) throw new Error('snmpbulkget missing: apt-get install -y snmp');
  const sim = spawn(
    process.execPath,
    [
      join(ROOT, 'collectors/dist/snmp/simulator/cli.js'),
      '--recording',
      join(ROOT, 'test/fixtures/snmp/airos/device.snmprec'),
      '--count',
      String(N),
      '--scenario',
      'counters',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ports: number[] = [];
  for await (const line of createInterface({ input: sim.stdout! })) {
    const m = JSON.parse(line) as { port?: number; ready?: number };
    if (m.port) ports.push(m.port);
    if (m.ready) break;
  }
  try {
    const gw = await run(
      process.execPath,
      [join(ROOT, 'test/bench/dist/poll-round.js'), ...ports.map(String)],
      { env: { ...process.env, BENCH_CONCURRENCY: String(CONCURRENCY) } },
    );
    const ours = JSON.parse(gw.stdout) as {
      wall_ms: number;
      cpu_ms: number;
      rss_mb: number;
      max_rss_mb: number;
      requests: number;
      ok: number;
      failed: number;
      first_round_ms: number;
    };

    // The C tool: one snmpbulkget process per radio, 16 at a time, all OIDs in one GETBULK.
    const oids = [...SCALARS, ...COLUMNS].join(' ');
    const script = `printf '%s\\n' ${ports.join(' ')} | xargs -P ${CONCURRENCY} -I{} snmpbulkget -v2c -c public -t 2 -r 1 -Cn${SCALARS.length} -Cr20 -On 127.0.0.1:{} ${oids} > /dev/null
      times`;
    const t0 = performance.now();
    const c = await run('/bin/bash', ['-c', script], {
      env: { ...process.env, MIBS: '' },
      maxBuffer: 1 << 20,
    });
    const cWall = performance.now() - t0;
    // `times` prints shell then children user/sys times as "XmY.YYYs XmY.YYYs".
    const childLine = c.stdout.trim().split('\n').pop() ?? '';
    const secs = [...childLine.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    const cCpuMs = Math.round(((secs[0] ?? 0) + (secs[1] ?? 0)) * 1000);

    const rows = [
      ['', 'pantau gateway', 'snmpbulkget (C)', 'ratio'],
      [
        'wall time, one round (ms)',
        String(ours.wall_ms),
        String(Math.round(cWall)),
        (ours.wall_ms / cWall).toFixed(2),
      ],
      [
        'CPU time (ms)',
        String(ours.cpu_ms),
        String(cCpuMs),
        cCpuMs > 0 ? (ours.cpu_ms / cCpuMs).toFixed(2) : 'n/a',
      ],
      ['SNMP requests', String(ours.requests), String(N), (ours.requests / N).toFixed(2)],
      ['gateway RSS after the round (MB)', String(ours.rss_mb), '', ''],
      ['gateway peak RSS (MB)', String(ours.max_rss_mb), '', ''],
    ];
    process.stdout.write(
      `\nOne poll round of ${N} simulated airMAX radios (concurrency ${CONCURRENCY}; ${ours.ok} ok, ${ours.failed} failed; first round with detection ${ours.first_round_ms} ms)\n`,
    );
    for (const r of rows)
      process.stdout.write(
        `${r[0]!.padEnd(34)}${r[1]!.padStart(16)}${r[2]!.padStart(18)}${r[3]!.padStart(8)}\n`,
      );
    process.stdout.write(
      '\nratio = gateway / snmpbulkget; snmpbulkget pays a process start per radio, the gateway keeps one session per radio.\n',
    );
  } finally {
    sim.kill();
  }
}

async function main(): Promise<void> {
  const fleet = fleetOptionsFromEnv();
  const cameras = cameraOptionsFromEnv();
  const outbox = outboxBenchOptionsFromEnv();
  const ingest = ingestBenchOptionsFromEnv();
  const broker = brokerBenchOptionsFromEnv();
  if (N > 0) await pollRound();
  if (fleet.devices > 0) await runFleet(fleet);
  if (cameras.cameras > 0) await runCameras(cameras);
  if (outbox) await runOutbox(outbox);
  if (ingest) await runIngest(ingest);
  if (broker) await runBrokerBench(broker);
  const cluster = clusterBenchOptionsFromEnv();
  if (cluster) await runCluster(cluster);
  const dashboard = dashboardBenchOptionsFromEnv();
  if (dashboard) await runDashboardBench(dashboard);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
