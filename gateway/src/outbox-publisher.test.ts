// The publisher draining the disk outbox into an MQTT broker (aedes, in this process): order, the
// window of unacknowledged messages, the rate cap, and which messages carry `backfill`.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode, topics } from '@pantau/contract';
import { Aedes } from 'aedes';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskOutbox } from './outbox.js';
import { Publisher, type RejectedMessage } from './publisher.js';

interface Got {
  seq: number;
  backfill: boolean;
  at: number;
}

/** How the test broker treats a telemetry message: take it, refuse it (drop the connection), or stall. */
type Verdict = 'take' | 'refuse' | 'stall';

async function broker(port = 0, judge: (seq: number) => Verdict = () => 'take') {
  const aedes = await Aedes.createBroker({
    authorizePublish: (client, packet, done) => {
      if (!client || !packet.topic.endsWith('/telemetry')) return done(null);
      const { seq } = JSON.parse(packet.payload.toString()) as { seq: number };
      const v = judge(seq);
      if (v === 'take') return done(null);
      // aedes drops the connection when a publish is refused (MQTT 3.1.1 has nothing else).
      if (v === 'refuse') return done(new Error('not allowed'));
      // A link that went dead with this message on it: no answer, then the connection goes.
      setTimeout(() => client.conn.destroy(), 4000);
    },
  });
  const got: Got[] = [];
  aedes.on('publish', (packet, client) => {
    if (!client || !packet.topic.endsWith('/telemetry')) return;
    const p = JSON.parse(packet.payload.toString()) as { seq: number; backfill: boolean };
    got.push({ seq: p.seq, backfill: p.backfill, at: performance.now() });
  });
  const server: Server = createServer((s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    got,
    close: async () => {
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const telemetry = (seq: number) => ({
  v: 1 as const,
  seq,
  device: 'ptp-scc',
  backfill: false,
  readings: [{ ts: Date.now(), values: { rx_power_dbm: -61 } }],
});
const topic = topics.deviceTelemetry('rsud', 'ptp-scc');
const until = async (what: string, fn: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pantau-publisher-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function publisher(
  port: number,
  outbox: DiskOutbox,
  o: {
    rate?: number;
    inflight?: number;
    backfillAfterMs?: number;
    maxMessageBytes?: number;
    onRejected?: (r: RejectedMessage) => void;
  },
) {
  return new Publisher({
    site: 'rsud',
    urls: [`mqtt://127.0.0.1:${port}`],
    username: 'gw-rsud',
    password: 'x',
    keepaliveS: 5,
    clientId: 'pantau-gw-rsud-test',
    log: pino({ level: process.env.PUB_LOG ?? 'silent' }),
    birth: () => ({ v: 1, state: 'online', ts: Date.now(), site: 'rsud' }),
    outbox,
    ...(o.rate !== undefined ? { replayRatePerS: o.rate } : {}),
    ...(o.inflight !== undefined ? { inflight: o.inflight } : {}),
    ...(o.backfillAfterMs !== undefined ? { backfillAfterMs: o.backfillAfterMs } : {}),
    ...(o.maxMessageBytes !== undefined ? { maxMessageBytes: o.maxMessageBytes } : {}),
    ...(o.onRejected ? { onRejected: o.onRejected } : {}),
  });
}

describe('publisher and disk outbox', () => {
  it('replays a backlog from an earlier run in order, flagged backfill, at the capped rate, then empties the outbox', async () => {
    const path = join(dir, 'outbox.db');
    // An earlier run wrote 300 messages and died.
    const earlier = new DiskOutbox({ path });
    for (let s = 1; s <= 300; s++)
      earlier.push({ topic, body: encode(telemetry(s)), ts: Date.now(), seq: s });
    earlier.close();
    const b = await broker();
    const outbox = new DiskOutbox({ path, commitIntervalMs: 50 });
    const p = publisher(b.port, outbox, { rate: 100, inflight: 5 });
    p.start();
    // Live readings of this run go after the backlog.
    await until('connected', () => p.connected);
    for (let s = 301; s <= 310; s++) p.publish(topic, telemetry(s), Date.now());
    await until('all 310', () => b.got.length >= 310);
    expect(b.got.map((g) => g.seq)).toEqual(Array.from({ length: 310 }, (_, i) => i + 1));
    expect(b.got.slice(0, 300).every((g) => g.backfill)).toBe(true);
    expect(b.got.slice(300).some((g) => !g.backfill)).toBe(true);
    // 100/s (plus the live rate), a burst of one second's worth: 300 take about two seconds, not none.
    const span = b.got[299]!.at - b.got[0]!.at;
    expect(span).toBeGreaterThan(1500);
    expect(span).toBeLessThan(4000);
    await until('acknowledged and forgotten', () => outbox.depth === 0);
    await p.stop();
    await b.close();
    const again = new DiskOutbox({ path });
    expect(again.depth).toBe(0);
    again.close();
  }, 30_000);

  it('uncapped, with a window: fast, still in order', async () => {
    const path = join(dir, 'outbox.db');
    const earlier = new DiskOutbox({ path });
    for (let s = 1; s <= 3000; s++)
      earlier.push({ topic, body: encode(telemetry(s)), ts: Date.now(), seq: s });
    earlier.close();
    const b = await broker();
    const p = publisher(b.port, new DiskOutbox({ path }), { rate: 0, inflight: 20 });
    const t0 = performance.now();
    p.start();
    await until('all 3000', () => b.got.length >= 3000);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(b.got.map((g) => g.seq)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    await p.stop();
    await b.close();
  }, 30_000);

  it('what was written while the central was away is backfill; what is sent at once is not', async () => {
    const b = await broker();
    const port = b.port;
    const outbox = new DiskOutbox({ path: join(dir, 'outbox.db'), commitIntervalMs: 20 });
    const p = publisher(port, outbox, { backfillAfterMs: 60_000 });
    p.start();
    await until('connected', () => p.connected);
    p.publish(topic, telemetry(1), Date.now());
    await until('seq 1', () => b.got.length === 1);
    await b.close();
    await until('disconnected', () => !p.connected);
    for (let s = 2; s <= 4; s++) p.publish(topic, telemetry(s), Date.now());
    // The central comes back on the same port within the client's reconnect period.
    const b2 = await broker(port);
    await until('seq 2-4', () => b2.got.length >= 3);
    p.publish(topic, telemetry(5), Date.now());
    await until('seq 5', () => b2.got.length >= 4);
    expect(b.got).toEqual([expect.objectContaining({ seq: 1, backfill: false })]);
    expect(b2.got.map((g) => [g.seq, g.backfill])).toEqual([
      [2, true],
      [3, true],
      [4, true],
      [5, false],
    ]);
    await p.stop();
    await b2.close();
  }, 30_000);

  it('a message the broker refuses every time is set aside after three sessions; the rest flows in order', async () => {
    const refusedSessions: number[] = [];
    const b = await broker(0, (seq) => {
      if (seq !== 3) return 'take';
      refusedSessions.push(Date.now());
      return 'refuse';
    });
    const path = join(dir, 'outbox.db');
    const outbox = new DiskOutbox({ path, commitIntervalMs: 20 });
    const rejected: RejectedMessage[] = [];
    const p = publisher(b.port, outbox, { inflight: 1, onRejected: (r) => rejected.push(r) });
    p.start();
    await until('connected', () => p.connected);
    for (let s = 1; s <= 10; s++) p.publish(topic, telemetry(s), Date.now());
    await until('all but the refused one', () => b.got.length >= 9, 30_000);
    expect(b.got.map((g) => g.seq)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10]);
    expect(refusedSessions.length).toBe(3);
    expect(rejected).toEqual([expect.objectContaining({ reason: 'refused_by_broker', seq: 3, topic })]);
    expect(p.counts.rejected).toBe(1);
    await until('outbox empty', () => outbox.depth === 0);
    await p.stop();
    await b.close();
    // Kept aside in the file for a post-mortem, and counted across restarts.
    const again = new DiskOutbox({ path });
    expect(again.rejected).toBe(1);
    again.close();
  }, 60_000);

  it('a link that dies with a message on it is not taken for a refusal: the message goes when the link holds', async () => {
    let stalls = 0;
    const b = await broker(0, (seq) => (seq === 3 && stalls++ < 3 ? 'stall' : 'take'));
    const outbox = new DiskOutbox({ path: join(dir, 'outbox.db'), commitIntervalMs: 20 });
    const rejected: RejectedMessage[] = [];
    const p = publisher(b.port, outbox, { inflight: 1, onRejected: (r) => rejected.push(r) });
    p.start();
    await until('connected', () => p.connected);
    for (let s = 1; s <= 5; s++) p.publish(topic, telemetry(s), Date.now());
    await until('all five', () => b.got.length >= 5, 50_000);
    expect(stalls).toBeGreaterThanOrEqual(3);
    expect(rejected).toEqual([]);
    expect(b.got.map((g) => [g.seq, g.backfill])).toEqual([
      [1, false],
      [2, false],
      // Sent again after reconnections: it waited through outages.
      [3, true],
      [4, true],
      [5, true],
    ]);
    await p.stop();
    await b.close();
  }, 60_000);

  it('a message bigger than the central takes is refused at once, not written', async () => {
    const b = await broker();
    const outbox = new DiskOutbox({ path: join(dir, 'outbox.db'), commitIntervalMs: 20 });
    const rejected: RejectedMessage[] = [];
    const p = publisher(b.port, outbox, { maxMessageBytes: 2048, onRejected: (r) => rejected.push(r) });
    p.start();
    await until('connected', () => p.connected);
    const big = { ...telemetry(1), readings: Array.from({ length: 100 }, () => telemetry(1).readings[0]!) };
    p.publish(topic, big, Date.now());
    p.publish(topic, telemetry(2), Date.now());
    await until('seq 2', () => b.got.length >= 1);
    expect(b.got.map((g) => g.seq)).toEqual([2]);
    expect(rejected).toEqual([expect.objectContaining({ reason: 'too_big', seq: 1 })]);
    expect(rejected[0]!.bytes).toBeGreaterThan(2048);
    await p.stop();
    await b.close();
  }, 30_000);
});
