// Numbered schema versions for Pantau's own SQLite files (the central state database, the site
// box's outbox), kept in the file's header (PRAGMA user_version). Each file kind has a list of
// steps; step N brings a file at version N-1 to N. A file a newer Pantau wrote is refused rather
// than read wrongly or written into a shape that Pantau no longer understands.
//
// Step 1 of every list is "the tables as they were before versions were kept", written so that it
// also accepts a file that already has them (user_version 0 then means "unversioned", not "empty").

/** The part of a better-sqlite3 Database used here (so this package needs no native module). */
export interface SchemaDb {
  pragma(source: string, options?: { simple?: boolean }): unknown;
  exec(source: string): unknown;
  readonly inTransaction: boolean;
}

export interface SchemaStep {
  /** The version the file is at after this step: 1, 2, 3 … in order. */
  version: number;
  /** What the step does, for the log and the docs. */
  what: string;
  up(db: SchemaDb): void;
}

export interface SchemaKind {
  /** What the file is, in a message: "central state database", "outbox". */
  what: string;
  steps: readonly SchemaStep[];
}

export class SchemaError extends Error {
  override name = 'SchemaError';
}

const versionOf = (db: SchemaDb) => Number(db.pragma('user_version', { simple: true }));

/** The newest version a kind's steps reach; checks they are numbered 1 … n. */
export function latestVersion(kind: SchemaKind): number {
  kind.steps.forEach((s, i) => {
    if (s.version !== i + 1) throw new Error(`${kind.what}: schema step ${i + 1} is numbered ${s.version}`);
  });
  return kind.steps.length;
}

function refuseNewer(file: string, kind: SchemaKind, v: number, latest: number): void {
  if (v > latest)
    throw new SchemaError(
      `${file}: this ${kind.what} has schema version ${v}, written by a newer Pantau; this Pantau reads up to version ${latest}. ` +
        'Install the newer Pantau again, or restore a backup taken with this version (the file is left as it is)',
    );
}

/** For a file opened read-only: refuses one from a newer Pantau; returns its version. */
export function checkSchema(db: SchemaDb, file: string, kind: SchemaKind): number {
  const v = versionOf(db);
  refuseNewer(file, kind, v, latestVersion(kind));
  return v;
}

/**
 * Brings a file up to the newest version, one step at a time, in one IMMEDIATE transaction (two
 * processes opening the same file at once: the second waits, then sees the first one's work).
 * Returns the versions before and after.
 */
export function migrateSchema(db: SchemaDb, file: string, kind: SchemaKind): { from: number; to: number } {
  const latest = latestVersion(kind);
  const seen = versionOf(db);
  refuseNewer(file, kind, seen, latest);
  if (seen === latest) return { from: seen, to: seen };
  db.exec('BEGIN IMMEDIATE');
  try {
    const from = versionOf(db);
    refuseNewer(file, kind, from, latest);
    for (const step of kind.steps.slice(from)) {
      step.up(db);
      db.pragma(`user_version = ${step.version}`);
    }
    db.exec('COMMIT');
    return { from, to: latest };
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
}
