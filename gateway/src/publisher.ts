// The site box's MQTT side: last will `offline`, birth `online` on every (re)connect with every
// retained device state re-published (a restarted broker forgot them), and the outbox (outbox.ts)
// drained in order: a window of unacknowledged QoS 1 messages, rate-capped, `backfill` set on what
// waited.

import { mqttServers } from '@pantau/config';
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
import { MemoryOutbox, type Outbox, type StoredOutboxItem } from './outbox.js';

export { MemoryOutbox, type Outbox, type OutboxItem } from './outbox.js';

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

export interface PublisherOptions {
  site: string;
  urls: string[];
  username: string;
  /** Not needed with a client certificate (tls.cert). */
  password?: string;
  /** CA, client certificate and key (PEM) for mqtts:// and wss://; the server is always verified. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; servername?: string };
  keepaliveS: number;
  clientId: string;
  log: Logger;
  /** Birth message, built fresh at each connect. */
  birth: () => GatewayStatePayload;
  /** Default: in memory (tests). The daemon gives the disk outbox; stop() closes it. */
  outbox?: Outbox;
  /**
   * Messages per second the backlog drains at, on top of the live rate (what was written in the last
   * 10 s), so a returning radio link is not flooded and live readings never starve; 0 = uncapped.
   */
  replayRatePerS?: number;
  /** QoS 1 messages sent and not yet acknowledged, at most. */
  inflight?: number;
  /**
   * A message first sent this long after it was written is marked backfill; so is one written before
   * a reconnection (during an outage) or by an earlier run.
   */
  backfillAfterMs?: number;
  /**
   * Largest message the central takes (its max_packet_bytes): a bigger one is refused here, not
   * written, so it cannot block the queue. Default 256 KiB, the broker's default.
   */
  maxMessageBytes?: number;
  /** Called before each message is written: the daemon checks its clock there. */
  beforeWrite?: () => void;
  /** A message was refused: too big to send, or the broker kept dropping the connection over it. */
  onRejected?: (r: RejectedMessage) => void;
}

/** A message that will not be sent: why, and what it was. */
export interface RejectedMessage {
  reason: 'too_big' | 'refused_by_broker';
  topic: string;
  bytes: number;
  ts: number;
  seq: number | null;
}

export const PUBLISHER_DEFAULTS = {
  replayRatePerS: 50,
  inflight: 20,
  backfillAfterMs: 30_000,
  maxMessageBytes: 256 * 1024,
};

/**
 * A broker that refuses a message over MQTT 3.1.1 can only drop the connection. When that happens
 * within this long after the oldest unacknowledged message was sent, in a session where the broker
 * did take our birth message, the message is suspected; after REFUSALS_TO_REJECT sessions in a row
 * end that way over the same message, it is set aside so the readings behind it can flow.
 */
const REFUSAL_WINDOW_MS = 3000;
const REFUSALS_TO_REJECT = 3;

/** One connection to the broker, from CONNACK to close. */
interface Session {
  birthAcked: boolean;
  /** Outbox id → when it was sent in this session. */
  sent: Map<number, number>;
}

/** Seconds over which the live rate is measured. */
const LIVE_WINDOW_S = 10;

/** Sets `backfill: true` in a telemetry or event body. */
export function markBackfill(body: Buffer): Buffer {
  try {
    const p = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    if (typeof p !== 'object' || p === null || p.backfill === true) return body;
    p.backfill = true;
    return Buffer.from(JSON.stringify(p));
  } catch {
    return body;
  }
}

/** What to do about a TLS failure, in words an installer at the site can act on. */
function tlsHint(e: Error & { code?: string | number }): { hint?: string } {
  const code = typeof e.code === 'string' ? e.code : '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return {
      hint: "the central's certificate does not name the host in mqtt.urls: use a name it holds, or mqtt.tls.servername",
    };
  if (code === 'CERT_HAS_EXPIRED')
    return { hint: "the central's certificate has expired: renew it at the central" };
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code))
    return {
      hint: "the central's certificate is not signed by the CA in mqtt.tls.ca_file: copy the central's ca.crt",
    };
  return {};
}

