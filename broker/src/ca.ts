// A private certificate authority for networks without internet: a CA, server certificates for the
// broker and dashboard, client certificates for site boxes. X.509 is made by the `openssl` command
// (Node's crypto verifies certificates but cannot sign them); see docs/security.md for why.
//
// Keys are ECDSA P-256, written 0600 by us (openssl writes them to our pipe, never to disk with its
// own umask). Every openssl call gets our own config file, so the box's openssl.cnf cannot add or
// change extensions.

import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export class CaError extends Error {}

const CA_CRT = 'ca.crt';
const CA_KEY = 'ca.key';
/** A CN or DNS name we put into an openssl config: no quoting, no `$` expansion, no separators. */
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252}[A-Za-z0-9])?$/;

export const CA_DEFAULT_DAYS = 3650;
export const CERT_DEFAULT_DAYS = 1095;

function openssl(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return reject(new CaError('the openssl command is missing: apt-get install -y openssl'));
      reject(new CaError(`openssl ${args[0]} failed: ${stderr.trim().split('\n').slice(-3).join(' ')}`));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** A temporary folder for config files and CSRs; removed whatever happens. */
async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-ca-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const newKey = () => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);

function writeKey(path: string, pem: string): void {
  writeFileSync(path, pem, { mode: 0o600 });
  chmodSync(path, 0o600); // the mode above applies only when the file is new
}

function checkName(what: string, name: string): void {
  if (!NAME.test(name))
    throw new CaError(
      `${what} "${name}" may hold only letters, digits, '.', '-' and '_' (and no leading or trailing '.', '-')`,
    );
}

function checkDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > 36500)
    throw new CaError(`--days must be a whole number from 1 to 36500, not ${days}`);
}

export interface CaInit {
  dir: string;
  /** Shown in every certificate's issuer, e.g. the agency's name. */
  name?: string;
  days?: number;
}

export async function initCa(o: CaInit): Promise<{ crt: string; key: string }> {
  const name = o.name ?? 'Pantau private CA';
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/.test(name))
    throw new CaError(`--name "${name}" may hold only letters, digits, spaces, '.', '-' and '_'`);
  const days = o.days ?? CA_DEFAULT_DAYS;
  checkDays(days);
  const crt = join(o.dir, CA_CRT);
  const key = join(o.dir, CA_KEY);
  if (existsSync(crt) || existsSync(key))
    throw new CaError(`${o.dir} already holds a CA (${CA_CRT}); issue with it, or choose another --dir`);
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const keyPem = await newKey();
  writeKey(key, keyPem);
  await withTemp(async (tmp) => {
    const cnf = join(tmp, 'ca.cnf');
    writeFileSync(
      cnf,
      `[req]
distinguished_name = dn
prompt = no
x509_extensions = ext
[dn]
CN = ${name}
[ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`,
    );
    const pem = await openssl([
      'req',
      '-config',
      cnf,
      '-new',
      '-x509',
      '-key',
      key,
      '-sha256',
      '-days',
      String(days),
      '-set_serial',
      serial(),
    ]);
    writeFileSync(crt, pem, { mode: 0o644 });
  });
  return { crt, key };
}

const serial = () =>
  `0x${randomBytes(16)
    .toString('hex')
    .replace(/^[89a-f]/, '1')}`;

export type IssueKind = { server: string[] } | { client: string };

export interface Issued {
  crt: string;
  key: string;
  subject: string;
  validTo: string;
}

/**
 * Issues a server certificate (the first name is the CN; every name is a SAN, DNS or IP) or a
 * client certificate whose CN is an account name.
 */
