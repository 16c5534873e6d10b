// Backup and restore of the central's own state: who may connect (credentials), who may log in
// (dashboard users), the backbone description, the central state database (baselines, link
// verdicts, incidents and their notes, enrollments, pushed site configs, the audit trail, the
// notification queue), the configs (central.yaml, dashboard.yaml, notify.yaml) with the secret and
// TLS files they name, and the private CA (ca.crt and ca.key). Not the telemetry store: it can be
// large and has its own tools (sqlite3 .backup; influxd backup).
// One .tar.gz with a manifest of SHA-256 sums, written 0600 (it holds password hashes and private
// keys); the database is copied with SQLite's online backup, so a backup can be taken while the
// broker runs.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CONFIG_KINDS, loadConfig, pathFrom, writeFileAtomically } from '@pantau/config';
import { Type } from '@sinclair/typebox';
import Database from 'better-sqlite3';
import { type BrokerConfig, loadBrokerConfig } from './config.js';
import { NotifySchema } from './notify/config.js';

const run = promisify(execFile);
const FORMAT = 1;

export type BackupRole =
  | 'central_config'
  | 'dashboard_config'
  | 'notify_config'
  | 'credentials'
  | 'users'
  | 'backbone'
  | 'central_state'
  | 'tls'
  | 'secret'
  | 'ca';

/** One file in a backup: what it is, where it lived, its checksum. */
export interface BackupEntry {
  role: BackupRole;
  /** Name inside the archive. */
  name: string;
  /** Where it was (absolute), and where restore puts it back. */
  path: string;
  sha256: string;
  bytes: number;
  /** Permissions and owner, put back on restore (the owner only when restoring as root). */
  mode: number;
  uid: number;
  gid: number;
}

export interface BackupManifest {
  format: number;
  created_at: string;
  host: string;
  entries: BackupEntry[];
  /** What was looked for and left out, said to whoever takes the backup. */
  notes?: string[];
}

export class BackupError extends Error {}

/** Files whose contents let someone log in, sign certificates or read mail: never readable by others. */
const SECRET_ROLES: ReadonlySet<BackupRole> = new Set(['credentials', 'users', 'secret', 'central_state']);
const isSecret = (e: Pick<BackupEntry, 'role' | 'path'>) =>
  SECRET_ROLES.has(e.role) || ((e.role === 'tls' || e.role === 'ca') && e.path.endsWith('.key'));

/** The mode a restored file gets: as it was, but a secret never readable or writable by others. */
export const restoredMode = (e: Pick<BackupEntry, 'role' | 'path' | 'mode'>) =>
  isSecret(e) ? e.mode & 0o770 : e.mode;

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The parts of dashboard.yaml that name files; the dashboard itself checks the rest. */
const DashboardFilesSchema = Type.Object({
  users_file: Type.String({ minLength: 1 }),
  mqtt: Type.Optional(
    Type.Object({
      password_file: Type.Optional(Type.String({ minLength: 1 })),
      tls: Type.Optional(
        Type.Object({
          ca_file: Type.Optional(Type.String({ minLength: 1 })),
          cert_file: Type.Optional(Type.String({ minLength: 1 })),
          key_file: Type.Optional(Type.String({ minLength: 1 })),
        }),
      ),
    }),
  ),
  http: Type.Optional(
    Type.Object({
      tls: Type.Optional(
        Type.Object({
          cert_file: Type.Optional(Type.String({ minLength: 1 })),
          key_file: Type.Optional(Type.String({ minLength: 1 })),
        }),
      ),
    }),
  ),
  backbone: Type.Optional(
    Type.Object({
      file: Type.Optional(Type.String({ minLength: 1 })),
      state_path: Type.Optional(Type.String({ minLength: 1 })),
    }),
  ),
  enroll: Type.Optional(
    Type.Object({
      credentials_file: Type.Optional(Type.String({ minLength: 1 })),
      ca_file: Type.Optional(Type.String({ minLength: 1 })),
      state_path: Type.Optional(Type.String({ minLength: 1 })),
    }),
  ),
});

export interface BackupOptions {
  /** central.yaml. */
  config: string;
  /** dashboard.yaml; default: dashboard.yaml beside central.yaml (as install.sh lays them out). */
  dashboard?: string;
  /** The dashboard's users file, when it is not the one dashboard.yaml names. */
  users?: string;
  /** Leave the dashboard users out on purpose (a central without the dashboard). */
  withoutUsers?: boolean;
  /** The private CA's folder (`pantau-broker ca init --dir`); default: found beside central.yaml. */
  caDir?: string;
  out: string;
}

type Wanted = Pick<BackupEntry, 'role' | 'path'> & { optional?: boolean };

