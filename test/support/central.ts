// A command center for system tests, as real processes: broker and dashboard on free ports, one
// account per site box (password `gw-<site>-secret` in `<site>.pw`), the dashboard's broker account,
// dashboard users (password `<user>-secret-1`) already logged in, and optionally a backbone.

import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Daemon, freePort, ROOT, runDaemon, waitFor } from './procs.js';

const run = promisify(execFile);
/** Runs a package's CLI (`broker`, `dashboard`, `gateway`) as a process. */
export const cli = (pkg: string, args: string[]) =>
  run(process.execPath, [join(ROOT, `${pkg}/dist/cli.js`), ...args]);

/** An HTTPS request that trusts only `ca` (fetch cannot be given a CA). */
export function httpsRequest(
  url: string,
  ca: Buffer,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A logged-in session: its cookie and the CSRF token its changing requests must send. */
export interface Login {
  status: number;
  cookie: string;
  csrf: string;
  /** The login answer's Set-Cookie, as sent. */
  setCookie: string;
}

/**
 * Logs in as the page does: the login form's CSRF token first (GET /api/login, with its cookie),
 * then the POST with both.
 */
export async function loginTo(
  base: string,
  username: string,
  password: string,
  ca?: Buffer | null,
): Promise<Login> {
  const get = async (
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string },
  ) => {
    if (ca) {
      const r = await httpsRequest(`${base}${path}`, ca, init);
      const sc = r.headers['set-cookie'];
      return {
        status: r.status,
        setCookie: Array.isArray(sc) ? sc.join(', ') : String(sc ?? ''),
        body: r.body.toString(),
      };
    }
    const r = await fetch(`${base}${path}`, init);
    return { status: r.status, setCookie: r.headers.getSetCookie().join(', '), body: await r.text() };
  };
  const form = await get('/api/login', {});
  const loginCookie = form.setCookie.split(';')[0] ?? '';
  const token = (JSON.parse(form.body) as { csrf: string }).csrf;
  const res = await get('/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: loginCookie, 'x-csrf-token': token },
    body: JSON.stringify({ username, password }),
  });
  const session = /pantau_sid=[^;]+/.exec(res.setCookie)?.[0] ?? '';
  const csrf = res.status === 200 ? (JSON.parse(res.body) as { csrf: string }).csrf : '';
  return { status: res.status, cookie: session, csrf, setCookie: res.setCookie };
}

export interface CentralOptions {
  dir: string;
  sites: string[];
  /** Installers may have a third element: their sites. */
  users: Array<[username: string, role: string, sites?: string[]]>;
  /** backbone.yaml text; the broker judges links every second and the dashboard serves them. */
  backbone?: string;
  /** The dashboard's broker account may send requests to site boxes (clock sync). */
  requests?: boolean;
  /** Readings in this InfluxDB (see support/influxd.ts) instead of the embedded SQLite file. */
  influx?: { url: string; database: string };
  /**
   * TLS everywhere, with a CA made by `pantau-broker ca` in <dir>/ca (server certificate for
   * localhost and 127.0.0.1): the broker on mqtts (plain listener off unless `plain`), the
   * dashboard on HTTPS and reading the broker over mqtts, with a client certificate when
   * `dashboardCert` (no password then).
   */
  tls?: { clientCerts?: 'off' | 'optional' | 'required'; plain?: boolean; dashboardCert?: boolean };
  /** More central.yaml, e.g. `limits:` or `audit:` blocks. */
  centralYaml?: string;
  /** More lines in central.yaml's mqtt block, e.g. `max_packet_bytes: 4096`. */
  mqttYaml?: string;
  /** The dashboard enrolls site boxes (`enroll:` in dashboard.yaml, writing credentials.yaml). */
  enroll?: boolean;
}

export interface Central {
  mqttPort: number;
  /** With tls: the broker's mqtts port. */
  tlsPort: number;
  httpPort: number;
  /** http://127.0.0.1:port or https://localhost:port. */
  base: string;
  /** With tls: the CA folder and its certificate. */
  caDir: string;
  ca: Buffer | null;
  daemons: Daemon[];
  /** Session cookie per user. */
  cookies: Record<string, string>;
  /** CSRF token per user's session; `api` sends it with every changing request. */
  csrf: Record<string, string>;
  api<T>(
    path: string,
    user: string,
    init?: RequestInit,
  ): Promise<{ status: number; type: string | null; body: T }>;
  stop(): Promise<void>;
}

