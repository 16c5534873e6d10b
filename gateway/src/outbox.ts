// Where the site box keeps what it publishes until the central has it. Every telemetry batch and
// event is written to a SQLite file (WAL) before it is published, and forgotten only when the broker
// acknowledged it (QoS 1 PUBACK). Why SQLite and not an append-only segment log, the fsync policy
// and what a power cut can lose: gateway/README.md, "The outbox".
//
// Writes are group-committed: push() only queues in memory; one transaction every
// `commitIntervalMs` (or as soon as `commitMaxMessages` wait) inserts them, deletes what the broker
// acknowledged since, and enforces the bounds (age, then size: oldest first, counted). With
// synchronous=FULL that transaction ends with one fdatasync of the WAL: a power cut loses at most
// the messages queued since the last commit, and none of those was published, because the
// publisher only sees a message (next()) once its transaction committed.

import { mkdirSync, renameSync, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrateSchema, type SchemaKind } from '@pantau/config';
import { EARLIEST_PLAUSIBLE_TS } from '@pantau/contract';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { shiftBodyTimes } from './clock.js';

export interface OutboxItem {
  topic: string;
  body: Buffer;
  /** The reading's own time (ms since epoch). */
  ts: number;
  /** The payload's sequence number, when it has one (telemetry and events do). */
  seq?: number;
}

export interface StoredOutboxItem extends OutboxItem {
  /** Position in the outbox: strictly increasing in the order messages were written. */
  id: number;
  /** When it was written (ms since epoch). */
  enqueuedAt: number;
}

/** Why messages were dropped before the central had them. */
export type DropReason = 'size' | 'age' | 'disk_full';

/** Messages dropped unsent, reported at most once per report interval per reason. */
export interface OutboxDrop {
  reason: DropReason;
  count: number;
  /** Reading times of the oldest and newest dropped message. */
  fromTs: number;
  toTs: number;
  /** Lowest and highest sequence number among them (messages in between may have been delivered). */
  firstSeq: number | null;
  lastSeq: number | null;
  /** Dropped since the outbox was created (kept across restarts). */
  total: number;
}

/** Where messages wait for the uplink; the publisher reads it in order and acknowledges by id. */
export interface Outbox {
  /** Keeps a message; next() hands it out once it is durable (after the group commit). */
  push(item: OutboxItem): void;
  /** Durable, unacknowledged messages with id > afterId, oldest first. */
  next(afterId: number, limit: number): StoredOutboxItem[];
  /** The broker acknowledged the message: forget it. */
  ack(id: number): void;
  /** The broker will never take this message: move it out of the queue (kept aside, counted). */
  reject?(id: number): void;
  /**
   * The clock was set: moves the times of waiting messages up to this id (not those in `skip`,
   * already on their way) by deltaMs. Returns how many were corrected.
   */
  shiftTimes?(deltaMs: number, upToId: number, skip: ReadonlySet<number>): number;
  /** The id of the last message pushed. */
  readonly lastPushedId?: number;
  /** Called whenever new messages became durable. */
  onDurable(fn: () => void): void;
  /** The ids on their way to the broker (the publisher's live set): bounds never drop those. */
  track?(inflight: ReadonlySet<number>): void;
  /** Messages not yet acknowledged (written or still queued for the next commit). */
  readonly depth: number;
  /** Reading time of the oldest unacknowledged message. */
  readonly oldestTs: number | null;
  /** Messages dropped unsent since the outbox was created. */
  readonly dropped: number;
  /** Writes what is queued and closes; later calls do nothing. */
  close(): void;
}

/** In memory: for tests, and where no disk is wanted. Bounded by count, oldest dropped. */
export class MemoryOutbox implements Outbox {
  private items: StoredOutboxItem[] = [];
  private lastId = 0;
  private readonly listeners: Array<() => void> = [];
  dropped = 0;
  constructor(private readonly max = 20_000) {}
  push(item: OutboxItem): void {
    this.items.push({ ...item, id: ++this.lastId, enqueuedAt: Date.now() });
    if (this.items.length > this.max) {
      this.items.shift();
      this.dropped++;
    }
    queueMicrotask(() => {
      for (const fn of this.listeners) fn();
    });
  }
  next(afterId: number, limit: number): StoredOutboxItem[] {
    const i = this.items.findIndex((x) => x.id > afterId);
    return i < 0 ? [] : this.items.slice(i, i + limit);
  }
  ack(id: number): void {
    const i = this.items.findIndex((x) => x.id === id);
    if (i >= 0) this.items.splice(i, 1);
  }
  reject(id: number): void {
    this.ack(id);
  }
  shiftTimes(deltaMs: number, upToId: number, skip: ReadonlySet<number>): number {
    let n = 0;
    for (const it of this.items) {
      if (it.id > upToId || skip.has(it.id)) continue;
      const body = shiftBodyTimes(it.body, deltaMs);
      if (!body) continue;
      it.body = body;
      it.ts += deltaMs;
      n++;
    }
    return n;
  }
  get lastPushedId(): number {
    return this.lastId;
  }
  onDurable(fn: () => void): void {
    this.listeners.push(fn);
  }
  get depth(): number {
    return this.items.length;
  }
  get oldestTs(): number | null {
    return this.items[0]?.ts ?? null;
  }
  close(): void {}
}

