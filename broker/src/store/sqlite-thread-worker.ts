// The writer thread of ThreadedSqliteStore (sqlite-thread.ts): one SQLite connection doing every
// write of the broker, durably (synchronous = FULL: an acknowledged reading survives a power cut of
// the central, not only a crash). Writes of one message from the broker are started together, so
// the readings among them share one group commit.

import { parentPort, workerData } from 'node:worker_threads';
import type { TelemetryPayload } from '@pantau/contract';
import { decodeTelemetry, Malformed } from '../telemetry-check.js';
import { type IngestDone, SqliteStore } from './sqlite.js';
import type { FromWriter, ToWriter, WriteCall, WriteReply } from './sqlite-thread.js';
import { readFrames, TelemetryAnswers } from './telemetry-frames.js';
import type { ThumbnailRecord } from './types.js';

const port = parentPort;
if (!port) throw new Error('sqlite-thread-worker.js runs as a worker thread of the broker');

const store = new SqliteStore({ path: (workerData as { path: string }).path, synchronous: 'full' });

let replies: WriteReply[] = [];
const answers = new TelemetryAnswers();
let answerSoon = false;
/** The answers of a turn go back in one message. */
const answerLater = () => {
  if (answerSoon) return;
  answerSoon = true;
  setImmediate(() => {
    answerSoon = false;
    const telemetry = answers.empty ? null : answers.take();
    const m: FromWriter = [replies.length > 0 ? replies : null, telemetry];
    replies = [];
    port.postMessage(m, telemetry ? [telemetry[0].buffer as ArrayBuffer] : []);
  });
};
const reply = (r: WriteReply) => {
  replies.push(r);
  answerLater();
};

const why = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A committed (or failed) telemetry batch answered by its frame's id: one callback for them all. */
const answer: IngestDone = (id, result, error) => {
  if (result) answers.stored(id as number, result);
  else answers.failed(id as number, why(error));
  answerLater();
};

/** A telemetry frame: decoded and queued for the next commit without a promise. */
function ingestFrame(id: number, receivedAt: number, site: string, device: string, json: string): void {
  let p: TelemetryPayload;
  try {
    p = decodeTelemetry(json, device);
  } catch (e) {
    // Answered, not failed: a failed write closes the site box's connection to be resent.
    if (e instanceof Malformed) answers.malformed(id, e.message);
    else answers.failed(id, why(e));
    answerLater();
    return;
  }
  store.queueTelemetry(site, p, receivedAt, id, answer);
}

function run(method: WriteCall[1], a: unknown[]): Promise<unknown> {
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

port.on('message', (m: ToWriter) => {
  if (m === 'close') {
    void store.close().finally(() => port.close());
    return;
  }
  const [calls, frames] = m;
  for (const [id, method, args] of calls ?? []) {
    let p: Promise<unknown>;
    try {
      p = run(method, args);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => reply([id, 1, v]),
      (e: unknown) => reply([id, 0, why(e)]),
    );
  }
  if (frames) readFrames(frames, ingestFrame);
});
