// A process-wide semaphore for ffmpeg/ffprobe children. A site box is a cheap machine that also
// polls radios and keeps the outbox: at most `limit` decoders run at once (default 2), the rest
// wait their turn in arrival order. Probes and thumbnails both go through it.

export interface FfmpegStats {
  /** The configured maximum of concurrent processes. */
  limit: number;
  /** Processes running now. */
  running: number;
  /** Callers waiting for a slot now. */
  queued: number;
  /** Highest `running` seen since start (or the last reset). */
  peak: number;
  /** Processes started since start (or the last reset). */
  spawned: number;
  /** Processes killed (SIGKILL) because they outlived their timeout. */
  killedOnTimeout: number;
}

const DEFAULT_LIMIT = 2;

let limit = DEFAULT_LIMIT;
let running = 0;
let peak = 0;
let spawned = 0;
let killedOnTimeout = 0;
const waiting: Array<() => void> = [];

/** Sets how many ffmpeg/ffprobe processes may run at once in this process (1..16). */
export function setFfmpegConcurrency(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 16)
    throw new RangeError(`ffmpeg concurrency must be an integer from 1 to 16, got ${n}`);
  limit = n;
  drain();
}

export function ffmpegStats(): FfmpegStats {
  return { limit, running, queued: waiting.length, peak, spawned, killedOnTimeout };
}

/** Zeroes the counters (peak restarts from what runs now); for benchmarks and tests. */
export function resetFfmpegStats(): void {
  peak = running;
  spawned = 0;
  killedOnTimeout = 0;
}

function drain(): void {
  while (running < limit && waiting.length > 0) {
    running++;
    peak = Math.max(peak, running);
    waiting.shift()!();
  }
}

function acquire(signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  if (running < limit && waiting.length === 0) {
    running++;
    peak = Math.max(peak, running);
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const grant = () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = () => {
      const i = waiting.indexOf(grant);
      if (i >= 0) waiting.splice(i, 1);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    waiting.push(grant);
  });
}

function release(): void {
  running--;
  drain();
}

/** What an aborted wait or run rejects with: the signal's reason, or an AbortError. */
export function abortError(signal: AbortSignal): Error {
  if (signal.reason instanceof Error) return signal.reason;
  const e = new Error('aborted');
  e.name = 'AbortError';
  return e;
}

/** Runs `fn` holding one slot; the slot is released however `fn` ends. */
export async function withFfmpegSlot<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  await acquire(signal);
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Bookkeeping for the runner: one more process started / killed on timeout. */
export function countSpawn(): void {
  spawned++;
}
export function countKilledOnTimeout(): void {
  killedOnTimeout++;
}
