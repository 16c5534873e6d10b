// QoS 1 deliveries to a clean MQTT 3.1.1 session, written as aedes writes them but in one buffer.
// aedes builds each delivery as a packet object and hands it to mqtt-packet's stream writer, which
// writes it in five pieces, corks the socket and uncorks it on the next tick; with one reader of
// all telemetry that cost a tenth of the broker's event loop at saturation (CPU profile of the
// broker bench). Everything else aedes decides stays aedes's: which subscriptions match, its
// per-client dedupe, authorizeForward, the downgrade to the subscription's QoS, the packet
// identifiers it hands out, waiting for a full socket to drain. A persistent session (aedes keeps
// its deliveries until acknowledged), MQTT 5 and QoS 0 go through aedes's own delivery.

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
  conn: { write(chunk: Buffer): boolean };
  broker: { authorizeForward(client: Client, packet: DeliveredPacket): DeliveredPacket | null | undefined };
  deliverQoS: Deliver;
  waitForDrain(done: (err?: Error | null) => void): void;
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
}

/**
 * Takes over the client's QoS 1 deliveries while its session is clean and MQTT 3.1.1; call right
 * after aedes.handle, before its CONNECT is read: a subscription takes the client's delivery
 * function when it is made.
 */
export function deliverInOneBuffer(client: Client, stats: FastDeliveryStats): void {
  const c = client as unknown as AedesDeliveryState;
  const aedesDeliver = c.deliverQoS;
  c.deliverQoS = (packet, done) => {
    if (packet.qos === 0 || !c.clean || (c.version !== 4 && c.version !== 3) || c.errored)
      return aedesDeliver(packet, done);
    // aedes's getToForwardPacket: no-local, its dedupe by broker counter, authorizeForward.
    const forward =
      packet.clientId === c.id && packet.nl
        ? undefined
        : firstDelivery(c, packet) && c.broker.authorizeForward(client, packet);
    // As aedes: a later turn, so that a burst of deliveries does not deepen the stack.
    if (!forward) return void setImmediate(done);
    setImmediate(() => write(c, forward, done, stats));
  };
}

function firstDelivery(c: AedesDeliveryState, packet: DeliveredPacket): boolean {
  const id = packet.brokerId;
  if (!id) return true;
  const counter = packet.brokerCounter ?? 0;
  if ((c.duplicates[id] ?? 0) >= counter) return false;
  c.duplicates[id] = counter;
  return true;
}

function write(
  c: AedesDeliveryState,
  packet: DeliveredPacket,
  done: () => void,
  stats: FastDeliveryStats,
): void {
  // aedes's QoSPacket: an identifier from the client's counter unless the packet has one, and the
  // QoS of a subscription to this very topic if lower.
  let messageId = packet.messageId;
  if (!messageId) {
    messageId = c._nextId;
    c._nextId = c._nextId >= 65535 ? 1 : c._nextId + 1;
  }
  let qos = packet.qos;
  const sub = c.subscriptions[packet.topic];
  if (sub && (sub.qos ?? 0) < qos) qos = sub.qos ?? 0;
  const finish = (err?: Error | null) => {
    if (err) c.emit('error', err);
    done();
  };
  if (!c.connecting && !c.connected) return void setImmediate(finish, new Error('connection closed'));
  const bytes = encodePublish(packet, qos, messageId);
  if (!bytes) return void setImmediate(finish, new Error('packet received not valid'));
  stats.fastDeliveries++;
  if (!c.conn.write(bytes) && !c.errored) c.waitForDrain(finish);
  else setImmediate(finish);
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
