// central.yaml: what the broker listens on, where accounts and readings live.

import { dirname, join } from 'node:path';
import { LogLevelSchema, loadConfig, pathFrom } from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';
import { type ClusterConfig, ClusterConfigSchema, checkCluster, resolveCluster } from './cluster/config.js';

export const BrokerConfigSchema = Type.Object(
  {
    mqtt: Type.Object(
      {
        host: Type.String({ format: 'host', default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883 }),
        ws_port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
        max_packet_bytes: Type.Integer({ minimum: 1024, maximum: 268435455, default: 262144 }),
      },
      { additionalProperties: false, default: {} },
    ),
    credentials_file: Type.String({ minLength: 1 }),
    store: Type.Object(
      { kind: Type.Literal('sqlite', { default: 'sqlite' }), path: Type.String({ minLength: 1 }) },
      { additionalProperties: false },
    ),
    /** The backbone description and the central's own judgement of links and incidents. */
    backbone: Type.Optional(
      Type.Object(
        {
          file: Type.String({ minLength: 1 }),
          /** Baselines, link verdicts and incidents; default central.db beside the store. */
          state_path: Type.Optional(Type.String({ minLength: 1 })),
          evaluate_every_s: Type.Number({ minimum: 1, maximum: 3600, default: 30 }),
        },
        { additionalProperties: false },
      ),
    ),
    /** Two or more brokers behind one Redis (docs/cluster.md); absent: one broker, all in memory. */
    cluster: Type.Optional(ClusterConfigSchema),
    log_level: LogLevelSchema,
  },
  { additionalProperties: false },
);

export type BrokerConfig = Omit<Static<typeof BrokerConfigSchema>, 'cluster'> & { cluster?: ClusterConfig };

/** Loads central.yaml; relative paths resolve against the file's folder. */
export function loadBrokerConfig(file: string): BrokerConfig {
  const { cluster, ...cfg } = loadConfig(file, BrokerConfigSchema, {
    check: (c) => (c.cluster ? checkCluster(c.cluster) : []),
  });
  const abs = (p: string) => pathFrom(file, p);
  return {
    ...cfg,
    ...(cluster ? { cluster: resolveCluster(file, cluster) } : {}),
    credentials_file: abs(cfg.credentials_file),
    store: { ...cfg.store, path: abs(cfg.store.path) },
    ...(cfg.backbone
      ? {
          backbone: {
            ...cfg.backbone,
            file: abs(cfg.backbone.file),
            state_path: abs(cfg.backbone.state_path ?? join(dirname(cfg.store.path), 'central.db')),
          },
        }
      : {}),
  };
}
