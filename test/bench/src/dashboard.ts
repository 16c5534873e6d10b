// The dashboard benchmark (npm run bench; BENCH_DASHBOARD=0 skips it): a central as real processes
// (Pantau's broker and dashboard, SQLite store) with a generated backbone of BENCH_DASH_SITES (200)
// sites and BENCH_DASH_LINKS (400) radio links and BENCH_DASH_CAMERAS (500) cameras, fed through MQTT
// by one process of site boxes (dashboard-feed.ts) at real poll intervals (radios 30 s, cameras 60 s,
// health 60 s) or faster. Measured:
//  1. live-update fan-out: the dashboard process's CPU (utime+stime from /proc) per second and per
//     delivered event with 0, 1 and BENCH_DASH_CLIENTS (50) clients on /api/stream, at real speed and
//     BENCH_DASH_SPEEDUP (10) times faster; the 1-client run is the peer the fan-out is compared with;
//  2. the overview APIs under the load of BENCH_DASH_CLIENTS clients that behave like the page
//     (dashboard-clients.ts: map, summary and camera views, reloading after live changes): p50/p95/p99;
//  3. the page in Debian's headless Chromium: time until the map shows every link (median of
//     BENCH_DASH_LOADS cold loads), and the JavaScript and CSS the page loads, raw and gzip;
//  4. single overview requests once the store holds BENCH_DASH_HISTORY_DAYS (1) days of telemetry
//     batches at the feed's real rates (written into the SQLite file directly), and how long /healthz
//     waits meanwhile: a figure that grows with history shows here, not in minutes of live feed.
// Clients and feed share the machine with the central (see the printed note).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { gzipSync } from 'node:zlib';
import { addGateway, addReader } from '@pantau/broker';
import { openStore } from '@pantau/broker/store';
import { chromium } from 'playwright-core';
import type { ClientsConfig, ClientsReport, View } from './dashboard-clients.js';
import type { FeedConfig, FeedSite } from './dashboard-feed.js';
import { envWhole, fmt as f, freePort, median, procStat, sleep, waitPort } from './util.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const CHROMIUM = '/usr/bin/chromium';
/** Clients per load process: one process for 50 would measure its own event loop. */
const CLIENTS_PER_PROC = 25;

export interface DashboardBenchOptions {
  sites: number;
  links: number;
  cameras: number;
  clients: number;
  speedup: number;
  fanoutS: number;
  apiS: number;
  loads: number;
  historyDays: number;
}

export function dashboardBenchOptionsFromEnv(): DashboardBenchOptions | null {
  if (process.env.BENCH_DASHBOARD === '0') return null;
  const o = {
    sites: envWhole('BENCH_DASH_SITES', 200),
    links: envWhole('BENCH_DASH_LINKS', 400),
    cameras: envWhole('BENCH_DASH_CAMERAS', 500),
    clients: envWhole('BENCH_DASH_CLIENTS', 50),
    speedup: envWhole('BENCH_DASH_SPEEDUP', 10),
    fanoutS: envWhole('BENCH_DASH_FANOUT_S', 20),
    apiS: envWhole('BENCH_DASH_API_S', 30),
    loads: envWhole('BENCH_DASH_LOADS', 5),
    historyDays: envWhole('BENCH_DASH_HISTORY_DAYS', 1),
  };
  if (o.sites < 2) throw new Error('BENCH_DASH_SITES must be at least 2');
  if (o.links < o.sites - 1)
    throw new Error('BENCH_DASH_LINKS must be at least BENCH_DASH_SITES - 1 (the tree)');
  return o;
}

const log = (s: string) => process.stderr.write(`[dashboard] ${s}\n`);

/** A sorted copy's quantile (nearest rank). */
function quantile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : Number.NaN;
}

// ---------------------------------------------------------------------------------------------------
// The backbone: a tree of radio links from the command center (four links down from each site),
// standby links between other pairs of sites, and the cameras spread over all sites.

interface Generated {
  yaml: string;
  sites: FeedSite[];
}

