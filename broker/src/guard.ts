// The broker's gate: who gets in (password or client certificate, back-off after failures, a cap
// on connections per account), what they may publish and subscribe (acl.ts), how fast and how big,
// and an audit line for every refusal. broker.ts hands aedes's hooks to it.

import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from 'pino';
import { mayPublish, maySubscribe } from './acl.js';
import { type AuditEntry, AuditFolder, AuditLog } from './audit.js';
import { type BrokerConfig, LIMIT_DEFAULTS, type Limits } from './config.js';
import type { Account, Authenticator } from './credentials.js';
import { AuthBackoff, ConnectionCounter, PacketMeter, TokenBucket } from './limits.js';

const BAD_CREDENTIALS = 4;
const NOT_AUTHORIZED = 5;

function authError(code: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code }) as AuthenticateError;
}

/** The TLS socket under a client: its own connection (mqtts) or the request's (wss). */
function tlsSocket(client: Client): TLSSocket | null {
  const conn = client.conn as Partial<TLSSocket>;
  if (typeof conn.getPeerCertificate === 'function') return conn as TLSSocket;
  const s = client.req?.socket as Partial<TLSSocket> | undefined;
  return s && typeof s.getPeerCertificate === 'function' ? (s as TLSSocket) : null;
}

export function remoteOf(client: Client): string {
  const conn = client.conn as { remoteAddress?: string };
  return conn.remoteAddress ?? client.req?.socket?.remoteAddress ?? 'unknown';
}

/** The CN of a client certificate that our CA signed, or null. */
function certifiedName(client: Client): string | null {
  const s = tlsSocket(client);
  if (!s?.authorized) return null;
  const cn = s.getPeerCertificate()?.subject?.CN;
  return typeof cn === 'string' && cn ? cn : null;
}

export class Guard {
  readonly stats = { authFailures: 0, denied: 0, limitHits: 0 };
  readonly limits: Limits;
  private readonly audit: AuditLog | null;
  private readonly folder: AuditFolder | null;
  private readonly accounts = new WeakMap<Client, Account>();
  /** By account: reconnecting, or a second client id, does not reset a client's bucket. */
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly connections = new ConnectionCounter<Client>();
  private readonly backoff: AuthBackoff;
  private readonly clientCerts: 'off' | 'optional' | 'required';

  constructor(
    private readonly cfg: BrokerConfig,
    private readonly auth: Authenticator,
    private readonly log: Logger,
  ) {
    this.limits = { ...LIMIT_DEFAULTS, ...(cfg.limits ?? {}) };
    this.backoff = new AuthBackoff(this.limits.auth_failures, this.limits.auth_backoff_max_s * 1000);
    this.clientCerts = cfg.mqtt.tls?.client_certs ?? 'off';
    this.audit = cfg.audit?.file ? new AuditLog(cfg.audit.file, cfg.audit.max_bytes, cfg.audit.keep) : null;
    this.folder = this.audit ? new AuditFolder(this.audit) : null;
  }

  /** One refusal: a warn line in the journal, a line in the audit file. */
  record(e: AuditEntry, message: string, fold = false): void {
    this.log.warn({ audit: e.event, ...e }, message);
    if (fold) this.folder?.write(e);
    else this.audit?.write(e);
  }

  authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: AuthenticateError | null, ok: boolean | null) => void,
  ): void {
    const remote = remoteOf(client);
    const base = { action: 'connect' as const, username, client: client.id, remote };
    const refuse = (code: number, reason: string) => {
      this.stats.authFailures++;
      this.backoff.fail(remote);
      this.record({ event: 'auth_failed', ...base, reason }, 'authentication failed');
      done(authError(code, reason), false);
    };
    const wait = this.backoff.blockedFor(remote);
    if (wait > 0) {
      this.stats.authFailures++;
      const reason = `too many failed logins from ${remote}; next try in ${Math.ceil(wait / 1000)} s`;
      this.record(
        { event: 'auth_backoff', ...base, reason },
        'login refused without checking (back-off)',
        true,
      );
      done(authError(NOT_AUTHORIZED, reason), false);
      return;
    }
    const admit = (account: Account) => {
      this.backoff.succeed(remote);
      // Gone while its password was checked: counting it now would hold its slot for ever.
      if ((client.conn as Duplex).destroyed) {
        done(authError(NOT_AUTHORIZED, 'connection closed during login'), false);
        return;
      }
      const limit =
        account.role === 'gateway' ? this.limits.gateway_connections : this.limits.reader_connections;
      if (this.connections.others(account.username, client.id) >= limit) {
        this.stats.limitHits++;
        const reason = `account already has ${limit} connection${limit > 1 ? 's' : ''} (the limit)`;
        this.record(
          { event: 'connection_limit', ...base, username: account.username, reason },
          'connection refused',
        );
        done(authError(NOT_AUTHORIZED, reason), false);
        return;
      }
      this.connections.add(account.username, client, client.id);
      client.conn.once('close', () => this.connections.remove(account.username, client));
      this.accounts.set(client, account);
      done(null, true);
    };

    const cn = this.clientCerts === 'off' ? null : certifiedName(client);
    if (cn) {
      if (username && username !== cn) {
        refuse(NOT_AUTHORIZED, `username "${username}" does not match the certificate's "${cn}"`);
        return;
      }
      const account = this.auth.byName(cn);
      if (!account) {
        refuse(NOT_AUTHORIZED, `certificate for "${cn}", which is no account`);
        return;
      }
      if (!password) {
        admit(account);
        return;
      }
      // A password sent alongside a certificate must be right too.
      this.auth.check(cn, password).then(
        (a) => (a ? admit(a) : refuse(BAD_CREDENTIALS, 'bad username or password')),
        (e: Error) => refuse(BAD_CREDENTIALS, e.message),
      );
      return;
    }
    if (this.clientCerts === 'required') {
      refuse(NOT_AUTHORIZED, 'a client certificate is required');
      return;
    }
    if (!username || !password) {
      refuse(NOT_AUTHORIZED, 'anonymous clients are not allowed');
      return;
    }
    this.auth.check(username, password).then(
      (a) => (a ? admit(a) : refuse(BAD_CREDENTIALS, 'bad username or password')),
      (e: Error) => refuse(BAD_CREDENTIALS, e.message),
    );
  }

  authorizePublish(client: Client, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const account = this.accounts.get(client);
    const d = account
      ? mayPublish(
          account,
          packet.topic,
          packet.retain,
          packet.payload.length,
          this.cfg.mqtt.max_packet_bytes,
        )
      : ({ ok: false, reason: 'not authenticated' } as const);
    if (!d.ok) {
      this.stats.denied++;
      this.record(
        {
          event: 'acl_denied',
          action: 'publish',
          username: account?.username,
          client: client.id,
          remote: remoteOf(client),
          topic: packet.topic,
          reason: d.reason,
        },
        'publish denied',
      );
      done(new Error(d.reason));
      return;
    }
    this.throttle(client, account!, packet.topic, done);
  }

  /** The largest payload a client may publish (the packet cap; mayPublish checks it the same way). */
  get maxPayloadBytes(): number {
    return this.cfg.mqtt.max_packet_bytes;
  }

  /**
   * For the fast lane (fast-lane.ts): may this client publish on this topic, not retained? No audit
   * here: a refused packet goes on to authorizePublish, which refuses it again and records why.
   */
  mayPublishTelemetry(client: Client, topic: string): boolean {
    const account = this.accounts.get(client);
    return account !== undefined && mayPublish(account, topic, false, 0, this.maxPayloadBytes).ok;
  }

  /** For the fast lane: a rate token if one is free now; false leaves the packet to throttle(). */
  tryTakeToken(client: Client): boolean {
    const account = this.accounts.get(client);
    return account !== undefined && this.bucketOf(account.username).tryTake();
  }

  private bucketOf(username: string): TokenBucket {
    let bucket = this.buckets.get(username);
    if (!bucket) {
      bucket = new TokenBucket(this.limits.publish_rate_per_s, this.limits.publish_burst);
      this.buckets.set(username, bucket);
    }
    return bucket;
  }

  /** The publish rate (limits.ts TokenBucket): go, wait for a token, or be cut off. */
  private throttle(
    client: Client,
    account: Account,
    topic: string,
    done: (err?: Error | null) => void,
  ): void {
    const wait = this.bucketOf(account.username).take();
    if (wait === 0) {
      done(null);
      return;
    }
    const base = {
      action: 'publish' as const,
      username: account.username,
      client: client.id,
      remote: remoteOf(client),
      topic,
    };
    this.stats.limitHits++;
    if (wait < 0) {
      const reason = `kept publishing over ${this.limits.publish_rate_per_s}/s (burst ${this.limits.publish_burst}): disconnected`;
      this.record({ event: 'rate_abuse', ...base, reason }, 'client disconnected for flooding', true);
      done(new Error(reason));
      return;
    }
    this.record(
      { event: 'rate_limited', ...base, reason: `over ${this.limits.publish_rate_per_s}/s: held ${wait} ms` },
      'publish held (rate limit)',
      true,
    );
    setTimeout(() => done(null), wait);
  }

  authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (err: Error | null, sub: Subscription | null) => void,
  ): void {
    const account = this.accounts.get(client);
    const d = account
      ? maySubscribe(account, sub.topic)
      : ({ ok: false, reason: 'not authenticated' } as const);
    if (d.ok) {
      done(null, sub);
      return;
    }
    this.stats.denied++;
    this.record(
      {
        event: 'acl_denied',
        action: 'subscribe',
        username: account?.username,
        client: client.id,
        remote: remoteOf(client),
        topic: sub.topic,
        reason: d.reason,
      },
      'subscribe denied',
    );
    // A null subscription is answered with SUBACK 0x80 (failure); an error would drop the connection.
    done(null, null);
  }

  /**
   * After the accounts file changed: connections of accounts that are gone are closed, so removing
   * an account revokes a site box at once (its certificate or password stops working at the next
   * login anyway).
   */
  dropRemovedAccounts(): void {
    for (const [username, clients] of [...this.connections.entries()]) {
      if (this.auth.byName(username)) continue;
      for (const client of [...clients.keys()]) {
        this.record(
          {
            event: 'revoked',
            action: 'connect',
            username,
            client: client.id,
            remote: remoteOf(client),
            reason: 'account removed from the accounts file: disconnected',
          },
          'connection of a removed account closed',
        );
        client.close();
      }
    }
  }

  /** Watches a connection's bytes and cuts it at the first packet over max_packet_bytes. */
  meter(stream: Duplex, client: Client): void {
    const meter = new PacketMeter(this.cfg.mqtt.max_packet_bytes);
    // Added after aedes's 'readable' listener, so this sees each chunk aedes reads, before it parses it.
    stream.on('data', (chunk: Buffer) => {
      const size = meter.feed(chunk);
      if (size === 0 || stream.destroyed) return;
      this.stats.limitHits++;
      this.record(
        {
          event: 'packet_too_large',
          action: client.connected ? 'publish' : 'connect',
          username: this.accounts.get(client)?.username,
          client: client.id ?? undefined,
          remote: remoteOf(client),
          reason: `packet of ${size} bytes over the limit of ${this.cfg.mqtt.max_packet_bytes}: disconnected`,
        },
        'client disconnected (packet too large)',
      );
      stream.destroy();
    });
  }

  /** A TLS connection refused before MQTT: unknown CA, no certificate where one is required. */
  tlsRefused(remote: string, reason: string): void {
    this.stats.authFailures++;
    this.record({ event: 'tls_refused', action: 'connect', remote, reason }, 'TLS connection refused', true);
  }

  close(): void {
    this.folder?.flush();
    this.audit?.close();
  }
}
