// The judging lease against a real redis-server: never two leaders, a dead leader replaced, a
// stopped one handing over at once.

import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../../../test/support/procs.js';
import { startRedis, type TestRedis } from '../../../test/support/redis.js';
import { LeaderLease } from './leader.js';

const LEASE_MS = 900;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('leader lease (real redis-server)', () => {
  const dir = tempDir('lease');
  let redis: TestRedis;
  const conns: Redis[] = [];
  const conn = () => {
    const r = new Redis(redis.url, { password: redis.password, maxRetriesPerRequest: 1 });
    r.on('error', () => undefined);
    conns.push(r);
    return r;
  };
  beforeAll(async () => {
    redis = await startRedis({ dir: dir.path, password: 'lease-test-secret-1' });
  });
  afterAll(async () => {
    for (const c of conns) c.disconnect();
    await redis?.stop();
    dir.remove();
  });

  it('one leader at a time; a dead one is replaced after its lease, a stopped one at once', async () => {
    const log = pino({ level: 'silent' });
    const changes: string[] = [];
    const make = (id: string, r: Redis) =>
      new LeaderLease({ redis: r, id, leaseMs: LEASE_MS, log, onChange: (l) => changes.push(`${id}:${l}`) });
    const rA = conn();
    const a = make('a', rA);
    a.start();
    await waitFor('a leads', () => a.isLeader(), 3000, 10);
    const b = make('b', conn());
    b.start();
    let both = 0;
    const watch = setInterval(() => {
      if (a.isLeader() && b.isLeader()) both++;
    }, 5);
    try {
      await sleep(3 * LEASE_MS);
      expect(a.isLeader()).toBe(true);
      expect(b.isLeader()).toBe(false);
      // a's broker dies: its Redis connection is gone, no renewal reaches Redis again.
      rA.disconnect();
      const diedAt = Date.now();
      await waitFor('b leads', () => b.isLeader(), 4 * LEASE_MS, 5);
      const took = Date.now() - diedAt;
      expect(took).toBeLessThan((4 / 3) * LEASE_MS + 500);
      expect(a.isLeader()).toBe(false);
      // b stops cleanly: a third broker gets the lease at its first try, without waiting it out.
      const c = make('c', conn());
      await b.stop();
      const stoppedAt = Date.now();
      c.start();
      await waitFor('c leads', () => c.isLeader(), LEASE_MS, 5);
      expect(Date.now() - stoppedAt).toBeLessThan(LEASE_MS / 2);
      await c.stop();
      await a.stop();
    } finally {
      clearInterval(watch);
    }
    expect(both, 'two leaders at once').toBe(0);
    expect(changes).toEqual(['a:true', 'a:false', 'b:true', 'b:false', 'c:true', 'c:false']);
  }, 30_000);
});
