// The central's store on InfluxDB 1.x, for more sites and longer history than one SQLite file
// serves well, and for Grafana. Schema, retention and downsampling: docs/store.md.
//
// Several brokers may write to one InfluxDB (the two-broker cluster), so nothing here depends on
// process memory for correctness: every write is idempotent (a point is keyed by series and time, and
// writing it again overwrites it), and the sequence bookkeeping lives in InfluxDB as one point per
// sequence number, whose time IS the number. The report is then the same whichever broker wrote.

import type {
  DeviceStatePayload,
  EventPayload,
  GatewayHealthPayload,
  GatewayStatePayload,
  TelemetryPayload,
} from '@pantau/contract';
import { InfluxDB, type IPoint, escape as influxEscape } from 'influx';
import { birthSkips, clashOf } from './births.js';
import type { InfluxStoreConfig } from './config.js';
import {
  IntegerField,
  intoShardsOfEitherType,
  PointWriter,
  type Target,
  type WriterStats,
} from './influx-writer.js';
import { RangeSet } from './ranges.js';
import { plausibleTs, subtractRanges } from './sqlite.js';
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
  StoreHealth,
  ThumbnailRecord,
} from './types.js';

const DAY = 86_400_000;
/** Retention policy names: telemetry, its downsampled copy, and what is kept for ever. */
export const RP = { raw: 'raw', rollup: 'rollup', keep: 'keep' } as const;
/** The continuous query that fills the rollup policy from raw. */
export const ROLLUP_CQ = 'pantau_rollup';
/** Measurements outside telemetry (all in the `keep` policy, except device_up in `raw`). */
export const M = {
  seq: 'pantau_seq',
  seqSkip: 'pantau_seq_skip',
  /** The first number of the run a site box's last birth announced. */
  seqBirth: 'pantau_seq_birth',
  gatewayState: 'gateway_state',
  gatewayHealth: 'gateway_health',
  deviceState: 'device_state',
  deviceUp: 'device_up',
  event: 'event',
  thumbnail: 'thumbnail',
} as const;
/** Tag keys the store itself uses; a reading label with one of these names is stored as `label_<name>`. */
const RESERVED_TAGS = new Set(['site', 'device', 'time', 'kind']);
/** InfluxDB 1.x refuses string fields over 64 KiB; pictures are split into base64 fields below it. */
export const THUMB_CHUNK = 60_000;
/** How late a reading may arrive and still be caught by the continuous query's resampling. */
const RESAMPLE_FOR_INTERVALS = 3;

const NO_BACKOFF = {
  getDelay: () => 0,
  next: () => NO_BACKOFF,
  reset: () => NO_BACKOFF,
};

const RAW_MS: Target = { rp: RP.raw, precision: 'ms' };
const ROLLUP_MS: Target = { rp: RP.rollup, precision: 'ms' };
const KEEP_NS: Target = { rp: RP.keep, precision: 'n' };

const q = influxEscape.quoted;
const lit = influxEscape.stringLit;

/** Tag value as InfluxDB stores it: a reading label. */
const labelTag = (k: string) => (RESERVED_TAGS.has(k) ? `label_${k}` : k);
const tagLabel = (k: string) => (k.startsWith('label_') && RESERVED_TAGS.has(k.slice(6)) ? k.slice(6) : k);

function durationMs(d: string): number {
  const n = Number(d.slice(0, -1));
  return d.endsWith('h') ? n * 3600_000 : n * 60_000;
}

/**
 * The SELECT of the rollup continuous query; with a time range it recomputes that range by hand.
 * `n` is an integer, as count() gives it and as the store writes it; `floatN` is for shards where an
 * older Pantau wrote it as a float (InfluxDB fixes a field's type per shard).
 */
export function rollupSelect(database: string, every: string, where = '', floatN = false): string {
  return `SELECT mean("value") AS "value", min("value") AS "min", max("value") AS "max", count("value")${floatN ? ' * 1.0' : ''} AS "n" INTO ${q(database)}.${q(RP.rollup)}.:MEASUREMENT FROM ${q(database)}.${q(RP.raw)}./.*/${where ? ` WHERE ${where}` : ''} GROUP BY time(${every}), *`;
}

interface RawSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** Everything needed to rebuild an event in ns: its time, made unique per sequence number. */
function eventTime(p: EventPayload): string {
  return (BigInt(Math.trunc(p.ts)) * 1_000_000n + BigInt(p.seq % 1_000_000)).toString();
}

export interface InfluxStoreOptions {
  cfg: InfluxStoreConfig;
  readonly?: boolean;
  /** Told about write failures (the broker logs them); never thrown. */
  onWriteError?: (err: Error, retrying: boolean) => void;
}

