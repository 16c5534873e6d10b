// The broker benchmark (npm run bench; BENCH_BROKER=0 skips it): Pantau's broker (aedes with accounts,
// ACLs and ingest into SQLite, its own process) against Debian's mosquitto 2 configured by
// `pantau-broker mosquitto-config` (the same accounts, password file and ACL), in the same run, under
// the same load:
//  1. saturation: BENCH_BROKER_PUBLISHERS (4) processes, each with BENCH_BROKER_CONNS (25) site-box
//     connections publishing telemetry-sized QoS 1 messages on their own site's topics, closed loop
//     with BENCH_BROKER_WINDOW (16) unacknowledged messages per connection, plus one reader subscribed
//     to pantau/v1/# at QoS 1: acknowledged messages/s, delivered messages/s, latency; the brokers
//     one after the other, BENCH_BROKER_REPEAT (3) times (the machine drifts; the median counts);
//  2. latency at equal load: open loop at half the slower broker's saturation rate, p50/p99 delivery
//     latency (publisher's clock to subscriber's clock, both on this machine);
//  3. memory: BENCH_BROKER_IDLE (10,000) site-box connections (persistent session, last will, their
//     request subscription) over 4 processes and 4 loopback source addresses: RSS growth / connection.
//  BENCH_BROKER_COMPARE=<another checkout>/broker/dist/cli.js: instead, this build's broker against
//     that build's, saturation rounds interleaved (compareBuilds), for a change of a few percent.
// The load processes speak MQTT with a minimal hand-written codec (mqtt-lean.ts) so that they stay
// cheaper than the brokers; they still share the machine's cores with them (see the printed note).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { addGateway, addReader } from '@pantau/broker';
import Database from 'better-sqlite3';
import type { Account, LoadConfig } from './broker-load.js';
import { envWhole, fmt as f, freePort, median, procStat, sleep, waitPort } from './util.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const CLI = join(ROOT, 'broker/dist/cli.js');
const LOAD = join(import.meta.dirname, 'broker-load.js');
const MOSQUITTO = '/usr/sbin/mosquitto';

export interface BrokerBenchOptions {
  publishers: number;
  connsPerPublisher: number;
  window: number;
  warmupS: number;
  durationS: number;
  idle: number;
  /** Saturation rounds of each broker, interleaved: the machine's speed drifts between rounds. */
  repeat: number;
  /**
   * BENCH_BROKER_COMPARE=…/broker/dist/cli.js: instead of the comparison with mosquitto, this build's
   * broker against that one (another checkout, built), saturation rounds only.
   */
  compareWith?: string;
}

export function brokerBenchOptionsFromEnv(): BrokerBenchOptions | null {
  if (process.env.BENCH_BROKER === '0') return null;
  return {
    publishers: envWhole('BENCH_BROKER_PUBLISHERS', 4),
    connsPerPublisher: envWhole('BENCH_BROKER_CONNS', 25),
    window: envWhole('BENCH_BROKER_WINDOW', 16),
    warmupS: envWhole('BENCH_BROKER_WARMUP_S', 3),
    durationS: envWhole('BENCH_BROKER_DURATION_S', 10),
    idle: envWhole('BENCH_BROKER_IDLE', 10_000),
    repeat: Math.max(1, envWhole('BENCH_BROKER_REPEAT', 3)),
    compareWith: process.env.BENCH_BROKER_COMPARE || undefined,
  };
}

const log = (s: string) => process.stderr.write(`[broker] ${s}\n`);

