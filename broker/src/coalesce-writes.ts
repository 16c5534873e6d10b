// Writes to a site box's or reader's socket, gathered per turn of the event loop.

import type { Socket } from 'node:net';

/** Per socket whose writes are gathered, what sends them now. */
const releasers = new WeakMap<Socket, () => void>();

/**
 * aedes writes a packet in pieces (header, length, topic, id, payload) and each delivery in its own
 * turn of the event loop; node's writev pays per piece. Gathered until the end of this turn and
 * copied into one buffer, the packets for one socket leave in one write of one buffer.
 */
export function coalesceWrites(socket: Socket): Socket {
  type Done = (err?: Error | null) => void;
  const write = socket.write.bind(socket) as (chunk: Buffer, done?: Done) => boolean;
  const end = socket.end.bind(socket) as (...a: unknown[]) => Socket;
  let pieces: Buffer[] = [];
  let bytes = 0;
  let callbacks: Done[] = [];
  /** A writer was told the socket is full: it waits for 'drain', which must come. */
  let toldFull = false;
  const release = () => {
    if (pieces.length === 0) return;
    const out = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, bytes);
    const dones = callbacks;
    pieces = [];
    bytes = 0;
    callbacks = [];
    const ok = write(
      out,
      dones.length === 0
        ? undefined
        : (err) => {
            for (const d of dones) d(err);
          },
    );
    // Had the socket itself said full, it would emit 'drain' once written out; it did not.
    if (toldFull && ok) process.nextTick(() => socket.emit('drain'));
    toldFull = false;
  };
  socket.write = ((chunk: Buffer | string | Uint8Array, encoding?: BufferEncoding | Done, done?: Done) => {
    if (typeof encoding === 'function') {
      done = encoding;
      encoding = undefined;
    }
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, encoding)
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (pieces.length === 0) setImmediate(release);
    pieces.push(buf);
    bytes += buf.length;
    if (done) callbacks.push(done);
    if (socket.writableLength + bytes < socket.writableHighWaterMark) return true;
    toldFull = true;
    return false;
  }) as Socket['write'];
  releasers.set(socket, release);
  // What is gathered goes out before the end.
  socket.end = ((...args: unknown[]) => {
    release();
    return end(...args);
  }) as Socket['end'];
  return socket;
}

/**
 * Sends what is gathered for the socket now rather than at the end of the turn, in order: for
 * writes that others wait on (a site box's acknowledgements, see fast-lane.ts).
 */
export function writeNow(socket: Socket): void {
  releasers.get(socket)?.();
}
