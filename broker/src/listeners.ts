// Where clients reach the broker: plain MQTT and WebSocket (unless turned off), MQTT over TLS and
// secure WebSocket. Every connection is metered for packet size; TLS connections with a client
// certificate from another CA (or none, where one is required) are cut before any MQTT is read.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  createServer as createTlsServer,
  type SecureContextOptions,
  type TLSSocket,
  type Server as TlsServer,
} from 'node:tls';
import type { Aedes } from 'aedes';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { coalesceWrites } from './coalesce-writes.js';
import type { BrokerConfig, TlsConfig } from './config.js';
import type { FastLane } from './fast-lane.js';
import type { Guard } from './guard.js';

export interface Listeners {
  /** 0 when the plain listener is off. */
  port: number;
  wsPort: number | null;
  tlsPort: number | null;
  wssPort: number | null;
  /** Re-reads certificate, key and CA files (a renewed certificate) without dropping anyone. */
  reloadTls(): void;
  close(): Promise<void>;
}

/** Says so in the journal, at start and at each reload, when the broker's certificate is near its end. */
function warnExpiry(cert: Buffer, file: string, log: Logger): void {
  try {
    const days = Math.floor((Date.parse(new X509Certificate(cert).validTo) - Date.now()) / 86_400_000);
    if (days < 0) log.error({ file }, 'the broker certificate has expired: site boxes will refuse it');
    else if (days < 30)
      log.warn({ file, days }, `the broker certificate expires in ${days} days: renew it (docs/security.md)`);
  } catch {
    // not parseable as one certificate: TLS itself will say what is wrong
  }
}

function secureContext(t: TlsConfig, log: Logger): SecureContextOptions {
  const cert = readFileSync(t.cert_file);
  warnExpiry(cert, t.cert_file, log);
  return {
    cert,
    key: readFileSync(t.key_file),
    ...(t.ca_file ? { ca: readFileSync(t.ca_file) } : {}),
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

export async function startListeners(
  cfg: BrokerConfig,
  aedes: Aedes,
  guard: Guard,
  log: Logger,
  lane: FastLane | null = null,
): Promise<Listeners> {
  const host = cfg.mqtt.host;
  const servers: Server[] = [];
  const wsServers: WebSocketServer[] = [];
  const handle = (stream: Duplex, req?: Parameters<Aedes['handle']>[1]) =>
    guard.meter(stream, aedes.handle(stream, req));
  // Site boxes come over TCP or TLS; WebSocket clients (browsers, tools) stay with aedes alone.
  const handleSocket = (socket: Socket) => {
    const client = aedes.handle(coalesceWrites(socket));
    guard.meter(socket, client);
    lane?.attach(socket, client);
  };
  const webSocket = (server: Server) => {
    const wss = new WebSocketServer({
      server: server as HttpsServer,
      maxPayload: cfg.mqtt.max_packet_bytes + 1024,
    });
    wss.on('connection', (ws, req) => handle(createWebSocketStream(ws), req));
    wsServers.push(wss);
  };

  let port = 0;
  let wsPort: number | null = null;
  if (cfg.mqtt.plain !== false) {
    const tcp = createServer(handleSocket);
    servers.push(tcp);
    port = await listen(tcp, cfg.mqtt.port, host);
    if (cfg.mqtt.ws_port !== undefined) {
      const http = createHttpServer();
      servers.push(http);
      webSocket(http);
      wsPort = await listen(http, cfg.mqtt.ws_port, host);
    }
  }

  const t = cfg.mqtt.tls;
  let tlsPort: number | null = null;
  let wssPort: number | null = null;
  const tlsServers: TlsServer[] = [];
  const tlsOptions = (t: TlsConfig) => ({
    ...secureContext(t, log),
    minVersion: t.min_version,
    // We judge the client certificate ourselves right after the handshake, so that a refusal
    // is audited; no MQTT byte is read from a connection before that.
    requestCert: t.client_certs !== 'off',
    rejectUnauthorized: false,
  });
  if (t) {
    const options = { ...tlsOptions(t), handshakeTimeout: 10_000 };
    const check = (socket: TLSSocket): boolean => {
      if (t.client_certs === 'off') return true;
      const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
      if (socket.authorized || (!presented && t.client_certs === 'optional')) return true;
      const cn = presented ? socket.getPeerCertificate().subject?.CN : undefined;
      guard.tlsRefused(
        socket.remoteAddress ?? 'unknown',
        presented
          ? `client certificate${cn ? ` "${cn}"` : ''} not from our CA (${socket.authorizationError})`
          : 'no client certificate (required)',
      );
      socket.destroy();
      return false;
    };
    const onTlsError = (err: Error, socket: TLSSocket) =>
      guard.tlsRefused(socket.remoteAddress ?? 'unknown', `TLS handshake failed: ${err.message}`);

    const mqtts = createTlsServer(options);
    mqtts.on('secureConnection', (socket: TLSSocket) => {
      if (check(socket)) handleSocket(socket);
    });
    mqtts.on('tlsClientError', onTlsError);
    servers.push(mqtts);
    tlsServers.push(mqtts);
    tlsPort = await listen(mqtts, t.port, host);

    if (t.wss_port !== undefined) {
      const https = createHttpsServer(options);
      // https emits 'secureConnection' before the HTTP upgrade; a refused socket never gets there.
      https.on('secureConnection', (socket: TLSSocket) => void check(socket));
      https.on('tlsClientError', onTlsError);
      servers.push(https);
      tlsServers.push(https);
      webSocket(https);
      wssPort = await listen(https, t.wss_port, host);
    }
  }

  // Connections still handshaking or refused are not aedes's to close.
  const sockets = new Set<Duplex>();
  for (const s of servers)
    s.on('connection', (sock: Duplex) => {
      sockets.add(sock);
      sock.once('close', () => sockets.delete(sock));
    });

  return {
    port,
    wsPort,
    tlsPort,
    wssPort,
    reloadTls: () => {
      if (!t) return;
      try {
        const ctx = tlsOptions(t);
        for (const s of tlsServers) s.setSecureContext(ctx);
        log.info('TLS certificate and key reloaded');
      } catch (e) {
        log.error({ err: (e as Error).message }, 'TLS files unreadable; keeping the previous ones');
      }
    },
    close: async () => {
      for (const w of wsServers) for (const c of w.clients) c.terminate();
      await Promise.all(wsServers.map((w) => new Promise<void>((r) => w.close(() => r()))));
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
