// The installer page on the site box's LAN: log in with the PIN, scan, look at what was found, test a
// device, add it with a place name and priority, check the new site.yaml and apply it without a
// restart, then commission the site. Plain node:http (one page, a handful of JSON routes: fastify
// would be a new dependency on the box for little). Every asset is served from the box itself.

import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ConfigError, isHostAddress, pathFrom, verifySecret } from '@pantau/config';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { type GatewayConfig, type InstallerConfig, parseGatewayConfig } from '../config.js';
import {
  type FoundDevice,
  isConfigured,
  type ScanOptions,
  scanLan,
  scanTargets,
  TargetError,
  testDevice,
} from '../scan/index.js';
import { Sessions, sameToken, Throttle } from './auth.js';
import { type FarEnd, farAddress } from './commission.js';
import { addDevice, DraftError, deviceIds, type Priority, removeDevice, slugify } from './draft.js';
import { readPinHash } from './pin.js';

/** What applying site.yaml answers (RunningGateway.applyConfig's result, the parts shown here). */
export interface ApplyOutcome {
  ok: boolean;
  error?: string;
  rolledBack?: boolean;
  changes?: { added: string[]; removed: string[]; changed: string[] };
  restartNeeded?: string[];
  unconfirmed?: string[];
}

export interface CommissionHooks {
  /** Runs the commissioning of the site's configured devices; resolves to the report's id. */
  run(o: {
    by: string;
    note?: string;
    farEnds?: FarEnd[];
  }): Promise<{ id: string; json: unknown; html: string; published: boolean }>;
}

export interface InstallerDeps {
  /** The running config (after a reload, the new one). */
  config: () => GatewayConfig;
  apply: (yamlText: string, o: { by: string }) => Promise<ApplyOutcome>;
  commission?: CommissionHooks;
  /**
   * Redeems a one-time enrollment token at the central (enroll.ts) and writes the box's identity into
   * site.yaml; the daemon then restarts to take it (a new site id and account need a new session).
   */
  enroll?: (o: { centralUrl: string; token: string; by: string }) => Promise<{ site: string }>;
  log: Logger;
}

export interface InstallerServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

const ASSETS = join(import.meta.dirname, '..', '..', 'installer-web');
const ASSET_TYPES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'index.html': 'text/html; charset=utf-8',
};
const COOKIE = 'pantau_installer';
const MAX_BODY = 64 * 1024;
const PRIORITIES: readonly Priority[] = ['emergency', 'basic', 'normal'];

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const bad = (message: string) => new HttpError(400, message);

function cookieOf(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
      return reject(new HttpError(415, 'send application/json'));
    const chunks: Buffer[] = [];
    let size = 0;
    // Past the limit the rest is read and dropped, so the answer reaches the client.
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return reject(new HttpError(413, `request too large (at most ${MAX_BODY} bytes)`));
      try {
        const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
        resolve(v as Record<string, unknown>);
      } catch {
        reject(bad('the body is not a JSON object'));
      }
    });
    req.on('error', reject);
  });
}

const str = (b: Record<string, unknown>, k: string, max = 200): string | undefined => {
  const v = b[k];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw bad(`${k} must be text`);
  if (v.length > max) throw bad(`${k} is too long (at most ${max} characters)`);
  return v;
};
const int = (b: Record<string, unknown>, k: string, min: number, max: number): number | undefined => {
  const v = b[k];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw bad(`${k} must be a whole number ${min}–${max}`);
  return n;
};
const list = (v: string | undefined) =>
  (v ?? '')
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

/** Checks site.yaml text exactly as the daemon would load it (secret and map files included). */
export function validateText(
  text: string,
  file: string,
): { ok: true; devices: number } | { ok: false; errors: string[] } {
  try {
    return { ok: true, devices: parseGatewayConfig(text, file).devices.length };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, errors: e.message.split('\n').filter(Boolean) };
    return { ok: false, errors: [(e as Error).message] };
  }
}