export async function startCentral(o: CentralOptions): Promise<Central> {
  const mqttPort = await freePort();
  const httpPort = await freePort();
  const tlsPort = await freePort();
  const caDir = join(o.dir, 'ca');
  const tls = o.tls;
  if (tls) {
    await cli('broker', ['ca', 'init', '--dir', caDir, '--name', 'Pantau test CA']);
    await cli('broker', [
      'ca',
      'issue',
      '--dir',
      caDir,
      '--server',
      '--name',
      'localhost',
      '--name',
      '127.0.0.1',
    ]);
    if (tls.dashboardCert) await cli('broker', ['ca', 'issue', '--dir', caDir, '--client', 'dashboard']);
  }
  const cred = join(o.dir, 'credentials.yaml');
  for (const site of o.sites) {
    await cli('broker', [
      'credentials',
      'add-gateway',
      '--file',
      cred,
      '--site',
      site,
      `--password=gw-${site}-secret`,
    ]);
    writeFileSync(join(o.dir, `${site}.pw`), `gw-${site}-secret\n`);
  }
  await cli('broker', [
    'credentials',
    'add-reader',
    '--file',
    cred,
    '--username',
    'dashboard',
    '--password=dash-secret-1',
    ...(o.requests ? ['--requests'] : []),
  ]);
  for (const [user, role, sites] of o.users)
    await cli('dashboard', [
      'users',
      'add',
      '--file',
      join(o.dir, 'users.yaml'),
      '--username',
      user,
      '--role',
      role,
      `--password=${user}-secret-1`,
      ...(sites ? [`--sites=${sites.join(',')}`] : []),
    ]);
  writeFileSync(join(o.dir, 'dashboard.pw'), 'dash-secret-1\n');
  if (o.backbone) writeFileSync(join(o.dir, 'backbone.yaml'), o.backbone);
  const store = o.influx
    ? `store: { kind: influx, url: "${o.influx.url}", database: ${o.influx.database}, batch: { flush_ms: 200 } }`
    : 'store: { kind: sqlite, path: central.db }';
  const mqttTls = tls
    ? `
  plain: ${tls.plain === true}
  tls:
    port: ${tlsPort}
    cert_file: ca/server-localhost.crt
    key_file: ca/server-localhost.key
    ca_file: ca/ca.crt
    client_certs: ${tls.clientCerts ?? 'off'}`
    : '';
  writeFileSync(
    join(o.dir, 'central.yaml'),
    `mqtt:
  host: 127.0.0.1
  port: ${mqttPort}${mqttTls}${o.mqttYaml ? `\n  ${o.mqttYaml.trim().split('\n').join('\n  ')}` : ''}
credentials_file: credentials.yaml
${store}
${o.backbone ? 'backbone: { file: backbone.yaml, state_path: central-state.db, evaluate_every_s: 1 }\n' : ''}log_level: warn
${o.centralYaml ?? ''}
`,
  );
  const dashboardMqtt = tls
    ? `mqtt:
  url: "mqtts://localhost:${tlsPort}"
  username: dashboard
  ${tls.dashboardCert ? 'tls: { ca_file: ca/ca.crt, cert_file: ca/dashboard.crt, key_file: ca/dashboard.key }' : 'password_file: dashboard.pw\n  tls: { ca_file: ca/ca.crt }'}`
    : `mqtt: { url: "mqtt://127.0.0.1:${mqttPort}", username: dashboard, password_file: dashboard.pw }`;
  writeFileSync(
    join(o.dir, 'dashboard.yaml'),
    `http: { host: 127.0.0.1, port: ${httpPort}${tls ? ', tls: { cert_file: ca/server-localhost.crt, key_file: ca/server-localhost.key }' : ''} }
${dashboardMqtt}
${store}
${o.backbone ? 'backbone: { file: backbone.yaml, state_path: central-state.db }\n' : ''}users_file: users.yaml
log_level: warn
${o.enroll ? `enroll: { credentials_file: credentials.yaml, mqtt_urls: ["${tls ? `mqtts://localhost:${tlsPort}` : `mqtt://127.0.0.1:${mqttPort}`}"]${tls ? ', ca_file: ca/ca.crt' : ''} }\n` : ''}`,
  );
  const daemons = [
    runDaemon('broker', ['--config', join(o.dir, 'central.yaml')]),
    runDaemon('dashboard', ['--config', join(o.dir, 'dashboard.yaml')]),
  ];
  const ca = tls ? readFileSync(join(caDir, 'ca.crt')) : null;
  const base = ca ? `https://localhost:${httpPort}` : `http://127.0.0.1:${httpPort}`;
  await waitFor(
    'dashboard up',
    async () =>
      ca ? (await httpsRequest(`${base}/healthz`, ca)).status === 200 : (await fetch(`${base}/healthz`)).ok,
    20_000,
  ).catch((e: Error) => {
    // What the daemons said is the reason, usually.
    throw new Error(`${e.message}\nbroker: ${daemons[0]!.output()}\ndashboard: ${daemons[1]!.output()}`);
  });
  const cookies: Record<string, string> = {};
  const csrf: Record<string, string> = {};
  for (const [user] of o.users) {
    const l = await loginTo(base, user, `${user}-secret-1`, ca);
    if (l.status !== 200) throw new Error(`login of ${user} failed: ${l.status}`);
    cookies[user] = l.cookie;
    csrf[user] = l.csrf;
  }
  const changing = (init: RequestInit) => !['GET', 'HEAD'].includes((init.method ?? 'GET').toUpperCase());
  return {
    mqttPort,
    tlsPort,
    httpPort,
    base,
    caDir,
    ca,
    daemons,
    cookies,
    csrf,
    api: async <T>(path: string, user: string, init: RequestInit = {}) => {
      if (ca) {
        const res = await httpsRequest(`${base}${path}`, ca, {
          method: init.method ?? 'GET',
          headers: {
            cookie: cookies[user] ?? '',
            'content-type': 'application/json',
            ...(changing(init) ? { 'x-csrf-token': csrf[user] ?? '' } : {}),
            ...((init.headers as Record<string, string>) ?? {}),
          },
          ...(typeof init.body === 'string' ? { body: init.body } : {}),
        });
        const type = String(res.headers['content-type'] ?? '') || null;
        const body = type?.startsWith('application/json')
          ? (JSON.parse(res.body.toString()) as T)
          : (res.body as unknown as T);
        return { status: res.status, type, body };
      }
      const res = await fetch(`${base}${path}`, {
        ...init,
        headers: {
          cookie: cookies[user] ?? '',
          'content-type': 'application/json',
          ...(changing(init) ? { 'x-csrf-token': csrf[user] ?? '' } : {}),
          ...(init.headers ?? {}),
        },
      });
      const body = res.headers.get('content-type')?.startsWith('application/json')
        ? ((await res.json()) as T)
        : (Buffer.from(await res.arrayBuffer()) as unknown as T);
      return { status: res.status, type: res.headers.get('content-type'), body };
    },
    stop: async () => {
      await Promise.all(daemons.map((d) => d.stop()));
    },
  };
}
