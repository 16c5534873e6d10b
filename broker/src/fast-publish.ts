// aedes.publish for the telemetry the fast lane stored: QoS 1, not retained, a site box's telemetry
// topic. aedes runs each message through four steps (storeRetained, enqueueOffline, emitPacket,
// callPublished) with a state object, a runner and two promises; for a message known to be neither
// retained nor $SYS, that pipeline (with the lookup of persistent subscriptions for every message)
// was most of aedes's own share of the event loop at saturation (CPU profile of the broker bench).
// The steps stay aedes's and in its order: persistent sessions' queues, the emitter (which
// delivers, and in a cluster carries the message to the other brokers), the `published` hook and
// the 'publish' event.

import type { Aedes, Client, PublishPacket } from 'aedes';

/** A persistent session's subscription, as aedes-persistence's subscriptionsByTopic answers. */
type OfflineSubscription = { clientId: string; topic: string; qos: number };

/** What aedes 1.x keeps that its publish pipeline reads (aedes.js, aedes-packet). */
interface AedesPublishState {
  id: string;
  counter: number;
  mq: { emit(packet: object, done: (err?: Error | null) => void): void };
  persistence: {
    subscriptionsByTopic(topic: string): Promise<OfflineSubscription[]>;
    outgoingEnqueueCombi(subs: OfflineSubscription[], packet: object): Promise<void>;
  };
  published(packet: PublishPacket, client: Client, done: (err?: Error | null) => void): void;
  emit(event: 'publish', packet: PublishPacket, client: Client): boolean;
}

/** Persistence methods that change which sessions a topic reaches (aedes-persistence 11). */
const CHANGES_SUBSCRIPTIONS = ['addSubscriptions', 'removeSubscriptions', 'cleanSubscriptions'] as const;

/** The most topics whose persistent subscriptions are remembered before the memory starts afresh. */
const TOPICS_KEPT = 8192;

export class StoredPublisher {
  private readonly broker: AedesPublishState;
  /** Per topic, the persistent sessions it reaches; null where they are not remembered (a cluster). */
  private readonly offline: Map<string, OfflineSubscription[]> | null;
  /** Counts the changes: a lookup begun before one is not remembered. */
  private changes = 0;

  /**
   * `rememberSubscriptions`: only where this broker's own calls are the only way its persistence's
   * subscriptions change (aedes's in-memory persistence, no cluster): they are forgotten on each.
   */
  constructor(aedes: Aedes, rememberSubscriptions: boolean) {
    this.broker = aedes as unknown as AedesPublishState;
    rememberMatches(aedes);
    this.offline = rememberSubscriptions ? new Map() : null;
    if (!this.offline) return;
    const persistence = this.broker.persistence as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const name of CHANGES_SUBSCRIPTIONS) {
      const original = persistence[name]!.bind(persistence);
      persistence[name] = (...args: unknown[]) => {
        this.changes++;
        this.offline!.clear();
        return original(...args);
      };
    }
  }

  /** As aedes.publish(packet, client, done) for such a message. */
  publish(packet: PublishPacket, client: Client, done: (err?: Error | null) => void): void {
    const b = this.broker;
    // aedes-packet's Packet as aedes.publish makes it: its broker id and counter are what each
    // subscriber's dedupe compares.
    const p = {
      cmd: 'publish',
      brokerId: b.id,
      brokerCounter: ++b.counter,
      topic: packet.topic,
      payload: packet.payload,
      qos: 1,
      retain: false,
      dup: false,
      messageId: undefined,
      clientId: undefined as string | undefined,
    };
    const emit = () => {
      p.clientId = client.id;
      b.mq.emit(p, (err) => {
        if (err) return done(err);
        b.published(packet, client, done);
        b.emit('publish', packet, client);
      });
    };
    const enqueue = (subs: OfflineSubscription[]) => {
      // Persistent sessions' queues, before delivery, as aedes's enqueueOffline (a telemetry topic
      // is never $SYS, so none of its filtering applies).
      if (subs.length === 0) emit();
      else b.persistence.outgoingEnqueueCombi(subs, p).then(emit, done);
    };
    const known = this.offline?.get(packet.topic);
    if (known) {
      enqueue(known);
      return;
    }
    const changes = this.changes;
    b.persistence.subscriptionsByTopic(packet.topic).then((subs) => {
      if (this.offline && changes === this.changes) {
        if (this.offline.size >= TOPICS_KEPT) this.offline.clear();
        this.offline.set(packet.topic, subs);
      }
      enqueue(subs);
    }, done);
  }
}

/** mqemitter's matcher (a Qlobber): its subscribers of a topic, and what changes them. */
interface Matcher {
  match(topic: string, ...rest: unknown[]): unknown[];
  add(...args: unknown[]): unknown;
  remove(...args: unknown[]): unknown;
  clear(...args: unknown[]): unknown;
}

/**
 * The emitter's subscribers of each topic, remembered until a subscription changes: matching the
 * topic's words against every subscription was done again for every message (a twentieth of the
 * event loop at saturation, CPU profile). The matcher is this process's own in a cluster too
 * (mqemitter-redis carries messages, not subscriptions). The answer is shared: mqemitter only reads it.
 */
function rememberMatches(aedes: Aedes): void {
  const m = (aedes as unknown as { mq: { _matcher?: Matcher } }).mq._matcher;
  if (!m || typeof m.match !== 'function') return;
  const kept = new Map<string, unknown[]>();
  const match = m.match.bind(m);
  m.match = (topic: string, ...rest: unknown[]) => {
    if (rest.length > 0) return match(topic, ...rest);
    let found = kept.get(topic);
    if (found === undefined) {
      found = match(topic);
      if (kept.size >= TOPICS_KEPT) kept.clear();
      kept.set(topic, found);
    }
    return found;
  };
  for (const name of ['add', 'remove', 'clear'] as const) {
    const change = m[name].bind(m);
    m[name] = (...args: unknown[]) => {
      kept.clear();
      return change(...args);
    };
  }
}
