// The cost of scale-out: QoS 1 telemetry from many site boxes into (1) one broker as today (memory
// sessions), (2) one broker with its sessions and emitter in Redis, (3) two brokers behind one
// Redis sharing one SQLite store, each site box on one of them; and, as the peer in the same run,
// mosquitto (which stores nothing: the ceiling of the MQTT part alone). Every batch is acknowledged
// only once stored (docs/cluster.md), so acknowledged batches per second is the ingest rate.
// BENCH_CLUSTER_SITES (default 20) site boxes, BENCH_CLUSTER_BATCHES (default 500) batches each,
// window 20 unacknowledged per site box as the gateway's default. BENCH_CLUSTER=0 skips it.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { procCpuMs as cpuMs, freePort, rssMb, waitPort } from './util.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const REDIS = '/usr/bin/redis-server';
const MOSQUITTO = '/usr/sbin/mosquitto';
const WINDOW = 20;
const log = (s: string) => process.stderr.write(`[cluster] ${s}\n`);
const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

export interface ClusterBenchOptions {
  sites: number;
  batches: number;
}

export function clusterBenchOptionsFromEnv(): ClusterBenchOptions | null {
  if (process.env.BENCH_CLUSTER === '0') return null;
  return {
    sites: Number(process.env.BENCH_CLUSTER_SITES ?? 20),
    batches: Number(process.env.BENCH_CLUSTER_BATCHES ?? 500),
  };
}

const listening = (port: number) => waitPort(port, `nothing listens on ${port}`, 50);

interface Proc {
  proc: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

function spawnProc(cmd: string, args: string[], port: number): Proc {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return {
    proc,
    port,
    stop: () =>
      new Promise<void>((res) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return res();
        proc.once('exit', () => res());
        proc.kill('SIGTERM');
      }),
  };
}

/** One telemetry batch as a site box sends it: one poll of a radio, a dozen figures. */
function body(seq: number, device: string): Buffer {
  const values: Record<string, number> = {
    rx_power_dbm: -55.5,
    snr_db: 31,
    noise_floor_dbm: -92,
    ccq_pct: 98,
    capacity_tx_bps: 150e6,
    capacity_rx_bps: 148e6,
    rate_rx_bps: 12.5e6,
    rate_tx_bps: 3.2e6,
    latency_ms: 2.1,
    loss_pct: 0,
    uptime_s: 86400 + seq,
    link_uptime_s: 86000 + seq,
  };
  return Buffer.from(
    JSON.stringify({ v: 1, seq, device, backfill: false, readings: [{ ts: Date.now(), values }] }),
  );
}

/** Every site box publishes its batches with a window of unacknowledged ones; resolves when all are acknowledged. */
async function publishAll(
  o: ClusterBenchOptions,
  portOf: (i: number) => number,
  auth: (site: string) => { username?: string; password?: string },
): Promise<number> {
  const clients: MqttClient[] = [];
  for (let i = 0; i < o.sites; i++) {
    const site = `bench-${i}`;
    clients.push(
      await mqtt.connectAsync(`mqtt://127.0.0.1:${portOf(i)}`, {
        ...auth(site),
        clientId: `gw-${site}`,
        clean: false,
        protocolVersion: 4,
        reconnectPeriod: 0,
      }),
    );
  }
  const t0 = performance.now();
  await Promise.all(
    clients.map(
      (c, i) =>
        new Promise<void>((res, rej) => {
          const site = `bench-${i}`;
          let next = 1;
          let acked = 0;
          const send = () => {
            const seq = next++;
            c.publish(`pantau/v1/${site}/r1/telemetry`, body(seq, 'r1'), { qos: 1 }, (err) => {
              if (err) return rej(err);
              if (++acked === o.batches) return res();
              if (next <= o.batches) send();
            });
          };
          for (let k = 0; k < WINDOW && next <= o.batches; k++) send();
        }),
    ),
  );
  const ms = performance.now() - t0;
  await Promise.all(clients.map((c) => c.endAsync()));
  return ms;
}

interface Result {
  name: string;
  ms: number;
  cpuMs: number;
  rssMb: number;
  stored: number | null;
}

