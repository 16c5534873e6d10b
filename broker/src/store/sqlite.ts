// The embedded default store: one SQLite file in WAL mode, zero setup. A reading (one device's values
// at one time) is one row whose values are a JSON object; the series table names every metric seen.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type {
  DeviceStatePayload,
  EventPayload,
  GatewayHealthPayload,
  GatewayStatePayload,
  TelemetryPayload,
} from '@pantau/contract';
import { EARLIEST_PLAUSIBLE_TS } from '@pantau/contract';
import Database from 'better-sqlite3';
import { birthSkips, clashOf } from './births.js';
import type {
  DeviceRecord,
  EventRecord,
  HistoryQuery,
  HistorySeries,
  IngestResult,
  SequenceClash,
  SequenceReport,
  SiteRecord,
  Store,
  ThumbnailRecord,
} from './types.js';

const SCHEMA_VERSION = 7;

/**
 * The batches received, in arrival order, without a key: the runs of numbers (seq_runs) tell a
 * replay, and a (site, seq) key made every commit rewrite one page per site it touched.
 */
const BATCHES_COLUMNS = `site TEXT NOT NULL, seq INTEGER NOT NULL, device TEXT NOT NULL,
  received_at INTEGER NOT NULL, backfill INTEGER NOT NULL, samples INTEGER NOT NULL,
  clock_suspect INTEGER NOT NULL DEFAULT 0`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY,
  site TEXT NOT NULL, device TEXT NOT NULL, metric TEXT NOT NULL, labels TEXT NOT NULL,
  vkey TEXT,
  UNIQUE (site, device, metric, labels)
);
CREATE TABLE IF NOT EXISTS reading_groups (
  id INTEGER PRIMARY KEY, site TEXT NOT NULL, device TEXT NOT NULL, labels TEXT NOT NULL,
  UNIQUE (site, device, labels)
);
CREATE TABLE IF NOT EXISTS readings (
  group_id INTEGER NOT NULL, ts INTEGER NOT NULL, vals TEXT NOT NULL,
  PRIMARY KEY (group_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS readings_recent (
  group_id INTEGER NOT NULL, ts INTEGER NOT NULL, vals TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (${BATCHES_COLUMNS});
CREATE TABLE IF NOT EXISTS sites (
  site TEXT PRIMARY KEY, state TEXT, health TEXT, last_heard INTEGER
);
CREATE TABLE IF NOT EXISTS devices (
  site TEXT NOT NULL, device TEXT NOT NULL, state TEXT NOT NULL, received_at INTEGER NOT NULL,
  PRIMARY KEY (site, device)
);
CREATE TABLE IF NOT EXISTS events (
  site TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, body TEXT NOT NULL,
  received_at INTEGER NOT NULL, PRIMARY KEY (site, seq)
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE TABLE IF NOT EXISTS seq_skips (
  site TEXT NOT NULL, from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL, at INTEGER NOT NULL,
  PRIMARY KEY (site, from_seq)
);
CREATE TABLE IF NOT EXISTS seq_births (
  site TEXT PRIMARY KEY, seq_first INTEGER NOT NULL, at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seq_runs (
  site TEXT NOT NULL, a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (site, a)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seq_stats (
  site TEXT PRIMARY KEY, backfilled INTEGER NOT NULL DEFAULT 0, clock_suspect INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS thumbnails (
  site TEXT NOT NULL, device TEXT NOT NULL, ts INTEGER NOT NULL, mime TEXT NOT NULL,
  data BLOB NOT NULL, received_at INTEGER NOT NULL, PRIMARY KEY (site, device)
);
`;

/** Readings stamped before this were taken before the site box's clock was set. */
export { EARLIEST_PLAUSIBLE_TS };

/** How far ahead of the central a site box's clock may run before its readings are suspect. */
const FUTURE_SLACK_MS = 10 * 60_000;

/**
 * Readings are appended to readings_recent (no index: each commit writes its last page or two) and
 * moved into readings, clustered by device, at most this often or once this many wait. Written
 * straight into the indexed table, each commit rewrote one page per series it touched. Queries read
 * both tables, so a reading is in history once committed.
 *
 * A row per reading rather than per value: with a row per value, inserting and moving the 9 rows
 * of a radio's reading cost 44 µs of the writer's CPU per batch, against 22 µs this way (100 sites,
 * 150 batches a commit, synchronous = FULL, measured on the bench machine); the row is about as
 * big as the 9 value rows were.
 */
const MERGE_EVERY_MS = 1000;
const MERGE_AT_ROWS = 20_000;

/**
 * One metric's values of a reading group (@id, @path) in a time range, as `s (ts, value)`. Both
 * tables: what was committed in the last second may not have moved yet. One value per time, the
 * latest written (as the move keeps): a recent one over a moved one, and of two recent ones the
 * later row (SQLite takes the bare column from the max() row).
 */
const READING_VALUES = `WITH r (ts, value, k) AS (
        SELECT ts, json_extract(vals, @path), max(rowid) FROM readings_recent
        WHERE group_id = @id AND ts BETWEEN @from AND @to AND json_extract(vals, @path) IS NOT NULL
        GROUP BY ts),
      s (ts, value) AS (
        SELECT ts, json_extract(vals, @path) FROM readings
        WHERE group_id = @id AND ts BETWEEN @from AND @to AND json_extract(vals, @path) IS NOT NULL
          AND ts NOT IN (SELECT ts FROM r)
        UNION ALL SELECT ts, value FROM r)`;

/** The JSON path of a metric in a reading's values. */
const metricPath = (metric: string) => `$."${metric.replaceAll('"', '')}"`;

export function plausibleTs(ts: number, receivedAt: number): boolean {
  return ts >= EARLIEST_PLAUSIBLE_TS && ts <= receivedAt + FUTURE_SLACK_MS;
}

/** `ranges` minus `cut`, both sorted lists of inclusive [from, to]. */
export function subtractRanges(
  ranges: Array<[number, number]>,
  cut: Array<[number, number]>,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [a0, b] of ranges) {
    let a = a0;
    for (const [c, d] of cut) {
      if (d < a || c > b) continue;
      if (c > a) out.push([a, c - 1]);
      a = Math.max(a, d + 1);
      if (a > b) break;
    }
    if (a <= b) out.push([a, b]);
  }
  return out;
}

/** Labels as a canonical string, so {a,b} and {b,a} are one series. */
export function labelsKey(labels: Record<string, string> | undefined): string {
  if (!labels) return '';
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

function parseLabels(key: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!key) return out;
  for (const part of key.split(',')) {
    const i = part.indexOf('=');
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

/** Called once a queued batch is committed (a result) or has failed (an error). */
export type IngestDone = (token: unknown, result: IngestResult | null, error?: unknown) => void;

/** A (site, device, labels) whose readings share rows: its id, and per metric named so far its JSON key. */
interface ReadingGroup {
  id: number;
  metrics: Map<string, string>;
}

export interface SqliteStoreOptions {
  path: string;
  readonly?: boolean;
  /**
   * full: a commit returns once it is on the disk, so an acknowledged reading survives a power cut
   * of the central (the writer thread uses it: the wait holds up only that thread). normal, the
   * default: survives a crash of the process; a power cut may undo the last commits.
   */
  synchronous?: 'normal' | 'full';
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  /** Reading groups by site, device and labels; a transaction that rolls back forgets them (below). */
  private readonly groups = new Map<string, ReadingGroup>();
  private readonly stmts = new Map<string, Database.Statement>();
  private keptRuns: boolean | undefined;
  private hasReadings = false;
  /** Whether the series table has short keys (schema 7), as hasReadings. */
  private keyedSeries = false;

  constructor(opts: SqliteStoreOptions) {
    if (!opts.readonly) mkdirSync(dirname(opts.path), { recursive: true });
    this.db = new Database(opts.path, {
      readonly: opts.readonly ?? false,
      fileMustExist: opts.readonly ?? false,
    });
    // First: two brokers may open (and migrate) the same file at once, and write to it side by side
    // (docs/cluster.md); a writer waits for the other's transaction instead of failing.
    this.db.pragma('busy_timeout = 10000');
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      // The pages of every series being written stay in memory (64 MB at most), and the WAL is
      // copied back into the database every 40 MB rather than every 4 MB: both cut the writes of
      // each commit (93 → 67 µs of CPU a batch at 200 batches a commit, measured).
      this.db.pragma('cache_size = -65536');
      this.db.pragma('wal_autocheckpoint = 10000');
      this.db.exec(SCHEMA);
      this.db.transaction(() => this.migrate()).immediate();
    }
  }

  /** Brings a store written by an older version up to this schema, one numbered step at a time. */
  private migrate(): void {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
      | { value: string }
      | undefined;
    let version = row ? Number(row.value) : SCHEMA_VERSION;
    if (version > SCHEMA_VERSION)
      throw new Error(
        `store schema ${version} is newer than this Pantau (${SCHEMA_VERSION}): upgrade Pantau`,
      );
    if (version < 2) {
      // 2: readings stamped before the site box's clock was set are counted per batch.
      if (!this.columns('batches').includes('clock_suspect'))
        this.db.exec('ALTER TABLE batches ADD COLUMN clock_suspect INTEGER NOT NULL DEFAULT 0');
      version = 2;
    }
    if (version < 3) {
      // 3: the runs of received numbers and the counts are kept as readings arrive; the report
      // recounted every reading ever received, per site, on every dashboard refresh (6 s a request
      // after one day of 200 sites, measured).
      this.db.exec('DELETE FROM seq_runs; DELETE FROM seq_stats;');
      const sites = this.db.prepare('SELECT site FROM batches UNION SELECT site FROM events').all() as Array<{
        site: string;
      }>;
      const insertRun = this.db.prepare('INSERT INTO seq_runs (site, a, b) VALUES (?, ?, ?)');
      for (const { site } of sites) for (const r of this.islands(site)) insertRun.run(site, r.a, r.b);
      this.db.exec(
        `INSERT INTO seq_stats (site, backfilled, clock_suspect)
         SELECT site, COUNT(*) FILTER (WHERE backfill = 1), COALESCE(SUM(clock_suspect), 0) FROM batches
         GROUP BY site HAVING COUNT(*) FILTER (WHERE backfill = 1) > 0 OR SUM(clock_suspect) > 0;`,
      );
      version = 3;
    }
    if (version < 4) {
      // 4: samples arrive in samples_recent and move to samples in bulk (an older Pantau would not
      // see what waits there); batches becomes a log without a key.
      this.db.exec(`CREATE TABLE batches_v4 (${BATCHES_COLUMNS});
        INSERT INTO batches_v4 SELECT site, seq, device, received_at, backfill, samples, clock_suspect
          FROM batches ORDER BY received_at;
        DROP TABLE batches;
        ALTER TABLE batches_v4 RENAME TO batches;`);
      version = 4;
    }
    if (version < 5) {
      // 5: a row per reading (its values a JSON object) in readings and readings_recent, created
      // with the schema; the rows per value of samples and samples_recent move there, the later
      // value winning at one (series, time) as before. The index of runs by their end goes: it was
      // read only for a site's highest number, and kept up on every commit's extension of a run.
      this.db.exec('DROP INDEX IF EXISTS seq_runs_end');
      const tables = new Set(
        (
          this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{
            name: string;
          }>
        ).map((t) => t.name),
      );
      if (tables.has('samples')) {
        if (tables.has('samples_recent'))
          this.db.exec(`INSERT OR REPLACE INTO samples (series_id, ts, value)
            SELECT series_id, ts, value FROM samples_recent ORDER BY series_id, ts, rowid;
            DROP TABLE samples_recent;`);
        this.db.exec(`INSERT OR IGNORE INTO reading_groups (site, device, labels)
            SELECT DISTINCT site, device, labels FROM series;
          INSERT INTO readings (group_id, ts, vals)
            SELECT g.id, s.ts, json_group_object(se.metric, s.value)
            FROM samples s JOIN series se ON se.id = s.series_id
            JOIN reading_groups g ON g.site = se.site AND g.device = se.device AND g.labels = se.labels
            GROUP BY g.id, s.ts;
          DROP TABLE samples;`);
      }
      version = 5;
    }
    if (version < 6) {
      // 6: the count of numbers received is the length of the runs, no longer a column kept up per
      // site on every commit (half the statements of a commit at 100 sites); seq_stats keeps only
      // what the runs cannot tell, written when it changes.
      if (this.columns('seq_stats').includes('received'))
        this.db.exec('ALTER TABLE seq_stats DROP COLUMN received');
      version = 6;
    }
    if (version < 7) {
      // 7: a metric named from now on has a short key in its readings' values (vkey); those named
      // before keep their name as the key, in the rows already written and in those to come.
      if (!this.columns('series').includes('vkey')) this.db.exec('ALTER TABLE series ADD COLUMN vkey TEXT');
      version = 7;
    }
    this.db
      .prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)')
      .run('schema_version', String(version));
  }

  /** A table's column names. */
  private columns(table: string): string[] {
    return (this.db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map(
      (c) => c.name,
    );
  }

  /** The reading group of one (site, device, labels): its id and the metrics known to have a series. */
  private groupOf(site: string, device: string, labels: string): ReadingGroup {
    const key = `${site}\u0000${device}\u0000${labels}`;
    let g = this.groups.get(key);
    if (g) return g;
    this.prep('INSERT OR IGNORE INTO reading_groups (site, device, labels) VALUES (?, ?, ?)').run(
      site,
      device,
      labels,
    );
    const row = this.prep('SELECT id FROM reading_groups WHERE site = ? AND device = ? AND labels = ?').get(
      site,
      device,
      labels,
    ) as { id: number };
    g = { id: row.id, metrics: new Map() };
    this.groups.set(key, g);
    return g;
  }

  /**
   * Names a metric of a group in the series table (history and listings look metrics up there);
   * returns its key in a reading's JSON values, with the colon: a new metric gets the next short
   * key of its group (`#0`, `#1`, …: a metric name never starts with #), one named before schema 7
   * keeps its name.
   */
  private nameMetric(
    site: string,
    device: string,
    metric: string,
    labels: string,
    group: ReadingGroup,
  ): string {
    this.prep(
      `INSERT OR IGNORE INTO series (site, device, metric, labels, vkey) VALUES (@site, @device, @metric, @labels,
         (SELECT '#' || count(*) FROM series
          WHERE site = @site AND device = @device AND labels = @labels AND vkey IS NOT NULL))`,
    ).run({ site, device, metric, labels });
    const { vkey } = this.prep(
      'SELECT vkey FROM series WHERE site = ? AND device = ? AND metric = ? AND labels = ?',
    ).get(site, device, metric, labels) as { vkey: string | null };
    const key = `${JSON.stringify(vkey ?? metric)}:`;
    group.metrics.set(metric, key);
    return key;
  }

  /** Prepared once: preparing costs more than the insert itself at thousands of batches a second. */
  private prep(sql: string): Database.Statement {
    let st = this.stmts.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.stmts.set(sql, st);
    }
    return st;
  }

  /** The rows of a transaction's batches and readings, written together at its end (RowsToWrite). */
  private readonly batchInserts = new RowsToWrite(
    'batches (site, seq, device, received_at, backfill, samples, clock_suspect)',
    7,
    (sql) => this.prep(sql),
  );
  private readonly readingInserts = new RowsToWrite('readings_recent (group_id, ts, vals)', 3, (sql) =>
    this.prep(sql),
  );

  /** Batches waiting for the next group commit. */
  private pending: Array<{
    site: string;
    p: TelemetryPayload;
    receivedAt: number;
    token: unknown;
    done: IngestDone;
  }> = [];
  private seqTx?: Database.Transaction<(write: () => unknown) => unknown>;

  /**
   * Runs `write` in one IMMEDIATE transaction with the sequence bookkeeping around it (runs kept in
   * memory checked first, written last; forgotten if the transaction rolls back). IMMEDIATE takes
   * the write lock first (waiting on busy_timeout), so another broker process's commit between our
   * read and our write cannot fail it with SQLITE_BUSY.
   */
  private writeWithSeq<T>(write: () => T): T {
    this.seqTx ??= this.db.transaction((w: () => unknown) => {
      this.beginSeqWrites();
      const result = w();
      this.batchInserts.write();
      this.readingInserts.write();
      this.endSeqWrites();
      return result;
    });
    try {
      return this.seqTx.immediate(write) as T;
    } catch (e) {
      this.forgetSeqWrites();
      throw e;
    }
  }

  /**
   * Batches that arrive in the same turn of the event loop share one commit: a commit per batch
   * cost more than the inserts themselves at thousands of batches a second.
   */
  ingestTelemetry(site: string, p: TelemetryPayload, receivedAt: number): Promise<IngestResult> {
    return new Promise((resolve, reject) =>
      this.queueTelemetry(site, p, receivedAt, null, (_, r, e) => (r ? resolve(r) : reject(e))),
    );
  }

  /**
   * As ingestTelemetry, answered by calling `done(token, …)` after the commit: the writer thread
   * answers thousands of batches a second, and a promise and closures for each cost it more than
   * the callback it shares.
   */
  queueTelemetry(
    site: string,
    p: TelemetryPayload,
    receivedAt: number,
    token: unknown,
    done: IngestDone,
  ): void {
    this.pending.push({ site, p, receivedAt, token, done });
    if (this.pending.length === 1) setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    const items = this.pending;
    this.pending = [];
    if (items.length === 0) return;
    let results: IngestResult[];
    try {
      results = this.writeWithSeq(() => items.map((i) => this.ingestOne(i.site, i.p, i.receivedAt)));
    } catch {
      // One failing batch must not fail the others: retry them one commit each.
      for (const i of items) {
        let r: IngestResult;
        try {
          r = this.writeWithSeq(() => this.ingestOne(i.site, i.p, i.receivedAt));
        } catch (e) {
          i.done(i.token, null, e);
          continue;
        }
        i.done(i.token, r);
      }
      return;
    }
    for (let n = 0; n < items.length; n++) items[n]!.done(items[n]!.token, results[n]!);
    // After this turn, once the answers are on their way: a move takes 60–160 ms at thousands of
    // batches a second, and answered only after it, every site box waited for it before sending more.
    setImmediate(this.mergeSoon);
  };

  private ingestOne(site: string, p: TelemetryPayload, receivedAt: number): IngestResult {
    let n = 0;
    let suspect = 0;
    // A box without a real-time clock stamps readings in 1970 (or at its last saved time) until
    // NTP sets it; such readings would land far from their hour. Kept out of history, counted.
    for (const r of p.readings) {
      for (const _ in r.values) n++;
      if (!plausibleTs(r.ts, receivedAt)) suspect++;
    }
    // A number the site's runs already hold is a replay (or a clash, warned of at the birth).
    if (!this.noteSeq(site, p.seq, p.backfill, suspect)) return { accepted: false, samples: 0 };
    this.batchInserts.add(site, p.seq, p.device, receivedAt, p.backfill ? 1 : 0, n, suspect);
    let samples = 0;
    for (const r of p.readings) {
      if (!plausibleTs(r.ts, receivedAt)) continue;
      const lk = labelsKey(r.labels);
      const group = this.groupOf(site, p.device, lk);
      // The values as a JSON object, the numbers only (a direct caller may pass anything).
      let vals = '';
      for (const metric in r.values) {
        const value = (r.values as Record<string, unknown>)[metric];
        if (typeof value !== 'number' || !Number.isFinite(value)) continue;
        const key = group.metrics.get(metric) ?? this.nameMetric(site, p.device, metric, lk, group);
        vals += vals ? `,${key}${value}` : `{${key}${value}`;
        samples++;
      }
      if (!vals) continue;
      this.readingInserts.add(group.id, r.ts, `${vals}}`);
      this.recentRows++;
    }
    return { accepted: true, samples };
  }

  /** Runs of consecutive numbers received ("gaps and islands"), counted from the readings themselves. */
  private islands(site: string): Array<{ a: number; b: number; n: number }> {
    return this.db
      .prepare(
        `SELECT MIN(seq) AS a, MAX(seq) AS b, COUNT(*) AS n FROM (
           SELECT seq, seq - ROW_NUMBER() OVER (ORDER BY seq) AS grp FROM (
             SELECT seq FROM batches WHERE site = @site UNION SELECT seq FROM events WHERE site = @site))
         GROUP BY grp ORDER BY a`,
      )
      .all({ site }) as Array<{ a: number; b: number; n: number }>;
  }

  /**
   * Adds a number to its site's runs and counts, in the caller's transaction; false when the runs
   * already hold it (nothing changes then). Usually it extends the newest run by one, in memory.
   */
  private noteSeq(site: string, seq: number, backfill: boolean, suspect: number): boolean {
    // Usually the number after the newest run: extended in memory, written once per commit.
    let tail = this.seqTails.get(site);
    if (tail === undefined) {
      const row = this.newestRun(site);
      tail = row ? { a: row.a, b: row.b, dirty: false } : null;
      this.seqTails.set(site, tail);
    }
    if (tail && seq === tail.b + 1) {
      tail.b = seq;
      tail.dirty = true;
      return this.countSeq(site, backfill, suspect);
    }
    if (tail?.dirty) this.writeTail(site, tail);
    this.seqTails.delete(site);
    const covering = this.prep(
      'SELECT a, b FROM seq_runs WHERE site = ? AND a <= ? ORDER BY a DESC LIMIT 1',
    ).get(site, seq) as { a: number; b: number } | undefined;
    if (covering && covering.b >= seq) return false;
    const below = covering && covering.b === seq - 1 ? covering : undefined;
    const above = this.prep('SELECT b FROM seq_runs WHERE site = ? AND a = ?').get(site, seq + 1) as
      | { b: number }
      | undefined;
    if (below && above) {
      this.prep('DELETE FROM seq_runs WHERE site = ? AND a = ?').run(site, seq + 1);
      this.prep('UPDATE seq_runs SET b = ? WHERE site = ? AND a = ?').run(above.b, site, below.a);
    } else if (below) this.prep('UPDATE seq_runs SET b = ? WHERE site = ? AND a = ?').run(seq, site, below.a);
    else if (above) this.prep('UPDATE seq_runs SET a = ? WHERE site = ? AND a = ?').run(seq, site, seq + 1);
    else this.prep('INSERT INTO seq_runs (site, a, b) VALUES (?, ?, ?)').run(site, seq, seq);
    return this.countSeq(site, backfill, suspect);
  }

  /** Counts a new number's backfill and suspect readings for the commit under way; true. */
  private countSeq(site: string, backfill: boolean, suspect: number): true {
    if (!backfill && suspect === 0) return true;
    const stats = this.seqStats.get(site);
    if (stats) {
      stats.backfilled += backfill ? 1 : 0;
      stats.suspect += suspect;
    } else this.seqStats.set(site, { backfilled: backfill ? 1 : 0, suspect });
    return true;
  }

  /**
   * A site's run of received numbers that starts highest, as written (a run extended in memory is
   * written at the end of its commit). Runs do not overlap: it also ends highest.
   */
  private newestRun(site: string): { a: number; b: number } | undefined {
    return this.prep('SELECT a, b FROM seq_runs WHERE site = ? ORDER BY a DESC LIMIT 1').get(site) as
      | { a: number; b: number }
      | undefined;
  }

  /** Per site, the newest run of received numbers as kept here (null: none yet); `dirty` until written. */
  private readonly seqTails = new Map<string, { a: number; b: number; dirty: boolean } | null>();
  /** Per site, the backfilled batches and suspect readings added in the transaction under way. */
  private readonly seqStats = new Map<string, { backfilled: number; suspect: number }>();
  private dataVersion = -1;

  /**
   * At the start of a write transaction: another connection (a second broker on the same file) may
   * have changed the runs since our last commit, and then what is kept here is stale.
   */
  private beginSeqWrites(): void {
    const v = this.prep('PRAGMA data_version').pluck().get() as number;
    if (v !== this.dataVersion) this.seqTails.clear();
    this.dataVersion = v;
  }

  /** At the end of a write transaction: the runs extended in memory and the counts, written once. */
  private endSeqWrites(): void {
    for (const [site, tail] of this.seqTails) if (tail?.dirty) this.writeTail(site, tail);
    for (const [site, c] of this.seqStats)
      this.prep(
        `INSERT INTO seq_stats (site, backfilled, clock_suspect) VALUES (?, ?, ?)
         ON CONFLICT (site) DO UPDATE SET
           backfilled = backfilled + excluded.backfilled, clock_suspect = clock_suspect + excluded.clock_suspect`,
      ).run(site, c.backfilled, c.suspect);
    this.seqStats.clear();
  }

  /** After a rollback. */
  private forgetSeqWrites(): void {
    this.batchInserts.clear();
    this.readingInserts.clear();
    // A group created in the rolled-back transaction is gone with it.
    this.groups.clear();
    this.seqTails.clear();
    this.seqStats.clear();
  }

  private writeTail(site: string, tail: { a: number; b: number; dirty: boolean }): void {
    this.prep('UPDATE seq_runs SET b = ? WHERE site = ? AND a = ?').run(tail.b, site, tail.a);
    tail.dirty = false;
  }

  /** Highest sequence number received from a site box (telemetry or event), 0 for none. */
  private maxSeq(site: string): number {
    // The runs hold every number of batches and events; none is pending in memory here.
    return this.newestRun(site)?.b ?? 0;
  }

  async sequenceReport(site: string): Promise<SequenceReport> {
    // A reader (the dashboard) may open a file that no broker of this version has migrated yet.
    this.keptRuns ??=
      this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'seq_runs'").get() !==
      undefined;
    const islands = this.keptRuns
      ? (this.prep('SELECT a, b FROM seq_runs WHERE site = ? ORDER BY a').all(site) as Array<{
          a: number;
          b: number;
        }>)
      : this.islands(site);
    const counts = (
      this.keptRuns
        ? this.prep('SELECT backfilled, clock_suspect FROM seq_stats WHERE site = ?').get(site)
        : this.db
            .prepare(
              `SELECT COUNT(*) FILTER (WHERE backfill = 1) AS backfilled, COALESCE(SUM(clock_suspect), 0) AS clock_suspect
               FROM batches WHERE site = ?`,
            )
            .get(site)
    ) as { backfilled: number; clock_suspect: number } | undefined;
    const skips = (
      this.db
        .prepare('SELECT from_seq AS a, to_seq AS b FROM seq_skips WHERE site = ? ORDER BY from_seq')
        .all(site) as Array<{
        a: number;
        b: number;
      }>
    ).map((x) => [x.a, x.b] as [number, number]);
    const holes: Array<[number, number]> = [];
    for (let i = 1; i < islands.length; i++) holes.push([islands[i - 1]!.b + 1, islands[i]!.a - 1]);
    const missing = subtractRanges(holes, skips);
    return {
      site,
      first: islands[0]?.a ?? null,
      last: islands.at(-1)?.b ?? null,
      // Every number received is in exactly one run.
      received: islands.reduce((n, r) => n + r.b - r.a + 1, 0),
      backfilled_batches: counts?.backfilled ?? 0,
      clock_suspect_readings: counts?.clock_suspect ?? 0,
      missing,
      missing_count: missing.reduce((n, [a, b]) => n + b - a + 1, 0),
      skipped: skips,
    };
  }

  async putGatewayState(
    site: string,
    payload: GatewayStatePayload,
    receivedAt: number,
  ): Promise<SequenceClash | null> {
    let clash: SequenceClash | null = null;
    if (payload.state === 'online' && typeof payload.seq_first === 'number') {
      // What the site box says it wrote, when it knows; else the highest number seen here, which
      // hides losses among numbers still waiting in its outbox when the birth arrives.
      const committed = payload.seq_committed;
      this.db
        .transaction(() => {
          const held = this.maxSeq(site);
          // The run seen last (the retained state may since be the last will, which names none).
          const run = this.prep('SELECT seq_first FROM seq_births WHERE site = ?').get(site) as
            | { seq_first: number }
            | undefined;
          const prev = run
            ? undefined
            : (this.prep('SELECT state FROM sites WHERE site = ?').get(site) as
                | { state: string | null }
                | undefined);
          const previousFirst =
            run?.seq_first ??
            (prev?.state ? (JSON.parse(prev.state) as Partial<GatewayStatePayload>).seq_first : undefined);
          clash = clashOf(payload, previousFirst, held);
          this.prep('INSERT OR REPLACE INTO seq_births (site, seq_first, at) VALUES (?, ?, ?)').run(
            site,
            payload.seq_first,
            receivedAt,
          );
          const max = typeof committed === 'number' ? committed : held;
          for (const [a, b] of birthSkips(payload, max))
            this.prep('INSERT OR IGNORE INTO seq_skips (site, from_seq, to_seq, at) VALUES (?, ?, ?, ?)').run(
              site,
              a,
              b,
              receivedAt,
            );
        })
        .immediate();
    }
    this.db
      .prepare(
        `INSERT INTO sites (site, state, last_heard) VALUES (?, ?, ?)
         ON CONFLICT (site) DO UPDATE SET state = excluded.state, last_heard = excluded.last_heard`,
      )
      .run(site, JSON.stringify(payload), receivedAt);
    return clash;
  }

  async putGatewayHealth(site: string, payload: GatewayHealthPayload, receivedAt: number): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO sites (site, health, last_heard) VALUES (?, ?, ?)
         ON CONFLICT (site) DO UPDATE SET health = excluded.health, last_heard = excluded.last_heard`,
      )
      .run(site, JSON.stringify(payload), receivedAt);
  }

  async putDeviceState(site: string, payload: DeviceStatePayload, receivedAt: number): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO devices (site, device, state, received_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (site, device) DO UPDATE SET state = excluded.state, received_at = excluded.received_at`,
      )
      .run(site, payload.device, JSON.stringify(payload), receivedAt);
  }

  async putThumbnail(site: string, t: ThumbnailRecord, receivedAt: number): Promise<void> {
    // Only a newer picture replaces the kept one (a replayed retained message may be older).
    this.db
      .prepare(
        `INSERT INTO thumbnails (site, device, ts, mime, data, received_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (site, device) DO UPDATE SET ts = excluded.ts, mime = excluded.mime,
           data = excluded.data, received_at = excluded.received_at WHERE excluded.ts > thumbnails.ts`,
      )
      .run(site, t.device, t.ts, t.mime, t.data, receivedAt);
  }

  async thumbnail(site: string, device: string): Promise<ThumbnailRecord | null> {
    const row = this.db
      .prepare('SELECT device, ts, mime, data FROM thumbnails WHERE site = ? AND device = ?')
      .get(site, device) as { device: string; ts: number; mime: string; data: Buffer } | undefined;
    return row ? { device: row.device, ts: row.ts, mime: row.mime, data: row.data } : null;
  }

  async putEvent(site: string, payload: EventPayload, receivedAt: number): Promise<void> {
    this.writeWithSeq(() => {
      const res = this.prep(
        'INSERT OR IGNORE INTO events (site, seq, ts, body, received_at) VALUES (?, ?, ?, ?, ?)',
      ).run(site, payload.seq, payload.ts, JSON.stringify(payload), receivedAt);
      if (res.changes > 0) this.noteSeq(site, payload.seq, false, 0);
    });
  }

  async listSites(): Promise<SiteRecord[]> {
    const rows = this.db
      .prepare('SELECT site, state, health, last_heard FROM sites ORDER BY site')
      .all() as Array<{
      site: string;
      state: string | null;
      health: string | null;
      last_heard: number | null;
    }>;
    return rows.map((r) => ({
      site: r.site,
      state: r.state ? JSON.parse(r.state) : null,
      health: r.health ? JSON.parse(r.health) : null,
      last_heard: r.last_heard,
    }));
  }

  async listDevices(site?: string): Promise<DeviceRecord[]> {
    const rows = (
      site === undefined
        ? this.db.prepare('SELECT site, device, state, received_at FROM devices ORDER BY site, device').all()
        : this.db
            .prepare('SELECT site, device, state, received_at FROM devices WHERE site = ? ORDER BY device')
            .all(site)
    ) as Array<{ site: string; device: string; state: string; received_at: number }>;
    return rows.map((r) => ({
      site: r.site,
      device: r.device,
      state: JSON.parse(r.state),
      received_at: r.received_at,
    }));
  }

  async listEvents(q: { site?: string; since?: number; limit?: number }): Promise<EventRecord[]> {
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
    const rows = this.db
      .prepare(
        `SELECT site, body FROM events WHERE (@site IS NULL OR site = @site) AND ts >= @since
         ORDER BY ts DESC LIMIT @limit`,
      )
      .all({ site: q.site ?? null, since: q.since ?? 0, limit }) as Array<{ site: string; body: string }>;
    return rows.map((r) => ({ ...(JSON.parse(r.body) as EventPayload), site: r.site }));
  }

  async history(q: HistoryQuery): Promise<HistorySeries[]> {
    // A reader (the dashboard) may open a file that no broker of this version has migrated yet.
    this.hasReadings ||=
      this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'readings'").get() !==
      undefined;
    this.keyedSeries ||= this.columns('series').includes('vkey');
    const vkey = this.keyedSeries ? 's.vkey' : 'NULL AS vkey';
    // The key of each series' values: its reading group, or in an older file the series itself.
    const series = this.db
      .prepare(
        this.hasReadings
          ? `SELECT g.id, s.labels, ${vkey} FROM series s JOIN reading_groups g
               ON g.site = s.site AND g.device = s.device AND g.labels = s.labels
             WHERE s.site = ? AND s.device = ? AND s.metric = ?`
          : `SELECT s.id, s.labels, ${vkey} FROM series s WHERE s.site = ? AND s.device = ? AND s.metric = ?`,
      )
      .all(q.site, q.device, q.metric) as Array<{ id: number; labels: string; vkey: string | null }>;
    const wanted = q.labels ? labelsKey(q.labels) : undefined;
    const out: HistorySeries[] = [];
    const maxPoints = q.maxPoints ?? 0;
    const values = this.hasReadings ? READING_VALUES : this.legacyValues();
    const count = this.db.prepare(`${values} SELECT count(*) AS n FROM s`);
    const raw = this.db.prepare(`${values} SELECT ts, value FROM s ORDER BY ts`);
    const bucketed = this.db.prepare(
      `${values} SELECT min(ts) AS ts, avg(value) AS value FROM s
       GROUP BY CAST((ts - @from) / @width AS INTEGER) ORDER BY 1`,
    );
    for (const s of series) {
      if (wanted !== undefined && s.labels !== wanted) continue;
      const at = { id: s.id, path: metricPath(s.vkey ?? q.metric), from: q.from, to: q.to };
      const { n } = count.get(at) as { n: number };
      if (n === 0) continue;
      const rows = (
        maxPoints > 0 && n > maxPoints
          ? bucketed.all({ ...at, width: Math.ceil((q.to - q.from + 1) / maxPoints) })
          : raw.all(at)
      ) as Array<{ ts: number; value: number }>;
      out.push({ labels: parseLabels(s.labels), points: rows.map((r) => [r.ts, r.value]) });
    }
    return out;
  }

  /** The same from a file of schema 3 or 4 (a row per value), which a reader cannot migrate. */
  private legacyValues(): string {
    const hasRecent =
      this.db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'samples_recent'")
        .get() !== undefined;
    return `WITH r (ts, value, k) AS (
        SELECT ts, value, max(rowid) FROM ${hasRecent ? 'samples_recent' : '(SELECT 0 AS series_id, 0 AS ts, 0 AS value, 0 AS rowid WHERE 0)'}
        WHERE series_id = @id AND ts BETWEEN @from AND @to AND @path IS NOT NULL GROUP BY ts),
      s (ts, value) AS (
        SELECT ts, value FROM samples
        WHERE series_id = @id AND ts BETWEEN @from AND @to AND ts NOT IN (SELECT ts FROM r)
        UNION ALL SELECT ts, value FROM r)`;
  }

  async close(): Promise<void> {
    this.closeNow();
  }

  /** Commits what waits for the next group commit and moves recent readings, then closes the file. */
  closeNow(): void {
    this.flush();
    if (!this.db.readonly) this.mergeRecent();
    clearTimeout(this.mergeTimer);
    this.db.close();
  }

  /** Readings this connection added to readings_recent since its last move. */
  private recentRows = 0;
  private mergedAt = performance.now();
  private mergeTimer: NodeJS.Timeout | undefined;

  /** Moves recent readings now if enough wait or long enough passed, else arms a timer to. */
  private readonly mergeSoon = (): void => {
    if (this.recentRows === 0) return;
    if (this.recentRows >= MERGE_AT_ROWS || performance.now() - this.mergedAt >= MERGE_EVERY_MS) {
      this.mergeRecent();
      return;
    }
    this.mergeTimer ??= setTimeout(() => {
      this.mergeTimer = undefined;
      this.mergeRecent();
    }, MERGE_EVERY_MS).unref();
  };

  /**
   * readings_recent into readings in one transaction, sorted so that each device's pages are written
   * once; rowid last so that of two readings at one (group, time) the later one's values win, metric
   * by metric (json_patch), as before. A failure (a full disk) leaves them where they are, still read
   * by queries: the next move retries.
   */
  private mergeRecent(): void {
    this.mergedAt = performance.now();
    this.recentRows = 0;
    clearTimeout(this.mergeTimer);
    this.mergeTimer = undefined;
    try {
      this.mergeTx ??= this.db.transaction(() => this.moveRecent());
      this.mergeTx.immediate();
    } catch {
      // kept in readings_recent
    }
  }

  private moveRecent(): void {
    // "WHERE true": without it SQLite would read ON CONFLICT as part of the SELECT's join.
    this.prep(
      `INSERT INTO readings (group_id, ts, vals)
       SELECT group_id, ts, vals FROM readings_recent WHERE true ORDER BY group_id, ts, rowid
       ON CONFLICT (group_id, ts) DO UPDATE SET vals = json_patch(readings.vals, excluded.vals)`,
    ).run();
    this.prep('DELETE FROM readings_recent').run();
  }
  private mergeTx?: Database.Transaction<() => void>;
}

/**
 * Rows for one table, gathered during a transaction and inserted at its end, up to 64 to a
 * statement: run once per row, each INSERT's round trip through better-sqlite3 and SQLite's VM cost
 * more than the row (the writer's CPU per radio batch: 17.8 → 15.6 µs, 100 sites, 150 batches a
 * commit, synchronous = FULL). Nothing in the transaction reads these tables back, and rows keep
 * their order (rowid order decides which of two readings at one time wins when they move).
 */
class RowsToWrite {
  private params: unknown[] = [];
  private static readonly CHUNKS = [64, 16, 4, 1];

  constructor(
    private readonly into: string,
    private readonly columns: number,
    private readonly prep: (sql: string) => Database.Statement,
  ) {}

  add(...row: unknown[]): void {
    for (const v of row) this.params.push(v);
  }

  write(): void {
    const params = this.params;
    if (params.length === 0) return;
    this.params = [];
    let at = 0;
    for (const rows of RowsToWrite.CHUNKS) {
      const size = rows * this.columns;
      if (params.length - at < size) continue;
      const statement = this.statement(rows);
      while (params.length - at >= size) {
        statement.run(params.slice(at, at + size));
        at += size;
      }
    }
  }

  clear(): void {
    this.params = [];
  }

  private readonly statements = new Map<number, Database.Statement>();
  private statement(rows: number): Database.Statement {
    let st = this.statements.get(rows);
    if (!st) {
      const one = `(${Array(this.columns).fill('?').join(', ')})`;
      st = this.prep(`INSERT INTO ${this.into} VALUES ${Array(rows).fill(one).join(', ')}`);
      this.statements.set(rows, st);
    }
    return st;
  }
}
