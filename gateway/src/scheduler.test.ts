import { CollectorError } from '@pantau/collectors/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Scheduler } from './scheduler.js';

describe('scheduler', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('polls every interval within the jitter bounds', async () => {
    const s = new Scheduler({ concurrency: { snmp: 4 }, jitterPct: 10, maxBackoffMs: 600_000 });
    const times: number[] = [];
    s.add({
      key: 'a',
      protocol: 'snmp',
      intervalMs: 10_000,
      timeoutMs: 1000,
      run: async () => void times.push(Date.now()),
    });
    s.start();
    await vi.advanceTimersByTimeAsync(100_000);
    s.stop();
    expect(times[0]).toBeLessThanOrEqual(Date.now() - 90_000);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps.length).toBeGreaterThanOrEqual(8);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(9000);
      expect(g).toBeLessThanOrEqual(11_000);
    }
  });

  it('keeps the period from start to start when a poll takes seconds (a camera sample)', async () => {
    const s = new Scheduler({ concurrency: { camera: 2 }, jitterPct: 0, maxBackoffMs: 600_000 });
    const starts: number[] = [];
    s.add({
      key: 'cam',
      protocol: 'camera',
      intervalMs: 60_000,
      timeoutMs: 30_000,
      run: async () => {
        starts.push(Date.now());
        await new Promise((r) => setTimeout(r, 6000));
      },
    });
    s.start();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    s.stop();
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(gaps.length).toBeGreaterThanOrEqual(8);
    for (const g of gaps) expect(g).toBe(60_000);
  });

  it('backs off exponentially for a silent device and resets on success', () => {
    const s = new Scheduler({ concurrency: {}, jitterPct: 0, maxBackoffMs: 60_000 });
    expect([0, 1, 2, 3, 4, 5].map((n) => s.nextDelay(5000, n))).toEqual([
      5000, 10_000, 20_000, 40_000, 60_000, 60_000,
    ]);
  });

  it('backs off on timeouts but not on auth failures', async () => {
    const s = new Scheduler({
      concurrency: { snmp: 1 },
      jitterPct: 0,
      maxBackoffMs: 600_000,
      random: () => 0,
    });
    const calls = { silent: 0, auth: 0 };
    s.add({
      key: 'silent',
      protocol: 'snmp',
      intervalMs: 1000,
      timeoutMs: 100,
      run: async () => {
        calls.silent++;
        throw new CollectorError('timeout', 'no answer');
      },
    });
    s.add({
      key: 'auth',
      protocol: 'snmp',
      intervalMs: 1000,
      timeoutMs: 100,
      run: async () => {
        calls.auth++;
        throw new CollectorError('auth', 'wrong community');
      },
    });
    s.start();
    await vi.advanceTimersByTimeAsync(16_000);
    s.stop();
    // silent: fired at 0, then after 2 s, 4 s, 8 s → 4 polls in 16 s; auth keeps its 1 s interval.
    expect(calls.silent).toBe(4);
    expect(calls.auth).toBeGreaterThanOrEqual(15);
    expect(s.stats().backing_off).toBe(1);
  });

  it('a hung poll times out and never overlaps itself', async () => {
    const s = new Scheduler({ concurrency: { snmp: 2 }, jitterPct: 0, maxBackoffMs: 1000, random: () => 0 });
    let running = 0;
    let maxRunning = 0;
    const failures: string[] = [];
    s.add({
      key: 'hang',
      protocol: 'snmp',
      intervalMs: 100,
      timeoutMs: 500,
      run: () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        return new Promise<void>((r) =>
          setTimeout(() => {
            running--;
            r();
          }, 2000),
        );
      },
      onFailure: (e) => failures.push(e.kind),
    });
    s.start();
    await vi.advanceTimersByTimeAsync(3000);
    s.stop();
    expect(failures[0]).toBe('timeout');
    expect(maxRunning).toBe(1);
    expect(s.stats().timeouts).toBeGreaterThanOrEqual(1);
  });

  it('never runs more polls of one protocol at once than its limit', async () => {
    const s = new Scheduler({ concurrency: { snmp: 3 }, jitterPct: 0, maxBackoffMs: 1000 });
    let running = 0;
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      s.add({
        key: `d${i}`,
        protocol: 'snmp',
        intervalMs: 1000,
        timeoutMs: 5000,
        run: async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 300));
          running--;
        },
      });
    }
    s.start();
    await vi.advanceTimersByTimeAsync(10_000);
    s.stop();
    expect(peak).toBe(3);
    expect(s.stats().ok).toBeGreaterThan(20);
  });
});
