// The site box's MQTT side: last will `offline`, birth `online` on every (re)connect with every
// retained device state re-published (a restarted broker forgot them), and a bounded queue for what
// was produced while the uplink was down.

import { encode, type GatewayStatePayload, type Payload, topics } from '@pantau/contract';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';

export interface OutboxItem {
  topic: string;
  body: Buffer;
  qos: 0 | 1;
  ts: number;
}

/** How long shutdown waits for the broker at each step. */
const STOP_WAIT_MS = 2000;

/** Where messages wait for the uplink. In memory for now; a disk outbox replaces it behind this interface. */
export interface Outbox {
  push(item: OutboxItem): void;
  peek(): OutboxItem | undefined;
  shift(): void;
  readonly depth: number;
  readonly oldestTs: number | null;
  readonly dropped: number;
}

export class MemoryOutbox implements Outbox {
  private items: OutboxItem[] = [];
  dropped = 0;
  constructor(private readonly max = 20_000) {}
  push(item: OutboxItem): void {
    this.items.push(item);
    if (this.items.length > this.max) {
      this.items.shift();
      this.dropped++;
    }
  }
  peek(): OutboxItem | undefined {
    return this.items[0];
  }
  shift(): void {
    this.items.shift();
  }
  get depth(): number {
    return this.items.length;
  }
  get oldestTs(): number | null {
    return this.items[0]?.ts ?? null;
  }
}

export interface PublisherOptions {
  site: string;
  urls: string[];
  username: string;
  password: string;
  keepaliveS: number;
  clientId: string;
  log: Logger;
  /** Birth message, built fresh at each connect. */
  birth: () => GatewayStatePayload;
  outbox?: Outbox;
}

export class Publisher {
  private client: MqttClient | null = null;
  private readonly retained = new Map<string, Buffer>();
  readonly outbox: Outbox;
  private flushing = false;
  connects = 0;

  constructor(private readonly o: PublisherOptions) {
    this.outbox = o.outbox ?? new MemoryOutbox();
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  private willPayload(): Buffer {
    return encode({ v: 1, state: 'offline', ts: Date.now(), site: this.o.site });
  }

  start(): void {
    const servers = this.o.urls.map((u) => {
      const url = new URL(u);
      const protocol = url.protocol.replace(':', '');
      return {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(url.port) || (protocol === 'mqtts' || protocol === 'tls' ? 8883 : 1883),
        protocol: (protocol === 'tcp' ? 'mqtt' : protocol === 'tls' ? 'mqtts' : protocol) as
          | 'mqtt'
          | 'mqtts'
          | 'ws'
          | 'wss',
      };
    });
    const opts: IClientOptions = {
      servers,
      username: this.o.username,
      password: this.o.password,
      clientId: this.o.clientId,
      keepalive: this.o.keepaliveS,
      clean: true,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      protocolVersion: 4,
      will: { topic: topics.gatewayState(this.o.site), payload: this.willPayload(), qos: 1, retain: true },
    };
    const client = mqtt.connect(opts);
    this.client = client;
    client.on('connect', () => {
      this.connects++;
      this.o.log.info({ connects: this.connects }, 'connected to the central');
      // The next will (if this connection dies) carries a fresh time.
      if (client.options.will) client.options.will.payload = this.willPayload();
      client.publish(topics.gatewayState(this.o.site), encode(this.o.birth()), { qos: 1, retain: true });
      for (const [topic, body] of this.retained) client.publish(topic, body, { qos: 1, retain: true });
      void this.flush();
    });
    client.on('close', () => this.o.log.debug('uplink closed'));
    client.on('offline', () => this.o.log.warn('central unreachable; keeping readings until it returns'));
    client.on('error', (e) => this.o.log.warn({ err: e.message }, 'MQTT error'));
  }

  /** Retained: kept here too, and re-published on every reconnect. */
  publishRetained(topic: string, payload: Payload): void {
    const body = encode(payload);
    this.retained.set(topic, body);
    if (this.connected) this.client!.publish(topic, body, { qos: 1, retain: true });
  }

  /** QoS 1 messages go through the outbox so none is lost while the uplink is down. */
  publish(topic: string, payload: Payload, ts: number, qos: 0 | 1 = 1): void {
    const body = encode(payload);
    if (qos === 0) {
      if (this.connected) this.client!.publish(topic, body, { qos: 0 });
      return;
    }
    this.outbox.push({ topic, body, qos, ts });
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (let item = this.outbox.peek(); item && this.connected; item = this.outbox.peek()) {
        const ok = await new Promise<boolean>((resolve) => {
          // An acknowledgement lost with a dying connection must not stall the queue forever.
          const timer = setTimeout(() => resolve(false), 30_000);
          this.client!.publish(item!.topic, item!.body, { qos: item!.qos }, (err) => {
            clearTimeout(timer);
            resolve(!err);
          });
        });
        if (!ok) break;
        this.outbox.shift();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Says goodbye properly: `offline` retained, then disconnect. */
  /**
   * Says goodbye (retained `offline`) and disconnects. A broker that vanished mid-shutdown never
   * acknowledges: each step waits at most `STOP_WAIT_MS`, then the connection is dropped so the
   * daemon exits (systemd would otherwise kill it after its stop timeout).
   */
  async stop(): Promise<void> {
    const c = this.client;
    if (!c) return;
    const bounded = (step: (done: () => void) => void) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), STOP_WAIT_MS);
        step(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    if (c.connected)
      await bounded((done) =>
        c.publish(topics.gatewayState(this.o.site), this.willPayload(), { qos: 1, retain: true }, () =>
          done(),
        ),
      );
    const ended = await bounded((done) => c.end(false, {}, () => done()));
    if (!ended) {
      this.o.log.warn('broker did not answer at shutdown: disconnecting without goodbye');
      await new Promise<void>((resolve) => c.end(true, {}, () => resolve()));
    }
  }
}
