// The central state database (central-state.db): every table in it and their numbered schema
// versions, in one place, because the broker, the dashboard and the CLIs each open the same file
// for their own tables (baselines and incidents, enrollments, pushed site configs, the audit trail,
// the notification queue) and one PRAGMA user_version speaks for the whole file.
//
// Steps are history: never edit one that has shipped; add the next.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkSchema, migrateSchema, type SchemaKind } from '@pantau/config';
import Database from 'better-sqlite3';

/** The tables as they were before the file had a version (Pantau 0.1.0 up to 2026-12-02). */
const V1 = `
CREATE TABLE IF NOT EXISTS baselines (
  link TEXT NOT NULL, recorded_at INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (link, recorded_at)
);
CREATE TABLE IF NOT EXISTS link_status (link TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (
  key TEXT NOT NULL, opened_at INTEGER NOT NULL, body TEXT NOT NULL, closed_at INTEGER,
  PRIMARY KEY (key, opened_at)
);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (closed_at);
CREATE TABLE IF NOT EXISTS incident_notes (
  key TEXT NOT NULL, opened_at INTEGER NOT NULL, at INTEGER NOT NULL, username TEXT NOT NULL,
  kind TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_notes_key ON incident_notes (key, opened_at);
CREATE TABLE IF NOT EXISTS commissioning_reports (
  site TEXT NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL, received_at INTEGER NOT NULL,
  body TEXT NOT NULL, PRIMARY KEY (site, id)
);
CREATE TABLE IF NOT EXISTS site_configs (
  site TEXT NOT NULL, version INTEGER NOT NULL, yaml TEXT NOT NULL, by TEXT NOT NULL, ts INTEGER NOT NULL,
  status TEXT NOT NULL, detail TEXT, answered_at INTEGER,
  PRIMARY KEY (site, version)
);
CREATE TABLE IF NOT EXISTS enrollments (
  id TEXT PRIMARY KEY,
  site TEXT NOT NULL,
  token_hash BLOB NOT NULL UNIQUE,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  used_from TEXT,
  box TEXT,
  revoked_at INTEGER,
  revoked_by TEXT,
  new_site INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS enrollments_site ON enrollments (site);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, "user" TEXT NOT NULL, role TEXT,
  action TEXT NOT NULL, target TEXT, detail TEXT NOT NULL DEFAULT '{}', remote TEXT
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
CREATE INDEX IF NOT EXISTS audit_user ON audit ("user", ts);
CREATE INDEX IF NOT EXISTS audit_action ON audit (action, ts);
CREATE TABLE IF NOT EXISTS notify_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dedup TEXT NOT NULL UNIQUE,
  channel TEXT NOT NULL,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  text TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  next_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'pending',
  last_error TEXT,
  done_at INTEGER
);
CREATE INDEX IF NOT EXISTS notify_queue_due ON notify_queue (state, next_at);
CREATE TABLE IF NOT EXISTS notify_episodes (key TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notify_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
`;

export const CENTRAL_STATE_SCHEMA: SchemaKind = {
  what: 'central state database',
  steps: [
    {
      version: 1,
      what:
        'the tables as they were before versions were kept (baselines, link_status, incidents, incident_notes, ' +
        'commissioning_reports, site_configs, enrollments, audit, notify_queue, notify_episodes, notify_meta); ' +
        'tables a file already has are kept as they are',
      up: (db) => db.exec(V1),
    },
  ],
};

/**
 * Opens the central state database, brought to this Pantau's schema (or, read-only, checked that
 * no newer Pantau wrote it). Throws SchemaError for a file from a newer Pantau.
 */
export function openCentralState(path: string, opts: { readonly?: boolean } = {}): Database.Database {
  if (!opts.readonly) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, opts.readonly ? { readonly: true, fileMustExist: true } : {});
  try {
    db.pragma('busy_timeout = 5000');
    if (opts.readonly) checkSchema(db, path, CENTRAL_STATE_SCHEMA);
    else {
      db.pragma('journal_mode = WAL');
      migrateSchema(db, path, CENTRAL_STATE_SCHEMA);
    }
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}
