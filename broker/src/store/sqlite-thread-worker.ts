// The writer thread of ThreadedSqliteStore (sqlite-thread.ts): one SQLite connection doing every
// write of the broker, durably (synchronous = FULL: an acknowledged reading survives a power cut of
// the central, not only a crash). Writes of one message from the broker are started together, so
// the readings among them share one group commit.

import { parentPort, workerData } from 'node:worker_threads';
import type { TelemetryPayload } from '@pantau/contract';
import { decodeTelemetry, Malformed } from '../telemetry-check.js';
import { type IngestDone, SqliteStore } from './sqlite.js';
import type { WriteCall, WriteReply } from './sqlite-thread.js';
import type { ThumbnailRecord } from './types.js';

const port = parentPort;
if (!port) throw new Error('sqlite-thread-worker.js runs as a worker thread of the broker');

const store = new SqliteStore({ path: (workerData as { path: string }).path, synchronous: 'full' });

let replies: WriteReply[] = [];
const reply = (r: WriteReply) => {
  replies.push(r);
  if (replies.length === 1)
    setImmediate(() => {
      const out = replies;
      replies = [];
      port.postMessage(out);
    });
};

/** A write that failed, answered with the error's message. */
const failed = (id: number, e: unknown): WriteReply => [id, 0, e instanceof Error ? e.message : String(e)];

/** A committed (or failed) telemetry batch answered by its call's id: one callback for them all. */
const answer: IngestDone = (id, result, error) =>
  reply(result ? [id as number, 1, result] : failed(id as number, error));

function run(method: Exclude<WriteCall[1], 'ingestTelemetryText'>, a: unknown[]): Promise<unknown> {
  switch (method) {
    case 'ingestTelemetry':
      return store.ingestTelemetry(
        a[0] as string,
        JSON.parse(a[1] as string) as TelemetryPayload,
        a[2] as number,
      );
    case 'putThumbnail': {
      // A Buffer arrives as a plain Uint8Array; SQLite binds a Buffer as a blob.
      const t = a[1] as ThumbnailRecord;
      const data = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      return store.putThumbnail(a[0] as string, { ...t, data }, a[2] as number);
    }
    default:
      return (store[method] as (...args: unknown[]) => Promise<unknown>)(...a);
  }
}

port.on('message', (m: WriteCall[] | 'close') => {
  if (m === 'close') {
    void store.close().finally(() => port.close());
    return;
  }
  for (const [id, method, args] of m) {
    // Most of what the writer hears: decoded and queued for the next commit without a promise.
    if (method === 'ingestTelemetryText') {
      let p: TelemetryPayload;
      try {
        p = decodeTelemetry(args[2] as string, args[1] as string);
      } catch (e) {
        // Answered, not failed: a failed write closes the site box's connection to be resent.
        if (e instanceof Malformed) reply([id, 1, { malformed: e.message }]);
        else reply(failed(id, e));
        continue;
      }
      store.queueTelemetry(args[0] as string, p, args[3] as number, id, answer);
      continue;
    }
    let p: Promise<unknown>;
    try {
      p = run(method, args);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => reply([id, 1, v]),
      (e: unknown) => reply(failed(id, e)),
    );
  }
});
