// One site box of the fleet benchmark, as its own process. Two modes:
//  - daemon:    the real site box daemon (startGateway: scheduler, health rules, MQTT publisher) on a
//               site.yaml with its radios, publishing to the benchmark's broker, paced by interval_s;
//  - collector: the collector path alone (collectSnmp + newSnmpMemory, the daemon's concurrency),
//               rounds back to back.
// The box warms up (first poll: profile detection and identity), says {"phase":"warm"} on stdout,
// waits for "go" on stdin, measures its own CPU over the measured polls only, and prints
// {"phase":"done", ...}.

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { collectSnmp, newSnmpMemory, SnmpSession } from '@pantau/collectors/snmp';
import { loadGatewayConfig, startGateway } from '@pantau/gateway';
import pino from 'pino';

export interface BoxSpec {
  box: number;
  mode: 'daemon' | 'collector';
  ports: number[];
  rounds: number;
  concurrency: number;
  /** daemon mode: where to write site.yaml and the state dir, the broker, the poll interval. */
  dir?: string;
  mqttPort?: number;
  intervalS?: number;
}

export interface BoxResult {
  phase: 'done';
  box: number;
  mode: BoxSpec['mode'];
  devices: number;
  polls: number;
  failed: number;
  /** Polls whose result carried the airMAX profile, rx power and interface rates. */
  radio_ok: number;
  cpu_ms: number;
  wall_ms: number;
  round_wall_ms: number[];
  /** SNMP requests sent in the measured polls (collector mode only; the daemon does not expose it). */
  requests: number | null;
  rss_mb: number;
  max_rss_mb: number;
  /** daemon mode: messages still waiting for the broker at the end, and whether it was connected. */
  outbox?: number;
  connected?: boolean;
  /** daemon mode: successful polls since start, warm-up included (each one published telemetry). */
  total_ok?: number;
}

const spec = JSON.parse(process.env.FLEET_BOX ?? '{}') as BoxSpec;
const emit = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const go = new Promise<void>((resolve) => {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    if (l.trim() === 'go') {
      rl.close();
      resolve();
    }
  });
});
const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;

/** BENCH_FLEET_PROFILE=DIR: a V8 CPU profile of the measured polls only (the figures then include its cost). */
async function profiler(): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_FLEET_PROFILE;
  if (!dir) return async () => {};
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `box-${spec.box}-${spec.mode}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}
const memory = () => ({
  rss_mb: process.memoryUsage().rss / 1048576,
  max_rss_mb: process.resourceUsage().maxRSS / 1024,
});

async function collectorBox(): Promise<BoxResult> {
  const devices = spec.ports.map((port) => ({
    session: new SnmpSession({
      address: '127.0.0.1',
      port,
      version: '2c',
      community: 'public',
      timeoutMs: 2000,
      retries: 1,
    }),
    memory: newSnmpMemory(),
  }));
  const round = async () => {
    let next = 0;
    let ok = 0;
    let failed = 0;
    let radioOk = 0;
    const worker = async () => {
      for (let i = next++; i < devices.length; i = next++) {
        const d = devices[i]!;
        try {
          const r = await collectSnmp(d.session, d.memory);
          ok++;
          const dev = r.readings[0]?.values;
          if (
            r.identity?.profile === 'airmax' &&
            dev?.rx_power_dbm !== undefined &&
            dev.frequency_mhz !== undefined &&
            r.readings.some((x) => x.labels?.iface !== undefined && x.values.if_in_bps !== undefined)
          )
            radioOk++;
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: spec.concurrency }, worker));
    return { ok, failed, radioOk };
  };

  // Two rounds before measuring: detection and identity, then the first rates (which need a previous sample).
  await round();
  await round();
  emit({ phase: 'warm', box: spec.box });
  await go;
  const stopProfile = await profiler();
  const requests0 = devices.reduce((n, d) => n + d.session.requests, 0);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const walls: number[] = [];
  let polls = 0;
  let failed = 0;
  let radioOk = 0;
  for (let r = 0; r < spec.rounds; r++) {
    const t = performance.now();
    const res = await round();
    walls.push(performance.now() - t);
    polls += res.ok + res.failed;
    failed += res.failed;
    radioOk += res.radioOk;
  }
  const cpu = cpuMs(process.cpuUsage(cpu0));
  const wall = performance.now() - t0;
  const requests = devices.reduce((n, d) => n + d.session.requests, 0) - requests0;
  await stopProfile();
  for (const d of devices) d.session.close();
  return {
    phase: 'done',
    box: spec.box,
    mode: 'collector',
    devices: devices.length,
    polls,
    failed,
    radio_ok: radioOk,
    cpu_ms: cpu,
    wall_ms: wall,
    round_wall_ms: walls,
    requests,
    ...memory(),
  };
}

async function daemonBox(): Promise<BoxResult> {
  const dir = spec.dir!;
  const interval = spec.intervalS ?? 5;
  const site = `bench-box-${spec.box}`;
  const devices = spec.ports
    .map(
      (port, i) => `  - id: radio-${i}
    kind: radio
    address: 127.0.0.1
    snmp: { version: 2c, community: public, port: ${port} }
