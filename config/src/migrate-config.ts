// `pantau-* migrate-config FILE`: writes a config of an older version back in the current format,
// keeping the original beside it. What the daemons do in memory at every start, made permanent, so
// the file an administrator reads is the file the daemon reads.

import { copyFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { writeFileAtomically } from './atomic-write.js';
import { out } from './cli.js';
import { readConfigText } from './index.js';
import { bringToCurrent, type ConfigKind } from './versions.js';

export interface MigratedText {
  text: string;
  from: number;
  to: number;
  /** What each applied migration did. */
  applied: string[];
}

/** The text of a config brought to the current version (unchanged when it already is). */
export function migrateConfigText(text: string, file: string, kind: ConfigKind): MigratedText {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0)
    throw new Error(`${file}: YAML syntax: ${doc.errors[0]!.message.split('\n')[0]}`);
  const r = bringToCurrent(doc, kind, true);
  if ('error' in r) throw new Error(`${file}: version: ${r.error}`);
  return {
    text: r.applied.length > 0 ? doc.toString() : text,
    from: r.from,
    to: r.to,
    applied: r.applied.map((m) => `${m.from} → ${m.from + 1}: ${m.what}`),
  };
}

export interface MigratedFile extends MigratedText {
  file: string;
  /** The original, kept beside it (absent when nothing changed). */
  backup?: string;
}

/**
 * Rewrites `file` in the current format. `load` is the daemon's own loader: it must accept the file
 * before (it migrates in memory, so a file it refuses is refused here with its errors) and after.
 * The original is kept as FILE.v<old version>.bak; mode and owner stay.
 */
export function migrateConfigFile(
  file: string,
  kind: ConfigKind,
  load: (file: string) => unknown,
): MigratedFile {
  load(file);
  const m = migrateConfigText(readConfigText(file), file, kind);
  if (m.applied.length === 0) return { file, ...m };
  const st = statSync(file);
  const backup = `${file}.v${m.from}.bak`;
  copyFileSync(file, backup);
  writeFileAtomically(file, m.text, {
    mode: st.mode & 0o777,
    ...(process.getuid?.() === 0 ? { owner: { uid: st.uid, gid: st.gid } } : {}),
  });
  try {
    load(file);
  } catch (e) {
    // The in-memory migration and the written one disagree: a bug of ours; the original goes back.
    copyFileSync(backup, file);
    throw e;
  }
  return { file, ...m, backup };
}

/** The command line's side: says what was done, or that nothing was needed. */
export function migrateConfigCommand(file: string, kind: ConfigKind, load: (file: string) => unknown): void {
  const r = migrateConfigFile(file, kind, load);
  if (!r.backup) {
    out(`${file}: ${kind.name} version ${r.from}, the current one: nothing to change`);
    return;
  }
  for (const a of r.applied) out(`  ${a}`);
  out(
    `${file}: migrated from ${kind.name} version ${r.from} to ${r.to}; the original is kept as ${r.backup}`,
  );
}
