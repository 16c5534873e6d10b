// The central's own state beside the telemetry store: link baselines, the latest verdict of every
// link, and incidents. One small SQLite file in WAL mode, shared by the broker (which judges) and
// the dashboard (which shows and records baselines), so the dashboard works with any telemetry store.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Reason } from '@pantau/contract';
import Database from 'better-sqlite3';
import { openCentralState } from './central-state.js';
import type { LinkBaseline, LinkVerdict } from './classifier.js';

export interface IncidentRecord {
  key: string;
  kind: 'link' | 'site' | 'device' | 'weather';
  /** The link, site or device that is the cause (for weather: the area). */
  subject: string;
  severity: 'warning' | 'critical';
  title: Reason;
  affected: { sites: string[]; links: string[]; devices: string[] };
  /** For outages: power, RF or a hung device, and why it is thought so. */
  outage?: { label: 'power' | 'rf' | 'device_hang' | 'unknown'; reason: Reason };
  opened_at: number;
  updated_at: number;
  closed_at: number | null;
}

export interface LinkStatusRecord {
  link: string;
  verdict: LinkVerdict;
  updated_at: number;
}

/** A site's commissioning report as the central keeps it (the payload, as sent). */
export interface CommissioningRecord {
  site: string;
  id: string;
  created_at: number;
  received_at: number;
  body: string;
}

/** Someone at the command center acknowledged an incident or wrote a note on it. */
export interface IncidentNote {
  key: string;
  opened_at: number;
  at: number;
  username: string;
  /** ack: "seen, someone is on it" (stops repeated notifications); note: free text. */
  kind: 'ack' | 'note';
  text: string;
}

