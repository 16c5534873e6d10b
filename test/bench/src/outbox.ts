// The outbox benchmark (npm run bench; BENCH_OUTBOX=0 skips it): a 24-hour backlog of 200 devices
// read every 30 s (576,000 telemetry batches of a radio's usual size) written to the site box's disk
// outbox, then drained into the real central broker (its own process: aedes, ingest, SQLite store).
//  - write throughput with the default group commit (1 s or 500 messages, one fsync each);
//  - bytes on disk per reading;
//  - what the live case writes per day (SD card wear): 200 devices at 30 s, each message
//    acknowledged at once, with the group commit and with one commit per message;
//  - replay drain time at the default rate cap (50/s on top of the live rate: computed from the
//    cap, and a slice measured) and uncapped (measured end to end, every batch counted at the
//    central), with the site box side's RSS during the replay.
// Sizes: BENCH_OUTBOX_DEVICES (200), BENCH_OUTBOX_HOURS (24), BENCH_OUTBOX_INTERVAL_S (30).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { topics } from '@pantau/contract';
import { Aedes } from 'aedes';
import Database from 'better-sqlite3';
// The outbox and publisher are internals of the site box, not its package API: read from its build.
import { DiskOutbox, OUTBOX_DEFAULTS } from '../../../gateway/dist/outbox.js';
import { PUBLISHER_DEFAULTS } from '../../../gateway/dist/publisher.js';
import { procCpuMs, rssMb, sleep } from './util.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const SITE = 'bench-outbox';

export interface OutboxBenchOptions {
  devices: number;
  hours: number;
  intervalS: number;
  /** Seconds the capped replay is measured for. */
  sliceS: number;
}