function generateBackbone(o: DashboardBenchOptions): Generated {
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const KEC = ['Kota', 'Tanete', 'Barru', 'Mallusetasi', 'Soppeng Riaja', 'Balusu', 'Pujananting'];
  const id = (i: number) => (i === 0 ? 'scc' : `site-${String(i).padStart(3, '0')}`);
  const sites: FeedSite[] = [];
  const siteYaml: string[] = [];
  for (let i = 0; i < o.sites; i++) {
    const name = i === 0 ? 'Command Center' : `Menara ${String(i).padStart(3, '0')}`;
    sites.push({ id: id(i), name, password: `gw-${id(i)}-secret`, radios: [], cameras: [] });
    const priority = i % 17 === 0 ? 'emergency' : i % 5 === 0 ? 'basic' : 'normal';
    siteYaml.push(
      `  - { id: ${id(i)}, name: "${name}", kecamatan: ${KEC[i % KEC.length]}, agency: "Dinas ${i % 9}", priority: ${priority}, coords: [${(-4.2 - rnd() * 0.5).toFixed(4)}, ${(119.5 + rnd() * 0.5).toFixed(4)}] }`,
    );
  }
  const linkYaml: string[] = [];
  const pairs = new Set<string>();
  const link = (n: number, a: number, b: number, standby: boolean) => {
    pairs.add(`${a}-${b}`);
    sites[a]!.radios.push(`ptp-${n}-a`);
    sites[b]!.radios.push(`ptp-${n}-b`);
    linkYaml.push(
      `  - { id: l-${n}, name: "${sites[a]!.name} – ${sites[b]!.name}", medium: radio, a: { site: ${id(a)}, device: ptp-${n}-a }, b: { site: ${id(b)}, device: ptp-${n}-b }, capacity_bps: 150000000${standby ? ', standby: true' : ''} }`,
    );
  };
  let n = 0;
  for (let i = 1; i < o.sites; i++) link(n++, Math.floor((i - 1) / 4), i, false);
  while (n < o.links) {
    const x = Math.floor(rnd() * o.sites);
    const y = Math.floor(rnd() * o.sites);
    const [a, b] = x < y ? [x, y] : [y, x];
    if (a === b || pairs.has(`${a}-${b}`)) continue;
    link(n++, a, b, true);
  }
  for (let c = 0; c < o.cameras; c++) sites[c % o.sites]!.cameras.push(`cam-${c}`);
  return {
    yaml: `root: scc\nsites:\n${siteYaml.join('\n')}\nlinks:\n${linkYaml.join('\n')}\n`,
    sites,
  };
}

// ---------------------------------------------------------------------------------------------------

interface Central {
  base: string;
  mqttPort: number;
  broker: ChildProcess;
  dashboard: ChildProcess;
  stop(): Promise<void>;
}

function stopper(proc: ChildProcess): Promise<void> {
  return new Promise<void>((res) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return res();
    proc.once('exit', () => res());
    proc.kill('SIGTERM');
  });
}

/** BENCH_DASH_PROFILE=DIR: the dashboard writes a V8 CPU profile there (node --cpu-prof). */
const PROFILE = process.env.BENCH_DASH_PROFILE;

