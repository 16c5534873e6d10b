// A broker in a cluster: aedes with its emitter and persistence in Redis (mqemitter-redis,
// aedes-persistence-redis), so sessions, subscriptions, retained messages and offline QoS 1 queues
// are the same whichever broker a client reaches; and the lease that lets one broker judge links.

import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Aedes, AedesOptions, Client } from 'aedes';
import type { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import type { Logger } from 'pino';
import type { ClusterConfig } from './config.js';
import { type Emitter, EmitterProbe } from './emitter-probe.js';
import { LeaderLease } from './leader.js';
import { BrokerPresence } from './presence.js';
import { redisConnection } from './redis.js';
import { dropStaleWills } from './wills.js';

export { type ClusterConfig, ClusterConfigSchema } from './config.js';
export { LEADER_KEY, LeaderLease } from './leader.js';

// The promise-based persistence itself, which aedes 1.x calls directly (the package's main export
// wraps it for callback-style brokers). It ships no types.
const AsyncRedisPersistence = createRequire(import.meta.url)(
  'aedes-persistence-redis/asyncPersistence.js',
) as new (opts: {
  conn: Redis;
}) => RedisPersistence;

interface RedisPersistence {
  setup(broker: unknown): Promise<void>;
  createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown> | Readable;
}

/**
 * aedes 1.x pipes the retained messages a SUBSCRIBE matches (`.pipe`, as from its own in-memory
 * persistence, which returns streams); aedes-persistence-redis 12 returns an async generator.
 */
function redisPersistence(conn: Redis): RedisPersistence {
  const p = new AsyncRedisPersistence({ conn });
  const retained = p.createRetainedStreamCombi.bind(p);
  p.createRetainedStreamCombi = (patterns) => Readable.from(retained(patterns));
  return p;
}

export interface Cluster {
  /** Merged into aedes's options. */
  aedesOptions: Pick<AedesOptions, 'id' | 'mq' | 'persistence' | 'heartbeatInterval'>;
  lease: LeaderLease;
  /** Resolves once Redis answers; rejects with what to check when it does not. */
  ready(): Promise<void>;
  /**
   * True for the will of a client this broker is closing because it connected to another broker
   * since: it is online there, and its "offline" must not land after its new "online".
   */
  staleWill(client: Client): boolean;
  /** Wires a started broker to the cluster: stale wills, Redis errors; `judge`: run for the lease. */
  attach(aedes: Aedes, o: { judge: boolean }): void;
  close(): Promise<void>;
}

export function openCluster(
  c: ClusterConfig,
  log: Logger,
  onLeaderChange?: (leader: boolean) => void,
): Cluster {
  const clog = log.child({ cluster: c.id });
  const commands = redisConnection(c, 'commands', clog);
  const persistenceConn = redisConnection(c, 'persistence', clog);
  const pubConn = redisConnection(c, 'publish', clog);
  const subConn = redisConnection(c, 'subscribe', clog);
  const mq = MQEmitterRedis({
    pubConn,
    subConn,
    // As aedes's own emitter: `a/#` also matches `a` [MQTT-4.7.1-3].
    matchEmptyLevels: true,
  });
  // The emitter re-emits its connections' errors on `state`; unheard, an 'error' event would end
  // the process at the first Redis hiccup. The connections log them already (redis.ts).
  (mq as unknown as { state: EventEmitter }).state.on('error', () => undefined);
  const persistence = redisPersistence(persistenceConn);
  // Client id → when another broker accepted its connection. Registered before aedes's own
  // listener (which closes the client here), so it is known when that close publishes the will.
  const takenOver = new Map<string, number>();
  const connectedAt = new WeakMap<Client, number>();
  mq.on('$SYS/+/new/clients', (packet, done) => {
    if (packet.topic.split('/')[1] !== c.id) {
      const now = Date.now();
      takenOver.set(String(packet.payload), now);
      for (const [id, at] of takenOver) if (now - at > 600_000) takenOver.delete(id);
    }
    done();
  });
  const probe = new EmitterProbe(mq as unknown as Emitter, c.id, clog);
  const presence = new BrokerPresence(commands, c.id, c.heartbeatS * 1000, clog);
  const lease = new LeaderLease({
    redis: commands,
    id: c.id,
    leaseMs: c.leaderLeaseS * 1000,
    log: clog,
    ...(onLeaderChange ? { onChange: onLeaderChange } : {}),
  });
  return {
    aedesOptions: {
      id: c.id,
      mq: mq as unknown as AedesOptions['mq'],
      persistence: persistence as unknown as AedesOptions['persistence'],
      heartbeatInterval: c.heartbeatS * 1000,
    },
    lease,
    async ready() {
      try {
        await commands.ping();
      } catch (e) {
        // The broker will not start: nothing may keep retrying in the background.
        await this.close();
        throw new Error(
          `cluster: Redis at ${c.redisUrl} does not answer (${(e as Error).message}); is redis-server running there, and is cluster.redis_password_file right?`,
        );
      }
      try {
        await presence.claim();
        await probe.roundTrip(10_000);
      } catch (e) {
        await this.close();
        throw e;
      }
    },
    staleWill(client) {
      const at = takenOver.get(client.id);
      return client.closed && at !== undefined && at >= (connectedAt.get(client) ?? Number.POSITIVE_INFINITY);
    },
    attach(aedes, o) {
      // Without a listener an emitter 'error' would end the process; a Redis hiccup must not.
      (aedes as unknown as EventEmitter).on('error', (e: Error) =>
        clog.error({ err: e.message }, 'broker error (cluster)'),
      );
      aedes.on('client', (client) => {
        connectedAt.set(client, Date.now());
        dropStaleWills(commands, c.id, client.id).then(
          (n) => {
            if (n > 0) clog.info({ client: client.id, wills: n }, 'dropped its wills held for other brokers');
          },
          (e: Error) => clog.warn({ client: client.id, err: e.message }, 'could not check for stale wills'),
        );
      });
      probe.start(c.heartbeatS * 1000);
      if (o.judge) lease.start();
    },
    async close() {
      probe.stop();
      await lease.stop();
      await presence.release();
      // aedes has closed the emitter (QUIT) if it ran; this also covers a broker that never started.
      for (const r of [commands, persistenceConn, pubConn, subConn]) r.disconnect();
    },
  };
}