export function outboxBenchOptionsFromEnv(): OutboxBenchOptions | null {
  if (process.env.BENCH_OUTBOX === '0') return null;
  const n = (k: string, d: number) => {
    const v = Number(process.env[k] ?? d);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${k} must be a number > 0, got ${process.env[k]}`);
    return v;
  };
  return {
    devices: n('BENCH_OUTBOX_DEVICES', 200),
    hours: n('BENCH_OUTBOX_HOURS', 24),
    intervalS: n('BENCH_OUTBOX_INTERVAL_S', 30),
    sliceS: n('BENCH_OUTBOX_SLICE_S', 60),
  };
}

const log = (s: string) => process.stderr.write(`[outbox] ${s}\n`);
const f = (x: number, d = 0) =>
  x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const mb = (b: number) => b / 1024 / 1024;

/** A radio's telemetry batch as the site box writes it (airMAX: radio figures + the radio interface). */
function batch(seq: number, device: number, ts: number): Buffer {
  const j = (base: number, spread: number) => Math.round(base + ((seq * 7919 + device * 104729) % spread));
  return Buffer.from(
    JSON.stringify({
      v: 1,
      seq,
      device: `radio-${String(device).padStart(3, '0')}`,
      backfill: false,
      readings: [
        {
          ts,
          values: {
            rx_power_dbm: -j(55, 20),
            snr_db: j(25, 15),
            noise_floor_dbm: -j(90, 8),
            ccq_pct: j(80, 20),
            capacity_tx_bps: j(120e6, 60e6),
            capacity_rx_bps: j(110e6, 60e6),
            rate_tx_bps: j(2e6, 8e6),
            rate_rx_bps: j(6e6, 20e6),
            frequency_mhz: 5800,
            stations_count: 1,
            uptime_s: 86400 * 30 + seq,
          },
        },
        { ts, values: { if_in_bps: j(6e6, 20e6), if_out_bps: j(2e6, 8e6) }, labels: { iface: 'ath0' } },
      ],
    }),
  );
}

/** This process's bytes handed to write(2) and bytes that reached the block layer (if the kernel counts them). */
function io(): { wchar: number; writeBytes: number } {
  const t = readFileSync('/proc/self/io', 'utf8');
  const g = (k: string) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(t)?.[1] ?? 0);
  return { wchar: g('wchar'), writeBytes: g('write_bytes') };
}

/** The live case for `seconds` simulated seconds: writes, commits, acknowledgements as they would come. */
async function liveWrites(dir: string, perSecond: number, seconds: number, commitMaxMessages: number) {
  const path = join(dir, `live-${commitMaxMessages}.db`);
  const o = new DiskOutbox({ path, commitIntervalMs: 3_600_000, commitMaxMessages: 1_000_000 });
  let seq = 0;
  let cursor = 0;
  let carry = 0;
  const io0 = io();
  const t0 = performance.now();
  let commits = 0;
  for (let s = 0; s < seconds; s++) {
    carry += perSecond;
    const n = Math.floor(carry);
    carry -= n;
    for (let k = 0; k < n; k++) {
      seq++;
      o.push({ topic: 't', body: batch(seq, seq % 200, Date.now()), ts: Date.now(), seq });
      if (commitMaxMessages === 1) {
        o.commit();
        commits++;
      }
    }
    if (commitMaxMessages !== 1) {
      o.commit();
      commits++;
    }
    // Published once durable and acknowledged within the window: deleted with the next commit.
    for (const i of o.next(cursor, 1e6)) {
      cursor = i.id;
      o.ack(i.id);
    }
  }
  o.commit();
  const wall = performance.now() - t0;
  const io1 = io();
  o.close();
  return {
    messages: seq,
    commits,
    wchar: io1.wchar - io0.wchar,
    writeBytes: io1.writeBytes - io0.writeBytes,
    wallMs: wall,
  };
}

interface Central {
  proc: ChildProcess;
  port: number;
  db: string;
  stop(): Promise<void>;
}

async function startCentral(dir: string): Promise<Central> {
  const cli = join(ROOT, 'broker/dist/cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: npm run build`);
  const cred = join(dir, 'credentials.yaml');
  execFileSync(process.execPath, [
    cli,
    'credentials',
    'add-gateway',
    '--file',
    cred,
    '--site',
    SITE,
    '--password',
    'bench-secret-1',
  ]);
  const port = await new Promise<number>((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  writeFileSync(
    join(dir, 'central.yaml'),
    // The broker's publish limit off (as high as it goes): this measures the outbox, not the limit.
    `mqtt: { host: 127.0.0.1, port: ${port} }\ncredentials_file: credentials.yaml\nstore: { kind: sqlite, path: central.db }\nlimits: { publish_rate_per_s: 100000, publish_burst: 1000000 }\nlog_level: warn\n`,
  );
  const proc = spawn(process.execPath, [cli, '--config', join(dir, 'central.yaml')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) break;
    if (i > 200) throw new Error('the central broker did not start');
    await sleep(100);
  }
  return {
    proc,
    port,
    db: join(dir, 'central.db'),
    stop: () =>
      new Promise<void>((res) => {
        if (proc.exitCode !== null) return res();
        proc.once('exit', () => res());
        proc.kill('SIGTERM');
      }),
  };
}

function centralCount(db: string): { batches: number; backfill: number; maxSeq: number } {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  d.pragma('busy_timeout = 5000');
  try {
    return d
      .prepare(
        'SELECT COUNT(*) AS batches, COALESCE(SUM(backfill), 0) AS backfill, COALESCE(MAX(seq), 0) AS maxSeq FROM batches WHERE site = ?',
      )
      .get(SITE) as { batches: number; backfill: number; maxSeq: number };
  } finally {
    d.close();
  }
}

interface ReplayDone {
  depth0: number;
  acked: number;
  backfill: number;
  wall_ms: number;
  cpu_ms: number;
  peak_rss_mb: number;
  peak_heap_mb: number;
}

/** One replay in its own process (outbox-replay.ts); RSS sampled from /proc as it goes. */
async function replay(
  spec: { path: string; port: number; rate: number; seconds?: number },
  central: Central | null,
): Promise<{ done: ReplayDone; rss: number[]; centralPeakRss: number; centralCpuMs: number }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'outbox-replay.js')], {
    env: {
      ...process.env,
      OUTBOX_REPLAY: JSON.stringify({ ...spec, site: SITE, password: 'bench-secret-1' }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const rss: number[] = [];
  let centralPeakRss = 0;
  const cpu0 = central ? procCpuMs(central.proc.pid!) : 0;
  const sampler = setInterval(() => {
    const r = rssMb(child.pid!);
    if (r > 0) rss.push(r);
    if (central) centralPeakRss = Math.max(centralPeakRss, rssMb(central.proc.pid!));
  }, 200);
  let done: ReplayDone | null = null;
  let lastLog = performance.now();
  try {
    for await (const line of createInterface({ input: child.stdout! })) {
      const m = JSON.parse(line) as Partial<ReplayDone> & { done?: boolean; depth?: number };
      if (m.done) done = m as ReplayDone;
      else if (performance.now() - lastLog > 15_000) {
        lastLog = performance.now();
        log(`replay at ${spec.rate || 'no'} cap: ${f(m.depth ?? 0)} left`);
      }
    }
  } finally {
    clearInterval(sampler);
  }
  const code = await new Promise<number | null>((r) =>
    child.exitCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c)),
  );
  if (!done || code !== 0) throw new Error(`the replay process failed (exit ${code})`);
  return { done, rss, centralPeakRss, centralCpuMs: central ? procCpuMs(central.proc.pid!) - cpu0 : 0 };
}