async function startCentral(dir: string, g: Generated): Promise<Central> {
  const mqttPort = await freePort();
  const httpPort = await freePort();
  const cred = join(dir, 'credentials.yaml');
  log(`creating ${g.sites.length} site-box accounts ...`);
  for (const s of g.sites) await addGateway(cred, s.id, `gw-${s.id}`, s.password);
  await addReader(cred, 'dashboard', 'dash-secret-1');
  writeFileSync(join(dir, 'dashboard.pw'), 'dash-secret-1\n');
  for (const [user, role] of [
    ['eng', 'engineer'],
    ['boss', 'leadership'],
  ] as const)
    execFileSync(process.execPath, [
      join(ROOT, 'dashboard/dist/cli.js'),
      'users',
      'add',
      '--file',
      join(dir, 'users.yaml'),
      '--username',
      user,
      '--role',
      role,
      `--password=${user}-secret-1`,
    ]);
  writeFileSync(join(dir, 'backbone.yaml'), g.yaml);
  // The broker judges links at its default interval (30 s), as in production.
  writeFileSync(
    join(dir, 'central.yaml'),
    `mqtt: { host: 127.0.0.1, port: ${mqttPort} }
credentials_file: credentials.yaml
store: { kind: sqlite, path: central.db }
backbone: { file: backbone.yaml, state_path: central-state.db }
limits: { gateway_connections: 1000, reader_connections: 1000, publish_rate_per_s: 100000, publish_burst: 1000000 }
log_level: warn
`,
  );
  writeFileSync(
    join(dir, 'dashboard.yaml'),
    `http: { host: 127.0.0.1, port: ${httpPort} }
mqtt: { url: "mqtt://127.0.0.1:${mqttPort}", username: dashboard, password_file: dashboard.pw }
store: { kind: sqlite, path: central.db }
backbone: { file: backbone.yaml, state_path: central-state.db }
users_file: users.yaml
log_level: warn
`,
  );
  // Their logs go to files in the run's folder, kept when the run fails.
  const out = (name: string) => openSync(join(dir, name), 'w');
  const brokerLog = out('broker.log');
  const dashLog = out('dashboard.log');
  const broker = spawn(
    process.execPath,
    [join(ROOT, 'broker/dist/cli.js'), '--config', join(dir, 'central.yaml')],
    {
      cwd: dir,
      stdio: ['ignore', brokerLog, brokerLog],
    },
  );
  await waitPort(mqttPort, `the broker did not start on port ${mqttPort}`);
  const prof = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${resolve(PROFILE)}`] : [];
  const dashboard = spawn(
    process.execPath,
    [...prof, join(ROOT, 'dashboard/dist/cli.js'), '--config', join(dir, 'dashboard.yaml')],
    { cwd: dir, stdio: ['ignore', dashLog, dashLog] },
  );
  closeSync(brokerLog);
  closeSync(dashLog);
  for (const [name, p] of [
    ['broker', broker],
    ['dashboard', dashboard],
  ] as const)
    p.on('exit', (code, signal) => {
      if (!stopping) log(`the ${name} exited during the run: code ${code}, signal ${signal}`);
    });
  let stopping = false;
  await waitPort(httpPort, `the dashboard did not start on port ${httpPort}`);
  return {
    base: `http://127.0.0.1:${httpPort}`,
    mqttPort,
    broker,
    dashboard,
    stop: async () => {
      stopping = true;
      await stopper(dashboard);
      await stopper(broker);
    },
  };
}

/** A load process speaking JSON lines: commands on stdin, one JSON answer per line on stdout. */
class Child {
  readonly proc: ChildProcess;
  private readonly lines: Interface;
  private readonly waiting: Array<(v: unknown) => void> = [];
  private readonly queued: unknown[] = [];
  private readonly failed: Array<(e: Error) => void> = [];

  constructor(script: string, config: unknown) {
    this.proc = spawn(process.execPath, [join(import.meta.dirname, script), JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.proc.on('exit', (code) => {
      for (const fail of this.failed.splice(0)) fail(new Error(`${script} exited (${code})`));
    });
    this.lines = createInterface({ input: this.proc.stdout! });
    this.lines.on('line', (l) => {
      const v = JSON.parse(l) as unknown;
      const w = this.waiting.shift();
      if (w) w(v);
      else this.queued.push(v);
    });
  }

  next<T>(timeoutMs = 120_000): Promise<T> {
    if (this.queued.length) return Promise.resolve(this.queued.shift() as T);
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('a load process did not answer')), timeoutMs);
      this.failed.push(reject);
      this.waiting.push((v) => {
        this.failed.shift();
        clearTimeout(t);
        resolve(v as T);
      });
    });
  }

  send(cmd: string): void {
    this.proc.stdin!.write(`${cmd}\n`);
  }

  async ask<T>(cmd: string): Promise<T> {
    this.send(cmd);
    return this.next<T>();
  }

  end(): Promise<void> {
    return new Promise((res) => {
      if (this.proc.exitCode !== null) return res();
      this.proc.once('exit', () => res());
      this.send('end');
    });
  }
}