interface Broker {
  name: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Node's flags in the broker's systemd unit (systemd/pantau-broker.service): the broker runs as installed. */
const UNIT_NODE_FLAGS = unitNodeFlags(join(ROOT, 'systemd/pantau-broker.service'));

function unitNodeFlags(unit: string): string[] {
  const m = /^ExecStart=\S*node((?: --\S+)*) \S*cli\.js/m.exec(readFileSync(unit, 'utf8'));
  if (!m) throw new Error(`${unit}: no ExecStart line running node …/cli.js`);
  return m[1]!.trim().split(' ').filter(Boolean);
}

/** BENCH_BROKER_PROFILE=DIR: the Pantau broker writes a V8 CPU profile there (node --cpu-prof). */
const PROFILE = process.env.BENCH_BROKER_PROFILE;

function stopper(proc: ChildProcess, graceful = false): () => Promise<void> {
  return () =>
    new Promise<void>((res) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return res();
      proc.once('exit', () => res());
      // Nothing to keep: a graceful close of 10,000 sessions only costs time (unless profiling).
      proc.kill(graceful ? 'SIGTERM' : 'SIGKILL');
    });
}

async function startPantau(dir: string, tag: string, cli = CLI): Promise<Broker> {
  const port = await freePort();
  const yaml = join(dir, `central-${tag}.yaml`);
  writeFileSync(
    yaml,
    // The limits stay on (their checks cost what they cost) but high enough not to be the
    // bottleneck: the load puts 25–100 connections and thousands of messages/s on one account.
    `mqtt: { host: 127.0.0.1, port: ${port} }\ncredentials_file: credentials.yaml\nstore: { kind: sqlite, path: central-${tag}.db }\nlimits: { gateway_connections: 1000, reader_connections: 1000, publish_rate_per_s: 100000, publish_burst: 1000000 }\nlog_level: error\n`,
  );
  const prof = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${resolve(PROFILE)}`] : [];
  const proc = spawn(process.execPath, [...UNIT_NODE_FLAGS, ...prof, cli, '--config', yaml], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitPort(port, `the Pantau broker did not start on port ${port}`);
  return { name: 'pantau', port, proc, stop: stopper(proc, PROFILE !== undefined) };
}

/** Pantau's ingest as an MQTT client of mosquitto (bring your own broker), its own process and store. */
async function startIngestClient(dir: string, mqttPort: number): Promise<{ proc: ChildProcess; db: string }> {
  writeFileSync(join(dir, 'ingest.pw'), 'bench-ingest-pass\n');
  const yaml = join(dir, 'central-byob.yaml');
  writeFileSync(
    yaml,
    `external_broker: { urls: ["mqtt://127.0.0.1:${mqttPort}"], username: pantau-ingest, password_file: ingest.pw, client_id: bench-ingest }\ncredentials_file: credentials.yaml\nstore: { kind: sqlite, path: central-byob.db }\nlog_level: error\n`,
  );
  const proc = spawn(process.execPath, [CLI, 'ingest', '--config', yaml], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const db = join(dir, 'central-byob.db');
  for (let i = 0; !existsSync(db); i++) {
    if (i > 100) throw new Error('the ingest client did not start');
    await sleep(100);
  }
  await sleep(1500); // connected and subscribed
  return { proc, db };
}

async function startMosquitto(dir: string, tag: string, extraConf = ''): Promise<Broker> {
  const port = await freePort();
  const out = join(dir, `mosquitto-${tag}`);
  execFileSync(process.execPath, [
    CLI,
    'mosquitto-config',
    '--credentials',
    join(dir, 'credentials.yaml'),
    '--out',
    out,
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
  ]);
  // As root mosquitto would switch to its own user, who cannot read our temp dir; and it logs nothing.
  appendFileSync(join(out, 'mosquitto.conf'), `user ${userInfo().username}\nlog_dest none\n${extraConf}`);
  const proc = spawn(MOSQUITTO, ['-c', join(out, 'mosquitto.conf')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitPort(port, `mosquitto did not start on port ${port}`);
  return { name: 'mosquitto', port, proc, stop: stopper(proc) };
}

interface Load {
  proc: ChildProcess;
  ready: Promise<Record<string, unknown>>;
  result(): Promise<Record<string, unknown>>;
}

function load(cfg: LoadConfig): Load {
  const proc = spawn(process.execPath, [LOAD, JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<(l: Record<string, unknown>) => void> = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    const o = JSON.parse(l) as Record<string, unknown>;
    const w = waiters.shift();
    if (w) w(o);
    else lines.push(o);
  });
  const next = () =>
    new Promise<Record<string, unknown>>((res, rej) => {
      const l = lines.shift();
      if (l) return res(l);
      waiters.push(res);
      proc.once('exit', (code) => rej(new Error(`a load process exited (${code}) before reporting`)));
    });
  const ready = next();
  return { proc, ready, result: () => ready.then(next) };
}

/**
 * Rounds so far: each starts the site boxes' numbers a million above the last round's, as a box that
 * skipped some would (one new run per site in the store), never at a number already stored.
 */
let rounds = 0;

interface Round {
  acked: number;
  ackedAll: number;
  ackedPerS: number;
  deliveredPerS: number;
  latency: { p50: number; p99: number; max: number };
  pubackRtt: { p50: number; p99: number };
  behind: number;
  /** Batches the Pantau ingest client stored per second (mosquitto with the ingest attached). */
  storedPerS: number;
  ingestCpuPct: number;
  brokerCpuPct: number;
  cpuUsPerMsg: number;
}

/**
 * Two builds of Pantau's broker under the same load, rounds interleaved A B, B A, … so that the
 * machine's drift (±10% between rounds here) falls on both: a change of a few percent shows in the
 * ratio of each pair of rounds, where one round of each could not tell it from noise.
 */
async function compareBuilds(
  o: BrokerBenchOptions,
  otherCli: string,
  dir: string,
  accounts: Account[],
  reader: Account,
  brokers: Broker[],
): Promise<void> {
  if (!existsSync(otherCli))
    throw new Error(`BENCH_BROKER_COMPARE: ${otherCli} is missing (build that checkout)`);
  const a = await startPantau(dir, 'this', CLI);
  brokers.push(a);
  const b = await startPantau(dir, 'other', otherCli);
  brokers.push(b);
  const rounds: Array<{ a: Round; b: Round }> = [];
  for (let r = 1; r <= o.repeat; r++) {
    log(`comparison ${r}/${o.repeat}: this build and ${otherCli} ...`);
    const pair =
      r % 2 === 1
        ? { a: await round(a, o, accounts, reader, 0), b: await round(b, o, accounts, reader, 0) }
        : { b: await round(b, o, accounts, reader, 0), a: await round(a, o, accounts, reader, 0) };
    rounds.push(pair);
  }
  const each = (pick: (r: Round) => number, digits = 0) =>
    [median(rounds.map((x) => pick(x.a))), median(rounds.map((x) => pick(x.b)))].map((v) => f(v, digits));
  const row = (label: string, [x, y]: string[], ratio = '') =>
    process.stdout.write(`${label.padEnd(46)}${x!.padStart(14)}${y!.padStart(14)}${ratio.padStart(26)}\n`);
  process.stdout.write(
    `\nBroker builds compared: ${o.repeat} saturation rounds each, interleaved (medians)\n`,
  );
  row('', ['this build', 'other build'], 'this / other per round');
  row(
    'saturation: acknowledged messages/s',
    each((r) => r.ackedPerS),
    rounds.map((x) => (x.a.ackedPerS / x.b.ackedPerS).toFixed(2)).join(' '),
  );
  row(
    'saturation: broker CPU per message (µs)',
    each((r) => r.cpuUsPerMsg, 1),
  );
  row(
    'saturation: delivery latency p99 (ms)',
    each((r) => r.latency.p99, 1),
  );
}

async function round(
  b: Broker,
  o: BrokerBenchOptions,
  accounts: Account[],
  reader: Account,
  ratePerConn: number,
  ingest?: { db: string; pid: number },
): Promise<Round> {
  const warmupMs = o.warmupS * 1000;
  const durationMs = o.durationS * 1000;
  const sub = load({ role: 'sub', port: b.port, account: reader, warmupMs, durationMs });
  const seqAfter = ++rounds * 1_000_000;
  await sub.ready;
  const pubs = Array.from({ length: o.publishers }, (_, p) =>
    load({
      role: 'pub',
      port: b.port,
      localAddress: `127.0.0.${2 + p}`,
      accounts: accounts.slice(p * o.connsPerPublisher, (p + 1) * o.connsPerPublisher),
      window: o.window,
      ratePerConn,
      seqAfter,
      warmupMs,
      durationMs,
    }),
  );
  const ready = await Promise.all(pubs.map((x) => x.ready));
  const failed = ready.reduce((n, r) => n + Number(r.failedConnects ?? 0), 0);
  if (failed > 0) throw new Error(`${b.name}: ${failed} publisher connections refused`);
  const go = Math.ceil(Date.now() + 300);
  for (const x of [sub, ...pubs]) x.proc.stdin!.write(`go ${go}\n`);
  await sleep(go + warmupMs - Date.now());
  const c0 = procStat(b.proc.pid!);
  const i0 = ingest ? storedBatches(ingest.db) : 0;
  const ic0 = ingest ? procStat(ingest.pid).cpuMs : 0;
  await sleep(durationMs);
  const c1 = procStat(b.proc.pid!);
  const i1 = ingest ? storedBatches(ingest.db) : 0;
  const ingestCpuPct = ingest ? ((procStat(ingest.pid).cpuMs - ic0) / durationMs) * 100 : 0;
  const results = await Promise.all(pubs.map((x) => x.result()));
  const s = (await sub.result()) as {
    received: number;
    latency: { p50: number; p99: number; max: number };
  };
  const acked = results.reduce((n, r) => n + Number(r.acked), 0);
  const ackedAll = results.reduce((n, r) => n + Number(r.ackedAll), 0);
  const behind = results.reduce((n, r) => n + Number(r.behind), 0);
  const rtts = results.map((r) => r.rtt as { p50: number; p99: number });
  const cpuMs = c1.cpuMs - c0.cpuMs;
  log(
    `${b.name}${ingest ? ' + ingest client' : ''}: ${f(acked / o.durationS)} acked/s, ${ingest ? `${f((i1 - i0) / o.durationS)} stored/s (ingest CPU ${f(ingestCpuPct)}%), ` : ''} ${f(s.received / o.durationS)} delivered/s, latency p50 ${f(s.latency.p50, 1)} p99 ${f(s.latency.p99, 1)} ms, broker CPU ${f((cpuMs / durationMs) * 100)}%`,
  );
  return {
    acked,
    ackedAll,
    ackedPerS: acked / o.durationS,
    deliveredPerS: s.received / o.durationS,
    latency: s.latency,
    pubackRtt: {
      p50: Math.max(...rtts.map((r) => r.p50)),
      p99: Math.max(...rtts.map((r) => r.p99)),
    },
    behind,
    storedPerS: (i1 - i0) / o.durationS,
    ingestCpuPct,
    brokerCpuPct: (cpuMs / durationMs) * 100,
    cpuUsPerMsg: acked > 0 ? (cpuMs * 1000) / acked : Number.NaN,
  };
}

/**
 * RSS growth per idle site-box connection. A first connection per account is made before the baseline:
 * it pays the password check (scrypt's 16 MiB of working memory, which the allocator keeps), a cost per
 * account and not per connection.
 */
async function memory(
  b: Broker,
  o: BrokerBenchOptions,
  accounts: Account[],
): Promise<{ perConnKb: number; connected: number; baseMb: number; afterMb: number }> {
  const procs = 4;
  const stage = (tag: string, perAccount: number) =>
    Array.from({ length: procs }, (_, p) =>
      load({
        role: 'idle',
        port: b.port,
        localAddress: `127.0.0.${10 + p}`,
        accounts: accounts.filter((_, i) => i % procs === p),
        perAccount,
        tag,
      }),
    );
  const count = async (loads: Load[]) => {
    const ready = await Promise.all(loads.map((l) => l.ready));
    const failed = ready.reduce((n, r) => n + Number(r.failed), 0);
    if (failed > 0) log(`${b.name}: ${failed} idle connections refused`);
    return ready.reduce((n, r) => n + Number(r.connected), 0);
  };
  const warm = stage('w', 1);
  await count(warm);
  await sleep(2000);
  const base = procStat(b.proc.pid!).rssKb;
  const rest = stage('i', Math.ceil(o.idle / accounts.length) - 1);
  const connected = await count(rest);
  await sleep(3000);
  const after = procStat(b.proc.pid!).rssKb;
  await b.stop();
  for (const l of [...warm, ...rest]) l.proc.kill('SIGKILL');
  return {
    perConnKb: (after - base) / connected,
    connected: connected + accounts.length,
    baseMb: base / 1024,
    afterMb: after / 1024,
  };
}

function storedBatches(db: string): number {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return (d.prepare('SELECT COUNT(*) AS n FROM batches').get() as { n: number }).n;
  } finally {
    d.close();
  }
}

export async function runBrokerBench(o: BrokerBenchOptions): Promise<void> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} missing: apt-get install -y mosquitto`);
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build`);
  const dir = mkdtempSync(join(tmpdir(), 'pantau-bench-broker-'));
  const cred = join(dir, 'credentials.yaml');
  const sites = o.publishers * o.connsPerPublisher;
  log(`creating ${sites} site-box accounts (scrypt + mosquitto PBKDF2 hashes) ...`);
  const accounts: Account[] = [];
  for (let i = 0; i < sites; i++) {
    const a = {
      site: `site-${String(i).padStart(4, '0')}`,
      username: `gw-${i}`,
      password: `bench-pass-${i}`,
    };
    await addGateway(cred, a.site, a.username, a.password);
    accounts.push(a);
  }
  const reader: Account = { site: '', username: 'bench-reader', password: 'bench-reader-pass' };
  await addReader(cred, reader.username, reader.password);
  await addReader(cred, 'pantau-ingest', 'bench-ingest-pass');
  const brokers: Broker[] = [];
  try {
    if (o.compareWith) {
      await compareBuilds(o, o.compareWith, dir, accounts, reader, brokers);
      return;
    }
    const pantau = await startPantau(dir, 'load');
    brokers.push(pantau);
    const mosq = await startMosquitto(dir, 'load');
    brokers.push(mosq);

    // The machine's speed drifts (a shared host): each repetition runs the three brokers back to
    // back, its ratios compare like with like, and the repetition with the median ratio is reported.
    const reps: Array<{ p: Round; m: Round; a: Round }> = [];
    for (let r = 1; r <= o.repeat; r++) {
      log(
        `saturation ${r}/${o.repeat}: ${o.publishers} processes x ${o.connsPerPublisher} connections, window ${o.window}, ${o.durationS} s ...`,
      );
      const p = await round(pantau, o, accounts, reader, 0);
      const m = await round(mosq, o, accounts, reader, 0);
      // Mosquitto as configured above keeps at most 100 unacknowledged messages per subscriber and
      // drops what a slow one cannot take; Pantau delivers every message. The same guarantee asked
      // of mosquitto: no limit on either (mosquitto.conf: 0 = no maximum).
      log('saturation of mosquitto with nothing dropped for the reader ...');
      const mosqAll = await startMosquitto(
        dir,
        `all-${r}`,
        'max_queued_messages 0\nmax_inflight_messages 0\n',
      );
      brokers.push(mosqAll);
      const a = await round(mosqAll, o, accounts, reader, 0);
      await mosqAll.stop();
      brokers.splice(brokers.indexOf(mosqAll), 1);
      reps.push({ p, m, a });
    }
    const ratioOf = (x: { p: Round; m: Round }) => x.p.ackedPerS / x.m.ackedPerS;
    const byRatio = [...reps].sort((x, y) => ratioOf(x) - ratioOf(y));
    const { p: satP, m: satM, a: satA } = byRatio[Math.floor((byRatio.length - 1) / 2)]!;
    const rate = Math.min(satP.ackedPerS, satM.ackedPerS) / 2;
    log(`latency at ${f(rate)} messages/s ...`);
    const latP = await round(pantau, o, accounts, reader, rate / sites);
    const latM = await round(mosq, o, accounts, reader, rate / sites);
    log('saturation of mosquitto with the Pantau ingest client attached (bring your own broker) ...');
    const byob = await startIngestClient(dir, mosq.port);
    const satB = await round(mosq, o, accounts, reader, 0, { db: byob.db, pid: byob.proc.pid! });
    // What mosquitto acknowledged faster than the ingest stored waits in the ingest's session queue:
    // how fast it drains once the load stops (nothing else running), and how much of what mosquitto
    // acknowledged (warm-up included) the ingest never got.
    const drainFrom = storedBatches(byob.db);
    const drainT0 = Date.now();
    let drained = drainFrom;
    let lastGrowth = Date.now();
    while (Date.now() - lastGrowth < 2000 && Date.now() - drainT0 < 180_000) {
      await sleep(200);
      const n = storedBatches(byob.db);
      if (n > drained) lastGrowth = Date.now();
      drained = n;
    }
    const drainMs = Math.max(1, lastGrowth - drainT0);
    const drain = { batches: drained - drainFrom, perS: ((drained - drainFrom) * 1000) / drainMs };
    log(`ingest client drained ${f(drain.batches)} queued batches at ${f(drain.perS)}/s`);
    const byobLost = { acked: satB.ackedAll, stored: drained };
    byob.proc.kill(PROFILE ? 'SIGTERM' : 'SIGKILL');
    const stored = storedBatches(join(dir, 'central-load.db'));
    const pantauAcked = reps.reduce((n, x) => n + x.p.ackedAll, latP.ackedAll);
    await pantau.stop();
    await mosq.stop();

    log(`memory: ${f(o.idle)} idle site-box connections ...`);
    const memP = o.idle > 0 ? await memory(await startPantau(dir, 'mem'), o, accounts) : null;
    const memM = o.idle > 0 ? await memory(await startMosquitto(dir, 'mem'), o, accounts) : null;

    const row = (name: string, p: string, m: string, r: string) =>
      process.stdout.write(`${name.padEnd(46)}${p.padStart(14)}${m.padStart(14)}${r.padStart(8)}\n`);
    const ratio = (p: number, m: number) => (m > 0 ? (p / m).toFixed(2) : 'n/a');
    process.stdout.write(
      `\nBroker: ${sites} site-box connections in ${o.publishers} processes, QoS 1 telemetry (${telemetryBytes()} bytes), one QoS 1 reader of pantau/v1/#; ${cpus().length} cores shared by brokers and load\n`,
    );
    row('', 'pantau', 'mosquitto', 'ratio');
    row(
      'saturation: acknowledged messages/s',
      f(satP.ackedPerS),
      f(satM.ackedPerS),
      ratio(satP.ackedPerS, satM.ackedPerS),
    );
    if (reps.length > 1) {
      const each = (f: (x: (typeof reps)[number]) => number) => reps.map((x) => f(x).toFixed(2)).join(' ');
      row('saturation ratio in each repetition', '', '', each(ratioOf));
      row(
        'delivering-all ratio in each repetition',
        '',
        '',
        each((x) => x.p.ackedPerS / x.a.ackedPerS),
      );
    }
    row(
      'saturation: delivered to the reader /s',
      f(satP.deliveredPerS),
      f(satM.deliveredPerS),
      ratio(satP.deliveredPerS, satM.deliveredPerS),
    );
    row('saturation: broker CPU (% of one core)', f(satP.brokerCpuPct), f(satM.brokerCpuPct), '');
    row(
      'mosquitto delivering all: acknowledged/s',
      f(satP.ackedPerS),
      f(satA.ackedPerS),
      ratio(satP.ackedPerS, satA.ackedPerS),
    );
    row(
      'mosquitto delivering all: delivered /s',
      f(satP.deliveredPerS),
      f(satA.deliveredPerS),
      ratio(satP.deliveredPerS, satA.deliveredPerS),
    );
    row('mosquitto delivering all: p99 latency (ms)', f(satP.latency.p99, 1), f(satA.latency.p99, 1), '');
    row(
      'saturation: broker CPU per message (µs)',
      f(satP.cpuUsPerMsg, 1),
      f(satM.cpuUsPerMsg, 1),
      ratio(satP.cpuUsPerMsg, satM.cpuUsPerMsg),
    );
    row('saturation: delivery latency p50 (ms)', f(satP.latency.p50, 1), f(satM.latency.p50, 1), '');
    row('saturation: delivery latency p99 (ms)', f(satP.latency.p99, 1), f(satM.latency.p99, 1), '');
    row(`at ${f(rate)}/s: acknowledged messages/s`, f(latP.ackedPerS), f(latM.ackedPerS), '');
    row(
      `at ${f(rate)}/s: delivery latency p50 (ms)`,
      f(latP.latency.p50, 2),
      f(latM.latency.p50, 2),
      ratio(latP.latency.p50, latM.latency.p50),
    );
    row(
      `at ${f(rate)}/s: delivery latency p99 (ms)`,
      f(latP.latency.p99, 2),
      f(latM.latency.p99, 2),
      ratio(latP.latency.p99, latM.latency.p99),
    );
    row(
      `at ${f(rate)}/s: PUBACK round trip p99 (ms)`,
      f(latP.pubackRtt.p99, 2),
      f(latM.pubackRtt.p99, 2),
      '',
    );
    row(`at ${f(rate)}/s: broker CPU (% of one core)`, f(latP.brokerCpuPct), f(latM.brokerCpuPct), '');
    row('mosquitto + Pantau ingest client: acknowledged/s', '', f(satB.ackedPerS), '');
    row('mosquitto + Pantau ingest client: stored/s', '', f(satB.storedPerS), '');
    row('mosquitto + Pantau ingest client: its CPU (%)', '', f(satB.ingestCpuPct), '');
    row(`mosquitto + Pantau ingest client: drain of ${f(drain.batches)} queued /s`, '', f(drain.perS), '');
    row(
      `mosquitto + Pantau ingest client: acknowledged ${f(byobLost.acked)}, stored ${f(byobLost.stored)}: never stored`,
      '',
      f(byobLost.acked - byobLost.stored),
      '',
    );
    if (memP && memM) {
      row(
        `memory: ${f(memP.connected)} / ${f(memM.connected)} idle connections, RSS (MiB)`,
        f(memP.afterMb, 1),
        f(memM.afterMb, 1),
        '',
      );
      row(
        'memory: RSS growth per connection (KiB)',
        f(memP.perConnKb, 1),
        f(memM.perConnKb, 1),
        ratio(memP.perConnKb, memM.perConnKb),
      );
    }
    process.stdout.write(
      `\nratio = pantau / mosquitto (goal for throughput: >= 0.70); with ${o.repeat} repetitions the rows are those of the repetition with the median saturation ratio. ${stored >= pantauAcked ? `Pantau also stored every batch it acknowledged in SQLite (${f(stored)} stored, ${f(pantauAcked)} acknowledged in all rounds)` : `PANTAU LOST BATCHES: it acknowledged ${f(pantauAcked)} and stored ${f(stored)}`}; mosquitto only carried them.
Saturation is closed loop (${o.window} unacknowledged messages per connection); latency is measured open loop at half the slower broker's saturation rate, from the send time in the payload to its arrival at the reader.
${satP.behind + satM.behind + latP.behind + latM.behind > 0 ? `open-loop messages not sent because a window was full: pantau ${f(latP.behind)}, mosquitto ${f(latM.behind)}\n` : ''}`,
    );
  } finally {
    for (const b of brokers) await b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function telemetryBytes(): number {
  // The payload broker-load.ts sends, at a typical sequence number and time.
  return `{"v":1,"seq":123456,"device":"radio","backfill":false,"sent":1764636000000.123,"readings":[{"ts":1764636000000,"values":{"rx_power_dbm":-61,"snr_db":29,"noise_floor_dbm":-92,"ccq_pct":97,"capacity_tx_bps":150000000,"capacity_rx_bps":140000000,"rate_tx_bps":2310000,"rate_rx_bps":8120000,"uptime_s":2715456}}]}`
    .length;
}
