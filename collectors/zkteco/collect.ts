// One poll of one attendance terminal, in one short session: who it is, how far its clock is off in
// the site's zone, how full its memory is, and its latest punch — the log read only when its record
// count changed (or every `readEvery` polls), and never cleared.
//
// Terminals serve one session at a time and hang when their memory fills, so:
// - a process-wide lock per host:port makes polls of one terminal wait for each other, never open
//   two sessions at once;
// - a terminal that refuses the session (another client is on it) is 'busy', not down;
// - a terminal that accepted the session and then went silent is 'hung', and the message names the
//   likely cause with the last known fill ("memory full? log at 100000/100000").
//
// Incremental reading: the protocol always hands over the whole log, so the incrementality is ours.
// `memory` (kept by the caller between polls, one per terminal) holds the record count and the last
// record seen; new punches are the records after it. When the log no longer starts with what we saw
// (someone cleared it, or it wrapped) the records later than the last one seen count as new. The
// first poll sets the baseline and reports no new punches.

import type { CollectorError } from '../common/errors.js';
import { type AttendanceRecord, type DeviceInfo, ZkClient, type ZkClientOptions, ZkError } from './client.js';

export type TerminalState = 'up' | 'busy' | 'hung' | 'unreachable' | 'auth';

export interface LatestPunch {
  user_id: string;
  /** ms since epoch: the terminal's wall clock read in the site's zone. */
  time_ms: number;
  punch: number;
}

export interface TerminalFill {
  records: number;
  capacity: number;
  /** records / capacity × 100, one decimal. */
  pct: number;
  users: number;
  users_capacity: number;
  fingerprints: number;
  fingerprints_capacity: number;
}

/** What the poller keeps about one terminal between polls. Start with `{}`. */
export interface TerminalMemory {
  /** Records in the log at the last read. */
  count?: number;
  /** The last record (in log order) at the last read. */
  last?: LatestPunch;
  /** The latest punch (by time) known. */
  latest?: LatestPunch;
  /** Polls since the log was last read. */
  polls_since_read?: number;
  /** The last fill seen, for the message when the terminal hangs. */
  fill?: { records: number; capacity: number };
}

export interface TerminalResult {
  state: TerminalState;
  identity?: DeviceInfo;
  /** Terminal clock minus true time, seconds (±1 s: the terminal counts whole seconds). */
  clock_offset_s?: number;
  fill?: TerminalFill;
  latest_punch?: LatestPunch;
  /** Punches that appeared since the previous read (0 on the first poll: it sets the baseline). */
  new_punches: number;
  /** Whether this poll read the log. */
  log_read: boolean;
  /** READ_BUFFER round trips of this poll. */
  chunks: number;
  error?: { kind: CollectorError['kind']; reason: string; message: string };
  elapsed_ms: number;
}

export interface CollectTerminalOptions {
  /** The site's IANA zone, e.g. 'Asia/Makassar' (WITA) or 'Asia/Jakarta' (WIB). */
  timeZone: string;
  /** Read the log at least every this many polls even when the count did not change. Default 12. */
  readEvery?: number;
}

export type TerminalTarget = ZkClientOptions;

// ---- one session per terminal at a time, process-wide ----

const locks = new Map<string, Promise<unknown>>();

/** Runs `fn` when no other holder of `key` is running; holders run one after another. */
export async function withTerminalLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  locks.set(key, tail);
  try {
    return await run;
  } finally {
    if (locks.get(key) === tail) locks.delete(key);
  }
}

export const terminalKey = (t: { host: string; port?: number }): string => `${t.host}:${t.port ?? 4370}`;

const punchOf = (r: AttendanceRecord): LatestPunch => ({
  user_id: r.user_id,
  time_ms: r.time.epoch_ms,
  punch: r.punch,
});
const samePunch = (a: LatestPunch | undefined, b: LatestPunch | undefined) =>
  !!a && !!b && a.user_id === b.user_id && a.time_ms === b.time_ms && a.punch === b.punch;

