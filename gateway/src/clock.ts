// The site box's own clock. A box without a real-time clock (a Raspberry Pi) boots in 1970 or at the
// time fake-hwclock saved at shutdown, and NTP sets it later — if the private network has a time
// server at all. Readings stamped before that carry wrong times. This module notices the clock being
// set (the wall clock jumping against the monotonic one), so what still waits in the outbox can be
// corrected, and tells whether the time can be trusted yet.

import { EARLIEST_PLAUSIBLE_TS } from '@pantau/contract';

/** The wall clock moved against the monotonic clock: someone (NTP, an operator) set it. */
export interface ClockStep {
  /** New time minus old time, ms: add it to a time stamped before the step. */
  deltaMs: number;
  /** Wall time (new clock) when the step was noticed. */
  detectedAt: number;
  wasPlausible: boolean;
  nowPlausible: boolean;
}

export interface ClockWatchOptions {
  wall?: () => number;
  mono?: () => number;
  /** Jumps smaller than this are drift and scheduling noise, not a step. */
  stepMs?: number;
}

export class ClockWatch {
  private readonly wall: () => number;
  private readonly mono: () => number;
  private readonly stepMs: number;
  /** Wall time at monotonic zero: constant while nobody sets the clock. */
  private epoch: number;
  readonly steps: ClockStep[] = [];

  constructor(o: ClockWatchOptions = {}) {
    this.wall = o.wall ?? Date.now;
    this.mono = o.mono ?? (() => performance.now());
    this.stepMs = o.stepMs ?? 2000;
    this.epoch = this.wall() - this.mono();
  }

  /** A time before 2025 cannot be now: the clock was never set since boot. */
  get plausible(): boolean {
    return this.wall() >= EARLIEST_PLAUSIBLE_TS;
  }

  /** Call often (each second, and before stamping or writing): reports a step once. */
  check(): ClockStep | null {
    const now = this.wall();
    const epoch = now - this.mono();
    const deltaMs = epoch - this.epoch;
    if (Math.abs(deltaMs) < this.stepMs) return null;
    this.epoch = epoch;
    const step: ClockStep = {
      deltaMs: Math.round(deltaMs),
      detectedAt: now,
      wasPlausible: now - deltaMs >= EARLIEST_PLAUSIBLE_TS,
      nowPlausible: now >= EARLIEST_PLAUSIBLE_TS,
    };
    this.steps.push(step);
    if (this.steps.length > 20) this.steps.shift();
    return step;
  }
}

/**
 * Moves the times in a telemetry or event body by deltaMs and records the correction in
 * `clock_corrected_ms`; other bodies come back unchanged.
 */
export function shiftBodyTimes(body: Buffer, deltaMs: number): Buffer | null {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof p !== 'object' || p === null) return null;
  if (Array.isArray(p.readings)) {
    for (const r of p.readings as Array<{ ts?: unknown }>)
      if (typeof r?.ts === 'number') r.ts = r.ts + deltaMs;
  } else if (typeof p.ts === 'number') p.ts = p.ts + deltaMs;
  else return null;
  p.clock_corrected_ms = (typeof p.clock_corrected_ms === 'number' ? p.clock_corrected_ms : 0) + deltaMs;
  return Buffer.from(JSON.stringify(p));
}
