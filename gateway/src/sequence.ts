// The per-site-box sequence number: strictly increasing across restarts and crashes, so the central
// can tell a gap (lost readings) from a replay. Numbers are reserved in blocks; the block's end is
// written and fsynced before any number from it is used, so a crash can skip numbers but never
// reuse one. Skipped numbers show as a gap the central can explain by the restart.
//
// A box with no saved number — new, or replaced / reimaged with an empty state_dir but the same site
// id — must not hand out numbers an earlier box of its site used: the central keys on (site, seq)
// and would drop its readings as duplicates. It starts at the wall clock in milliseconds: a box sends
// far fewer than 1,000 numbered messages a second, so an earlier box (of either kind: one that
// started at 1, or at its own clock) cannot have reached the time of now.
//
// That holds only for a clock that is set. A Raspberry Pi boots without a real-time clock, at 1970
// or at the (plausible, but old) time fake-hwclock saved; NTP sets it later, if the network has a
// time server. Waiting for it is not an option: readings must be numbered as they are taken, and a
// box that does not poll until NTP answers loses the readings of its first minutes for certain.
// So a fresh box with an unset clock numbers from the clock as it stands (no worse than 1, often
// far above an old box's numbers) and says so: `unset_clock` in the birth, and the mark in the
// state file so a restart keeps saying it. When the clock becomes trustworthy the numbering jumps
// forward to it (`jumped`), so from then on no number can clash; the few numbers given out before
// the jump may have clashed, and the central then logs and counts the clash (never silent).
// A box that has a saved number keeps its numbering: upgrades change nothing.

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const BLOCK = 1000;
const UNSET_MARK = 'unset_clock';

/**
 * Where this run's numbering comes from: the number saved by the last run, a trustworthy wall
 * clock (a box without a saved number), or a clock not yet set (may clash with an earlier box).
 */
export type SequenceOrigin = 'saved' | 'clock' | 'unset_clock';

export interface SequenceOptions {
  /** Wall clock, ms since the epoch. */
  now?: () => number;
  /** The wall clock is set (plausible and, where NTP is in use, synchronised). Default: never. */
  clockTrusted?: () => boolean;
  /** Numbers up to this one are known used (e.g. the outbox's highest): never hand them out again. */
  floor?: number;
}

export class SequenceCounter {
  private next: number;
  private reservedUntil: number;
  private readonly file: string;
  private readonly now: () => number;
  private readonly trusted: () => boolean;
  private originNow: SequenceOrigin;
  private jump: [number, number] | null = null;
  /** The first number this process hands out. */
  readonly first: number;

  constructor(stateDir: string, o: SequenceOptions = {}) {
    mkdirSync(stateDir, { recursive: true });
    this.file = join(stateDir, 'sequence');
    this.now = o.now ?? Date.now;
    this.trusted = o.clockTrusted ?? (() => false);
    const saved = readSaved(this.file);
    const trusted = this.trusted();
    let next: number;
    if (saved && !(saved.unsetClock && trusted)) {
      next = saved.upTo + 1;
      this.originNow = saved.unsetClock ? 'unset_clock' : 'saved';
    } else {
      // No saved number, or one counted from an unset clock that is now set: the clock it is.
      next = Math.max(saved ? saved.upTo + 1 : 1, Math.trunc(this.now()));
      this.originNow = trusted ? 'clock' : 'unset_clock';
    }
    next = Math.max(next, (o.floor ?? 0) + 1);
    this.next = next;
    this.first = next;
    this.reservedUntil = next - 1;
    // The mark must be on disk before any number is used, or a crash forgets it was a guess.
    if (!saved || saved.unsetClock !== (this.originNow === 'unset_clock')) this.reserve();
  }

  private reserve(): void {
    this.reservedUntil = this.next + BLOCK - 1;
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o640);
    try {
      writeSync(
        fd,
        this.originNow === 'unset_clock'
          ? `${this.reservedUntil} ${UNSET_MARK}\n`
          : `${this.reservedUntil}\n`,
      );
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }

  take(): number {
    if (this.next > this.reservedUntil) this.reserve();
    return this.next++;
  }

  /** The last number handed out. */
  get current(): number {
    return this.next - 1;
  }

  get origin(): SequenceOrigin {
    return this.originNow;
  }

  /**
   * [last number before, first number after] when this run's numbering jumped to the wall clock
   * once it was set; the numbers in between were never used.
   */
  get jumped(): readonly [number, number] | null {
    return this.jump;
  }

  /**
   * Call when the clock may have become trustworthy. A run numbered from an unset clock moves to the
   * clock (never backwards); returns the jump, or null when there was nothing to do.
   */
  clockSet(): readonly [number, number] | null {
    if (this.originNow !== 'unset_clock' || !this.trusted()) return null;
    this.originNow = 'clock';
    const to = Math.trunc(this.now());
    if (to > this.next) {
      this.jump = [this.next - 1, to];
      this.next = to;
    }
    this.reserve();
    return this.jump;
  }
}

function readSaved(file: string): { upTo: number; unsetClock: boolean } | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const [n, mark] = text.trim().split(/\s+/);
  const upTo = Number(n);
  // A damaged file is no saved number: the clock is the safer start than 1.
  if (!Number.isSafeInteger(upTo) || upTo < 0) return null;
  return { upTo, unsetClock: mark === UNSET_MARK };
}