/** Writes the backlog into a fresh outbox as fast as the loop makes it; closes it. */
async function fill(path: string, opts: OutboxBenchOptions, total: number) {
  for (const ext of ['', '-wal', '-shm']) rmSync(`${path}${ext}`, { force: true });
  const o = new DiskOutbox({ path, maxBytes: 4 * 1024 ** 3 });
  const start = Date.now() - opts.hours * 3600_000;
  const stepMs = (opts.intervalS * 1000) / opts.devices;
  const topic = (d: number) => topics.deviceTelemetry(SITE, `radio-${String(d).padStart(3, '0')}`);
  let bodyBytes = 0;
  const w0 = performance.now();
  const c0 = process.cpuUsage();
  for (let seq = 1; seq <= total; seq++) {
    const d = seq % opts.devices;
    const ts = Math.round(start + seq * stepMs);
    const body = batch(seq, d, ts);
    bodyBytes += body.length;
    o.push({ topic: topic(d), body, ts, seq });
    // Let the group commit run (it is scheduled, never inline).
    if (seq % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  o.commit();
  const writeMs = performance.now() - w0;
  const writeCpu = process.cpuUsage(c0);
  const commits = o.commits;
  const used = o.usedBytes;
  o.close();
  return { writeMs, writeCpu, commits, used, bodyBytes };
}

/** A bare MQTT broker in this process (aedes, any client accepted, nothing stored): counts telemetry. */
async function bareBroker(): Promise<{ port: number; received: () => number; close(): Promise<void> }> {
  const aedes = await Aedes.createBroker();
  let received = 0;
  aedes.on('publish', (packet, client) => {
    if (client && packet.topic.endsWith('/telemetry')) received++;
  });
  const server = createServer((sock) => aedes.handle(sock));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    received: () => received,
    close: async () => {
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export async function runOutbox(opts: OutboxBenchOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-bench-outbox-'));
  const total = Math.round((opts.devices * opts.hours * 3600) / opts.intervalS);
  const perSecond = opts.devices / opts.intervalS;
  let central: Central | null = null;
  try {
    // 1. The live case: what the outbox writes per day when every message is acknowledged at once.
    const liveSeconds = 600;
    log(
      `live case: ${f(perSecond, 2)} messages/s for ${liveSeconds} simulated seconds, grouped and one by one`,
    );
    const grouped = await liveWrites(dir, perSecond, liveSeconds, OUTBOX_DEFAULTS.commitMaxMessages);
    const single = await liveWrites(dir, perSecond, liveSeconds, 1);
    const perDay = (x: number) => (x / liveSeconds) * 86400;

    // 2. The backlog: a day of readings written while the link is down, as fast as they come.
    const path = join(dir, 'outbox.db');
    log(
      `backlog: writing ${f(total)} telemetry batches (${opts.devices} devices × ${opts.hours} h / ${opts.intervalS} s)`,
    );
    const { writeMs, writeCpu, commits, used, bodyBytes } = await fill(path, opts, total);
    const fileBytes = statSync(path).size;
    log(`written in ${f(writeMs / 1000, 1)} s; ${f(mb(fileBytes), 1)} MiB on disk`);

    // 3. The replay into the real central, each in its own process (the site box side's memory
    // alone): a slice at the default cap, then the rest uncapped.
    central = await startCentral(dir);
    const rate = PUBLISHER_DEFAULTS.replayRatePerS;
    const capped = await replay({ path, port: central.port, rate, seconds: opts.sliceS }, central);
    const cappedRate = capped.done.acked / (capped.done.wall_ms / 1000);
    log(`capped slice: ${capped.done.acked} acknowledged in ${f(capped.done.wall_ms / 1000, 1)} s`);
    const uncapped = await replay({ path, port: central.port, rate: 0 }, central);
    const left = uncapped.done.depth0;
    const drainMs = uncapped.done.wall_ms;
    // Everything arrived, once (the central's key is site + seq), flagged backfill.
    let got = centralCount(central.db);
    for (let i = 0; i < 50 && got.batches < total; i++) {
      await sleep(100);
      got = centralCount(central.db);
    }
    if (got.batches !== total || got.maxSeq !== total)
      throw new Error(`the central has ${got.batches} of ${total} batches (max seq ${got.maxSeq})`);
    if (got.backfill !== total) throw new Error(`only ${got.backfill} of ${total} batches flagged backfill`);
    await central.stop();
    central = null;

    // 4. The site box's own limit: the same backlog again, uncapped into a broker that stores nothing.
    log('backlog again, replayed into a bare aedes (no store)');
    await fill(path, opts, total);
    const bare = await bareBroker();
    let bareRun: Awaited<ReturnType<typeof replay>>;
    try {
      bareRun = await replay({ path, port: bare.port, rate: 0 }, null);
      if (bare.received() < total) throw new Error(`the bare broker got ${bare.received()} of ${total}`);
    } finally {
      await bare.close();
    }
    const rss = uncapped.rss.sort((a, b) => a - b);
    const medianRss = rss[Math.floor(rss.length / 2)] ?? 0;
    const peakRss = rss.at(-1) ?? 0;

    const rows: Array<[string, string]> = [
      [
        'backlog',
        `${f(total)} telemetry batches (${opts.devices} devices × ${opts.hours} h, every ${opts.intervalS} s)`,
      ],
      ['mean message body', `${f(bodyBytes / total)} bytes (JSON as published)`],
      [
        'outbox write throughput',
        `${f(total / (writeMs / 1000))} messages/s (${f(writeMs / 1000, 1)} s wall, ${f((writeCpu.user + writeCpu.system) / 1000 / 1000, 1)} s CPU; ${f(commits)} group commits, each one fsync)`,
      ],
      [
        'bytes on disk per reading',
        `${f(fileBytes / total)} bytes (file ${f(mb(fileBytes), 1)} MiB; pages in use ${f(used / total)} bytes per reading; body ${f(bodyBytes / total)})`,
      ],
      [
        'live case, written per day',
        `${f(mb(perDay(grouped.wchar)), 0)} MiB with the group commit (${f(perDay(grouped.commits))} commits/day) vs ${f(mb(perDay(single.wchar)), 0)} MiB with one commit per message; block layer: ${grouped.writeBytes || single.writeBytes ? `${f(mb(perDay(grouped.writeBytes)), 0)} vs ${f(mb(perDay(single.writeBytes)), 0)} MiB/day` : 'not counted by this kernel'}`,
      ],
      [
        `replay at the default cap (${rate}/s + live)`,
        `${f(total / rate / 3600, 2)} h to drain the backlog (computed: ${f(total)} / ${rate} per second, on top of the live readings); measured slice: ${f(cappedRate, 1)} messages/s over ${f(capped.done.wall_ms / 1000, 1)} s from a backlog of ${f(capped.done.depth0)}`,
      ],
      [
        'replay uncapped (measured)',
        `${f(drainMs / 1000, 1)} s for ${f(left)} messages = ${f(left / (drainMs / 1000))} messages/s into the real central (aedes + ingest + SQLite), window ${PUBLISHER_DEFAULTS.inflight}; site-box side CPU ${f(uncapped.done.cpu_ms / 1000, 1)} s, central CPU ${f(uncapped.centralCpuMs / 1000, 1)} s`,
      ],
      [
        'replay uncapped into a bare broker',
        `${f(bareRun.done.wall_ms / 1000, 1)} s = ${f(bareRun.done.depth0 / (bareRun.done.wall_ms / 1000))} messages/s (aedes in-process, nothing stored: the site box's own limit); site-box side CPU ${f(bareRun.done.cpu_ms / 1000, 1)} s, RSS peak ${f(Math.max(...bareRun.rss, 0), 1)} MiB`,
      ],
      [
        'RSS during the capped replay (measured)',
        `site box side: peak ${f(Math.max(...capped.rss, 0), 1)} MiB, median ${f([...capped.rss].sort((a, b) => a - b)[Math.floor(capped.rss.length / 2)] ?? 0, 1)} MiB over the ${f(capped.done.wall_ms / 1000, 1)} s slice`,
      ],
      [
        'RSS during the uncapped replay',
        `site box side (its own process: outbox + publisher + MQTT client): peak ${f(peakRss, 1)} MiB, median ${f(medianRss, 1)} MiB (JS heap in use at most ${f(uncapped.done.peak_heap_mb, 1)} MiB; the process idles at about 60 MiB with its modules loaded); central broker peak ${f(uncapped.centralPeakRss, 1)} MiB`,
      ],
      ['at the central', `${f(got.batches)} batches, each once, all flagged backfill`],
    ];
    process.stdout.write('\nOutbox: a 24-hour backlog\n');
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(40)}${v}\n`);
    process.stdout.write(
      `\nWrite throughput: pushes as fast as the loop can make them, group commit every ${OUTBOX_DEFAULTS.commitMaxMessages} messages (or ${OUTBOX_DEFAULTS.commitIntervalMs} ms), synchronous=FULL (one fsync per commit). Live case: ${f(perSecond, 2)} messages/s over ${liveSeconds} simulated seconds, each acknowledged at once and deleted with the next commit, extrapolated to a day from this process's write(2) bytes.\n`,
    );
  } finally {
    await central?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
