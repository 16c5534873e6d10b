import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@pantau/config';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/procs.js';
import { loadBrokerConfig } from '../config.js';

const BASE = 'credentials_file: c.yaml\nstore: { kind: sqlite, path: c.db }\n';

describe('central.yaml cluster section', () => {
  const dir = tempDir('cluster-cfg');
  afterAll(() => dir.remove());
  const load = (text: string) => {
    const f = join(dir.path, 'central.yaml');
    writeFileSync(f, BASE + text);
    return loadBrokerConfig(f);
  };
  const issues = (text: string): string[] => {
    try {
      load(text);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).issues.map((i) => `${i.line}:${i.field}: ${i.message}`);
    }
    return expect.unreachable('accepted');
  };

  it('reads the Redis password from its file and names the broker', () => {
    writeFileSync(join(dir.path, 'redis.pw'), 's3cret-redis\n');
    const cfg = load('cluster:\n  redis_url: redis://10.0.0.5:6379/1\n  redis_password_file: redis.pw\n');
    expect(cfg.cluster).toMatchObject({
      redisUrl: 'redis://10.0.0.5:6379/1',
      redisPassword: 's3cret-redis',
      heartbeatS: 10,
      leaderLeaseS: 15,
    });
    expect(cfg.cluster!.id).toMatch(/-\d+$/);
    expect(load('').cluster).toBeUndefined();
  });

  it('refuses an anonymous Redis on another machine, a password in the URL, and other schemes', () => {
    expect(issues('cluster:\n  redis_url: redis://10.0.0.5:6379\n')).toEqual([
      '4:cluster.redis_password_file: is required: Redis at 10.0.0.5 is not on this machine, and an open Redis hands out every session',
    ]);
    expect(issues('cluster:\n  redis_url: "redis://:pw@127.0.0.1:6379"\n')).toEqual([
      '4:cluster.redis_url: must not hold the password: put it in a file named by cluster.redis_password_file',
    ]);
    expect(issues('cluster:\n  redis_url: http://127.0.0.1:6379\n')).toEqual([
      '4:cluster.redis_url: must start with redis:// or rediss://',
    ]);
    expect(issues('cluster:\n  redis_url: redis://127.0.0.1\n  leader_lease_s: 1\n')).toEqual([
      '5:cluster.leader_lease_s: must be >= 3',
    ]);
  });

  it('names the password file field when the file is missing', () => {
    expect(issues('cluster:\n  redis_url: redis://127.0.0.1\n  redis_password_file: nope.pw\n')).toEqual([
      expect.stringMatching(/^0:cluster.redis_password_file: cannot read .*nope.pw: ENOENT$/),
    ]);
  });
});
