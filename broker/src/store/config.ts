// The `store:` section shared by central.yaml and dashboard.yaml. One flat object with `kind` rather
// than a union of objects: Ajv reports every branch of a union, while one schema plus a semantic
// check names the one field that is wrong.

import { pathFrom, readSecretFile, type SemanticIssue } from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';

export const StoreConfigSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('sqlite'), Type.Literal('influx')], { default: 'sqlite' }),
    /** sqlite: the database file. */
    path: Type.Optional(Type.String({ minLength: 1 })),
    /** influx: the InfluxDB 1.x HTTP API, e.g. http://127.0.0.1:8086 */
    url: Type.Optional(Type.String({ pattern: '^https?://[^/\\s]+/?$' })),
    database: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$' })),
    username: Type.Optional(Type.String({ minLength: 1 })),
    password_file: Type.Optional(Type.String({ minLength: 1 })),
    retention: Type.Optional(
      Type.Object(
        {
          raw_days: Type.Integer({ minimum: 1, maximum: 3650, default: 30 }),
          rollup_days: Type.Integer({ minimum: 1, maximum: 36500, default: 365 }),
          rollup_every: Type.String({ pattern: '^[1-9][0-9]*[mh]$', default: '5m' }),
        },
        { additionalProperties: false },
      ),
    ),
    batch: Type.Optional(
      Type.Object(
        {
          max_points: Type.Integer({ minimum: 1, maximum: 100_000, default: 5000 }),
          flush_ms: Type.Integer({ minimum: 10, maximum: 60_000, default: 100 }),
          /** While InfluxDB is unreachable points wait in memory up to this many; older ones are dropped. */
          max_buffered_points: Type.Integer({ minimum: 1000, maximum: 50_000_000, default: 500_000 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type StoreConfigInput = Static<typeof StoreConfigSchema>;

export interface SqliteStoreConfig {
  kind: 'sqlite';
  path: string;
}

export interface InfluxStoreConfig {
  kind: 'influx';
  url: string;
  database: string;
  username?: string;
  password?: string;
  retention: { raw_days: number; rollup_days: number; rollup_every: string };
  batch: { max_points: number; flush_ms: number; max_buffered_points: number };
}

export type StoreConfig = SqliteStoreConfig | InfluxStoreConfig;

const SQLITE_ONLY = ['path'] as const;
const INFLUX_ONLY = ['url', 'database', 'username', 'password_file', 'retention', 'batch'] as const;

/** What the schema cannot say: which fields each kind needs and allows. `at` is the section's path. */
export function storeConfigIssues(
  s: StoreConfigInput,
  at: ReadonlyArray<string> = ['store'],
): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  const foreign = s.kind === 'sqlite' ? INFLUX_ONLY : SQLITE_ONLY;
  for (const k of foreign)
    if (s[k] !== undefined) issues.push({ path: [...at, k], message: `not used by kind ${s.kind}` });
  if (s.kind === 'sqlite' && !s.path)
    issues.push({ path: [...at], message: 'kind sqlite needs path (the database file)' });
  if (s.kind === 'influx' && !s.url)
    issues.push({ path: [...at], message: 'kind influx needs url (e.g. http://127.0.0.1:8086)' });
  if (s.kind === 'influx' && s.password_file && !s.username)
    issues.push({ path: [...at, 'password_file'], message: 'needs username' });
  if (s.retention && s.retention.rollup_days < s.retention.raw_days)
    issues.push({
      path: [...at, 'retention', 'rollup_days'],
      message: `must be at least raw_days (${s.retention.raw_days})`,
    });
  return issues;
}

export const INFLUX_DEFAULTS = {
  database: 'pantau',
  retention: { raw_days: 30, rollup_days: 365, rollup_every: '5m' },
  batch: { max_points: 5000, flush_ms: 100, max_buffered_points: 500_000 },
} as const;

/** The checked section with paths made absolute and the password read; `file` is the config file. */
export function resolveStoreConfig(file: string, s: StoreConfigInput, field = 'store'): StoreConfig {
  if (s.kind === 'sqlite') return { kind: 'sqlite', path: pathFrom(file, s.path ?? '') };
  return {
    kind: 'influx',
    url: (s.url ?? '').replace(/\/$/, ''),
    database: s.database ?? INFLUX_DEFAULTS.database,
    ...(s.username ? { username: s.username } : {}),
    ...(s.password_file ? { password: readSecretFile(file, `${field}.password_file`, s.password_file) } : {}),
    retention: { ...INFLUX_DEFAULTS.retention, ...s.retention },
    batch: { ...INFLUX_DEFAULTS.batch, ...s.batch },
  };
}
