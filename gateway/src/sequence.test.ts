import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SequenceCounter } from './sequence.js';

describe('sequence numbers', () => {
  let dir: string;
  const file = () => join(dir, 'sequence');
  const saved = () => readFileSync(file(), 'utf8');
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pantau-seq-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const NOW = Date.UTC(2026, 11, 2, 6, 0);

  it('keep increasing across restarts and crashes', () => {
    const a = new SequenceCounter(dir, { now: () => NOW, clockTrusted: () => true });
    expect([a.take(), a.take(), a.take()]).toEqual([NOW, NOW + 1, NOW + 2]);
    // A crash right now: the next process must not reuse them, whatever its clock says.
    const b = new SequenceCounter(dir, { now: () => 5, clockTrusted: () => true });
    const n = b.take();
    expect(n).toBeGreaterThan(NOW + 2);
    for (let i = 0; i < 2500; i++) b.take();
    const c = new SequenceCounter(dir);
    expect(c.take()).toBeGreaterThan(n + 2500);
  });

  it('a box without a saved number starts at the clock, above any number an earlier box used', () => {
    const a = new SequenceCounter(dir, { now: () => NOW, clockTrusted: () => true });
    expect(a.origin).toBe('clock');
    expect(a.first).toBe(NOW);
    // Reserved before any number is used.
    expect(saved()).toBe(`${NOW + 999}\n`);
    expect(a.take()).toBe(NOW);
    // The replaced box of an upgraded site (numbers from 1) and of a clock-numbered one (a day of
    // readings at 100 a second, a day ago) both used less than the time of now.
    expect(NOW).toBeGreaterThan(Date.UTC(2026, 11, 1, 6, 0) + 86_400 * 100);
  });

  it('a box with a saved number keeps its numbering (an upgrade changes nothing)', () => {
    writeFileSync(file(), '41999\n');
    const a = new SequenceCounter(dir, { now: () => NOW, clockTrusted: () => true });
    expect(a.origin).toBe('saved');
    expect(a.first).toBe(42000);
    expect(a.take()).toBe(42000);
    expect(saved()).toBe('42999\n');
    expect(a.clockSet()).toBeNull();
    expect(a.take()).toBe(42001);
  });

  it('never hands out a number the outbox already holds, and a damaged file is no saved number', () => {
    writeFileSync(file(), 'garbage\n');
    const a = new SequenceCounter(dir, { now: () => 100, clockTrusted: () => false, floor: 5000 });
    expect(a.take()).toBe(5001);
  });

  it('an unset clock: numbers from it, says so, keeps saying so after a restart, and jumps to the clock once set', () => {
    let now = 31_000; // 1970: booted without a real-time clock
    let trusted = false;
    const o = { now: () => now, clockTrusted: () => trusted };
    const a = new SequenceCounter(dir, o);
    expect(a.origin).toBe('unset_clock');
    expect(a.first).toBe(31_000);
    expect(saved()).toBe('31999 unset_clock\n');
    expect([a.take(), a.take()]).toEqual([31_000, 31_001]);
    expect(a.clockSet()).toBeNull(); // not yet trusted
    // A restart before the clock is set goes on from the saved block, still marked.
    const b = new SequenceCounter(dir, o);
    expect(b.origin).toBe('unset_clock');
    expect(b.first).toBe(32_000);
    expect(b.take()).toBe(32_000);
    // NTP sets the clock.
    now = NOW;
    trusted = true;
    expect(b.clockSet()).toEqual([32_000, NOW]);
    expect(b.origin).toBe('clock');
    expect(b.jumped).toEqual([32_000, NOW]);
    expect(b.first).toBe(32_000);
    expect(b.take()).toBe(NOW);
    expect(saved()).toBe(`${NOW + 999}\n`);
    expect(b.clockSet()).toBeNull(); // once
    // The next run is an ordinary one.
    const c = new SequenceCounter(dir, o);
    expect(c.origin).toBe('saved');
    expect(c.first).toBe(NOW + 1000);
  });

  it('a run marked unset that restarts with the clock set starts at the clock; a clock behind the numbers never goes back', () => {
    writeFileSync(file(), '1999 unset_clock\n');
    const a = new SequenceCounter(dir, { now: () => NOW, clockTrusted: () => true });
    expect(a.origin).toBe('clock');
    expect(a.first).toBe(NOW);
    expect(saved()).toBe(`${NOW + 999}\n`);

    rmSync(file());
    let trusted = false;
    const b = new SequenceCounter(dir, { now: () => NOW, clockTrusted: () => trusted });
    expect(b.take()).toBe(NOW);
    trusted = true; // set, but to a time behind the numbers already used (fake-hwclock was ahead)
    expect(b.clockSet()).toBeNull();
    expect(b.origin).toBe('clock');
    expect(b.take()).toBe(NOW + 1);
    expect(saved()).toBe(`${NOW + 1000}\n`);
  });
});
