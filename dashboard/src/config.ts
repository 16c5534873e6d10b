// dashboard.yaml: where the dashboard listens, which broker and store it reads, who may log in.

import { dirname, join } from 'node:path';
import { defaultStatePath } from '@pantau/broker/backbone';
import {
  resolveStoreConfig,
  type StoreConfig,
  StoreConfigSchema,
  storeConfigIssues,
} from '@pantau/broker/store';
import {
  CONFIG_KINDS,
  LogLevelSchema,
  loadConfig,
  metricsSchema,
  type PemKind,
  pathFrom,
  readPemFile,
  readSecretFile,
} from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';
import { EnrollConfigSchema, type EnrollSettings, resolveEnroll } from './enroll-config.js';

export const DashboardConfigSchema = Type.Object(
  {
    http: Type.Object(
      {
        host: Type.String({ format: 'host', default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
        /** Secure session cookie; always on with tls. */
        secure_cookies: Type.Boolean({ default: false }),
        /** HTTPS: the dashboard's certificate (e.g. from "pantau-broker ca issue --server") and key. */
        tls: Type.Optional(
          Type.Object(
            { cert_file: Type.String({ minLength: 1 }), key_file: Type.String({ minLength: 1 }) },
            { additionalProperties: false },
          ),
        ),
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
        /** For mqtts:// and wss:// URLs: the broker's certificate is always verified. */
        tls: Type.Optional(
          Type.Object(
            {
              /** The CA that signed the broker's certificate; default: the system's trusted CAs. */
              ca_file: Type.Optional(Type.String({ minLength: 1 })),
              /** A client certificate for the dashboard's account: login without a password. */
              cert_file: Type.Optional(Type.String({ minLength: 1 })),
              key_file: Type.Optional(Type.String({ minLength: 1 })),
              servername: Type.Optional(Type.String({ format: 'hostname' })),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    /** The broker's store, read only: the same section as in central.yaml. */
    store: StoreConfigSchema,
    users_file: Type.String({ minLength: 1 }),
    /** The same backbone description the broker judges links by, and its state database. */
    backbone: Type.Optional(
      Type.Object(
        { file: Type.String({ minLength: 1 }), state_path: Type.Optional(Type.String({ minLength: 1 })) },
        { additionalProperties: false },
      ),
    ),
    /** Site boxes enroll themselves with a one-time token (docs/install.md). */
    enroll: Type.Optional(EnrollConfigSchema),
    language: Type.Union([Type.Literal('id'), Type.Literal('en')], { default: 'id' }),
    timezone: Type.String({ minLength: 1, default: 'Asia/Makassar' }),
    /** The dashboard's own /metrics and /healthz, on a separate localhost port. */
    metrics: metricsSchema(9330),
    log_level: LogLevelSchema,
  },
  { additionalProperties: false },
);

export type DashboardConfig = Omit<
  Static<typeof DashboardConfigSchema>,
  'backbone' | 'store' | 'metrics' | 'enroll'
> & {
  enroll?: EnrollSettings;
  store: StoreConfig;
  /** Absent (a dashboard started in-process by a test): no metrics listener. */
  metrics?: Static<typeof DashboardConfigSchema>['metrics'];
  mqttPassword: string;
  /** PEM contents of http.tls's files. */
  httpsFiles?: { cert: string; key: string };
  /** PEM contents of mqtt.tls's files. */
  mqttTls?: { ca?: string; cert?: string; key?: string; servername?: string };
  backbone?: { file: string; state_path: string };
  /**
   * The central state database (incidents, baselines, the audit log): the backbone's state_path,
   * or where the broker keeps it by default. Absent (a test's in-process dashboard): beside users_file.
   */
  state_path?: string;
};

/** The central state database: as resolved from dashboard.yaml, else central-state.db beside users_file. */
export function statePath(cfg: DashboardConfig): string {
  return cfg.state_path ?? join(dirname(cfg.users_file), 'central-state.db');
}

export function loadDashboardConfig(file: string): DashboardConfig {
  const cfg = loadConfig(file, DashboardConfigSchema, {
    kind: CONFIG_KINDS.dashboard,
    check: (c) => {
      const issues = storeConfigIssues(c.store);
      const tls = c.mqtt.tls;
      if ((c.mqtt.url === undefined) === (c.mqtt.urls === undefined))
        issues.push({ path: ['mqtt'], message: 'needs either url (one broker) or urls (a cluster)' });
      if (!c.mqtt.password && !c.mqtt.password_file && !tls?.cert_file)
        issues.push({ path: ['mqtt'], message: 'needs password_file (or password, or tls.cert_file)' });
      if (tls && (tls.cert_file === undefined) !== (tls.key_file === undefined))
        issues.push({ path: ['mqtt', 'tls'], message: 'cert_file and key_file go together' });
      if (
        tls &&
        ![c.mqtt.url, ...(c.mqtt.urls ?? [])].every((u) => u === undefined || /^(mqtts|tls|wss):/.test(u))
      )
        issues.push({ path: ['mqtt', 'tls'], message: 'is set, but a URL is not mqtts:// or wss://' });
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
  const pem = (field: string, p: string, kind: PemKind) => readPemFile(file, field, p, kind).pem;
  const h = cfg.http.tls;
  const t = cfg.mqtt.tls;
  const { backbone: _bb, enroll, ...rest } = cfg;
  const store = resolveStoreConfig(file, cfg.store);
  const state = abs(
    cfg.backbone?.state_path ??
      (store.kind === 'sqlite'
        ? defaultStatePath(dirname(store.path), store.path)
        : defaultStatePath(dirname(abs(file)))),
  );
  const resolved: DashboardConfig = {
    ...rest,
    store,
    users_file: abs(cfg.users_file),
    ...(cfg.backbone
      ? {
          backbone: {
            file: abs(cfg.backbone.file),
            state_path: state,
          },
        }
      : {}),
    state_path: state,
    mqttPassword,
    ...(h
      ? {
          httpsFiles: {
            cert: pem('http.tls.cert_file', h.cert_file, 'certificate'),
            key: pem('http.tls.key_file', h.key_file, 'private key'),
          },
        }
      : {}),
    ...(t
      ? {
          mqttTls: {
            ...(t.ca_file ? { ca: pem('mqtt.tls.ca_file', t.ca_file, 'certificate') } : {}),
            ...(t.cert_file ? { cert: pem('mqtt.tls.cert_file', t.cert_file, 'certificate') } : {}),
            ...(t.key_file ? { key: pem('mqtt.tls.key_file', t.key_file, 'private key') } : {}),
            ...(t.servername ? { servername: t.servername } : {}),
          },
        }
      : {}),
  };
  if (enroll) resolved.enroll = resolveEnroll(file, enroll, state);
  return resolved;
}
