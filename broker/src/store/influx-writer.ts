// Batches points for InfluxDB and keeps them while InfluxDB is down or slow: one write in flight,
// exponential back-off between failed attempts, a bounded buffer (the oldest points go first, and
// are counted) so an outage of the database never takes the broker's memory or the broker down.
// Writes are idempotent (same series and timestamp overwrite), so resending a batch after a timeout
// whose write did land is harmless.

import type { InfluxDB, IPoint } from 'influx';

/** Where a point goes: retention policy and the timestamp precision its points are written in. */
export interface Target {
  rp: string;
  precision: 'ms' | 'n';
}

/** Points someone waits on: settled when the last of them is written (or refused for good). */
interface Ticket {
  left: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Queued {
  target: Target;
  point: IPoint;
  ticket?: Ticket;
}

function written(q: Queued): void {
  const t = q.ticket;
  if (t && t.left > 0 && --t.left === 0) t.resolve();
}

function lost(q: Queued, why: string): void {
  const t = q.ticket;
  if (t && t.left > 0) {
    t.left = 0;
    t.reject(new Error(why));
  }
}

/**
 * A field InfluxDB must store as an integer. node-influx writes a field without a schema as
 * `String(value)`, which makes every number a float; its schemas cannot be used here because they
 * fix a measurement's tags, and ours carry each reading's labels. So the writer gives the value in
 * line protocol's own integer form.
 */
export class IntegerField {
  constructor(readonly value: number) {}
  toString(): string {
    return `${Math.trunc(this.value)}i`;
  }
}

// InfluxDB fixes a field's type per shard. Matched loosely: node-influx hands on InfluxDB's JSON
// answer, quotes escaped.
const FLOAT_SHARD = /field type conflict: .* is type integer, already exists as type float/;
const INTEGER_SHARD = /field type conflict: .* is type float, already exists as type integer/;

/**
 * Runs a write of integer fields, and again with them as floats where a shard in which an older
 * Pantau wrote the field as a float refused them. The partial write stored all but the refused
 * points; the second is refused only by the shards holding integers, which have them already.
 */
export async function intoShardsOfEitherType(write: (asFloats: boolean) => Promise<unknown>): Promise<void> {
  try {
    await write(false);
  } catch (e) {
    if (!FLOAT_SHARD.test((e as Error).message)) throw e;
    await write(true).catch((again: Error) => {
      if (!INTEGER_SHARD.test(again.message)) throw again;
    });
  }
}

function withFloats(points: IPoint[]): IPoint[] {
  return points.map((p) => {
    if (!p.fields || !Object.values(p.fields).some((v) => v instanceof IntegerField)) return p;
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(p.fields)) fields[k] = v instanceof IntegerField ? v.value : v;
    return { ...p, fields };
  });
}

export interface WriterOptions {
  database: string;
  maxPoints: number;
  flushMs: number;
  maxBuffered: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Run before each write attempt (creating the database); a failure counts as a failed attempt. */
  prepare?: () => Promise<void>;
  onError?: (err: Error, retrying: boolean) => void;
}

export interface WriterStats {
  written: number;
  buffered: number;
  /** Points given up on: buffer overflow during an outage, or rejected by InfluxDB (4xx). */
  dropped: number;
  rejected: number;
  retries: number;
  lastError: string | null;
}

/**
 * InfluxDB answered 4xx (bad point, beyond retention, type conflict): resending cannot help. Not
 * 404 (database missing: created again before the retry), 401/403 (credentials may be fixed) or
 * 408/429 (busy).
 */
export function isRejection(e: unknown): boolean {
  const m = /A (4\d\d) /.exec((e as Error).message ?? '');
  return m !== null && !['401', '403', '404', '408', '429'].includes(m[1]!);
}

export class PointWriter {
  private pending: Queued[] = [];
  private inflight: Queued[] | null = null;
  private timer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private soon = false;
  private failures = 0;
  private closing = false;
  /** Drains give up once past this (set by close()). */
  private deadline = Number.POSITIVE_INFINITY;
  private wake: (() => void) | null = null;
  /** Told after every write attempt, good or bad. */
  private attempted: Array<() => void> = [];
  private readonly st: WriterStats = {
    written: 0,
    buffered: 0,
    dropped: 0,
    rejected: 0,
    retries: 0,
    lastError: null,
  };

  constructor(
    private readonly influx: InfluxDB,
    private readonly o: WriterOptions,
  ) {}

  stats(): WriterStats {
    return { ...this.st, buffered: this.pending.length + (this.inflight?.length ?? 0) };
  }

  /** True while the last write attempt failed (InfluxDB unreachable or erroring). */
  get failing(): boolean {
    return this.failures > 0;
  }

  push(target: Target, points: IPoint[]): void {
    this.enqueue(target, points);
  }