export interface DiskOutboxOptions {
  /** The SQLite file, e.g. state_dir/outbox.db. */
  path: string;
  /** Bound on the pages the messages occupy in the file; the oldest go first. */
  maxBytes?: number;
  /** Messages whose reading is older than this are dropped. */
  maxAgeMs?: number;
  /** Group commit: one transaction at most this long after the first message waiting… */
  commitIntervalMs?: number;
  /** …or as soon as this many wait. */
  commitMaxMessages?: number;
  /** full: each commit fsyncs the WAL (default); normal: the kernel writes it back when it likes. */
  synchronous?: 'full' | 'normal';
  /** Messages kept in memory while the disk refuses every write; beyond, the oldest are dropped. */
  maxPending?: number;
  /** Drops are reported at most this often per reason (the first one at once). */
  dropReportIntervalMs?: number;
  /** Free space the file system keeps for others: below it, the outbox shrinks itself (oldest dropped). */
  reserveFreeBytes?: number;
  /** Testing: SQLite's max_page_count, which makes the file "full" (SQLITE_FULL) as a full disk would. */
  maxPageCount?: number;
  onDrop?: (d: OutboxDrop) => void;
  log?: Logger;
  now?: () => number;
}

export const OUTBOX_DEFAULTS = {
  maxBytes: 1024 * 1024 * 1024,
  maxAgeMs: 7 * 24 * 3600_000,
  commitIntervalMs: 1000,
  commitMaxMessages: 500,
  synchronous: 'full' as const,
  maxPending: 20_000,
  dropReportIntervalMs: 60_000,
  reserveFreeBytes: 64 * 1024 * 1024,
};

/** A checkpoint (WAL into the file) after this many commits or this many bytes written, whichever first. */
const CHECKPOINT_COMMITS = 30;
const CHECKPOINT_BYTES = 256 * 1024;
/** Acknowledged messages with no new message to ride along with are deleted after this long. */
const ACK_FLUSH_MS = 30_000;
/**
 * 8 KiB pages: at 200 devices every 30 s, what one commit inserts and deletes fits in one page, so a
 * commit writes one WAL frame instead of four or five (leaf, parent, freelist, header, pointer map).
 */
const PAGE_SIZE = 8192;
/** Free pages kept for reuse when the rest is given back to the file system. */
const KEEP_FREE_PAGES = 256;

