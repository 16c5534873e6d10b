// The persistent side of notifications, in the central's SQLite file beside the incidents: the
// delivery queue (one row per message, channel and recipient, unique by its dedup key so a restart
// or a second evaluation never queues it twice), the state of each incident's run of trouble, and
// small markers (when the digest last went out, how far incidents have been read).

import type Database from 'better-sqlite3';
import { openCentralState } from '../backbone/central-state.js';

export interface QueuedRow {
  id: number;
  dedup: string;
  channel: string;
  recipient: string;
  subject: string;
  text: string;
  data: string;
  created_at: number;
  next_at: number;
  attempts: number;
  state: 'pending' | 'sent' | 'dead';
  last_error: string | null;
  done_at: number | null;
}

export type NewRow = Pick<QueuedRow, 'dedup' | 'channel' | 'recipient' | 'subject' | 'text' | 'data'>;

export class NotifyStore {
  readonly db: Database.Database;

  constructor(path: string) {
    this.db = openCentralState(path);
  }

  /** Queues a delivery unless one with the same dedup key was ever queued; true when queued now. */
  enqueue(r: NewRow, now: number): boolean {
    return (
      this.db
        .prepare(
          `INSERT OR IGNORE INTO notify_queue (dedup, channel, recipient, subject, text, data, created_at, next_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(r.dedup, r.channel, r.recipient, r.subject, r.text, r.data, now, now).changes === 1
    );
  }

  due(now: number, limit = 50): QueuedRow[] {
    return this.db
      .prepare("SELECT * FROM notify_queue WHERE state = 'pending' AND next_at <= ? ORDER BY id LIMIT ?")
      .all(now, limit) as QueuedRow[];
  }

  sent(id: number, now: number): void {
    this.db
      .prepare("UPDATE notify_queue SET state = 'sent', attempts = attempts + 1, done_at = ? WHERE id = ?")
      .run(now, id);
  }

  failed(id: number, error: string, nextAt: number): void {
    this.db
      .prepare('UPDATE notify_queue SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE id = ?')
      .run(error, nextAt, id);
  }

  dead(id: number, now: number): void {
    this.db.prepare("UPDATE notify_queue SET state = 'dead', done_at = ? WHERE id = ?").run(now, id);
  }

  rows(): QueuedRow[] {
    return this.db.prepare('SELECT * FROM notify_queue ORDER BY id').all() as QueuedRow[];
  }

  /** Delivered and given-up rows older than this are forgotten; their dedup keys are long past use. */
  prune(before: number): void {
    this.db.prepare("DELETE FROM notify_queue WHERE state != 'pending' AND done_at < ?").run(before);
  }

  getEpisodes<T>(): Map<string, T> {
    return new Map(
      (
        this.db.prepare('SELECT key, body FROM notify_episodes').all() as Array<{ key: string; body: string }>
      ).map((r) => [r.key, JSON.parse(r.body) as T]),
    );
  }

  putEpisode(key: string, body: unknown): void {
    this.db
      .prepare('INSERT OR REPLACE INTO notify_episodes (key, body) VALUES (?, ?)')
      .run(key, JSON.stringify(body));
  }

  deleteEpisode(key: string): void {
    this.db.prepare('DELETE FROM notify_episodes WHERE key = ?').run(key);
  }

  meta(k: string): string | null {
    return (
      (this.db.prepare('SELECT v FROM notify_meta WHERE k = ?').get(k) as { v: string } | undefined)?.v ??
      null
    );
  }

  setMeta(k: string, v: string): void {
    this.db.prepare('INSERT OR REPLACE INTO notify_meta (k, v) VALUES (?, ?)').run(k, v);
  }

  /** Whether anyone acknowledged an incident of this cause opened since `since` (the dashboard writes these). */
  acknowledged(key: string, since: number): boolean {
    return (
      this.db
        .prepare("SELECT 1 FROM incident_notes WHERE key = ? AND opened_at >= ? AND kind = 'ack' LIMIT 1")
        .get(key, since) !== undefined
    );
  }

  close(): void {
    this.db.close();
  }
}
