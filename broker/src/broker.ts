// The central MQTT broker: aedes on TCP, TLS and WebSocket (listeners.ts), accounts, ACLs and limits
// (guard.ts), and ingest into the store.

import { watch } from 'node:fs';
import { Aedes } from 'aedes';
import pino, { type Logger } from 'pino';
import { CentralDb } from './backbone/central-db.js';
import { loadBackbone } from './backbone/description.js';
import { CentralEngine } from './backbone/engine.js';
import type { BrokerConfig } from './config.js';
import { Authenticator, loadCredentials } from './credentials.js';
import { Guard } from './guard.js';
import { createIngest, type IngestStats } from './ingest.js';
import { startListeners } from './listeners.js';
import { startNotifier } from './notify/start.js';
import { openStore } from './store/index.js';

export interface RunningBroker {
  /** The plain MQTT port; 0 when the plain listener is off. */
  port: number;
  wsPort: number | null;
  tlsPort: number | null;
  wssPort: number | null;
  aedes: Aedes;
  /** The link judgement, when central.yaml names a backbone. */
  engine: CentralEngine | null;
  stats(): IngestStats & { clients: number; authFailures: number; denied: number; limitHits: number };
  close(): Promise<void>;
}

export async function startBroker(cfg: BrokerConfig, opts: { logger?: Logger } = {}): Promise<RunningBroker> {
  const log = opts.logger ?? pino({ level: cfg.log_level, base: { service: 'pantau-broker' } });
  // Repeated failures of an unreachable InfluxDB log once per minute, not per attempt.
  let lastStoreWarn = 0;
  const store = openStore(cfg.store, {
    onWriteError: (err, retrying) => {
      if (retrying && Date.now() - lastStoreWarn < 60_000) return;
      lastStoreWarn = Date.now();
      log.warn(
        { err: err.message, retrying },
        retrying ? 'store unreachable, buffering' : 'store refused points',
      );
    },
  });
  const auth = new Authenticator(loadCredentials(cfg.credentials_file));
  const guard = new Guard(cfg, auth, log);
  const central = cfg.backbone ? new CentralDb(cfg.backbone.state_path!) : null;
  const engine =
    cfg.backbone && central
      ? new CentralEngine({ backbone: loadBackbone(cfg.backbone.file), db: central, log })
      : null;
  const ingest = createIngest(store, log, engine ?? undefined);
  const notifier = engine && central ? startNotifier(cfg, central, log) : null;
  const evaluator = engine
    ? setInterval(() => {
        try {
          engine.evaluate();
          void notifier?.tick();
        } catch (e) {
          log.error({ err: (e as Error).message }, 'link evaluation failed');
        }
      }, cfg.backbone!.evaluate_every_s * 1000)
    : undefined;

  // Accounts change without a restart: re-read the file when it changes, keep the old set if it breaks.
  const reload = () => {
    try {
      auth.replace(loadCredentials(cfg.credentials_file));
      log.info({ file: cfg.credentials_file }, 'accounts reloaded');
      guard.dropRemovedAccounts();
    } catch (e) {
      log.error({ err: (e as Error).message }, 'accounts file unreadable; keeping the previous accounts');
    }
  };
  let reloadTimer: NodeJS.Timeout | undefined;
  const watcher = (() => {
    try {
      return watch(cfg.credentials_file, () => {
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(reload, 200);
      });
    } catch {
      return null;
    }
  })();
  process.on('SIGHUP', reload);

  const aedes = await Aedes.createBroker({
    authenticate: (client, username, password, done) => guard.authenticate(client, username, password, done),
    // aedes also asks here before publishing a client's last will, so wills keep to the same fence.
    authorizePublish: (client, packet, done) =>
      client ? guard.authorizePublish(client, packet, done) : done(null),
    authorizeSubscribe: (client, sub, done) => guard.authorizeSubscribe(client, sub, done),
  });

  // Only publishes that passed authorizePublish (last wills included) reach this event.
  aedes.on('publish', (packet) => {
    if (!packet.topic.startsWith('pantau/v1/')) return;
    void ingest.ingest(packet.topic, packet.payload as Buffer);
  });
  aedes.on('clientError', (client, err) =>
    log.debug({ client: client.id, err: err.message }, 'client error'),
  );

  const listeners = await startListeners(cfg, aedes, guard, log);
  const { port, wsPort, tlsPort, wssPort } = listeners;
  process.on('SIGHUP', listeners.reloadTls);
  log.info(
    {
      port,
      wsPort,
      tlsPort,
      wssPort,
      store: cfg.store.kind === 'sqlite' ? cfg.store.path : `${cfg.store.url}/${cfg.store.database}`,
    },
    'broker listening',
  );

  return {
    port,
    wsPort,
    tlsPort,
    wssPort,
    aedes,
    engine,
    stats: () => ({ ...ingest.stats, clients: aedes.connectedClients, ...guard.stats }),
    close: async () => {
      process.off('SIGHUP', reload);
      clearInterval(evaluator);
      watcher?.close();
      clearTimeout(reloadTimer);
      process.off('SIGHUP', listeners.reloadTls);
      await new Promise<void>((r) => aedes.close(() => r()));
      await listeners.close();
      guard.close();
      await store.close();
      await notifier?.close();
      central?.close();
    },
  };
}
