// central.yaml: what the broker listens on (or which existing broker the ingest reads from), where
// accounts and readings live.

import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { LogLevelSchema, loadConfig, pathFrom, readSecretFile, type SemanticIssue } from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';

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
    /**
     * A broker the site already runs (Mosquitto): Pantau does not listen, the ingest reads from it as
     * an MQTT client with its own account; `mqtt` above is then unused.
     */
    external_broker: Type.Optional(
      Type.Object(
        {
          urls: Type.Array(Type.String({ format: 'mqtt-url' }), { minItems: 1 }),
          username: Type.String({ minLength: 1 }),
          password_file: Type.String({ minLength: 1 }),
          /** PEM CA for mqtts:// URLs whose certificate is from the site's own CA. */
          ca_file: Type.Optional(Type.String({ minLength: 1 })),
          /** Stable, so the broker keeps the session (and queues readings) while the ingest is away. */
          client_id: Type.String({ minLength: 1, maxLength: 64, default: 'pantau-ingest' }),
          /** Several ingest processes split the load through `$share/{group}/…`; each needs its own client_id. */
          share_group: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
          keepalive_s: Type.Integer({ minimum: 5, maximum: 3600, default: 30 }),
        },
        { additionalProperties: false },
      ),
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
    log_level: LogLevelSchema,
  },
  { additionalProperties: false },
);

export type BrokerConfig = Static<typeof BrokerConfigSchema> & {
  /** external_broker.password_file, read at load time. */
  externalPassword?: string;
};

/** Loads central.yaml; relative paths resolve against the file's folder. */
export function loadBrokerConfig(file: string): BrokerConfig {
  const abs = (p: string) => pathFrom(file, p);
  // Unreadable secret files are config errors at their line, not a crash at the first connection.
  const unreadable = (p: string): string | null => {
    try {
      accessSync(abs(p), constants.R_OK);
      return null;
    } catch (e) {
      return `cannot read ${abs(p)}: ${(e as NodeJS.ErrnoException).code}`;
    }
  };
  const cfg = loadConfig(file, BrokerConfigSchema, {
    check: (c) => {
      const issues: SemanticIssue[] = [];
      const e = c.external_broker;
      for (const key of ['password_file', 'ca_file'] as const) {
        const why = e?.[key] ? unreadable(e[key]) : null;
        if (why) issues.push({ path: ['external_broker', key], message: why });
      }
      // Split ingest sees only its share of the readings; judging a link needs both of its ends.
      if (e?.share_group && c.backbone)
        issues.push({
          path: ['external_broker', 'share_group'],
          message: 'cannot be used with backbone: the link judgement needs every reading in one process',
        });
      return issues;
    },
  });
  const ext = cfg.external_broker;
  return {
    ...cfg,
    ...(ext
      ? {
          external_broker: { ...ext, ...(ext.ca_file ? { ca_file: abs(ext.ca_file) } : {}) },
          externalPassword: readSecretFile(file, 'external_broker.password_file', ext.password_file),
        }
      : {}),
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