/** `far_ends: [{ of, address, community }]`: far-end radios to read through their links. */
function farEndsOf(v: unknown, cfg: GatewayConfig): FarEnd[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > 32) throw bad('far_ends must be a list (at most 32)');
  return v.flatMap((x, i) => {
    if (typeof x !== 'object' || x === null) throw bad(`far_ends[${i}] must be an object`);
    const o = x as Record<string, unknown>;
    const address = str(o, 'address', 255);
    if (!address) return []; // a radio whose far end the installer left empty
    const of = str(o, 'of', 64) ?? '';
    if (!cfg.devices.some((d) => d.id === of && d.kind === 'radio'))
      throw bad(`far_ends[${i}].of: no radio "${of}" in site.yaml`);
    const at = farAddress(address);
    if (!at || !isHostAddress(at.address))
      throw bad(`far_ends[${i}].address: "${address}" is not an address (or address:port)`);
    return [{ of, ...at, community: str(o, 'community', 128) ?? 'public' }];
  });
}

interface ScanJob {
  running: boolean;
  started: number;
  progress: Record<string, { done: number; total: number }>;
  found: FoundDevice[];
  error?: string;
  /** Camera credentials and comm key given for this scan: reused for tests and additions. */
  camera?: { username: string; password: string };
  commKey?: number;
}

