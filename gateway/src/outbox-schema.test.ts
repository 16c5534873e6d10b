// The outbox file's schema version: a file written before versions were kept (Pantau 0.1.0, without
// the acked column; or today's tables at user_version 0) opens, keeps its messages and is marked
// version 1; a file from a newer Pantau is refused, named, and left as it is (not set aside as damaged).

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaError } from '@pantau/config';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskOutbox, OUTBOX_SCHEMA } from './outbox.js';

/** The outbox tables as Pantau 0.1.0 created them (git abf2d1b^:gateway/src/outbox.ts): no acked column. */
const SCHEMA_0_1_0 = `
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY, topic TEXT NOT NULL, body BLOB NOT NULL, ts INTEGER NOT NULL, enq INTEGER NOT NULL,
  seq INTEGER
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rejected (
  id INTEGER PRIMARY KEY, topic TEXT NOT NULL, body BLOB NOT NULL, ts INTEGER NOT NULL, enq INTEGER NOT NULL,
  seq INTEGER, at INTEGER NOT NULL
);
`;

const TS = Date.UTC(2026, 11, 1);

function oldFile(path: string, schema: (db: Database.Database) => void): void {
  const db = new Database(path);
  schema(db);
  const ins = db.prepare('INSERT INTO outbox (id, topic, body, ts, enq, seq) VALUES (?, ?, ?, ?, ?, ?)');
  for (let i = 1; i <= 3; i++)
    ins.run(i, `pantau/v1/s/d${i}/telemetry`, Buffer.from(`m${i}`), TS + i, TS + i, i);
  db.prepare("INSERT INTO meta (key, value) VALUES ('last_seq', 3)").run();
  expect(db.pragma('user_version', { simple: true })).toBe(0);
  db.close();
}

const userVersion = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true });
  } finally {
    db.close();
  }
};

describe('outbox schema versions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-outbox-schema-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a 0.1.0 file (no acked column, user_version 0) opens, gains the column, replays its messages, becomes version 1', () => {
    const path = join(dir, 'old.db');
    oldFile(path, (db) => db.exec(SCHEMA_0_1_0));
    const box = new DiskOutbox({ path });
    expect(box.depth).toBe(3);
    expect(box.next(0, 10).map((m) => m.body.toString())).toEqual(['m1', 'm2', 'm3']);
    box.ack(box.next(0, 1)[0]!.id);
    box.close();
    expect(userVersion(path)).toBe(1);
    const again = new DiskOutbox({ path });
    expect(again.next(0, 10).map((m) => m.body.toString())).toEqual(['m2', 'm3']);
    again.close();
  });

  it("a file with today's tables and user_version 0 is recognised: kept as it is, marked version 1", () => {
    const path = join(dir, 'unversioned.db');
    oldFile(path, (db) => OUTBOX_SCHEMA.steps[0]!.up(db));
    const box = new DiskOutbox({ path });
    expect(box.depth).toBe(3);
    box.close();
    expect(userVersion(path)).toBe(1);
  });

  it('a file from a newer Pantau is refused with what to do, and left untouched', () => {
    const path = join(dir, 'newer.db');
    oldFile(path, (db) => OUTBOX_SCHEMA.steps[0]!.up(db));
    const db = new Database(path);
    db.pragma(`user_version = ${OUTBOX_SCHEMA.steps.length + 1}`);
    db.close();
    let err: unknown;
    try {
      new DiskOutbox({ path }).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `${path}: this outbox has schema version ${OUTBOX_SCHEMA.steps.length + 1}, written by a newer Pantau; this Pantau reads up to version ${OUTBOX_SCHEMA.steps.length}.*Install the newer Pantau`,
      ),
    );
    expect(existsSync(path)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('corrupt'))).toEqual([]);
    expect(userVersion(path)).toBe(OUTBOX_SCHEMA.steps.length + 1);
  });
});
