// The central MQTT broker: aedes on TCP, TLS and WebSocket (listeners.ts), accounts, ACLs and limits
// (guard.ts), and ingest into the store.

import { type FSWatcher, watch } from 'node:fs';
import { Aedes } from 'aedes';
import pino, { type Logger } from 'pino';
import { CentralDb } from './backbone/central-db.js';
import { loadBackbone } from './backbone/description.js';
import { CentralEngine } from './backbone/engine.js';
import { openCluster } from './cluster/index.js';
import type { BrokerConfig } from './config.js';
import { Authenticator, loadCredentials } from './credentials.js';
import { FastLane } from './fast-lane.js';
import { Guard } from './guard.js';
import { createIngest, createObserverFeed } from './ingest.js';
import { startListeners } from './listeners.js';
import { startNotifier } from './notify/start.js';
import { type BrokerFigures, observeBroker } from './observe.js';
import { openStore } from './store/index.js';

/** A payload as a Buffer without copying one that already is (Buffer.from copies). */
const asBuffer = (p: Buffer | string): Buffer => (typeof p === 'string' ? Buffer.from(p) : p);

export interface RunningBroker {
  /** The plain MQTT port; 0 when the plain listener is off. */
  port: number;
  wsPort: number | null;
  tlsPort: number | null;
  wssPort: number | null;
  aedes: Aedes;
  /** The link judgement, when central.yaml names a backbone. */
  engine: CentralEngine | null;
  stats(): BrokerFigures;
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
  const backbone = cfg.backbone ? loadBackbone(cfg.backbone.file) : null;
  const engine = backbone && central ? new CentralEngine({ backbone, db: central, log }) : null;
  // In a cluster the judgement hears every broker's messages through the shared emitter (below),
  // not only what this broker ingested.
  const ingest = createIngest(store, log, cfg.cluster ? undefined : (engine ?? undefined), {
    central,
    backbone,
  });
  const cluster = cfg.cluster
    ? openCluster(cfg.cluster, log, (leader) => {
        if (leader) engine?.reloadVerdicts();
      })
    : null;
  const notifier = engine && central ? startNotifier(cfg, central, log) : null;
  const evaluator = engine
    ? setInterval(() => {
        if (cluster && !cluster.lease.isLeader()) return;
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
  // The file is replaced by a rename on every change, so a watch follows the old, unlinked copy and
  // would miss every later change: each change re-arms the watch on the new file.
  let watcher: FSWatcher | null = null;
  let closed = false;
  const arm = () => {
    watcher?.close();
    watcher = null;
    if (closed) return;
    try {
      watcher = watch(cfg.credentials_file, () => {
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(() => {
          arm();
          reload();
        }, 200);
      });
    } catch {
      // No file yet (or gone for a moment): SIGHUP still reloads.
    }
  };
  arm();
  process.on('SIGHUP', reload);

  /**
   * Readings are stored before the broker acknowledges them (aedes sends PUBACK before its 'publish'
   * event): a broker killed at any moment has either kept a message or not acknowledged it, and the
   * site box re-sends what was not acknowledged, to this broker or another. A store that fails
   * refuses the message (the connection closes unacknowledged) rather than losing it.
   */
  const ingestFirst = (
    packet: { topic: string; payload: Buffer | string },
    done: (e?: Error | null) => void,
  ) => {
    if (!packet.topic.startsWith('pantau/v1/')) return done(null);
    ingest.ingest(packet.topic, asBuffer(packet.payload)).then(
      () => done(null),
      (e: Error) => {
        log.error(
          { topic: packet.topic, err: e.message },
          'store failed; message refused, the site box will resend',
        );
        done(e);
      },
    );
  };

  await cluster?.ready();
  const aedes = await Aedes.createBroker({
    ...cluster?.aedesOptions,
    authenticate: (client, username, password, done) => guard.authenticate(client, username, password, done),
    // aedes also asks here before publishing a client's last will, so wills keep to the same fence.
    // No client: a will the broker publishes for a client of a broker that died (cluster).
    authorizePublish: (client, packet, done) => {
      if (!client) return ingestFirst(packet, done);
      if (cluster?.staleWill(client)) {
        log.info({ client: client.id }, 'will not published: the client is connected to another broker');
        return done(new Error('stale will'));
      }
      guard.authorizePublish(client, packet, (err) => (err ? done(err) : ingestFirst(packet, done)));
    },
    authorizeSubscribe: (client, sub, done) => guard.authorizeSubscribe(client, sub, done),
  });

  if (cluster) {
    cluster.attach(aedes, { judge: engine !== null });
    if (engine) {
      const feed = createObserverFeed(engine);
      aedes.subscribe(
        'pantau/v1/#',
        (packet, cb) => {
          feed(packet.topic, asBuffer(packet.payload));
          cb();
        },
        () => undefined,
      );
    }
  }
  aedes.on('clientError', (client, err) =>
    log.debug({ client: client.id, err: err.message }, 'client error'),
  );

  const lane =
    cfg.mqtt.fast_lane === false
      ? null
      : new FastLane(aedes, guard, ingest.ingestThen, log, {
          maxInflight: cfg.mqtt.max_inflight ?? 100,
          maxQueued: cfg.mqtt.max_queued ?? 100_000,
          rememberSubscriptions: !cluster,
        });
  const listeners = await startListeners(cfg, aedes, guard, log, lane);
  const { port, wsPort, tlsPort, wssPort } = listeners;
  process.on('SIGHUP', listeners.reloadTls);
  const figures = (): BrokerFigures => ({
    ...ingest.stats,
    clients: aedes.connectedClients,
    ...guard.stats,
    fastLaneMessages: lane?.stats.fastLaneMessages ?? 0,
    fastDeliveries: lane?.stats.fastDeliveries ?? 0,
    droppedDeliveries: lane?.stats.droppedDeliveries ?? 0,
  });
  const observer = await observeBroker({
    figures,
    listen: cfg.metrics?.enabled ? { host: cfg.metrics.host, port: cfg.metrics.port } : null,
    log,
    ...(store.healthy ? { store: () => store.healthy!() } : {}),
    notify: notifier ? () => notifier.stats() : null,
  });
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
    stats: figures,
    close: async () => {
      process.off('SIGHUP', reload);
      clearInterval(evaluator);
      closed = true;
      watcher?.close();
      clearTimeout(reloadTimer);
      process.off('SIGHUP', listeners.reloadTls);
      await observer.close();
      await new Promise<void>((r) => aedes.close(() => r()));
      await listeners.close();
      await cluster?.close();
      guard.close();
      await store.close();
      await notifier?.close();
      central?.close();
    },
  };
}
