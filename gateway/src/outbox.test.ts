// The disk outbox on its own: group commit, acknowledgement, bounds, a full disk, and what is left
// after a writer is killed with SIGKILL in the middle of heavy writes.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskOutbox, type DiskOutboxOptions, dropEvent, type OutboxDrop } from './outbox.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pantau-outbox-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A telemetry body of about the size a radio's batch has (~450 bytes). */
const body = (seq: number) =>
  Buffer.from(
    JSON.stringify({
      v: 1,
      seq,
      device: 'ptp-scc',
      backfill: false,
      readings: [
        {
          ts: 1_700_000_000_000 + seq,
          values: {
            rx_power_dbm: -61,
            snr_db: 34,
            noise_floor_dbm: -95,
            ccq_pct: 92,
            capacity_tx_bps: 150e6,
            capacity_rx_bps: 140e6,
            frequency_mhz: 5800,
            uptime_s: 123456,
          },
        },
        {
          ts: 1_700_000_000_000 + seq,
          values: { if_in_bps: 8e6, if_out_bps: 2e6 },
          labels: { iface: 'ath0' },
        },
      ],
    }),
  );
const item = (seq: number, ts = Date.now()) => ({
  topic: 'pantau/v1/rsud/ptp-scc/telemetry',
  body: body(seq),
  ts,
  seq,
});

function logCapture() {
  const lines: Array<{ level: number; msg: string } & Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { log, lines };
}

const open = (o: Partial<DiskOutboxOptions> = {}) =>
  new DiskOutbox({ path: join(dir, 'outbox.db'), commitIntervalMs: 30, ...o });
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seqs = (o: DiskOutbox) => o.next(0, 1e9).map((i) => i.seq);

