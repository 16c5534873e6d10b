// The telemetry fast lane: most of what a central hears is site boxes' QoS 1 telemetry, and aedes
// spends more on each such packet (its parser, its handler chain, an encoder for the PUBACK, a
// write per acknowledgement) than our ingest does. The lane reads the socket's bytes before aedes
// does, takes out the PUBLISH packets it can answer alone — QoS 1, not retained, a telemetry
// topic the client's account may publish on, a rate token free — stores them, acknowledges them
// (one write per connection per turn of the event loop) and hands them to aedes to deliver. Every
// other packet goes to aedes unchanged and in order; so does a telemetry packet the lane is unsure
// of, and aedes then checks it, refuses it and audits the refusal as before.

import type { Socket } from 'node:net';
import { parseTopic } from '@pantau/contract';
import type { Aedes, Client, PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { writeNow } from './coalesce-writes.js';
import {
  acknowledgedBy,
  type DeliveryLimits,
  type DeliveryWindow,
  deliverInOneBuffer,
} from './fast-delivery.js';
import { StoredPublisher } from './fast-publish.js';
import type { Guard } from './guard.js';

/** What aedes keeps on a client that the lane reads (aedes 1.x, lib/client.js, handlers/connect.js). */
interface AedesClientState {
  clean: boolean;
  connackSent: boolean;
  connected: boolean;
  version: number | null;
  _keepaliveInterval: number;
  _keepaliveTimer: NodeJS.Timeout | null;
}

/**
 * A connection's messages taken but not yet handed on to subscribers, at most (an honest site box
 * keeps 20 in flight, and is acknowledged before its messages are delivered). At this many the lane
 * reads no further from the connection until half have gone: its bytes wait in the socket, and TCP
 * slows the client down, as aedes does by not reading until it has handled a chunk.
 */
const MAX_OUTSTANDING = 64;

/**
 * The lane's messages being delivered by aedes at once, at most: below aedes's emitter concurrency
 * (100), past which the emitter queues messages and, when deliveries finish at once, drains its
 * queue by recursion, deep enough to overflow the stack (seen at saturation). The rest wait here.
 */
const MAX_PUBLISHING = 64;

const PUBACK = 0x40;
const EMPTY = Buffer.alloc(0);

export interface FastLaneStats {
  /** Telemetry messages the lane stored and acknowledged. */
  fastLaneMessages: number;
  /** Deliveries (QoS 1 and 0) to clean MQTT 3.1.1 sessions written in one buffer (fast-delivery.ts). */
  fastDeliveries: number;
  /** Deliveries to such sessions dropped because the reader's queue was full. */
  droppedDeliveries: number;
}

export class FastLane {
  readonly stats: FastLaneStats = { fastLaneMessages: 0, fastDeliveries: 0, droppedDeliveries: 0 };
  private readonly limits: DeliveryLimits;
  private readonly publisher: StoredPublisher;
  /** Stored and acknowledged messages waiting for a place in aedes's emitter, oldest first. */
  private queue: Array<{ conn: Connection; packet: PublishPacket }> = [];
  private queueHead = 0;
  private publishing = 0;
  private pumping = false;

  constructor(
    aedes: Aedes,
    private readonly guard: Guard,
    /** Stores a message; `done` is called once it is stored (or with why not). */
    private readonly ingest: (topic: string, payload: Buffer, done: (err: Error | null) => void) => void,
    private readonly log: Logger,
    opts: {
      maxInflight: number;
      maxQueued: number;
      /** No cluster: this broker alone changes its persistence's subscriptions (fast-publish.ts). */
      rememberSubscriptions?: boolean;
    },
  ) {
    this.publisher = new StoredPublisher(aedes, opts.rememberSubscriptions ?? false);
    this.limits = {
      maxInflight: opts.maxInflight,
      maxQueued: opts.maxQueued,
      onFull: (client, l) =>
        log.warn(
          { client, max_inflight: l.maxInflight, max_queued: l.maxQueued },
          'a reader does not keep up: its queue is full, and its new messages are dropped until it catches up',
        ),
    };
    // Acknowledgements that reach aedes (those behind another packet in a chunk the lane passed on).
    aedes.on('ack', (_packet, client) => acknowledgedBy(client));
  }

  /** Puts the lane in front of aedes on one connection, right after aedes.handle(socket). */
  attach(socket: Socket, client: Client): void {
    new Connection(this, socket, client, deliverInOneBuffer(client, this.stats, this.limits));
  }

  /** Stores one message; then acknowledges it and hands it to aedes for its subscribers. */
  take(conn: Connection, topic: string, id: number, payload: Buffer): void {
    conn.outstanding++;
    this.ingest(topic, payload, (e) => {
      if (e) {
        conn.done();
        // As on aedes's path: nothing acknowledged, the connection closed, the site box resends.
        this.log.error({ topic, err: e.message }, 'store failed; message refused, the site box will resend');
        conn.socket.destroy();
        return;
      }
      this.stats.fastLaneMessages++;
      if (conn.acknowledge(id)) this.acking.push(conn);
      const packet = { cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false } as PublishPacket;
      this.queue.push({ conn, packet });
      if (!this.answering) {
        this.answering = true;
        setImmediate(this.afterStored);
      }
    });
  }

  /** Connections owed acknowledgements, written by afterStored. */
  private acking: Connection[] = [];
  private answering = false;

  /**
   * Once the store's answers of this turn are all in (one commit answers hundreds of messages at
   * once): every acknowledgement first, then the deliveries. Delivered first, a commit's messages
   * held back the site boxes' acknowledgements by the time delivering them took, and a box sends
   * its next messages only once acknowledged.
   */
  private readonly afterStored = (): void => {
    this.answering = false;
    const conns = this.acking;
    this.acking = [];
    for (const conn of conns) conn.flushAcks();
    this.pump();
  };

  /** Hands waiting messages to aedes, in order, as places free; a loop, so a delivery finished at once does not recurse. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    while (this.publishing < MAX_PUBLISHING && this.queueHead < this.queue.length) {
      const { conn, packet } = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as never;
      this.publishing++;
      this.publisher.publish(packet, conn.client, (err) => {
        if (err)
          this.log.warn(
            { topic: packet.topic, err: err.message },
            'stored message not delivered to subscribers',
          );
        this.publishing--;
        conn.done();
        this.pump();
      });
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    }
    this.pumping = false;
  }

  /**
   * Whether the client may publish this topic now: the guard's ACL (its answer remembered per topic:
   * an account keeps its rights for the life of a connection, as in Guard), the size cap, a rate token.
   */
  admits(conn: Connection, topic: string, payloadBytes: number): boolean {
    let ok = conn.topics.get(topic);
    if (ok === undefined) {
      ok =
        parseTopic(topic)?.kind === 'device-telemetry' && this.guard.mayPublishTelemetry(conn.client, topic);
      if (conn.topics.size < 256) conn.topics.set(topic, ok);
    }
    return ok && payloadBytes <= this.guard.maxPayloadBytes && this.guard.tryTakeToken(conn.client);
  }
}

/** One connection's side of the lane: the bytes it holds back and the acknowledgements it owes. */
class Connection {
  /** Bytes of a packet not yet whole. */
  private held: Buffer | null = null;
  private acks: number[] = [];
  outstanding = 0;
  /** Per topic: whether the lane may take this client's messages on it. */
  readonly topics = new Map<string, boolean>();
  private readonly state: AedesClientState;

  constructor(
    private readonly lane: FastLane,
    readonly socket: Socket,
    readonly client: Client,
    private readonly deliveries: DeliveryWindow,
  ) {
    this.state = client as unknown as AedesClientState;
    const read = socket.read.bind(socket) as (n?: number | null) => Buffer | string | null;
    // aedes reads with read(null) when it is ready for more; stream internals call read(0), which
    // returns nothing and is passed on as is.
    socket.read = ((n?: number | null) => {
      if (n !== null && n !== undefined) return read(n);
      for (;;) {
        if (this.outstanding >= MAX_OUTSTANDING) {
          this.starved = true;
          return null;
        }
        const chunk = read() as Buffer | null;
        // Packets held back at the limit are sifted again once there is room, new bytes or not.
        if (chunk === null && !this.stalled) return null;
        const rest = this.sift(chunk ?? EMPTY);
        // Everything taken: read on (aedes would wait for the next 'readable' otherwise, and the
        // stream's buffer is empty now, so read returns null and the next bytes wake aedes again).
        if (rest !== null) return rest;
        // Held packets sifted and none for aedes: nothing more to read now (if they stalled again,
        // the connection is at its limit and done() wakes it).
        if (chunk === null) return null;
      }
    }) as Socket['read'];
  }

  /** Whether reading stopped at the limit and waits for room. */
  private starved = false;
  /** Whether `held` has whole packets not yet sifted (reading stopped at the limit among them). */
  private stalled = false;

  /** One of this connection's messages handed on (or refused): reading resumes once half have gone. */
  done(): void {
    this.outstanding--;
    if (this.starved && this.outstanding <= MAX_OUTSTANDING / 2) {
      this.starved = false;
      // aedes reads on 'readable'; the bytes waiting in the socket (or held here) are read now.
      setImmediate(() => {
        if (!this.socket.destroyed) this.socket.emit('readable');
      });
    }
  }

  /** Takes the lane's packets out of a chunk; returns the bytes for aedes (whole packets), or null. */
  private sift(chunk: Buffer): Buffer | null {
    let buf = chunk;
    if (this.held) {
      buf = chunk.length > 0 ? Buffer.concat([this.held, chunk]) : this.held;
      this.held = null;
    }
    this.stalled = false;
    const s = this.state;
    // Until aedes has accepted the CONNECT (and for MQTT 5, whose PUBLISH carries properties), every
    // byte is aedes's.
    const open = s.connackSent && s.connected && (s.version === 4 || s.version === 3);
    // A clean session's acknowledgements of QoS 1 deliveries: aedes keeps nothing to clear for such
    // a session (it stores outgoing messages only for persistent ones), and parsing and handling
    // each cost a fifth of its event loop with one reader at saturation (CPU profile).
    const acksMoot = open && s.clean;
    let at = 0;
    let passFrom = -1;
    let took = false;
    while (at < buf.length) {
      const start = at;
      // The fixed header: the type and flags, then the remaining length in 1–4 bytes of 7 bits.
      if (buf.length - at < 2) break;
      let len = 0;
      let mul = 1;
      let i = at + 1;
      let whole = false;
      for (; i < buf.length && i < at + 5; i++) {
        const b = buf[i]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          whole = true;
          i++;
          break;
        }
      }
      if (!whole) {
        // A length of 5 bytes is malformed: aedes refuses it and closes the connection. A length
        // not yet complete waits for the next bytes.
        if (i >= at + 5) {
          if (passFrom < 0) passFrom = start;
          at = buf.length;
        }
        break;
      }
      const end = i + len;
      if (end > buf.length) break;
      at = end;
      // Once one packet went to aedes, the rest of the chunk follows it: aedes handles them in order.
      if (passFrom >= 0) continue;
      // At the limit: the rest waits, in order, until there is room (done()).
      if (this.outstanding >= MAX_OUTSTANDING) {
        at = start;
        this.stalled = true;
        this.starved = true;
        break;
      }
      if (acksMoot && buf[start] === PUBACK && len === 2) {
        this.deliveries.acknowledged();
        took = true;
        continue;
      }
      // PUBLISH, QoS 1, not retained (DUP may be either: a resend is told apart by its number).
      if (!open || (buf[start]! & 0xf7) !== 0x32 || len < 4) {
        passFrom = start;
        continue;
      }
      const topicLen = buf.readUInt16BE(i);
      const idAt = i + 2 + topicLen;
      if (idAt + 2 > end) {
        passFrom = start;
        continue;
      }
      const id = buf.readUInt16BE(idAt);
      const topic = buf.toString('latin1', i + 2, idAt);
      const payloadAt = idAt + 2;
      if (id === 0 || !this.lane.admits(this, topic, end - payloadAt)) {
        passFrom = start;
        continue;
      }
      // A copy: a slice would keep the whole socket chunk alive as long as any subscriber's queue
      // holds the message.
      this.lane.take(this, topic, id, Buffer.from(buf.subarray(payloadAt, end)));
      took = true;
    }
    if (took && s._keepaliveInterval > 0) s._keepaliveTimer?.refresh();
    if (at < buf.length) this.held = buf.subarray(at);
    if (passFrom < 0) return null;
    return buf.subarray(passFrom, at);
  }

  /** Owes an acknowledgement; true for the first one since the last were written (flushAcks). */
  acknowledge(id: number): boolean {
    this.acks.push(id);
    return this.acks.length === 1;
  }

  /** The acknowledgements owed, in one write. */
  flushAcks(): void {
    const ids = this.acks;
    this.acks = [];
    if (this.socket.destroyed || !this.socket.writable) return;
    const out = Buffer.allocUnsafe(ids.length * 4);
    for (let k = 0; k < ids.length; k++) {
      const o = k * 4;
      out[o] = PUBACK;
      out[o + 1] = 2;
      out.writeUInt16BE(ids[k]!, o + 2);
    }
    this.socket.write(out);
    // Now, not at the end of the turn: the site box sends its next messages only once it has these.
    writeNow(this.socket);
  }
}
