// Config, secret and restored files are replaced so that a power cut leaves the old file or the new
// one, never half of either, and a secret is never readable by others on the way.

import { chmodSync, chownSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** The file's mode, set exactly (not narrowed by the umask). */
  mode: number;
  /** Owner and group to give it (only a root process may). */
  owner?: { uid: number; gid: number };
}

/**
 * Writes `data` to a temporary file beside `file` (created 0600), flushes it to disk, gives it its
 * mode and owner, renames it over `file` and flushes the folder.
 */
export function writeFileAtomically(file: string, data: string | Uint8Array, o: AtomicWriteOptions): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, o.mode);
  if (o.owner) chownSync(tmp, o.owner.uid, o.owner.gid);
  renameSync(tmp, file);
  try {
    const dir = openSync(dirname(file), 'r');
    fsyncSync(dir);
    closeSync(dir);
  } catch {
    // Some file systems refuse to open a folder; the rename is still atomic there.
  }
}
