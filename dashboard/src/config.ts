// dashboard.yaml: where the dashboard listens, which broker and store it reads, who may log in.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, loadConfig } from '@pantau/config';
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
        url: Type.String({ format: 'mqtt-url' }),
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
    language: Type.Union([Type.Literal('id'), Type.Literal('en')], { default: 'id' }),
    timezone: Type.String({ minLength: 1, default: 'Asia/Makassar' }),
    log_level: Type.Union(
      [
        Type.Literal('fatal'),
        Type.Literal('error'),
        Type.Literal('warn'),
        Type.Literal('info'),
        Type.Literal('debug'),
        Type.Literal('trace'),
      ],
      {
        default: 'info',
      },
    ),
  },
  { additionalProperties: false },
);

export type DashboardConfig = Static<typeof DashboardConfigSchema> & { mqttPassword: string };

export function loadDashboardConfig(file: string): DashboardConfig {
  const cfg = loadConfig(file, DashboardConfigSchema, {
    check: (c) => {
      const issues = [];
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
  const base = dirname(resolve(file));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  let mqttPassword = cfg.mqtt.password ?? '';
  if (cfg.mqtt.password_file) {
    try {
      mqttPassword = readFileSync(abs(cfg.mqtt.password_file), 'utf8').trim();
    } catch (e) {
      throw new ConfigError(file, [
        {
          file,
          line: 0,
          column: 0,
          field: 'mqtt.password_file',
          message: `cannot read ${abs(cfg.mqtt.password_file)}: ${(e as NodeJS.ErrnoException).code}`,
        },
      ]);
    }
  }
  return {
    ...cfg,
    store: { ...cfg.store, path: abs(cfg.store.path) },
    users_file: abs(cfg.users_file),
    mqttPassword,
  };
}
