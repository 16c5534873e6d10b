// The ingest's own MQTT 3.1.1 session with a broker the site already runs (Mosquitto). mqtt.js handles
// one incoming PUBLISH at a time: its acknowledgement waits for our store, and the next message waits
// for that acknowledgement, so the ingest stored one message per store round trip (1.5k/s, measured
// with `npm run bench`) while Mosquitto acknowledged site boxes at 40k/s and dropped what overflowed
// the ingest's queue. Here every message the broker has in flight to us is stored at once (the store
// groups them into one commit), and each PUBACK goes as soon as its message and all before it are
// stored: in order, as MQTT requires [MQTT-4.6.0-2], and never before the store has it.

import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { MqttServer } from '@pantau/config';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocket } from 'ws';

export interface IngestSessionOptions {
  servers: MqttServer[];
  username: string;
  password: string;
  clientId: string;
  keepaliveS: number;
  /** The subscription, at QoS 1. */
  filter: string;
  ca?: Buffer;
  reconnectMs?: number;
  connectTimeoutMs?: number;
  log: Logger;
  /** Resolves once the message is kept; a rejection closes the session unacknowledged (resent). */
  onMessage(topic: string, payload: Buffer): Promise<void>;
}

type Duplex = Pick<Socket, 'write' | 'end' | 'destroy' | 'on' | 'once' | 'cork' | 'uncork'>;

interface Waiting {
  messageId: number;
  stored: boolean;
}

/** Events: 'connect' (sessionPresent), 'subscribed' (granted: boolean), 'offline'. */
export class IngestSession extends EventEmitter {
  connected = false;
  connects = 0;
  private socket: Duplex | null = null;
  private ended = false;
  private next = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: IngestSessionOptions) {
    super();
  }

  start(): void {
    this.open();
  }

  private open(): void {
    if (this.ended) return;
    const server = this.o.servers[this.next++ % this.o.servers.length]!;
    const stream = this.dial(server);
    this.socket = stream;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    // Messages given to the store, oldest first; acknowledged from the head as they are stored.
    const waiting: Waiting[] = [];
    let alive = true;
    let heardSince = true;
    const send = (packets: Packet[]) => {
      if (!alive || packets.length === 0) return;
      stream.cork();
      for (const p of packets) stream.write(mqttPacket.generate(p));
      // Written together, once per event-loop turn: one system call for a whole commit's PUBACKs.
      process.nextTick(() => stream.uncork());
    };
    const acknowledge = () => {
      const acks: Packet[] = [];
      while (waiting.length > 0 && waiting[0]!.stored)
        acks.push({ cmd: 'puback', messageId: waiting.shift()!.messageId });
      send(acks);
    };
    const drop = (why: string) => {
      if (!alive) return;
      alive = false;
      if (this.pingTimer) clearInterval(this.pingTimer);
      this.pingTimer = null;
      const was = this.connected;
      this.connected = false;
      stream.destroy();
      if (this.socket === stream) this.socket = null;
      if (this.ended) return;
      if (was) {
        this.o.log.warn({ reason: why, unacknowledged: waiting.length }, 'ingest session closed');
        this.emit('offline');
      } else
        this.o.log.warn({ server: `${server.host}:${server.port}`, reason: why }, 'ingest could not connect');
      this.reconnectTimer = setTimeout(() => this.open(), this.o.reconnectMs ?? 2000);
    };
    const connectTimer = setTimeout(() => drop('no CONNACK in time'), this.o.connectTimeoutMs ?? 10_000);

    parser.on('packet', (p: Packet) => {
      heardSince = true;
      switch (p.cmd) {
        case 'connack':
          clearTimeout(connectTimer);
          if (p.returnCode !== 0) return drop(`broker refused the login (CONNACK ${p.returnCode})`);
          this.connected = true;
          this.connects++;
          this.emit('connect', p.sessionPresent);
          // Re-subscribing is harmless with a kept session and needed when the broker lost it.
          send([{ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: this.o.filter, qos: 1 }] }]);
          this.pingTimer = setInterval(
            () => {
              if (!heardSince) return drop('no answer to keepalive');
              heardSince = false;
              send([{ cmd: 'pingreq' }]);
            },
            (this.o.keepaliveS * 1000) / 2,
          );
          return;
        case 'suback':
          this.emit(
            'subscribed',
            p.granted.every((g) => g !== 128),
          );
          return;
        case 'publish': {
          const payload = Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload);
          if (p.qos === 0) {
            this.o.onMessage(p.topic, payload).catch(() => undefined);
            return;
          }
          // Subscribed at QoS 1: the broker sends no higher.
          const w: Waiting = { messageId: p.messageId!, stored: false };
          waiting.push(w);
          this.o.onMessage(p.topic, payload).then(
            () => {
              w.stored = true;
              if (waiting[0] === w) acknowledge();
            },
            (e: Error) => drop(`store failed: ${e.message}`),
          );
          return;
        }
        default:
          return; // pingresp and the like: hearing them is what counts
      }
    });
    parser.on('error', (e: Error) => drop(`malformed packet from the broker: ${e.message}`));
    stream.on('data', (d: Buffer) => parser.parse(d));
    stream.on('error', (e: Error) => drop(e.message));
    stream.on('close', () => drop('connection closed'));
    send([
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        // The broker keeps our session and queues QoS 1 readings while we are away.
        clean: false,
        clientId: this.o.clientId,
        keepalive: this.o.keepaliveS,
        username: this.o.username,
        password: Buffer.from(this.o.password),
      },
    ]);
  }

  private dial(s: MqttServer): Duplex {
    if (s.protocol === 'mqtt') return netConnect({ host: s.host, port: s.port, noDelay: true });
    if (s.protocol === 'mqtts')
      return tlsConnect({
        host: s.host,
        port: s.port,
        servername: s.host,
        ...(this.o.ca ? { ca: this.o.ca } : {}),
      });
    const ws = new WebSocket(
      `${s.protocol}://${s.host}:${s.port}/mqtt`,
      'mqtt',
      this.o.ca ? { ca: this.o.ca } : {},
    );
    return createWebSocketStream(ws) as unknown as Duplex;
  }

  /** Says goodbye (DISCONNECT keeps the session at the broker) and stops reconnecting. */
  async end(): Promise<void> {
    this.ended = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    const s = this.socket;
    if (!s) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        s.destroy();
        resolve();
      }, 3000);
      timer.unref();
      s.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (this.connected) s.end(mqttPacket.generate({ cmd: 'disconnect' }));
      else s.destroy();
    });
    this.connected = false;
  }
}
