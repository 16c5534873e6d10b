// The per-site-box sequence number: strictly increasing across restarts and crashes, so the central
// can tell a gap (lost readings) from a replay. Numbers are reserved in blocks; the block's end is
// written and fsynced before any number from it is used, so a crash can skip numbers but never
// reuse one. Skipped numbers show as a gap the central can explain by the restart.

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const BLOCK = 1000;

export class SequenceCounter {
  private next: number;
  private reservedUntil: number;
  private readonly file: string;
  /** The first number this process hands out. */
  readonly first: number;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.file = join(stateDir, 'sequence');
    let stored = 0;
    try {
      stored = Number.parseInt(readFileSync(this.file, 'utf8').trim(), 10) || 0;
    } catch {
      stored = 0;
    }
    this.next = stored + 1;
    this.first = this.next;
    this.reservedUntil = stored;
  }

  private persist(upTo: number): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o640);
    try {
      writeSync(fd, `${upTo}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }

  take(): number {
    if (this.next > this.reservedUntil) {
      this.reservedUntil = this.next + BLOCK - 1;
      this.persist(this.reservedUntil);
    }
    return this.next++;
  }

  /** The last number handed out. */
  get current(): number {
    return this.next - 1;
  }
}
