// The embedded store's writes in a worker thread. On the broker's event loop SQLite's inserts and
// commits took 59 % of the loop at saturation (measured with the broker bench's CPU profile), time
// the loop also needs to parse, authorise and route every MQTT packet; in a thread they run beside
// it, and a commit that waits for the disk (synchronous = FULL) holds up no one but the writer.
// Reads stay on this thread on a read-only connection: WAL lets them run beside the writer, and a
// write's promise resolves only after its commit, so a read made after it sees it.

import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type {
  DeviceStatePayload,
  EventPayload,
  GatewayHealthPayload,
  GatewayStatePayload,
  TelemetryPayload,
} from '@pantau/contract';
import { SqliteStore } from './sqlite.js';
import { readAnswers, type TelemetryAnswerBatch, TelemetryFrames } from './telemetry-frames.js';
import type {
  HistoryQuery,
  IngestResult,
  MalformedTelemetry,
  SequenceClash,
  Store,
  StoreHealth,
  ThumbnailRecord,
} from './types.js';

export const WRITES = [
  'ingestTelemetry',
  'putGatewayState',
  'putGatewayHealth',
  'putDeviceState',
  'putEvent',
  'putThumbnail',
] as const;
export type WriteMethod = (typeof WRITES)[number];

/** One write sent to the worker: its id, the method, the arguments (telemetry as its JSON text). */
export type WriteCall = [id: number, method: WriteMethod, args: unknown[]];
/** The worker's answer: ok with the method's result, or the error's message. */
export type WriteReply = [id: number, ok: 1, value: unknown] | [id: number, ok: 0, error: string];
/** A turn's writes to the worker: calls, and telemetry as it came off the wire (telemetry-frames.ts). */
export type ToWriter = [calls: WriteCall[] | null, telemetry: Uint8Array | null] | 'close';
/** A turn's answers from the worker. */
export type FromWriter = [replies: WriteReply[] | null, telemetry: TelemetryAnswerBatch | null];

/** The worker's compiled file, also when this module runs from its TypeScript source (tests). */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts')
    ? here.replace(/\/src\/store\/sqlite-thread\.ts$/, '/dist/store/sqlite-thread-worker.js')
    : here.replace(/sqlite-thread\.js$/, 'sqlite-thread-worker.js');
}

/**
 * A write unanswered for this long means the writer thread is stuck (a disk that hangs): longer than
 * SQLite's busy timeout (10 s), after which a write that waits for a lock fails and says so.
 */
const STUCK_MS = 30_000;

/** A write sent to the worker and not yet answered. */
interface Waiter {
  done: (err: Error | null, value?: unknown) => void;
  at: number;
}

