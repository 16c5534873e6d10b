// What only the InfluxDB store has: retention policies and the rollup query it sets up, the
// buffer that rides out an InfluxDB outage, answers from the rollup for old ranges, and its config.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TelemetryPayload } from '@pantau/contract';
import { InfluxDB } from 'influx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Influxd, startInfluxd } from '../../../test/support/influxd.js';
import { loadBrokerConfig } from '../config.js';
import { INFLUX_DEFAULTS, InfluxStore, type InfluxStoreConfig } from './index.js';

const DAY = 86_400_000;
let influxd: Influxd;
let n = 0;

beforeAll(async () => {
  influxd = await startInfluxd();
});
afterAll(async () => {
  await influxd?.remove();
});

const config = (over: Partial<InfluxStoreConfig> = {}): InfluxStoreConfig => ({
  kind: 'influx',
  ...INFLUX_DEFAULTS,
  url: influxd.url,
  database: `only_${++n}`,
  ...over,
});

const batch = (seq: number, ts: number[], value = (i: number) => -60 - i): TelemetryPayload => ({
  v: 1,
  seq,
  device: 'ptp-scc',
  backfill: false,
  readings: ts.map((t, i) => ({ ts: t, values: { rx_power_dbm: value(i) } })),
});

async function until<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('store: influx only', () => {
  it('creates the database, retention policies and rollup query, again without harm', async () => {
    const cfg = config({ retention: { raw_days: 7, rollup_days: 90, rollup_every: '10m' } });
    const a = new InfluxStore({ cfg });
    await a.listSites(); // waits for the set-up
    await a.close();
    // Opened again (a restart, or the second broker) with a longer raw retention: altered, not doubled.
    const b = new InfluxStore({ cfg: { ...cfg, retention: { ...cfg.retention, raw_days: 14 } } });
    await b.listSites();
    await b.close();
    const admin = new InfluxDB({ host: '127.0.0.1', port: influxd.port });
    const rps = await admin.showRetentionPolicies(cfg.database);
    expect(rps.map((r) => [r.name, r.duration, r.default]).sort()).toEqual([
      ['autogen', '0s', false],
      ['keep', '0s', false],
      ['raw', '336h0m0s', true],
      ['rollup', '2160h0m0s', false],
    ]);
    const cqs = await admin.showContinousQueries(cfg.database);
    expect(cqs).toHaveLength(1);
    expect(cqs[0]!.name).toBe('pantau_rollup');
    expect(cqs[0]!.query).toContain('GROUP BY time(10m)');
    expect(cqs[0]!.query).toContain('INTO');
  });

  it('keeps points while influxd is down and settles each batch only once InfluxDB has it', async () => {
    const store = new InfluxStore({
      cfg: config({ batch: { max_points: 100, flush_ms: 50, max_buffered_points: 100_000 } }),
    });
    const now = Date.now();
    await store.ingestTelemetry('pasar', batch(1, [now - 5000]), now);
    await store.sequenceReport('pasar');
    await influxd.stop();
    let settled = 0;
    const waiting: Array<Promise<{ accepted: boolean }>> = [];
    try {
      // Kept, and not settled: the broker acknowledges a batch only once it is stored, so while
      // InfluxDB is down the readings stay in the site boxes' outboxes.
      for (let seq = 2; seq <= 20; seq++)
        waiting.push(
          store.ingestTelemetry('pasar', batch(seq, [now - 5000 + seq * 100]), now).finally(() => settled++),
        );
      await until('a failed write', async () => store.stats().retries > 0);
      expect(store.stats().buffered).toBeGreaterThanOrEqual(19);
      await new Promise((r) => setTimeout(r, 1500));
      expect(settled).toBe(0);
    } finally {
      await influxd.restart();
    }
    for (const r of await Promise.all(waiting)) expect(r.accepted).toBe(true);
    const r = await until('the buffered batches', async () => {
      const rep = await store.sequenceReport('pasar');
      return rep.received === 20 ? rep : null;
    });
    expect(r).toMatchObject({ first: 1, last: 20, missing: [] });
    const h = await store.history({
      site: 'pasar',
      device: 'ptp-scc',
      metric: 'rx_power_dbm',
      from: now - 10_000,
      to: now,
    });
    expect(h[0]!.points).toHaveLength(20);
    expect(store.stats()).toMatchObject({ dropped: 0, buffered: 0 });
    await store.close();
  });

  it('starts while influxd is down, and sets up and delivers once it is up', async () => {
    await influxd.stop();
    const store = new InfluxStore({
      cfg: config({ batch: { max_points: 100, flush_ms: 50, max_buffered_points: 100_000 } }),
    });
    const now = Date.now();
    const waiting: Array<Promise<{ accepted: boolean }>> = [];
    try {
      for (let seq = 1; seq <= 5; seq++)
        waiting.push(store.ingestTelemetry('pasar', batch(seq, [now - 5000 + seq]), now));
      await until('a failed attempt', async () => store.stats().retries > 0);
    } finally {
      await influxd.restart();
    }
    for (const r of await Promise.all(waiting)) expect(r.accepted).toBe(true);
    const r = await until('the batches', async () => {
      const rep = await store.sequenceReport('pasar');
      return rep.received === 5 ? rep : null;
    });
    expect(r).toMatchObject({ first: 1, last: 5, missing: [] });
    expect(store.stats()).toMatchObject({ dropped: 0, rejected: 0, buffered: 0 });
    await store.close();
  });

  it('drops the oldest points, counted, when an outage outlasts the buffer: their batches fail, the rest are stored', async () => {
    const store = new InfluxStore({
      cfg: config({ batch: { max_points: 100, flush_ms: 50, max_buffered_points: 1000 } }),
    });
    await store.listSites();
    await influxd.stop();
    const now = Date.now();
    const ts = Array.from({ length: 100 }, (_, i) => now - 100_000 + i * 10);
    const outcomes: Array<Promise<'stored' | 'failed'>> = [];
    try {
      for (let seq = 1; seq <= 30; seq++)
        outcomes.push(
          store
            .ingestTelemetry(
              'pasar',
              batch(
                seq,
                ts.map((t) => t + seq),
              ),
              now,
            )
            .then(
              () => 'stored' as const,
              () => 'failed' as const,
            ),
        );
      await until('a failed write', async () => store.stats().retries > 0);
      expect(store.stats().buffered).toBeLessThanOrEqual(1000);
      expect(store.stats().dropped).toBeGreaterThanOrEqual(30 * 100 - 1000);
    } finally {
      await influxd.restart();
    }
    const got = await Promise.all(outcomes);
    // A failed batch was never acknowledged (the site box sends it again); the others are stored.
    const failed = got.flatMap((o, i) => (o === 'failed' ? [i + 1] : []));
    expect(failed.length).toBeGreaterThanOrEqual(20);
    const r = await until('the kept batches', async () => {
      const rep = await store.sequenceReport('pasar');
      return rep.received === 30 - failed.length ? rep : null;
    });
    // A resent failed batch is written, not taken for a duplicate.
    expect((await store.ingestTelemetry('pasar', batch(failed[0]!, ts), now)).accepted).toBe(true);
    expect(r.received).toBe(30 - failed.length);
    await store.close();
  });

  it('a point InfluxDB refuses is counted, and holds back neither the rest of its batch nor the ledger', async () => {
    const cfg = config();
    const store = new InfluxStore({ cfg });
    await store.listSites();
    // Someone else wrote snr_db as an integer: our float values for it are refused (type conflict).
    const w = await fetch(`${influxd.url}/write?db=${cfg.database}&rp=raw&precision=ms`, {
      method: 'POST',
      body: `snr_db,device=other,site=x value=1i ${Date.now() - 60_000}`,
    });
    expect(w.status).toBe(204);
    const now = Date.now();
    const r = await store.ingestTelemetry(
      'rsud',
      {
        v: 1,
        seq: 1,
        device: 'ptp-scc',
        backfill: false,
        readings: [{ ts: now - 1000, values: { snr_db: 30, rx_power_dbm: -60 } }],
      },
      now,
    );
    expect(r.accepted).toBe(true);
    expect((await store.sequenceReport('rsud')).received).toBe(1);
    const h = await store.history({
      site: 'rsud',
      device: 'ptp-scc',
      metric: 'rx_power_dbm',
      from: now - 5000,
      to: now,
    });
    expect(h[0]!.points).toEqual([[now - 1000, -60]]);
    expect(store.stats().rejected).toBeGreaterThan(0);
    expect(store.stats().retries).toBe(0);
    await store.close();
  });

  it('answers old ranges from the rollup, and rolls up readings that arrive late', async () => {
    const cfg = config({ retention: { raw_days: 1, rollup_days: 30, rollup_every: '5m' } });
    const store = new InfluxStore({ cfg });
    const now = Date.now();
    const old = now - 3 * DAY - (now % 300_000); // a rollup interval's start, three days ago
    // Readings older than the raw policy keeps go straight to the rollup, as 5-minute means.
    await store.ingestTelemetry('rsud', batch(1, [old, old + 60_000, old + 120_000, old + 300_000]), now);
    const h = await store.history({
      site: 'rsud',
      device: 'ptp-scc',
      metric: 'rx_power_dbm',
      from: old - DAY,
      to: now,
    });
    expect(h).toEqual([
      {
        labels: {},
        points: [
          [old, -61],
          [old + 300_000, -63],
        ],
      },
    ]);
    // A replay of two hours ago lands in raw after the continuous query passed it: rolled up by hand.
    const late = now - 2 * 3600_000 - (now % 300_000);
    await store.ingestTelemetry(
      'rsud',
      { ...batch(2, [late, late + 1000], (i) => -50 - 10 * i), backfill: true },
      now,
    );
    await store.rollupLate();
    const admin = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: cfg.database });
    const rows = await admin.query<{ value: number; min: number; max: number; n: number }>(
      `SELECT "value", "min", "max", "n" FROM "rollup"."rx_power_dbm" WHERE time = ${late}ms`,
    );
    expect(rows.map((r) => [r.value, r.min, r.max, r.n])).toEqual([[-55, -60, -50, 2]]);
    // `n` has one type whichever way a rollup point was written: the continuous query's count() is
    // an integer, so a float from the direct path would make InfluxDB refuse one or the other in a
    // shard holding both (the two points above share one on some days of the week, not others).
    const keys = await admin.query<{ fieldKey: string; fieldType: string }>(
      'SHOW FIELD KEYS FROM "rollup"."rx_power_dbm"',
    );
    expect(keys.map((k) => [k.fieldKey, k.fieldType])).toEqual([
      ['max', 'float'],
      ['min', 'float'],
      ['n', 'integer'],
      ['value', 'float'],
    ]);
    await store.close();
  });

  it('rolls up into shards where an older version wrote the count as a float', async () => {
    const cfg = config({ retention: { raw_days: 1, rollup_days: 30, rollup_every: '5m' } });
    const errors: string[] = [];
    const store = new InfluxStore({ cfg, onWriteError: (e) => errors.push(e.message) });
    await store.listSites(); // waits for the set-up
    const admin = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: cfg.database });
    const now = Date.now();
    const old = now - 3 * DAY - (now % 300_000);
    const late = now - 2 * 3600_000 - (now % 300_000);
    // What an older version left: `n` as a float in the rollup shards of both times.
    await admin.writePoints(
      [old - 300_000, late - 300_000].map((t) => ({
        measurement: 'rx_power_dbm',
        tags: { site: 'rsud', device: 'ptp-scc' },
        fields: { value: -70, min: -70, max: -70, n: 1.5 },
        timestamp: String(t),
      })),
      { retentionPolicy: 'rollup', precision: 'ms' },
    );
    await store.ingestTelemetry('rsud', batch(1, [old, old + 60_000]), now);
    await store.ingestTelemetry(
      'rsud',
      { ...batch(2, [late, late + 1000], (i) => -50 - 10 * i), backfill: true },
      now,
    );
    await store.rollupLate();
    const rows = await admin.query<{ time: { getTime(): number }; value: number; n: number }>(
      'SELECT "value", "n" FROM "rollup"."rx_power_dbm"',
    );
    expect(rows.map((r) => [r.time.getTime(), r.value, r.n])).toEqual([
      [old - 300_000, -70, 1.5],
      [old, -60.5, 2],
      [late - 300_000, -70, 1.5],
      [late, -55, 2],
    ]);
    expect(store.stats().rejected).toBe(0);
    expect(errors).toEqual([]);
    await store.close();
  });

  it('reads nothing, and writes nothing, when opened read-only on a database not created yet', async () => {
    const store = new InfluxStore({ cfg: config(), readonly: true });
    expect(await store.listSites()).toEqual([]);
    expect(await store.sequenceReport('x')).toMatchObject({ received: 0, first: null });
    await expect(
      store.putEvent(
        'x',
        { v: 1, seq: 1, ts: 1, type: 'gateway_started', severity: 'info', message: { id: 'x', en: 'x' } },
        1,
      ),
    ).rejects.toThrow(/read-only/);
    await store.close();
  });

  it('central.yaml: an influx store without url is named by file, line and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pantau-influx-cfg-'));
    try {
      const file = join(dir, 'central.yaml');
      writeFileSync(file, 'credentials_file: c.yaml\nstore:\n  kind: influx\n  database: pantau\n');
      expect(() => loadBrokerConfig(file)).toThrow(/central\.yaml:3.*store.*needs url/s);
      writeFileSync(
        file,
        'credentials_file: c.yaml\nstore:\n  kind: influx\n  url: http://127.0.0.1:8086\n  path: x.db\n  retention: { raw_days: 0 }\n',
      );
      expect(() => loadBrokerConfig(file)).toThrow(/store\.retention\.raw_days/);
      writeFileSync(
        file,
        'credentials_file: c.yaml\nstore:\n  kind: influx\n  url: http://127.0.0.1:8086\n  path: x.db\n',
      );
      expect(() => loadBrokerConfig(file)).toThrow(/central\.yaml:5.*store\.path.*not used by kind influx/s);
      writeFileSync(
        file,
        'credentials_file: c.yaml\nstore: { kind: influx, url: "http://127.0.0.1:8086" }\n',
      );
      expect(loadBrokerConfig(file).store).toEqual({
        kind: 'influx',
        url: 'http://127.0.0.1:8086',
        ...INFLUX_DEFAULTS,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