export class Publisher {
  private client: MqttClient | null = null;
  private readonly retained = new Map<string, Buffer>();
  readonly outbox: Outbox;
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly seenRequests: string[] = [];
  connects = 0;
  /** Outbox ids handed to the MQTT client and not yet acknowledged. */
  private readonly inflight = new Set<number>();
  /** The highest outbox id handed to the MQTT client by this process. */
  private cursor = 0;
  private pumpTimer: NodeJS.Timeout | null = null;
  private pumping = false;
  private stopping = false;
  private readonly rate: number;
  private readonly window: number;
  private readonly backfillAfterMs: number;
  private readonly startedAt = Date.now();
  /** When the broker accepted our connection (CONNACK) again after it had been lost. */
  private reconnectedAt = Number.NEGATIVE_INFINITY;
  private connacks = 0;
  private tokens = 0;
  private refilledAt = performance.now();
  /** Messages written per second over the last LIVE_WINDOW_S seconds, by second. */
  private readonly written = new Array<number>(LIVE_WINDOW_S).fill(0);
  private readonly writtenSecond = new Array<number>(LIVE_WINDOW_S).fill(-1);
  /** Sent, acknowledged and sent as backfill by this process: for tests and the bench. */
  readonly counts = { sent: 0, acked: 0, backfill: 0, resent: 0, rejected: 0 };
  /** Publish callbacks of outbox messages handed to the MQTT client, by outbox id. */
  private readonly callbacks = new Map<number, (err?: Error) => void>();
  private session: Session | null = null;
  /** The message suspected of being refused, and in how many sessions in a row. */
  private suspect: { id: number; sessions: number } | null = null;
  private readonly maxBytes: number;
  private held = false;