/** Of the records read now, which are new since `memory` (see the header comment). */
export function newSince(records: readonly AttendanceRecord[], memory: TerminalMemory): AttendanceRecord[] {
  if (memory.count === undefined) return [];
  const n = memory.count;
  if (n === 0 || !memory.last) return records.slice(n);
  const at = records[n - 1];
  if (records.length >= n && at && samePunch(punchOf(at), memory.last)) return records.slice(n);
  const after = memory.last.time_ms;
  return records.filter((r) => r.time.epoch_ms > after);
}

/** One short session with one terminal; never throws for the terminal's faults (see `state`). */
export async function collectTerminal(
  target: TerminalTarget,
  memory: TerminalMemory,
  opts: CollectTerminalOptions,
): Promise<TerminalResult> {
  return withTerminalLock(terminalKey(target), () => pollOnce(target, memory, opts));
}

async function pollOnce(
  target: TerminalTarget,
  memory: TerminalMemory,
  opts: CollectTerminalOptions,
): Promise<TerminalResult> {
  const t0 = Date.now();
  const readEvery = Math.max(1, opts.readEvery ?? 12);
  const client = new ZkClient(target);
  const where = `${target.host}:${target.port ?? 4370}`;
  const out: TerminalResult = { state: 'up', new_punches: 0, log_read: false, chunks: 0, elapsed_ms: 0 };
  let connected = false;
  try {
    await client.connect();
    connected = true;
    out.identity = await client.deviceInfo();
    out.clock_offset_s = Math.round((await client.clockOffset(opts.timeZone)) * 10) / 10;
    const s = await client.freeSizes();
    out.fill = {
      records: s.records,
      capacity: s.records_capacity,
      pct: s.records_capacity > 0 ? Math.round((s.records / s.records_capacity) * 1000) / 10 : 0,
      users: s.users,
      users_capacity: s.users_capacity,
      fingerprints: s.fingerprints,
      fingerprints_capacity: s.fingerprints_capacity,
    };
    memory.fill = { records: s.records, capacity: s.records_capacity };

    const due = (memory.polls_since_read ?? 0) + 1 >= readEvery;
    if (memory.count === undefined || s.records !== memory.count || due) {
      const read = await client.readAttendance({ timeZone: opts.timeZone });
      out.log_read = true;
      out.chunks = read.chunks;
      out.new_punches = newSince(read.records, memory).length;
      let latest = memory.count === undefined ? undefined : memory.latest;
      for (const r of read.records) if (!latest || r.time.epoch_ms >= latest.time_ms) latest = punchOf(r);
      const last = read.records[read.records.length - 1];
      memory.count = read.records.length;
      memory.last = last ? punchOf(last) : undefined;
      memory.latest = latest;
      memory.polls_since_read = 0;
    } else {
      memory.polls_since_read = (memory.polls_since_read ?? 0) + 1;
    }
    if (memory.latest) out.latest_punch = memory.latest;
  } catch (e) {
    const err =
      e instanceof ZkError
        ? e
        : new ZkError('malformed', e instanceof Error ? e.message : String(e), { cause: e });
    // A session id means the terminal accepted CONNECT, even if connect() failed after that.
    out.state = stateOf(err, connected || client.session !== 0, client.transport);
    let message = err.message;
    if (out.state === 'hung') {
      const f = out.fill ?? memory.fill;
      message = `${where} accepted the session but stopped answering (${err.message}) — ${
        f ? `memory full? log at ${f.records}/${f.capacity}` : 'memory full or hung? (no log size known yet)'
      }`;
    }
    out.error = { kind: err.kind, reason: err.reason, message };
    if (out.state !== 'up') {
      // Only what this session saw; the latest punch is still the one we know.
      if (memory.latest) out.latest_punch = memory.latest;
    }
  } finally {
    await client.disconnect();
  }
  out.elapsed_ms = Date.now() - t0;
  return out;
}

function stateOf(e: ZkError, connected: boolean, transport: string): TerminalState {
  switch (e.reason) {
    case 'busy':
      return 'busy';
    case 'auth':
      return 'auth';
    case 'timeout':
      // No answer to CONNECT over UDP looks like nobody there; over TCP the port took the connection.
      return connected || transport === 'tcp' ? 'hung' : 'unreachable';
    case 'unreachable':
    case 'closed':
      return 'unreachable';
    default:
      // It answered, but something could not be read: up, with the error said.
      return connected ? 'up' : 'unreachable';
  }
}
