// central.yaml: what the broker listens on (or which existing broker the ingest reads from), where
// accounts and readings live.

import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  CONFIG_KINDS,
  LogLevelSchema,
  loadConfig,
  metricsSchema,
  pathFrom,
  readPemFile,
  readSecretFile,
  type SemanticIssue,
} from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';
import { defaultStatePath } from './backbone/central-db.js';
import { type ClusterConfig, ClusterConfigSchema, checkCluster, resolveCluster } from './cluster/config.js';
import { loadNotifyConfig, type NotifyConfig } from './notify/config.js';
import {
  resolveStoreConfig,
  type StoreConfig,
  StoreConfigSchema,
  storeConfigIssues,
} from './store/config.js';

const Pem = Type.String({ minLength: 1 });

export const TlsSchema = Type.Object(
  {
    /** MQTT over TLS (mqtts://). */
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8883 }),
    /** MQTT over secure WebSocket (wss://); off when absent. */
    wss_port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    cert_file: Pem,
    key_file: Pem,
    /** The CA that signs client certificates; needed when client_certs is not off. */
    ca_file: Type.Optional(Pem),
    /** off: passwords only; optional: a certificate from ca_file or a password; required: a certificate always. */
    client_certs: Type.Union([Type.Literal('off'), Type.Literal('optional'), Type.Literal('required')], {
      default: 'off',
    }),
    min_version: Type.Union([Type.Literal('TLSv1.2'), Type.Literal('TLSv1.3')], { default: 'TLSv1.2' }),
  },
  { additionalProperties: false },
);

export const LimitsSchema = Type.Object(
  {
    /** Connections at once under one site box account (its daemon, plus one reconnecting). */
    gateway_connections: Type.Integer({ minimum: 1, maximum: 1000, default: 2 }),
    /** Connections at once under one reader account (dashboards, tools). */
    reader_connections: Type.Integer({ minimum: 1, maximum: 1000, default: 8 }),
    /**
     * Publishes per second one account may keep up, all its connections together (a site box
     * replays its outbox at 50/s + live).
     */
    publish_rate_per_s: Type.Number({ minimum: 0.1, maximum: 100000, default: 200 }),
    /** Publishes one account may send at once above the rate (a reconnect re-sends every device state). */
    publish_burst: Type.Integer({ minimum: 1, maximum: 1000000, default: 1000 }),
    /** Authentication failures from one address before it must wait. */
    auth_failures: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
    /** The longest wait; each further failure doubles it from 1 s up to this. */
    auth_backoff_max_s: Type.Integer({ minimum: 1, maximum: 86400, default: 300 }),
  },
  { additionalProperties: false, default: {} },
);

export const AuditSchema = Type.Object(
  {
    /** JSON lines; default audit.log beside the store. */
    file: Type.Optional(Type.String({ minLength: 1 })),
    /** Rotated past this size into file.1 … file.<keep>. */
    max_bytes: Type.Integer({ minimum: 4096, default: 10 * 1024 * 1024 }),
    keep: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
  },
  { additionalProperties: false, default: {} },
);

export type TlsConfig = Static<typeof TlsSchema>;
export type Limits = Static<typeof LimitsSchema>;
export type AuditConfig = Static<typeof AuditSchema>;

export const LIMIT_DEFAULTS: Limits = {
  gateway_connections: 2,
  reader_connections: 8,
  publish_rate_per_s: 200,
  publish_burst: 1000,
  auth_failures: 5,
  auth_backoff_max_s: 300,
};