`,
    )
    .join('');
  const file = join(dir, 'site.yaml');
  writeFileSync(
    file,
    `# Written by the Pantau fleet benchmark.
site: { id: ${site}, name: "Benchmark box ${spec.box}" }
mqtt:
  urls: ["mqtt://127.0.0.1:${spec.mqttPort}"]
  username: ${site}
  password: bench-only
state_dir: ${join(dir, 'state')}
log_level: warn
defaults: { interval_s: ${interval}, timeout_ms: 2000, retries: 1 }
concurrency: { snmp: ${spec.concurrency} }
devices:
${devices}`,
  );
  // Warnings go to stderr while measuring; the goodbye at the end (stop mid-flush) is not news.
  let quiet = false;
  const gw = await startGateway(loadGatewayConfig(file), {
    logger: pino({ level: 'warn' }, { write: (s: string) => quiet || process.stderr.write(s) }),
  });
  const done = () => {
    const p = gw.stats().polls;
    return { ok: p.ok, failed: p.failed };
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // Each device's first poll lands somewhere in the first interval, the second one an interval later:
  // warm once two intervals have passed, every device has had its first poll, and the uplink is up.
  const start = performance.now();
  while (performance.now() - start < 2.1 * interval * 1000 || done().ok < 2 * spec.ports.length) {
    if (performance.now() - start > 10 * interval * 1000 + 30_000)
      throw new Error(`box ${spec.box}: no warm-up after ${JSON.stringify(gw.stats())}`);
    await sleep(200);
  }
  emit({ phase: 'warm', box: spec.box });
  await go;
  const stopProfile = await profiler();
  const target = spec.ports.length * spec.rounds;
  const s0 = done();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let s = s0;
  // Polls come at their own times; a check every 100 ms costs the box next to nothing.
  while (s.ok + s.failed - s0.ok - s0.failed < target) {
    await sleep(100);
    s = done();
  }
  const cpu = cpuMs(process.cpuUsage(cpu0));
  const wall = performance.now() - t0;
  const stats = gw.stats();
  const mem = memory();
  await stopProfile();
  quiet = true;
  await gw.stop();
  const polls = s.ok + s.failed - s0.ok - s0.failed;
  return {
    phase: 'done',
    box: spec.box,
    mode: 'daemon',
    devices: spec.ports.length,
    polls,
    failed: s.failed - s0.failed,
    // The daemon publishes what it read; the orchestrator's broker checks the radio metrics arrived.
    radio_ok: s.ok - s0.ok,
    cpu_ms: cpu,
    wall_ms: wall,
    round_wall_ms: Array.from({ length: spec.rounds }, () => wall / spec.rounds),
    requests: null,
    ...mem,
    outbox: stats.outbox,
    connected: stats.connected,
    total_ok: stats.polls.ok,
  };
}

try {
  emit(await (spec.mode === 'daemon' ? daemonBox() : collectorBox()));
  process.exit(0);
} catch (e) {
  process.stderr.write(`fleet box ${spec.box}: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
}
