// The central MQTT broker: aedes on TCP and WebSocket, accounts and ACLs, and ingest into the store.

import { watch } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import pino, { type Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { mayPublish, maySubscribe } from './acl.js';
import { CentralDb } from './backbone/central-db.js';
import { loadBackbone } from './backbone/description.js';
import { CentralEngine } from './backbone/engine.js';
import { openCluster } from './cluster/index.js';
import type { BrokerConfig } from './config.js';
import { type Account, Authenticator, loadCredentials } from './credentials.js';
import { createIngest, createObserverFeed, type IngestStats } from './ingest.js';
import { openStore } from './store/index.js';

export interface RunningBroker {
  port: number;
  wsPort: number | null;
  aedes: Aedes;
  /** The link judgement, when central.yaml names a backbone. */
  engine: CentralEngine | null;
  stats(): IngestStats & { clients: number; authFailures: number; denied: number };
  close(): Promise<void>;
}

const BAD_CREDENTIALS = 4;
const NOT_AUTHORIZED = 5;

function authError(code: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code }) as AuthenticateError;
}

export async function startBroker(cfg: BrokerConfig, opts: { logger?: Logger } = {}): Promise<RunningBroker> {
  const log = opts.logger ?? pino({ level: cfg.log_level, base: { service: 'pantau-broker' } });
  const store = openStore(cfg.store);
  const auth = new Authenticator(loadCredentials(cfg.credentials_file));
  const accounts = new WeakMap<Client, Account>();
  const central = cfg.backbone ? new CentralDb(cfg.backbone.state_path!) : null;
  const engine =
    cfg.backbone && central
      ? new CentralEngine({ backbone: loadBackbone(cfg.backbone.file), db: central, log })
      : null;
  // In a cluster the judgement hears every broker's messages through the shared emitter (below),
  // not only what this broker ingested.
  const ingest = createIngest(store, log, cfg.cluster ? undefined : (engine ?? undefined));
  const cluster = cfg.cluster
    ? openCluster(cfg.cluster, log, (leader) => {
        if (leader) engine?.reloadVerdicts();
      })
    : null;
  const evaluator = engine
    ? setInterval(() => {
        if (cluster && !cluster.lease.isLeader()) return;
        try {
          engine.evaluate();
        } catch (e) {
          log.error({ err: (e as Error).message }, 'link evaluation failed');
        }
      }, cfg.backbone!.evaluate_every_s * 1000)
    : undefined;
  let authFailures = 0;
  let denied = 0;

  // Accounts change without a restart: re-read the file when it changes, keep the old set if it breaks.
  const reload = () => {
    try {
      auth.replace(loadCredentials(cfg.credentials_file));
      log.info({ file: cfg.credentials_file }, 'accounts reloaded');
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

  const remote = (c: Client) => (c.conn as { remoteAddress?: string } | undefined)?.remoteAddress;

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
    ingest.ingest(packet.topic, Buffer.from(packet.payload)).then(
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
    authenticate: (client, username, password, done) => {
      if (!username || !password) {
        authFailures++;
        log.warn(
          { audit: 'auth_failed', client: client.id, remote: remote(client), reason: 'anonymous' },
          'refused an anonymous client',
        );
        return done(authError(NOT_AUTHORIZED, 'anonymous clients are not allowed'), false);
      }
      auth.check(username, password).then(
        (account) => {
          if (!account) {
            authFailures++;
            log.warn(
              { audit: 'auth_failed', username, client: client.id, remote: remote(client) },
              'wrong username or password',
            );
            return done(authError(BAD_CREDENTIALS, 'bad username or password'), false);
          }
          accounts.set(client, account);
          done(null, true);
        },
        (e: Error) => done(authError(BAD_CREDENTIALS, e.message), false),
      );
    },
    authorizePublish: (client, packet, done) => {
      // aedes also asks here before publishing a client's last will, so wills keep to the same fence.
      // No client: a will the broker publishes for a client of a broker that died (cluster).
      if (!client) return ingestFirst(packet, done);
      if (cluster?.staleWill(client)) {
        log.info({ client: client.id }, 'will not published: the client is connected to another broker');
        return done(new Error('stale will'));
      }
      const account = accounts.get(client);
      const d = account
        ? mayPublish(account, packet.topic, packet.retain, packet.payload.length, cfg.mqtt.max_packet_bytes)
        : ({ ok: false, reason: 'not authenticated' } as const);
      if (d.ok) return ingestFirst(packet, done);
      denied++;
      log.warn(
        {
          audit: 'acl_denied',
          action: 'publish',
          username: account?.username,
          client: client.id,
          topic: packet.topic,
          reason: d.reason,
        },
        'publish denied',
      );
      done(new Error(d.reason));
    },
    authorizeSubscribe: (client, sub, done) => {
      const account = accounts.get(client);
      const d = account
        ? maySubscribe(account, sub.topic)
        : ({ ok: false, reason: 'not authenticated' } as const);
      if (d.ok) return done(null, sub);
      denied++;
      log.warn(
        {
          audit: 'acl_denied',
          action: 'subscribe',
          username: account?.username,
          client: client.id,
          topic: sub.topic,
          reason: d.reason,
        },
        'subscribe denied',
      );
      // A null subscription is answered with SUBACK 0x80 (failure); an error would drop the connection.
      done(null, null);
    },
  });

  if (cluster) {
    cluster.attach(aedes, { judge: engine !== null });
    if (engine) {
      const feed = createObserverFeed(engine);
      aedes.subscribe(
        'pantau/v1/#',
        (packet, cb) => {
          feed(packet.topic, Buffer.from(packet.payload));
          cb();
        },
        () => undefined,
      );
    }
  }
  aedes.on('clientError', (client, err) =>
    log.debug({ client: client.id, err: err.message }, 'client error'),
  );

  const tcp: Server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(cfg.mqtt.port, cfg.mqtt.host, () => resolve());
  });
  const port = (tcp.address() as { port: number }).port;

  let wss: WebSocketServer | null = null;
  let wsPort: number | null = null;
  if (cfg.mqtt.ws_port !== undefined) {
    const server = new WebSocketServer({
      host: cfg.mqtt.host,
      port: cfg.mqtt.ws_port,
      maxPayload: cfg.mqtt.max_packet_bytes + 1024,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => resolve());
    });
    server.on('connection', (ws, req) => aedes.handle(createWebSocketStream(ws), req));
    wss = server;
    wsPort = (server.address() as { port: number }).port;
  }
  log.info({ port, wsPort, store: cfg.store.path }, 'broker listening');

  return {
    port,
    wsPort,
    aedes,
    engine,
    stats: () => ({ ...ingest.stats, clients: aedes.connectedClients, authFailures, denied }),
    close: async () => {
      process.off('SIGHUP', reload);
      clearInterval(evaluator);
      watcher?.close();
      clearTimeout(reloadTimer);
      for (const c of wss?.clients ?? []) c.terminate();
      await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
      await new Promise<void>((r) => aedes.close(() => r()));
      await cluster?.close();
      await new Promise<void>((r) => tcp.close(() => r()));
      await store.close();
      central?.close();
    },
  };
}
