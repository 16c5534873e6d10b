// A minimal MQTT 3.1.1 client for load generation: pre-encoded packets written straight to the
// socket and a parser that reads only the fixed header. A full client (mqtt.js) spends more CPU per
// message than a broker does; on a 2-core machine it would measure the clients, not the broker.

import { type Socket, connect as tcpConnect } from 'node:net';

const str = (s: string) => {
  const b = Buffer.from(s);
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
};

function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 0x80;
    bytes.push(d);
  } while (n > 0);
  return Buffer.from(bytes);
}

const packet = (first: number, body: Buffer) =>
  Buffer.concat([Buffer.from([first]), remainingLength(body.length), body]);

export interface ConnectOptions {
  clientId: string;
  username: string;
  password: string;
  clean: boolean;
  keepaliveS: number;
  will?: { topic: string; payload: string; qos: 0 | 1; retain: boolean };
}

export function connectPacket(o: ConnectOptions): Buffer {
  let flags = 0x80 | 0x40 | (o.clean ? 0x02 : 0);
  if (o.will) flags |= 0x04 | (o.will.qos << 3) | (o.will.retain ? 0x20 : 0);
  const head = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, flags, o.keepaliveS >> 8, o.keepaliveS & 0xff]);
  const parts = [head, str(o.clientId)];
  if (o.will) parts.push(str(o.will.topic), str(o.will.payload));
  parts.push(str(o.username), str(o.password));
  return packet(0x10, Buffer.concat(parts));
}

/** PUBLISH at QoS 1. */
export function publishPacket(topic: Buffer, id: number, payload: Buffer, retain = false): Buffer {
  const len = topic.length + 2 + payload.length;
  const rl = remainingLength(len);
  const out = Buffer.allocUnsafe(1 + rl.length + len);
  out[0] = 0x32 | (retain ? 1 : 0);
  rl.copy(out, 1);
  let o = 1 + rl.length;
  o += topic.copy(out, o);
  out.writeUInt16BE(id, o);
  payload.copy(out, o + 2);
  return out;
}

/** The topic as it goes on the wire (length-prefixed), encoded once per connection. */
export const wireTopic = str;

export function subscribePacket(id: number, filter: string, qos: 0 | 1): Buffer {
  return packet(0x82, Buffer.concat([Buffer.from([id >> 8, id & 0xff]), str(filter), Buffer.from([qos])]));
}

export const pubackPacket = (id: number) => Buffer.from([0x40, 2, id >> 8, id & 0xff]);
export const PINGREQ = Buffer.from([0xc0, 0]);

export interface LeanHandlers {
  connack(returnCode: number): void;
  puback?(id: number): void;
  suback?(id: number, granted: number): void;
  /** `body` is the packet after its fixed header; `flags` the low nibble of the first byte. */
  publish?(flags: number, body: Buffer): void;
  close?(): void;
}

/** Connects and feeds whole packets to the handlers. */
export function leanConnect(
  port: number,
  host: string,
  localAddress: string | undefined,
  o: ConnectOptions,
  h: LeanHandlers,
): Socket {
  const s = tcpConnect({ port, host, ...(localAddress ? { localAddress } : {}) });
  s.setNoDelay(true);
  let pending: Buffer | null = null;
  s.on('connect', () => s.write(connectPacket(o)));
  s.on('data', (chunk: Buffer) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (buf.length - at < 2) break;
      let len = 0;
      let mul = 1;
      let i = at + 1;
      let complete = false;
      for (; i < buf.length && i < at + 5; i++) {
        len += (buf[i]! & 0x7f) * mul;
        mul *= 128;
        if ((buf[i]! & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete || buf.length - i < len) break;
      const type = buf[at]! >> 4;
      if (type === 4) h.puback?.(buf.readUInt16BE(i));
      else if (type === 3) h.publish?.(buf[at]! & 0x0f, buf.subarray(i, i + len));
      else if (type === 2) h.connack(buf[i + 1]!);
      else if (type === 9) h.suback?.(buf.readUInt16BE(i), buf[i + 2]!);
      at = i + len;
    }
    pending = at < buf.length ? Buffer.from(buf.subarray(at)) : null;
    buf = Buffer.alloc(0);
  });
  s.on('error', () => {});
  s.on('close', () => h.close?.());
  return s;
}
