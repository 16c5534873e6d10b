import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { ConfigError } from '@pantau/config';
import mqtt from 'mqtt';
import { generate, type Packet } from 'mqtt-packet';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../../test/support/procs.js';
import { AuditFolder, AuditLog, readAudit } from './audit.js';
import { type RunningBroker, startBroker } from './broker.js';
import { CaError, initCa, issueCert, listCerts } from './ca.js';
import { type BrokerConfig, LIMIT_DEFAULTS, loadBrokerConfig } from './config.js';
import { addGateway, removeAccount } from './credentials.js';
import { AuthBackoff, PacketMeter, TokenBucket } from './limits.js';

describe('the private CA', () => {
  const dir = tempDir('ca');
  afterAll(() => dir.remove());

  it('makes a CA, server and client certificates that verify, keys 0600; refuses to overwrite', async () => {
    const ca = join(dir.path, 'ca');
    await initCa({ dir: ca, name: 'Test CA' });
    expect(statSync(join(ca, 'ca.key')).mode & 0o777).toBe(0o600);
    const server = await issueCert({ dir: ca, kind: { server: ['central.lan', '10.0.0.5'] }, days: 30 });
    const client = await issueCert({ dir: ca, kind: { client: 'gw-psc' } });
    expect(statSync(server.key).mode & 0o777).toBe(0o600);
    const caCert = new X509Certificate(readFileSync(join(ca, 'ca.crt')));
    const s = new X509Certificate(readFileSync(server.crt));
    expect(s.verify(caCert.publicKey)).toBe(true);
    expect(s.subjectAltName).toBe('DNS:central.lan, IP Address:10.0.0.5');
    expect(s.checkHost('central.lan')).toBe('central.lan');
    expect(s.checkIP('10.0.0.5')).toBe('10.0.0.5');
    expect(new X509Certificate(readFileSync(client.crt)).subject).toBe('CN=gw-psc');
    expect(listCerts(ca).map((c) => [c.kind, c.cn, c.fromThisCa])).toEqual([
      ['ca', 'Test CA', true],
      ['client', 'gw-psc', true],
      ['server', 'central.lan', true],
    ]);
    expect(listCerts(ca).find((c) => c.kind === 'server')?.daysLeft).toBe(29);
    await expect(issueCert({ dir: ca, kind: { client: 'gw-psc' } })).rejects.toThrow(
      /already exists; pass --force/,
    );
    await expect(initCa({ dir: ca })).rejects.toThrow(/already holds a CA/);
    await expect(issueCert({ dir: ca, kind: { client: 'gw psc; rm -rf' } })).rejects.toBeInstanceOf(CaError);
    await expect(issueCert({ dir: ca, kind: { server: ['x'] }, days: 5000 })).rejects.toThrow(
      /the CA expires in/,
    );
    await expect(issueCert({ dir: join(dir.path, 'none'), kind: { client: 'a' } })).rejects.toThrow(
      /no CA in/,
    );
  });
});

describe('pantau-broker ca', () => {
  const dir = tempDir('ca-cli');
  afterAll(() => dir.remove());
  const cli = (args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) =>
      execFile(
        process.execPath,
        [join(import.meta.dirname, '..', 'dist', 'cli.js'), 'ca', ...args],
        (e, stdout, stderr) =>
          resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      ),
    );

  it('says what is wrong, and flags certificates near their end with exit code 3', async () => {
    const ca = join(dir.path, 'ca');
    expect(await cli(['issue', '--dir', ca, '--site', 'psc'])).toEqual({
      code: 1,
      out: `pantau-broker ca issue: no CA in ${ca}: make one with "pantau-broker ca init --dir ${ca}"\n`,
    });
    expect((await cli(['init', '--dir', ca])).code).toBe(0);
    expect(await cli(['issue', '--dir', ca, '--site', 'PSC'])).toMatchObject({
      code: 1,
      out: expect.stringMatching(/lowercase id/),
    });
    expect(await cli(['issue', '--dir', ca, '--server', '--site', 'psc'])).toMatchObject({
      code: 1,
      out: expect.stringMatching(/exactly one of/),
    });
    expect((await cli(['issue', '--dir', ca, '--site', 'psc'])).code).toBe(0);
    expect((await cli(['list', '--dir', ca])).code).toBe(0);
    expect((await cli(['issue', '--dir', ca, '--client', 'dashboard', '--days', '10'])).code).toBe(0);
    const list = await cli(['list', '--dir', ca]);
    expect(list.code).toBe(3);
    expect(list.out).toMatch(/client {2}dashboard {2}until \S+ {2}expires in 9 days/);
  });
});