  constructor(private readonly o: PublisherOptions) {
    this.outbox = o.outbox ?? new MemoryOutbox();
    this.rate = o.replayRatePerS ?? PUBLISHER_DEFAULTS.replayRatePerS;
    this.window = Math.max(1, o.inflight ?? PUBLISHER_DEFAULTS.inflight);
    this.maxBytes = o.maxMessageBytes ?? PUBLISHER_DEFAULTS.maxMessageBytes;
    this.backfillAfterMs = o.backfillAfterMs ?? PUBLISHER_DEFAULTS.backfillAfterMs;
    this.outbox.onDurable(() => this.pump());
    this.outbox.track?.(this.inflight);
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  private willPayload(): Buffer {
    return encode({ v: 1, state: 'offline', ts: Date.now(), site: this.o.site });
  }

  start(): void {
    // Each reconnection tries the next broker of the list: fail-over across a cluster.
    const servers = mqttServers(this.o.urls);
    const opts: IClientOptions = {
      servers,
      username: this.o.username,
      ...(this.o.password ? { password: this.o.password } : {}),
      ...(this.o.tls ?? {}),
      // mqtt.js insists on a top-level protocol when given a client certificate; each server's own wins.
      ...(this.o.tls?.cert ? { protocol: servers[0]?.protocol } : {}),
      // Never trust an unverified central, whatever the options above hold.
      rejectUnauthorized: true,
      clientId: this.o.clientId,
      keepalive: this.o.keepaliveS,
      // A persistent session under a stable client id: a broker that still has ours keeps the request
      // subscription and the requests sent meanwhile while we are away. One that restarted with
      // sessions in memory (the default central) has forgotten it, hence the subscribe on every
      // connection. Readings never rely on it: unacknowledged messages are sent again from the
      // outbox (takeBackInflight); the central drops duplicates by site and sequence.
      clean: false,
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
      const session: Session = { birthAcked: false, sent: new Map() };
      this.session = session;
      client.publish(
        topics.gatewayState(this.o.site),
        encode(this.o.birth()),
        { qos: 1, retain: true },
        (err) => {
          if (err) return;
          session.birthAcked = true;
          this.pump();
        },
      );
      for (const [topic, body] of this.retained) client.publish(topic, body, { qos: 1, retain: true });
      if (this.handlers.size > 0) client.subscribe(`${topics.siteRoot(this.o.site)}/request/+`, { qos: 1 });
      // The outbox drains once the broker has taken the birth (see judgeSession).
    });
    client.on('packetreceive', (p) => {
      if (p.cmd !== 'connack' || ((p as { returnCode?: number }).returnCode ?? 0) !== 0) return;
      if (this.connacks++ > 0) this.reconnectedAt = Date.now();
    });
    client.on('message', (topic, body) => void this.onRequest(topic, body));
    client.on('close', () => {
      this.o.log.debug('uplink closed');
      this.judgeSession();
      this.takeBackInflight(client);
    });
    client.on('offline', () => this.o.log.warn('central unreachable; keeping readings until it returns'));
    client.on('error', (e) => this.o.log.warn({ err: e.message, ...tlsHint(e) }, 'MQTT error'));
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
      let body = encode({ v: 1, id: req.id, ts: Date.now(), ...r } as ResponsePayload);
      // An answer over the central's packet limit would cost the box its connection: say so instead.
      if (body.length + topics.response(this.o.site, t.op).length + 16 > this.maxBytes)
        body = encode({
          v: 1,
          id: req.id,
          ts: Date.now(),
          ok: false,
          error: {
            code: 'too_big',
            message: `the answer (${body.length} bytes) is over the central's limit`,
          },
        } as ResponsePayload);
      this.client?.publish(topics.response(this.o.site, t.op), body, { qos: 1 });
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

  /** Forgets a retained message here and clears it at the broker (a device removed from the config). */
  clearRetained(topic: string): void {
    if (!this.retained.delete(topic)) return;
    if (this.connected) this.client!.publish(topic, Buffer.alloc(0), { qos: 1, retain: true });
  }

  /** QoS 1 messages go through the outbox: on disk before they are sent, kept until acknowledged. */
  publish(topic: string, payload: Payload, ts: number, qos: 0 | 1 = 1): void {
    const body = encode(payload);
    if (qos === 0) {
      if (this.connected) this.client!.publish(topic, body, { qos: 0 });
      return;
    }
    this.o.beforeWrite?.();
    const seq = (payload as { seq?: unknown }).seq;
    // The fixed header, topic and packet id come on top of the body.
    const bytes = body.length + Buffer.byteLength(topic) + 8;
    if (bytes > this.maxBytes) {
      this.reject({ reason: 'too_big', topic, bytes, ts, seq: typeof seq === 'number' ? seq : null });
      return;
    }
    this.outbox.push({
      topic,
      body,
      ts,
      ...(typeof seq === 'number' ? { seq } : {}),
    });
    this.countWritten();
  }

  private countWritten(): void {
    const sec = Math.floor(performance.now() / 1000);
    const i = sec % LIVE_WINDOW_S;
    if (this.writtenSecond[i] !== sec) {
      this.writtenSecond[i] = sec;
      this.written[i] = 0;
    }
    this.written[i]!++;
  }

  private reject(r: RejectedMessage): void {
    this.counts.rejected++;
    this.o.log.error(
      { reason: r.reason, topic: r.topic, bytes: r.bytes, seq: r.seq, max_bytes: this.maxBytes },
      r.reason === 'too_big'
        ? 'message larger than the central takes: not sent'
        : 'the central keeps refusing this message: set aside so the readings behind it can go',
    );
    this.o.onRejected?.(r);
  }

  /**
   * At the end of a session: did the broker drop us right after the oldest unacknowledged message,
   * once more? Link trouble does not count: the broker must have taken our birth in that session.
   */
  private judgeSession(): void {
    const s = this.session;
    this.session = null;
    if (!s) return;
    let head: number | undefined;
    for (const id of this.inflight) if (head === undefined || id < head) head = id;
    const sentAt = head === undefined ? undefined : s.sent.get(head);
    if (
      !s.birthAcked ||
      head === undefined ||
      sentAt === undefined ||
      Date.now() - sentAt > REFUSAL_WINDOW_MS
    ) {
      this.suspect = null;
      return;
    }
    const sessions = this.suspect?.id === head ? this.suspect.sessions + 1 : 1;
    this.suspect = { id: head, sessions };
    if (sessions < REFUSALS_TO_REJECT) return;
    this.suspect = null;
    const item = this.outbox.next(head - 1, 1)[0];
    if (!item || item.id !== head || !this.outbox.reject) return;
    this.outbox.reject(head);
    this.reject({
      reason: 'refused_by_broker',
      topic: item.topic,
      bytes: item.body.length,
      ts: item.ts,
      seq: item.seq ?? null,
    });
  }

  /**
   * The MQTT client would send its unacknowledged messages again by itself, first thing after the
   * next CONNACK and ahead of our birth; take them back instead and send them from the outbox, so
   * the birth goes first, the resent ones carry `backfill`, and a refused one can be set aside.
   */
  private takeBackInflight(client: MqttClient): void {
    const ours = new Set(this.callbacks.values());
    const outgoing = client.outgoing as Record<string, { cb?: unknown } | undefined>;
    for (const [mid, o] of Object.entries(outgoing))
      if (o && ours.has(o.cb as (err?: Error) => void)) client.removeOutgoingMessage(Number(mid));
  }

  /**
   * Holds the outbox (readings stay on disk, nothing is sent) while the clock is not yet set, so
   * their times can still be corrected; the birth and retained states still go.
   */
  hold(on: boolean): void {
    if (this.held === on) return;
    this.held = on;
    // The retained state says whether readings are held: keep it true.
    this.announce();
    if (!on) this.pump();
  }

  /** Publishes the birth again (retained) when connected: something in it changed. */
  announce(): void {
    if (this.connected)
      this.client!.publish(topics.gatewayState(this.o.site), encode(this.o.birth()), {
        qos: 1,
        retain: true,
      });
  }

  /** The outbox is held back. */
  get holding(): boolean {
    return this.held;
  }

  /** Ids on their way to the broker: their times can no longer be corrected. */
  get inflightIds(): ReadonlySet<number> {
    return this.inflight;
  }

  /** Messages per second written over the last LIVE_WINDOW_S seconds. */
  private liveRate(now: number): number {
    const sec = Math.floor(now / 1000);
    let n = 0;
    for (let i = 0; i < LIVE_WINDOW_S; i++)
      if (this.writtenSecond[i]! > sec - LIVE_WINDOW_S) n += this.written[i]!;
    return n / LIVE_WINDOW_S;
  }

  /** Whole messages the rate allows now (Infinity uncapped); refills the bucket. */
  private allowance(): number {
    if (this.rate <= 0) return Number.POSITIVE_INFINITY;
    const now = performance.now();
    const r = this.rate + this.liveRate(now);
    // A burst of at most one second's worth after a quiet spell.
    this.tokens = Math.min(Math.max(1, r), this.tokens + ((now - this.refilledAt) * r) / 1000);
    this.refilledAt = now;
    return Math.floor(this.tokens);
  }

  /** Milliseconds until the next message may go. */
  private untilToken(): number {
    const r = this.rate + this.liveRate(performance.now());
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / r));
  }

  /**
   * Sends durable messages in order while connected, the window has room and the rate allows. Only
   * what goes out at once is read from the outbox: nothing waits here that the bounds could drop.
   */
  private pump(): void {
    if (
      this.pumping ||
      this.pumpTimer ||
      this.stopping ||
      this.held ||
      !this.connected ||
      !this.session?.birthAcked
    )
      return;
    const client = this.client!;
    this.pumping = true;
    try {
      while (this.inflight.size < this.window && !this.stopping) {
        const allowed = this.allowance();
        if (allowed < 1) {
          this.pumpLater(this.untilToken());
          return;
        }
        const batch = this.outbox.next(this.cursor, Math.min(this.window - this.inflight.size, allowed));
        if (batch.length === 0) return;
        for (const item of batch) {
          if (this.stopping) return;
          this.cursor = Math.max(this.cursor, item.id);
          // Still on its way from before a message failed and the cursor went back: skip it.
          if (this.inflight.has(item.id)) continue;
          if (this.rate > 0) this.tokens -= 1;
          this.send(client, item);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private pumpLater(ms: number): void {
    if (this.pumpTimer) return;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = null;
      this.pump();
    }, ms);
  }

  private send(client: MqttClient, item: StoredOutboxItem): void {
    // Backfill: written by an earlier run, or before a reconnection (it waited through an outage,
    // however short), or first sent more than backfill_after_s after it was written (behind a backlog,
    // or the link was down when the box started).
    const backfill =
      item.enqueuedAt < this.startedAt ||
      item.enqueuedAt < this.reconnectedAt ||
      Date.now() - item.enqueuedAt > this.backfillAfterMs;
    const body = backfill ? markBackfill(item.body) : item.body;
    this.inflight.add(item.id);
    this.session?.sent.set(item.id, Date.now());
    this.counts.sent++;
    if (backfill) this.counts.backfill++;
    // The callback comes with the PUBACK, or with an error when the message did not get through
    // (never left, or taken back at a disconnection): then it goes again, from the outbox.
    const session = this.session;
    const done = (err?: Error) => {
      this.callbacks.delete(item.id);
      this.inflight.delete(item.id);
      // Only unacknowledged messages matter to judgeSession: a long replay must not pile up here.
      session?.sent.delete(item.id);
      if (!err) {
        this.counts.acked++;
        this.outbox.ack(item.id);
        this.pump();
        return;
      }
      if (this.stopping) return;
      this.counts.resent++;
      this.cursor = Math.min(this.cursor, item.id - 1);
      this.o.log.debug({ err: err.message }, 'a message did not get through; sending it again');
      this.pumpLater(1000);
    };
    this.callbacks.set(item.id, done);
    client.publish(item.topic, body, { qos: 1 }, done);
  }

  /**
   * Says goodbye (retained `offline`) and disconnects. A broker that vanished mid-shutdown never
   * acknowledges: each step waits at most `STOP_WAIT_MS`, then the connection is dropped so the
   * daemon exits (systemd would otherwise kill it after its stop timeout).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.pumpTimer = null;
    try {
      await this.disconnect();
    } finally {
      // Acknowledgements that came during the goodbye are written; what is unacknowledged stays.
      this.outbox.close();
    }
  }

  private async disconnect(): Promise<void> {
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