export class CentralDb {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = openCentralState(path);
  }

  /** Baselines are kept, not overwritten: the latest one counts, the older ones are history. */
  putBaseline(link: string, b: LinkBaseline): void {
    this.db
      .prepare('INSERT OR REPLACE INTO baselines (link, recorded_at, body) VALUES (?, ?, ?)')
      .run(link, b.recorded_at, JSON.stringify(b));
  }

  baseline(link: string): LinkBaseline | null {
    const row = this.db
      .prepare('SELECT body FROM baselines WHERE link = ? ORDER BY recorded_at DESC LIMIT 1')
      .get(link) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as LinkBaseline) : null;
  }

  baselineHistory(link: string): LinkBaseline[] {
    return (
      this.db
        .prepare('SELECT body FROM baselines WHERE link = ? ORDER BY recorded_at DESC')
        .all(link) as Array<{
        body: string;
      }>
    ).map((r) => JSON.parse(r.body) as LinkBaseline);
  }

  putLinkStatus(link: string, v: LinkVerdict, at: number): void {
    this.db
      .prepare('INSERT OR REPLACE INTO link_status (link, body, updated_at) VALUES (?, ?, ?)')
      .run(link, JSON.stringify(v), at);
  }

  linkStatuses(): LinkStatusRecord[] {
    return (
      this.db.prepare('SELECT link, body, updated_at FROM link_status').all() as Array<{
        link: string;
        body: string;
        updated_at: number;
      }>
    ).map((r) => ({ link: r.link, verdict: JSON.parse(r.body) as LinkVerdict, updated_at: r.updated_at }));
  }

  openIncidents(): IncidentRecord[] {
    return (
      this.db
        .prepare('SELECT body FROM incidents WHERE closed_at IS NULL ORDER BY opened_at')
        .all() as Array<{
        body: string;
      }>
    ).map((r) => JSON.parse(r.body) as IncidentRecord);
  }

  incidents(q: { since?: number; limit?: number } = {}): IncidentRecord[] {
    return (
      this.db
        .prepare(
          'SELECT body FROM incidents WHERE closed_at IS NULL OR closed_at >= ? ORDER BY opened_at DESC LIMIT ?',
        )
        .all(q.since ?? 0, q.limit ?? 200) as Array<{ body: string }>
    ).map((r) => JSON.parse(r.body) as IncidentRecord);
  }

  /** Incidents open at some time in [from, to), oldest first. */
  incidentsBetween(from: number, to: number): IncidentRecord[] {
    return (
      this.db
        .prepare(
          'SELECT body FROM incidents WHERE opened_at < ? AND (closed_at IS NULL OR closed_at > ?) ORDER BY opened_at',
        )
        .all(to, from) as Array<{ body: string }>
    ).map((r) => JSON.parse(r.body) as IncidentRecord);
  }

  /** The incident with this key that opened at this time, if any. */
  incident(key: string, openedAt: number): IncidentRecord | null {
    const r = this.db
      .prepare('SELECT body FROM incidents WHERE key = ? AND opened_at = ?')
      .get(key, openedAt) as { body: string } | undefined;
    return r ? (JSON.parse(r.body) as IncidentRecord) : null;
  }

  // Notes live beside the incident, not in it: the broker rewrites an incident's body as it evolves.
  addIncidentNote(n: IncidentNote): void {
    this.db
      .prepare(
        'INSERT INTO incident_notes (key, opened_at, at, username, kind, text) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(n.key, n.opened_at, n.at, n.username, n.kind, n.text);
  }

  /** Notes on these incidents, oldest first, by "key@opened_at". */
  incidentNotes(of: Array<{ key: string; opened_at: number }>): Map<string, IncidentNote[]> {
    const out = new Map<string, IncidentNote[]>();
    const q = this.db.prepare(
      'SELECT key, opened_at, at, username, kind, text FROM incident_notes WHERE key = ? AND opened_at = ? ORDER BY at',
    );
    for (const i of of) {
      const rows = q.all(i.key, i.opened_at) as IncidentNote[];
      if (rows.length > 0) out.set(`${i.key}@${i.opened_at}`, rows);
    }
    return out;
  }

  putIncident(i: IncidentRecord): void {
    this.db
      .prepare('INSERT OR REPLACE INTO incidents (key, opened_at, body, closed_at) VALUES (?, ?, ?, ?)')
      .run(i.key, i.opened_at, JSON.stringify(i), i.closed_at);
  }

  /** A re-sent report (QoS 1 may deliver twice) replaces the copy with the same id. */
  putCommissioningReport(r: CommissioningRecord): void {
    this.db
      .prepare(
        'INSERT OR REPLACE INTO commissioning_reports (site, id, created_at, received_at, body) VALUES (?, ?, ?, ?, ?)',
      )
      .run(r.site, r.id, r.created_at, r.received_at, r.body);
  }

  /** A site's reports, newest first, without their bodies. */
  commissioningReports(site: string): Array<Omit<CommissioningRecord, 'body'>> {
    return this.db
      .prepare(
        'SELECT site, id, created_at, received_at FROM commissioning_reports WHERE site = ? ORDER BY created_at DESC',
      )
      .all(site) as Array<Omit<CommissioningRecord, 'body'>>;
  }

  commissioningReport(site: string, id: string): CommissioningRecord | null {
    return (
      (this.db
        .prepare(
          'SELECT site, id, created_at, received_at, body FROM commissioning_reports WHERE site = ? AND id = ?',
        )
        .get(site, id) as CommissioningRecord | undefined) ?? null
    );
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Where the central state lives when the config does not say: central-state.db in `dir`. Before
 * 2026-12 the default was central.db beside the store — with the store's default name, the very
 * same file — so a central upgraded from then keeps its baselines and incidents in the store file:
 * use that while no central-state.db exists.
 */
export function defaultStatePath(dir: string, storePath?: string): string {
  const current = join(dir, 'central-state.db');
  if (existsSync(current) || !storePath || !existsSync(storePath)) return current;
  try {
    const db = new Database(storePath, { readonly: true, fileMustExist: true });
    try {
      const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'incidents'").get();
      return has ? storePath : current;
    } finally {
      db.close();
    }
  } catch {
    return current;
  }
}
