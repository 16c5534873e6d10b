// The store ingest benchmark (npm run bench; BENCH_INGEST=0 skips it): telemetry batches of 200
// radios (BENCH_INGEST_DEVICES) over BENCH_INGEST_ROUNDS polling rounds, each batch a radio's usual
// reading plus two labelled interfaces (14 points), ingested through the Store interface
//  - into the embedded SQLite store;
//  - into the InfluxDB store (batching, look-ups of sequence numbers, ledger points), timed until
//    close() has delivered everything;
// and, as the peer in the same run, the raw line-protocol write rate of the same influxd: the same
// points prebuilt as lines, POSTed to /write in batches of the store's batch size, one in flight.
// Each is run BENCH_INGEST_REPEAT (3) times, interleaved; the medians are reported.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reading, TelemetryPayload } from '@pantau/contract';
// The stores are the broker's package API, read from its build like the gateway's internals.
import {
  INFLUX_DEFAULTS,
  InfluxStore,
  type Store,
  ThreadedSqliteStore,
  type WriterStats,
} from '../../../broker/dist/store/index.js';
import { startInfluxd } from './influxd.js';
import { median } from './util.js';

export interface IngestBenchOptions {
  devices: number;
  rounds: number;
  repeat: number;
}

export function ingestBenchOptionsFromEnv(): IngestBenchOptions | null {
  if (process.env.BENCH_INGEST === '0') return null;
  const n = (k: string, d: number) => {
    const v = Number(process.env[k] ?? d);
    if (!Number.isInteger(v) || v <= 0)
      throw new Error(`${k} must be a whole number > 0, got ${process.env[k]}`);
    return v;
  };
  return {
    devices: n('BENCH_INGEST_DEVICES', 200),
    rounds: n('BENCH_INGEST_ROUNDS', 30),
    repeat: n('BENCH_INGEST_REPEAT', 3),
  };
}

const log = (s: string) => process.stderr.write(`[ingest] ${s}\n`);
const f = (x: number) => Math.round(x).toLocaleString('en-US');
/** Site boxes the radios are spread over (BENCH_INGEST_SITES, default two radios a site as a regency's backbone); each keeps its window in flight. */
const SITES = Number(process.env.BENCH_INGEST_SITES ?? 100);
if (!Number.isInteger(SITES) || SITES < 1)
  throw new Error(`BENCH_INGEST_SITES must be a whole number > 0, got ${process.env.BENCH_INGEST_SITES}`);
/** Unacknowledged messages a site box keeps in flight (the gateway's publisher default). */
const SITE_BOX_WINDOW = 20;

/** One polling round's batch of one radio, as the site box publishes it. */
function batch(seq: number, device: number, ts: number): TelemetryPayload {
  const j = (base: number, spread: number) => Math.round(base + ((seq * 7919 + device * 104729) % spread));
  const readings: Reading[] = [
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
        latency_ms: j(1, 5),
      },
    },
    { ts, values: { if_in_bps: j(8e6, 1e6), if_out_bps: j(2e6, 1e6) }, labels: { iface: 'ath0' } },
    { ts, values: { if_in_bps: j(8e6, 1e6), if_out_bps: j(2e6, 1e6) }, labels: { iface: 'eth0' } },
  ];
  return { v: 1, seq, device: `radio-${String(device).padStart(3, '0')}`, backfill: false, readings };
}

interface Work {
  site: string;
  payload: TelemetryPayload;
}

function workload(o: IngestBenchOptions, now: number): { rounds: Work[][]; points: number } {
  const rounds: Work[][] = [];
  const seqs = new Array<number>(SITES).fill(0);
  let points = 0;
  for (let r = 0; r < o.rounds; r++) {
    // Live readings: all within the last 8 minutes, so none counts as arriving late (a late range
    // also costs the store a rollup recomputation, which is not ingest).
    const ts = now - Math.round(((o.rounds - r) * 480_000) / o.rounds);
    const round: Work[] = [];
    for (let d = 0; d < o.devices; d++) {
      const s = d % SITES;
      const payload = batch(++seqs[s]!, d, ts);
      for (const x of payload.readings) points += Object.keys(x.values).length;
      round.push({ site: `site-${s}`, payload });
    }
    rounds.push(round);
  }
  return { rounds, points };
}