/** Starts `clients` over as many processes as needed; resolves once all are logged in and streaming. */
async function startClients(
  base: string,
  views: Array<{ user: 'eng' | 'boss'; view: View }>,
  mode: ClientsConfig['mode'],
): Promise<Child[]> {
  const children: Child[] = [];
  for (let i = 0; i < views.length; i += CLIENTS_PER_PROC) {
    const cfg: ClientsConfig = {
      base,
      mode,
      clients: views
        .slice(i, i + CLIENTS_PER_PROC)
        .map((v) => ({ username: v.user, password: `${v.user}-secret-1`, view: v.view })),
    };
    children.push(new Child('dashboard-clients.js', cfg));
  }
  // Logins and first loads one client after another: slow when the dashboard is (that is measured later).
  await Promise.all(children.map((c) => c.next(600_000)));
  return children;
}

async function report(children: Child[]): Promise<ClientsReport> {
  const all = await Promise.all(children.map((c) => c.ask<ClientsReport>('report')));
  const out: ClientsReport = { latency: {}, errors: 0, events: 0, eventBytes: 0, streams: 0 };
  for (const r of all) {
    out.errors += r.errors;
    out.events += r.events;
    out.eventBytes += r.eventBytes;
    out.streams += r.streams;
    for (const [k, v] of Object.entries(r.latency)) out.latency[k] = [...(out.latency[k] ?? []), ...v];
  }
  return out;
}

async function login(base: string, user: string): Promise<string> {
  // As the page does: the login form's token first (CSRF), then the POST that carries it.
  const form = await fetch(`${base}/api/login`);
  const { csrf } = (await form.json()) as { csrf: string };
  const res = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-csrf-token': csrf,
      cookie: (form.headers.get('set-cookie') ?? '').split(';')[0]!,
    },
    body: JSON.stringify({ username: user, password: `${user}-secret-1` }),
  });
  if (res.status !== 200) throw new Error(`login of ${user}: ${res.status}`);
  return /pantau_sid=([^;]+)/.exec(res.headers.getSetCookie().join(', '))?.[1] ?? '';
}

/** Waits until the dashboard shows every site box online and every device, from the feed's first round. */
async function waitPopulated(base: string, cookie: string, o: DashboardBenchOptions): Promise<void> {
  const want = o.links * 2 + o.cameras;
  for (let i = 0; ; i++) {
    const get = async <T>(p: string) =>
      (await (await fetch(`${base}${p}`, { headers: { cookie: `pantau_sid=${cookie}` } })).json()) as T;
    const sites = await get<Array<{ state: string }>>('/api/sites');
    const devices = await get<unknown[]>('/api/devices');
    const online = sites.filter((s) => s.state === 'online').length;
    if (online === o.sites && devices.length === want) return;
    if (i > 300)
      throw new Error(`central not populated: ${online} sites online, ${devices.length}/${want} devices`);
    await sleep(500);
  }
}

interface FanoutRow {
  speed: number;
  clients: number;
  mqttPerS: number;
  cpuMsPerS: number;
  eventsPerS: number;
  cpuUsPerEvent: number;
  rssMb: number;
  brokerCpuMsPerS: number;
}

