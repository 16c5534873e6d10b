// The site box's MQTT side: last will `offline`, birth `online` on every (re)connect with every
// retained device state re-published (a restarted broker forgot them), and a bounded queue for what
// was produced while the uplink was down.

import {
  decode,
  encode,
  type GatewayStatePayload,
  type Payload,
  parseTopic,
  type RequestPayload,
  type ResponsePayload,
  topics,
} from '@pantau/contract';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';

export interface OutboxItem {
  topic: string;
  body: Buffer;
  qos: 0 | 1;
  ts: number;
}

/** Answers one request from the central; a thrown error becomes an error response. */
export type RequestHandler = (args: Record<string, unknown>) => Promise<unknown>;

/** An error a handler throws to answer with a code the central can act on. */
export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A request older than this (by its own timestamp, against ours) is answered "expired", not run. */
const REQUEST_MAX_AGE_MS = 5 * 60_000;
/** How long a request id is remembered, so a redelivered request is not run twice. */
const SEEN_REQUESTS = 500;

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
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly seenRequests: string[] = [];
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
      if (this.handlers.size > 0) client.subscribe(`${topics.siteRoot(this.o.site)}/request/+`, { qos: 1 });
      void this.flush();
    });
    client.on('message', (topic, body) => void this.onRequest(topic, body));
    client.on('close', () => this.o.log.debug('uplink closed'));
    client.on('offline', () => this.o.log.warn('central unreachable; keeping readings until it returns'));
    client.on('error', (e) => this.o.log.warn({ err: e.message }, 'MQTT error'));
  }

  /** Registers the answer to `…/request/{op}`; call before start(). */
  handle(op: string, fn: RequestHandler): void {
    this.handlers.set(op, fn);
  }

  private async onRequest(topic: string, body: Buffer): Promise<void> {
    const t = parseTopic(topic);
    if (t?.kind !== 'request' || t.site !== this.o.site) return;
    let req: RequestPayload;
    try {
      req = decode(body) as unknown as RequestPayload;
      if (typeof req.id !== 'string' || typeof req.ts !== 'number')
        throw new Error('request needs id and ts');
    } catch (e) {
      this.o.log.warn({ op: t.op, err: (e as Error).message }, 'ignored a malformed request');
      return;
    }
    if (this.seenRequests.includes(req.id)) return;
    this.seenRequests.push(req.id);
    if (this.seenRequests.length > SEEN_REQUESTS) this.seenRequests.shift();
    const answer = (r: Omit<ResponsePayload, 'v' | 'id' | 'ts'>): void => {
      this.client?.publish(
        topics.response(this.o.site, t.op),
        encode({ v: 1, id: req.id, ts: Date.now(), ...r } as ResponsePayload),
        { qos: 1 },
      );
    };
    const handler = this.handlers.get(t.op);
    if (!handler)
      return answer({ ok: false, error: { code: 'unknown_op', message: `no operation "${t.op}"` } });
    if (Math.abs(Date.now() - req.ts) > REQUEST_MAX_AGE_MS)
      return answer({
        ok: false,
        error: { code: 'expired', message: 'request too old (or a clock is wrong)' },
      });
    try {
      const result = await handler(req.args ?? {});
      this.o.log.info({ op: t.op, id: req.id }, 'request done');
      answer({ ok: true, result });
    } catch (e) {
      const code = e instanceof RequestError ? e.code : 'failed';
      this.o.log.warn({ op: t.op, id: req.id, err: (e as Error).message }, 'request failed');
      answer({ ok: false, error: { code, message: (e as Error).message } });
    }
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
