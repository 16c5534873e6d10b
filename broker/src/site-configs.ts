// The site configs the central sent to site boxes, versioned per site, with what each box answered
// (applied, rolled back and why, refused, no answer). Kept in the central state database beside
// incidents and baselines, in a table of its own, so a config can be read back and sent again.

import type Database from 'better-sqlite3';
import { openCentralState } from './backbone/central-state.js';

export type SiteConfigStatus = 'sent' | 'applied' | 'rolled_back' | 'refused' | 'failed' | 'no_answer';

export interface SiteConfigRecord {
  site: string;
  version: number;
  yaml: string;
  by: string;
  ts: number;
  status: SiteConfigStatus;
  /** Why it was not applied: the box's reason, or the transport's. */
  detail: string | null;
  /** When the box answered. */
  answered_at: number | null;
}

export class SiteConfigs {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = openCentralState(path);
  }

  /** Records a config about to be sent under the site's next version number. */
  add(site: string, yaml: string, by: string, ts = Date.now()): SiteConfigRecord {
    const add = this.db.transaction(() => {
      const row = this.db
        .prepare('SELECT COALESCE(MAX(version), 0) + 1 AS v FROM site_configs WHERE site = ?')
        .get(site) as { v: number };
      this.db
        .prepare(
          "INSERT INTO site_configs (site, version, yaml, by, ts, status) VALUES (?, ?, ?, ?, ?, 'sent')",
        )
        .run(site, row.v, yaml, by, ts);
      return row.v;
    });
    const version = add();
    return { site, version, yaml, by, ts, status: 'sent', detail: null, answered_at: null };
  }

  answer(site: string, version: number, status: SiteConfigStatus, detail: string | null, at = Date.now()) {
    this.db
      .prepare(
        'UPDATE site_configs SET status = ?, detail = ?, answered_at = ? WHERE site = ? AND version = ?',
      )
      .run(status, detail, at, site, version);
  }

  get(site: string, version?: number): SiteConfigRecord | null {
    const row =
      version === undefined
        ? this.db.prepare('SELECT * FROM site_configs WHERE site = ? ORDER BY version DESC LIMIT 1').get(site)
        : this.db.prepare('SELECT * FROM site_configs WHERE site = ? AND version = ?').get(site, version);
    return (row as SiteConfigRecord | undefined) ?? null;
  }

  /** Newest first, without the texts. */
  list(site: string, limit = 50): Array<Omit<SiteConfigRecord, 'yaml'>> {
    return this.db
      .prepare(
        'SELECT site, version, by, ts, status, detail, answered_at FROM site_configs WHERE site = ? ORDER BY version DESC LIMIT ?',
      )
      .all(site, limit) as Array<Omit<SiteConfigRecord, 'yaml'>>;
  }

  /** The last config the box applied: what a box reinstalled from scratch should get. */
  lastApplied(site: string): SiteConfigRecord | null {
    const row = this.db
      .prepare(
        "SELECT * FROM site_configs WHERE site = ? AND status = 'applied' ORDER BY version DESC LIMIT 1",
      )
      .get(site);
    return (row as SiteConfigRecord | undefined) ?? null;
  }

  close(): void {
    this.db.close();
  }
}