export class InfluxStore implements Store {
  readonly kind = 'influx';
  readonly influx: InfluxDB;
  private readonly cfg: InfluxStoreConfig;
  private readonly readonly: boolean;
  private readonly writer: PointWriter;
  /** Database, policies and continuous query exist (as far as this process knows). */
  private setUp = false;
  private settingUp: Promise<void> | null = null;
  /** Sequence numbers this process knows are stored, per site: skips most look-ups. */
  private readonly known = new Map<string, RangeSet>();
  /** Look-ups of sequence numbers waiting to go out as one query per site. */
  private lookups = new Map<string, Array<{ seq: number; done: (found: boolean) => void }>>();
  private lookupScheduled = false;
  /** Raw time ranges written too late for the continuous query, per site: rolled up by hand. */
  private late = new Map<string, [number, number]>();
  private lateTimer: NodeJS.Timeout | null = null;
  private readonly everyMs: number;
  private readonly onWriteError: InfluxStoreOptions['onWriteError'];

  constructor(o: InfluxStoreOptions) {
    this.cfg = o.cfg;
    this.onWriteError = o.onWriteError;
    this.readonly = o.readonly ?? false;
    const url = new URL(o.cfg.url);
    this.influx = new InfluxDB({
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      protocol: url.protocol === 'https:' ? 'https' : 'http',
      database: o.cfg.database,
      ...(o.cfg.username ? { username: o.cfg.username, password: o.cfg.password ?? '' } : {}),
      // Our writer does the retrying; the client's own would only multiply the waits.
      // The client's pool would also take a failed host out of use for a while; never disable it.
      pool: { maxRetries: 0, requestTimeout: 15_000, backoff: NO_BACKOFF },
    });
    this.everyMs = durationMs(o.cfg.retention.rollup_every);
    this.writer = new PointWriter(this.influx, {
      database: o.cfg.database,
      maxPoints: o.cfg.batch.max_points,
      flushMs: o.cfg.batch.flush_ms,
      maxBuffered: o.cfg.batch.max_buffered_points,
      prepare: () => this.ensureSetUp(),
      onError: (err, retrying) => {
        // Database dropped under us (404 on write): create it again before the retry.
        if (/A 404 /.test(err.message)) this.setUp = false;
        o.onWriteError?.(err, retrying);
      },
    });
    // InfluxDB may be down when the broker starts: the broker starts anyway, and the writer holds
    // its points and retries the set-up before each attempt until it succeeds.
    if (!this.readonly) this.ensureSetUp().catch(() => {});
    if (!this.readonly)
      this.lateTimer = setInterval(() => void this.rollupLate().catch(() => {}), 10_000).unref();
  }

  stats(): WriterStats {
    return this.writer.stats();
  }

  /** Unhealthy while writes to InfluxDB keep failing (the points wait in the writer's buffer). */
  healthy(): StoreHealth {
    if (!this.writer.failing) return { ok: true };
    return { ok: false, reason: `writing to InfluxDB fails: ${this.writer.stats().lastError}` };
  }

  /** Runs a statement that returns nothing; InfluxDB reports its errors inside a 200 answer. */
  private async exec(statement: string): Promise<void> {
    const res = (await this.influx.queryRaw(statement)) as { results?: Array<{ error?: string }> };
    const err = res.results?.find((r) => r.error)?.error;
    if (err) throw new Error(`InfluxDB: ${err} (${statement.slice(0, 80)})`);
  }

