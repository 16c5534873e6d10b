// A broker pointed at a Redis that refuses it, or started with another broker's id, says what to
// check, at once.

import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/procs.js';
import { startRedis, type TestRedis } from '../../../test/support/redis.js';
import { openCluster } from './index.js';

describe('cluster start (real redis-server)', () => {
  const dir = tempDir('cluster-ready');
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis({ dir: dir.path, password: 'ready-test-secret-1' });
  });
  afterAll(async () => {
    await redis?.stop();
    dir.remove();
  });

  const cfg = (password: string, id = 'ready-test') => ({
    redisUrl: redis.url,
    redisPassword: password,
    id,
    heartbeatS: 1,
    leaderLeaseS: 3,
  });

  it('answers with the right password, and names the password file for a wrong one', async () => {
    const log = pino({ level: 'silent' });
    const good = openCluster(cfg('ready-test-secret-1'), log);
    await expect(good.ready()).resolves.toBeUndefined();
    await good.close();
    const bad = openCluster(cfg('not-the-password'), log);
    const t0 = Date.now();
    await expect(bad.ready()).rejects.toThrow(/WRONGPASS.*cluster\.redis_password_file/);
    expect(Date.now() - t0).toBeLessThan(5000);
    await bad.close();
  });

  it('refuses a second broker with the same id, and lets it start once the first has stopped', async () => {
    const log = pino({ level: 'silent' });
    const first = openCluster(cfg('ready-test-secret-1', 'twin'), log);
    await first.ready();
    const second = openCluster(cfg('ready-test-secret-1', 'twin'), log);
    await expect(second.ready()).rejects.toThrow(/another broker runs with cluster.id "twin"/);
    const other = openCluster(cfg('ready-test-secret-1', 'not-a-twin'), log);
    await expect(other.ready()).resolves.toBeUndefined();
    await first.close();
    const again = openCluster(cfg('ready-test-secret-1', 'twin'), log);
    await expect(again.ready()).resolves.toBeUndefined();
    await Promise.all([other.close(), again.close()]);
  });
});
