// One broker at a time judges links and incidents: a lease in Redis, taken with SET NX PX and
// renewed every third of its length. A leader that cannot renew stops judging before its lease can
// have passed to another broker, by its own clock; the others try to take it every third, so a dead
// leader is replaced within about 1⅓ lease lengths.

import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** Renews only our own key (lease or presence); 1 when renewed. */
export const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
/** Gives up only our own key. */
export const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export const LEADER_KEY = 'pantau:leader:engine';

export class LeaderLease {
  /** By our clock, until when the lease is surely ours (taken or renewed at the request's start). */
  private validUntil = 0;
  private leader = false;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;

  constructor(
    private readonly o: {
      redis: Redis;
      id: string;
      leaseMs: number;
      log: Logger;
      key?: string;
      /** Called when this broker becomes leader (true) or stops being it (false). */
      onChange?: (leader: boolean) => void;
    },
  ) {}

  private get key(): string {
    return this.o.key ?? LEADER_KEY;
  }

  /** True while this broker holds the lease. */
  isLeader(): boolean {
    if (this.leader && Date.now() >= this.validUntil) this.set(false, 'lease ran out before renewal');
    return this.leader;
  }

  private set(leader: boolean, why: string): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.o.log.info(
      { broker: this.o.id, leader, why },
      leader ? 'now judging links' : 'no longer judging links',
    );
    this.o.onChange?.(leader);
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    const started = Date.now();
    // Slack for clock rate differences and the request's own travel.
    const until = started + this.o.leaseMs - Math.min(1000, this.o.leaseMs / 10);
    try {
      if (this.leader) {
        const renewed = await this.o.redis.eval(RENEW, 1, this.key, this.o.id, String(this.o.leaseMs));
        if (renewed === 1) this.validUntil = until;
        else this.set(false, 'lease taken by another broker');
      } else {
        const got = await this.o.redis.set(this.key, this.o.id, 'PX', this.o.leaseMs, 'NX');
        if (got === 'OK') {
          this.validUntil = until;
          this.set(true, 'lease taken');
        }
      }
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'leader lease: Redis did not answer');
    } finally {
      this.ticking = false;
      this.isLeader();
    }
  }

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(200, Math.floor(this.o.leaseMs / 3)));
  }

  /** Stops renewing and hands the lease back at once, so another broker need not wait it out. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.leader) {
      this.set(false, 'shutting down');
      await this.o.redis.eval(RELEASE, 1, this.key, this.o.id).catch(() => undefined);
    }
  }
}
