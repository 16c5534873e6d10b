// One answer for many screens: every browser hears of a live change at the same moment and reloads
// its view within the same second, so 50 control-room screens asked the dashboard to read and
// serialise the same overview 50 times (test/bench dashboard.ts measured p95 in seconds). An answer
// is computed once, shared with the requests that arrive while it is computed and for `maxAgeMs`
// after, and kept as JSON text so it is not serialised again per request.

const MAX_KEYS = 64;

interface Entry {
  at: number;
  text: Promise<string>;
}

export class SharedAnswers {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxAgeMs: number) {}

  /** The JSON text of `compute()`'s result, computed at most once per `maxAgeMs` for `key`. */
  get(key: string, compute: () => Promise<unknown>): Promise<string> {
    const now = performance.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.maxAgeMs) return hit.text;
    // Query strings make keys: a bounded map, never one that grows with what clients send.
    if (this.entries.size >= MAX_KEYS) this.entries.clear();
    const text = compute().then((v) => JSON.stringify(v));
    const entry = { at: now, text };
    this.entries.set(key, entry);
    // A failure is not shared beyond the requests already waiting for it.
    text.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return text;
  }

  /** After a change made through the dashboard itself: the next request computes afresh. */
  clear(): void {
    this.entries.clear();
  }
}

/** How long an overview answer is shared; the page reloads at most every 2 s after a live change. */
export const SHARE_MS = 1000;
export const JSON_TYPE = 'application/json; charset=utf-8';
