// A command center for system tests, as real processes: broker and dashboard on free ports, one
// account per site box (password `gw-<site>-secret` in `<site>.pw`), the dashboard's broker account,
// dashboard users (password `<user>-secret-1`) already logged in, and optionally a backbone.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Daemon, freePort, ROOT, runDaemon, waitFor } from './procs.js';

const run = promisify(execFile);
const cli = (pkg: string, args: string[]) =>
  run(process.execPath, [join(ROOT, `${pkg}/dist/cli.js`), ...args]);

export interface CentralOptions {
  dir: string;
  sites: string[];
  users: Array<[username: string, role: string]>;
  /** backbone.yaml text; the broker judges links every second and the dashboard serves them. */
  backbone?: string;
  /** The dashboard's broker account may send requests to site boxes (clock sync). */
  requests?: boolean;
  /** Readings in this InfluxDB (see support/influxd.ts) instead of the embedded SQLite file. */
  influx?: { url: string; database: string };
}

export interface Central {
  mqttPort: number;
  httpPort: number;
  daemons: Daemon[];
  /** Session cookie per user. */
  cookies: Record<string, string>;
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
  for (const [user, role] of o.users)
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
    ]);
  writeFileSync(join(o.dir, 'dashboard.pw'), 'dash-secret-1\n');
  if (o.backbone) writeFileSync(join(o.dir, 'backbone.yaml'), o.backbone);
  const store = o.influx
    ? `store: { kind: influx, url: "${o.influx.url}", database: ${o.influx.database}, batch: { flush_ms: 200 } }`
    : 'store: { kind: sqlite, path: central.db }';
  writeFileSync(
    join(o.dir, 'central.yaml'),
    `mqtt: { host: 127.0.0.1, port: ${mqttPort} }
credentials_file: credentials.yaml
${store}
${o.backbone ? 'backbone: { file: backbone.yaml, state_path: central-state.db, evaluate_every_s: 1 }\n' : ''}log_level: warn
`,
  );
  writeFileSync(
    join(o.dir, 'dashboard.yaml'),
    `http: { host: 127.0.0.1, port: ${httpPort} }
mqtt: { url: "mqtt://127.0.0.1:${mqttPort}", username: dashboard, password_file: dashboard.pw }
${store}
${o.backbone ? 'backbone: { file: backbone.yaml, state_path: central-state.db }\n' : ''}users_file: users.yaml
log_level: warn
`,
  );
  const daemons = [
    runDaemon('broker', ['--config', join(o.dir, 'central.yaml')]),
    runDaemon('dashboard', ['--config', join(o.dir, 'dashboard.yaml')]),
  ];
  const base = `http://127.0.0.1:${httpPort}`;
  await waitFor('dashboard up', async () => (await fetch(`${base}/healthz`)).ok, 20_000);
  const cookies: Record<string, string> = {};
  for (const [user] of o.users) {
    const res = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: user, password: `${user}-secret-1` }),
    });
    if (res.status !== 200) throw new Error(`login of ${user} failed: ${res.status}`);
    cookies[user] = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  }
  return {
    mqttPort,
    httpPort,
    daemons,
    cookies,
    api: async <T>(path: string, user: string, init: RequestInit = {}) => {
      const res = await fetch(`${base}${path}`, {
        ...init,
        headers: { cookie: cookies[user] ?? '', 'content-type': 'application/json', ...(init.headers ?? {}) },
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
