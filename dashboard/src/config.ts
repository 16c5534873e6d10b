// dashboard.yaml: where the dashboard listens, which broker and store it reads, who may log in.

import { dirname, join } from 'node:path';
import { LogLevelSchema, loadConfig, pathFrom, readSecretFile } from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';

export const DashboardConfigSchema = Type.Object(
  {
    http: Type.Object(
      {
        host: Type.String({ format: 'host', default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
        secure_cookies: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
    mqtt: Type.Object(
      {
        url: Type.Optional(Type.String({ format: 'mqtt-url' })),
        /** Brokers of a cluster (docs/cluster.md), tried in turn; instead of `url`. */
        urls: Type.Optional(Type.Array(Type.String({ format: 'mqtt-url' }), { minItems: 1 })),
        username: Type.String({ minLength: 1 }),
        password: Type.Optional(Type.String({ minLength: 1 })),
        password_file: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    store: Type.Object(
      { kind: Type.Literal('sqlite', { default: 'sqlite' }), path: Type.String({ minLength: 1 }) },
      { additionalProperties: false },
    ),
    users_file: Type.String({ minLength: 1 }),
    /** The same backbone description the broker judges links by, and its state database. */
    backbone: Type.Optional(
      Type.Object(
        { file: Type.String({ minLength: 1 }), state_path: Type.Optional(Type.String({ minLength: 1 })) },
        { additionalProperties: false },
      ),
    ),
    language: Type.Union([Type.Literal('id'), Type.Literal('en')], { default: 'id' }),
    timezone: Type.String({ minLength: 1, default: 'Asia/Makassar' }),
    log_level: LogLevelSchema,
  },
  { additionalProperties: false },
);

export type DashboardConfig = Omit<Static<typeof DashboardConfigSchema>, 'backbone'> & {
  mqttPassword: string;
  backbone?: { file: string; state_path: string };
};

export function loadDashboardConfig(file: string): DashboardConfig {
  const cfg = loadConfig(file, DashboardConfigSchema, {
    check: (c) => {
      const issues = [];
      if ((c.mqtt.url === undefined) === (c.mqtt.urls === undefined))
        issues.push({ path: ['mqtt'], message: 'needs url (one broker) or urls (a cluster), not both' });
      if (!c.mqtt.password && !c.mqtt.password_file)
        issues.push({ path: ['mqtt'], message: 'needs password_file (or password)' });
      try {
        new Intl.DateTimeFormat('en', { timeZone: c.timezone });
      } catch {
        issues.push({
          path: ['timezone'],
          message: `unknown time zone "${c.timezone}" (e.g. Asia/Makassar for WITA, Asia/Jakarta for WIB)`,
        });
      }
      return issues;
    },
  });
  const abs = (p: string) => pathFrom(file, p);
  const mqttPassword = cfg.mqtt.password_file
    ? readSecretFile(file, 'mqtt.password_file', cfg.mqtt.password_file)
    : (cfg.mqtt.password ?? '');
  const { backbone: _bb, ...rest } = cfg;
  return {
    ...rest,
    store: { ...cfg.store, path: abs(cfg.store.path) },
    users_file: abs(cfg.users_file),
    ...(cfg.backbone
      ? {
          backbone: {
            file: abs(cfg.backbone.file),
            state_path: abs(cfg.backbone.state_path ?? join(dirname(cfg.store.path), 'central.db')),
          },
        }
      : {}),
    mqttPassword,
  };
}