/** Where the private CA is: --ca-dir, the folder of central.yaml's client CA, or ca/ beside central.yaml. */
function findCa(o: BackupOptions, cfg: BrokerConfig, notes: string[]): string | null {
  if (o.caDir) {
    const dir = resolve(o.caDir);
    if (!existsSync(join(dir, 'ca.crt'))) throw new BackupError(`--ca-dir ${dir}: no ca.crt there`);
    return dir;
  }
  const tried = [
    ...(cfg.mqtt.tls?.ca_file ? [dirname(cfg.mqtt.tls.ca_file)] : []),
    join(dirname(resolve(o.config)), 'ca'),
  ];
  const found = tried.find((d) => existsSync(join(d, 'ca.crt')) && existsSync(join(d, 'ca.key')));
  if (!found)
    notes.push(
      `no private CA (ca.crt with ca.key) in ${[...new Set(tried)].join(' or ')}: not in the backup; name its folder with --ca-dir DIR`,
    );
  return found ?? null;
}

/** The files that make up the central's state, by role; the same path only once. */
function stateFiles(o: BackupOptions, cfg: BrokerConfig, notes: string[]): Wanted[] {
  const files: Wanted[] = [
    { role: 'central_config', path: resolve(o.config) },
    { role: 'credentials', path: cfg.credentials_file },
  ];
  if (cfg.backbone) {
    files.push({ role: 'backbone', path: cfg.backbone.file });
    // A central without incidents yet has no state database: nothing to keep.
    files.push({ role: 'central_state', path: cfg.backbone.state_path!, optional: true });
  }
  const tls = cfg.mqtt.tls;
  if (tls)
    for (const p of [tls.cert_file, tls.key_file, tls.ca_file]) if (p) files.push({ role: 'tls', path: p });
  const central = resolve(o.config);
  const raw = loadConfig(central, Type.Object({}, { additionalProperties: true }), {
    kind: CONFIG_KINDS.central,
  }) as {
    external_broker?: { password_file?: string };
    cluster?: { redis_password_file?: string };
  };
  if (cfg.external_broker) {
    if (raw.external_broker?.password_file)
      files.push({ role: 'secret', path: pathFrom(central, raw.external_broker.password_file) });
    if (cfg.external_broker.ca_file) files.push({ role: 'tls', path: cfg.external_broker.ca_file });
  }
  if (raw.cluster?.redis_password_file)
    files.push({ role: 'secret', path: pathFrom(central, raw.cluster.redis_password_file) });
  if (cfg.notify) {
    const file = cfg.notify.file;
    files.push({ role: 'notify_config', path: file });
    for (const ch of Object.values(loadConfig(file, NotifySchema, { kind: CONFIG_KINDS.notify }).channels))
      for (const p of [ch.secret_file, ch.password_file, ch.token_file, ch.ca_file])
        if (p) files.push({ role: 'secret', path: pathFrom(file, p) });
  }

  const dashboard = resolve(o.dashboard ?? join(dirname(central), 'dashboard.yaml'));
  const haveDashboard = existsSync(dashboard);
  if (o.dashboard && !haveDashboard) throw new BackupError(`--dashboard ${dashboard} does not exist`);
  if (haveDashboard) {
    const d = loadConfig(dashboard, DashboardFilesSchema, { kind: CONFIG_KINDS.dashboard });
    const at = (p: string) => pathFrom(dashboard, p);
    files.push({ role: 'dashboard_config', path: dashboard });
    if (!o.withoutUsers) files.push({ role: 'users', path: o.users ? resolve(o.users) : at(d.users_file) });
    if (d.mqtt?.password_file) files.push({ role: 'secret', path: at(d.mqtt.password_file) });
    for (const p of [d.mqtt?.tls?.ca_file, d.mqtt?.tls?.cert_file, d.mqtt?.tls?.key_file])
      if (p) files.push({ role: 'tls', path: at(p) });
    for (const p of [d.http?.tls?.cert_file, d.http?.tls?.key_file])
      if (p) files.push({ role: 'tls', path: at(p) });
    if (d.backbone?.file) files.push({ role: 'backbone', path: at(d.backbone.file) });
    for (const p of [d.backbone?.state_path, d.enroll?.state_path])
      if (p) files.push({ role: 'central_state', path: at(p), optional: true });
    if (d.enroll?.credentials_file) files.push({ role: 'credentials', path: at(d.enroll.credentials_file) });
    if (d.enroll?.ca_file) files.push({ role: 'tls', path: at(d.enroll.ca_file) });
  } else if (o.users && !o.withoutUsers) files.push({ role: 'users', path: resolve(o.users) });
  else if (!o.withoutUsers)
    throw new BackupError(
      `the dashboard's users were not found: no ${dashboard} (its users_file names them). ` +
        'Name the dashboard config with --dashboard FILE or the users file with --users FILE; ' +
        'on a central without the dashboard, --without-users leaves them out on purpose',
    );
  else notes.push('dashboard users left out (--without-users)');

  const ca = findCa(o, cfg, notes);
  if (ca) {
    files.push({ role: 'ca', path: join(ca, 'ca.crt') }, { role: 'ca', path: join(ca, 'ca.key') });
    // What `ca list` shows: the certificates issued from it, and their keys still kept there.
    for (const f of readdirSync(ca).sort())
      if (/\.(crt|key)$/.test(f) && f !== 'ca.crt' && f !== 'ca.key')
        files.push({ role: 'ca', path: join(ca, f) });
  }
  const seen = new Set<string>();
  return files.filter((f) => !seen.has(f.path) && seen.add(f.path));
}

