import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayStatePayload, TelemetryPayload } from '@pantau/contract';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Influxd, startInfluxd } from '../../../test/support/influxd.js';
import { INFLUX_DEFAULTS, openStore, type Store } from './index.js';

/** The tables schemas 3 and 4 share, empty, as an older Pantau created them (batches differ). */
const OLD_TABLES = (version: number) => `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  INSERT INTO meta VALUES ('schema_version', '${version}');
  CREATE TABLE series (id INTEGER PRIMARY KEY, site TEXT NOT NULL, device TEXT NOT NULL,
    metric TEXT NOT NULL, labels TEXT NOT NULL, UNIQUE (site, device, metric, labels));
  CREATE TABLE samples (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (series_id, ts)) WITHOUT ROWID;
  CREATE TABLE seq_runs (site TEXT NOT NULL, a INTEGER NOT NULL, b INTEGER NOT NULL,
    PRIMARY KEY (site, a)) WITHOUT ROWID;
  CREATE TABLE seq_stats (site TEXT PRIMARY KEY, received INTEGER NOT NULL DEFAULT 0,
    backfilled INTEGER NOT NULL DEFAULT 0, clock_suspect INTEGER NOT NULL DEFAULT 0);`;

describe('store: sqlite schema upgrade', () => {
  it('brings a version 1 store up to date without losing what it holds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pantau-store-v1-'));
    const path = join(dir, 'central.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta VALUES ('schema_version', '1');
      CREATE TABLE batches (site TEXT NOT NULL, seq INTEGER NOT NULL, device TEXT NOT NULL,
        received_at INTEGER NOT NULL, backfill INTEGER NOT NULL, samples INTEGER NOT NULL,
        PRIMARY KEY (site, seq)) WITHOUT ROWID;
      INSERT INTO batches VALUES ('rsud', 7, 'ptp-scc', 1, 0, 3);`);
    old.close();
    const store = openStore({ kind: 'sqlite', path });
    expect(await store.sequenceReport('rsud')).toMatchObject({
      first: 7,
      received: 1,
      clock_suspect_readings: 0,
    });
    await store.close();
    const check = new Database(path, { readonly: true });
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({
      value: '7',
    });
    check.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a version 3 store: its batches become a log, and a reader answers history before any broker migrates it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pantau-store-v3-'));
    const path = join(dir, 'central.db');
    const ts = Date.now() - 60_000;
    const old = new Database(path);
    old.exec(`${OLD_TABLES(3)}
      INSERT INTO series VALUES (1, 'rsud', 'ptp-scc', 'snr_db', '');
      INSERT INTO samples VALUES (1, ${ts}, 31);
      CREATE TABLE batches (site TEXT NOT NULL, seq INTEGER NOT NULL, device TEXT NOT NULL,
        received_at INTEGER NOT NULL, backfill INTEGER NOT NULL, samples INTEGER NOT NULL,
        clock_suspect INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (site, seq)) WITHOUT ROWID;
      INSERT INTO batches VALUES ('rsud', 7, 'ptp-scc', ${ts}, 0, 1, 0);
      INSERT INTO seq_runs VALUES ('rsud', 7, 7);
      INSERT INTO seq_stats VALUES ('rsud', 1, 0, 0);`);
    old.close();
    const q = { site: 'rsud', device: 'ptp-scc', metric: 'snr_db' as const, from: ts - 1, to: ts + 1 };
    const reader = openStore({ kind: 'sqlite', path }, { readonly: true });
    expect((await reader.history(q))[0]!.points).toEqual([[ts, 31]]);
    const store = openStore({ kind: 'sqlite', path });
    const batch = (seq: number): TelemetryPayload => ({
      v: 1,
      seq,
      device: 'ptp-scc',
      backfill: false,
      readings: [{ ts: ts + 1, values: { snr_db: 32 } }],
    });
    expect(await store.ingestTelemetry('rsud', batch(7), ts + 2)).toEqual({ accepted: false, samples: 0 });
    expect(await store.ingestTelemetry('rsud', batch(8), ts + 2)).toEqual({ accepted: true, samples: 1 });
    // The reader that opened the file first sees the new table too.
    expect((await reader.history({ ...q, to: ts + 2 }))[0]!.points).toEqual([
      [ts, 31],
      [ts + 1, 32],
    ]);
    expect(await store.sequenceReport('rsud')).toMatchObject({ first: 7, last: 8, received: 2, missing: [] });
    await store.close();
    await reader.close();
    const check = new Database(path, { readonly: true });
    expect(check.prepare('SELECT site, seq FROM batches ORDER BY rowid').all()).toEqual([
      { site: 'rsud', seq: 7 },
      { site: 'rsud', seq: 8 },
    ]);
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({
      value: '7',
    });
    check.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('store: sqlite schema 4 to 7', () => {
  it('moves the rows per value into rows per reading, the later value winning, and a reader that opened the file first follows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pantau-store-v4-'));
    const path = join(dir, 'central.db');
    const ts = Date.now() - 60_000;
    const old = new Database(path);
    old.exec(`${OLD_TABLES(4)}
      INSERT INTO series VALUES (1, 'rsud', 'ptp-scc', 'snr_db', ''), (2, 'rsud', 'ptp-scc', 'rx_power_dbm', ''),
        (3, 'rsud', 'r1', 'if_in_bps', 'iface=eth0');
      INSERT INTO samples VALUES (1, ${ts}, 31), (2, ${ts}, -60), (1, ${ts + 1000}, 32), (3, ${ts}, 5);
      CREATE TABLE samples_recent (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL);
      INSERT INTO samples_recent VALUES (2, ${ts}, -61), (2, ${ts}, -62), (1, ${ts + 2000}, 33);
      CREATE TABLE batches (site TEXT NOT NULL, seq INTEGER NOT NULL, device TEXT NOT NULL,
        received_at INTEGER NOT NULL, backfill INTEGER NOT NULL, samples INTEGER NOT NULL,
        clock_suspect INTEGER NOT NULL DEFAULT 0);
      INSERT INTO batches VALUES ('rsud', 7, 'ptp-scc', ${ts}, 0, 2, 0);
      INSERT INTO seq_runs VALUES ('rsud', 7, 7);
      INSERT INTO seq_stats VALUES ('rsud', 1, 0, 0);`);
    old.close();
    const q = { site: 'rsud', device: 'ptp-scc', from: ts - 1, to: ts + 5000 };
    const points = async (s: Store) => ({
      snr: (await s.history({ ...q, metric: 'snr_db' }))[0]!.points,
      rx: (await s.history({ ...q, metric: 'rx_power_dbm' }))[0]!.points,
      eth: (await s.history({ ...q, device: 'r1', metric: 'if_in_bps', labels: { iface: 'eth0' } }))[0]!
        .points,
    });
    const want = {
      snr: [
        [ts, 31],
        [ts + 1000, 32],
        [ts + 2000, 33],
      ],
      rx: [[ts, -62]],
      eth: [[ts, 5]],
    };
    const reader = openStore({ kind: 'sqlite', path }, { readonly: true });
    expect(await points(reader)).toEqual(want);
    const store = openStore({ kind: 'sqlite', path });
    expect(await points(store)).toEqual(want);
    expect(await points(reader)).toEqual(want);
    expect(await store.sequenceReport('rsud')).toMatchObject({ first: 7, last: 7, received: 1 });
    // Schema 7: a metric named from now on gets its group's next short key; one named before keeps
    // its name as the key, in the same row, and a later reading at one time still wins per metric.
    const later = (seq: number, values: Record<string, number>): TelemetryPayload => ({
      v: 1,
      seq,
      device: 'ptp-scc',
      backfill: false,
      readings: [{ ts: ts + 3000, values }],
    });
    expect(
      await store.ingestTelemetry('rsud', later(8, { snr_db: 34, noise_floor_dbm: -90 }), ts + 3000),
    ).toEqual({ accepted: true, samples: 2 });
    expect(await store.ingestTelemetry('rsud', later(9, { noise_floor_dbm: -91 }), ts + 3000)).toEqual({
      accepted: true,
      samples: 1,
    });
    const newer = { ...want, snr: [...want.snr, [ts + 3000, 34]] };
    expect(await points(store)).toEqual(newer);
    expect(await points(reader)).toEqual(newer);
    for (const s of [store, reader])
      expect((await s.history({ ...q, metric: 'noise_floor_dbm' }))[0]!.points).toEqual([[ts + 3000, -91]]);
    await store.close();
    await reader.close();
    const check = new Database(path, { readonly: true });
    expect(
      check.prepare("SELECT metric, vkey FROM series WHERE device = 'ptp-scc' ORDER BY metric").all(),
    ).toEqual([
      { metric: 'noise_floor_dbm', vkey: '#0' },
      { metric: 'rx_power_dbm', vkey: null },
      { metric: 'snr_db', vkey: null },
    ]);
    expect(
      check
        .prepare('SELECT vals FROM readings WHERE ts = ?')
        .pluck()
        .get(ts + 3000),
    ).toBe('{"snr_db":34,"#0":-91}');
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({
      value: '7',
    });
    expect(
      check.prepare("SELECT name FROM sqlite_master WHERE name IN ('samples', 'samples_recent')").all(),
    ).toEqual([]);
    // Schema 6: the count received is the runs' length, no longer a column.
    expect(
      (check.prepare('PRAGMA table_info(seq_stats)').all() as Array<{ name: string }>).map((c) => c.name),
    ).toEqual(['site', 'backfilled', 'clock_suspect']);
    check.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('store: sqlite keeps the runs of received numbers as they arrive', () => {
  it('the same report as counting every reading again: any order, holes, events, replays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pantau-store-runs-'));
    const path = join(dir, 'central.db');
    const store = openStore({ kind: 'sqlite', path });
    // A fixed shuffle (no Math.random: the same order every run): numbers 1..3000, some never sent,
    // some sent twice, some as events; two sites interleaved.
    const seqs: number[] = [];
    for (let i = 1; i <= 3000; i++) if (i % 97 !== 0 && i % 1013 !== 5) seqs.push(i);
    for (let i = seqs.length - 1; i > 0; i--) {
      const j = (i * 7919 + 13) % (i + 1);
      [seqs[i], seqs[j]] = [seqs[j]!, seqs[i]!];
    }
    const t = Date.now() - 60_000;
    for (const [k, seq] of seqs.entries())
      for (const site of ['bukit', 'pantai']) {
        if (seq % 11 === 0)
          await store.putEvent(site, { v: 1, seq, ts: t, type: 'device_down', device: 'r1' } as never, t);
        else
          await store.ingestTelemetry(
            site,
            {
              v: 1,
              seq,
              device: 'r1',
              backfill: k % 5 === 0,
              readings: [{ ts: seq === 17 ? 1000 : t, values: { snr_db: 30 } }],
            },
            t,
          );
        if (k % 50 === 0)
          await store.ingestTelemetry(site, { v: 1, seq, device: 'r1', backfill: true, readings: [] }, t);
      }
    const kept = await Promise.all(['bukit', 'pantai'].map((site) => store.sequenceReport(site)));
    await store.close();
    // The same file as an older version left it: the upgrade counts everything again from scratch.
    const db = new Database(path);
    db.exec(
      "UPDATE meta SET value = '2' WHERE key = 'schema_version'; DELETE FROM seq_runs; DELETE FROM seq_stats;",
    );
    db.close();
    const recounted = openStore({ kind: 'sqlite', path });
    for (const [i, site] of ['bukit', 'pantai'].entries()) {
      const r = await recounted.sequenceReport(site);
      expect(kept[i]).toEqual(r);
      expect(r.received).toBe(seqs.length);
      expect(r.missing_count).toBe(3000 - seqs.length);
      expect(r.clock_suspect_readings).toBe(1);
    }
    await recounted.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('store: sqlite keeps the runs right with many batches per commit and two writers', () => {
  it.each([true, false])(
    'writer thread %s: the same report as counting every reading again',
    async (writerThread) => {
      const dir = mkdtempSync(join(tmpdir(), 'pantau-store-runs2-'));
      const path = join(dir, 'central.db');
      // Two brokers on one file (a cluster on one machine): each extends runs the other also writes.
      const a = openStore({ kind: 'sqlite', path }, { writerThread });
      const b = openStore({ kind: 'sqlite', path }, { writerThread });
      const t = Date.now() - 60_000;
      const batch = (seq: number, backfill = false) => ({
        v: 1 as const,
        seq,
        device: 'r1',
        backfill,
        readings: [{ ts: t, values: { snr_db: 30, rx_power_dbm: -60 } }],
      });
      let expected = 0;
      for (let round = 0; round < 20; round++) {
        const from = round * 100 + 1;
        const writes: Array<Promise<unknown>> = [];
        for (let seq = from; seq < from + 100; seq++) {
          if (seq % 37 === 0) continue; // never arrives
          expected++;
          // Mostly in order, in flight together (one commit), on the broker of the round; a few
          // on the other, and a few sent twice (to both).
          const mine = round % 2 === 0 ? a : b;
          const other = mine === a ? b : a;
          writes.push((seq % 13 === 0 ? other : mine).ingestTelemetry('bukit', batch(seq), t));
          if (seq % 29 === 0) writes.push(other.ingestTelemetry('bukit', batch(seq, true), t));
        }
        await Promise.all(writes);
      }
      // A late one into the first hole, and an event.
      await a.ingestTelemetry('bukit', batch(37, true), t);
      expected++;
      await b.putEvent('bukit', { v: 1, seq: 2001, ts: t, type: 'device_down', device: 'r1' } as never, t);
      expected++;
      // The other broker stored past a hole: the runs must join when it is filled.
      const all = (s: Store, from: number, to: number) =>
        Promise.all(
          Array.from({ length: to - from + 1 }, (_, i) => s.ingestTelemetry('pantai', batch(from + i), t)),
        );
      await all(a, 1, 10);
      await all(b, 12, 20);
      // A third broker joins the two runs; the second then extends a run that no longer exists.
      const c = openStore({ kind: 'sqlite', path }, { writerThread });
      await all(c, 11, 11);
      await c.close();
      await all(b, 21, 25);
      const joined = await b.sequenceReport('pantai');
      expect(joined).toMatchObject({ first: 1, last: 25, received: 25, missing: [] });
      const kept = await a.sequenceReport('bukit');
      await a.close();
      await b.close();
      const db = new Database(path);
      db.exec(
        "UPDATE meta SET value = '2' WHERE key = 'schema_version'; DELETE FROM seq_runs; DELETE FROM seq_stats;",
      );
      db.close();
      const recounted = openStore({ kind: 'sqlite', path }, { writerThread: false });
      const r = await recounted.sequenceReport('bukit');
      await recounted.close();
      rmSync(dir, { recursive: true, force: true });
      expect(r.received).toBe(expected);
      expect(r.missing.length).toBe(Math.floor(2000 / 37) - 1);
      expect(kept).toEqual(r);
    },
  );
});

/** Start of yesterday (UTC): plausible (after 2025) and recent enough for InfluxDB's raw policy. */
const T = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000;

/** How each kind of store is opened fresh for a test and thrown away after it. */
interface Kind {
  setup(): Promise<void>;
  open(): Promise<Store>;
  /** A second store on the same data, as a second broker of a cluster would have. */
  another(): Promise<Store>;
  discard(): Promise<void>;
  teardown(): Promise<void>;
}

/** SQLite as the broker opens it (writes in a worker thread) or on the caller's thread. */
const sqliteKind = (writerThread: boolean) => (): Kind => {
  let dir = '';
  return {
    setup: async () => {},
    open: async () => {
      dir = mkdtempSync(join(tmpdir(), 'pantau-store-'));
      return openStore({ kind: 'sqlite', path: join(dir, 'central.db') }, { writerThread });
    },
    another: async () => openStore({ kind: 'sqlite', path: join(dir, 'central.db') }, { writerThread }),
    discard: async () => rmSync(dir, { recursive: true, force: true }),
    teardown: async () => {},
  };
};

const kinds: Record<'sqlite' | 'sqlite (one thread)' | 'influx', () => Kind> = {
  sqlite: sqliteKind(true),
  'sqlite (one thread)': sqliteKind(false),
  // One real influxd for the file, a fresh database per test.
  influx: () => {
    let influxd: Influxd | null = null;
    let n = 0;
    let db = '';
    return {
      setup: async () => {
        influxd = await startInfluxd();
      },
      open: async () => {
        db = `suite_${++n}`;
        return openStore({ kind: 'influx', ...INFLUX_DEFAULTS, url: influxd!.url, database: db });
      },
      another: async () => openStore({ kind: 'influx', ...INFLUX_DEFAULTS, url: influxd!.url, database: db }),
      discard: async () => {
        await fetch(`${influxd!.url}/query?q=${encodeURIComponent(`DROP DATABASE "${db}"`)}`, {
          method: 'POST',
        });
      },
      teardown: async () => {
        await influxd?.remove();
      },
    };
  },
};

// The same suite runs against every store kind.
describe.each(Object.keys(kinds) as Array<keyof typeof kinds>)('store: %s', (kindName) => {
  const kind = kinds[kindName]();
  let store: Store;
  beforeAll(() => kind.setup());
  afterAll(() => kind.teardown());
  beforeEach(async () => {
    store = await kind.open();
  });
  afterEach(async () => {
    await store.close();
    await kind.discard();
  });

  const batch = (seq: number, t0: number, n: number): TelemetryPayload => ({
    v: 1,
    seq,
    device: 'ptp-scc',
    backfill: false,
    readings: Array.from({ length: n }, (_, i) => ({
      ts: t0 + i * 1000,
      values: { rx_power_dbm: -60 - i, snr_db: 30 },
    })),
  });

  it('keeps the newest thumbnail per camera; an older replay does not replace it', async () => {
    const jpeg = (n: number) => Buffer.from([0xff, 0xd8, 0xff, n]);
    expect(await store.thumbnail('pasar', 'cam-1')).toBeNull();
    await store.putThumbnail('pasar', { device: 'cam-1', ts: 2000, mime: 'image/jpeg', data: jpeg(2) }, 2100);
    await store.putThumbnail('pasar', { device: 'cam-1', ts: 1000, mime: 'image/jpeg', data: jpeg(1) }, 2200);
    expect(await store.thumbnail('pasar', 'cam-1')).toEqual({
      device: 'cam-1',
      ts: 2000,
      mime: 'image/jpeg',
      data: jpeg(2),
    });
    await store.putThumbnail('pasar', { device: 'cam-1', ts: 3000, mime: 'image/jpeg', data: jpeg(3) }, 3100);
    expect((await store.thumbnail('pasar', 'cam-1'))!.data).toEqual(jpeg(3));
  });

  it('keeps a picture larger than a database string field (64 KiB) whole', async () => {
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    await store.putThumbnail('pasar', { device: 'cam-2', ts: 5000, mime: 'image/jpeg', data: big }, 5100);
    expect((await store.thumbnail('pasar', 'cam-2'))!.data.equals(big)).toBe(true);
    // A smaller, newer picture replaces it entirely.
    const small = Buffer.from([1, 2, 3]);
    await store.putThumbnail('pasar', { device: 'cam-2', ts: 6000, mime: 'image/jpeg', data: small }, 6100);
    expect(await store.thumbnail('pasar', 'cam-2')).toEqual({
      device: 'cam-2',
      ts: 6000,
      mime: 'image/jpeg',
      data: small,
    });
  });

  it('finds every hole in a long sequence', async () => {
    const at = T;
    const lost = new Set([3, 4096, 4097, 9000, 12_287]);
    const all: Array<Promise<unknown>> = [];
    for (let seq = 1; seq <= 12_300; seq++)
      if (!lost.has(seq)) all.push(store.ingestTelemetry('hutan', batch(seq, at + (seq % 60) * 1000, 1), at));
    await Promise.all(all);
    const r = await store.sequenceReport('hutan');
    expect(r).toMatchObject({
      first: 1,
      last: 12_300,
      received: 12_300 - lost.size,
      missing_count: lost.size,
    });
    expect(r.missing).toEqual([
      [3, 3],
      [4096, 4097],
      [9000, 9000],
      [12_287, 12_287],
    ]);
  });

  it('two brokers on one store: a replay to the other is a duplicate, and both report the same', async () => {
    const other = await kind.another();
    try {
      for (const seq of [1, 2, 3]) await store.ingestTelemetry('rsud', batch(seq, T + seq * 1000, 2), T);
      for (const seq of [4, 6]) await other.ingestTelemetry('rsud', batch(seq, T + seq * 1000, 2), T);
      // Reads see the store as a whole, writes of this process included.
      await store.sequenceReport('rsud');
      await other.sequenceReport('rsud');
      expect(await other.ingestTelemetry('rsud', batch(2, T + 2000, 2), T)).toEqual({
        accepted: false,
        samples: 0,
      });
      expect(await store.ingestTelemetry('rsud', batch(6, T + 6000, 2), T)).toEqual({
        accepted: false,
        samples: 0,
      });
      const a = await store.sequenceReport('rsud');
      const b = await other.sequenceReport('rsud');
      expect(a).toEqual(b);
      expect(a).toMatchObject({ first: 1, last: 6, received: 5, missing: [[5, 5]] });
      const h = await other.history({
        site: 'rsud',
        device: 'ptp-scc',
        metric: 'snr_db',
        from: T,
        to: T + 10_000,
      });
      // Batches overlap by a reading: seven distinct times, T + 1 s to T + 7 s.
      expect(h[0]!.points.map((p) => p[0] - T)).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000]);
    } finally {
      await other.close();
    }
  });

  it("proves the sequence: missing ranges reported, a restart's unused block skipped, replays fill in", async () => {
    const at = Date.UTC(2026, 11, 1);
    for (const seq of [1, 2, 3, 4, 5, 8, 9])
      await store.ingestTelemetry('pasar', batch(seq, at + seq * 1000, 1), at);
    await store.putEvent(
      'pasar',
      { v: 1, seq: 10, ts: at, type: 'gateway_started', severity: 'info', message: { id: 'x', en: 'x' } },
      at,
    );
    // The site box restarts and starts a new block at 2001.
    await store.putGatewayState(
      'pasar',
      { v: 1, state: 'online', ts: at, site: 'pasar', seq_first: 2001 },
      at,
    );
    await store.ingestTelemetry('pasar', batch(2001, at + 5000, 1), at);
    // Its disk outbox replays a batch from before the restart that never reached the central.
    await store.ingestTelemetry('pasar', { ...batch(12, at + 12_000, 1), backfill: true }, at);
    // A reconnect of the same process (same seq_first) skips nothing more.
    await store.putGatewayState(
      'pasar',
      { v: 1, state: 'online', ts: at, site: 'pasar', seq_first: 2001 },
      at,
    );
    const r = await store.sequenceReport('pasar');
    expect(r).toMatchObject({ first: 1, last: 2001, received: 10, backfilled_batches: 1 });
    expect(r.skipped).toEqual([[11, 2000]]);
    expect(r.missing).toEqual([[6, 7]]);
    expect(r.missing_count).toBe(2);
    expect(await store.sequenceReport('nowhere')).toMatchObject({ first: null, received: 0, missing: [] });
  });

  it('a birth that says what was written: a loss among the waiting numbers is missing, not skipped', async () => {
    const at = Date.UTC(2026, 11, 1);
    for (const seq of [1, 2, 3]) await store.ingestTelemetry('pasar', batch(seq, at + seq * 1000, 1), at);
    // Power cut: 4–7 were on the site box's disk (seq_committed 7); 8 was taken, never written.
    await store.putGatewayState(
      'pasar',
      {
        v: 1,
        state: 'online',
        ts: at,
        site: 'pasar',
        seq_first: 1001,
        seq_committed: 7,
        unclean_restart: true,
      },
      at,
    );
    // The outbox replays 4, 5 and 7; 6 never arrives (lost on the way).
    for (const seq of [4, 5, 7, 1001])
      await store.ingestTelemetry('pasar', { ...batch(seq, at + seq * 1000, 1), backfill: seq < 1001 }, at);
    const r = await store.sequenceReport('pasar');
    expect(r.skipped).toEqual([[8, 1000]]);
    expect(r.missing).toEqual([[6, 6]]);
  });

  it('a replaced site box numbering from its clock: nothing missing; a run among held numbers is a clash; a jump to the clock is skipped', async () => {
    const at = Date.UTC(2026, 11, 1);
    const birth = (o: Partial<GatewayStatePayload>) =>
      store.putGatewayState('pasar', { v: 1, state: 'online', ts: at, site: 'pasar', ...o }, at);
    expect(await birth({ seq_first: 1, seq_origin: 'saved' })).toBeNull();
    for (const seq of [1, 2, 3]) await store.ingestTelemetry('pasar', batch(seq, at + seq * 1000, 1), at);
    // A reconnection of the same run, after its last will: its numbers are held, but they are its own.
    expect(await birth({ state: 'offline' })).toBeNull();
    expect(await birth({ seq_first: 1, seq_origin: 'saved' })).toBeNull();
    // The box is replaced (empty state_dir): the new one numbers from its clock.
    expect(await birth({ seq_first: at, seq_origin: 'clock' })).toBeNull();
    for (const seq of [at, at + 1])
      expect((await store.ingestTelemetry('pasar', batch(seq, at + 1000, 1), at)).accepted).toBe(true);
    let r = await store.sequenceReport('pasar');
    expect(r).toMatchObject({ first: 1, last: at + 1, received: 5, missing: [], missing_count: 0 });
    expect(r.skipped).toEqual([[4, at - 1]]);
    // Replaced again, but this box's clock is not set: it starts among held numbers. Said, not silent.
    expect(await birth({ seq_first: 2, seq_origin: 'unset_clock' })).toEqual({
      seq_first: 2,
      held_max: at + 1,
    });
    expect((await store.ingestTelemetry('pasar', batch(2, at + 2000, 1), at)).accepted).toBe(false);
    // Its clock is set: it jumps to it, and says so in its birth (the same run: no second clash).
    expect(
      await birth({ seq_first: 2, seq_origin: 'clock', seq_jump: [2, at + 5000], started_at: at + 7 }),
    ).toBeNull();
    await store.ingestTelemetry('pasar', batch(at + 5000, at + 3000, 1), at);
    r = await store.sequenceReport('pasar');
    expect(r).toMatchObject({ last: at + 5000, missing: [], missing_count: 0 });
    expect(r.skipped).toEqual([
      [3, at + 4999],
      [4, at - 1],
    ]);
  });

  it('readings stamped before the site box had its clock set are counted, not put in history', async () => {
    const now = Date.now();
    const r = await store.ingestTelemetry(
      'pasar',
      {
        v: 1,
        seq: 1,
        device: 'ptp-scc',
        backfill: false,
        readings: [
          { ts: 60_000, values: { rx_power_dbm: -60 } }, // 1970: the box booted without a real-time clock
          { ts: now + 3600_000, values: { rx_power_dbm: -61 } }, // an hour ahead of the central
          { ts: now - 1000, values: { rx_power_dbm: -62 } },
        ],
      },
      now,
    );
    expect(r).toEqual({ accepted: true, samples: 1 });
    expect((await store.sequenceReport('pasar')).clock_suspect_readings).toBe(2);
    const h = await store.history({
      site: 'pasar',
      device: 'ptp-scc',
      metric: 'rx_power_dbm',
      from: 0,
      to: now + 7200_000,
    });
    expect(h[0]!.points.map((p) => p[1])).toEqual([-62]);
  });

  it('ingests readings and answers a history query', async () => {
    expect(await store.ingestTelemetry('rsud', batch(1, T, 5), T + 1_000_000)).toEqual({
      accepted: true,
      samples: 10,
    });
    const h = await store.history({
      site: 'rsud',
      device: 'ptp-scc',
      metric: 'rx_power_dbm',
      from: 0,
      to: T + 3_000_000,
    });
    expect(h).toEqual([
      {
        labels: {},
        points: [
          [T, -60],
          [T + 1_000, -61],
          [T + 2_000, -62],
          [T + 3_000, -63],
          [T + 4_000, -64],
        ],
      },
    ]);
  });

  it('ignores a replayed sequence number', async () => {
    await store.ingestTelemetry('rsud', batch(7, T, 2), T + 1);
    expect(await store.ingestTelemetry('rsud', batch(7, T, 2), T + 2)).toEqual({
      accepted: false,
      samples: 0,
    });
    expect(await store.ingestTelemetry('damkar', batch(7, T, 2), T + 2)).toMatchObject({
      accepted: true,
    });
  });

  it('checks telemetry as it came off the wire where the store offers that: malformed is answered, not stored', async () => {
    if (!store.ingestTelemetryText) {
      // Only the writer-thread store checks for the broker; the others get checked payloads.
      expect(kindName).not.toBe('sqlite');
      return;
    }
    const text = (p: unknown) => Buffer.from(JSON.stringify(p));
    const good = batch(9, T, 2);
    expect(await store.ingestTelemetryText('rsud', 'ptp-scc', text(good), T + 1)).toEqual({
      accepted: true,
      samples: 4,
    });
    expect(await store.ingestTelemetryText('rsud', 'ptp-scc', text(good), T + 2)).toEqual({
      accepted: false,
      samples: 0,
    });
    const refused: Array<[Buffer, RegExp]> = [
      [Buffer.from('not json'), /not JSON/],
      [text({ ...good, v: 2, seq: 10 }), /contract version 2/],
      [text({ ...good, seq: 11, device: 'other' }), /device does not match/],
      [text({ ...good, seq: -1 }), /seq must be/],
      [text({ ...good, seq: 12, readings: [{ ts: T, values: { volts: 1 } }] }), /unknown metric "volts"/],
      [text({ ...good, seq: 13, readings: [{ ts: T, values: { snr_db: 'x' } }] }), /snr_db is not a number/],
    ];
    for (const [body, why] of refused) {
      const r = await store.ingestTelemetryText('rsud', 'ptp-scc', body, T + 3);
      expect(r).toMatchObject({ malformed: expect.stringMatching(why) });
    }
    const report = await store.sequenceReport('rsud');
    expect(report).toMatchObject({ first: 9, last: 9, received: 1 });
    const h = await store.history({
      site: 'rsud',
      device: 'ptp-scc',
      metric: 'snr_db',
      from: T - 1,
      to: T + 5000,
    });
    expect(h[0]!.points).toEqual([
      [T, 30],
      [T + 1000, 30],
    ]);
  });

  it('keeps one value per reading time, the one written last, before and after the store settles it', async () => {
    const at = (seq: number, value: number): TelemetryPayload => ({
      v: 1,
      seq,
      device: 'ptp-scc',
      backfill: false,
      readings: [{ ts: T, values: { rx_power_dbm: value } }],
    });
    const q = { site: 'rsud', device: 'ptp-scc', metric: 'rx_power_dbm' as const, from: T - 1, to: T + 1 };
    await store.ingestTelemetry('rsud', at(1, -60), T + 1);
    // Closed and opened again: SQLite has moved its recent samples (closing moves them).
    await store.close();
    store = await kind.another();
    expect((await store.history(q))[0]!.points).toEqual([[T, -60]]);
    await store.ingestTelemetry('rsud', at(2, -70), T + 2);
    await store.ingestTelemetry('rsud', at(3, -80), T + 3);
    expect((await store.history(q))[0]!.points).toEqual([[T, -80]]);
    expect((await store.history({ ...q, maxPoints: 1 }))[0]!.points).toEqual([[T, -80]]);
    // Metric by metric: a later reading at the same time with another metric leaves this one be.
    await store.ingestTelemetry(
      'rsud',
      { ...at(4, 0), readings: [{ ts: T, values: { snr_db: 31 } }] },
      T + 4,
    );
    const snr = { ...q, metric: 'snr_db' as const };
    expect((await store.history(q))[0]!.points).toEqual([[T, -80]]);
    expect((await store.history(snr))[0]!.points).toEqual([[T, 31]]);
    await store.close();
    store = await kind.another();
    expect((await store.history(q))[0]!.points).toEqual([[T, -80]]);
    expect((await store.history(snr))[0]!.points).toEqual([[T, 31]]);
  });

  it('keeps labelled series apart and averages into buckets', async () => {
    await store.ingestTelemetry(
      'rsud',
      {
        v: 1,
        seq: 1,
        device: 'r1',
        backfill: false,
        readings: [0, 1, 2, 3].flatMap((i) => [
          { ts: T + i * 1000, values: { if_in_bps: 100 * i }, labels: { iface: 'eth0' } },
          { ts: T + i * 1000, values: { if_in_bps: 7 }, labels: { iface: 'ath0' } },
        ]),
      },
      T + 5000,
    );
    const eth = await store.history({
      site: 'rsud',
      device: 'r1',
      metric: 'if_in_bps',
      from: T,
      to: T + 3999,
      labels: { iface: 'eth0' },
      maxPoints: 2,
    });
    expect(eth).toEqual([
      {
        labels: { iface: 'eth0' },
        points: [
          [T, 50],
          [T + 2000, 250],
        ],
      },
    ]);
    const all = await store.history({
      site: 'rsud',
      device: 'r1',
      metric: 'if_in_bps',
      from: T,
      to: T + 3999,
    });
    expect(all.map((s) => s.labels.iface).sort()).toEqual(['ath0', 'eth0']);
  });

  it('keeps the latest site, device and event records', async () => {
    await store.putGatewayState('rsud', { v: 1, state: 'online', ts: 5, site: 'rsud' }, 6);
    await store.putGatewayState('rsud', { v: 1, state: 'offline', ts: 9, site: 'rsud' }, 10);
    const sites = await store.listSites();
    expect(sites).toHaveLength(1);
    expect(sites[0]?.state?.state).toBe('offline');
    await store.putDeviceState(
      'rsud',
      {
        v: 1,
        ts: 1,
        device: 'r1',
        kind: 'radio',
        address: '127.0.0.1',
        status: 'ok',
        reasons: [],
        last_seen: 1,
        interval_s: 10,
        figures: {},
      },
      2,
    );
    expect((await store.listDevices('rsud'))[0]?.state.status).toBe('ok');
    await store.putEvent(
      'rsud',
      {
        v: 1,
        seq: 3,
        ts: 100,
        type: 'device_rebooted',
        device: 'r1',
        severity: 'warning',
        message: { id: 'x', en: 'x' },
      },
      101,
    );
    await store.putEvent(
      'rsud',
      {
        v: 1,
        seq: 3,
        ts: 100,
        type: 'device_rebooted',
        device: 'r1',
        severity: 'warning',
        message: { id: 'x', en: 'x' },
      },
      102,
    );
    expect(await store.listEvents({ site: 'rsud' })).toHaveLength(1);
  });
});
