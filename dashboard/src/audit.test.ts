import { join } from 'node:path';
import { CentralDb, type IncidentRecord } from '@pantau/broker/backbone';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/procs.js';
import { AuditLog } from './audit.js';

const entry = (ts: number, user: string, action: string, target: string | null = null) => ({
  ts,
  user,
  role: 'admin',
  action,
  target,
  detail: { n: ts },
  remote: '127.0.0.1',
});

describe('audit log', () => {
  const dir = tempDir('audit');
  afterAll(() => dir.remove());

  it('records and finds entries by period, user and action, newest first', () => {
    const log = new AuditLog(join(dir.path, 'state.db'));
    log.record(entry(1000, 'admin', 'login'));
    log.record(entry(2000, 'admin', 'user_added', 'budi'));
    log.record(entry(3000, 'budi', 'login'));
    log.record(entry(4000, 'budi', 'incident_note', 'link:a-b'));
    expect(log.search().map((e) => e.ts)).toEqual([4000, 3000, 2000, 1000]);
    expect(log.search({ from: 2000, to: 4000 }).map((e) => e.ts)).toEqual([3000, 2000]);
    expect(log.search({ user: 'budi' }).map((e) => e.action)).toEqual(['incident_note', 'login']);
    expect(log.search({ action: 'login' }).map((e) => e.user)).toEqual(['budi', 'admin']);
    expect(log.search({ limit: 1 })[0]).toMatchObject({
      ts: 4000,
      user: 'budi',
      role: 'admin',
      target: 'link:a-b',
      detail: { n: 4000 },
      remote: '127.0.0.1',
    });
    log.close();
  });

  it('adds its table to a state file from before it; incidents and notes there stay as they were', () => {
    const path = join(dir.path, 'old-state.db');
    // The state file's layout before the audit table, with an incident and a note in it.
    const old = new Database(path);
    old.exec(`
      CREATE TABLE baselines (link TEXT NOT NULL, recorded_at INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (link, recorded_at));
      CREATE TABLE link_status (link TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE incidents (key TEXT NOT NULL, opened_at INTEGER NOT NULL, body TEXT NOT NULL, closed_at INTEGER, PRIMARY KEY (key, opened_at));
      CREATE INDEX incidents_open ON incidents (closed_at);
      CREATE TABLE incident_notes (key TEXT NOT NULL, opened_at INTEGER NOT NULL, at INTEGER NOT NULL, username TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL);
      CREATE INDEX incident_notes_key ON incident_notes (key, opened_at);
    `);
    const inc: IncidentRecord = {
      key: 'link:scc-bukit',
      kind: 'link',
      subject: 'scc-bukit',
      severity: 'critical',
      title: { code: 'link_down', id: 'Tautan terputus', en: 'Link down' },
      affected: { sites: ['bukit'], links: ['scc-bukit'], devices: [] },
      opened_at: 5000,
      updated_at: 5000,
      closed_at: null,
    };
    old.prepare('INSERT INTO incidents VALUES (?, ?, ?, ?)').run(inc.key, 5000, JSON.stringify(inc), null);
    old
      .prepare('INSERT INTO incident_notes VALUES (?, ?, ?, ?, ?, ?)')
      .run(inc.key, 5000, 6000, 'op', 'ack', '');
    old.close();

    // A read-only look (the CLI) before the dashboard ever opened it: nothing recorded, no error.
    const ro = new AuditLog(path, { readonly: true });
    expect(ro.search()).toEqual([]);
    ro.close();

    const log = new AuditLog(path);
    log.record(entry(7000, 'admin', 'login'));
    expect(log.search()).toHaveLength(1);
    log.close();
    // Opened again (a restart): the table is there once, the entry kept.
    const again = new AuditLog(path);
    expect(again.search()).toHaveLength(1);
    again.close();

    const db = new CentralDb(path);
    expect(db.openIncidents()).toEqual([inc]);
    expect(db.incidentNotes([inc]).get('link:scc-bukit@5000')).toMatchObject([
      { username: 'op', kind: 'ack' },
    ]);
    db.close();
  });
});