describe('broker over TLS and WSS, client certificates required', () => {
  const dir = tempDir('broker-tls');
  const ca = join(dir.path, 'ca');
  const other = join(dir.path, 'other');
  let broker: RunningBroker;
  const pem = (p: string) => readFileSync(join(dir.path, p));

  beforeAll(async () => {
    await initCa({ dir: ca });
    await issueCert({ dir: ca, kind: { server: ['localhost'] } });
    await issueCert({ dir: ca, kind: { client: 'gw-psc' } });
    await initCa({ dir: other });
    await issueCert({ dir: other, kind: { client: 'gw-psc' } });
    const cred = join(dir.path, 'credentials.yaml');
    await addGateway(cred, 'psc', 'gw-psc', 'gw-psc-pass');
    const cfg: BrokerConfig = {
      mqtt: {
        host: '127.0.0.1',
        port: 0,
        max_packet_bytes: 65536,
        plain: false,
        tls: {
          port: 0,
          wss_port: 0,
          cert_file: join(ca, 'server-localhost.crt'),
          key_file: join(ca, 'server-localhost.key'),
          ca_file: join(ca, 'ca.crt'),
          client_certs: 'required',
          min_version: 'TLSv1.2',
        },
      },
      credentials_file: cred,
      store: { kind: 'sqlite', path: join(dir.path, 'c.db') },
      audit: { file: join(dir.path, 'audit.log'), max_bytes: 1 << 20, keep: 2 },
      log_level: 'fatal',
    };
    broker = await startBroker(cfg, { logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await broker?.close();
    dir.remove();
  });

  it('accepts a site box by certificate over mqtts and wss', async () => {
    expect(broker.port).toBe(0);
    for (const url of [`mqtts://localhost:${broker.tlsPort}`, `wss://localhost:${broker.wssPort}`]) {
      const c = await mqtt.connectAsync(
        url,
        { ca: pem('ca/ca.crt'), cert: pem('ca/gw-psc.crt'), key: pem('ca/gw-psc.key'), reconnectPeriod: 0 },
        false,
      );
      await c.publishAsync('pantau/v1/psc/gateway/health', '{}', { qos: 1 });
      await c.endAsync();
    }
  });

  it('refuses at the handshake: no certificate, one from another CA, TLS below 1.2', async () => {
    const handshake = (o: { cert?: Buffer; key?: Buffer; maxVersion?: 'TLSv1.1' }) =>
      new Promise<string>((resolve) => {
        const s = tlsConnect({
          host: '127.0.0.1',
          port: broker.tlsPort!,
          servername: 'localhost',
          ca: pem('ca/ca.crt'),
          ...o,
          ...(o.maxVersion ? { minVersion: 'TLSv1' as const } : {}),
        });
        // The server judges our certificate after the handshake and closes: we never read a byte.
        s.on('data', () => resolve('got data'));
        s.on('error', (e) => resolve(`error: ${e.message}`));
        s.on('close', () => resolve('closed'));
        // A CONNECT (MQTT 3.1.1, client id "x"): any broker that read it answers with a CONNACK.
        s.on('secureConnect', () =>
          s.write(
            Buffer.from([0x10, 13, 0, 4, ...Buffer.from('MQTT'), 4, 2, 0, 60, 0, 1, ...Buffer.from('x')]),
          ),
        );
      });
    expect(await handshake({})).not.toBe('got data');
    expect(await handshake({ cert: pem('other/gw-psc.crt'), key: pem('other/gw-psc.key') })).not.toBe(
      'got data',
    );
    expect(await handshake({ maxVersion: 'TLSv1.1' })).toMatch(/^error: .*(version|protocol)/i);
    await waitFor('audited', () => {
      const reasons = readAudit(join(dir.path, 'audit.log'))
        .filter((l) => l.event === 'tls_refused')
        .map((l) => l.reason);
      return (
        reasons.some((r) => r === 'no client certificate (required)') &&
        reasons.some((r) => /"gw-psc" not from our CA/.test(r))
      );
    });
  });

  it('serves a renewed certificate after SIGHUP without a restart', async () => {
    const serial = () =>
      new Promise<string>((resolve, reject) => {
        const s = tlsConnect(
          { host: '127.0.0.1', port: broker.tlsPort!, servername: 'localhost', ca: pem('ca/ca.crt') },
          () => {
            resolve(s.getPeerCertificate().serialNumber);
            s.destroy();
          },
        );
        s.on('error', reject);
      });
    const before = await serial();
    await issueCert({ dir: ca, kind: { server: ['localhost'] }, force: true });
    process.emit('SIGHUP', 'SIGHUP');
    expect(await serial()).not.toBe(before);
  });
});

describe('connection slots', () => {
  const dir = tempDir('broker-slots');
  let broker: RunningBroker;
  beforeAll(async () => {
    const cred = join(dir.path, 'credentials.yaml');
    await addGateway(cred, 'psc', 'gw-psc', 'gw-psc-pass');
    broker = await startBroker(
      {
        mqtt: { host: '127.0.0.1', port: 0, max_packet_bytes: 65536 },
        credentials_file: cred,
        store: { kind: 'sqlite', path: join(dir.path, 'c.db') },
        limits: { ...LIMIT_DEFAULTS, gateway_connections: 1 },
        log_level: 'fatal',
      },
      { logger: pino({ level: 'silent' }) },
    );
  });
  afterAll(async () => {
    await broker?.close();
    dir.remove();
  });

  it('a client that hangs up while its password is checked leaves no slot taken', async () => {
    // The first check of a password costs scrypt's ~50 ms: hang up inside that window.
    const s = netConnect(broker.port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write(
      generate({
        cmd: 'connect',
        clientId: 'ghost',
        username: 'gw-psc',
        password: Buffer.from('gw-psc-pass'),
        protocolVersion: 4,
        clean: true,
        keepalive: 30,
      } as Packet),
    );
    s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const c = await mqtt.connectAsync(
      `mqtt://127.0.0.1:${broker.port}`,
      { username: 'gw-psc', password: 'gw-psc-pass', clientId: 'real', reconnectPeriod: 0 },
      false,
    );
    await c.endAsync();
  });
});

describe('revocation', () => {
  const dir = tempDir('broker-revoke');
  let broker: RunningBroker;
  const cred = join(dir.path, 'credentials.yaml');
  beforeAll(async () => {
    await addGateway(cred, 'psc', 'gw-psc', 'gw-psc-pass');
    await addGateway(cred, 'rsud', 'gw-rsud', 'gw-rsud-pass');
    broker = await startBroker(
      {
        mqtt: { host: '127.0.0.1', port: 0, max_packet_bytes: 65536 },
        credentials_file: cred,
        store: { kind: 'sqlite', path: join(dir.path, 'c.db') },
        audit: { file: join(dir.path, 'audit.log'), max_bytes: 1 << 20, keep: 2 },
        log_level: 'fatal',
      },
      { logger: pino({ level: 'silent' }) },
    );
  });
  afterAll(async () => {
    await broker?.close();
    dir.remove();
  });

  it('removing an account disconnects its live connections at once, and only those', async () => {
    const opts = (u: string) => ({ username: u, password: `${u}-pass`, reconnectPeriod: 0 });
    const psc = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, opts('gw-psc'), false);
    const rsud = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, opts('gw-rsud'), false);
    const closed = new Promise<void>((r) => psc.once('close', () => r()));
    removeAccount(cred, 'gw-psc');
    await closed;
    expect(rsud.connected).toBe(true);
    const line = readAudit(join(dir.path, 'audit.log')).find((l) => l.event === 'revoked');
    expect(line).toMatchObject({
      username: 'gw-psc',
      reason: 'account removed from the accounts file: disconnected',
    });
    await rsud.endAsync();
  });
});

describe('central.yaml security fields', () => {
  const dir = tempDir('broker-tls-cfg');
  afterAll(() => dir.remove());
  const load = (yaml: string) => {
    const f = join(dir.path, 'central.yaml');
    writeFileSync(f, `credentials_file: c.yaml\nstore: { kind: sqlite, path: c.db }\n${yaml}`);
    try {
      loadBrokerConfig(f);
      return [];
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return e.issues.map((i) => `${i.field}: ${i.message}`);
    }
  };

  it('names what is wrong', async () => {
    expect(load('mqtt: { plain: false }\n')).toEqual([
      'mqtt.plain: with the plain listener off, mqtt.tls must be set',
    ]);
    expect(
      load('mqtt:\n  tls: { cert_file: s.crt, key_file: s.key, client_certs: optional }\n').map((s) =>
        s.replace(dir.path, 'D'),
      ),
    ).toEqual(['mqtt.tls.ca_file: client_certs: optional needs the CA that signs them']);
    expect(
      load('mqtt:\n  tls: { cert_file: s.crt, key_file: s.key, ca_file: c.crt, client_certs: required }\n'),
    ).toEqual([
      'mqtt.plain: client_certs: required needs plain: false (the plain listener cannot check certificates)',
    ]);
    expect(
      load('mqtt:\n  tls: { cert_file: nope.crt, key_file: s.key }\n').map((s) => s.replace(dir.path, 'D')),
    ).toEqual(['mqtt.tls.cert_file: cannot read D/nope.crt: ENOENT']);
    await initCa({ dir: join(dir.path, 'ca') });
    expect(
      load('mqtt:\n  tls: { cert_file: ca/ca.key, key_file: ca/ca.key }\n').map((s) =>
        s.replace(dir.path, 'D'),
      ),
    ).toEqual(['mqtt.tls.cert_file: D/ca/ca.key holds no PEM certificate']);
    expect(load('limits: { publish_rate: 5 }\n')).toEqual([
      'limits.publish_rate: unknown key (check the spelling)',
    ]);
  });
});

describe('limits, one at a time', () => {
  it('meters packets split anywhere across chunks, and cuts the first one over the limit', () => {
    const packet = (len: number) => {
      const out = [0x30];
      let n = len;
      do {
        let b = n % 128;
        n = Math.floor(n / 128);
        if (n > 0) b |= 0x80;
        out.push(b);
      } while (n > 0);
      return Buffer.concat([Buffer.from(out), Buffer.alloc(len)]);
    };
    const stream = Buffer.concat([packet(100), packet(0), packet(1000), packet(200_000)]);
    for (const size of [1, 2, 3, 7, 1000, stream.length]) {
      const m = new PacketMeter(4096);
      let cut = 0;
      for (let i = 0; i < stream.length && !cut; i += size) cut = m.feed(stream.subarray(i, i + size));
      expect(cut).toBe(1 + 3 + 200_000);
    }
    const m = new PacketMeter(4096);
    expect(m.feed(Buffer.concat([packet(100), packet(4000)]))).toBe(0);
  });

  it('a token bucket lets the burst through, makes the next wait, and gives up a burst later', () => {
    const b = new TokenBucket(10, 5);
    const waits = Array.from({ length: 11 }, () => b.take());
    expect(waits.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(waits.slice(5, 10).every((w) => w > 0)).toBe(true);
    expect(waits[9]).toBeGreaterThan(waits[5]!);
    expect(waits[10]).toBe(-1);
  });

  it('back-off starts after N failures, doubles, and a success clears it', () => {
    const b = new AuthBackoff(2, 3000);
    b.fail('a');
    expect(b.blockedFor('a')).toBe(0);
    b.fail('a');
    expect(b.blockedFor('a')).toBeGreaterThan(900);
    b.fail('a');
    expect(b.blockedFor('a')).toBeGreaterThan(1900);
    b.fail('a');
    b.fail('a');
    expect(b.blockedFor('a')).toBeLessThanOrEqual(3000);
    expect(b.blockedFor('b')).toBe(0);
    b.succeed('a');
    expect(b.blockedFor('a')).toBe(0);
  });
});

describe('the audit file', () => {
  it('rotates at its size, keeps N files, reads back oldest first; folds a flood into a line a second', async () => {
    const dir = tempDir('audit');
    const file = join(dir.path, 'audit.log');
    const log = new AuditLog(file, 4096, 2);
    for (let i = 0; i < 300; i++)
      log.write({ event: 'acl_denied', action: 'publish', topic: `t/${i}`, reason: 'x' });
    const lines = readAudit(file);
    // Three files of at most 4 KiB: the newest lines survive, in order.
    expect(lines.length).toBeLessThan(300);
    expect(lines.length).toBeGreaterThan(50);
    expect(lines.at(-1)?.topic).toBe('t/299');
    const n = lines.map((l) => Number(l.topic?.slice(2)));
    expect(n).toEqual([...n].sort((a, b) => a - b));
    expect(statSync(file).size).toBeLessThanOrEqual(4096);

    const folded = new AuditFolder(log, 200);
    for (let i = 0; i < 500; i++)
      folded.write({ event: 'rate_limited', action: 'publish', client: 'c1', reason: 'over' });
    await new Promise((r) => setTimeout(r, 300));
    const rate = readAudit(file).filter((l) => l.event === 'rate_limited');
    expect(rate).toHaveLength(2);
    expect(rate[1]?.count).toBe(499);
    log.close();
    dir.remove();
  });
});
