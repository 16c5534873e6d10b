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
  'ingestTelemetryText',
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

export class ThreadedSqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly reader: SqliteStore;
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; at: number }
  >();
  private queue: WriteCall[] = [];
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
    w.on('message', (replies: WriteReply[]) => {
      for (const r of replies) {
        const p = this.waiting.get(r[0]);
        if (!p) continue;
        this.waiting.delete(r[0]);
        this.lastError = r[1] === 1 ? null : r[2];
        if (r[1] === 1) p.resolve(r[2]);
        else p.reject(new Error(r[2]));
      }
    });
    // A writer that died took its unanswered writes with it: they fail (the broker then refuses
    // those messages, which the site boxes resend) and the next write starts a new one.
    const lost = (why: string) => {
      if (this.worker !== w) return;
      this.worker = null;
      const e = new Error(`store writer thread ${why}`);
      if (this.waiting.size > 0) this.lastError = e.message;
      for (const p of this.waiting.values()) p.reject(e);
      this.waiting.clear();
    };
    // A SqliteError arrives from the thread as a plain object: its code, no message.
    w.on('error', (e: Error & { code?: string }) => lost(`failed: ${e.message ?? e.code ?? String(e)}`));
    w.on('exit', (code) => lost(`exited (${code})`));
    this.worker = w;
    return w;
  }

  private call<T>(method: WriteMethod, args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, at: performance.now() });
      this.queue.push([id, method, args]);
      // One message to the worker per turn of the event loop, carrying every write of that turn.
      if (this.queue.length === 1) setImmediate(this.send);
    });
  }

  private readonly send = (): void => {
    const q = this.queue;
    this.queue = [];
    if (q.length > 0) (this.worker ?? this.spawn()).postMessage(q);
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
    // A string, not the Buffer: a Buffer is cloned with the whole socket chunk it is a slice of.
    return this.call('ingestTelemetryText', [site, device, json.toString(), receivedAt]);
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
            new Promise<void>((done) => {
              const { resolve, reject } = p;
              p.resolve = (v) => {
                resolve(v);
                done();
              };
              p.reject = (e) => {
                reject(e);
                done();
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
