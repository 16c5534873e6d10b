// Broker accounts: one per site box (publishes only under its own site) and read-only readers
// (the dashboard). The file holds hashes only and is replaced atomically: scrypt for Pantau's own
// broker, and mosquitto's PBKDF2-SHA512 for sites that run Mosquitto (see mosquitto.ts).

import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { duplicateIds, hashSecret, loadConfig, verifySecret } from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';
import { stringify } from 'yaml';
import { mosquittoHash } from './mosquitto.js';

const Hash = Type.String({ pattern: '^scrypt\\$' });
/** Mosquitto's own hash of the same password, for `pantau-broker mosquitto-config`. */
const MosquittoHash = Type.Optional(Type.String({ pattern: '^\\$7\\$\\d+\\$' }));
export const CredentialsSchema = Type.Object(
  {
    gateways: Type.Array(
      Type.Object(
        {
          site: Type.String({ format: 'slug' }),
          username: Type.String({ minLength: 1 }),
          password_hash: Hash,
          mosquitto_hash: MosquittoHash,
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
    readers: Type.Array(
      Type.Object(
        {
          username: Type.String({ minLength: 1 }),
          password_hash: Hash,
          mosquitto_hash: MosquittoHash,
          /** May publish requests to site boxes (the dashboard, for clock sync and remote checks). */
          requests: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
      {
        default: [],
      },
    ),
  },
  { additionalProperties: false },
);
export type Credentials = Static<typeof CredentialsSchema>;

export type Account =
  | { role: 'gateway'; username: string; site: string }
  | { role: 'reader'; username: string; requests: boolean };

export function loadCredentials(file: string): Credentials {
  if (!existsSync(file)) return { gateways: [], readers: [] };
  return loadConfig(file, CredentialsSchema, {
    check: (c) =>
      duplicateIds(
        [...c.gateways, ...c.readers].map((a) => ({ id: a.username })),
        ['accounts'],
        'username',
      ),
  });
}

export function saveCredentials(file: string, c: Credentials): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(
    tmp,
    `# Pantau broker accounts: password hashes only. Edit with "pantau-broker credentials".\n${stringify(c)}`,
    {
      mode: 0o600,
    },
  );
  renameSync(tmp, file);
}

export async function addGateway(
  file: string,
  site: string,
  username: string,
  password: string,
): Promise<void> {
  const c = loadCredentials(file);
  if ([...c.gateways, ...c.readers].some((a) => a.username === username))
    throw new Error(`account "${username}" already exists`);
  c.gateways.push({
    site,
    username,
    password_hash: await hashSecret(password),
    mosquitto_hash: mosquittoHash(password),
  });
  saveCredentials(file, c);
}

export async function addReader(
  file: string,
  username: string,
  password: string,
  opts: { requests?: boolean } = {},
): Promise<void> {
  const c = loadCredentials(file);
  if ([...c.gateways, ...c.readers].some((a) => a.username === username))
    throw new Error(`account "${username}" already exists`);
  c.readers.push({
    username,
    password_hash: await hashSecret(password),
    mosquitto_hash: mosquittoHash(password),
    ...(opts.requests ? { requests: true } : {}),
  });
  saveCredentials(file, c);
}

/** Sets a new password (both hashes); false when there is no such account. */
export async function setPassword(file: string, username: string, password: string): Promise<boolean> {
  const c = loadCredentials(file);
  const a = [...c.gateways, ...c.readers].find((x) => x.username === username);
  if (!a) return false;
  a.password_hash = await hashSecret(password);
  a.mosquitto_hash = mosquittoHash(password);
  saveCredentials(file, c);
  return true;
}

export function removeAccount(file: string, username: string): boolean {
  const c = loadCredentials(file);
  const before = c.gateways.length + c.readers.length;
  c.gateways = c.gateways.filter((a) => a.username !== username);
  c.readers = c.readers.filter((a) => a.username !== username);
  if (c.gateways.length + c.readers.length === before) return false;
  saveCredentials(file, c);
  return true;
}

/** Checks passwords; remembers recent successes so a reconnect storm does not cost 50 ms of scrypt each. */
export class Authenticator {
  private accounts = new Map<string, { account: Account; hash: string }>();
  private verified = new Map<string, string>();

  constructor(c: Credentials) {
    this.replace(c);
  }

  replace(c: Credentials): void {
    const next = new Map<string, { account: Account; hash: string }>();
    for (const g of c.gateways)
      next.set(g.username, {
        account: { role: 'gateway', username: g.username, site: g.site },
        hash: g.password_hash,
      });
    for (const r of c.readers)
      next.set(r.username, {
        account: { role: 'reader', username: r.username, requests: r.requests === true },
        hash: r.password_hash,
      });
    this.accounts = next;
    this.verified.clear();
  }

  /** The account of a name a client certificate vouches for (the CA checked it, not a password). */
  byName(username: string): Account | null {
    return this.accounts.get(username)?.account ?? null;
  }

  async check(username: string, password: Buffer | string): Promise<Account | null> {
    const entry = this.accounts.get(username);
    if (!entry) return null;
    const pw = password.toString();
    const fingerprint = createHash('sha256').update(entry.hash).update('\0').update(pw).digest('hex');
    if (this.verified.get(username) === fingerprint) return entry.account;
    if (!(await verifySecret(pw, entry.hash))) return null;
    this.verified.set(username, fingerprint);
    return entry.account;
  }
}