export const BrokerConfigSchema = Type.Object(
  {
    mqtt: Type.Object(
      {
        host: Type.String({ format: 'host', default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883 }),
        ws_port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
        /** A client that sends a bigger MQTT packet (any kind) is disconnected. */
        max_packet_bytes: Type.Integer({ minimum: 1024, maximum: 268435455, default: 262144 }),
        /**
         * Site boxes' QoS 1 telemetry stored and acknowledged before aedes parses it (fast-lane.ts);
         * false leaves every packet to aedes.
         */
        fast_lane: Type.Optional(Type.Boolean({ default: true })),
        /**
         * Per reader (a clean MQTT 3.1.1 session on the fast lane's listeners), as Mosquitto's
         * max_inflight_messages and max_queued_messages: QoS 1 messages sent and not yet
         * acknowledged, then waiting; past both, the reader's new messages are dropped and counted.
         * max_queued 0 is no limit. The defaults are those of `pantau-broker mosquitto-config`.
         */
        max_inflight: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 100 })),
        max_queued: Type.Optional(Type.Integer({ minimum: 0, default: 100_000 })),
        /** The unencrypted listeners (port, ws_port); false leaves only TLS. */
        plain: Type.Optional(Type.Boolean({ default: true })),
        tls: Type.Optional(TlsSchema),
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
    /** Embedded SQLite (`kind: sqlite, path`) or InfluxDB 1.x (`kind: influx, url, ...`): docs/store.md. */
    store: StoreConfigSchema,
    /** The backbone description and the central's own judgement of links and incidents. */
    backbone: Type.Optional(
      Type.Object(
        {
          file: Type.String({ minLength: 1 }),
          /** Baselines, link verdicts and incidents; default central-state.db beside the store (or central.yaml); never the store's own file. */
          state_path: Type.Optional(Type.String({ minLength: 1 })),
          evaluate_every_s: Type.Number({ minimum: 1, maximum: 3600, default: 30 }),
        },
        { additionalProperties: false },
      ),
    ),
    /** Notifications on incidents (needs backbone): the rules and channels live in their own file. */
    notify: Type.Optional(
      Type.Object({ file: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    ),
    limits: Type.Optional(LimitsSchema),
    audit: Type.Optional(AuditSchema),
    /** Two or more brokers behind one Redis (docs/cluster.md); absent: one broker, all in memory. */
    cluster: Type.Optional(ClusterConfigSchema),
    /** The broker's own /metrics and /healthz (docs/operations.md). */
    metrics: metricsSchema(9320),
    log_level: LogLevelSchema,
  },
  { additionalProperties: false },
);

export type BrokerConfig = Omit<
  Static<typeof BrokerConfigSchema>,
  'store' | 'cluster' | 'notify' | 'metrics'
> & {
  /** Absent (a broker started in-process by a test): no metrics listener. */
  metrics?: Static<typeof BrokerConfigSchema>['metrics'];
  store: StoreConfig;
  cluster?: ClusterConfig;
  notify?: { file: string; config: NotifyConfig };
  /** external_broker.password_file, read at load time. */
  externalPassword?: string;
};

/** Loads central.yaml; relative paths resolve against the file's folder. */
export function loadBrokerConfig(file: string): BrokerConfig {
  // Unreadable secret files are config errors at their line, not a crash at the first connection.
  const unreadable = (p: string): string | null => {
    try {
      accessSync(pathFrom(file, p), constants.R_OK);
      return null;
    } catch (e) {
      return `cannot read ${pathFrom(file, p)}: ${(e as NodeJS.ErrnoException).code}`;
    }
  };
  const { cluster, ...cfg } = loadConfig(file, BrokerConfigSchema, {
    kind: CONFIG_KINDS.central,
    check: (c) => {
      const issues: SemanticIssue[] = [
        ...storeConfigIssues(c.store),
        ...(c.cluster ? checkCluster(c.cluster) : []),
      ];
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
      if (c.mqtt.plain === false && !c.mqtt.tls)
        issues.push({
          path: ['mqtt', 'plain'],
          message: 'with the plain listener off, mqtt.tls must be set',
        });
      if (c.mqtt.plain === false && c.mqtt.ws_port !== undefined)
        issues.push({
          path: ['mqtt', 'ws_port'],
          message: 'ws_port is a plain listener; use mqtt.tls.wss_port',
        });
      if (c.notify && !c.backbone)
        issues.push({ path: ['notify'], message: 'notifications are about incidents: they need backbone' });
      const tls = c.mqtt.tls;
      if (tls && tls.client_certs !== 'off' && !tls.ca_file)
        issues.push({
          path: ['mqtt', 'tls', 'ca_file'],
          message: `client_certs: ${tls.client_certs} needs the CA that signs them`,
        });
      if (tls?.client_certs === 'required' && c.mqtt.plain !== false)
        issues.push({
          path: ['mqtt', 'plain'],
          message: 'client_certs: required needs plain: false (the plain listener cannot check certificates)',
        });
      return issues;
    },
  });
  const abs = (p: string) => pathFrom(file, p);
  const store = resolveStoreConfig(file, cfg.store);
  const tls = cfg.mqtt.tls
    ? {
        ...cfg.mqtt.tls,
        cert_file: readPemFile(file, 'mqtt.tls.cert_file', cfg.mqtt.tls.cert_file, 'certificate').path,
        key_file: readPemFile(file, 'mqtt.tls.key_file', cfg.mqtt.tls.key_file, 'private key').path,
        ...(cfg.mqtt.tls.ca_file
          ? { ca_file: readPemFile(file, 'mqtt.tls.ca_file', cfg.mqtt.tls.ca_file, 'certificate').path }
          : {}),
      }
    : undefined;
  const ext = cfg.external_broker;
  const { notify, ...rest } = cfg;
  return {
    ...rest,
    ...(ext
      ? {
          external_broker: { ...ext, ...(ext.ca_file ? { ca_file: abs(ext.ca_file) } : {}) },
          externalPassword: readSecretFile(file, 'external_broker.password_file', ext.password_file),
        }
      : {}),
    mqtt: { ...cfg.mqtt, ...(tls ? { tls } : {}) },
    audit: {
      ...(cfg.audit ?? { max_bytes: 10 * 1024 * 1024, keep: 5 }),
      file: abs(
        cfg.audit?.file ??
          join(store.kind === 'sqlite' ? dirname(store.path) : dirname(abs(file)), 'audit.log'),
      ),
    },
    ...(cluster ? { cluster: resolveCluster(file, cluster) } : {}),
    credentials_file: abs(cfg.credentials_file),
    store,
    ...(notify ? { notify: { file: abs(notify.file), config: loadNotifyConfig(abs(notify.file)) } } : {}),
    ...(cfg.backbone
      ? {
          backbone: {
            ...cfg.backbone,
            file: abs(cfg.backbone.file),
            state_path: abs(
              cfg.backbone.state_path ??
                (store.kind === 'sqlite'
                  ? defaultStatePath(dirname(store.path), store.path)
                  : defaultStatePath(dirname(abs(file)))),
            ),
          },
        }
      : {}),
  };
}
