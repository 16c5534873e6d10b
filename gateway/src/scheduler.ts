// Decides when each device is read: every interval ± jitter, never two polls of one device at once,
// a bounded number of polls per protocol in flight, a timeout per poll, and exponential back-off for
// a device that does not answer (so a dead radio costs little and a returning one is noticed).

import { CollectorError, isCollectorError } from '@pantau/collectors/common';

export interface Job {
  key: string;
  protocol: string;
  intervalMs: number;
  timeoutMs: number;
  /** Reads the device; rejects with CollectorError on failure. Must honour the signal. */
  run(signal: AbortSignal): Promise<void>;
  /** Told about every failure (already classified) so the owner can update device health. */
  onFailure?(e: CollectorError): void;
}

export interface SchedulerOptions {
  concurrency: Record<string, number>;
  jitterPct: number;
  maxBackoffMs: number;
  random?: () => number;
  /** Clock for measuring how long a poll took (tests use fake timers). */
  now?: () => number;
}

export interface SchedulerStats {
  ok: number;
  failed: number;
  timeouts: number;
  backing_off: number;
  in_flight: Record<string, number>;
}

class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(readonly limit: number) {}
  get inFlight(): number {
    return this.active;
  }
  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

interface JobState {
  job: Job;
  timer: NodeJS.Timeout | null;
  running: boolean;
  /** The device read itself, which may outlive its timeout: the next poll waits for it. */
  inner: Promise<void> | null;
  failures: number;
  /** Polls finished since the job was added, and how the last one ended (for a reload's check). */
  runs: number;
  lastError: CollectorError | null;
}

/** How a job's polls have gone since it was added. */
export interface JobResult {
  runs: number;
  lastError: CollectorError | null;
}

/** Failures that mean "nobody there": back off. Auth or a bad reply mean "someone there": keep the interval. */
const BACK_OFF_KINDS = new Set(['timeout', 'unreachable']);

export class Scheduler {
  private readonly jobs = new Map<string, JobState>();
  private readonly sems = new Map<string, Semaphore>();
  private readonly random: () => number;
  private readonly now: () => number;
  private started = false;
  private counts = { ok: 0, failed: 0, timeouts: 0 };

  constructor(private readonly opts: SchedulerOptions) {
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? (() => Date.now());
  }

  private sem(protocol: string): Semaphore {
    let s = this.sems.get(protocol);
    if (!s) {
      s = new Semaphore(this.opts.concurrency[protocol] ?? 4);
      this.sems.set(protocol, s);
    }
    return s;
  }

  /**
   * Schedules a job. The first poll lands anywhere in the first interval so 200 devices do not fire
   * at once, unless `firstDelayMs` says when (a reload wants a new device read now).
   */
  add(job: Job, firstDelayMs?: number): void {
    if (this.jobs.has(job.key)) throw new Error(`job ${job.key} already scheduled`);
    const st: JobState = {
      job,
      timer: null,
      running: false,
      inner: null,
      failures: 0,
      runs: 0,
      lastError: null,
    };
    this.jobs.set(job.key, st);
    if (this.started) this.arm(st, firstDelayMs ?? this.random() * job.intervalMs);
  }

  has(key: string): boolean {
    return this.jobs.has(key);
  }

  result(key: string): JobResult | undefined {
    const st = this.jobs.get(key);
    return st ? { runs: st.runs, lastError: st.lastError } : undefined;
  }

  /**
   * Removes a job and waits for its poll in flight (at most `waitMs`), so a device's old poller is
   * done before its new one starts (a terminal takes one session at a time).
   */
  async drop(key: string, waitMs = 5000): Promise<void> {
    const st = this.jobs.get(key);
    this.remove(key);
    if (!st?.inner) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      st.inner.catch(() => undefined),
      new Promise<void>((r) => {
        t = setTimeout(r, waitMs);
      }),
    ]);
    clearTimeout(t);
  }

  remove(key: string): void {
    const st = this.jobs.get(key);
    if (st?.timer) clearTimeout(st.timer);
    this.jobs.delete(key);
  }

  start(): void {
    this.started = true;
    for (const st of this.jobs.values()) this.arm(st, this.random() * st.job.intervalMs);
  }

  stop(): void {
    this.started = false;
    for (const st of this.jobs.values()) if (st.timer) clearTimeout(st.timer);
  }

  /** Delay before the next poll: interval ± jitter, or back-off after consecutive silent failures. */
  nextDelay(intervalMs: number, failures: number): number {
    if (failures > 0)
      return Math.min(intervalMs * 2 ** failures, Math.max(this.opts.maxBackoffMs, intervalMs));
    const j = (this.opts.jitterPct / 100) * intervalMs;
    return Math.max(0, intervalMs + (this.random() * 2 - 1) * j);
  }

  private arm(st: JobState, delay: number): void {
    if (!this.started || !this.jobs.has(st.job.key)) return;
    st.timer = setTimeout(() => void this.fire(st), delay);
  }

  private async fire(st: JobState): Promise<void> {
    st.timer = null;
    // Never overlap polls of one device, even when the previous one outlived its timeout.
    if (st.running || st.inner) return this.arm(st, st.job.intervalMs);
    st.running = true;
    // The period runs from this start, so a poll that takes seconds (a camera's sample) does not
    // stretch a 60 s interval to 66 s.
    const startedAt = this.now();
    const sem = this.sem(st.job.protocol);
    await sem.acquire();
    const ctrl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          ctrl.abort();
          reject(new CollectorError('timeout', `no answer within ${st.job.timeoutMs} ms`));
        }, st.job.timeoutMs);
      });
      const inner = st.job.run(ctrl.signal);
      st.inner = inner;
      inner.then(
        () => (st.inner = null),
        () => (st.inner = null),
      );
      await Promise.race([inner, timeout]);
      st.failures = 0;
      st.lastError = null;
      this.counts.ok++;
    } catch (e) {
      const err = isCollectorError(e)
        ? e
        : new CollectorError('malformed', (e as Error)?.message ?? String(e), { cause: e });
      this.counts.failed++;
      if (err.kind === 'timeout') this.counts.timeouts++;
      st.failures = BACK_OFF_KINDS.has(err.kind) ? st.failures + 1 : 0;
      st.lastError = err;
      // A removed job's owner is gone: its failure is nobody's news.
      if (this.jobs.get(st.job.key) === st) st.job.onFailure?.(err);
    } finally {
      clearTimeout(timer);
      sem.release();
      st.running = false;
      st.runs++;
    }
    const spent = this.now() - startedAt;
    this.arm(st, Math.max(0, this.nextDelay(st.job.intervalMs, st.failures) - spent));
  }

  stats(): SchedulerStats {
    const in_flight: Record<string, number> = {};
    for (const [p, s] of this.sems) in_flight[p] = s.inFlight;
    let backing = 0;
    for (const st of this.jobs.values()) if (st.failures > 0) backing++;
    return { ...this.counts, backing_off: backing, in_flight };
  }
}