  /**
   * As push, settled once InfluxDB has the points: what is acknowledged to a site box must be
   * stored, not waiting in this process's memory. Rejected if they are dropped (buffer full, or
   * still unwritten at close); a point InfluxDB refuses for good (4xx) counts as settled.
   */
  pushAndWait(target: Target, points: IPoint[]): Promise<void> {
    if (points.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.enqueue(target, points, { left: points.length, resolve, reject });
    });
  }

  private enqueue(target: Target, points: IPoint[], ticket?: Ticket): void {
    for (const point of points) this.pending.push(ticket ? { target, point, ticket } : { target, point });
    const over = this.pending.length + (this.inflight?.length ?? 0) - this.o.maxBuffered;
    if (over > 0) {
      for (const q of this.pending.splice(0, Math.min(over, this.pending.length)))
        lost(q, 'InfluxDB write buffer full');
      this.st.dropped += over;
    }
    if (this.pending.length >= this.o.maxPoints) this.kick();
    else if (ticket && !this.draining && !this.soon) {
      // Someone waits (a site box's unacknowledged batch): written on the next turn, not after
      // flush_ms. Points arriving while a write is in flight gather for the next one, so writes
      // grow with the load by themselves.
      this.soon = true;
      setImmediate(() => {
        this.soon = false;
        this.kick();
      });
    } else if (!this.timer && !this.draining)
      this.timer = setTimeout(() => this.kick(), this.o.flushMs).unref();
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.draining)
      this.draining = this.drain().finally(() => {
        this.draining = null;
        if (this.pending.length > 0 && !this.closing)
          this.timer = setTimeout(() => this.kick(), this.o.flushMs).unref();
      });
  }

  /** A back-off pause that close() can cut short. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      const t = setTimeout(done, ms);
      t.unref();
      this.wake = done;
      function done() {
        clearTimeout(t);
        r();
      }
    }).finally(() => {
      this.wake = null;
    });
  }

  /** Writes until nothing is pending; on failure backs off and tries again (until the deadline). */
  private async drain(): Promise<void> {
    for (;;) {
      if (!this.inflight) {
        if (this.pending.length === 0) return;
        this.inflight = this.pending.splice(0, this.o.maxPoints);
      }
      const chunk = this.inflight;
      try {
        await this.o.prepare?.();
        await this.writeChunk(chunk);
        this.inflight = null;
        this.failures = 0;
        this.notify();
      } catch (e) {
        this.notify();
        const err = e as Error;
        this.st.lastError = err.message;
        this.failures++;
        this.st.retries++;
        this.o.onError?.(err, true);
        const initial = this.o.backoffInitialMs ?? 200;
        const max = this.o.backoffMaxMs ?? 30_000;
        const wait =
          Math.min(max, initial * 2 ** Math.min(this.failures - 1, 20)) * (0.8 + Math.random() * 0.4);
        if (Date.now() + wait > this.deadline) return;
        await this.pause(wait);
      }
    }
  }

  private notify(): void {
    const waiters = this.attempted;
    this.attempted = [];
    for (const w of waiters) w();
  }

  /**
   * Writes a chunk, one request per retention policy. A group InfluxDB refuses (4xx: a point it will
   * never take) is counted and given up without holding back the others; on any other failure the
   * groups not yet written stay in flight for the retry.
   */
  private async writeChunk(chunk: Queued[]): Promise<void> {
    const groups = new Map<string, { target: Target; points: IPoint[] }>();
    for (const q of chunk) {
      const k = `${q.target.rp}/${q.target.precision}`;
      const g = groups.get(k);
      if (g) g.points.push(q.point);
      else groups.set(k, { target: q.target, points: [q.point] });
    }
    for (const g of groups.values()) {
      try {
        await this.writeGroup(g.target, g.points);
        this.st.written += g.points.length;
      } catch (e) {
        if (!isRejection(e)) throw e;
        // Settled below all the same: resending a point InfluxDB refuses cannot help.
        // Partly or wholly refused: what InfluxDB accepted is stored, the rest never will be.
        this.st.rejected += g.points.length;
        this.st.lastError = (e as Error).message;
        this.o.onError?.(e as Error, false);
      }
      this.inflight = (this.inflight ?? []).filter((q) => {
        const mine = q.target.rp === g.target.rp && q.target.precision === g.target.precision;
        if (mine) written(q);
        return !mine;
      });
    }
  }

  private writeGroup(target: Target, points: IPoint[]): Promise<void> {
    return intoShardsOfEitherType((asFloats) =>
      this.influx.writePoints(asFloats ? withFloats(points) : points, {
        database: this.o.database,
        retentionPolicy: target.rp,
        precision: target.precision,
      }),
    );
  }

  /**
   * Writes what is pending now and waits for it, so a read sees this process's writes. While InfluxDB
   * is failing it does not wait out the back-off: the read goes ahead (and probably fails too).
   */
  async flush(): Promise<void> {
    if (this.failing) return;
    if (this.pending.length === 0 && !this.inflight) return;
    this.kick();
    while ((this.pending.length > 0 || this.inflight) && !this.failing)
      await new Promise<void>((r) => this.attempted.push(r));
  }

  /** Last chance to deliver: keeps trying for up to `timeoutMs`, then counts the rest as dropped. */
  async close(timeoutMs = 5000): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.deadline = Date.now() + timeoutMs;
    this.wake?.();
    // A drain already running stops at its next failure once past the deadline (a write that hangs
    // is bounded by the client's request timeout); then one last drain under the deadline.
    if (this.draining) await this.draining;
    await this.drain();
    const left = this.pending.length + (this.inflight?.length ?? 0);
    for (const q of [...this.pending, ...(this.inflight ?? [])])
      lost(q, 'store closed before InfluxDB took it');
    this.st.dropped += left;
    this.pending = [];
    this.inflight = null;
  }
}
