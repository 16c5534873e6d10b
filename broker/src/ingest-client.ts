// Ingest from a broker the site already runs (Mosquitto): Pantau connects as an MQTT client with its
// own account instead of listening, and feeds the same ingest (dedup by site and sequence) and link
// judgement as its own broker does.

import { readFileSync } from 'node:fs';
import { mqttServers } from '@pantau/config';
import { TOPIC_ROOT } from '@pantau/contract';
import pino, { type Logger } from 'pino';
import { CentralDb } from './backbone/central-db.js';
import { loadBackbone } from './backbone/description.js';
import { CentralEngine } from './backbone/engine.js';
import type { BrokerConfig } from './config.js';
import { createIngest, type IngestStats } from './ingest.js';
import { IngestSession } from './ingest-session.js';
import { openStore } from './store/index.js';

export interface RunningIngest {
  session: IngestSession;
  engine: CentralEngine | null;
  /** Resolves on the first accepted subscription. */
  ready: Promise<void>;
  stats(): IngestStats & { connected: boolean; connects: number };
  close(): Promise<void>;
}

export async function startIngestClient(
  cfg: BrokerConfig,
  opts: { logger?: Logger } = {},
): Promise<RunningIngest> {
  const ext = cfg.external_broker;
  if (!ext) throw new Error('central.yaml has no external_broker');
  const log = opts.logger ?? pino({ level: cfg.log_level, base: { service: 'pantau-ingest' } });
  const store = openStore(cfg.store);
  const central = cfg.backbone ? new CentralDb(cfg.backbone.state_path!) : null;
  const backbone = cfg.backbone ? loadBackbone(cfg.backbone.file) : null;
  const engine = backbone && central ? new CentralEngine({ backbone, db: central, log }) : null;
  const ingest = createIngest(store, log, engine ?? undefined, { central, backbone });
  const evaluator = engine
    ? setInterval(() => {
        try {
          engine.evaluate();
        } catch (e) {
          log.error({ err: (e as Error).message }, 'link evaluation failed');
        }
      }, cfg.backbone!.evaluate_every_s * 1000)
    : undefined;

  const ca = ext.ca_file ? readFileSync(ext.ca_file) : undefined;
  const servers = mqttServers(ext.urls);
  const filter = ext.share_group ? `$share/${ext.share_group}/${TOPIC_ROOT}/#` : `${TOPIC_ROOT}/#`;
  // Acknowledge a message only once it is in the store: killed mid-way, the broker sends it again and
  // the store drops the duplicate by site and sequence number.
  const session = new IngestSession({
    servers,
    username: ext.username,
    password: cfg.externalPassword ?? '',
    clientId: ext.client_id,
    keepaliveS: ext.keepalive_s,
    filter,
    ...(ca ? { ca } : {}),
    reconnectMs: 2000,
    connectTimeoutMs: 10_000,
    log,
    onMessage: (topic, payload) =>
      topic.startsWith(`${TOPIC_ROOT}/`) ? ingest.ingest(topic, payload) : Promise.resolve(),
  });
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  session.on('connect', (sessionPresent: boolean) =>
    log.info({ connects: session.connects, sessionPresent }, 'ingest connected to the broker'),
  );
  session.on('subscribed', (granted: boolean) => {
    if (granted) resolveReady();
    else log.error({ filter }, 'the broker refused the ingest subscription (check its ACL)');
  });
  session.on('offline', () => log.warn('broker unreachable; it keeps our session until we return'));
  session.start();
  log.info(
    { urls: ext.urls, filter, store: cfg.store.kind === 'sqlite' ? cfg.store.path : cfg.store.url },
    'ingest client started',
  );

  return {
    session,
    engine,
    ready,
    stats: () => ({ ...ingest.stats, connected: session.connected, connects: session.connects }),
    close: async () => {
      clearInterval(evaluator);
      // A frozen broker never answers the goodbye: end() gives it a moment, then drops the connection.
      await session.end();
      await store.close();
      central?.close();
    },
  };
}
