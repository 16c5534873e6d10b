// Enrolling this site box: the installer types the token the central issued; the box redeems it at
// the central's POST /enroll over the private network and writes what it gets (site id, broker
// addresses, account, password file, CA) into site.yaml, keeping the rest of the file and its comments.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, formatIssues, pathFrom, writeFileAtomically } from '@pantau/config';
import { type Document, isMap, parseDocument } from 'yaml';
import { loadGatewayConfig, parseGatewayConfig } from './config.js';
import { VERSION } from './version.js';

export class EnrollError extends Error {
  constructor(
    message: string,
    /** The central's HTTP status, when it answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

interface Redeemed {
  site: string;
  mqtt: { urls: string[]; username: string; password: string };
  ca_pem?: string;
}

export interface EnrollOptions {
  /** The dashboard's address, e.g. https://central.pemda.lan:8443. */
  centralUrl: string;
  token: string;
  /** site.yaml; made if it does not exist. */
  configPath: string;
  /** The CA that signed the dashboard's certificate (default: the system's trusted CAs). */
  caFile?: string;
  /** Send the token (and get the password back) over plain HTTP: only on a test bench. */
  allowHttp?: boolean;
  timeoutMs?: number;
}

const MINIMAL = `# /etc/pantau/site.yaml — this site box. Written by "pantau-gateway enroll"; add devices below.
# Check it with: pantau-gateway check-config /etc/pantau/site.yaml
site:
  id: placeholder
mqtt:
  urls: ["mqtt://127.0.0.1:1883"]
  username: placeholder
devices: []
`;

/** What identifies this box to the command center's audit log: its machine id, hashed. */
function boxFacts(): { hostname: string; version: string; fingerprint: string } {
  let id = '';
  for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id'])
    try {
      id = readFileSync(f, 'utf8').trim();
      if (id) break;
    } catch {}
  return {
    hostname: hostname().slice(0, 255) || 'unknown',
    version: VERSION,
    fingerprint: createHash('sha256')
      .update(`pantau-box\0${id || hostname()}`)
      .digest('hex')
      .slice(0, 32),
  };
}

function post(url: URL, body: string, ca: Buffer | undefined, timeoutMs: number) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const opts = {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      timeout: timeoutMs,
      ...(ca ? { ca } : {}),
    };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The site box's own account (pantau), which the daemon runs as: it must read the password file. */
function pantauIds(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('pantau:'));
    const [, , uid, gid] = line?.split(':') ?? [];
    return line ? { uid: Number(uid), gid: Number(gid) } : null;
  } catch {
    return null;
  }
}

type Owner = 'pantau' | 'root:pantau' | 'keep';

/**
 * Writes a file atomically. Run as root (as installers do), the owner is set too: the password file
 * belongs to the pantau user that runs the daemon (mode 0600), site.yaml keeps its owner and mode
 * (a new one is root:pantau 0640, as install.sh makes it).
 */
function writeAtomic(path: string, text: string, mode: number, owner: Owner): void {
  const old = owner === 'keep' && existsSync(path) ? statSync(path) : null;
  const ids = pantauIds();
  writeFileAtomically(path, text, {
    mode: old ? old.mode & 0o777 : mode,
    ...(old && process.getuid?.() === 0
      ? { owner: { uid: old.uid, gid: old.gid } }
      : ids
        ? { owner: { uid: owner === 'pantau' ? ids.uid : 0, gid: ids.gid } }
        : {}),
  });
}

/** site.yaml with the enrollment's fields set; everything else (comments too) stays as it was. */
function withEnrollment(
  doc: Document,
  r: { site: string; urls: string[]; username: string; passwordFile: string; caFile?: string },
): string {
  doc.setIn(['site', 'id'], r.site);
  doc.setIn(['mqtt', 'urls'], doc.createNode(r.urls, { flow: true }));
  doc.setIn(['mqtt', 'username'], r.username);
  doc.deleteIn(['mqtt', 'password']);
  doc.setIn(['mqtt', 'password_file'], r.passwordFile);
  if (r.caFile) doc.setIn(['mqtt', 'tls', 'ca_file'], r.caFile);
  // A central without TLS: a tls block left from before would make the config invalid.
  if (!r.urls.some((u) => /^(mqtts|tls|wss):/.test(u))) doc.deleteIn(['mqtt', 'tls']);
  return doc.toString();
}

/** The config as a YAML document: the file's, or a minimal one when there is none. */
function readDoc(configPath: string): Document {
  const text = existsSync(configPath) ? readFileSync(configPath, 'utf8') : MINIMAL;
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || !isMap(doc.contents))
    throw new EnrollError(
      `${configPath}: not a YAML mapping (${doc.errors[0]?.message.split('\n')[0] ?? 'empty'}); fix or move it first`,
    );
  return doc;
}

