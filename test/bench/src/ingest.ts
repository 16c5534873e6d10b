// The store ingest benchmark (npm run bench; BENCH_INGEST=0 skips it): telemetry batches of 200
// radios (BENCH_INGEST_DEVICES) over BENCH_INGEST_ROUNDS polling rounds, each batch a radio's usual
// reading plus two labelled interfaces (14 points), ingested through the Store interface
//  - into the embedded SQLite store;
//  - into the InfluxDB store (batching, look-ups of sequence numbers, ledger points), timed until
//    close() has delivered everything;
// and, as the peer in the same run, the raw line-protocol write rate of the same influxd: the same
// points prebuilt as lines, POSTed to /write in batches of the store's batch size, one in flight.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reading, TelemetryPayload } from '@pantau/contract';
// The stores are the broker's package API, read from its build like the gateway's internals.
import { INFLUX_DEFAULTS, InfluxStore, SqliteStore, type Store } from '../../../broker/dist/store/index.js';
import { startInfluxd } from './influxd.js';

export interface IngestBenchOptions {
  devices: number;
  rounds: number;
}

export function ingestBenchOptionsFromEnv(): IngestBenchOptions | null {
  if (process.env.BENCH_INGEST === '0') return null;
  const n = (k: string, d: number) => {
    const v = Number(process.env[k] ?? d);
    if (!Number.isInteger(v) || v <= 0)
      throw new Error(`${k} must be a whole number > 0, got ${process.env[k]}`);
    return v;
  };
  return { devices: n('BENCH_INGEST_DEVICES', 200), rounds: n('BENCH_INGEST_ROUNDS', 30) };
}

const log = (s: string) => process.stderr.write(`[ingest] ${s}\n`);
const f = (x: number) => Math.round(x).toLocaleString('en-US');
const SITES = 10;

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

/** Ingests round by round, a round's batches concurrently as the broker does (one per MQTT message). */
async function ingestAll(store: Store, rounds: Work[][], receivedAt: number): Promise<number> {
  let samples = 0;
  for (const round of rounds)
    for (const r of await Promise.all(round.map((w) => store.ingestTelemetry(w.site, w.payload, receivedAt))))
      samples += r.samples;
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

export async function runIngest(o: IngestBenchOptions): Promise<void> {
  const now = Date.now();
  const { rounds, points } = workload(o, now);
  const batchSize = INFLUX_DEFAULTS.batch.max_points;
  log(`${o.devices} radios x ${o.rounds} rounds = ${f(o.devices * o.rounds)} batches, ${f(points)} points`);
  const dir = mkdtempSync(join(tmpdir(), 'pantau-bench-ingest-'));
  const influxd = await startInfluxd();
  try {
    // SQLite store.
    const sqlite = new SqliteStore({ path: join(dir, 'central.db') });
    let t0 = performance.now();
    const sqliteSamples = await ingestAll(sqlite, rounds, now);
    await sqlite.close();
    const sqliteMs = performance.now() - t0;
    if (sqliteSamples !== points) throw new Error(`sqlite stored ${sqliteSamples} of ${points} points`);
    log(`sqlite: ${Math.round(sqliteMs)} ms`);

    // InfluxDB store: until close() has delivered everything.
    const influx = new InfluxStore({
      cfg: { kind: 'influx', ...INFLUX_DEFAULTS, url: influxd.url, database: 'bench_store' },
    });
    await influx.listSites(); // the set-up (database, policies, continuous query) is not ingest
    t0 = performance.now();
    await ingestAll(influx, rounds, now);
    await influx.close();
    const influxMs = performance.now() - t0;
    const stats = influx.stats();
    const stored = await countPoints(influxd.url, 'bench_store');
    if (stored !== points || stats.dropped > 0)
      throw new Error(`influx store delivered ${stored} of ${points} points (dropped ${stats.dropped})`);
    log(`influx store: ${Math.round(influxMs)} ms`);

    // Raw line protocol into the same influxd, same batch size, one request in flight.
    await fetch(`${influxd.url}/query?q=${encodeURIComponent('CREATE DATABASE bench_raw')}`, {
      method: 'POST',
    });
    await fetch(
      `${influxd.url}/query?q=${encodeURIComponent('CREATE RETENTION POLICY "raw" ON bench_raw DURATION 30d REPLICATION 1 SHARD DURATION 1d DEFAULT')}`,
      { method: 'POST' },
    );
    const all = lines(rounds);
    const bodies: string[] = [];
    for (let i = 0; i < all.length; i += batchSize) bodies.push(all.slice(i, i + batchSize).join('\n'));
    t0 = performance.now();
    for (const body of bodies) {
      const res = await fetch(`${influxd.url}/write?db=bench_raw&rp=raw&precision=ms`, {
        method: 'POST',
        body,
      });
      if (res.status !== 204) throw new Error(`raw write: ${res.status} ${await res.text()}`);
    }
    const rawMs = performance.now() - t0;
    const rawStored = await countPoints(influxd.url, 'bench_raw');
    if (rawStored !== points) throw new Error(`raw writes stored ${rawStored} of ${points} points`);

    const rate = (ms: number) => (points / ms) * 1000;
    const rows = [
      ['', 'points/s', 'wall ms', 'vs raw line protocol'],
      ['SQLite store', f(rate(sqliteMs)), f(sqliteMs), (rawMs / sqliteMs).toFixed(2)],
      ['InfluxDB store', f(rate(influxMs)), f(influxMs), (rawMs / influxMs).toFixed(2)],
      ['influxd raw /write', f(rate(rawMs)), f(rawMs), '1.00'],
    ];
    process.stdout.write(
      `\nIngest through the Store: ${f(o.devices * o.rounds)} telemetry batches (${o.devices} radios x ${o.rounds} rounds, 10 sites), ${f(points)} points; InfluxDB batch ${batchSize} points\n`,
    );
    for (const r of rows)
      process.stdout.write(
        `${r[0]!.padEnd(22)}${r[1]!.padStart(12)}${r[2]!.padStart(10)}${r[3]!.padStart(22)}\n`,
      );
    process.stdout.write(
      `\nratio = store rate / raw line-protocol rate of the same influxd. The InfluxDB store also writes one\nledger point per batch (${f(o.devices * o.rounds)} more) and looks sequence numbers up (${stats.retries} retries, ${stats.dropped} dropped).\n`,
    );
  } finally {
    await influxd.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
