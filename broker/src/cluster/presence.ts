// Each broker's id must be its own: aedes keys wills by it, and the judging lease is renewed by
// whoever presents it, so two brokers with one id would both judge links. A broker claims
// `pantau:broker:{id}` while it runs (renewed every heartbeat, expiring after three) and refuses
// to start when another holds it — typically a central.yaml copied to a second broker unchanged.

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RELEASE } from './leader.js';

/** Keeps our claim, and takes it again if Redis lost it (a restart without persistence). */
const KEEP = `local v = redis.call('get', KEYS[1])
if v == ARGV[1] or not v then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;

export class BrokerPresence {
  private readonly key: string;
  private readonly token = randomUUID();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly id: string,
    private readonly heartbeatMs: number,
    private readonly log: Logger,
  ) {
    this.key = `pantau:broker:${id}`;
  }

  private get ttlMs(): number {
    return 3 * this.heartbeatMs;
  }

  /** Claims the id; throws, naming the field to change, when another broker holds it. */
  async claim(): Promise<void> {
    const got = await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX');
    if (got !== 'OK')
      throw new Error(
        `cluster: another broker runs with cluster.id "${this.id}" (or one stopped less than ${this.ttlMs / 1000} s ago): give each broker its own cluster.id`,
      );
    this.timer = setInterval(() => {
      this.redis.eval(KEEP, 1, this.key, this.token, String(this.ttlMs)).then(
        (kept) => {
          if (kept !== 1)
            this.log.error({ id: this.id }, 'another broker runs with this cluster.id: give each its own');
        },
        () => undefined, // Redis away: logged by the connection
      );
    }, this.heartbeatMs);
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.redis.eval(RELEASE, 1, this.key, this.token).catch(() => undefined);
  }
}
