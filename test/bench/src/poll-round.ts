// One gateway process polling N simulated radios: the same sessions, memories and concurrency limit as
// the site box daemon. Prints one JSON line with the steady-state round's figures.

import { collectSnmp, newSnmpMemory, SnmpSession } from '@pantau/collectors/snmp';

const ports = process.argv.slice(2).map(Number);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

const devices = ports.map((port) => ({
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

async function round(): Promise<{ ok: number; failed: number; readings: number }> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  let readings = 0;
  const worker = async () => {
    for (let i = next++; i < devices.length; i = next++) {
      const d = devices[i]!;
      try {
        readings += (await collectSnmp(d.session, d.memory)).readings.length;
        ok++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { ok, failed, readings };
}

// The first round detects each radio's profile and model; the steady state is what repeats every interval.
const warm0 = performance.now();
await round();
const warmMs = performance.now() - warm0;
const requests0 = devices.reduce((n, d) => n + d.session.requests, 0);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const r = await round();
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const requests = devices.reduce((n, d) => n + d.session.requests, 0) - requests0;
process.stdout.write(
  `${JSON.stringify({
    devices: devices.length,
    concurrency: CONCURRENCY,
    first_round_ms: Math.round(warmMs),
    wall_ms: Math.round(wallMs),
    cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
    rss_mb: Math.round(process.memoryUsage().rss / 1048576),
    max_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    requests,
    ...r,
  })}\n`,
);
for (const d of devices) d.session.close();
