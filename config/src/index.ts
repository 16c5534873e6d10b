// Loads YAML config files against a schema. Installers edit these files by hand on a site box with
// no one to ask, so every error must say which file, which line and which field, in plain words.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { bringToCurrent, type ConfigKind, UNVERSIONED } from './versions.js';

/** Exit code of every daemon and CLI for "your config is wrong". */
export const EXIT_CONFIG = 2;

export type ConfigPath = ReadonlyArray<string | number>;

export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the field, e.g. `devices[2].address`. */
  field: string;
  message: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(formatIssues(issues));
  }
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues
    .map((i) => `${i.file}:${i.line}:${i.column}: ${i.field || '(top level)'}: ${i.message}`)
    .join('\n');
}

export function fieldName(path: ConfigPath): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

const HOSTNAME =
  /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** An IP address or a DNS host name: what a device or broker address may be. */
export function isHostAddress(s: string): boolean {
  if (isIP(s) !== 0) return true;
  // A dotted all-numeric string that is not a valid IPv4 address (e.g. 192.168.1.300) is a typo, not a name.
  if (/^[0-9.]+$/.test(s)) return false;
  return HOSTNAME.test(s);
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function makeAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false });
  addFormats(ajv);
  ajv.addFormat('host', { type: 'string', validate: isHostAddress });
  ajv.addFormat('slug', {
    type: 'string',
    validate: (s: string) => /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/.test(s),
  });
  ajv.addFormat('mqtt-url', {
    type: 'string',
    validate: (s: string) => {
      try {
        const u = new URL(s);
        return (
          ['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'tls:'].includes(u.protocol) &&
          isHostAddress(u.hostname.replace(/^\[|\]$/g, ''))
        );
      } catch {
        return false;
      }
    },
  });
  return ajv;
}

const ajv = makeAjv();

/** Returns where a path lives in the document; for a missing node, the nearest existing parent. */
function locate(
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  path: ConfigPath,
  key = false,
): { line: number; column: number } {
  let node: Node | null = doc.contents as Node | null;
  let at: number | undefined = node?.range?.[0];
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as Node;
      at = keyNode.range?.[0] ?? at;
      node = (pair.value as Node | null) ?? null;
      if (!key && node?.range) at = node.range[0];
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      node = item;
      at = item.range?.[0] ?? at;
    } else break;
  }
  const pos = lc.linePos(at ?? 0);
  return { line: pos.line, column: pos.col };
}

