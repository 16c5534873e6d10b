// Config versions and migrations. No Pantau config has changed its format yet (every kind is at
// version 1), so the mechanism is tested with a kind that exists only here: "example.yaml", whose
// version 2 renamed `interval` to `interval_s`. The product's kinds are checked to be where the
// docs say (version 1, nothing to migrate).

import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './index.js';
import { migrateConfigFile } from './migrate-config.js';
import { CONFIG_KINDS, type ConfigKind, currentVersion, renameKey } from './versions.js';

const Schema = Type.Object(
  { name: Type.String(), interval_s: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);

const rename = (from: string, to: string) => ({
  from: 1,
  what: `${from} renamed to ${to}`,
  up: (doc: import('yaml').Document) => void renameKey(doc, [from], to),
});

const EXAMPLE: ConfigKind = {
  name: 'example.yaml',
  example: 'deploy/examples/example.yaml',
  oldest: 1,
  migrations: [rename('interval', 'interval_s')],
};
/** The same kind after its version 1 support was dropped: migrates from 2 (to 3). */
const LATER: ConfigKind = {
  name: 'example.yaml',
  example: 'deploy/examples/example.yaml',
  oldest: 2,
  migrations: [{ from: 2, what: 'nothing', up: () => {} }],
};

const parse = (text: string, kind = EXAMPLE) => parseConfig(text, 'example.yaml', Schema, { kind });
const issue = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error('no ConfigError');
};

describe('config versions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-config-versions-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('every product kind is at version 1 with nothing to migrate (none has changed its format)', () => {
    for (const k of Object.values(CONFIG_KINDS)) {
      expect(currentVersion(k), k.name).toBe(1);
      expect(k.migrations).toEqual([]);
    }
    expect(currentVersion(EXAMPLE)).toBe(2);
  });

  it('a file of an older version (or none: version 1) is migrated in memory; the current one is read as it is', () => {
    expect(parse('name: a\ninterval: 30\n')).toEqual({ name: 'a', interval_s: 30 });
    expect(parse('version: 1\nname: a\ninterval: 30\n')).toEqual({ name: 'a', interval_s: 30 });
    expect(parse('version: 2\nname: a\ninterval_s: 30\n')).toEqual({ name: 'a', interval_s: 30 });
    // The old field name in a file that says it is version 2 is not quietly accepted.
    expect(issue(() => parse('version: 2\nname: a\ninterval: 30\n'))).toMatch(
      /example\.yaml:3:1: interval: unknown key/,
    );
  });

  it('errors in a migrated file still point at the line the value is on', () => {
    expect(issue(() => parse('name: a\n# every half minute\ninterval: soon\n'))).toBe(
      'example.yaml:3:11: interval_s: must be an integer',
    );
  });

  it('a newer file and a file too old to migrate are refused at their version line, saying what to do', () => {
    expect(issue(() => parse('name: a\nversion: 3\n'))).toBe(
      'example.yaml:2:10: version: written for a newer Pantau (config version 3); this one reads version 2: upgrade Pantau, or use the config that came with this version',
    );
    expect(issue(() => parse('# old\nversion: 1\nname: a\n', LATER))).toBe(
      'example.yaml:2:10: version: config version 1 is too old for this Pantau, which migrates example.yaml from version 2 on (to 3): ' +
        'run "migrate-config" with an earlier Pantau that reads version 1 first, or write the file again from deploy/examples/example.yaml',
    );
    expect(issue(() => parse('version: two\nname: a\n'))).toMatch(/version: must be a whole number/);
  });

  it('migrate-config writes it back in the current version, keeps comments, mode and the original', () => {
    const file = join(dir, 'example.yaml');
    const old = '# Site of the example\nname: a # the name\n# every half minute\ninterval: 30\n';
    writeFileSync(file, old);
    chmodSync(file, 0o640);
    const load = (f: string) => parseConfig(readFileSync(f, 'utf8'), f, Schema, { kind: EXAMPLE });
    const r = migrateConfigFile(file, EXAMPLE, load);
    expect(r).toMatchObject({
      from: 1,
      to: 2,
      backup: `${file}.v1.bak`,
      applied: ['1 → 2: interval renamed to interval_s'],
    });
    expect(readFileSync(`${file}.v1.bak`, 'utf8')).toBe(old);
    const text = readFileSync(file, 'utf8');
    expect(text).toBe(
      '# Site of the example\nversion: 2\nname: a # the name\n# every half minute\ninterval_s: 30\n',
    );
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(load(file)).toEqual({ name: 'a', interval_s: 30 });
    // Once more: nothing to change, no second backup.
    rmSync(`${file}.v1.bak`);
    expect(migrateConfigFile(file, EXAMPLE, load)).toMatchObject({ from: 2, to: 2 });
    expect(existsSync(`${file}.v1.bak`)).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('migrate-config refuses a file its loader refuses, and changes nothing', () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'name: a\ninterval: 0\n');
    const load = (f: string) => parseConfig(readFileSync(f, 'utf8'), f, Schema, { kind: EXAMPLE });
    expect(() => migrateConfigFile(file, EXAMPLE, load)).toThrow(
      /broken\.yaml:2:11: interval_s: must be >= 1/,
    );
    expect(readFileSync(file, 'utf8')).toBe('name: a\ninterval: 0\n');
    expect(existsSync(`${file}.v1.bak`)).toBe(false);
  });
});
