// One replay of the outbox benchmark, in its own process so its memory is the site box's alone: opens
// the outbox, connects a publisher to the central, and prints a JSON line per 500 ms
// ({"acked", "depth", "rss_mb"}) until the outbox is empty or `seconds` have passed, then
// {"done": true, …}. Spec in OUTBOX_REPLAY (JSON): path, port, site, password, rate, seconds?.

import pino from 'pino';
import { DiskOutbox } from '../../../gateway/dist/outbox.js';
import { Publisher } from '../../../gateway/dist/publisher.js';

interface Spec {
  path: string;
  port: number;
  site: string;
  password: string;
  rate: number;
  seconds?: number;
}

const spec = JSON.parse(process.env.OUTBOX_REPLAY ?? '{}') as Spec;
const emit = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const outbox = new DiskOutbox({ path: spec.path, maxBytes: 4 * 1024 ** 3 });
  const depth0 = outbox.depth;
  const p = new Publisher({
    site: spec.site,
    urls: [`mqtt://127.0.0.1:${spec.port}`],
    username: `gw-${spec.site}`,
    password: spec.password,
    keepaliveS: 30,
    clientId: `pantau-gw-${spec.site}-bench`,
    log: pino({ level: 'warn' }),
    birth: () => ({ v: 1, state: 'online', ts: Date.now(), site: spec.site }),
    outbox,
    replayRatePerS: spec.rate,
  });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let peak = 0;
  let peakHeap = 0;
  p.start();
  const until = spec.seconds ? t0 + spec.seconds * 1000 : Number.POSITIVE_INFINITY;
  while (outbox.depth > 0 && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    const mem = process.memoryUsage();
    const rss = mem.rss / 1024 / 1024;
    peak = Math.max(peak, rss);
    peakHeap = Math.max(peakHeap, mem.heapUsed / 1024 / 1024);
    emit({ acked: p.counts.acked, depth: outbox.depth, rss_mb: rss });
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const acked = p.counts.acked;
  await p.stop();
  emit({
    done: true,
    depth0,
    acked,
    backfill: p.counts.backfill,
    wall_ms: wallMs,
    cpu_ms: (cpu.user + cpu.system) / 1000,
    peak_rss_mb: peak,
    peak_heap_mb: peakHeap,
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`outbox replay failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
