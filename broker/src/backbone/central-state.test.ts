// The central state database's schema version: a file written before versions were kept opens
// through every module that uses it and is marked version 1, with what it held; a file from a newer
// Pantau is refused by every one of them, and by the command line, and left as it is.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { SchemaError } from '@pantau/config';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { EnrollmentDb } from '../enroll/db.js';
import { NotifyStore } from '../notify/queue.js';
import { SiteConfigs } from '../site-configs.js';
import { CentralDb } from './central-db.js';
import { CENTRAL_STATE_SCHEMA, openCentralState } from './central-state.js';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'cli.js');

/** The state tables as the first Pantau with a backbone created them (git d3c1c15), inside the store file. */
const SCHEMA_FIRST = `
CREATE TABLE IF NOT EXISTS baselines (
  link TEXT NOT NULL, recorded_at INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (link, recorded_at)
);
CREATE TABLE IF NOT EXISTS link_status (link TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (
  key TEXT NOT NULL, opened_at INTEGER NOT NULL, body TEXT NOT NULL, closed_at INTEGER,
  PRIMARY KEY (key, opened_at)
);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (closed_at);
`;

const userVersion = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true });
  } finally {
    db.close();
  }
};

const tables = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{
        name: string;
      }>
    ).map((r) => r.name);
  } finally {
    db.close();
  }
};

describe('central state database schema versions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-state-schema-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const LATEST = CENTRAL_STATE_SCHEMA.steps.length;

  it('a file from before versions (only the first tables, user_version 0) keeps its rows and gains the rest', () => {
    const path = join(dir, 'first.db');
    const db = new Database(path);
    db.exec(SCHEMA_FIRST);
    db.prepare('INSERT INTO baselines (link, recorded_at, body) VALUES (?, ?, ?)').run(
      'scc-bukit',
      1000,
      JSON.stringify({ recorded_at: 1000, recorded_by: 'insinyur' }),
    );
    db.close();
    expect(userVersion(path)).toBe(0);

    const central = new CentralDb(path);
    expect(central.baseline('scc-bukit')).toMatchObject({ recorded_by: 'insinyur' });
    central.close();
    expect(userVersion(path)).toBe(LATEST);
    expect(tables(path)).toEqual(
      expect.arrayContaining([
        'audit',
        'enrollments',
        'notify_queue',
        'site_configs',
        'commissioning_reports',
      ]),
    );
    const enroll = new EnrollmentDb(path);
    expect(enroll.list()).toEqual([]);
    enroll.close();
  });

  it("a file with today's tables and rows at user_version 0 is recognised: every module reads what it held", () => {
    const path = join(dir, 'unversioned.db');
    // Made by today's schema code, as a central before this version left it.
    const raw = new Database(path);
    CENTRAL_STATE_SCHEMA.steps[0]!.up(raw);
    raw.close();
    expect(userVersion(path)).toBe(0);
    {
      // Written without versions: the modules' own statements on the bare file.
      const db = new Database(path);
      db.prepare(
        "INSERT INTO site_configs (site, version, yaml, by, ts, status) VALUES ('bukit', 1, 'site: {}', 'admin', 5, 'applied')",
      ).run();
      db.prepare(
        "INSERT INTO audit (ts, \"user\", role, action, target, detail, remote) VALUES (6, 'admin', 'admin', 'login', NULL, '{}', NULL)",
      ).run();
      db.prepare(
        "INSERT INTO notify_queue (dedup, channel, recipient, subject, text, data, created_at, next_at) VALUES ('d1', 'email', 'noc@x.id', 's', 'GANGGUAN', '{}', 7, 7)",
      ).run();
      db.close();
    }
    const configs = new SiteConfigs(path);
    expect(configs.list('bukit').map((c) => c.status)).toEqual(['applied']);
    configs.close();
    expect(userVersion(path)).toBe(LATEST);
    const queue = new NotifyStore(path);
    expect(queue.db.prepare('SELECT text FROM notify_queue').all()).toEqual([{ text: 'GANGGUAN' }]);
    queue.db.close();
    const ro = openCentralState(path, { readonly: true });
    expect(ro.prepare('SELECT action FROM audit').all()).toEqual([{ action: 'login' }]);
    ro.close();
  });

  it('a file from a newer Pantau is refused by every module and the command line, and left untouched', async () => {
    const path = join(dir, 'newer.db');
    const db = new Database(path);
    db.exec('CREATE TABLE future (x)');
    db.pragma(`user_version = ${LATEST + 1}`);
    db.close();
    const message = new RegExp(
      `${path}: this central state database has schema version ${LATEST + 1}, written by a newer Pantau; this Pantau reads up to version ${LATEST}`,
    );
    for (const open of [
      () => new CentralDb(path).close(),
      () => new EnrollmentDb(path).close(),
      () => new SiteConfigs(path).close(),
      () => new NotifyStore(path).db.close(),
      () => openCentralState(path, { readonly: true }).close(),
    ]) {
      expect(open).toThrow(SchemaError);
      expect(open).toThrow(message);
    }
    expect(tables(path)).toEqual(['future']);
    expect(userVersion(path)).toBe(LATEST + 1);

    writeFileSync(join(dir, 'backbone.yaml'), 'root: scc\nsites:\n  - { id: scc, name: SCC }\n');
    writeFileSync(
      join(dir, 'central.yaml'),
      'credentials_file: credentials.yaml\nstore: { kind: sqlite, path: central.db }\nbackbone: { file: backbone.yaml, state_path: newer.db }\n',
    );
    await expect(
      run(process.execPath, [CLI, 'enroll', 'list', '--config', join(dir, 'central.yaml')]),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(message) });
  });
});
