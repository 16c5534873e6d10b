// Last wills in a cluster. aedes-persistence-redis keeps a will per (broker, client). When a broker
// dies its clients reconnect elsewhere, and a surviving broker would later publish the dead one's
// copy of their wills — "offline", retained — over the "online" they announced since. So a client
// that connects drops its wills held for other brokers: while it is connected it has no will to keep.

import type { Redis } from 'ioredis';

/** aedes-persistence-redis's list of will keys and the key format `will:{brokerId}:{clientId}`. */
const WILLS = 'will';

export async function dropStaleWills(redis: Redis, brokerId: string, clientId: string): Promise<number> {
  const id = encodeURIComponent(clientId);
  const stale = (await redis.lrange(WILLS, 0, -1)).filter((k) => {
    const parts = k.split(':');
    return parts.length === 3 && parts[0] === WILLS && parts[2] === id && parts[1] !== brokerId;
  });
  for (const k of stale) await redis.multi().lrem(WILLS, 0, k).del(k).exec();
  return stale.length;
}