async function fanout(
  c: Central,
  feed: Child,
  o: DashboardBenchOptions,
  speed: number,
  clients: number,
): Promise<FanoutRow> {
  feed.send(`speed ${speed}`);
  const children = clients
    ? await startClients(
        c.base,
        Array.from({ length: clients }, () => ({ user: 'eng' as const, view: 'map' as const })),
        'stream',
      )
    : [];
  await sleep(3000);
  for (const ch of children) ch.send('reset');
  const d0 = procStat(c.dashboard.pid!);
  const b0 = procStat(c.broker.pid!);
  const m0 = (await feed.ask<{ sent: number }>('report')).sent;
  const t0 = performance.now();
  await sleep(o.fanoutS * 1000);
  const secs = (performance.now() - t0) / 1000;
  const d1 = procStat(c.dashboard.pid!);
  const b1 = procStat(c.broker.pid!);
  const m1 = (await feed.ask<{ sent: number }>('report')).sent;
  const r = children.length ? await report(children) : { events: 0, errors: 0, streams: 0 };
  await Promise.all(children.map((ch) => ch.end()));
  const cpu = d1.cpuMs - d0.cpuMs;
  const row = {
    speed,
    clients,
    mqttPerS: (m1 - m0) / secs,
    cpuMsPerS: cpu / secs,
    eventsPerS: r.events / secs,
    cpuUsPerEvent: r.events ? (cpu * 1000) / r.events : Number.NaN,
    rssMb: d1.rssKb / 1024,
    brokerCpuMsPerS: (b1.cpuMs - b0.cpuMs) / secs,
  };
  log(
    `fan-out ${speed}x, ${clients} clients: ${f(row.cpuMsPerS)} ms CPU/s, ${f(row.eventsPerS)} events/s delivered, ${f(row.mqttPerS)} MQTT msg/s`,
  );
  return row;
}

/** The clients of the API phase: the map (engineers' overview) for half, summary and cameras for the rest. */
function pageViews(n: number): Array<{ user: 'eng' | 'boss'; view: View }> {
  return Array.from({ length: n }, (_, i) =>
    i % 10 < 5
      ? { user: 'eng' as const, view: 'map' as const }
      : i % 10 < 8
        ? { user: 'boss' as const, view: 'summary' as const }
        : { user: 'eng' as const, view: 'cameras' as const },
  );
}

interface PageLoad {
  drawnMs: number;
  paintedMs: number;
  fcpMs: number;
  /** When the map's data (/api/backbone and /api/sites) had arrived. */
  apiMs: number;
  assets: Array<{ url: string; type: string; raw: number; gzip: number }>;
}

// Runs in the page before its scripts: notes when the map holds every link, and the frame after.
const MAP_WATCH = (links: number) => `(() => {
  const check = () => {
    if (window.__drawn !== undefined) return true;
    if (document.querySelectorAll('#map-svg g.link').length < ${links}) return false;
    window.__drawn = performance.now();
    requestAnimationFrame(() => requestAnimationFrame(() => { window.__painted = performance.now(); }));
    return true;
  };
  new MutationObserver((_, o) => { if (check()) o.disconnect(); }).observe(document, { childList: true, subtree: true });
})()`;

