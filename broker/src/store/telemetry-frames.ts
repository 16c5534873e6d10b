// Telemetry writes between the broker's event loop and the store's writer thread (sqlite-thread.ts),
// packed in bytes. Sent as arrays of strings and numbers, each batch cost both threads 3.8 µs of CPU
// in structured cloning there and back (0.75 to clone the call, 1.4 to read it, 0.5 and 1.2 for
// the answer; measured with 650 calls a message, as the broker bench's commits hold), more than a
// tenth of the broker's CPU per message. A turn's frames travel in one transferred ArrayBuffer.
//
// A frame: id (f64), receivedAt (f64), site, device and payload lengths (u16, u16, u32), then the
// site and device (slugs of the topic: a-z, 0-9, '-', so one byte a character) and the payload as
// it came off the wire.

import type { IngestResult, MalformedTelemetry } from './types.js';

const HEAD = 24;

/** The frames of one turn of the event loop, built on the event loop. */
export class TelemetryFrames {
  private buf: Buffer;
  private at = 0;

  constructor(private capacity = 64 * 1024) {
    this.buf = TelemetryFrames.alloc(capacity);
  }

  /** Its own ArrayBuffer (transferable, unlike the pool's), not zeroed: only written bytes are sent. */
  private static alloc(size: number): Buffer {
    return Buffer.allocUnsafeSlow(size);
  }

  get empty(): boolean {
    return this.at === 0;
  }

  add(id: number, receivedAt: number, site: string, device: string, payload: Buffer): void {
    this.ensure(this.at + HEAD + site.length + device.length + payload.length);
    const b = this.buf;
    const o = this.at;
    b.writeDoubleLE(id, o);
    b.writeDoubleLE(receivedAt, o + 8);
    b.writeUInt16LE(site.length, o + 16);
    b.writeUInt16LE(device.length, o + 18);
    b.writeUInt32LE(payload.length, o + 20);
    let p = o + HEAD;
    // Byte by byte: for a few characters, cheaper than a call into Buffer's native encoder.
    for (let k = 0; k < site.length; k++) b[p++] = site.charCodeAt(k);
    for (let k = 0; k < device.length; k++) b[p++] = device.charCodeAt(k);
    this.at = p + payload.copy(b, p);
  }

  /** The frames so far in their own ArrayBuffer, to be transferred; this starts a new one. */
  take(): Uint8Array {
    const out = new Uint8Array(this.buf.buffer, 0, this.at);
    this.buf = TelemetryFrames.alloc(this.capacity);
    this.at = 0;
    return out;
  }

  private ensure(size: number): void {
    if (size <= this.buf.length) return;
    while (this.capacity < size) this.capacity *= 2;
    const grown = TelemetryFrames.alloc(this.capacity);
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }
}

/** Reads the frames in the writer thread, in order. */
export function readFrames(
  bytes: Uint8Array,
  each: (id: number, receivedAt: number, site: string, device: string, json: string) => void,
): void {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  while (o < b.length) {
    const id = b.readDoubleLE(o);
    const receivedAt = b.readDoubleLE(o + 8);
    let p = o + HEAD;
    const siteEnd = p + b.readUInt16LE(o + 16);
    const site = b.toString('latin1', p, siteEnd);
    p = siteEnd;
    const deviceEnd = p + b.readUInt16LE(o + 18);
    const device = b.toString('latin1', p, deviceEnd);
    p = deviceEnd;
    const jsonEnd = p + b.readUInt32LE(o + 20);
    each(id, receivedAt, site, device, b.toString('utf8', p, jsonEnd));
    o = jsonEnd;
  }
}

const FAILED = 0;
const STORED = 1;
const REPLAY = 2;
const MALFORMED = 3;

/** The answers to telemetry frames: (id, outcome, samples) as numbers, and the text of the rare ones. */
export type TelemetryAnswerBatch = [numbers: Float64Array, notes: Array<[id: number, text: string]> | null];

/** The writer thread's answers of one turn. */
export class TelemetryAnswers {
  private numbers: number[] = [];
  private notes: Array<[number, string]> | null = null;

  get empty(): boolean {
    return this.numbers.length === 0;
  }

  stored(id: number, r: IngestResult): void {
    this.numbers.push(id, r.accepted ? STORED : REPLAY, r.samples);
  }
  malformed(id: number, why: string): void {
    this.note(id, MALFORMED, why);
  }
  failed(id: number, why: string): void {
    this.note(id, FAILED, why);
  }

  take(): TelemetryAnswerBatch {
    const out: TelemetryAnswerBatch = [Float64Array.from(this.numbers), this.notes];
    this.numbers = [];
    this.notes = null;
    return out;
  }

  private note(id: number, outcome: number, text: string): void {
    this.numbers.push(id, outcome, 0);
    this.notes ??= [];
    this.notes.push([id, text]);
  }
}

/** Each answer of a batch, on the event loop: a result, or the error of a write that failed. */
export function readAnswers(
  [numbers, notes]: TelemetryAnswerBatch,
  each: (id: number, result: IngestResult | MalformedTelemetry | null, error: string | null) => void,
): void {
  const text = notes ? new Map(notes) : null;
  for (let k = 0; k < numbers.length; k += 3) {
    const id = numbers[k]!;
    const outcome = numbers[k + 1]!;
    if (outcome === STORED || outcome === REPLAY)
      each(id, { accepted: outcome === STORED, samples: numbers[k + 2]! }, null);
    else if (outcome === MALFORMED) each(id, { malformed: text?.get(id) ?? '' }, null);
    else each(id, null, text?.get(id) ?? 'failed');
  }
}