/** Writes a backup of the central's state to `out` (a .tar.gz, mode 0600); returns its manifest. */
export async function backupCentral(o: BackupOptions): Promise<BackupManifest> {
  const cfg = loadBrokerConfig(o.config);
  const notes: string[] = [];
  const wanted = stateFiles(o, cfg, notes);
  const stage = mkdtempSync(join(tmpdir(), 'pantau-backup-'));
  try {
    const entries: BackupEntry[] = [];
    for (const [i, f] of wanted.entries()) {
      if (!existsSync(f.path)) {
        if (f.optional) continue;
        throw new BackupError(`${f.role}: ${f.path} does not exist`);
      }
      const name = `${String(i).padStart(2, '0')}-${f.role}-${basename(f.path)}`;
      const target = join(stage, name);
      if (f.role === 'central_state') {
        const db = new Database(f.path, { readonly: true, fileMustExist: true });
        try {
          await db.backup(target);
        } finally {
          db.close();
        }
      } else copyFileSync(f.path, target);
      const st = statSync(f.path);
      entries.push({
        role: f.role,
        path: f.path,
        name,
        sha256: sha256(target),
        bytes: statSync(target).size,
        mode: st.mode & 0o777,
        uid: st.uid,
        gid: st.gid,
      });
    }
    const manifest: BackupManifest = {
      format: FORMAT,
      created_at: new Date().toISOString(),
      host: hostname(),
      entries,
      ...(notes.length ? { notes } : {}),
    };
    writeFileSync(join(stage, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    mkdirSync(dirname(resolve(o.out)), { recursive: true });
    const tmp = `${resolve(o.out)}.tmp`;
    // Made 0600 before tar writes into it: the archive is never readable by others, not even while written.
    rmSync(tmp, { force: true });
    closeSync(openSync(tmp, 'wx', 0o600));
    await run('tar', ['-C', stage, '-czf', tmp, 'manifest.json', ...entries.map((e) => e.name)]);
    chmodSync(tmp, 0o600);
    renameSync(tmp, resolve(o.out));
    return manifest;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Reads a backup's manifest and checks every file against it; the files are left in `dir`. */
async function unpack(file: string, dir: string): Promise<BackupManifest> {
  try {
    await run('tar', ['-C', dir, '-xzf', resolve(file)]);
  } catch (e) {
    throw new BackupError(`${file}: not a readable backup (${(e as Error).message.split('\n')[0]})`);
  }
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
  } catch {
    throw new BackupError(`${file}: no manifest.json: not a Pantau backup`);
  }
  if (manifest.format !== FORMAT)
    throw new BackupError(`${file}: backup format ${manifest.format}; this version reads format ${FORMAT}`);
  for (const e of manifest.entries) {
    const p = join(dir, e.name);
    if (e.name.includes('/') || !existsSync(p)) throw new BackupError(`${file}: ${e.name} is missing`);
    if (sha256(p) !== e.sha256) throw new BackupError(`${file}: ${e.name} is damaged (checksum differs)`);
  }
  return manifest;
}

/**
 * Puts a backup's files back where they were. Refuses to replace existing files unless `force`
 * (stop the broker and dashboard first: the state database is replaced whole).
 */
export async function restoreCentral(o: { from: string; force?: boolean }): Promise<BackupManifest> {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-restore-'));
  try {
    const manifest = await unpack(o.from, dir);
    const present = manifest.entries.filter((e) => existsSync(e.path));
    if (present.length > 0 && !o.force)
      throw new BackupError(
        `would replace ${present.map((e) => e.path).join(', ')}: stop the broker and dashboard and add --force`,
      );
    for (const e of manifest.entries) {
      mkdirSync(dirname(e.path), { recursive: true, mode: 0o750 });
      // The state database's WAL files belong to the file being replaced.
      if (e.role === 'central_state')
        for (const x of ['-wal', '-shm']) rmSync(`${e.path}${x}`, { force: true });
      // Through a 0600 temporary file: a secret is never readable by others on the way.
      writeFileAtomically(e.path, readFileSync(join(dir, e.name)), {
        mode: restoredMode(e),
        ...(process.getuid?.() === 0 ? { owner: { uid: e.uid, gid: e.gid } } : {}),
      });
    }
    return manifest;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