export async function runCluster(o: ClusterBenchOptions): Promise<void> {
  for (const [bin, pkg] of [
    [REDIS, 'redis-server'],
    [MOSQUITTO, 'mosquitto'],
  ] as const)
    if (!existsSync(bin)) throw new Error(`${bin} missing: apt-get install -y ${pkg}`);
  const cli = join(ROOT, 'broker/dist/cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: npm run build`);
  const total = o.sites * o.batches;
  const results: Result[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pantau-bench-cluster-'));
  const procs: Proc[] = [];
  try {
    const cred = join(dir, 'credentials.yaml');
    for (let i = 0; i < o.sites; i++)
      execFileSync(process.execPath, [
        cli,
        'credentials',
        'add-gateway',
        '--file',
        cred,
        '--site',
        `bench-${i}`,
        '--password',
        'bench-secret-1',
      ]);
    const gwAuth = (site: string) => ({ username: `gw-${site}`, password: 'bench-secret-1' });
    const redisPort = await freePort();
    const redis = spawnProc(
      REDIS,
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
      redisPort,
    );
    procs.push(redis);
    await listening(redisPort);

    const brokers = async (name: string, n: number, cluster: boolean): Promise<Proc[]> => {
      const out: Proc[] = [];
      for (let k = 0; k < n; k++) {
        const port = await freePort();
        const yaml = join(dir, `${name}-${k}.yaml`);
        writeFileSync(
          yaml,
          `mqtt: { host: 127.0.0.1, port: ${port} }
credentials_file: credentials.yaml
store: { kind: sqlite, path: ${name}.db }
${cluster ? `cluster: { redis_url: "redis://127.0.0.1:${redisPort}/0", id: ${name}-${k} }\n` : ''}log_level: warn
`,
        );
        const p = spawnProc(process.execPath, [cli, '--config', yaml], port);
        out.push(p);
        procs.push(p);
        await listening(port);
      }
      return out;
    };
    const stored = (name: string) => {
      const d = new Database(join(dir, `${name}.db`), { readonly: true, fileMustExist: true });
      try {
        return (d.prepare('SELECT COUNT(*) AS n FROM batches').get() as { n: number }).n;
      } finally {
        d.close();
      }
    };
    const measure = async (name: string, ps: Proc[], auth: typeof gwAuth | (() => object), db: boolean) => {
      const cpu0 = ps.map((p) => cpuMs(p.proc.pid!));
      log(`${name}: ${o.sites} site boxes × ${o.batches} batches`);
      const ms = await publishAll(o, (i) => ps[i % ps.length]!.port, auth);
      const r: Result = {
        name,
        ms,
        cpuMs: ps.reduce((s, p, i) => s + cpuMs(p.proc.pid!) - cpu0[i]!, 0),
        rssMb: ps.reduce((s, p) => s + rssMb(p.proc.pid!), 0),
        stored: db ? stored(name) : null,
      };
      if (r.stored !== null && r.stored !== total)
        throw new Error(`${name}: ${r.stored} of ${total} batches stored`);
      results.push(r);
      for (const p of ps) await p.stop();
    };

    // The peer: mosquitto with anonymous access on loopback (this run's own instance), nothing stored.
    const mqPort = await freePort();
    writeFileSync(
      join(dir, 'mosquitto.conf'),
      `listener ${mqPort} 127.0.0.1\nallow_anonymous true\nlog_dest none\n`,
    );
    const mosq = spawnProc(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], mqPort);
    procs.push(mosq);
    await listening(mqPort);
    await measure('mosquitto', [mosq], () => ({}), false);
    await measure('single', await brokers('single', 1, false), gwAuth, true);
    await measure('redis1', await brokers('redis1', 1, true), gwAuth, true);
    await measure('redis2', await brokers('redis2', 2, true), gwAuth, true);
  } finally {
    for (const p of procs) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const by = (n: string) => results.find((r) => r.name === n)!;
  const rate = (r: Result) => total / (r.ms / 1000);
  const label: Record<string, string> = {
    mosquitto: 'mosquitto (peer, stores nothing)',
    single: 'one broker, sessions in memory',
    redis1: 'one broker, sessions in Redis',
    redis2: 'two brokers, Redis, one store',
  };
  process.stdout.write(
    `\nScale-out: ${total} QoS 1 telemetry batches from ${o.sites} site boxes (window ${WINDOW} each)\n`,
  );
  for (const r of results)
    process.stdout.write(
      `${label[r.name]!.padEnd(36)}${f(rate(r)).padStart(7)} batches/s  ${f(r.ms / 1000, 2)} s  broker CPU ${f(r.cpuMs / 1000, 2)} s (${f((r.cpuMs * 1000) / total, 0)} µs/batch)  RSS ${f(r.rssMb, 0)} MiB${r.stored !== null ? `  stored ${r.stored}` : ''}\n`,
    );
  process.stdout.write(
    `ratios: one broker / mosquitto ${f(rate(by('single')) / rate(by('mosquitto')), 2)}; sessions in Redis / in memory ${f(rate(by('redis1')) / rate(by('single')), 2)}; two brokers / one (both Redis) ${f(rate(by('redis2')) / rate(by('redis1')), 2)}\n`,
  );
}
