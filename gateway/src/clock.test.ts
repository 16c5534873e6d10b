import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@pantau/contract';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClockWatch, shiftBodyTimes } from './clock.js';
import { DiskOutbox } from './outbox.js';

const DAY = 86_400_000;
const REAL = Date.UTC(2026, 11, 2, 8, 0, 0);

describe('clock watch', () => {
  it('ignores jitter, reports a step once, and tells 1970 from a real time', () => {
    let wall = 60_000; // one minute after the 1970 epoch: a box without a real-time clock
    let mono = 60_000;
    const w = new ClockWatch({ wall: () => wall, mono: () => mono });
    expect(w.plausible).toBe(false);
    mono += 1000;
    wall += 1900; // 900 ms of scheduling noise: no step
    expect(w.check()).toBe(null);
    mono += 1000;
    wall = REAL;
    const step = w.check()!;
    // Measured against the clock's last known epoch (the 900 ms of noise is not part of it).
    expect(step.deltaMs).toBe(REAL - 62_000);
    expect(step).toMatchObject({ wasPlausible: false, nowPlausible: true, detectedAt: REAL });
    expect(w.plausible).toBe(true);
    expect(w.check()).toBe(null);
    // fake-hwclock restored a time three days old; NTP then sets it right: plausible before and after.
    mono += 1000;
    wall += 1000 + 3 * DAY;
    expect(w.check()).toMatchObject({ deltaMs: 3 * DAY, wasPlausible: true });
  });

  it('moves reading and event times and says by how much', () => {
    const t = shiftBodyTimes(
      encode({ v: 1, seq: 1, device: 'd', backfill: false, readings: [{ ts: 1000, values: { snr_db: 1 } }] }),
      5000,
    )!;
    expect(JSON.parse(t.toString())).toMatchObject({ readings: [{ ts: 6000 }], clock_corrected_ms: 5000 });
    const e = shiftBodyTimes(encode({ v: 1, seq: 2, ts: 10, type: 'gateway_started' } as never), 5)!;
    expect(JSON.parse(e.toString())).toMatchObject({ ts: 15, clock_corrected_ms: 5 });
    expect(shiftBodyTimes(Buffer.from('not json'), 5)).toBe(null);
  });
});

describe('outbox: correcting times after the clock was set', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pantau-clock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('corrects what waits (on disk and queued), not what is on its way, and never ages out a 1970 reading', () => {
    let now = 5000;
    const o = new DiskOutbox({ path: join(dir, 'outbox.db'), now: () => now, maxAgeMs: DAY });
    const push = (seq: number) =>
      o.push({
        topic: 'pantau/v1/s/d/telemetry',
        body: encode({
          v: 1,
          seq,
          device: 'd',
          backfill: false,
          readings: [{ ts: now, values: { snr_db: seq } }],
        }),
        ts: now,
        seq,
      });
    for (let s = 1; s <= 4; s++) push(s);
    o.commit();
    push(5); // still queued for the next commit
    now = REAL;
    // A commit after the clock jumped, before the step was noticed: nothing counts as a week old.
    o.commit();
    expect(o.depth).toBe(5);
    const onItsWay = new Set([o.next(0, 1)[0]!.id]);
    const n = o.shiftTimes(REAL - 5000, o.lastPushedId, onItsWay);
    expect(n).toBe(4);
    const items = o.next(0, 10);
    expect(items.map((i) => i.ts)).toEqual([5000, REAL, REAL, REAL, REAL]);
    const bodies = items.map((i) => JSON.parse(i.body.toString()));
    expect(bodies[0].clock_corrected_ms).toBeUndefined();
    expect(bodies[4]).toMatchObject({ readings: [{ ts: REAL }], clock_corrected_ms: REAL - 5000 });
    o.close();
  });
});