function describe(e: ErrorObject): { path: ConfigPath; message: string; key?: boolean } {
  const path: Array<string | number> = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return {
        path: [...path, String(p.additionalProperty)],
        message: 'unknown key (check the spelling)',
        key: true,
      };
    case 'required':
      return { path: [...path, String(p.missingProperty)], message: 'is required but missing' };
    case 'type': {
      const t = String(p.type).replace(',', ' or ');
      return { path, message: `must be ${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}` };
    }
    case 'format':
      if (p.format === 'host') return { path, message: 'is not a valid IP address or host name' };
      if (p.format === 'slug')
        return { path, message: 'must be a lowercase id: a-z, 0-9 and -, like "rsud-latemmamala"' };
      if (p.format === 'mqtt-url') return { path, message: 'must be a URL like mqtts://10.0.0.1:8883' };
      return { path, message: `must be a valid ${String(p.format)}` };
    case 'enum':
      return {
        path,
        message: `must be one of: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'const':
      return { path, message: `must be ${JSON.stringify(p.allowedValue)}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `must be ${String(p.comparison)} ${String(p.limit)}` };
    case 'minItems':
      return { path, message: `needs at least ${String(p.limit)} ${p.limit === 1 ? 'entry' : 'entries'}` };
    case 'maxItems':
      return { path, message: `may have at most ${String(p.limit)} entries` };
    case 'minLength':
      return {
        path,
        message: p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters`,
      };
    case 'maxLength':
      return { path, message: `must be at most ${String(p.limit)} characters` };
    default:
      return { path, message: e.message ?? 'is invalid' };
  }
}

export interface SemanticIssue {
  path: ConfigPath;
  message: string;
}

export interface LoadOptions<T> {
  /** Checks a schema cannot express (duplicate ids, cross references); returns issues with paths. */
  check?: (value: T) => SemanticIssue[];
  /** Which config this is: its version and migrations (versions.ts); default version 1, none. */
  kind?: ConfigKind;
}

/**
 * Parses YAML text against a schema; throws ConfigError naming file, line and field. A file of an
 * older config version is migrated in memory first; a newer or too old one is refused at its
 * `version:` line.
 */
export function parseConfig<S extends TSchema>(
  text: string,
  file: string,
  schema: S,
  opts: LoadOptions<Static<S>> = {},
): Static<S> {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        return {
          file,
          line: pos.line,
          column: pos.col,
          field: '',
          message: `YAML syntax: ${e.message.split('\n')[0]}`,
        };
      }),
    );
  }
  if (isMap(doc.contents)) {
    const v = bringToCurrent(doc, opts.kind ?? UNVERSIONED);
    if ('error' in v)
      throw new ConfigError(file, [
        { file, ...locate(doc, lc, ['version']), field: 'version', message: v.error },
      ]);
  }
  const value: unknown = doc.toJS() ?? {};
  const validate = ajv.compile(schema);
  if (!validate(value)) {
    const seen = new Set<string>();
    const issues: ConfigIssue[] = [];
    // With anyOf/oneOf Ajv reports every branch; keep the most specific message per field.
    for (const e of validate.errors ?? []) {
      if (e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'if') continue;
      const d = describe(e);
      const field = fieldName(d.path);
      if (seen.has(field)) continue;
      seen.add(field);
      issues.push({ file, ...locate(doc, lc, d.path, d.key), field, message: d.message });
    }
    issues.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigError(file, issues);
  }
  const semantic = opts.check?.(value as Static<S>) ?? [];
  if (semantic.length > 0) {
    throw new ConfigError(
      file,
      semantic.map((s) => ({
        file,
        ...locate(doc, lc, s.path),
        field: fieldName(s.path),
        message: s.message,
      })),
    );
  }
  return value as Static<S>;
}

/** A config file's text; a missing or unreadable file is a ConfigError naming it. */
export function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [
      {
        file,
        line: 0,
        column: 0,
        field: '',
        message: code === 'ENOENT' ? 'file not found' : `cannot read: ${code}`,
      },
    ]);
  }
}

/** Reads and parses a config file; a missing or unreadable file is a ConfigError too. */
export function loadConfig<S extends TSchema>(
  file: string,
  schema: S,
  opts: LoadOptions<Static<S>> = {},
): Static<S> {
  const text = readConfigText(file);
  return parseConfig(text, file, schema, opts);
}

/** Reports ids that occur more than once in a list, pointing at each repeat. */
export function duplicateIds(
  items: ReadonlyArray<{ id: string }>,
  listPath: ConfigPath,
  what = 'id',
): SemanticIssue[] {
  const first = new Map<string, number>();
  const out: SemanticIssue[] = [];
  items.forEach((item, i) => {
    const prev = first.get(item.id);
    if (prev === undefined) first.set(item.id, i);
    else
      out.push({
        path: [...listPath, i, 'id'],
        message: `duplicate ${what} "${item.id}" (first used at ${fieldName([...listPath, prev])})`,
      });
  });
  return out;
}

export * from './secrets.js';

/** The log levels every daemon accepts. */
export const LogLevelSchema = Type.Union(
  [
    Type.Literal('fatal'),
    Type.Literal('error'),
    Type.Literal('warn'),
    Type.Literal('info'),
    Type.Literal('debug'),
    Type.Literal('trace'),
  ],
  { default: 'info' },
);

/** Resolves a path from a config file the way users expect: relative to the file's own folder. */
export function pathFrom(configFile: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dirname(resolve(configFile)), p);
}

/** Reads a secret named by a config field (e.g. `mqtt.password_file`); a missing file is a ConfigError for that field. */
export function readSecretFile(configFile: string, field: string, p: string): string {
  const abs = pathFrom(configFile, p);
  try {
    return readFileSync(abs, 'utf8').trim();
  } catch (e) {
    throw new ConfigError(configFile, [
      {
        file: configFile,
        line: 0,
        column: 0,
        field,
        message: `cannot read ${abs}: ${(e as NodeJS.ErrnoException).code}`,
      },
    ]);
  }
}
export * from './atomic-write.js';
export * from './cli.js';
export * from './migrate-config.js';
export * from './mqtt-servers.js';
export * from './observe.js';
export * from './sqlite-schema.js';
export * from './tls.js';
export * from './versions.js';
