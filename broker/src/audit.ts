// The audit log: every refused login, ACL denial and limit hit as one JSON line, appended to a file
// that rotates at a size (file.1 … file.<keep>), so a flood of refusals cannot fill the disk.

import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';

export type AuditEvent =
  | 'auth_failed'
  | 'auth_backoff'
  | 'tls_refused'
  | 'acl_denied'
  | 'packet_too_large'
  | 'connection_limit'
  | 'rate_limited'
  | 'rate_abuse'
  | 'revoked';

export interface AuditEntry {
  event: AuditEvent;
  /** connect, publish or subscribe. */
  action: 'connect' | 'publish' | 'subscribe';
  username?: string;
  client?: string;
  remote?: string;
  topic?: string;
  reason: string;
  /** Further refusals of the same kind from this client folded into this line. */
  count?: number;
}

export type AuditLine = AuditEntry & { time: string };

export class AuditLog {
  private fd: number;
  private size: number;

  constructor(
    readonly file: string,
    private readonly maxBytes: number,
    private readonly keep: number,
  ) {
    this.fd = openSync(file, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  private closed = false;

  write(e: AuditEntry): void {
    // A refusal folded into a line that is written after shutdown has nowhere to go.
    if (this.closed) return;
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`;
    // A synchronous append of one short line: the order of lines is the order of events, and a
    // crash right after a refusal still has it on disk.
    if (this.size + line.length > this.maxBytes && this.size > 0) this.rotate();
    this.size += writeSync(this.fd, line);
  }

  private rotate(): void {
    closeSync(this.fd);
    rmSync(`${this.file}.${this.keep}`, { force: true });
    for (let i = this.keep - 1; i >= 1; i--)
      if (existsSync(`${this.file}.${i}`)) renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
    renameSync(this.file, `${this.file}.1`);
    this.fd = openSync(this.file, 'a', 0o600);
    this.size = 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/** Every line of the log, oldest first, across rotated files; a torn last line is skipped. */
export function readAudit(file: string, keep = 100): AuditLine[] {
  const files: string[] = [];
  for (let i = keep; i >= 1; i--) if (existsSync(`${file}.${i}`)) files.push(`${file}.${i}`);
  if (existsSync(file)) files.push(file);
  const lines: AuditLine[] = [];
  for (const f of files)
    for (const l of readFileSync(f, 'utf8').split('\n')) {
      if (!l) continue;
      try {
        lines.push(JSON.parse(l) as AuditLine);
      } catch {
        // a line cut by a crash mid-write
      }
    }
  return lines;
}

/**
 * Folds repeated refusals of one kind from one client into one line a second, so a client
 * flooding refused packets writes a line a second, not a line a packet.
 */
export class AuditFolder {
  private readonly pending = new Map<string, { entry: AuditEntry; count: number }>();
  private readonly lastWrite = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: AuditLog,
    private readonly everyMs = 1000,
  ) {}

  write(e: AuditEntry): void {
    const key = `${e.event}\0${e.client ?? ''}\0${e.remote ?? ''}`;
    const now = Date.now();
    const last = this.lastWrite.get(key) ?? 0;
    if (now - last >= this.everyMs && !this.pending.has(key)) {
      this.lastWrite.set(key, now);
      this.log.write(e);
      return;
    }
    const p = this.pending.get(key);
    if (p) p.count++;
    else this.pending.set(key, { entry: e, count: 1 });
    this.timer ??= setTimeout(() => this.flush(), this.everyMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const now = Date.now();
    for (const [key, p] of this.pending) {
      this.log.write({ ...p.entry, count: p.count });
      this.lastWrite.set(key, now);
    }
    this.pending.clear();
    // Forget clients that went quiet, so the map does not grow with every client ever seen.
    for (const [key, t] of this.lastWrite) if (now - t > 60_000) this.lastWrite.delete(key);
  }
}