/** After the disk said full, how long the outbox keeps itself below what fitted before trying more. */
const FULL_BACKOFF_MS = 10 * 60_000;
/** How often each complaint about the disk is logged, at most. */
const FULL_LOG_EVERY_MS = 60_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY,
  topic TEXT NOT NULL,
  body BLOB NOT NULL,
  ts INTEGER NOT NULL,
  enq INTEGER NOT NULL,
  seq INTEGER,
  acked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rejected (
  id INTEGER PRIMARY KEY,
  topic TEXT NOT NULL,
  body BLOB NOT NULL,
  ts INTEGER NOT NULL,
  enq INTEGER NOT NULL,
  seq INTEGER,
  at INTEGER NOT NULL
);
`;

/** Messages the broker refused are kept aside for a post-mortem, the newest this many. */
const REJECTED_KEPT = 1000;

interface Row {
  id: number;
  topic: string;
  body: Buffer;
  ts: number;
  enq: number;
  seq: number | null;
}

interface HeadRow {
  id: number;
  ts: number;
  seq: number | null;
}

interface Pending extends OutboxItem {
  id: number;
  enq: number;
}

interface DropAgg {
  count: number;
  fromTs: number;
  toTs: number;
  firstSeq: number | null;
  lastSeq: number | null;
}

const isStorageError = (e: unknown): boolean => {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR'));
};
const isCorrupt = (e: unknown): boolean => {
  const code = (e as { code?: unknown }).code;
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB';
};

/** The outbox file's numbered schema versions (PRAGMA user_version); steps are history, add the next. */
export const OUTBOX_SCHEMA: SchemaKind = {
  what: 'outbox',
  steps: [
    {
      version: 1,
      what: 'outbox, meta and rejected as they were before versions were kept; a 0.1.0 file gets the acked column',
      up: (db) => {
        db.exec(SCHEMA);
        const cols = db.pragma('table_info(outbox)') as Array<{ name: string }>;
        if (!cols.some((c) => c.name === 'acked'))
          db.exec('ALTER TABLE outbox ADD COLUMN acked INTEGER NOT NULL DEFAULT 0');
      },
    },
  ],
};

function openDb(path: string, o: { synchronous: 'full' | 'normal'; maxPageCount?: number }) {
  const db = new Database(path);
  try {
    // Both take effect only when the file is created.
    db.pragma(`page_size = ${PAGE_SIZE}`);
    // Lets freed pages go back to the file system (incremental_vacuum): after a long outage, and
    // when the disk is full and the file must shrink.
    db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${o.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // After a checkpoint the WAL file is cut back to this, so one big drain does not keep its space.
    db.pragma(`journal_size_limit = ${8 * 1024 * 1024}`);
    db.pragma('busy_timeout = 2000');
    if (o.maxPageCount) db.pragma(`max_page_count = ${o.maxPageCount}`);
    migrateSchema(db, path, OUTBOX_SCHEMA);
    db.prepare('SELECT COUNT(*) FROM outbox').get();
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

export class DiskOutbox implements Outbox {
  private db: Database.Database;
  private readonly o: Required<Omit<DiskOutboxOptions, 'maxPageCount' | 'onDrop' | 'log'>> &
    Pick<DiskOutboxOptions, 'maxPageCount' | 'onDrop' | 'log'>;
  private pending: Pending[] = [];
  private readonly acked = new Set<number>();
  /** Rows in the table, acknowledged ones not yet deleted included. */
  private rows = 0;
  private lastId = 0;
  private droppedTotal = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private immediate: NodeJS.Immediate | null = null;
  private readonly listeners: Array<() => void> = [];
  private closed = false;
  private readonly pageSize: number;
  private readonly path: string;
  /** Below maxBytes after the disk said full: what fitted then. */
  private ceiling: number;
  private ceilingUntil = 0;
  private readonly lastLog = new Map<string, number>();
  /** The disk takes nothing: queued messages are handed out from memory. */
  private refusing = false;
  private sinceCheckpoint = { commits: 0, bytes: 0 };
  /** Until then (after the disk refused a write), a checkpoint follows every commit. */
  private pressureUntil = 0;
  private readonly drops = new Map<DropReason, DropAgg>();
  private readonly lastReport = new Map<DropReason, number>();
  private reportTimer: NodeJS.Timeout | null = null;
  private inflight: ReadonlySet<number> | null = null;
  /** The previous run did not close the outbox (kill -9, power cut, crash). */
  readonly uncleanStart: boolean;
  /**
   * The highest sequence number durably written before this run (null when unknown: a new or
   * damaged file). Numbers above it that the central never saw were not lost from the outbox.
   */
  readonly lastSeqAtStart: number | null;
  private lastSeq = 0;
  private rejectedTotal = 0;
  /** The newest row, acknowledged but kept so the highest written number survives a power cut. */
  private markerId: number | null = null;
  /** Commits done, for tests and the bench. */
  commits = 0;

  private readonly st: {
    insert: Database.Statement;
    del: Database.Statement;
    next: Database.Statement;
    head: Database.Statement;
    setMeta: Database.Statement;
    mark: Database.Statement;
  };

  constructor(opts: DiskOutboxOptions) {
    this.o = { ...OUTBOX_DEFAULTS, now: Date.now, ...opts };
    const log = this.o.log;
    this.path = opts.path;
    mkdirSync(dirname(opts.path), { recursive: true });
    const dbOpts = {
      synchronous: this.o.synchronous,
      ...(opts.maxPageCount ? { maxPageCount: opts.maxPageCount } : {}),
    };
    let lostUnknown = false;
    try {
      this.db = openDb(opts.path, dbOpts);
    } catch (e) {
      if (!isCorrupt(e)) throw e;
      // A damaged file (a card that lied about fsync): keep it for a post-mortem, start afresh.
      const aside = `${opts.path}.corrupt-${this.o.now()}`;
      log?.error({ err: (e as Error).message, moved_to: aside }, 'outbox file damaged: starting a new one');
      for (const ext of ['', '-wal', '-shm'])
        try {
          renameSync(`${opts.path}${ext}`, `${aside}${ext}`);
        } catch {}
      this.db = openDb(opts.path, dbOpts);
      lostUnknown = true;
    }
    const db = this.db;
    this.pageSize = db.pragma('page_size', { simple: true }) as number;
    this.ceiling = this.o.maxBytes;
    this.st = {
      insert: db.prepare('INSERT INTO outbox (id, topic, body, ts, enq, seq) VALUES (?, ?, ?, ?, ?, ?)'),
      del: db.prepare('DELETE FROM outbox WHERE id = ?'),
      next: db.prepare(
        'SELECT id, topic, body, ts, enq, seq FROM outbox WHERE id > ? AND acked = 0 ORDER BY id LIMIT ?',
      ),
      head: db.prepare('SELECT id, ts, seq FROM outbox WHERE id > ? AND acked = 0 ORDER BY id LIMIT ?'),
      mark: db.prepare('UPDATE outbox SET acked = 1 WHERE id = ?'),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
    };
    const meta = new Map(
      (db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: number }>).map((r) => [
        r.key,
        r.value,
      ]),
    );
    this.uncleanStart = meta.get('open') === 1;
    this.droppedTotal = meta.get('dropped') ?? 0;
    // The highest number ever written: the newest row is kept (as an acknowledged marker) until a
    // newer one is written, so it is in the table; the meta value covers a table the bounds emptied.
    const tableMax = (db.prepare('SELECT MAX(seq) AS m FROM outbox').get() as { m: number | null }).m;
    this.lastSeq = Math.max(meta.get('last_seq') ?? 0, tableMax ?? 0);
    this.rejectedTotal = meta.get('rejected') ?? 0;
    const markers = (
      db.prepare('SELECT id FROM outbox WHERE acked = 1 ORDER BY id').all() as Array<{ id: number }>
    ).map((r) => r.id);
    this.markerId = markers.at(-1) ?? null;
    for (const id of markers.slice(0, -1)) this.st.del.run(id);
    this.lastSeqAtStart = lostUnknown || (!meta.has('last_seq') && tableMax === null) ? null : this.lastSeq;
    this.rows = (db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE acked = 0').get() as { n: number }).n;
    this.lastId = (db.prepare('SELECT MAX(id) AS m FROM outbox').get() as { m: number | null }).m ?? 0;
    this.st.setMeta.run('open', 1);
    if (this.uncleanStart)
      log?.warn(
        { waiting: this.rows },
        `the outbox was not closed cleanly (power cut, kill -9 or crash): readings taken in the last commit window (≤ ${this.o.commitIntervalMs} ms) before it may be lost; everything written is kept`,
      );
    else if (this.rows > 0) log?.info({ waiting: this.rows }, 'outbox: messages waiting from the last run');
    if (lostUnknown) log?.error('the damaged outbox file was set aside: what it held is not replayed');
  }

  push(item: OutboxItem): void {
    if (this.closed) return;
    const enq = this.o.now();
    this.pending.push({ ...item, id: ++this.lastId, enq });
    if (this.pending.length >= this.o.commitMaxMessages) this.commitSoon();
    else this.schedule();
  }

  ack(id: number): void {
    if (this.closed) return;
    if (this.refusing && this.pending.length > 0 && id >= this.pending[0]!.id) {
      const i = this.pending.findIndex((p) => p.id === id);
      if (i >= 0) {
        this.pending.splice(i, 1);
        return;
      }
    }
    this.acked.add(id);
    // Deletes ride along with the next commit of new messages: one page written instead of two
    // transactions. Alone, they wait at most ACK_FLUSH_MS (a crash meanwhile only re-sends them,
    // and the central drops what it already has).
    if (this.acked.size >= this.o.commitMaxMessages) this.commitSoon();
    else this.schedule(Math.max(this.o.commitIntervalMs, ACK_FLUSH_MS));
  }

  reject(id: number): void {
    if (this.closed) return;
    const i = this.pending.findIndex((p) => p.id === id);
    if (i >= 0) this.pending.splice(i, 1);
    else {
      const moved = this.db.transaction(() => {
        this.db
          .prepare(
            'INSERT OR REPLACE INTO rejected (id, topic, body, ts, enq, seq, at) SELECT id, topic, body, ts, enq, seq, ? FROM outbox WHERE id = ?',
          )
          .run(this.o.now(), id);
        this.db
          .prepare('DELETE FROM rejected WHERE id NOT IN (SELECT id FROM rejected ORDER BY id DESC LIMIT ?)')
          .run(REJECTED_KEPT);
        const n = this.st.del.run(id).changes;
        if (n > 0) this.st.setMeta.run('rejected', this.rejectedTotal + 1);
        return n;
      })();
      if (moved === 0) return;
      this.rows--;
    }
    this.rejectedTotal++;
  }

  shiftTimes(deltaMs: number, upToId: number, skip: ReadonlySet<number>): number {
    if (this.closed) return 0;
    let n = 0;
    for (const p of this.pending) {
      if (p.id > upToId || skip.has(p.id)) continue;
      const body = shiftBodyTimes(p.body, deltaMs);
      if (!body) continue;
      p.body = body;
      p.ts += deltaMs;
      n++;
    }
    const read = this.db.prepare(
      'SELECT id, body FROM outbox WHERE id > ? AND id <= ? ORDER BY id LIMIT 2000',
    );
    const update = this.db.prepare('UPDATE outbox SET body = ?, ts = ts + ? WHERE id = ?');
    // In chunks: a long backlog is rewritten without one huge transaction.
    let after = 0;
    for (;;) {
      const rows = read.all(after, upToId) as Array<{ id: number; body: Buffer }>;
      if (rows.length === 0) break;
      this.db.transaction(() => {
        for (const r of rows) {
          after = r.id;
          if (skip.has(r.id) || this.acked.has(r.id)) continue;
          const body = shiftBodyTimes(r.body, deltaMs);
          if (!body) continue;
          update.run(body, deltaMs, r.id);
          n++;
        }
      })();
    }
    return n;
  }

  get lastPushedId(): number {
    return this.lastId;
  }

  /** Messages the broker refused, since the outbox was created. */
  get rejected(): number {
    return this.rejectedTotal;
  }

  next(afterId: number, limit: number): StoredOutboxItem[] {
    if (this.closed) return [];
    const out: StoredOutboxItem[] = [];
    let after = afterId;
    while (out.length < limit) {
      const want = limit - out.length;
      const rows = this.st.next.all(after, want) as Row[];
      for (const r of rows) {
        after = r.id;
        // Acknowledged, not yet deleted (that waits for the next commit).
        if (this.acked.has(r.id)) continue;
        out.push({
          id: r.id,
          topic: r.topic,
          body: r.body,
          ts: r.ts,
          enqueuedAt: r.enq,
          ...(r.seq !== null ? { seq: r.seq } : {}),
        });
      }
      if (rows.length < want) break;
    }
    // While the disk refuses every write, what waits in memory goes out too (after what is on disk).
    if (this.refusing)
      for (const p of this.pending) {
        if (out.length >= limit) break;
        if (p.id > after) out.push({ ...p, enqueuedAt: p.enq });
      }
    return out;
  }

  onDurable(fn: () => void): void {
    this.listeners.push(fn);
  }

  track(inflight: ReadonlySet<number>): void {
    this.inflight = inflight;
  }

  get depth(): number {
    return Math.max(0, this.rows - this.acked.size) + this.pending.length;
  }

  get oldestTs(): number | null {
    if (!this.closed && this.rows > this.acked.size) {
      const rows = this.st.head.all(0, this.acked.size + 1) as HeadRow[];
      const first = rows.find((r) => !this.acked.has(r.id));
      if (first) return first.ts;
    }
    return this.pending[0]?.ts ?? null;
  }

  get dropped(): number {
    return this.droppedTotal;
  }

  /** Bytes the messages occupy in the file (its pages in use). */
  get usedBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * this.pageSize;
  }

  /** A commit within `ms` (the earliest asked for wins). */
  private schedule(ms = this.o.commitIntervalMs): void {
    if (this.immediate) return;
    const at = performance.now() + ms;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.commit();
    }, ms);
    this.timer.unref();
  }

  private commitSoon(): void {
    if (this.immediate) return;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.commit();
    });
  }

  /** One group commit: queued messages in, acknowledged ones out, bounds enforced. */
  commit(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    if (this.closed || (this.pending.length === 0 && this.acked.size === 0)) return;
    const batch = this.pending;
    const acks = [...this.acked];
    try {
      this.write(batch, acks);
    } catch (e) {
      if (!this.recover(e as Error, batch, acks)) return;
    }
    this.pending = this.pending.slice(batch.length);
    this.commits++;
    if (this.refusing) {
      this.refusing = false;
      this.o.log?.warn('outbox: the disk takes writes again');
    }
    this.sinceCheckpoint.commits++;
    for (const p of batch) this.sinceCheckpoint.bytes += p.body.length;
    if (
      this.sinceCheckpoint.commits >= CHECKPOINT_COMMITS ||
      this.sinceCheckpoint.bytes >= CHECKPOINT_BYTES ||
      this.o.now() < this.pressureUntil
    )
      this.checkpoint();
    if (this.pending.length > 0) this.schedule();
    if (batch.length > 0) for (const fn of this.listeners) fn();
  }

  /**
   * Copies the WAL into the file so the next commit writes the WAL from its start again (no growth),
   * finds out early when the file cannot grow (a full disk), gives surplus free pages back, and
   * shrinks the outbox when the file system runs short of free space.
   */
  private checkpoint(): void {
    this.sinceCheckpoint = { commits: 0, bytes: 0 };
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
      const pages = this.db.pragma('page_count', { simple: true }) as number;
      const free = this.db.pragma('freelist_count', { simple: true }) as number;
      // Only once the file is nine-tenths empty (a backlog drained): moving the newest pages to the
      // front while a backlog still drains would write them twice for nothing.
      if (free > KEEP_FREE_PAGES && free > pages * 0.9)
        this.db.pragma(`incremental_vacuum(${free - KEEP_FREE_PAGES})`);
    } catch (e) {
      this.recover(e as Error, [], []);
      return;
    }
    let avail: number;
    try {
      const fs = statfsSync(dirname(this.path));
      avail = fs.bavail * fs.bsize;
    } catch {
      return;
    }
    if (avail >= this.o.reserveFreeBytes) return;
    const used = this.usedBytes;
    const target = Math.max(this.pageSize * 16, used - (this.o.reserveFreeBytes - avail));
    if (target >= this.limit()) return;
    this.ceiling = target;
    this.ceilingUntil = this.o.now() + FULL_BACKOFF_MS;
    this.fullLog(
      'warn',
      { free_bytes: avail, reserve_bytes: this.o.reserveFreeBytes, keep_below_bytes: target },
      'disk nearly full: dropping oldest',
    );
    this.shrink(target, 'disk_full');
  }

  private fullLog(level: 'warn' | 'error', o: Record<string, unknown>, msg: string): void {
    const now = this.o.now();
    if (now - (this.lastLog.get(msg) ?? Number.NEGATIVE_INFINITY) < FULL_LOG_EVERY_MS) return;
    this.lastLog.set(msg, now);
    this.o.log?.[level]({ ...o, dropped_total: this.droppedTotal }, msg);
  }

  /** Deletes acknowledged rows and the oldest until the pages in use fit `target`; gives the pages back. */
  private shrink(target: number, reason: DropReason, acks: number[] = [], maxPages?: number): void {
    const tx = this.db.transaction(() => {
      let deleted = 0;
      for (const id of acks) deleted += this.st.del.run(id).changes;
      const d = this.enforceSize(this.rows - deleted, target);
      if (d) this.st.setMeta.run('dropped', this.droppedTotal + d.count);
      this.st.setMeta.run('last_seq', this.lastSeq);
      // Free pages past `maxPages` go (the file shrinks at the next checkpoint: pages past the new
      // end are not copied); the others stay for the next inserts, so the file need not grow.
      const pages = this.db.pragma('page_count', { simple: true }) as number;
      const excess = maxPages === undefined ? 0 : pages - maxPages;
      if (excess > 0) this.db.pragma(`incremental_vacuum(${excess})`);
      return { deleted, d };
    });
    const { deleted, d } = tx();
    this.rows -= deleted + (d?.count ?? 0);
    for (const id of acks) this.acked.delete(id);
    if (d) this.countDrop(reason, d);
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
    } catch {}
  }

  /** The transaction. Throws what SQLite throws; on success the in-memory state follows it. */
  private write(batch: Pending[], acks: number[]): void {
    let deleted = 0;
    const drops: Array<[DropReason, DropAgg]> = [];
    let marker = this.markerId;
    const tx = this.db.transaction(() => {
      let lastSeq = this.lastSeq;
      for (const p of batch) {
        this.st.insert.run(p.id, p.topic, p.body, p.ts, p.enq, p.seq ?? null);
        if (p.seq !== undefined && p.seq > lastSeq) lastSeq = p.seq;
      }
      // The newest row is not deleted when acknowledged but marked: it keeps the highest number
      // written in the table (in the page the inserts write anyway) instead of a meta row rewritten
      // by every commit, which would double what an SD card takes. A newer row replaces it.
      const newest = batch.length > 0 ? batch[batch.length - 1]!.id : this.lastId;
      if (batch.length > 0 && marker !== null) {
        this.st.del.run(marker);
        marker = null;
      }
      for (const id of acks) {
        if (id === newest && batch.length === 0) {
          if (marker !== null) this.st.del.run(marker);
          deleted += this.st.mark.run(id).changes;
          marker = id;
        } else deleted += this.st.del.run(id).changes;
      }
      const rows = this.rows + batch.length - deleted;
      const age = this.enforceAge(rows);
      if (age) drops.push(['age', age]);
      const size = this.enforceSize(rows - (age?.count ?? 0));
      if (size) drops.push(['size', size]);
      const n = drops.reduce((s, [, d]) => s + d.count, 0);
      if (n > 0) {
        this.st.setMeta.run('dropped', this.droppedTotal + n);
        // The bounds may have taken the newest rows too.
        this.st.setMeta.run('last_seq', lastSeq);
      }
    });
    tx();
    this.markerId = marker;
    for (const p of batch) if (p.seq !== undefined && p.seq > this.lastSeq) this.lastSeq = p.seq;
    this.rows += batch.length - deleted - drops.reduce((s, [, d]) => s + d.count, 0);
    for (const id of acks) this.acked.delete(id);
    for (const [reason, d] of drops) this.countDrop(reason, d);
  }

  /** Deletes these rows, but not those on their way to the broker; returns what went. In a transaction. */
  private dropRows(rows: HeadRow[]): DropAgg | null {
    let agg: DropAgg | null = null;
    for (const r of rows) {
      if (this.inflight?.has(r.id)) continue;
      if (this.st.del.run(r.id).changes === 0) continue;
      agg = this.merge(agg, { count: 1, fromTs: r.ts, toTs: r.ts, firstSeq: r.seq, lastSeq: r.seq });
    }
    return agg;
  }

  private merge(a: DropAgg | null, b: DropAgg | null): DropAgg | null {
    if (!a) return b;
    if (!b) return a;
    const lo = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : Math.min(x, y));
    const hi = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : Math.max(x, y));
    return {
      count: a.count + b.count,
      fromTs: Math.min(a.fromTs, b.fromTs),
      toTs: Math.max(a.toTs, b.toTs),
      firstSeq: lo(a.firstSeq, b.firstSeq),
      lastSeq: hi(a.lastSeq, b.lastSeq),
    };
  }

  /** Oldest first, while the reading is older than maxAgeMs. Rows are in time order but for clock steps. */
  private enforceAge(rows: number): DropAgg | null {
    if (rows === 0) return null;
    const cutoff = this.o.now() - this.o.maxAgeMs;
    // Stamped before the clock was set: not old, just wrong (and maybe about to be corrected).
    const tooOld = (r: HeadRow) => r.ts < cutoff && r.ts >= EARLIEST_PLAUSIBLE_TS;
    const oldest = this.st.head.all(0, 1) as HeadRow[];
    if (!oldest[0] || !tooOld(oldest[0])) return null;
    let agg: DropAgg | null = null;
    let after = 0;
    for (;;) {
      const head = this.st.head.all(after, 1000) as HeadRow[];
      let n = 0;
      while (n < head.length && tooOld(head[n]!)) n++;
      if (n === 0) break;
      agg = this.merge(agg, this.dropRows(head.slice(0, n)));
      if (n < head.length) break;
      after = head[n - 1]!.id;
    }
    return agg;
  }

  /** Oldest first, until the pages in use are back under the bound (99 % of it, so not every commit drops). */
  private enforceSize(rows: number, target = this.limit()): DropAgg | null {
    let used = this.usedBytes;
    if (used <= target) return null;
    const goal = Math.floor(target * 0.99);
    let agg: DropAgg | null = null;
    let left = rows;
    let after = 0;
    for (let round = 0; round < 100 && used > goal && left > 0; round++) {
      const perRow = used / Math.max(1, left);
      const n = Math.min(left, Math.max(1, Math.ceil((used - goal) / perRow)));
      const head = this.st.head.all(after, n) as HeadRow[];
      if (head.length === 0) break;
      after = head.at(-1)!.id;
      const d = this.dropRows(head);
      if (d) {
        agg = this.merge(agg, d);
        left -= d.count;
      }
      used = this.usedBytes;
    }
    return agg;
  }

  /** The size bound now: maxBytes, or less for a while after the disk was full. */
  private limit(): number {
    if (this.ceiling < this.o.maxBytes && this.o.now() > this.ceilingUntil) this.ceiling = this.o.maxBytes;
    return this.ceiling;
  }

  /**
   * A write failed. A full disk (SQLITE_FULL, or an I/O error such as ENOSPC or EFBIG), in turn:
   * a checkpoint, so the WAL is written from its start again, and retry; drop the oldest messages
   * (counted) until the data fits in 90 % of what the file already holds, give the freed pages back,
   * keep the outbox that small for a while, and retry; else keep the newest in memory (bounded),
   * hand them out from there, and try again at the next commit. Never throws: the daemon keeps
   * polling whatever the disk does.
   */
  private recover(e: Error, batch: Pending[], acks: number[]): boolean {
    const code = (e as { code?: string }).code;
    if (!isStorageError(e)) {
      this.fullLog('error', { code, err: e.message }, 'outbox write failed; trying again');
      this.keepInMemory();
      return false;
    }
    // Checkpoint after every commit for a while: the next refusal shows while the WAL still has room.
    this.pressureUntil = this.o.now() + FULL_BACKOFF_MS;
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
      this.write(batch, acks);
      this.fullLog('warn', { code }, 'the disk refused a write; a checkpoint of the WAL made room');
      return true;
    } catch {}
    try {
      // What the file holds now is what fits: after a complete checkpoint it is the whole database,
      // and when the checkpoint failed the file could not grow.
      let fileBytes = this.usedBytes;
      try {
        fileBytes = statSync(this.path).size;
      } catch {}
      const fits = Math.min(fileBytes, this.limit());
      const need = batch.reduce((s, p) => s + p.body.length + p.topic.length + 64, 0);
      const min = this.pageSize * 16;
      // Data to 80 % of it (less the waiting batch), the file to 90 %: the rest is room to insert.
      const target = Math.max(min, Math.floor(fits * 0.8) - need);
      this.ceiling = Math.max(min, Math.floor(fits * 0.8));
      this.ceilingUntil = this.o.now() + FULL_BACKOFF_MS;
      const before = this.droppedTotal;
      this.shrink(target, 'disk_full', acks, Math.floor((fits * 0.9) / this.pageSize));
      this.fullLog(
        'error',
        { code, err: e.message, dropped: this.droppedTotal - before, keep_below_bytes: this.ceiling },
        'disk full: dropping oldest',
      );
      this.write(batch, []);
      return true;
    } catch (e2) {
      this.fullLog(
        'error',
        { code, err: (e2 as Error).message, waiting_in_memory: this.pending.length },
        'disk full: nothing could be written; sending the newest readings from memory and trying again',
      );
      this.keepInMemory();
      return false;
    }
  }

  /** The disk takes nothing: keep the queue in memory, bounded, oldest dropped (counted). */
  private keepInMemory(): void {
    this.refusing = true;
    const over = this.pending.length - this.o.maxPending;
    if (over > 0) {
      const gone = this.pending.splice(0, over);
      let agg: DropAgg | null = null;
      for (const p of gone)
        agg = this.merge(agg, {
          count: 1,
          fromTs: p.ts,
          toTs: p.ts,
          firstSeq: p.seq ?? null,
          lastSeq: p.seq ?? null,
        });
      if (agg) this.countDrop('disk_full', agg);
    }
    this.schedule();
  }

  /** Counts a drop and reports it: the first at once, then at most once per interval per reason. */
  private countDrop(reason: DropReason, d: DropAgg): void {
    if (d.count <= 0) return;
    this.droppedTotal += d.count;
    this.drops.set(reason, this.merge(this.drops.get(reason) ?? null, d)!);
    this.scheduleReport();
  }

  private scheduleReport(): void {
    if (this.reportTimer) return;
    const now = this.o.now();
    let wait = Number.POSITIVE_INFINITY;
    for (const reason of this.drops.keys())
      wait = Math.min(
        wait,
        Math.max(0, (this.lastReport.get(reason) ?? -Infinity) + this.o.dropReportIntervalMs - now),
      );
    // Always later than now: a drop found while the daemon is still wiring itself up is reported after.
    this.reportTimer = setTimeout(
      () => {
        this.reportTimer = null;
        this.report();
      },
      Math.max(0, wait),
    );
    this.reportTimer.unref();
  }

  private report(): void {
    const now = this.o.now();
    for (const [reason, d] of [...this.drops]) {
      if (now - (this.lastReport.get(reason) ?? -Infinity) < this.o.dropReportIntervalMs) continue;
      this.drops.delete(reason);
      this.lastReport.set(reason, now);
      this.o.log?.warn(
        { reason, count: d.count, first_seq: d.firstSeq, last_seq: d.lastSeq, total: this.droppedTotal },
        'outbox dropped unsent messages',
      );
      try {
        this.o.onDrop?.({ reason, ...d, total: this.droppedTotal });
      } catch (e) {
        this.o.log?.warn({ err: (e as Error).message }, 'outbox drop report failed');
      }
    }
    if (this.drops.size > 0) this.scheduleReport();
  }

  close(): void {
    if (this.closed) return;
    this.commit();
    if (this.reportTimer) clearTimeout(this.reportTimer);
    this.reportTimer = null;
    this.closed = true;
    if (this.pending.length > 0)
      this.o.log?.error({ lost: this.pending.length }, 'outbox closed with messages it could not write');
    try {
      this.st.setMeta.run('last_seq', this.lastSeq);
      this.st.setMeta.run('open', 0);
    } catch {}
    this.db.close();
  }
}

/** The outbox block of site.yaml as options. */
export function outboxOptions(c: {
  max_bytes: number;
  max_age_h: number;
  commit_interval_ms: number;
  commit_max_messages: number;
  sync: 'full' | 'normal';
}): Omit<DiskOutboxOptions, 'path'> {
  return {
    maxBytes: c.max_bytes,
    maxAgeMs: Math.round(c.max_age_h * 3600_000),
    commitIntervalMs: c.commit_interval_ms,
    commitMaxMessages: c.commit_max_messages,
    synchronous: c.sync,
  };
}

/** The `outbox_dropped` event's text (Bahasa Indonesia and English) and data. */
export function dropEvent(
  d: OutboxDrop,
  timeZone: string,
): { message: { id: string; en: string }; data: Record<string, unknown> } {
  const fmt = (ts: number) =>
    new Intl.DateTimeFormat('en-GB', { timeZone, dateStyle: 'short', timeStyle: 'medium' }).format(ts);
  const span = d.fromTs === d.toTs ? fmt(d.fromTs) : `${fmt(d.fromTs)} – ${fmt(d.toTs)}`;
  const n = d.count.toLocaleString('id-ID');
  const nEn = d.count.toLocaleString('en-US');
  const text = {
    size: {
      id: `Antrean kirim penuh: ${n} data terlama dibuang (${span})`,
      en: `Outbox full: dropped the ${nEn} oldest readings (${span})`,
    },
    age: {
      id: `${n} data yang lebih tua dari batas umur antrean kirim dibuang (${span})`,
      en: `Dropped ${nEn} readings older than the outbox's age limit (${span})`,
    },
    disk_full: {
      id: `Disk gateway penuh: ${n} data terlama dibuang (${span})`,
      en: `Site box disk full: dropped the ${nEn} oldest readings (${span})`,
    },
  }[d.reason];
  return {
    message: text,
    data: {
      reason: d.reason,
      count: d.count,
      from_ts: d.fromTs,
      to_ts: d.toTs,
      first_seq: d.firstSeq,
      last_seq: d.lastSeq,
      total: d.total,
    },
  };
}