/** Validates config text with the daemon's own loader, as if it were at `configPath`. */
function check(configPath: string, text: string): void {
  try {
    parseGatewayConfig(text, configPath);
  } catch (e) {
    if (e instanceof ConfigError) throw new EnrollError(e.message);
    throw e;
  }
}

/**
 * Redeems the token at the central and writes this box's site.yaml. Before the token is spent, the
 * config as it will be is checked with the daemon's loader, so a broken file does not waste a token.
 */
export async function enrollSiteBox(o: EnrollOptions): Promise<{ site: string }> {
  let url: URL;
  try {
    url = new URL('/enroll', o.centralUrl);
  } catch {
    throw new EnrollError(`--central "${o.centralUrl}" is not a URL (e.g. https://central.pemda.lan:8443)`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && o.allowHttp))
    throw new EnrollError(
      `--central must be https:// (the box receives its password in the answer); plain http only with --allow-http on a test bench`,
    );
  let ca: Buffer | undefined;
  try {
    ca = o.caFile ? readFileSync(o.caFile) : undefined;
  } catch (e) {
    throw new EnrollError(
      `--ca-file ${o.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const configPath = o.configPath;
  const existing = readDoc(configPath);
  const prev = existing.toJS() as { mqtt?: { password_file?: unknown } };
  const passwordFile = typeof prev.mqtt?.password_file === 'string' ? prev.mqtt.password_file : 'site.pw';
  const passwordPath = pathFrom(configPath, passwordFile);

  // What is wrong in site.yaml besides the fields enrolling sets, told with the file's own lines…
  if (existsSync(configPath))
    try {
      loadGatewayConfig(configPath);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const other = e.issues.filter((i) => !/^(site|mqtt)([.[]|$)/.test(i.field));
      if (other.length > 0) throw new EnrollError(formatIssues(other));
    }
  // …and a dry run with stand-in values for the rest: nothing wrong is found after the token is spent.
  const standIn = join(dirname(configPath), `.site-enroll-pw-${process.pid}`);
  writeFileSync(standIn, 'stand-in\n', { mode: 0o600 });
  try {
    check(
      configPath,
      withEnrollment(existing.clone(), {
        site: 'enroll-check',
        urls: ['mqtt://127.0.0.1:1883'],
        username: 'enroll-check',
        passwordFile: standIn,
      }),
    );
  } finally {
    rmSync(standIn, { force: true });
  }

  let res: { status: number; text: string };
  try {
    res = await post(
      url,
      JSON.stringify({ token: o.token.trim(), box: boxFacts() }),
      ca,
      o.timeoutMs ?? 20_000,
    );
  } catch (e) {
    throw new EnrollError(`cannot reach the central at ${url.origin}: ${(e as Error).message}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    body = null;
  }
  if (res.status !== 200) {
    const msg = (body as { message?: string } | null)?.message ?? res.text.slice(0, 200);
    throw new EnrollError(`the central refused the token (${res.status}): ${msg}`, res.status);
  }
  const r = body as Redeemed;
  if (typeof r?.site !== 'string' || !Array.isArray(r.mqtt?.urls) || typeof r.mqtt.password !== 'string')
    throw new EnrollError(`the central's answer is not an enrollment: ${res.text.slice(0, 200)}`, res.status);

  // From here the token is spent: write everything, and keep what was received if the config fails.
  const caFile = r.ca_pem ? 'central-ca.crt' : undefined;
  if (r.ca_pem && caFile) writeAtomic(pathFrom(configPath, caFile), r.ca_pem, 0o644, 'root:pantau');
  writeAtomic(passwordPath, `${r.mqtt.password}\n`, 0o600, 'pantau');
  const text = withEnrollment(existing, {
    site: r.site,
    urls: r.mqtt.urls,
    username: r.mqtt.username,
    passwordFile,
    ...(caFile ? { caFile } : {}),
  });
  try {
    check(configPath, text);
  } catch (e) {
    writeAtomic(`${configPath}.enrolled`, text, 0o640, 'root:pantau');
    throw new EnrollError(
      `enrolled as site ${r.site}, but the new config does not load: ${(e as Error).message}\n` +
        `it is kept in ${configPath}.enrolled (the password in ${passwordPath}); fix it and move it to ${configPath}`,
    );
  }
  writeAtomic(configPath, text, 0o640, 'keep');
  return { site: r.site };
}
