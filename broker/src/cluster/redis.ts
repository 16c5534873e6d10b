// Connections to the cluster's Redis: one for commands, one for the shared emitter's publishes, one
// for its subscriptions (a subscribed Redis connection can do nothing else).

import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ClusterConfig } from './config.js';

/** Redis errors repeat every reconnect attempt; one line per this many milliseconds is enough. */
const ERROR_LOG_EVERY_MS = 10_000;

export function redisConnection(c: ClusterConfig, role: string, log: Logger): Redis {
  const r = new Redis(c.redisUrl, {
    ...(c.redisUsername ? { username: c.redisUsername } : {}),
    ...(c.redisPassword ? { password: c.redisPassword } : {}),
    connectionName: `pantau-${c.id}-${role}`,
    // Keep trying while Redis restarts; commands meanwhile wait a little, then fail (aedes refuses
    // connections it cannot keep a session for, and site boxes keep their readings and retry).
    retryStrategy: (times) => Math.min(200 * times, 2000),
  });
  let lastLogged = 0;
  r.on('error', (e: Error) => {
    if (Date.now() - lastLogged < ERROR_LOG_EVERY_MS) return;
    lastLogged = Date.now();
    log.error({ redis: c.redisUrl, role, err: e.message }, 'Redis unreachable');
  });
  return r;
}
