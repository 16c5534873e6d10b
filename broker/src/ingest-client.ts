// Ingest from a broker the site already runs (Mosquitto): Pantau connects as an MQTT client with its
// own account instead of listening, and feeds the same ingest (dedup by site and sequence) and link
// judgement as its own broker does.

import { readFileSync } from 'node:fs';
import { TOPIC_ROOT } from '@pantau/contract';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino, { type Logger } from 'pino';
import { CentralDb } from './backbone/central-db.js';
import { loadBackbone } from './backbone/description.js';
import { CentralEngine } from './backbone/engine.js';
import type { BrokerConfig } from './config.js';
import { createIngest, type IngestStats } from './ingest.js';
import { openStore } from './store/index.js';

export interface RunningIngest {
  client: MqttClient;
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
  const engine =
    cfg.backbone && central
      ? new CentralEngine({ backbone: loadBackbone(cfg.backbone.file), db: central, log })
      : null;
  const ingest = createIngest(store, log, engine ?? undefined, { central });
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
  const servers = ext.urls.map((u) => {
    const url = new URL(u);
    const protocol = url.protocol.slice(0, -1) as 'mqtt' | 'mqtts' | 'ws' | 'wss';
    return { host: url.hostname, port: Number(url.port) || (protocol === 'mqtts' ? 8883 : 1883), protocol };
  });
  const filter = ext.share_group ? `$share/${ext.share_group}/${TOPIC_ROOT}/#` : `${TOPIC_ROOT}/#`;
  const options: IClientOptions = {
    servers,
    username: ext.username,
    password: cfg.externalPassword,
    clientId: ext.client_id,
    keepalive: ext.keepalive_s,
    // The broker keeps our session and queues QoS 1 readings while we are away (restart, upgrade).
    clean: false,
    reconnectPeriod: 2000,
    connectTimeout: 10_000,
    protocolVersion: 4,
    ...(ca ? { ca } : {}),
  };
  const client = mqtt.connect(options);
  // Acknowledge a message only once it is in the store: killed mid-way, the broker sends it again and
  // the store drops the duplicate by site and sequence number.
  client.handleMessage = (packet, done) => {
    const topic = packet.topic;
    if (!topic.startsWith(`${TOPIC_ROOT}/`)) return done();
    ingest.ingest(topic, packet.payload as Buffer).then(
      () => done(),
      (e: Error) => {
        log.error({ topic, err: e.message }, 'ingest failed');
        done();
      },
    );
  };
  let connects = 0;
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  client.on('connect', (ack) => {
    connects++;
    log.info({ connects, sessionPresent: ack.sessionPresent }, 'ingest connected to the broker');
    // Re-subscribing is harmless with a kept session and needed when the broker lost it.
    client.subscribe(filter, { qos: 1 }, (err, granted) => {
      const refused = err || !granted || granted.some((g) => g.qos === 128);
      if (refused)
        log.error(
          { filter, err: err?.message },
          'the broker refused the ingest subscription (check its ACL)',
        );
      else resolveReady();
    });
  });
  client.on('offline', () => log.warn('broker unreachable; it keeps our session until we return'));
  client.on('error', (e) => log.warn({ err: e.message }, 'MQTT error'));
  log.info(
    { urls: ext.urls, filter, store: cfg.store.kind === 'sqlite' ? cfg.store.path : cfg.store.url },
    'ingest client started',
  );

  return {
    client,
    engine,
    ready,
    stats: () => ({ ...ingest.stats, connected: client.connected, connects }),
    close: async () => {
      clearInterval(evaluator);
      // A frozen broker never answers the goodbye: give it a moment, then drop the connection.
      await Promise.race([client.endAsync(), new Promise((r) => setTimeout(r, 3000).unref())]);
      if (!client.disconnected) client.end(true);
      await store.close();
      central?.close();
    },
  };
}