export async function issueCert(o: {
  dir: string;
  kind: IssueKind;
  days?: number;
  /** File name without extension; default `server-<first name>` or the client's name. */
  out?: string;
  force?: boolean;
}): Promise<Issued> {
  const caCrt = join(o.dir, CA_CRT);
  const caKey = join(o.dir, CA_KEY);
  if (!existsSync(caCrt) || !existsSync(caKey))
    throw new CaError(`no CA in ${o.dir}: make one with "pantau-broker ca init --dir ${o.dir}"`);
  const days = o.days ?? CERT_DEFAULT_DAYS;
  checkDays(days);
  const ca = new X509Certificate(readFileSync(caCrt));
  const caLeft = (Date.parse(ca.validTo) - Date.now()) / 86_400_000;
  if (caLeft < days)
    throw new CaError(
      `the CA expires in ${Math.floor(caLeft)} days (${ca.validTo}); ask for --days ${Math.max(1, Math.floor(caLeft))} or less, or make a new CA`,
    );
  let cn: string;
  let ext: string;
  if ('server' in o.kind) {
    if (o.kind.server.length === 0)
      throw new CaError('a server certificate needs at least one --name (DNS name or IP address)');
    const sans = o.kind.server.map((n) => {
      if (isIP(n)) return `IP:${n}`;
      checkName('--name', n);
      return `DNS:${n}`;
    });
    cn = o.kind.server[0]!;
    ext = `extendedKeyUsage = serverAuth\nsubjectAltName = ${sans.join(',')}\n`;
  } else {
    checkName('account name', o.kind.client);
    cn = o.kind.client;
    ext = 'extendedKeyUsage = clientAuth\n';
  }
  const base = o.out ?? ('server' in o.kind ? `server-${cn}` : cn);
  checkName('--out', base);
  const crt = join(o.dir, `${base}.crt`);
  const key = join(o.dir, `${base}.key`);
  if (!o.force && (existsSync(crt) || existsSync(key)))
    throw new CaError(
      `${crt} already exists; pass --force to replace it (the old certificate stays valid until it expires)`,
    );
  const keyPem = await newKey();
  const pem = await withTemp(async (tmp) => {
    const cnf = join(tmp, 'leaf.cnf');
    writeFileSync(
      cnf,
      `[req]
distinguished_name = dn
prompt = no
[dn]
CN = ${cn}
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
${ext}`,
    );
    const keyFile = join(tmp, 'leaf.key');
    writeKey(keyFile, keyPem);
    const csr = await openssl(['req', '-config', cnf, '-new', '-key', keyFile]);
    return openssl(
      [
        'x509',
        '-req',
        '-CA',
        caCrt,
        '-CAkey',
        caKey,
        '-set_serial',
        serial(),
        '-days',
        String(days),
        '-sha256',
        '-extfile',
        cnf,
        '-extensions',
        'ext',
      ],
      csr,
    );
  });
  const cert = new X509Certificate(pem);
  if (!cert.verify(ca.publicKey))
    throw new CaError('openssl made a certificate the CA did not sign (this is a bug)');
  writeKey(key, keyPem);
  writeFileSync(crt, pem, { mode: 0o644 });
  return { crt, key, subject: cert.subject, validTo: cert.validTo };
}

export interface CertInfo {
  file: string;
  kind: 'ca' | 'server' | 'client' | 'other';
  cn: string;
  names: string[];
  validTo: Date;
  daysLeft: number;
  /** Signed by the CA in this folder. */
  fromThisCa: boolean;
}

const cnOf = (subject: string) => /(?:^|\n)CN=([^\n]*)/.exec(subject)?.[1] ?? subject;

export function describeCert(file: string, caPem?: string | Buffer): CertInfo {
  const c = new X509Certificate(readFileSync(file));
  const ca = caPem ? new X509Certificate(caPem) : null;
  const eku = c.keyUsage ?? [];
  const kind = c.ca
    ? 'ca'
    : eku.includes('1.3.6.1.5.5.7.3.1')
      ? 'server'
      : eku.includes('1.3.6.1.5.5.7.3.2')
        ? 'client'
        : 'other';
  const names = (c.subjectAltName ?? '')
    .split(', ')
    .filter(Boolean)
    .map((s) => s.replace(/^(DNS|IP Address):/, ''));
  const validTo = new Date(c.validTo);
  return {
    file,
    kind,
    cn: cnOf(c.subject),
    names,
    validTo,
    daysLeft: Math.floor((validTo.getTime() - Date.now()) / 86_400_000),
    fromThisCa: ca ? c.checkIssued(ca) && c.verify(ca.publicKey) : false,
  };
}

/** Every certificate in a CA folder, CA first, then by name. */
export function listCerts(dir: string): CertInfo[] {
  if (!existsSync(join(dir, CA_CRT))) throw new CaError(`no CA in ${dir} (${CA_CRT} is missing)`);
  const caPem = readFileSync(join(dir, CA_CRT));
  return readdirSync(dir)
    .filter((f) => f.endsWith('.crt'))
    .sort((a, b) => (a === CA_CRT ? -1 : b === CA_CRT ? 1 : a.localeCompare(b)))
    .map((f) => {
      try {
        return describeCert(join(dir, f), caPem);
      } catch (e) {
        throw new CaError(`${basename(f)} is not a readable certificate: ${(e as Error).message}`);
      }
    });
}