export async function startInstallerServer(deps: InstallerDeps): Promise<InstallerServer> {
  const initial = deps.config();
  if (!initial.installer) throw new Error('no installer section in site.yaml');
  const section: InstallerConfig = initial.installer;
  const pinFile = pathFrom(initial.file, section.pin_file);
  const sessions = new Sessions(section.session_idle_min * 60_000);
  const throttle = new Throttle();
  const log = deps.log.child({ component: 'installer' });
  let job: ScanJob | null = null;
  /** site.yaml as it will be applied: the running file plus additions made on the page. */
  let draft: string | null = null;
  /** The file text the draft was started from: applied over a file changed since, it would undo that. */
  let draftBase: string | null = null;
  const setDraft = (text: string | null, base: string | null) => {
    draft = text;
    draftBase = text === null ? null : (draftBase ?? base);
  };
  let busy: string | null = null;

  const configFile = () => deps.config().file;
  const draftText = () => draft ?? readFileSync(configFile(), 'utf8');

  const exclusive = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    if (busy) throw new HttpError(409, `busy: ${busy} is running / sedang ${busy}`);
    busy = what;
    try {
      return await fn();
    } finally {
      busy = null;
    }
  };

  const draftView = () => {
    const text = draftText();
    const running = new Set(deps.config().devices.map((d) => d.id));
    return {
      text,
      pending: deviceIds(text).filter((id) => !running.has(id)),
      changed: draft !== null && draft !== readFileSync(configFile(), 'utf8'),
      check: validateText(text, configFile()),
    };
  };

  const foundAt = (b: Record<string, unknown>): FoundDevice => {
    const i = int(b, 'index', 0, 100_000);
    const f = i === undefined ? undefined : job?.found[i];
    if (!f) throw bad('index must name a device of the last scan / pindai dulu');
    return f;
  };

  const startScan = (b: Record<string, unknown>) => {
    if (job?.running) throw new HttpError(409, 'a scan is already running / pemindaian sedang berjalan');
    const subnets = list(str(b, 'subnet', 200));
    const addresses = list(str(b, 'addresses', 4000));
    if (subnets.length === 0 && addresses.length === 0)
      throw bad('give a subnet or addresses / isi subnet atau alamat');
    const username = str(b, 'camera_user', 64);
    const password = str(b, 'camera_password', 128);
    const commKey = int(b, 'comm_key', 0, 999999);
    const units = list(str(b, 'modbus_units', 100)).map((u) => Number(u));
    if (units.some((u) => !Number.isInteger(u) || u < 0 || u > 255))
      throw bad('modbus_units: whole numbers 0–255');
    const cfg = deps.config();
    const opts: ScanOptions & { devices: GatewayConfig['devices'] } = {
      subnets,
      addresses,
      communities: list(str(b, 'communities', 500)).length ? list(str(b, 'communities', 500)) : ['public'],
      snmpPort: int(b, 'snmp_port', 1, 65535) ?? 161,
      wsdPort: int(b, 'wsd_port', 1, 65535) ?? 3702,
      zkPort: int(b, 'zk_port', 1, 65535) ?? 4370,
      modbusPort: int(b, 'modbus_port', 1, 65535) ?? 502,
      ...(units.length ? { modbusUnits: units } : {}),
      multicast: b.multicast === true,
      timeoutMs: int(b, 'timeout_ms', 200, 10_000) ?? 1000,
      devices: cfg.devices,
      ...(username ? { camera: { username, password: password ?? '' } } : {}),
      ...(commKey !== undefined ? { zkCommKey: commKey } : {}),
    };
    // Check the targets now, so a bad subnet is a 400 and not a failed job.
    try {
      scanTargets(subnets, addresses);
    } catch (e) {
      if (e instanceof TargetError) throw bad(e.message);
      throw e;
    }
    const j: ScanJob = {
      running: true,
      started: Date.now(),
      progress: {},
      found: [],
      ...(opts.camera ? { camera: opts.camera } : {}),
      ...(commKey !== undefined ? { commKey } : {}),
    };
    job = j;
    return scanLan({
      ...opts,
      onProgress: (p) => {
        j.progress[p.protocol] = { done: p.done, total: p.total };
      },
    }).then(
      (found) => {
        j.found = found;
        j.running = false;
        log.info({ found: found.length, subnets, addresses: addresses.length }, 'installer scan done');
      },
      (e: Error) => {
        j.running = false;
        j.error = e.message;
        if (!(e instanceof TargetError)) log.warn({ err: e.message }, 'installer scan failed');
      },
    );
  };

  /** Devices in the pending site.yaml, for "already added" marks (a broken draft marks nothing). */
  const draftDevices = (): GatewayConfig['devices'] => {
    if (draft === null) return [];
    try {
      const devices = (parseYaml(draft) as { devices?: unknown } | null)?.devices;
      return Array.isArray(devices) ? (devices as GatewayConfig['devices']) : [];
    } catch {
      return [];
    }
  };

  // Marks as of now, not as of the scan: after an apply the added devices are configured.
  const scanView = () =>
    job
      ? {
          running: job.running,
          progress: job.progress,
          found: job.found.map((f) => ({
            ...f,
            already_configured: isConfigured(f, deps.config().devices),
            in_draft: isConfigured(f, draftDevices()),
          })),
          ...(job.error ? { error: job.error } : {}),
          camera_user: job.camera?.username ?? null,
        }
      : { running: false, progress: {}, found: [] };

  async function api(req: IncomingMessage, res: ServerResponse, path: string, client: string) {
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };
    const token = cookieOf(req);
    const session = sessions.get(token);
    if (req.method === 'GET' && path === '/api/session')
      return json(
        200,
        session
          ? { logged_in: true, csrf: session.csrf }
          : { logged_in: false, pin_set: readPinHash(pinFile) !== null },
      );
    if (req.method !== 'GET' && req.method !== 'POST') throw new HttpError(405, 'method not allowed');
    if (req.method === 'POST') {
      // A form on another site cannot post here: SameSite=Strict keeps the cookie off, and this too.
      const origin = req.headers.origin;
      if (origin && new URL(origin).host !== req.headers.host)
        throw new HttpError(403, 'cross-site request refused');
    }
    if (req.method === 'POST' && path === '/api/login') {
      const wait = throttle.retryAfterMs(client);
      if (wait > 0)
        throw new HttpError(
          429,
          `too many wrong PINs: wait ${Math.ceil(wait / 1000)} s / terlalu banyak PIN salah: tunggu ${Math.ceil(wait / 1000)} detik`,
          {
            'retry-after': String(Math.ceil(wait / 1000)),
          },
        );
      const b = await readJson(req);
      const pin = str(b, 'pin', 32) ?? '';
      const hash = readPinHash(pinFile);
      if (!hash)
        throw new HttpError(
          503,
          'no PIN set: run pantau-gateway installer-pin / PIN belum dibuat: jalankan pantau-gateway installer-pin',
        );
      if (!(await verifySecret(pin, hash))) {
        throttle.failed(client);
        log.warn({ client }, 'installer: wrong PIN');
        throw new HttpError(401, 'wrong PIN / PIN salah');
      }
      throttle.succeeded(client);
      sessions.drop(token);
      const s = sessions.create();
      log.info({ client }, 'installer: logged in');
      return json(
        200,
        { logged_in: true, csrf: s.session.csrf },
        {
          'set-cookie': `${COOKIE}=${s.token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${section.session_idle_min * 60}`,
        },
      );
    }
    if (!session) throw new HttpError(401, 'log in first / masuk dulu');
    if (req.method === 'POST' && !sameToken(req.headers['x-csrf-token'] as string | undefined, session.csrf))
      throw new HttpError(403, 'missing or wrong CSRF token');
    const by = `installer@${client}`;

    if (req.method === 'POST' && path === '/api/logout') {
      sessions.drop(token);
      return json(
        200,
        { logged_in: false },
        { 'set-cookie': `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` },
      );
    }
    if (req.method === 'GET' && path === '/api/site') {
      const cfg = deps.config();
      return json(200, {
        site: cfg.site,
        devices: cfg.devices.map((d) => ({
          id: d.id,
          kind: d.kind,
          address: d.address,
          name: d.name ?? null,
          location: d.location ?? null,
          priority: d.priority ?? null,
        })),
        commissioning: deps.commission !== undefined,
      });
    }
    if (path === '/api/scan') {
      if (req.method === 'GET') return json(200, scanView());
      const b = await readJson(req);
      void startScan(b);
      return json(202, scanView());
    }
    if (req.method === 'POST' && path === '/api/test') {
      const b = await readJson(req);
      const f = foundAt(b);
      const username = str(b, 'camera_user', 64) ?? job?.camera?.username;
      const password = str(b, 'camera_password', 128) ?? job?.camera?.password;
      const commKey = int(b, 'comm_key', 0, 999999) ?? job?.commKey;
      const r = await exclusive('test', () =>
        testDevice({
          address: f.address,
          kind: f.kind,
          access: f.access,
          timeZone: deps.config().site.timezone,
          ...(username ? { camera: { username, password: password ?? '' } } : {}),
          ...(commKey !== undefined ? { zkCommKey: commKey } : {}),
        }),
      );
      // The stream probe's numbers are enough; its raw ffmpeg details are not for a phone.
      return json(200, {
        ok: r.ok,
        lines: r.lines,
        clock_offset_s: r.clock_offset_s ?? null,
        identity: r.identity ?? null,
      });
    }
    if (path === '/api/draft' && req.method === 'GET') return json(200, draftView());
    if (req.method === 'POST' && path === '/api/draft/add') {
      const b = await readJson(req);
      const f = foundAt(b);
      const name = str(b, 'name', 120) ?? '';
      const priority = (str(b, 'priority', 16) ?? 'normal') as Priority;
      if (!PRIORITIES.includes(priority)) throw bad('priority must be emergency, basic or normal');
      const id = str(b, 'id', 64) ?? slugify(name);
      const username = str(b, 'camera_user', 64) ?? job?.camera?.username;
      const password = str(b, 'camera_password', 128) ?? job?.camera?.password;
      const commKey = int(b, 'comm_key', 0, 999999) ?? job?.commKey;
      const location = str(b, 'location', 200);
      try {
        const base = readFileSync(configFile(), 'utf8');
        const next = addDevice(draftText(), configFile(), {
          found: f,
          id,
          name,
          priority,
          ...(location ? { location } : {}),
          ...(username ? { camera: { username, password: password ?? '' } } : {}),
          ...(commKey !== undefined ? { commKey } : {}),
        });
        setDraft(next, base);
      } catch (e) {
        if (e instanceof DraftError) throw bad(e.message);
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
          throw new HttpError(
            500,
            `cannot write beside ${configFile()}: ${(e as Error).message} — the pantau user needs write access to that folder / folder site.yaml tidak bisa ditulis`,
          );
        throw e;
      }
      log.info({ id, address: f.address, by }, 'installer: device added to the draft');
      return json(200, draftView());
    }
    if (req.method === 'POST' && path === '/api/draft/remove') {
      const b = await readJson(req);
      try {
        setDraft(removeDevice(draftText(), str(b, 'id', 64) ?? ''), readFileSync(configFile(), 'utf8'));
      } catch (e) {
        if (e instanceof DraftError) throw bad(e.message);
        throw e;
      }
      return json(200, draftView());
    }
    if (req.method === 'POST' && path === '/api/draft/reset') {
      setDraft(null, null);
      return json(200, draftView());
    }
    if (req.method === 'POST' && path === '/api/apply') {
      const text = draftText();
      if (draftBase !== null && draftBase !== readFileSync(configFile(), 'utf8'))
        throw new HttpError(
          409,
          'site.yaml was changed elsewhere since these additions were started (central, shell): discard changes and add them again / site.yaml diubah di tempat lain: buang perubahan lalu tambahkan lagi',
        );
      const check = validateText(text, configFile());
      if (!check.ok) return json(422, { ok: false, error: 'site.yaml is not valid', errors: check.errors });
      const r = await exclusive('apply', () => deps.apply(text, { by }));
      if (r.ok) setDraft(null, null);
      log.info({ ok: r.ok, by, changes: r.changes }, 'installer: apply');
      return json(r.ok ? 200 : 422, r);
    }
    if (req.method === 'POST' && path === '/api/enroll') {
      if (!deps.enroll) throw new HttpError(501, 'enrollment is not available here');
      const b = await readJson(req);
      const typed = typeof b.central === 'string' ? b.central.trim() : '';
      // Typed on a phone as "pusat.pemda.lan:8443": the dashboard is served over HTTPS.
      const central = typed && !typed.includes('://') ? `https://${typed}` : typed;
      const tokenText = typeof b.token === 'string' ? b.token.trim() : '';
      if (!central || !tokenText)
        throw new HttpError(400, 'central and token are required / alamat pusat dan token wajib diisi');
      try {
        const r = await exclusive('enroll', () =>
          deps.enroll!({ centralUrl: central, token: tokenText, by }),
        );
        log.info({ site: r.site, by }, 'installer: enrolled; restarting with the new identity');
        return json(200, { ok: true, site: r.site, restarting: true });
      } catch (e) {
        log.warn({ by, err: (e as Error).message }, 'installer: enrollment failed');
        return json(422, { ok: false, error: (e as Error).message });
      }
    }
    if (path === '/api/commission' && req.method === 'POST') {
      if (!deps.commission) throw new HttpError(501, 'commissioning is not available here');
      const b = await readJson(req);
      const note = str(b, 'note', 500);
      const farEnds = farEndsOf(b.far_ends, deps.config());
      const r = await exclusive('commission', () =>
        deps.commission!.run({ by, ...(note ? { note } : {}), ...(farEnds.length ? { farEnds } : {}) }),
      );
      lastReport = r;
      return json(200, { id: r.id, published: r.published, report: r.json });
    }
    if (path === '/api/commission/report.html' && req.method === 'GET') {
      if (!lastReport) throw new HttpError(404, 'no report yet / belum ada laporan');
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
      });
      return res.end(lastReport.html);
    }
    throw new HttpError(404, 'not found');
  }
  let lastReport: { id: string; html: string } | null = null;

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://installer');
    const client = req.socket.remoteAddress ?? '?';
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('cache-control', 'no-store');
    if (url.pathname.startsWith('/api/')) {
      api(req, res, url.pathname, client).catch((e: unknown) => {
        const status = e instanceof HttpError ? e.status : 500;
        if (status === 500)
          log.error({ err: (e as Error).message, path: url.pathname }, 'installer request failed');
        if (res.headersSent) return res.end();
        res.writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          ...(e instanceof HttpError ? e.headers : {}),
        });
        res.end(JSON.stringify({ error: e instanceof HttpError ? e.message : 'internal error' }));
      });
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    const name = url.pathname === '/' ? 'index.html' : url.pathname.replace(/^\/assets\//, '');
    const type = ASSET_TYPES[name];
    if (!type || (url.pathname !== '/' && !url.pathname.startsWith('/assets/'))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': type,
      // Everything from the box itself: no CDN, no fonts, nothing from the internet.
      'content-security-policy':
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    });
    res.end(readFileSync(join(ASSETS, name)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(section.port, section.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = section.host === '0.0.0.0' ? '127.0.0.1' : section.host;
  log.info({ host: section.host, port }, 'installer page listening');
  return {
    port,
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
