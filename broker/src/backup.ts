// Backup and restore of the central's own state: who may connect (credentials), who may log in
// (dashboard users), the backbone description, and the central state database (baselines, link
// verdicts, incidents and their notes), plus central.yaml and the TLS files it names. Not the
// telemetry store: it can be large and has its own tools (sqlite3 .backup; influxd backup).
// One .tar.gz with a manifest of SHA-256 sums; the database is copied with SQLite's online backup,
// so a backup can be taken while the broker runs.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { type BrokerConfig, loadBrokerConfig } from './config.js';

const run = promisify(execFile);
const FORMAT = 1;

/** One file in a backup: what it is, where it lived, its checksum. */
export interface BackupEntry {
  role: 'central_config' | 'credentials' | 'backbone' | 'central_state' | 'users' | 'tls';
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
}

export class BackupError extends Error {}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The files that make up the central's state, by role. */
function stateFiles(configFile: string, cfg: BrokerConfig, usersFile?: string) {
  const files: Array<Pick<BackupEntry, 'role' | 'path'>> = [
    { role: 'central_config', path: resolve(configFile) },
    { role: 'credentials', path: cfg.credentials_file },
  ];
  if (cfg.backbone) {
    files.push({ role: 'backbone', path: cfg.backbone.file });
    files.push({ role: 'central_state', path: cfg.backbone.state_path! });
  }
  if (usersFile) files.push({ role: 'users', path: resolve(usersFile) });
  const tls = cfg.mqtt.tls;
  if (tls)
    for (const p of [tls.cert_file, tls.key_file, tls.ca_file]) if (p) files.push({ role: 'tls', path: p });
  return files;
}

/** Writes a backup of the central's state to `out` (a .tar.gz); returns its manifest. */
export async function backupCentral(o: {
  config: string;
  users?: string;
  out: string;
}): Promise<BackupManifest> {
  const cfg = loadBrokerConfig(o.config);
  const stage = mkdtempSync(join(tmpdir(), 'pantau-backup-'));
  try {
    const entries: BackupEntry[] = [];
    for (const [i, f] of stateFiles(o.config, cfg, o.users).entries()) {
      if (!existsSync(f.path)) {
        // A central without incidents yet has no state database: nothing to keep.
        if (f.role === 'central_state') continue;
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
        ...f,
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
    };
    writeFileSync(join(stage, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    mkdirSync(dirname(resolve(o.out)), { recursive: true });
    const tmp = `${resolve(o.out)}.tmp`;
    await run('tar', ['-C', stage, '-czf', tmp, 'manifest.json', ...entries.map((e) => e.name)]);
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
      mkdirSync(dirname(e.path), { recursive: true });
      const tmp = `${e.path}.restore-tmp`;
      copyFileSync(join(dir, e.name), tmp);
      chmodSync(tmp, e.mode);
      if (process.getuid?.() === 0) chownSync(tmp, e.uid, e.gid);
      // The state database's WAL files belong to the file being replaced.
      if (e.role === 'central_state')
        for (const x of ['-wal', '-shm']) rmSync(`${e.path}${x}`, { force: true });
      renameSync(tmp, e.path);
    }
    return manifest;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