async function pageLoads(base: string, sid: string, o: DashboardBenchOptions): Promise<PageLoad[]> {
  try {
    readFileSync(CHROMIUM);
  } catch {
    throw new Error(`${CHROMIUM} missing: apt-get install -y chromium`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const out: PageLoad[] = [];
  try {
    for (let i = 0; i < o.loads; i++) {
      // A new context each time: a cold cache, as on a control-room screen's first visit.
      const ctx = await browser.newContext({ viewport: { width: 1600, height: 900 } });
      await ctx.addCookies([{ name: 'pantau_sid', value: sid, url: base }]);
      await ctx.addInitScript(MAP_WATCH(o.links));
      const page = await ctx.newPage();
      const bodies: Array<Promise<PageLoad['assets'][number] | null>> = [];
      page.on('response', (res) => {
        const type = res.request().resourceType();
        if (type !== 'script' && type !== 'stylesheet' && type !== 'document') return;
        bodies.push(
          res
            .body()
            .then((b) => ({
              url: res.url().replace(base, ''),
              type,
              raw: b.length,
              gzip: gzipSync(b).length,
            }))
            .catch(() => null),
        );
      });
      await page.goto(`${base}/#map`);
      await page.waitForFunction('window.__painted !== undefined', null, { timeout: 120_000 });
      const t = (await page.evaluate(`({
        drawn: window.__drawn,
        painted: window.__painted,
        fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
        api: Math.max(...performance.getEntriesByType('resource')
          .filter((e) => /\\/api\\/(backbone|sites)$/.test(e.name)).map((e) => e.responseEnd)),
      })`)) as { drawn: number; painted: number; fcp: number; api: number };
      const assets = (await Promise.all(bodies)).filter((a) => a !== null);
      out.push({ drawnMs: t.drawn, paintedMs: t.painted, fcpMs: t.fcp, apiMs: t.api, assets });
      log(`page load ${i + 1}: map drawn at ${f(t.drawn)} ms, painted ${f(t.painted)} ms`);
      await ctx.close();
    }
  } finally {
    await browser.close();
  }
  return out;
}

interface HistoryRow {
  days: number;
  batches: number;
  /** One request each, the shared answer expired: median of three. */
  routes: Record<string, number>;
  /** /healthz asked while /api/sites is computed: how long the whole dashboard stands still. */
  healthzMs: number;
}

/**
 * The store after `days` of telemetry batches at the feed's real rates, written straight into the
 * broker's SQLite file (the broker keeps running; the feed is paused), then single requests timed.
 */
async function history(
  dir: string,
  c: Central,
  sid: string,
  g: Generated,
  days: number,
): Promise<HistoryRow> {
  const perSite = (s: FeedSite) => Math.round(days * 86400 * (s.radios.length / 30 + s.cameras.length / 60));
  // Through the store, as ingest writes them (with what it keeps for the sequence report), but without
  // the readings' samples: the report's cost is what this measures, not the history charts'.
  const store = openStore({ kind: 'sqlite', path: join(dir, 'central.db') });
  let batches = 0;
  const t0 = Date.now() - days * 86400_000;
  for (const s of g.sites) {
    const n = perSite(s);
    const device = s.radios[0] ?? s.cameras[0] ?? 'x';
    // Older numbers than the live feed's: one block per site.
    for (let i = 0; i < n; i += 5000) {
      const chunk: Array<Promise<unknown>> = [];
      for (let k = i; k < Math.min(n, i + 5000); k++)
        chunk.push(
          store.ingestTelemetry(
            s.id,
            { v: 1, seq: -n + k, device, backfill: false, readings: [] },
            t0 + k * 1000,
          ),
        );
      await Promise.all(chunk);
    }
    batches += n;
  }
  await store.close();
  const get = async (path: string) => {
    const t = performance.now();
    const res = await fetch(`${c.base}${path}`, { headers: { cookie: `pantau_sid=${sid}` } });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
    return performance.now() - t;
  };
  const routes: Record<string, number> = {};
  for (const path of ['/api/backbone', '/api/sites', '/api/summary', '/api/cameras']) {
    const xs: number[] = [];
    for (let i = 0; i < 3; i++) {
      await sleep(1100);
      xs.push(await get(path));
    }
    routes[path] = median(xs);
  }
  await sleep(1100);
  const sites = get('/api/sites');
  await sleep(20);
  const healthzMs = await get('/healthz');
  await sites;
  log(`history of ${days} day(s): ${batches} batches; /api/sites ${f(routes['/api/sites']!)} ms`);
  return { days, batches, routes, healthzMs };
}

function table(title: string, rows: string[][], widths: number[]): void {
  process.stdout.write(`\n${title}\n`);
  for (const r of rows)
    process.stdout.write(
      `${r.map((c, i) => (i === 0 ? c.padEnd(widths[0]!) : c.padStart(widths[i] ?? 12))).join('')}\n`,
    );
}

export async function runDashboardBench(o: DashboardBenchOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-bench-dashboard-'));
  const g = generateBackbone(o);
  const c = await startCentral(dir, g);
  let feed: Child | null = null;
  let ok = false;
  try {
    const feedCfg: FeedConfig = {
      port: c.mqttPort,
      sites: g.sites,
      radioEveryS: 30,
      cameraEveryS: 60,
      healthEveryS: 60,
    };
    feed = new Child('dashboard-feed.js', feedCfg);
    await feed.next();
    const sid = await login(c.base, 'eng');
    await waitPopulated(c.base, sid, o);
    feed.send('speed 1');
    // The broker judges the links every 30 s: wait for its first verdicts so the map has colours.
    await sleep(32_000);
    log(`central populated: ${o.sites} sites, ${o.links} links, ${o.links * 2} radios, ${o.cameras} cameras`);

    // 1. Fan-out.
    const rows: FanoutRow[] = [];
    if (o.fanoutS > 0)
      for (const speed of [...new Set([1, o.speedup])].filter((s) => s > 0))
        for (const n of [...new Set([0, 1, o.clients])]) rows.push(await fanout(c, feed, o, speed, n));

    // 2. The overview APIs under the clients' load, at real speed.
    feed.send('speed 1');
    const clients = await startClients(c.base, pageViews(o.clients), 'page');
    await sleep(5000);
    for (const ch of clients) ch.send('reset');
    const d0 = procStat(c.dashboard.pid!);
    const t0 = performance.now();
    await sleep(o.apiS * 1000);
    const apiSecs = (performance.now() - t0) / 1000;
    const d1 = procStat(c.dashboard.pid!);
    const api = await report(clients);
    await Promise.all(clients.map((ch) => ch.end()));

    // 3. The page, with the feed running at real speed and no other clients.
    const loads = await pageLoads(c.base, sid, o);
    const hwm = procStat(c.dashboard.pid!).hwmKb / 1024;

    // 4. The same APIs once the store holds days of history.
    feed.send('speed 0');
    const hist = o.historyDays > 0 ? await history(dir, c, sid, g, o.historyDays) : null;

    // ---- Report.
    const byClients = (speed: number, n: number) => rows.find((r) => r.speed === speed && r.clients === n);
    const fanRows: string[][] = [
      [
        '',
        'speed',
        'clients',
        'MQTT msg/s',
        'events/s',
        'dash CPU ms/s',
        'µs CPU/event',
        'dash RSS MB',
        'broker ms/s',
      ],
    ];
    for (const r of rows)
      fanRows.push([
        '',
        `${r.speed}x`,
        String(r.clients),
        f(r.mqttPerS),
        f(r.eventsPerS),
        f(r.cpuMsPerS),
        f(r.cpuUsPerEvent, 1),
        f(r.rssMb),
        f(r.brokerCpuMsPerS),
      ]);
    const ratios: string[] = [];
    for (const speed of [...new Set([1, o.speedup])].filter((s) => s > 0)) {
      const one = byClients(speed, 1);
      const many = byClients(speed, o.clients);
      const none = byClients(speed, 0);
      if (one && many && none)
        ratios.push(
          `${speed}x: CPU with ${o.clients} clients / with 1 client = ${f(many.cpuMsPerS / one.cpuMsPerS, 2)}; per added client ${f((many.cpuMsPerS - one.cpuMsPerS) / Math.max(1, o.clients - 1), 2)} ms CPU/s (${f(((many.cpuMsPerS - one.cpuMsPerS) * 1000) / Math.max(1, many.eventsPerS - one.eventsPerS), 1)} µs per added event); reading the feed with no client: ${f(none.cpuMsPerS)} ms/s`,
        );
    }
    table(
      `Dashboard live fan-out: ${o.sites} sites, ${o.links} links (${o.links * 2} radios), ${o.cameras} cameras; speed 1x = radios every 30 s, cameras and health every 60 s; engineers' streams (full payloads), ${o.fanoutS} s each`,
      fanRows,
      [2, 7, 9, 12, 11, 15, 14, 13, 13],
    );
    for (const r of ratios) process.stdout.write(`${r}\n`);

    const apiRows: string[][] = [['', 'requests', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms']];
    const all: number[] = [];
    for (const path of ['/api/backbone', '/api/sites', '/api/summary', '/api/cameras']) {
      const xs = (api.latency[path] ?? []).sort((a, b) => a - b);
      all.push(...xs);
      apiRows.push([
        path,
        String(xs.length),
        f(xs.length / apiSecs, 1),
        f(quantile(xs, 0.5), 1),
        f(quantile(xs, 0.95), 1),
        f(quantile(xs, 0.99), 1),
        f(xs.at(-1) ?? Number.NaN, 1),
      ]);
    }
    all.sort((a, b) => a - b);
    apiRows.push([
      'all overview calls',
      String(all.length),
      f(all.length / apiSecs, 1),
      f(quantile(all, 0.5), 1),
      f(quantile(all, 0.95), 1),
      f(quantile(all, 0.99), 1),
      f(all.at(-1) ?? Number.NaN, 1),
    ]);
    table(
      `Overview APIs under ${o.clients} clients behaving like the page (half map, 3/10 leadership summary, 1/10 cameras; ${o.apiS} s at 1x; ${api.errors} errors; dashboard CPU ${f((d1.cpuMs - d0.cpuMs) / apiSecs)} ms/s, RSS ${f(d1.rssKb / 1024)} MB)`,
      apiRows,
      [22, 10, 8, 9, 9, 9, 9],
    );

    const first = loads[0]!;
    const sum = (type: string, k: 'raw' | 'gzip') =>
      first.assets.filter((a) => a.type === type).reduce((n, a) => n + a[k], 0);
    const pageRows: string[][] = [
      ['', 'median', 'min', 'max'],
      ...(
        [
          ['first contentful paint (ms)', loads.map((l) => l.fcpMs)],
          ['map data arrived (/api/backbone, /api/sites, ms)', loads.map((l) => l.apiMs)],
          [`map with all ${o.links} links in the DOM (ms)`, loads.map((l) => l.drawnMs)],
          ['... painted (2nd frame after, ms)', loads.map((l) => l.paintedMs)],
        ] as const
      ).map(([k, xs]) => [k, f(median([...xs])), f(Math.min(...xs)), f(Math.max(...xs))]),
    ];
    table(
      `The dashboard page in headless Chromium (Debian's), #map, ${o.loads} cold loads, times since navigation start`,
      pageRows,
      [52, 10, 10, 10],
    );
    const sizeRows: string[][] = [
      ['', 'files', 'raw kB', 'gzip kB'],
      ...['script', 'stylesheet', 'document'].map((type) => [
        type === 'script' ? 'JavaScript' : type === 'stylesheet' ? 'CSS' : 'HTML',
        String(first.assets.filter((a) => a.type === type).length),
        f(sum(type, 'raw') / 1024, 1),
        f(sum(type, 'gzip') / 1024, 1),
      ]),
    ];
    table(
      'What the page loads (the server sends it uncompressed: raw is what goes over the wire)',
      sizeRows,
      [14, 8, 10, 10],
    );
    const biggest = [...first.assets].sort((a, b) => b.raw - a.raw).slice(0, 3);
    process.stdout.write(
      `largest: ${biggest.map((a) => `${a.url} ${f(a.raw / 1024, 1)} kB (${f(a.gzip / 1024, 1)} gz)`).join(', ')}\n`,
    );
    if (hist)
      table(
        `One request each (median of 3, nothing shared) after ${hist.days} day(s) of telemetry history at 1x (${f(hist.batches)} batches in the store); /healthz asked 20 ms into an /api/sites took ${f(hist.healthzMs)} ms`,
        [['', 'ms'], ...Object.entries(hist.routes).map(([k, v]) => [k, f(v, 1)])],
        [22, 10],
      );
    process.stdout.write(
      `dashboard peak RSS over the run: ${f(hwm)} MB. Feed and client processes run on the same cores as the central: latencies include that competition.\n`,
    );
    ok = true;
  } finally {
    await feed?.end().catch(() => {});
    await c.stop();
    if (ok) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir} (broker.log, dashboard.log)`);
  }
}
