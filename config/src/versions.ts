// Config format versions, per kind of config file. A file may say `version: N` at its top; without
// it, it is version 1 (every config written before versions were named). Each kind has a list of
// migrations, one per version step; a file of an older version is migrated in memory when it is
// read (and written back by `migrate-config`, keeping the original), a file from a newer Pantau is
// refused, and a file older than the oldest version a kind still migrates from is refused with
// what to do.
//
// Migrations edit the parsed YAML document, not plain objects, so a file written back keeps its
// comments and layout wherever a migration did not touch it.

import { type Document, isMap, isScalar, type Pair, type Scalar } from 'yaml';

export interface ConfigMigration {
  /** Migrates a file of this version to the next one. */
  from: number;
  /** One line for the person upgrading, e.g. `mqtt.url renamed to mqtt.urls (a list)`. */
  what: string;
  up(doc: Document): void;
}

export interface ConfigKind {
  /** The file's usual name, for messages: site.yaml. */
  name: string;
  /** Where a fresh one comes from, for the "too old" message. */
  example: string;
  /** The oldest version this Pantau migrates from; older ones are refused. */
  oldest: number;
  /** In order: from oldest, oldest + 1, … up to the current version - 1. */
  migrations: readonly ConfigMigration[];
}

/** The version a kind reads and writes today. */
export function currentVersion(kind: ConfigKind): number {
  kind.migrations.forEach((m, i) => {
    if (m.from !== kind.oldest + i)
      throw new Error(`${kind.name}: migration ${i} is from version ${m.from}, expected ${kind.oldest + i}`);
  });
  return kind.oldest + kind.migrations.length;
}

const kind = (name: string, example: string): ConfigKind => ({ name, example, oldest: 1, migrations: [] });

/**
 * Every config kind Pantau reads and its migrations. None has changed its format yet: all are at
 * version 1. A change that renames or moves a field adds a migration here (from: 1) and the kind
 * is then at version 2; old files keep working and `migrate-config` rewrites them.
 */
export const CONFIG_KINDS = {
  site: kind('site.yaml', 'deploy/examples/site.yaml'),
  central: kind('central.yaml', 'deploy/examples/central.yaml'),
  dashboard: kind('dashboard.yaml', 'deploy/examples/dashboard.yaml'),
  notify: kind('notify.yaml', 'the example in docs/notifications.md'),
  backbone: kind('backbone.yaml', 'deploy/backbone.example.yaml'),
} as const satisfies Record<string, ConfigKind>;

/** Files with no kind of their own (accounts, users): version 1, no migrations. */
export const UNVERSIONED: ConfigKind = kind('the file', 'the example in the docs');

/**
 * Reads a document's `version`, migrates it to the current version, and removes `version` from it
 * when `keep` is false (the schemas do not know the field). Returns the versions, or what is wrong.
 */
export function bringToCurrent(
  doc: Document,
  kind: ConfigKind,
  keep = false,
): { from: number; to: number; applied: ConfigMigration[] } | { error: string } {
  const current = currentVersion(kind);
  const raw: unknown = doc.has('version') ? doc.get('version') : 1;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1)
    return { error: `must be a whole number (this Pantau reads ${kind.name} version ${current})` };
  if (raw > current)
    return {
      error: `written for a newer Pantau (config version ${raw}); this one reads version ${current}: upgrade Pantau, or use the config that came with this version`,
    };
  if (raw < kind.oldest)
    return {
      error:
        `config version ${raw} is too old for this Pantau, which migrates ${kind.name} from version ${kind.oldest} on ` +
        `(to ${current}): run "migrate-config" with an earlier Pantau that reads version ${raw} first, or write the file again from ${kind.example}`,
    };
  const applied = kind.migrations.filter((m) => m.from >= raw);
  for (const m of applied) m.up(doc);
  if (keep) {
    if (applied.length > 0) setVersion(doc, current);
  } else doc.delete('version');
  return { from: raw, to: current, applied };
}

/** Sets `version` and, when it was missing, puts it first (under the file's opening comment). */
function setVersion(doc: Document, v: number): void {
  if (doc.has('version') || !isMap(doc.contents)) {
    doc.set('version', v);
    return;
  }
  const items = doc.contents.items as Pair[];
  const pair = doc.createPair('version', v) as Pair<Scalar>;
  const first = items[0]?.key;
  if (isScalar(first) && first.commentBefore) {
    pair.key!.commentBefore = first.commentBefore;
    first.commentBefore = undefined;
  }
  items.unshift(pair);
}

/**
 * For migrations: renames a key in place (`path` to the key, e.g. ['mqtt', 'url']), so its value,
 * its comments, its place in the file and the line numbers of later errors stay. True when renamed.
 */
export function renameKey(doc: Document, path: ReadonlyArray<string>, to: string): boolean {
  const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
  if (!isMap(parent)) return false;
  const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path.at(-1));
  if (!pair || parent.items.some((p) => isScalar(p.key) && p.key.value === to)) return false;
  (pair.key as Scalar).value = to;
  return true;
}
