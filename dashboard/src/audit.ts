// The audit log: every action in the dashboard that changes something (logins, users, incidents,
// requests sent to site boxes), who did it, with which role, from where. Kept in the central state
// database beside incidents and their notes, so it survives restarts and is backed up with them.
// The table is created when missing: a state file from before it keeps working as it was.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { openCentralState } from '@pantau/broker/backbone';
import { type Static, Type } from '@sinclair/typebox';
import type Database from 'better-sqlite3';
import type { FastifyInstance, FastifyRequest, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';

export interface AuditEntry {
  ts: number;
  /** Who: the session's user, or the name tried at a failed login. */
  user: string;
  role: string | null;
  /** What, e.g. login, login_failed, user_added, incident_acknowledged, camera_clock_sync. */
  action: string;
  /** On what: a username, incident key, site/device. */
  target: string | null;
  detail: Record<string, unknown>;
  remote: string | null;
}

export interface AuditQuery {
  from?: number;
  to?: number;
  user?: string;
  action?: string;
  limit?: number;
}

export class AuditLog {
  private readonly db: Database.Database;
  private insert: Database.Statement | null = null;

  constructor(path: string, opts: { readonly?: boolean } = {}) {
    this.db = openCentralState(path, opts);
  }

  record(e: AuditEntry): void {
    this.insert ??= this.db.prepare(
      'INSERT INTO audit (ts, "user", role, action, target, detail, remote) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.insert.run(e.ts, e.user, e.role, e.action, e.target, JSON.stringify(e.detail), e.remote);
  }

  /** Entries in [from, to), newest first. */
  search(q: AuditQuery = {}): Array<AuditEntry & { id: number }> {
    // A read-only look at a state file from before the audit table: nothing recorded yet.
    if (!this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'").get())
      return [];
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, v: unknown) => {
      if (v === undefined) return;
      where.push(clause);
      args.push(v);
    };
    add('ts >= ?', q.from);
    add('ts < ?', q.to);
    add('"user" = ?', q.user);
    add('action = ?', q.action);
    const rows = this.db
      .prepare(
        `SELECT id, ts, "user", role, action, target, detail, remote FROM audit
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts DESC, id DESC LIMIT ?`,
      )
      .all(...args, q.limit ?? 200) as Array<Omit<AuditEntry, 'detail'> & { id: number; detail: string }>;
    return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  close(): void {
    this.db.close();
  }
}

/** Records an action of the request's user; `as` names someone else (a failed login's name). */
export type Audit = (
  req: FastifyRequest,
  action: string,
  target: string | null,
  detail?: Record<string, unknown>,
  as?: { user: string; role: string | null },
) => void;

/**
 * The audit function the routes call: into the table, and into the journal too (as before), so
 * a central that ships its journal elsewhere keeps the trail even if the state file is lost.
 * A failed write is logged, never turned into a failed request: the action already happened.
 */
export function auditor(log: AuditLog, journal: Logger): Audit {
  return (req, action, target, detail = {}, as) => {
    const e: AuditEntry = {
      ts: Date.now(),
      user: as?.user ?? req.session?.username ?? '-',
      role: as ? as.role : (req.session?.role ?? null),
      action,
      target,
      detail,
      remote: req.ip ?? null,
    };
    try {
      log.record(e);
    } catch (err) {
      journal.error({ err: (err as Error).message, audit: action }, 'audit entry not stored');
    }
    journal.info({ audit: action, username: e.user, role: e.role, target, ip: e.remote, ...detail }, action);
  };
}

const AuditQuerySchema = Type.Object(
  {
    from: Type.Optional(Type.Integer({ minimum: 0 })),
    to: Type.Optional(Type.Integer({ minimum: 0 })),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    action: Type.Optional(Type.String({ pattern: '^[a-z_]{1,64}$' })),
    limit: Type.Integer({ minimum: 1, maximum: 5000, default: 200 }),
  },
  { additionalProperties: false },
);

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

export function registerAuditRoute(app: App, log: AuditLog): void {
  app.get<{ Querystring: Static<typeof AuditQuerySchema> }>(
    '/api/audit',
    { schema: { querystring: AuditQuerySchema } },
    async (req, reply) => {
      const q = req.query;
      if (q.from !== undefined && q.to !== undefined && q.from >= q.to)
        return reply
          .code(400)
          .send({ error: 'bad_request', message: 'from: must be before to / dari harus sebelum sampai' });
      return log.search(q);
    },
  );
}
