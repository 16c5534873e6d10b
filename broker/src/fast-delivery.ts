// Deliveries to a clean MQTT 3.1.1 session, written as aedes writes them but in one buffer.
// aedes builds each delivery as a packet object and hands it to mqtt-packet's stream writer, which
// writes it in five pieces, corks the socket and uncorks it on the next tick; with one reader of
// all telemetry that cost a tenth of the broker's event loop at saturation (CPU profile of the
// broker bench). Everything else aedes decides stays aedes's: which subscriptions match, its
// per-client dedupe, authorizeForward, the downgrade to the subscription's QoS, the packet
// identifiers it hands out. A persistent session (aedes keeps its deliveries until acknowledged),
// MQTT 5 and WebSocket clients go through aedes's own delivery.
//
// Such a session also gets Mosquitto's flow control (max_inflight_messages, max_queued_messages):
// at most `maxInflight` QoS 1 deliveries unacknowledged, then up to `maxQueued` waiting here, then
// the reader's new messages are dropped and counted; its QoS 0 messages are dropped once its socket
// holds QOS0_BACKLOG_BYTES unsent. aedes instead waits for a reader's full socket to drain before
// it delivers the next message to anyone: one reader that stopped reading held back every site
// box's telemetry (the lane acknowledges a message once stored, but reads no further from a box
// while 64 of its messages wait for delivery) for up to aedes's drain timeout (60 s).

import type { Client } from 'aedes';

/** What aedes keeps on a client that delivery reads (aedes 1.x, lib/client.js, lib/qos-packet.js). */
interface AedesDeliveryState {
  id: string;
  clean: boolean;
  version: number | null;
  connected: boolean;
  connecting: boolean;
  errored: boolean;
  duplicates: Record<string, number>;
  subscriptions: Record<string, { qos?: number } | undefined>;
  _nextId: number;
  conn: { write(chunk: Buffer): boolean; readonly writableLength: number };
  broker: { authorizeForward(client: Client, packet: DeliveredPacket): DeliveredPacket | null | undefined };
  deliverQoS: Deliver;
  deliver0: Deliver;
  emit(event: 'error', err: Error): boolean;
}

/** A message on its way to one subscriber (an aedes-packet Packet). */
interface DeliveredPacket {
  topic: string;
  payload: Buffer | string | undefined;
  qos: number;
  retain: boolean;
  dup: boolean;
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
  clientId?: string;
  nl?: boolean;
}

type Deliver = (packet: DeliveredPacket, done: () => void) => void;

/** The largest remaining length MQTT can say (four bytes of seven bits). */
const MAX_REMAINING = 268_435_455;

export interface FastDeliveryStats {
  /** Deliveries written here rather than by aedes's writer. */
  fastDeliveries: number;
  /** Deliveries dropped because their reader's queue was full. */
  droppedDeliveries: number;
}

/** Mosquitto's max_inflight_messages and max_queued_messages, per reader; a maxQueued of 0 is no limit. */
export interface DeliveryLimits {
  maxInflight: number;
  maxQueued: number;
  /** Told of a reader whose queue is full, once each time it fills. */
  onFull?: (clientId: string, limits: DeliveryLimits) => void;
}

/** One reader's deliveries: unacknowledged (counted, not named: see acknowledged) and waiting. */
class DeliveryWindow {
  inflight = 0;
  private waiting: DeliveredPacket[] = [];
  private head = 0;
  private full = false;

  constructor(
    private readonly c: AedesDeliveryState,
    private readonly limits: DeliveryLimits,
    private readonly stats: FastDeliveryStats,
  ) {}

  /** Sends now, or queues, or drops; never waits, so a slow reader holds back no one else. */
  offer(packet: DeliveredPacket): void {
    const { maxInflight, maxQueued } = this.limits;
    if (this.head === this.waiting.length && this.inflight < maxInflight) {
      this.send(packet);
      return;
    }
    if (maxQueued > 0 && this.waiting.length - this.head >= maxQueued) this.drop();
    else this.waiting.push(packet);
  }

  private drop(): void {
    this.stats.droppedDeliveries++;
    if (this.full) return;
    this.full = true;
    this.limits.onFull?.(this.c.id, this.limits);
  }

  /**
   * A QoS 0 delivery: nothing acknowledges it, so it is held to the bytes the reader's socket has not
   * yet sent rather than to a window; past QOS0_BACKLOG_BYTES it is dropped (at most once, as QoS 0
   * promises) and counted.
   */
  offer0(packet: DeliveredPacket): void {
    if (this.c.conn.writableLength > QOS0_BACKLOG_BYTES) {
      this.drop();
      return;
    }
    if (this.head === this.waiting.length) this.full = false;
    this.send(packet, 0);
  }

  /**
   * A PUBACK from the reader. Counted rather than matched to its identifier: aedes does not check a
   * clean session's acknowledgements either, and a reader that sends extra ones only lets more of
   * its own messages in.
   */
  acknowledged(): void {
    if (this.inflight > 0) this.inflight--;
    while (this.head < this.waiting.length && this.inflight < this.limits.maxInflight) {
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as never;
      this.send(next);
    }
    if (this.head === this.waiting.length && this.head > 0) {
      this.waiting = [];
      this.head = 0;
      this.full = false;
    }
  }