export class ThreadedSqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly reader: SqliteStore;
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  private queue: WriteCall[] = [];
  private frames = new TelemetryFrames();
  private sendSoon = false;
  private closed = false;
  /** Why the last write failed; null once one succeeds again. */
  private lastError: string | null = null;

  constructor(private readonly path: string) {
    // Created and brought up to this schema here, once, before the worker and the reader open it:
    // a schema error is thrown to whoever opens the store, as with the store on this thread.
    new SqliteStore({ path }).closeNow();
    this.reader = new SqliteStore({ path, readonly: true });
    this.spawn();
  }

  private spawn(): Worker {
    const w = new Worker(workerFile(), { workerData: { path: this.path } });
    w.on('message', ([replies, telemetry]: FromWriter) => {
      if (replies)
        for (const r of replies)
          if (r[1] === 1) this.answer(r[0], null, r[2]);
          else this.answer(r[0], r[2]);
      if (telemetry) readAnswers(telemetry, (id, result, error) => this.answer(id, error, result));
    });
    // A writer that died took its unanswered writes with it: they fail (the broker then refuses
    // those messages, which the site boxes resend) and the next write starts a new one.
    const lost = (why: string) => {
      if (this.worker !== w) return;
      this.worker = null;
      const e = new Error(`store writer thread ${why}`);
      if (this.waiting.size > 0) this.lastError = e.message;
      for (const p of this.waiting.values()) p.done(e);
      this.waiting.clear();
    };
    // A SqliteError arrives from the thread as a plain object: its code, no message.
    w.on('error', (e: Error & { code?: string }) => lost(`failed: ${e.message ?? e.code ?? String(e)}`));
    w.on('exit', (code) => lost(`exited (${code})`));
    this.worker = w;
    return w;
  }

  private answer(id: number, error: string | null, value?: unknown): void {
    const p = this.waiting.get(id);
    if (!p) return;
    this.waiting.delete(id);
    this.lastError = error;
    if (error === null) p.done(null, value);
    else p.done(new Error(error));
  }

  private call<T>(method: WriteMethod, args: unknown[]): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.post(method, args, (e, v) => (e ? reject(e) : resolve(v as T))),
    );
  }

  /** Queues a write for the worker; `done` is called with its answer. */
  private post(method: WriteMethod, args: unknown[], done: Waiter['done']): void {
    const id = this.expect(done);
    if (id === 0) return;
    this.queue.push([id, method, args]);
    this.sendLater();
  }

  /** An id for a write whose answer goes to `done`; 0 (and `done` told) once the store is closed. */
  private expect(done: Waiter['done']): number {
    if (this.closed) {
      // Never from within the caller's call, as a promise would not be.
      queueMicrotask(() => done(new Error('store closed')));
      return 0;
    }
    const id = this.nextId++;
    this.waiting.set(id, { done, at: performance.now() });
    return id;
  }

  /** One message to the worker per turn of the event loop, carrying every write of that turn. */
  private sendLater(): void {
    if (this.sendSoon) return;
    this.sendSoon = true;
    setImmediate(this.send);
  }

  private readonly send = (): void => {
    this.sendSoon = false;
    const calls = this.queue.length > 0 ? this.queue : null;
    this.queue = [];
    const telemetry = this.frames.empty ? null : this.frames.take();
    if (!calls && !telemetry) return;
    const m: ToWriter = [calls, telemetry];
    (this.worker ?? this.spawn()).postMessage(m, telemetry ? [telemetry.buffer as ArrayBuffer] : []);
  };

  ingestTelemetry(site: string, payload: TelemetryPayload, receivedAt: number): Promise<IngestResult> {
    // As text: cloning the parsed object into the worker costs about nine times as much.
    return this.call('ingestTelemetry', [site, JSON.stringify(payload), receivedAt]);
  }
  /** Decoded and checked in the writer thread, beside the writes (types.ts). */
  ingestTelemetryText(
    site: string,
    device: string,
    json: Buffer,
    receivedAt: number,
  ): Promise<IngestResult | MalformedTelemetry> {
    return new Promise((resolve, reject) =>
      this.queueTelemetryText(site, device, json, receivedAt, (e, r) => (e ? reject(e) : resolve(r!))),
    );
  }
  queueTelemetryText(
    site: string,
    device: string,
    json: Buffer,
    receivedAt: number,
    done: (err: Error | null, result?: IngestResult | MalformedTelemetry) => void,
  ): void {
    const id = this.expect(done as Waiter['done']);
    if (id === 0) return;
    this.frames.add(id, receivedAt, site, device, json);
    this.sendLater();
  }
  putGatewayState(
    site: string,
    payload: GatewayStatePayload,
    receivedAt: number,
  ): Promise<SequenceClash | null> {
    return this.call('putGatewayState', [site, payload, receivedAt]);
  }
  putGatewayHealth(site: string, payload: GatewayHealthPayload, receivedAt: number): Promise<void> {
    return this.call('putGatewayHealth', [site, payload, receivedAt]);
  }
  putDeviceState(site: string, payload: DeviceStatePayload, receivedAt: number): Promise<void> {
    return this.call('putDeviceState', [site, payload, receivedAt]);
  }
  putEvent(site: string, payload: EventPayload, receivedAt: number): Promise<void> {
    return this.call('putEvent', [site, payload, receivedAt]);
  }
  putThumbnail(site: string, thumbnail: ThumbnailRecord, receivedAt: number): Promise<void> {
    return this.call('putThumbnail', [site, thumbnail, receivedAt]);
  }

  thumbnail(site: string, device: string) {
    return this.reader.thumbnail(site, device);
  }
  sequenceReport(site: string) {
    return this.reader.sequenceReport(site);
  }
  listSites() {
    return this.reader.listSites();
  }
  listDevices(site?: string) {
    return this.reader.listDevices(site);
  }
  listEvents(q: { site?: string; since?: number; limit?: number }) {
    return this.reader.listEvents(q);
  }
  history(q: HistoryQuery) {
    return this.reader.history(q);
  }

  /** Unhealthy while the last write failed or the oldest unanswered one has waited too long. */
  healthy(): StoreHealth {
    if (this.lastError !== null) return { ok: false, reason: `the last write failed: ${this.lastError}` };
    const oldest = this.waiting.values().next().value;
    const waited = oldest ? performance.now() - oldest.at : 0;
    if (waited > STUCK_MS)
      return { ok: false, reason: `a write has waited ${Math.round(waited / 1000)} s for the writer thread` };
    return { ok: true };
  }

  /** Every write already asked for is committed before the worker closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.send();
    this.closed = true;
    const w = this.worker;
    if (w) {
      await Promise.allSettled(
        [...this.waiting.values()].map(
          (p) =>
            new Promise<void>((settled) => {
              const { done } = p;
              p.done = (e, v) => {
                done(e, v);
                settled();
              };
            }),
        ),
      );
      await new Promise<void>((done) => {
        w.once('exit', () => done());
        w.postMessage('close');
      });
    }
    await this.reader.close();
  }
}
