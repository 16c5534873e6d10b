// central.yaml `cluster:` — two or more brokers sharing sessions, subscriptions, retained messages
// and offline queues through one Redis, and taking turns at judging links.

import { hostname } from 'node:os';
import { readSecretFile, type SemanticIssue } from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';

export const ClusterConfigSchema = Type.Object(
  {
    /** redis://host:port/db (rediss:// for TLS). The password goes in redis_password_file, never here. */
    redis_url: Type.String({ minLength: 1 }),
    redis_username: Type.Optional(Type.String({ minLength: 1 })),
    redis_password_file: Type.Optional(Type.String({ minLength: 1 })),
    /** This broker's name in the cluster (logs, the leader lease); default host name and process id. */
    id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' })),
    /**
     * How often each broker says it is alive. Last wills of a dead broker's clients are published
     * by a surviving broker 3 to 7 heartbeats after it died.
     */
    heartbeat_s: Type.Integer({ minimum: 1, maximum: 300, default: 10 }),
    /** How long the link-judging leader's lease lasts unless renewed (renewed every third of it). */
    leader_lease_s: Type.Integer({ minimum: 3, maximum: 600, default: 15 }),
  },
  { additionalProperties: false },
);

export type ClusterSection = Static<typeof ClusterConfigSchema>;

export interface ClusterConfig {
  redisUrl: string;
  redisUsername?: string;
  redisPassword?: string;
  id: string;
  heartbeatS: number;
  leaderLeaseS: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Checks a schema cannot express: a URL Redis understands, and no anonymous Redis off this machine. */
export function checkCluster(c: ClusterSection): SemanticIssue[] {
  let url: URL;
  try {
    url = new URL(c.redis_url);
  } catch {
    return [{ path: ['cluster', 'redis_url'], message: 'must be a URL like redis://10.0.0.5:6379/0' }];
  }
  const issues: SemanticIssue[] = [];
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    issues.push({ path: ['cluster', 'redis_url'], message: 'must start with redis:// or rediss://' });
  if (url.password)
    issues.push({
      path: ['cluster', 'redis_url'],
      message: 'must not hold the password: put it in a file named by cluster.redis_password_file',
    });
  if (!LOOPBACK.has(url.hostname) && !c.redis_password_file)
    issues.push({
      path: ['cluster', 'redis_password_file'],
      message: `is required: Redis at ${url.hostname} is not on this machine, and an open Redis hands out every session`,
    });
  return issues;
}

export function resolveCluster(configFile: string, c: ClusterSection): ClusterConfig {
  return {
    redisUrl: c.redis_url,
    ...(c.redis_username ? { redisUsername: c.redis_username } : {}),
    ...(c.redis_password_file
      ? {
          redisPassword: readSecretFile(configFile, 'cluster.redis_password_file', c.redis_password_file),
        }
      : {}),
    id: c.id ?? `${hostname()}-${process.pid}`,
    heartbeatS: c.heartbeat_s,
    leaderLeaseS: c.leader_lease_s,
  };
}