  private send(packet: DeliveredPacket, asQos?: 0): void {
    const c = this.c;
    if (c.errored || (!c.connecting && !c.connected)) return;
    const qos = asQos ?? deliveredQos(c, packet);
    const bytes = encodePublish(packet, qos, qos > 0 ? nextMessageId(c, packet) : 0);
    if (!bytes) {
      c.emit('error', new Error('packet received not valid'));
      return;
    }
    if (qos > 0) this.inflight++;
    this.stats.fastDeliveries++;
    c.conn.write(bytes);
  }
}

/**
 * Unsent bytes a reader's socket may hold before its QoS 0 messages are dropped: a few seconds of a
 * busy central's whole telemetry for a reader on the LAN (the dashboard's live feed), so a pause of
 * the reader loses nothing, while one that stopped reading holds a bounded amount.
 */
const QOS0_BACKLOG_BYTES = 8 * 1024 * 1024;

/** The windows of the clients that have one, for the acknowledgements aedes handles (see acknowledgedBy). */
const windows = new WeakMap<object, DeliveryWindow>();

/** A PUBACK from a client reached aedes rather than the lane: its window (if any) moves on. */
export function acknowledgedBy(client: Client): void {
  windows.get(client)?.acknowledged();
}

/**
 * Takes over the client's deliveries (QoS 1 and QoS 0) while its session is clean and MQTT 3.1.1;
 * call right after aedes.handle, before its CONNECT is read: a subscription takes the client's
 * delivery function when it is made. Returns the window that the client's acknowledgements move on.
 */
export function deliverInOneBuffer(
  client: Client,
  stats: FastDeliveryStats,
  limits: DeliveryLimits,
): DeliveryWindow {
  const c = client as unknown as AedesDeliveryState;
  const window = new DeliveryWindow(c, limits, stats);
  windows.set(client, window);
  const ours = () => c.clean && (c.version === 4 || c.version === 3) && !c.errored;
  // aedes's getToForwardPacket: no-local, its dedupe by broker counter, authorizeForward.
  const toForward = (packet: DeliveredPacket) =>
    packet.clientId === c.id && packet.nl
      ? undefined
      : firstDelivery(c, packet) && c.broker.authorizeForward(client, packet);
  const aedesDeliver = c.deliverQoS;
  c.deliverQoS = (packet, done) => {
    // A QoS 0 message to a QoS 1 subscription: aedes's deliverQoS hands it to deliver0 (below).
    if (packet.qos === 0 || !ours()) return aedesDeliver(packet, done);
    const forward = toForward(packet);
    if (forward) window.offer(forward);
    // As aedes: a later turn, so that a burst of deliveries does not deepen the stack.
    setImmediate(done);
  };
  const aedesDeliver0 = c.deliver0;
  c.deliver0 = (packet, done) => {
    if (!ours()) return aedesDeliver0(packet, done);
    const forward = toForward(packet);
    if (forward) window.offer0(forward);
    setImmediate(done);
  };
  return window;
}

export type { DeliveryWindow };

function firstDelivery(c: AedesDeliveryState, packet: DeliveredPacket): boolean {
  const id = packet.brokerId;
  if (!id) return true;
  const counter = packet.brokerCounter ?? 0;
  if ((c.duplicates[id] ?? 0) >= counter) return false;
  c.duplicates[id] = counter;
  return true;
}

/** aedes's QoSPacket: the QoS of a subscription to this very topic if lower. */
function deliveredQos(c: AedesDeliveryState, packet: DeliveredPacket): number {
  const sub = c.subscriptions[packet.topic];
  return sub && (sub.qos ?? 0) < packet.qos ? (sub.qos ?? 0) : packet.qos;
}

/** aedes's QoSPacket: an identifier from the client's counter unless the packet has one. */
function nextMessageId(c: AedesDeliveryState, packet: DeliveredPacket): number {
  if (packet.messageId) return packet.messageId;
  const id = c._nextId;
  c._nextId = c._nextId >= 65535 ? 1 : c._nextId + 1;
  return id;
}

/** A PUBLISH of MQTT 3.1.1, whole; null if too long to say. */
export function encodePublish(packet: DeliveredPacket, qos: number, messageId: number): Buffer | null {
  const payload =
    packet.payload === undefined
      ? Buffer.alloc(0)
      : Buffer.isBuffer(packet.payload)
        ? packet.payload
        : Buffer.from(packet.payload);
  const topicBytes = Buffer.byteLength(packet.topic);
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payload.length;
  if (remaining > MAX_REMAINING || topicBytes > 65535) return null;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  const out = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  out[0] = 0x30 | (packet.dup ? 8 : 0) | (qos << 1) | (packet.retain ? 1 : 0);
  let at = 1;
  let rest = remaining;
  do {
    const digit = rest % 128;
    rest = Math.floor(rest / 128);
    out[at++] = rest > 0 ? digit | 0x80 : digit;
  } while (rest > 0);
  out.writeUInt16BE(topicBytes, at);
  at += 2;
  at += out.write(packet.topic, at, 'utf8');
  if (qos > 0) {
    out.writeUInt16BE(messageId, at);
    at += 2;
  }
  payload.copy(out, at);
  return out;
}