  /** Creates the database, retention policies and the continuous query; safe to run again. */
  async setup(): Promise<void> {
    const db = this.cfg.database;
    const r = this.cfg.retention;
    await this.influx.createDatabase(db);
    const want = [
      { name: RP.raw, duration: `${r.raw_days}d`, shard: '1d', isDefault: true },
      { name: RP.rollup, duration: `${r.rollup_days}d`, shard: '7d', isDefault: false },
      { name: RP.keep, duration: 'INF', shard: '7d', isDefault: false },
    ];
    const have = await this.influx.showRetentionPolicies(db);
    for (const p of want) {
      const verb = have.some((h) => h.name === p.name) ? 'ALTER' : 'CREATE';
      await this.exec(
        `${verb} RETENTION POLICY ${q(p.name)} ON ${q(db)} DURATION ${p.duration} REPLICATION 1 SHARD DURATION ${p.shard}${p.isDefault ? ' DEFAULT' : ''}`,
      );
    }
    const every = r.rollup_every;
    const body = rollupSelect(db, every);
    const resample = `RESAMPLE EVERY ${every} FOR ${RESAMPLE_FOR_INTERVALS * durationMs(every)}ms`;
    const cqs = await this.influx.showContinousQueries(db);
    const existing = cqs.find((c) => c.name === ROLLUP_CQ);
    const norm = (s: string) => s.replace(/["\s]/g, '').toLowerCase();
    // SHOW prints durations its own way (15m for 900000ms): compare the SELECT and interval only.
    if (
      existing &&
      norm(existing.query).includes(norm(`GROUP BY time(${every})`)) &&
      norm(existing.query).includes('min(value)')
    )
      return;
    if (existing) await this.exec(`DROP CONTINUOUS QUERY ${q(ROLLUP_CQ)} ON ${q(db)}`);
    try {
      await this.exec(`CREATE CONTINUOUS QUERY ${q(ROLLUP_CQ)} ON ${q(db)} ${resample} BEGIN ${body} END`);
    } catch (e) {
      // Another broker created it at the same moment.
      if (!/already exists/.test((e as Error).message)) throw e;
    }
  }

  /** Runs the set-up once (shared by concurrent callers); again after it failed. */
  private ensureSetUp(): Promise<void> {
    if (this.readonly || this.setUp) return Promise.resolve();
    this.settingUp ??= this.setup()
      .then(() => {
        this.setUp = true;
      })
      .finally(() => {
        this.settingUp = null;
      });
    return this.settingUp;
  }

  private writable(): void {
    if (this.readonly) throw new Error('store opened read-only');
  }

  /** Runs statements; a database that does not exist yet reads as empty. */
  private async select(
    statements: string[],
    epoch: 'ms' | 'ns' = 'ms',
    opts: { flush: boolean } = { flush: true },
  ): Promise<RawSeries[][]> {
    // Reads go ahead when the set-up fails: they fail on their own or find the database missing.
    await this.ensureSetUp().catch(() => {});
    if (opts.flush) await this.writer.flush();
    const res = (await this.influx.queryRaw(statements, { precision: epoch === 'ns' ? 'n' : 'ms' })) as {
      results: Array<{ series?: RawSeries[]; error?: string }>;
    };
    // Before the broker first wrote, the database does not exist: every statement reads as empty.
    // InfluxDB 1.6 may answer that with one "not executed" for the whole request: ask which it was.
    const err = res.results.find((r) => r.error)?.error;
    if (
      err &&
      (/database not found/.test(err) ||
        (err === 'not executed' && !(await this.influx.getDatabaseNames()).includes(this.cfg.database)))
    )
      return statements.map(() => []);
    return res.results.map((r) => {
      if (r.error) throw new Error(`InfluxDB: ${r.error}`);
      return r.series ?? [];
    });
  }

  private site(site: string): RangeSet {
    return upsert(this.known, site, () => new RangeSet());
  }

  /** Whether (site, seq) is stored: asked of InfluxDB, one query per site for all waiting look-ups. */
  private stored(site: string, seq: number): Promise<boolean> {
    if (this.site(site).has(seq)) return Promise.resolve(true);
    return new Promise((done) => {
      upsert(this.lookups, site, () => []).push({ seq, done });
      if (!this.lookupScheduled) {
        this.lookupScheduled = true;
        setImmediate(() => void this.runLookups());
      }
    });
  }

  private async runLookups(): Promise<void> {
    const all = this.lookups;
    this.lookups = new Map();
    this.lookupScheduled = false;
    const sites = [...all.keys()];
    const stmts = sites.map((site) => {
      const seqs = all.get(site)!.map((x) => x.seq);
      return `SELECT "kind" FROM ${q(RP.keep)}.${q(M.seq)} WHERE "site" = ${lit(site)} AND time >= ${Math.min(...seqs)} AND time <= ${Math.max(...seqs)}`;
    });
    let found: Array<Set<number>>;
    try {
      // No flush first: what this process wrote is in `known`, and ingest must not wait for writes.
      found = (await this.select(stmts, 'ns', { flush: false })).map(
        (series) => new Set(series.flatMap((s) => s.values.map((v) => Number(v[0])))),
      );
    } catch {
      // InfluxDB unreachable: take the batch. Its points overwrite themselves if it was a replay;
      // only the duplicate count is off.
      found = sites.map(() => new Set());
    }
    sites.forEach((site, i) => {
      for (const w of all.get(site)!) w.done(found[i]!.has(w.seq));
    });
  }

  /** Batches being written, by site and number: a copy arriving meanwhile shares the first's fate. */
  private readonly writing = new Map<string, Promise<void>>();

  async ingestTelemetry(site: string, p: TelemetryPayload, receivedAt: number): Promise<IngestResult> {
    this.writable();
    const seen = await this.stored(site, p.seq);
    const known = this.site(site);
    const key = `${site}\u0000${p.seq}`;
    const first = this.writing.get(key);
    if (first) {
      // A copy is a duplicate only once the first is stored; if that write fails, so does this.
      await first;
      return { accepted: false, samples: 0 };
    }
    if (seen || known.has(p.seq)) {
      known.add(p.seq);
      return { accepted: false, samples: 0 };
    }
    const write = this.writeBatch(site, p, receivedAt);
    const settled = write.then(() => undefined);
    settled.catch(() => undefined); // awaited only by copies, if any
    this.writing.set(key, settled);
    try {
      const res = await write;
      known.add(p.seq);
      return res;
    } finally {
      this.writing.delete(key);
    }
  }

  private async writeBatch(site: string, p: TelemetryPayload, receivedAt: number): Promise<IngestResult> {
    const rawCutoff = receivedAt - this.cfg.retention.raw_days * DAY + 3600_000;
    const rollupCutoff = receivedAt - this.cfg.retention.rollup_days * DAY + 3600_000;
    const lateBefore = receivedAt - (RESAMPLE_FOR_INTERVALS - 1) * this.everyMs;
    const raw: IPoint[] = [];
    /** Readings older than the raw policy keeps, averaged per rollup interval within this batch. */
    const old = new Map<string, { point: IPoint; sum: number; min: number; max: number; n: number }>();
    let samples = 0;
    let suspect = 0;
    let lateMin = Number.POSITIVE_INFINITY;
    let lateMax = Number.NEGATIVE_INFINITY;
    for (const r of p.readings) {
      if (!plausibleTs(r.ts, receivedAt)) {
        suspect++;
        continue;
      }
      const tags = readingTags(site, p.device, r.labels);
      for (const [metric, value] of Object.entries(r.values)) {
        if (typeof value !== 'number' || !Number.isFinite(value)) continue;
        if (r.ts >= rawCutoff) {
          raw.push({ measurement: metric, tags, fields: { value }, timestamp: String(r.ts) });
          if (r.ts < lateBefore) {
            lateMin = Math.min(lateMin, r.ts);
            lateMax = Math.max(lateMax, r.ts);
          }
        } else if (r.ts >= rollupCutoff) {
          const bucket = r.ts - (r.ts % this.everyMs);
          const key = `${metric}\u0000${JSON.stringify(tags)}\u0000${bucket}`;
          const a = old.get(key);
          if (a) {
            a.sum += value;
            a.n++;
            a.min = Math.min(a.min, value);
            a.max = Math.max(a.max, value);
          } else
            old.set(key, {
              point: { measurement: metric, tags, fields: {}, timestamp: String(bucket) },
              sum: value,
              min: value,
              max: value,
              n: 1,
            });
        } else continue;
        samples++;
      }
    }
    if (lateMin <= lateMax) this.noteLate(site, lateMin, lateMax);
    // Resolved once InfluxDB has them: the broker acknowledges the batch after this, and the
    // site box then forgets it. While InfluxDB is down nothing is acknowledged, so the readings
    // wait in the site boxes' outboxes (on disk), not in this process's memory.
    await Promise.all([
      this.writer.pushAndWait(RAW_MS, raw),
      this.writer.pushAndWait(
        ROLLUP_MS,
        [...old.values()].map((a) => ({
          ...a.point,
          fields: { value: a.sum / a.n, min: a.min, max: a.max, n: new IntegerField(a.n) },
        })),
      ),
    ]);
    // The ledger point last, once the readings are stored: a batch counts as received (and a
    // resend as a duplicate) only with its readings in InfluxDB.
    await this.writer.pushAndWait(KEEP_NS, [
      {
        measurement: M.seq,
        tags: { site },
        fields: {
          kind: 'telemetry',
          device: p.device,
          received_at: receivedAt,
          backfill: p.backfill ? 1 : 0,
          samples,
          clock_suspect: suspect,
        },
        timestamp: String(p.seq),
      },
    ]);
    return { accepted: true, samples };
  }

  private noteLate(site: string, a: number, b: number): void {
    const cur = this.late.get(site);
    this.late.set(site, cur ? [Math.min(cur[0], a), Math.max(cur[1], b)] : [a, b]);
  }

  /**
   * Recomputes the rollup for raw ranges written after the continuous query had passed them (a site
   * box replaying its outbox after an outage). Runs every 10 s and on close.
   */
  async rollupLate(): Promise<void> {
    if (this.late.size === 0 || this.writer.failing) return;
    const late = this.late;
    this.late = new Map();
    const stmts = (floatN: boolean) =>
      [...late].map(([site, [a, b]]) => {
        const from = a - (a % this.everyMs);
        const to = b - (b % this.everyMs) + this.everyMs;
        return rollupSelect(
          this.cfg.database,
          this.cfg.retention.rollup_every,
          `"site" = ${lit(site)} AND time >= ${from}ms AND time < ${to}ms`,
          floatN,
        );
      });
    try {
      // A shard where an older Pantau wrote `n` as a float takes the recomputation as floats.
      await intoShardsOfEitherType((floatN) => this.select(stmts(floatN)));
    } catch (e) {
      const err = e as Error;
      // Refused for good (4xx-like answers of the statement) is told and dropped: queuing it again
      // would be refused again every 10 s. Anything else (InfluxDB unreachable) is tried again.
      const refused = /^InfluxDB: /.test(err.message) && !/timeout|not executed/i.test(err.message);
      this.onWriteError?.(new Error(`rolling up late readings: ${err.message}`), !refused);
      if (!refused) for (const [site, r] of late) if (!this.late.has(site)) this.late.set(site, r);
    }
  }

  /** Highest sequence number stored for a site (telemetry or event), 0 for none. */
  private async maxSeq(site: string): Promise<number> {
    const [s] = await this.select(
      [`SELECT last("kind") FROM ${q(RP.keep)}.${q(M.seq)} WHERE "site" = ${lit(site)}`],
      'ns',
    );
    return Number(s?.[0]?.values[0]?.[0] ?? 0);
  }

  async sequenceReport(site: string): Promise<SequenceReport> {
    const from = `FROM ${q(RP.keep)}.${q(M.seq)} WHERE "site" = ${lit(site)}`;
    const [totals, first, last, skipRows] = await this.select(
      [
        `SELECT count("kind") AS n, sum("backfill") AS b, sum("clock_suspect") AS s ${from}`,
        `SELECT first("kind") ${from}`,
        `SELECT last("kind") ${from}`,
        `SELECT "to_seq" FROM ${q(RP.keep)}.${q(M.seqSkip)} WHERE "site" = ${lit(site)}`,
      ],
      'ns',
    );
    const t = totals?.[0]?.values[0];
    const skipped = (skipRows?.[0]?.values ?? []).map(
      (v) => [Number(v[0]), Number(v[1])] as [number, number],
    );
    if (!t)
      return {
        site,
        first: null,
        last: null,
        received: 0,
        backfilled_batches: 0,
        clock_suspect_readings: 0,
        missing: [],
        missing_count: 0,
        skipped,
      };
    const received = Number(t[1]);
    const lo = Number(first![0]!.values[0]![0]);
    const hi = Number(last![0]!.values[0]![0]);
    const holes = received === hi - lo + 1 ? [] : await this.holes(site, lo, hi);
    const missing = subtractRanges(holes, skipped);
    return {
      site,
      first: lo,
      last: hi,
      received,
      backfilled_batches: Number(t[2] ?? 0),
      clock_suspect_readings: Number(t[3] ?? 0),
      missing,
      missing_count: missing.reduce((n, [a, b]) => n + b - a + 1, 0),
      skipped,
    };
  }

  /**
   * Numbers in [lo, hi] not stored. Counted per block of numbers by InfluxDB first, so only the
   * blocks with a hole are read number by number: a healthy site costs one small query.
   */
  private async holes(site: string, lo: number, hi: number): Promise<Array<[number, number]>> {
    const width = Math.max(4096, Math.ceil((hi - lo + 1) / 10_000));
    const from = `FROM ${q(RP.keep)}.${q(M.seq)} WHERE "site" = ${lit(site)}`;
    const [blocks] = await this.select(
      [`SELECT count("kind") ${from} AND time >= ${lo} AND time <= ${hi} GROUP BY time(${width}ns) fill(0)`],
      'ns',
    );
    const present = new RangeSet();
    const partial: Array<[number, number]> = [];
    for (const [t, n] of blocks?.[0]?.values ?? []) {
      const a = Math.max(lo, Number(t));
      const b = Math.min(hi, Number(t) + width - 1);
      if (Number(n) === b - a + 1) present.addRange(a, b);
      else if (Number(n) > 0) partial.push([a, b]);
    }
    if (partial.length > 0) {
      const detail = await this.select(
        partial.map(([a, b]) => `SELECT "kind" ${from} AND time >= ${a} AND time <= ${b}`),
        'ns',
      );
      for (const series of detail) for (const v of series[0]?.values ?? []) present.add(Number(v[0]));
    }
    return present.gaps(lo, hi);
  }

  async putGatewayState(
    site: string,
    payload: GatewayStatePayload,
    receivedAt: number,
  ): Promise<SequenceClash | null> {
    this.writable();
    let clash: SequenceClash | null = null;
    if (payload.state === 'online' && typeof payload.seq_first === 'number') {
      let held = 0;
      try {
        // The run seen last (the retained state may since be the last will, which names none).
        const [max, [run]] = await Promise.all([
          this.maxSeq(site),
          this.select([
            `SELECT last("seq_first") FROM ${q(RP.keep)}.${q(M.seqBirth)} WHERE "site" = ${lit(site)}`,
          ]),
        ]);
        held = max;
        const previousFirst = run?.[0]?.values[0]?.[1];
        clash = clashOf(payload, previousFirst === undefined ? undefined : Number(previousFirst), held);
        this.putCurrent(M.seqBirth, { site }, { seq_first: payload.seq_first, at: receivedAt });
      } catch (e) {
        // InfluxDB not answering: a birth that says what it wrote is kept all the same (as before
        // the clash check); the run is not noted, so its next birth is checked.
        if (typeof payload.seq_committed !== 'number') throw e;
      }
      // What the site box says it wrote, when it knows (see SqliteStore.putGatewayState).
      const max = typeof payload.seq_committed === 'number' ? payload.seq_committed : held;
      await this.writer.pushAndWait(
        KEEP_NS,
        birthSkips(payload, max).map(([a, b]) => ({
          measurement: M.seqSkip,
          tags: { site },
          fields: { to_seq: b, at: receivedAt },
          timestamp: String(a),
        })),
      );
    }
    this.putCurrent(M.gatewayState, { site }, { body: JSON.stringify(payload), received_at: receivedAt });
    return clash;
  }

  async putGatewayHealth(site: string, payload: GatewayHealthPayload, receivedAt: number): Promise<void> {
    this.writable();
    this.putCurrent(M.gatewayHealth, { site }, { body: JSON.stringify(payload), received_at: receivedAt });
  }

  /** The latest of something: one point per series at time 0, overwritten by each write. */
  private putCurrent(measurement: string, tags: Record<string, string>, fields: IPoint['fields']): void {
    this.writer.push(KEEP_NS, [{ measurement, tags, fields, timestamp: '0' }]);
  }

  async putDeviceState(site: string, payload: DeviceStatePayload, receivedAt: number): Promise<void> {
    this.writable();
    this.putCurrent(
      M.deviceState,
      { site, device: payload.device },
      { body: JSON.stringify(payload), received_at: receivedAt },
    );
    // Also as a time series for Grafana (up 1, degraded 0.5, down 0), downsampled like telemetry.
    const up = { ok: 1, degraded: 0.5, down: 0 }[payload.status as 'ok'];
    if (up === undefined || payload.ts < receivedAt - this.cfg.retention.raw_days * DAY + 3600_000) return;
    this.writer.push(RAW_MS, [
      {
        measurement: M.deviceUp,
        tags: { site, device: payload.device, kind: payload.kind },
        fields: { value: up, status: payload.status },
        timestamp: String(payload.ts),
      },
    ]);
    if (payload.ts < receivedAt - (RESAMPLE_FOR_INTERVALS - 1) * this.everyMs)
      this.noteLate(site, payload.ts, payload.ts);
  }

  async putThumbnail(site: string, t: ThumbnailRecord, receivedAt: number): Promise<void> {
    this.writable();
    // Only a newer picture replaces the kept one (a replayed retained message may be older).
    const cur = await this.thumbnailTs(site, t.device);
    if (cur !== null && cur >= t.ts) return;
    const b64 = t.data.toString('base64');
    const fields: IPoint['fields'] = {
      ts: t.ts,
      mime: t.mime,
      received_at: receivedAt,
      bytes: t.data.length,
    };
    let parts = 0;
    for (let i = 0; i < b64.length; i += THUMB_CHUNK) fields[`b${parts++}`] = b64.slice(i, i + THUMB_CHUNK);
    // Writing over a point merges fields; `parts` says how many of the b<i> are this picture's.
    fields.parts = parts;
    this.putCurrent(M.thumbnail, { site, device: t.device }, fields);
  }

  private async thumbnailTs(site: string, device: string): Promise<number | null> {
    const [s] = await this.select([
      `SELECT "ts" FROM ${q(RP.keep)}.${q(M.thumbnail)} WHERE "site" = ${lit(site)} AND "device" = ${lit(device)}`,
    ]);
    const v = s?.[0]?.values[0]?.[1];
    return v === undefined || v === null ? null : Number(v);
  }

  async thumbnail(site: string, device: string): Promise<ThumbnailRecord | null> {
    const [s] = await this.select([
      `SELECT * FROM ${q(RP.keep)}.${q(M.thumbnail)} WHERE "site" = ${lit(site)} AND "device" = ${lit(device)}`,
    ]);
    const series = s?.[0];
    const row = series?.values[0];
    if (!series || !row) return null;
    const get = (c: string) => row[series.columns.indexOf(c)];
    const parts = Number(get('parts'));
    let b64 = '';
    for (let i = 0; i < parts; i++) b64 += String(get(`b${i}`) ?? '');
    return { device, ts: Number(get('ts')), mime: String(get('mime')), data: Buffer.from(b64, 'base64') };
  }

  async putEvent(site: string, payload: EventPayload, receivedAt: number): Promise<void> {
    this.writable();
    // Settled once InfluxDB has it, as telemetry (see ingestTelemetry).
    await this.writer.pushAndWait(KEEP_NS, [
      {
        measurement: M.event,
        tags: { site, type: payload.type, severity: payload.severity },
        fields: {
          seq: payload.seq,
          body: JSON.stringify(payload),
          received_at: receivedAt,
          ...(payload.device ? { device: payload.device } : {}),
        },
        timestamp: eventTime(payload),
      },
      {
        measurement: M.seq,
        tags: { site },
        fields: { kind: 'event', received_at: receivedAt, backfill: 0, samples: 0, clock_suspect: 0 },
        timestamp: String(payload.seq),
      },
    ]);
    this.site(site).add(payload.seq);
  }

  async listSites(): Promise<SiteRecord[]> {
    const [states, health] = await this.select([
      `SELECT "body", "received_at" FROM ${q(RP.keep)}.${q(M.gatewayState)} GROUP BY "site"`,
      `SELECT "body", "received_at" FROM ${q(RP.keep)}.${q(M.gatewayHealth)} GROUP BY "site"`,
    ]);
    const out = new Map<string, SiteRecord>();
    const rec = (site: string) =>
      upsert(out, site, (): SiteRecord => ({ site, state: null, health: null, last_heard: null }));
    for (const s of states ?? []) {
      const r = rec(s.tags!.site!);
      const v = s.values[0]!;
      r.state = JSON.parse(String(v[1]));
      r.last_heard = Math.max(r.last_heard ?? 0, Number(v[2]));
    }
    for (const s of health ?? []) {
      const r = rec(s.tags!.site!);
      const v = s.values[0]!;
      r.health = JSON.parse(String(v[1]));
      r.last_heard = Math.max(r.last_heard ?? 0, Number(v[2]));
    }
    return [...out.values()].sort((a, b) => (a.site < b.site ? -1 : a.site > b.site ? 1 : 0));
  }

  async listDevices(site?: string): Promise<DeviceRecord[]> {
    const [s] = await this.select([
      `SELECT "body", "received_at" FROM ${q(RP.keep)}.${q(M.deviceState)}${site === undefined ? '' : ` WHERE "site" = ${lit(site)}`} GROUP BY "site", "device"`,
    ]);
    return (s ?? [])
      .map((x) => ({
        site: x.tags!.site!,
        device: x.tags!.device!,
        state: JSON.parse(String(x.values[0]![1])) as DeviceStatePayload,
        received_at: Number(x.values[0]![2]),
      }))
      .sort((a, b) => (a.site === b.site ? cmp(a.device, b.device) : cmp(a.site, b.site)));
  }

  async listEvents(qry: { site?: string; since?: number; limit?: number }): Promise<EventRecord[]> {
    const limit = Math.min(Math.max(qry.limit ?? 100, 1), 1000);
    const where = [`time >= ${Math.trunc(qry.since ?? 0)}ms`];
    if (qry.site !== undefined) where.push(`"site" = ${lit(qry.site)}`);
    const [s] = await this.select([
      `SELECT "body", "site" FROM ${q(RP.keep)}.${q(M.event)} WHERE ${where.join(' AND ')} ORDER BY time DESC LIMIT ${limit}`,
    ]);
    return (s?.[0]?.values ?? []).map((v) => ({
      ...(JSON.parse(String(v[1])) as EventPayload),
      site: String(v[2]),
    }));
  }

  /**
   * Recent ranges come from raw, older ones from the rollup (5-minute means); a range across the
   * boundary from both. With maxPoints, InfluxDB averages into buckets (GROUP BY time) that start
   * at `from`, each reported at its start.
   */
  async history(h: HistoryQuery): Promise<HistorySeries[]> {
    const rawStart = Date.now() - this.cfg.retention.raw_days * DAY;
    const parts: Array<{ rp: string; from: number; to: number }> = [];
    if (h.from < rawStart) parts.push({ rp: RP.rollup, from: h.from, to: Math.min(h.to, rawStart - 1) });
    if (h.to >= rawStart) parts.push({ rp: RP.raw, from: Math.max(h.from, rawStart), to: h.to });
    const where = (p: { from: number; to: number }) => {
      const w = [`"site" = ${lit(h.site)}`, `"device" = ${lit(h.device)}`];
      for (const [k, v] of Object.entries(h.labels ?? {})) w.push(`${q(labelTag(k))} = ${lit(v)}`);
      w.push(`time >= ${Math.trunc(p.from)}ms AND time <= ${Math.trunc(p.to)}ms`);
      return w.join(' AND ');
    };
    const src = (p: { rp: string }) => `FROM ${q(p.rp)}.${q(h.metric)}`;
    const wanted = h.labels
      ? labelsOf(Object.fromEntries(Object.entries(h.labels).map(([k, v]) => [labelTag(k), v])))
      : null;
    const key = (tags: Record<string, string> | undefined) => labelsOf(tags ?? {});

    const counts = await this.select(
      parts.map((p) => `SELECT count("value") ${src(p)} WHERE ${where(p)} GROUP BY *`),
    );
    const n = new Map<string, number>();
    for (const res of counts)
      for (const s of res) {
        const k = key(s.tags);
        if (wanted !== null && k !== wanted) continue;
        n.set(k, (n.get(k) ?? 0) + Number(s.values[0]?.[1] ?? 0));
      }
    if (n.size === 0) return [];
    const maxPoints = h.maxPoints ?? 0;
    const bucketed = maxPoints > 0 && [...n.values()].some((c) => c > maxPoints);
    const plain = [...n.values()].some((c) => maxPoints <= 0 || c <= maxPoints);
    const width = Math.max(1, Math.ceil((h.to - h.from + 1) / Math.max(1, maxPoints)));
    const offset = ((h.from % width) + width) % width;
    const stmts: string[] = [];
    if (plain) for (const p of parts) stmts.push(`SELECT "value" ${src(p)} WHERE ${where(p)} GROUP BY *`);
    if (bucketed)
      for (const p of parts)
        stmts.push(
          `SELECT mean("value") ${src(p)} WHERE ${where(p)} GROUP BY time(${width}ms, ${offset}ms), * fill(none)`,
        );
    const res = await this.select(stmts);
    const out = new Map<string, HistorySeries>();
    res.forEach((series, i) => {
      const isBucketed = i >= (plain ? parts.length : 0);
      for (const s of series) {
        const k = key(s.tags);
        const c = n.get(k);
        if (c === undefined) continue;
        if (isBucketed !== (maxPoints > 0 && c > maxPoints)) continue;
        const hs = upsert(out, k, () => {
          const labels: Record<string, string> = {};
          for (const [t, v] of Object.entries(s.tags ?? {}))
            if (t !== 'site' && t !== 'device' && v !== '') labels[tagLabel(t)] = v;
          return { labels, points: [] };
        });
        for (const v of s.values) {
          const ts = Number(v[0]);
          const val = Number(v[1]);
          const prev = hs.points.at(-1);
          // The bucket that spans the rollup/raw boundary comes from both: one point, their mean.
          if (prev && prev[0] === ts) prev[1] = (prev[1] + val) / 2;
          else hs.points.push([ts, val]);
        }
      }
    });
    return [...out.values()];
  }

  async close(): Promise<void> {
    if (this.lateTimer) clearInterval(this.lateTimer);
    if (this.readonly) return;
    await this.writer.close();
    await this.rollupLate().catch(() => {});
  }
}

/**
 * A reading's tags in key order: InfluxDB sorts the tags of every line it is sent that are not,
 * which costs it time on every write.
 */
function readingTags(
  site: string,
  device: string,
  labels: Record<string, string> | undefined,
): Record<string, string> {
  if (!labels) return { device, site };
  const all: Array<[string, string]> = [
    ['device', device],
    ['site', site],
  ];
  for (const [k, v] of Object.entries(labels)) if (v !== '') all.push([labelTag(k), v]);
  all.sort((a, b) => cmp(a[0], b[0]));
  return Object.fromEntries(all);
}

/** The entry under `key`, created by `make` when missing. */
function upsert<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The labels of a series as a canonical string (tags other than site and device, empty ones dropped). */
function labelsOf(tags: Record<string, string>): string {
  return Object.keys(tags)
    .filter((k) => k !== 'site' && k !== 'device' && tags[k] !== '')
    .sort()
    .map((k) => `${k}=${tags[k]}`)
    .join(',');
}