describe('disk outbox', () => {
  it('group-commits: a message is handed out only after its transaction, many in one commit', async () => {
    const o = open({ commitIntervalMs: 50 });
    let durable = 0;
    o.onDurable(() => durable++);
    for (let s = 1; s <= 10; s++) o.push(item(s));
    expect(o.next(0, 100)).toEqual([]); // queued, not on disk yet: not publishable
    expect(o.depth).toBe(10);
    await tick(120);
    expect(o.commits).toBe(1);
    expect(durable).toBe(1);
    expect(seqs(o)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Reaching commit_max_messages commits at once, without waiting for the interval.
    const big = open.bind(null);
    o.close();
    const o2 = big({ commitIntervalMs: 60_000, commitMaxMessages: 100 });
    for (let s = 11; s <= 110; s++) o2.push(item(s));
    await tick(20);
    expect(o2.next(0, 1000).length).toBe(110);
    o2.close();
  });

  it('keeps order and original bodies and times across a reopen', async () => {
    const o = open();
    const t0 = Date.now() - 3600_000;
    for (let s = 1; s <= 5; s++) o.push(item(s, t0 + s));
    o.close(); // a clean close writes what was queued
    const o2 = open();
    expect(o2.uncleanStart).toBe(false);
    const got = o2.next(0, 10);
    expect(got.map((i) => i.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(got.map((i) => i.ts)).toEqual([1, 2, 3, 4, 5].map((s) => t0 + s));
    expect(got.every((i) => i.enqueuedAt >= t0 + 3600_000 - 1000)).toBe(true);
    expect(got[2]!.body.equals(body(3))).toBe(true);
    expect(o2.oldestTs).toBe(t0 + 1);
    // New messages go after the old ones.
    o2.push(item(6));
    o2.commit();
    expect(seqs(o2)).toEqual([1, 2, 3, 4, 5, 6]);
    o2.close();
  });

  it('forgets a message only when acknowledged; deletes are written with the next commit', async () => {
    const o = open();
    for (let s = 1; s <= 6; s++) o.push(item(s));
    o.commit();
    const [a, b, c] = o.next(0, 3);
    o.ack(a!.id);
    o.ack(c!.id);
    expect(o.depth).toBe(4);
    // Not handed out again, even before the delete is on disk.
    expect(seqs(o)).toEqual([2, 4, 5, 6]);
    expect(o.next(a!.id, 1)[0]!.id).toBe(b!.id);
    expect(o.oldestTs).toBe(b!.ts);
    o.commit();
    o.close();
    const db = new Database(join(dir, 'outbox.db'), { readonly: true });
    const left = db.prepare('SELECT seq FROM outbox ORDER BY id').all() as Array<{ seq: number }>;
    db.close();
    expect(left.map((r) => r.seq)).toEqual([2, 4, 5, 6]);
  });

  it('stays under max_bytes: the oldest go first, counted, reported, and the count survives a restart', async () => {
    const drops: OutboxDrop[] = [];
    const maxBytes = 256 * 1024;
    const o = open({ maxBytes, commitMaxMessages: 200, onDrop: (d) => drops.push(d) });
    for (let s = 1; s <= 3000; s++) {
      o.push(item(s));
      if (s % 200 === 0) o.commit();
    }
    o.commit();
    expect(o.usedBytes).toBeLessThanOrEqual(maxBytes);
    const kept = seqs(o);
    expect(kept.at(-1)).toBe(3000); // the newest are kept…
    expect(kept[0]).toBeGreaterThan(1); // …the oldest went
    // Contiguous: only the oldest went.
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => kept[0]! + i));
    expect(o.dropped).toBe(kept[0]! - 1);
    expect(o.depth).toBe(kept.length);
    await tick(20);
    // The first drop is reported at once; the rest wait for the report interval (a minute).
    expect(drops.length).toBe(1);
    expect(drops[0]!.reason).toBe('size');
    expect(drops[0]!.firstSeq).toBe(1);
    expect(drops[0]!.count).toBeGreaterThan(0);
    o.close();
    const o2 = open({ maxBytes });
    expect(o2.dropped).toBe(kept[0]! - 1);
    o2.close();
    const text = dropEvent(drops[0]!, 'Asia/Makassar');
    expect(text.message.en).toMatch(/^Outbox full: dropped the [\d,]+ oldest readings/);
    expect(text.message.id).toMatch(/^Antrean kirim penuh/);
    expect(text.data).toMatchObject({ reason: 'size', first_seq: 1 });
  });

  it('never drops what is on its way to the broker', async () => {
    const o = open({ maxBytes: 128 * 1024 });
    for (let s = 1; s <= 10; s++) o.push(item(s));
    o.commit();
    const inflight = new Set(o.next(0, 3).map((i) => i.id));
    o.track(inflight);
    for (let s = 11; s <= 2000; s++) o.push(item(s));
    o.commit();
    const kept = seqs(o);
    expect(kept.slice(0, 3)).toEqual([1, 2, 3]);
    expect(kept[3]).toBeGreaterThan(100);
    expect(o.dropped).toBe(kept[3]! - 4);
    o.close();
  });

  it('drops what is older than max_age, by the reading time', async () => {
    let now = 1_800_000_000_000;
    const drops: OutboxDrop[] = [];
    const o = open({ maxAgeMs: 3600_000, now: () => now, onDrop: (d) => drops.push(d) });
    for (let s = 1; s <= 10; s++) o.push(item(s, now - (11 - s) * 600_000)); // 100 … 10 minutes old
    o.commit();
    // Readings more than an hour old are gone; the one exactly an hour old stays.
    expect(seqs(o)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(o.depth).toBe(6);
    await tick(20);
    expect(drops).toEqual([expect.objectContaining({ reason: 'age', count: 4, firstSeq: 1, lastSeq: 4 })]);
    now += 25 * 60_000;
    o.push(item(11, now));
    o.commit();
    expect(seqs(o)).toEqual([8, 9, 10, 11]);
    expect(o.dropped).toBe(7);
    // 25 minutes later, past the report interval: reported again.
    await tick(20);
    expect(drops[1]).toMatchObject({ reason: 'age', count: 3, firstSeq: 5, lastSeq: 7, total: 7 });
    o.close();
  });

  it('a full disk (SQLite max_page_count: SQLITE_FULL): a clear error, the oldest dropped and counted, never a throw', async () => {
    const { log, lines } = logCapture();
    const drops: OutboxDrop[] = [];
    // 64 pages of 4 KiB: the file cannot grow beyond 256 KiB, as if the card were full.
    const o = open({ maxPageCount: 64, commitMaxMessages: 100, log, onDrop: (d) => drops.push(d) });
    for (let s = 1; s <= 2000; s++) {
      o.push(item(s));
      if (s % 100 === 0) expect(() => o.commit()).not.toThrow();
    }
    o.commit();
    const kept = seqs(o);
    expect(kept.at(-1)).toBe(2000);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => kept[0]! + i));
    expect(o.dropped).toBe(kept[0]! - 1);
    expect(o.dropped).toBeGreaterThan(1000);
    const err = lines.find((l) => l.msg === 'disk full: dropping oldest');
    expect(err?.level).toBe(50); // error
    expect(err?.code).toBe('SQLITE_FULL');
    // Logged once, not once per commit.
    expect(lines.filter((l) => l.msg === 'disk full: dropping oldest').length).toBe(1);
    await tick(20);
    expect(drops[0]!.reason).toBe('disk_full');
    const ev = dropEvent(drops[0]!, 'Asia/Makassar');
    expect(ev.message.en).toMatch(/^Site box disk full: dropped the/);
    o.close();
  });

  it('a disk that refuses everything: the newest wait in memory (bounded) and are still handed out', async () => {
    const { log, lines } = logCapture();
    const o = open({ maxPageCount: 6, maxPending: 50, log });
    // Six pages hold the schema and a few rows: nothing of this batch fits.
    for (let s = 1; s <= 500; s++) o.push(item(s));
    expect(() => o.commit()).not.toThrow();
    expect(o.depth).toBeLessThanOrEqual(50 + 10);
    expect(o.dropped).toBeGreaterThanOrEqual(440);
    expect(lines.some((l) => /nothing could be written/.test(l.msg))).toBe(true);
    // The uplink still gets them, from memory, in order; an acknowledgement forgets them.
    const out = o.next(0, 1000);
    expect(out.at(-1)!.seq).toBe(500);
    expect(out.map((i) => i.seq)).toEqual([...out.map((i) => i.seq!)].sort((a, b) => a - b));
    const before = o.depth;
    o.ack(out.at(-1)!.id);
    expect(o.depth).toBe(before - 1);
    expect(o.next(out.at(-2)!.id, 10)).toEqual([]);
    o.close();
  });

  it('shrinks itself when the file system runs short of free space (statfs), oldest first', async () => {
    const { log, lines } = logCapture();
    const drops: OutboxDrop[] = [];
    // A reserve larger than any disk: the outbox must give way to everything else.
    const o = open({ reserveFreeBytes: 2 ** 60, log, onDrop: (d) => drops.push(d) });
    for (let s = 1; s <= 4000; s++) {
      o.push(item(s));
      if (s % 200 === 0) o.commit();
    }
    o.commit();
    const kept = seqs(o);
    expect(kept.at(-1)).toBe(4000);
    expect(kept.length).toBeLessThan(1000);
    expect(o.dropped).toBe(kept[0]! - 1);
    expect(lines.some((l) => l.msg === 'disk nearly full: dropping oldest' && l.level === 40)).toBe(true);
    await tick(20);
    expect(drops[0]!.reason).toBe('disk_full');
    o.close();
  });

  it('reports an unclean previous run', async () => {
    const o = open();
    expect(o.lastSeqAtStart).toBe(null); // a new file knows nothing of earlier numbers
    o.push(item(1));
    o.push(item(2));
    o.commit();
    o.ack(o.next(0, 10)[1]!.id);
    o.commit();
    o.push(item(3)); // queued, never committed: lost with the "power cut"
    // Not closed: the "open" mark stays, as after kill -9. A second handle stands in for the next run.
    const { log, lines } = logCapture();
    const o2 = new DiskOutbox({ path: join(dir, 'outbox.db'), log });
    expect(o2.uncleanStart).toBe(true);
    expect(seqs(o2)).toEqual([1]);
    // The highest number ever written, even when acknowledged: 3 never reached the disk. 2 is kept
    // as a marker row, neither handed out nor counted as waiting.
    expect(o2.lastSeqAtStart).toBe(2);
    expect(o2.depth).toBe(1);
    expect(lines.some((l) => /not closed cleanly/.test(l.msg))).toBe(true);
    o2.close();
    o.close();
  });

  it('after SIGKILL of a process writing heavily: everything it saw committed is there, once, in order', async () => {
    // The child runs the built module (npm test builds first): it writes as fast as it can,
    // acknowledges every even sequence number once durable, and prints the highest durable one.
    const built = join(ROOT, 'gateway/dist/outbox.js');
    if (!existsSync(built)) throw new Error(`${built} is missing: run "npm run build"`);
    writeFileSync(
      join(dir, 'writer.mjs'),
      `import { DiskOutbox } from ${JSON.stringify(pathToFileURL(built).href)};
const o = new DiskOutbox({ path: process.argv[2], commitIntervalMs: 5, commitMaxMessages: 200 });
let seq = 0, cursor = 0;
o.onDurable(() => {
  let top = 0;
  for (const i of o.next(cursor, 1e6)) { cursor = i.id; top = i.seq; if (i.seq % 2 === 0) o.ack(i.id); }
  process.stdout.write('durable ' + top + '\\n');
});
const body = ${JSON.stringify(body(0).toString())};
(function write() {
  for (let k = 0; k < 50; k++) { seq++; o.push({ topic: 't', body: Buffer.from(body.replace('"seq":0', '"seq":' + seq)), ts: Date.now(), seq }); }
  setImmediate(write);
})();
`,
    );
    for (let round = 0; round < 3; round++) {
      const path = join(dir, `kill-${round}.db`);
      const child = spawn(process.execPath, [join(dir, 'writer.mjs'), path], {
        env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const exited = new Promise((r) => child.once('exit', r));
      // Kill at a different moment each round, deep in heavy writing.
      const until = Date.now() + 5000;
      while (!/durable [1-9]\d{3,}/.test(out) && Date.now() < until) await tick(10);
      await tick(37 * round);
      child.kill('SIGKILL');
      await exited;
      expect(err).toBe('');
      const durable = Math.max(...[...out.matchAll(/durable (\d+)/g)].map((m) => Number(m[1])));
      expect(durable).toBeGreaterThanOrEqual(1000);
      const o = new DiskOutbox({ path });
      expect(o.uncleanStart).toBe(true);
      const got = o.next(0, 1e9);
      const s = got.map((i) => i.seq!);
      // Nothing twice, in order.
      expect(new Set(s).size).toBe(s.length);
      expect([...s].sort((x, y) => x - y)).toEqual(s);
      expect(got.map((i) => i.id)).toEqual([...got.map((i) => i.id)].sort((x, y) => x - y));
      // Every odd (never acknowledged) number up to the last one the child saw durable is there.
      const have = new Set(s);
      for (let q = 1; q <= durable; q += 2)
        if (!have.has(q)) throw new Error(`seq ${q} lost (durable ${durable})`);
      // Bodies are whole.
      for (const i of got.slice(-5)) expect(JSON.parse(i.body.toString()).seq).toBe(i.seq);
      o.close();
    }
  }, 30_000);
});