/**
 * Ingests as the broker does, one call per MQTT message, with as many in flight as the site boxes
 * allow: each keeps up to 20 unacknowledged (the gateway's window), and a store settles a batch only
 * once it is stored, so the windows are what lets a store gather big writes.
 */
async function ingestAll(store: Store, rounds: Work[][], receivedAt: number): Promise<number> {
  const work = rounds.flat();
  const inFlight = SITES * SITE_BOX_WINDOW;
  let samples = 0;
  let next = 0;
  const lane = async () => {
    while (next < work.length) {
      const w = work[next++]!;
      // Read after the await: `samples += await …` would add to the value from before it.
      const r = await store.ingestTelemetry(w.site, w.payload, receivedAt);
      samples += r.samples;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return samples;
}

/** The same points as line protocol, in the store's schema (measurement per metric, tags site/device/labels). */
function lines(rounds: Work[][]): string[] {
  const out: string[] = [];
  for (const round of rounds)
    for (const { site, payload } of round)
      for (const r of payload.readings) {
        const labels = Object.entries(r.labels ?? {})
          .map(([k, v]) => `,${k}=${v}`)
          .join('');
        for (const [m, v] of Object.entries(r.values))
          out.push(`${m},device=${payload.device}${labels},site=${site} value=${v} ${r.ts}`);
      }
  return out;
}

async function countPoints(url: string, db: string): Promise<number> {
  const q = encodeURIComponent('SELECT count("value") FROM "raw"./.*/');
  const body = (await (await fetch(`${url}/query?db=${db}&q=${q}`)).json()) as {
    results: Array<{ series?: Array<{ values: number[][] }> }>;
  };
  return (body.results[0]?.series ?? []).reduce((n, s) => n + Number(s.values[0]?.[1] ?? 0), 0);
}

/** Median of the runs: the machine is shared, a single run can be slowed by anything. */

async function sqliteRun(
  dir: string,
  run: number,
  rounds: Work[][],
  points: number,
  now: number,
): Promise<number> {
  // As the broker opens it: writes in a worker thread, synchronous = FULL.
  const sqlite = new ThreadedSqliteStore(join(dir, `central-${run}.db`));
  const t0 = performance.now();
  const samples = await ingestAll(sqlite, rounds, now);
  await sqlite.close();
  const ms = performance.now() - t0;
  if (samples !== points) throw new Error(`sqlite stored ${samples} of ${points} points`);
  return ms;
}

/** The InfluxDB store, timed until close() has delivered everything. */
async function influxRun(
  url: string,
  run: number,
  rounds: Work[][],
  points: number,
  now: number,
): Promise<{ ms: number; stats: WriterStats }> {
  const database = `bench_store_${run}`;
  const influx = new InfluxStore({ cfg: { kind: 'influx', ...INFLUX_DEFAULTS, url, database } });
  await influx.listSites(); // the set-up (database, policies, continuous query) is not ingest
  const t0 = performance.now();
  await ingestAll(influx, rounds, now);
  await influx.close();
  const ms = performance.now() - t0;
  const stats = influx.stats();
  const stored = await countPoints(url, database);
  if (stored !== points || stats.dropped > 0)
    throw new Error(`influx store delivered ${stored} of ${points} points (dropped ${stats.dropped})`);
  return { ms, stats };
}

/** Raw line protocol into the same influxd, same batch size, one request in flight. */
async function rawRun(url: string, run: number, bodies: string[], points: number): Promise<number> {
  const db = `bench_raw_${run}`;
  const q = async (s: string) => {
    const res = await fetch(`${url}/query?q=${encodeURIComponent(s)}`, { method: 'POST' });
    const body = await res.text();
    if (res.status !== 200 || body.includes('"error"')) throw new Error(`${s}: ${res.status} ${body}`);
  };
  await q(`CREATE DATABASE ${db}`);
  await q(`CREATE RETENTION POLICY "raw" ON ${db} DURATION 30d REPLICATION 1 SHARD DURATION 1d DEFAULT`);
  const t0 = performance.now();
  for (const body of bodies) {
    const res = await fetch(`${url}/write?db=${db}&rp=raw&precision=ms`, { method: 'POST', body });
    if (res.status !== 204) throw new Error(`raw write: ${res.status} ${await res.text()}`);
  }
  const ms = performance.now() - t0;
  const stored = await countPoints(url, db);
  if (stored !== points) throw new Error(`raw writes stored ${stored} of ${points} points`);
  return ms;
}

export async function runIngest(o: IngestBenchOptions): Promise<void> {
  const now = Date.now();
  const { rounds, points } = workload(o, now);
  const batchSize = INFLUX_DEFAULTS.batch.max_points;
  log(`${o.devices} radios x ${o.rounds} rounds = ${f(o.devices * o.rounds)} batches, ${f(points)} points`);
  const all = lines(rounds);
  const bodies: string[] = [];
  for (let i = 0; i < all.length; i += batchSize) bodies.push(all.slice(i, i + batchSize).join('\n'));
  const dir = mkdtempSync(join(tmpdir(), 'pantau-bench-ingest-'));
  const influxd = await startInfluxd();
  try {
    const sqliteMs: number[] = [];
    const influxMs: number[] = [];
    const rawMs: number[] = [];
    let stats: WriterStats | null = null;
    // Interleaved, so a slow spell of the machine hits all three alike.
    for (let run = 1; run <= o.repeat; run++) {
      sqliteMs.push(await sqliteRun(dir, run, rounds, points, now));
      const r = await influxRun(influxd.url, run, rounds, points, now);
      influxMs.push(r.ms);
      stats = r.stats;
      rawMs.push(await rawRun(influxd.url, run, bodies, points));
      log(
        `run ${run}: sqlite ${Math.round(sqliteMs.at(-1)!)} ms, influx store ${Math.round(r.ms)} ms, raw ${Math.round(rawMs.at(-1)!)} ms`,
      );
    }
    const [s, i, r] = [median(sqliteMs), median(influxMs), median(rawMs)];
    const rate = (ms: number) => (points / ms) * 1000;
    const rows = [
      ['', 'points/s', 'wall ms', 'vs raw line protocol'],
      ['SQLite store', f(rate(s)), f(s), (r / s).toFixed(2)],
      ['InfluxDB store', f(rate(i)), f(i), (r / i).toFixed(2)],
      ['influxd raw /write', f(rate(r)), f(r), '1.00'],
    ];
    process.stdout.write(
      `\nIngest through the Store: ${f(o.devices * o.rounds)} telemetry batches (${o.devices} radios x ${o.rounds} rounds, ${SITES} site boxes with ${SITE_BOX_WINDOW} unacknowledged each), ${f(points)} points; InfluxDB batch ${batchSize} points; median of ${o.repeat} runs\n`,
    );
    for (const row of rows)
      process.stdout.write(
        `${row[0]!.padEnd(22)}${row[1]!.padStart(12)}${row[2]!.padStart(10)}${row[3]!.padStart(22)}\n`,
      );
    process.stdout.write(
      `\nratio = store rate / raw line-protocol rate of the same influxd. The InfluxDB store also writes one\nledger point per batch (${f(o.devices * o.rounds)} more) and looks sequence numbers up (last run: ${stats?.retries} retries, ${stats?.dropped} dropped).\n`,
    );
  } finally {
    await influxd.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
