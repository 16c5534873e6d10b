// The round trip through Redis that a cluster broker makes before it listens: it comes back when the
// emitter's two connections reach the same Redis, and fails, saying so, when they do not (here: the
// subscriber on another redis-server, so what is published never reaches it).

import { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/procs.js';
import { startRedis, type TestRedis } from '../../../test/support/redis.js';
import { type Emitter, EmitterProbe } from './emitter-probe.js';

describe('emitter probe (real redis-server)', () => {
  const dir = tempDir('emitter-probe');
  const password = 'probe-test-secret-1';
  let one: TestRedis;
  let other: TestRedis;
  beforeAll(async () => {
    one = await startRedis({ dir: dir.path, password });
    other = await startRedis({ dir: dir.path, password });
  });
  afterAll(async () => {
    await one?.stop();
    await other?.stop();
    dir.remove();
  });

  const emitter = (pub: TestRedis, sub: TestRedis) =>
    MQEmitterRedis({
      pubConn: new Redis(pub.url, { password }),
      subConn: new Redis(sub.url, { password }),
    });
  const closed = (mq: ReturnType<typeof MQEmitterRedis>) => new Promise<void>((r) => mq.close(() => r()));

  it('comes back through one Redis, and keeps checking quietly', async () => {
    const mq = emitter(one, one);
    const probe = new EmitterProbe(mq as unknown as Emitter, 'probe-a', pino({ level: 'silent' }));
    await expect(probe.roundTrip(5000)).resolves.toBeUndefined();
    probe.start(200);
    await new Promise((r) => setTimeout(r, 1000));
    expect(probe.failures).toBe(0);
    probe.stop();
    await closed(mq);
  });

  it('says so when what is published does not come back', async () => {
    const mq = emitter(one, other);
    const probe = new EmitterProbe(mq as unknown as Emitter, 'probe-b', pino({ level: 'silent' }));
    await expect(probe.roundTrip(1500)).rejects.toThrow(/did not come back within 1500 ms/);
    probe.stop();
    await closed(mq);
  });
});
