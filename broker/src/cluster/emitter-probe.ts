// In a cluster every message, even one between two clients of the same broker, goes out through
// Redis and comes back on the emitter's subscriber connection. A broker whose subscriber connection is
// not (yet, or no longer) subscribed still accepts connections and publishes, but delivers nothing:
// requests to its site boxes and "this client connected elsewhere" notices vanish without an error.
// So the broker sends itself a message through Redis before it listens, and every heartbeat after.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';

interface Packet {
  topic: string;
  payload: unknown;
}

/** The part of mqemitter this needs. */
export interface Emitter {
  on(topic: string, listener: (packet: Packet, done: () => void) => void, done?: () => void): unknown;
  emit(packet: Packet, done?: (err?: Error) => void): unknown;
}

export class EmitterProbe {
  private readonly topic: string;
  private readonly waiting = new Map<string, () => void>();
  private subscribed: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failing = false;
  /** Round trips that did not come back in time, since start. */
  failures = 0;

  constructor(
    private readonly mq: Emitter,
    id: string,
    private readonly log: Logger,
  ) {
    this.topic = `$SYS/${id}/cluster/probe`;
  }

  private readonly listener = (packet: Packet, done: () => void): void => {
    this.waiting.get(String(packet.payload))?.();
    done();
  };

  /** Resolves once a message sent now has come back through Redis; rejects after `timeoutMs`. */
  roundTrip(timeoutMs: number): Promise<void> {
    // Resolves once Redis confirmed the subscription (mqemitter-redis calls back after SUBSCRIBE).
    this.subscribed ??= new Promise<void>((r) => this.mq.on(this.topic, this.listener, r));
    const nonce = randomUUID();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(nonce);
        reject(
          new Error(
            `cluster: a message sent through Redis did not come back within ${timeoutMs} ms (publish or subscribe connection not working)`,
          ),
        );
      }, timeoutMs);
      this.waiting.set(nonce, () => {
        clearTimeout(timer);
        this.waiting.delete(nonce);
        resolve();
      });
      this.subscribed!.then(() =>
        this.mq.emit({ topic: this.topic, payload: nonce }, (err) => {
          if (!err) return;
          clearTimeout(timer);
          this.waiting.delete(nonce);
          reject(err);
        }),
      );
    });
  }

  /** Checks every `everyMs`; logs when delivery through Redis stops, and when it is back. */
  start(everyMs: number): void {
    this.timer = setInterval(() => {
      this.roundTrip(Math.max(everyMs * 2, 2000)).then(
        () => {
          if (!this.failing) return;
          this.failing = false;
          this.log.warn('messages through Redis are delivered again');
        },
        (e: Error) => {
          this.failures++;
          if (this.failing) return;
          this.failing = true;
          this.log.error({ err: e.message }, 'messages through Redis are not delivered');
        },
      );
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // The emitter closes with the broker; its subscription goes with it.
    for (const done of this.waiting.values()) done();
  }
}
