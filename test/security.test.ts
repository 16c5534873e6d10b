// Security through real processes: a CA made with `pantau-broker ca`, site boxes (the gateway
// daemon) on mqtts with a password or a client certificate, a foreign client (mosquitto_pub) on
// TLS, refusals of certificates from another CA both ways, the dashboard on HTTPS reading the
// broker over mqtts, every limit enforced, and the audit file and its CLI.

import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type AuditLine, readAudit } from '@pantau/broker';
import { topics } from '@pantau/contract';
import { Publisher } from '@pantau/gateway';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Central, cli, httpsRequest, loginTo, startCentral } from './support/central.js';
import { type Daemon, requireBinary, runDaemon, tempDir, waitFor } from './support/procs.js';

const run = promisify(execFile);
const PUB = '/usr/bin/mosquitto_pub';
const RATE = 20;
const BURST = 20;

const telemetry = (seq: number, device = 'ptp-1') =>
  JSON.stringify({
    v: 1,
    seq,
    device,
    backfill: false,
    readings: [{ ts: Date.now(), values: { snr_db: 30 } }],
  });

describe('security: TLS, client certificates, limits and the audit log', () => {
  const dir = tempDir('security');
  const foreign = join(dir.path, 'foreign-ca');
  let central: Central;
  let ca: Buffer;
  const gateways: Daemon[] = [];
  const clients: MqttClient[] = [];
  const auditLines = (): AuditLine[] => readAudit(join(dir.path, 'audit.log'));
  const file = (p: string) => readFileSync(join(dir.path, p));

  /** An mqtt.js client on the broker's TLS port; resolves when connected, rejects when refused. */
  const connect = async (o: IClientOptions & { url?: string }): Promise<MqttClient> => {
    const c = await mqtt.connectAsync(
      o.url ?? `mqtts://localhost:${central.tlsPort}`,
      {
        ca,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ...o,
      },
      false,
    );
    clients.push(c);
    return c;
  };
  const refused = (o: IClientOptions & { url?: string }) =>
    connect(o).then(
      () => 'connected',
      (e: Error) => e.message,
    );
  const siteState = async (site: string) =>
    (await central.api<Array<{ site: string; state: string }>>('/api/sites', 'admin')).body.find(
      (s) => s.site === site,
    )?.state;
  const siteBox = (site: string, mqttYaml: string): Daemon => {
    writeFileSync(
      join(dir.path, `${site}.yaml`),
      `site: { id: ${site}, name: "${site}" }
mqtt:
${mqttYaml}
  keepalive_s: 5
state_dir: ${site}-state
log_level: info
health_interval_s: 2
`,
    );
    const d = runDaemon('gateway', ['run', '--config', join(dir.path, `${site}.yaml`)]);
    gateways.push(d);
    return d;
  };

  beforeAll(async () => {
    requireBinary(PUB, 'apt-get install -y mosquitto-clients');
    requireBinary('/usr/bin/openssl', 'apt-get install -y openssl');
    central = await startCentral({
      dir: dir.path,
      sites: ['psc', 'rsud', 'bad', 'big', 'lim', 'flood', 'slow', 'guess'],
      users: [['admin', 'admin']],
      tls: { clientCerts: 'optional', dashboardCert: true },
      mqttYaml: 'max_packet_bytes: 4096',
      centralYaml: `limits: { gateway_connections: 2, publish_rate_per_s: ${RATE}, publish_burst: ${BURST}, auth_failures: 3, auth_backoff_max_s: 2 }`,
    });
    ca = central.ca!;
    await cli('broker', ['ca', 'issue', '--dir', central.caDir, '--site', 'rsud']);
    // Another CA, as an attacker or a misconfigured box would have: same names, other signer.
    await cli('broker', ['ca', 'init', '--dir', foreign]);
    await cli('broker', ['ca', 'issue', '--dir', foreign, '--site', 'rsud']);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await Promise.all(gateways.map((g) => g.stop()));
    await central?.stop();
    dir.remove();
  });

  it('a site box publishes through mqtts, verifying the broker with the made CA', async () => {
    siteBox(
      'psc',
      `  urls: ["mqtts://localhost:${central.tlsPort}"]
  username: gw-psc
  password_file: psc.pw
  tls: { ca_file: ca/ca.crt }`,
    );
    await waitFor('psc online', async () => (await siteState('psc')) === 'online', 20_000);
  }, 30_000);

  it('a site box logs in with its client certificate and no password', async () => {
    const rsud = siteBox(
      'rsud',
      `  urls: ["mqtts://127.0.0.1:${central.tlsPort}"]
  username: gw-rsud
  tls: { ca_file: ca/ca.crt, cert_file: ca/gw-rsud.crt, key_file: ca/gw-rsud.key }`,
    );
    await waitFor('rsud online', async () => (await siteState('rsud')) === 'online', 20_000).catch((e) => {
      throw new Error(`${e}\n${rsud.output()}\n${central.daemons[0]!.output()}`);
    });
  }, 30_000);

  it('the dashboard reads the broker over mqtts with its own client certificate', async () => {
    const health = await httpsRequest(`${central.base}/healthz`, ca);
    expect(JSON.parse(health.body.toString())).toMatchObject({ ok: true, mqtt: true });
  });

  it('a foreign client (mosquitto_pub) logs in by certificate; a certificate from another CA is refused', async () => {
    const pub = (certDir: string) =>
      run(
        PUB,
        [
          ...['-h', 'localhost', '-p', String(central.tlsPort), '--cafile', join(central.caDir, 'ca.crt')],
          ...['--cert', join(certDir, 'gw-rsud.crt'), '--key', join(certDir, 'gw-rsud.key')],
          ...['-q', '1', '-t', 'pantau/v1/rsud/ptp-9/telemetry', '-m', telemetry(1, 'ptp-9')],
        ],
        { timeout: 10_000 },
      );
    await pub(central.caDir);
    const r = await pub(foreign).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).not.toBe(0);
    // mqtt.js with the foreign certificate, and with a username: refused all the same.
    expect(
      await refused({
        username: 'gw-rsud',
        cert: readFileSync(join(foreign, 'gw-rsud.crt')),
        key: readFileSync(join(foreign, 'gw-rsud.key')),
      }),
    ).not.toBe('connected');
    await waitFor('refusal audited', () =>
      auditLines().filter((l) => l.event === 'tls_refused' && /"gw-rsud" not from our CA/.test(l.reason)),
    );
    // A certificate of ours does not let one account pose as another.
    expect(
      await refused({ username: 'gw-psc', cert: file('ca/gw-rsud.crt'), key: file('ca/gw-rsud.key') }),
    ).toMatch(/Not authorized/i);
    const line = auditLines().find((l) => l.event === 'auth_failed' && l.username === 'gw-psc');
    expect(line?.reason).toBe('username "gw-psc" does not match the certificate\'s "gw-rsud"');
  }, 30_000);

  it('a site box refuses a broker whose certificate its CA did not sign', async () => {
    const bad = siteBox(
      'bad',
      `  urls: ["mqtts://localhost:${central.tlsPort}"]
  username: gw-bad
  password_file: bad.pw
  tls: { ca_file: foreign-ca/ca.crt }`,
    );
    await waitFor(
      'certificate error logged',
      () =>
        /"err":"self-signed certificate in certificate chain","hint":"the central's certificate is not signed by the CA in mqtt.tls.ca_file[^"]*","msg":"MQTT error"/.test(
          bad.output(),
        ),
      15_000,
    ).catch((e) => {
      throw new Error(`${e}\n${bad.output()}`);
    });
    expect(await siteState('bad')).toBeUndefined();
    await bad.stop();
  }, 30_000);

  it('the plain listener is off; plain MQTT on the TLS port gets nowhere', async () => {
    expect(
      await refused({
        url: `mqtt://127.0.0.1:${central.mqttPort}`,
        username: 'gw-psc',
        password: 'gw-psc-secret',
      }),
    ).toMatch(/ECONNREFUSED/);
    expect(
      await refused({
        url: `mqtt://127.0.0.1:${central.tlsPort}`,
        username: 'gw-psc',
        password: 'gw-psc-secret',
        connectTimeout: 2000,
      }),
    ).not.toBe('connected');
  }, 15_000);

  it('the dashboard speaks HTTPS only, and its session cookie is Secure', async () => {
    const login = await loginTo(central.base, 'admin', 'admin-secret-1', ca);
    expect(login.status).toBe(200);
    expect(/pantau_sid=[^,]*/.exec(login.setCookie)?.[0]).toMatch(/; Secure/);
    await expect(fetch(`http://127.0.0.1:${central.httpPort}/healthz`)).rejects.toThrow();
    // A client that does not trust our CA does not get through either.
    await expect(fetch(`${central.base}/healthz`)).rejects.toThrow();
  });

  it('a packet over max_packet_bytes ends the connection', async () => {
    const c = await connect({ username: 'gw-big', password: 'gw-big-secret' });
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish('pantau/v1/big/ptp-1/telemetry', Buffer.alloc(10_000, 'x'), { qos: 0 });
    await closed;
    const line = await waitFor('audited', () => auditLines().find((l) => l.event === 'packet_too_large'));
    expect(line).toMatchObject({ username: 'gw-big', action: 'publish' });
    expect(line.reason).toMatch(/^packet of 100\d\d bytes over the limit of 4096/);
    // The broker is fine and takes the account back.
    (await connect({ username: 'gw-big', password: 'gw-big-secret' })).end();
  });

  it('a third connection under one site box account is refused; a reconnect under the same client id is not', async () => {
    const a = await connect({ username: 'gw-lim', password: 'gw-lim-secret', clientId: 'lim-a' });
    await connect({ username: 'gw-lim', password: 'gw-lim-secret', clientId: 'lim-b' });
    expect(await refused({ username: 'gw-lim', password: 'gw-lim-secret', clientId: 'lim-c' })).toMatch(
      /Not authorized/i,
    );
    const line = auditLines().find((l) => l.event === 'connection_limit');
    expect(line).toMatchObject({ username: 'gw-lim', client: 'lim-c', action: 'connect' });
    // A site box coming back before the broker noticed it was gone replaces its old connection.
    const aClosed = new Promise<void>((r) => a.once('close', () => r()));
    await connect({ username: 'gw-lim', password: 'gw-lim-secret', clientId: 'lim-a' });
    await aClosed;
  });

  it('a publish flood is held to the rate, then cut off, and audited', async () => {
    const reader = await connect({ username: 'dashboard', password: 'dash-secret-1' });
    let delivered = 0;
    reader.on('message', () => delivered++);
    await reader.subscribeAsync('pantau/v1/flood/#', { qos: 0 });
    const c = await connect({ username: 'gw-flood', password: 'gw-flood-secret' });
    const started = Date.now();
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    for (let i = 0; i < 2000; i++) c.publish('pantau/v1/flood/ptp-1/telemetry', telemetry(i), { qos: 0 });
    await closed;
    const elapsedS = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 300));
    // At most the burst, what the rate refilled meanwhile, and the debt of one burst.
    expect(delivered).toBeLessThanOrEqual(2 * BURST + RATE * elapsedS + 1);
    expect(delivered).toBeGreaterThanOrEqual(BURST);
    const lines = auditLines().filter((l) => l.username === 'gw-flood');
    expect(lines.some((l) => l.event === 'rate_limited')).toBe(true);
    expect(lines.find((l) => l.event === 'rate_abuse')?.reason).toMatch(
      /over 20\/s \(burst 20\): disconnected/,
    );
  }, 20_000);

  it('a site box replaying uncapped is slowed to the rate, not disconnected', async () => {
    const publisher = new Publisher({
      site: 'slow',
      urls: [`mqtts://localhost:${central.tlsPort}`],
      username: 'gw-slow',
      password: 'gw-slow-secret',
      tls: { ca },
      keepaliveS: 5,
      clientId: 'pantau-gw-slow-test',
      log: pino({ level: 'silent' }),
      birth: () => ({ v: 1, state: 'online', ts: Date.now(), site: 'slow' }),
      replayRatePerS: 0,
      inflight: 10,
    });
    const n = 3 * BURST;
    for (let seq = 1; seq <= n; seq++)
      publisher.publish(topics.deviceTelemetry('slow', 'ptp-1'), JSON.parse(telemetry(seq)), Date.now());
    publisher.start();
    try {
      await waitFor('all acknowledged', () => publisher.counts.acked === n, 20_000);
      expect(publisher.connects).toBe(1);
      const lines = auditLines().filter((l) => l.username === 'gw-slow');
      expect(lines.some((l) => l.event === 'rate_limited')).toBe(true);
      expect(lines.some((l) => l.event === 'rate_abuse')).toBe(false);
    } finally {
      await publisher.stop();
    }
  }, 30_000);

  it('pantau-broker audit reads the log', async () => {
    const config = join(dir.path, 'central.yaml');
    const found = await cli('broker', [
      'audit',
      'search',
      '--config',
      config,
      '--event',
      'connection_limit',
      '--json',
    ]);
    const lines = found.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditLine);
    expect(lines.map((l) => [l.event, l.username, l.client])).toEqual([
      ['connection_limit', 'gw-lim', 'lim-c'],
    ]);
    expect(lines[0]!.remote).toMatch(/127\.0\.0\.1/);
    expect(Date.parse(lines[0]!.time)).toBeGreaterThan(Date.now() - 120_000);
    const tail = await cli('broker', ['audit', 'tail', '--config', config, '-n', '2']);
    expect(tail.stdout.trim().split('\n'), tail.stdout).toHaveLength(2);
    const none = await cli('broker', ['audit', 'search', '--config', config, '--username', 'nobody']).catch(
      (e: { code: number }) => e.code,
    );
    expect(none).toBe(1);
  });

  // Last: the back-off holds every client from this address for a moment.
  it('repeated failed logins from one address make it wait, even with the right password', async () => {
    for (let i = 0; i < 3; i++)
      expect(await refused({ username: 'gw-guess', password: `wrong-${i}` })).toMatch(
        /Bad username or password/i,
      );
    expect(await refused({ username: 'gw-guess', password: 'gw-guess-secret' })).toMatch(/Not authorized/i);
    const line = auditLines().find((l) => l.event === 'auth_backoff');
    expect(line?.reason).toMatch(/too many failed logins from .*127\.0\.0\.1; next try in [12] s/);
    await waitFor(
      'back-off over',
      async () => (await refused({ username: 'gw-guess', password: 'gw-guess-secret' })) === 'connected',
      10_000,
      1000,
    );
  }, 20_000);
});
