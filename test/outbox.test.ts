// Never lose a reading: the site box's disk outbox under faults, through real processes. A simulated
// airMAX radio answers for many devices; the real site box daemon polls them every second and
// publishes to the real central broker (or through a TCP proxy that plays the radio link); the
// central's SQLite store is read directly. Each case ends with the site box stopped and its
// outbox.db read: every sequence number the site box handed out is then at the central or still
// waiting in the outbox, and the central holds each at most once.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { openStore } from '@pantau/broker/store';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Daemon, freePort, ROOT, requireBinary, runDaemon, tempDir, waitFor } from './support/procs.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

const RECORDING = join(ROOT, 'test/fixtures/snmp/airos/device.snmprec');
const SITES = ['outage', 'proxy', 'killed', 'full', 'restart', 'replaced'] as const;
type Site = (typeof SITES)[number];
const PRLIMIT = '/usr/bin/prlimit';

interface Row {
  seq: number;
  kind: 'batch' | 'event';
  backfill: boolean;
  received_at: number;
  type?: string;
  data?: Record<string, unknown>;
}
interface Health {
  ts: number;
  outbox: { depth: number; oldest_ts: number | null };
  dropped: number;
  seq: number;
  polls: { ok: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** MQTT control packets in a byte stream (client → server). */
function mqttPackets(chunks: Buffer[]): Array<{ type: number; flags: number; body: Buffer }> {
  const b = Buffer.concat(chunks);
  const out: Array<{ type: number; flags: number; body: Buffer }> = [];
  let i = 0;
  while (i < b.length) {
    let len = 0;
    let mul = 1;
    let j = i + 1;
    for (;;) {
      if (j >= b.length) return out;
      const c = b[j++]!;
      len += (c & 127) * mul;
      mul *= 128;
      if (!(c & 128)) break;
    }
    if (j + len > b.length) break;
    out.push({ type: b[i]! >> 4, flags: b[i]! & 15, body: b.subarray(j, j + len) });
    i = j + len;
  }
  return out;
}
const str = (b: Buffer, at: number) => b.subarray(at + 2, at + 2 + b.readUInt16BE(at)).toString();
/** CONNECT (3.1.1): the clean-session flag and the client id. */
function parseConnect(body: Buffer): { clean: boolean; clientId: string } {
  const at = 2 + body.readUInt16BE(0); // protocol name
  const flags = body[at + 1]!;
  return { clean: (flags & 2) !== 0, clientId: str(body, at + 4) };
}
/** PUBLISH at QoS 1: topic and payload. */
function parsePublish(body: Buffer): { topic: string; payload: Buffer } {
  const tl = body.readUInt16BE(0);
  return { topic: body.subarray(2, 2 + tl).toString(), payload: body.subarray(2 + tl + 2) };
}

/** Numbers missing from [from, to] in a sorted list of distinct numbers. */
function holes(sorted: number[], from: number, to: number): number[] {
  const have = new Set(sorted);
  const out: number[] = [];
  for (let s = from; s <= to; s++) if (!have.has(s)) out.push(s);
  return out;
}

describe('the site box outbox under faults (real processes)', () => {
  const dir = tempDir('outbox');
  let agent: SimulatedAgent;
  let mqttPort: number;
  let metricsPort: number;
  let broker: Daemon;
  const gateways: Array<Daemon | { proc: ChildProcess; stop: Daemon['stop'] }> = [];
  const proxies: TcpProxy[] = [];
  const centralYaml = join(dir.path, 'central.yaml');
  const centralDb = join(dir.path, 'central.db');
  const stateDir = (site: Site) => join(dir.path, `gw-${site}`);

  const startBroker = async () => {
    broker = runDaemon('broker', ['--config', centralYaml]);
    await waitFor(
      'broker listening',
      () =>
        new Promise<boolean>((res) => {
          const s = connect(mqttPort, '127.0.0.1');
          s.once('connect', () => {
            s.destroy();
            res(true);
          });
          s.once('error', () => res(false));
        }),
      20_000,
    );
  };

  /** site.yaml for `devices` radios polled every second, publishing to `port`. */
  const siteYaml = (site: Site, port: number, devices: number, outbox: string): string => {
    const file = join(dir.path, `site-${site}.yaml`);
    const list = Array.from(
      { length: devices },
      (_, i) =>
        `  - { id: r${String(i + 1).padStart(2, '0')}, address: 127.0.0.1, snmp: { port: ${agent.port} } }`,
    ).join('\n');
    writeFileSync(
      file,
      `site: { id: ${site} }
mqtt: { urls: ["mqtt://127.0.0.1:${port}"], username: gw-${site}, password_file: gw.pw, keepalive_s: 5 }
state_dir: gw-${site}
log_level: warn
defaults: { interval_s: 1, timeout_ms: 800, retries: 0, jitter_pct: 0 }
health_interval_s: 1
outbox: ${outbox}
devices:
${list}
`,
    );
    return file;
  };

  const startGateway = (file: string): Daemon => {
    const d = runDaemon('gateway', ['run', '--config', file]);
    gateways.push(d);
    return d;
  };

  /** What the central holds from a site: telemetry batches and events, by sequence number. */
  const central = (site: Site): Row[] => {
    if (!existsSync(centralDb)) return [];
    const db = new Database(centralDb, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    try {
      const batches = db
        .prepare('SELECT seq, backfill, received_at FROM batches WHERE site = ?')
        .all(site) as Array<{ seq: number; backfill: number; received_at: number }>;
      const events = db
        .prepare('SELECT seq, body, received_at FROM events WHERE site = ?')
        .all(site) as Array<{ seq: number; body: string; received_at: number }>;
      return [
        ...batches.map((b) => ({
          seq: b.seq,
          kind: 'batch' as const,
          backfill: b.backfill === 1,
          received_at: b.received_at,
        })),
        ...events.map((e) => {
          const p = JSON.parse(e.body) as {
            type: string;
            backfill?: boolean;
            data?: Record<string, unknown>;
          };
          return {
            seq: e.seq,
            kind: 'event' as const,
            backfill: p.backfill === true,
            received_at: e.received_at,
            type: p.type,
            ...(p.data ? { data: p.data } : {}),
          };
        }),
      ].sort((a, b) => a.seq - b.seq);
    } finally {
      db.close();
    }
  };
  const maxSeq = (site: Site) => central(site).at(-1)?.seq ?? 0;

  /** The central's skipped ranges (numbers a restarted site box never wrote). */
  const skips = (site: Site): Array<[number, number]> => {
    const db = new Database(centralDb, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    try {
      return (
        db.prepare('SELECT from_seq AS a, to_seq AS b FROM seq_skips WHERE site = ?').all(site) as Array<{
          a: number;
          b: number;
        }>
      ).map((x) => [x.a, x.b]);
    } finally {
      db.close();
    }
  };

  const health = (site: Site): Health | null => {
    if (!existsSync(centralDb)) return null;
    const db = new Database(centralDb, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    try {
      const r = db.prepare('SELECT health FROM sites WHERE site = ?').get(site) as
        | { health: string | null }
        | undefined;
      return r?.health ? (JSON.parse(r.health) as Health) : null;
    } finally {
      db.close();
    }
  };

  /** Sequence numbers waiting in a stopped site box's outbox.db. */
  const waiting = (site: Site): number[] => {
    const file = join(stateDir(site), 'outbox.db');
    if (!existsSync(file)) return [];
    const db = new Database(file);
    try {
      return (
        db.prepare('SELECT seq FROM outbox WHERE seq IS NOT NULL AND acked = 0 ORDER BY id').all() as Array<{
          seq: number;
        }>
      ).map((r) => r.seq);
    } finally {
      db.close();
    }
  };

  /** The site box's birth at the central, once it is the one of a run started at or after `since`. */
  const birth = (site: Site, since: number) =>
    waitFor(
      `${site}: the birth of the run started at ${since}`,
      () => {
        if (!existsSync(centralDb)) return undefined;
        const db = new Database(centralDb, { readonly: true, fileMustExist: true });
        db.pragma('busy_timeout = 5000');
        try {
          const r = db.prepare('SELECT state FROM sites WHERE site = ?').get(site) as
            | { state: string | null }
            | undefined;
          const p = r?.state
            ? (JSON.parse(r.state) as {
                state: string;
                started_at?: number;
                seq_first?: number;
                seq_origin?: string;
              })
            : null;
          return p?.state === 'online' && (p.started_at ?? 0) >= since && typeof p.seq_first === 'number'
            ? { seq_first: p.seq_first, seq_origin: p.seq_origin }
            : undefined;
        } finally {
          db.close();
        }
      },
      30_000,
      100,
    );
  /** The first number of a run started at or after `since` (from its birth). */
  const runFirst = async (site: Site, since: number) => (await birth(site, since)).seq_first;

  /** The backlog is sent: a health message newer than `since` with (almost) nothing waiting. */
  const drained = (site: Site, since: number, slack: number, timeoutMs = 60_000) =>
    waitFor(
      `${site}: outbox drained`,
      () => {
        const h = health(site);
        return h && h.ts > since && h.outbox.depth <= slack ? h : undefined;
      },
      timeoutMs,
      250,
    );

  /** Nothing lost, nothing twice: central ∪ waiting covers [first, max] exactly once at the central. */
  const checkComplete = (site: Site, first: number, rows: Row[], left: number[]) => {
    const seqs = rows.map((r) => r.seq);
    expect(new Set(seqs).size, `${site}: a sequence number twice at the central`).toBe(seqs.length);
    const all = [...new Set([...seqs, ...left])].sort((a, b) => a - b);
    const missing = holes(all, first, all.at(-1)!);
    expect(missing, `${site}: readings neither at the central nor waiting`).toEqual([]);
    return all;
  };

  beforeAll(async () => {
    agent = await startSimulatedAgent({
      recording: RECORDING,
      port: 0,
      scenarios: [{ kind: 'counters', bitRateIn: 8_000_000, bitRateOut: 2_000_000 }],
    });
    mqttPort = await freePort();
    metricsPort = await freePort();
    const cred = join(dir.path, 'credentials.yaml');
    for (const site of SITES)
      execFileSync(process.execPath, [
        join(ROOT, 'broker/dist/cli.js'),
        'credentials',
        'add-gateway',
        '--file',
        cred,
        '--site',
        site,
        '--password',
        'gw-secret-1',
      ]);
    writeFileSync(join(dir.path, 'gw.pw'), 'gw-secret-1\n');
    writeFileSync(
      centralYaml,
      `mqtt:\n  host: 127.0.0.1\n  port: ${mqttPort}\ncredentials_file: credentials.yaml\nstore: { kind: sqlite, path: central.db }\nmetrics: { port: ${metricsPort} }\nlog_level: warn\n`,
    );
    await startBroker();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop('SIGKILL')));
    await Promise.all(proxies.map((p) => p.close()));
    await broker?.stop();
    await agent?.close();
    dir.remove();
  });

  it('the central stopped for a long outage: every reading arrives, in order, flagged backfill, at the capped rate', async () => {
    const devices = 10;
    const cap = 20;
    const since = Date.now();
    const gw = startGateway(
      siteYaml('outage', mqttPort, devices, `{ replay_rate_per_s: ${cap}, backfill_after_s: 5 }`),
    );
    await waitFor(
      'live readings',
      () => central('outage').filter((r) => r.kind === 'batch').length >= 30,
      30_000,
    );
    const first = await runFirst('outage', since);
    // The outage: the central is gone for 15 s (a day, compressed: polls every second).
    await broker.stop();
    const before = maxSeq('outage');
    await sleep(15_000);
    const restartedAt = Date.now();
    await startBroker();
    await drained('outage', restartedAt, devices + 25);
    await sleep(2000); // a little live traffic after the drain
    expect(await gw.stop('SIGTERM'), gw.output()).toBe(0);

    const rows = central('outage');
    const left = waiting('outage');
    checkComplete('outage', first, rows, left);
    // What was read while the central was away came back flagged, with its original number.
    // (Up to a window's worth that was already on its way when the central went is re-sent by MQTT
    // itself as it was first sent, unflagged.)
    const outage = rows.filter((r) => r.seq > before + 20 && r.seq <= before + 120);
    expect(outage.length).toBe(100);
    expect(outage.filter((r) => !r.backfill).map((r) => r.seq)).toEqual([]);
    const replayed = rows.filter((r) => r.backfill && r.kind === 'batch');
    expect(replayed.length).toBeGreaterThanOrEqual(130);
    // In order: by sequence number, the central received them at non-decreasing times.
    const after = rows.filter((r) => r.seq > before);
    for (let i = 1; i < after.length; i++)
      if (after[i]!.received_at < after[i - 1]!.received_at)
        throw new Error(`seq ${after[i]!.seq} arrived before seq ${after[i - 1]!.seq}`);
    // Rate-capped: the backlog drains at `cap` per second on top of the live rate (10/s), not at once.
    const t = replayed.map((r) => r.received_at);
    const span = (t.at(-1)! - t[0]!) / 1000;
    const rate = replayed.length / span;
    expect(span).toBeGreaterThan(2.5);
    expect(rate).toBeLessThan(cap + devices + 10);
    let peak = 0;
    for (let i = 0, j = 0; i < t.length; i++) {
      while (t[i]! - t[j]! >= 1000) j++;
      peak = Math.max(peak, i - j + 1);
    }
    // One second's worth of burst, plus what the client itself re-sends on reconnect.
    expect(peak).toBeLessThanOrEqual(2 * (cap + devices) + 20);
    // Live again at the end: readings sent as they are taken are not backfill.
    const lastBatch = rows.filter((r) => r.kind === 'batch').at(-1)!;
    expect(lastBatch.backfill).toBe(false);
    process.stdout.write(
      `outage: ${replayed.length} batches replayed over ${span.toFixed(1)} s (${rate.toFixed(1)}/s, peak ${peak} in a second), ${left.length} left at stop\n`,
    );
  }, 120_000);

  it('a link that blackholes, then resets mid-publish: every reading arrives once', async () => {
    const devices = 20;
    const proxy = await startTcpProxy({ port: mqttPort });
    proxies.push(proxy);
    const startedAt = Date.now();
    const gw = startGateway(siteYaml('proxy', proxy.port, devices, '{ replay_rate_per_s: 0 }'));
    const first = await runFirst('proxy', startedAt);
    await waitFor('live readings', () => maxSeq('proxy') >= first + 40, 30_000);
    // The radio fades out: nothing passes for longer than the keepalive (5 s × 1.5).
    proxy.setMode('blackhole');
    const fadedAt = maxSeq('proxy');
    await sleep(9000);
    expect(maxSeq('proxy')).toBeLessThanOrEqual(fadedAt + 25);
    expect(proxy.bytes.dropped).toBeGreaterThan(0);
    proxy.setMode('pass');
    await waitFor('replay after the fade', () => maxSeq('proxy') > fadedAt + 200, 30_000);
    // Now cut the link again and again in the middle of publishing (RST both ways): each time once
    // the site box is back and a few kilobytes of publishes went through.
    for (let i = 0; i < 5; i++) {
      const up = proxy.bytes.up;
      await waitFor('publishing again', () => proxy.bytes.up > up + 4000, 20_000, 10);
      await sleep(37 * i);
      proxy.cut();
    }
    // And refuse it outright for a while.
    proxy.setMode('reset');
    await sleep(2500);
    proxy.setMode('pass');
    const since = Date.now();
    await drained('proxy', since, devices + 25);
    expect(await gw.stop('SIGTERM'), gw.output()).toBe(0);
    const rows = central('proxy');
    const left = waiting('proxy');
    const all = checkComplete('proxy', first, rows, left);
    expect(proxy.accepted).toBeGreaterThanOrEqual(7);
    // Written during the fade (after the window that was on its way): sent after the reconnection, flagged.
    const faded = rows.filter((r) => r.seq > fadedAt + 25 && r.seq <= fadedAt + 125);
    expect(faded.length).toBe(100);
    expect(faded.filter((r) => !r.backfill).map((r) => r.seq)).toEqual([]);
    process.stdout.write(
      `proxy: ${all.length} readings, ${rows.length} at the central, ${left.length} waiting at stop, ${proxy.accepted} connections\n`,
    );
  }, 120_000);

  it('kill -9 of the site box during heavy writes: nothing written is lost, nothing is stored twice', async () => {
    const devices = 40;
    const proxy = await startTcpProxy({ port: mqttPort });
    proxies.push(proxy);
    const file = siteYaml('killed', proxy.port, devices, '{ replay_rate_per_s: 0 }');
    const runs: Array<{ first: number; waitingAtKill: number[]; centralAtKill: number[] }> = [];
    // Three kills: during live publishing, while the link is down and the outbox grows, and in the
    // middle of the replay that follows.
    for (const moment of ['live', 'offline', 'replay'] as const) {
      const startedAt = Date.now();
      const gw = startGateway(file);
      const first = await runFirst('killed', startedAt);
      await waitFor(`${moment}: publishing`, () => maxSeq('killed') >= first + 2 * devices, 30_000);
      if (moment !== 'live') {
        proxy.setMode('blackhole');
        await sleep(4000);
      }
      if (moment === 'replay') {
        const top = maxSeq('killed');
        proxy.setMode('pass');
        await waitFor('replay under way', () => maxSeq('killed') > top + 20, 30_000, 20);
      } else await sleep(1300 + 200 * runs.length);
      gw.proc.kill('SIGKILL');
      await new Promise((r) =>
        gw.proc.exitCode !== null || gw.proc.signalCode ? r(null) : gw.proc.once('exit', r),
      );
      proxy.setMode('pass');
      runs.push({
        first,
        waitingAtKill: waiting('killed'),
        centralAtKill: central('killed').map((r) => r.seq),
      });
    }
    // One last run sends what was left, and stops properly.
    const lastStart = Date.now();
    const gw = startGateway(file);
    const first = await runFirst('killed', lastStart);
    const since = Date.now();
    await drained('killed', since, devices + 25);
    expect(await gw.stop('SIGTERM'), gw.output()).toBe(0);
    // It knew the previous run had been killed.
    expect(gw.output()).toMatch(/not closed cleanly/);

    const rows = central('killed');
    const seqs = rows.map((r) => r.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    const have = new Set(seqs);
    const left = waiting('killed');
    for (const [i, r] of runs.entries()) {
      // Everything on disk when the site box died reached the central afterwards.
      const lost = r.waitingAtKill.filter((s) => !have.has(s));
      expect(lost, `run ${i}: written to the outbox before the kill, never delivered`).toEqual([]);
      // Within the run, the central holds an unbroken range from its first number: whatever the
      // kill took can only be the last commit window, never a reading in the middle.
      const end = i + 1 < runs.length ? runs[i + 1]!.first : first;
      const mine = seqs.filter((s) => s >= r.first && s < end);
      expect(mine[0], `run ${i}: its first reading`).toBe(r.first);
      expect(holes(mine, r.first, mine.at(-1)!), `run ${i}: a hole in the middle`).toEqual([]);
      expect(mine.at(-1)!).toBeGreaterThanOrEqual(Math.max(...r.waitingAtKill.filter((s) => s < end), 0));
      expect(mine.at(-1)!).toBeGreaterThanOrEqual(Math.max(...r.centralAtKill.filter((s) => s >= r.first)));
      // The next birth said what had been written: the central's skipped range starts right after
      // it, so a reading lost in the middle could never hide among "reserved, unused" numbers.
      if (mine.at(-1)! + 1 <= end - 1)
        expect(skips('killed'), `run ${i}: skipped range`).toContainEqual([mine.at(-1)! + 1, end - 1]);
      process.stdout.write(
        `kill ${i}: ${mine.length} readings of the run at the central, ${r.waitingAtKill.length} were waiting on disk at the kill\n`,
      );
    }
    // The restart after a kill is reported as abrupt (the runs after the first; the last run's own
    // start event may still be waiting behind the backlog, its log line is checked above).
    const startOf = (seq: number) => rows.find((r) => r.seq === seq && r.type === 'gateway_started');
    expect(startOf(runs[0]!.first)?.data?.unclean_restart).toBe(false);
    for (const r of runs.slice(1))
      expect(startOf(r.first)?.data?.unclean_restart, `run from ${r.first}`).toBe(true);
    const last = seqs.filter((s) => s >= first);
    expect(
      holes(
        [...new Set([...last, ...left])].sort((a, b) => a - b),
        first,
        Math.max(...last, ...left),
      ),
    ).toEqual([]);
  }, 180_000);

  it('a broker restart mid-publish: the default broker keeps sessions in memory, so it forgets the session; the site box sends again what was unacknowledged, the central keeps each once. A link cut alone finds the session kept', async () => {
    const devices = 20;
    const proxy = await startTcpProxy({ port: mqttPort }, { record: true });
    proxies.push(proxy);
    /** CONNACKs that reached the site box: on which connection, and whether the broker had its session. */
    const connacks = () =>
      proxy.recordedDown.flatMap((chunks, conn) =>
        mqttPackets(chunks)
          .filter((p) => p.type === 2)
          .map((p) => ({ conn, sessionPresent: (p.body[0]! & 1) === 1, code: p.body[1]! })),
      );
    const since = Date.now();
    const gw = startGateway(siteYaml('restart', proxy.port, devices, '{ replay_rate_per_s: 0 }'));
    const first = await runFirst('restart', since);
    await waitFor('live readings', () => maxSeq('restart') >= first + 2 * devices, 30_000);
    // The link is cut (both ways, RST) while the broker runs on: it still holds the session.
    proxy.cut();
    await waitFor('reconnected after the cut', () => connacks().length >= 2, 20_000, 50);
    const afterCut = maxSeq('restart');
    await waitFor('publishing after the cut', () => maxSeq('restart') >= afterCut + devices, 20_000);
    // The central receives and stores, but its acknowledgements are lost on the way back…
    proxy.setMode('lose-acks');
    await sleep(2500);
    // …and then it dies and comes back.
    await broker.stop('SIGKILL');
    const connsBeforeRestart = proxy.recorded.length;
    const restartedAt = Date.now();
    await startBroker();
    proxy.setMode('pass');
    await drained('restart', restartedAt, devices + 25);
    expect(await gw.stop('SIGTERM'), gw.output()).toBe(0);
    const rows = central('restart');
    const left = waiting('restart');
    checkComplete('restart', first, rows, left);

    const conns = proxy.recorded.map(mqttPackets);
    // Every connection asks for the persistent session under the same client id.
    const connects = conns.flatMap((ps) => ps.filter((p) => p.type === 1)).map((p) => parseConnect(p.body));
    expect(connects.length).toBeGreaterThanOrEqual(3);
    expect(connects.every((c) => !c.clean)).toBe(true);
    expect(new Set(connects.map((c) => c.clientId)).size).toBe(1);
    // What the broker answered: a new session at first; after the cut alone, the session kept; after
    // the restart, none — aedes without `cluster` keeps sessions in memory (broker/README.md).
    const acks = connacks();
    expect(acks.every((c) => c.code === 0)).toBe(true);
    expect(acks[0]).toMatchObject({ conn: 0, sessionPresent: false });
    expect(acks[1]!.conn).toBeLessThan(connsBeforeRestart);
    expect(acks[1]!.sessionPresent).toBe(true);
    const afterRestart = acks.find((c) => c.conn >= connsBeforeRestart)!;
    expect(afterRestart.sessionPresent).toBe(false);
    // So the site box subscribes to its requests again itself, on that connection as on every one.
    const subscribed = conns[afterRestart.conn]!.filter((p) => p.type === 8).map((p) => str(p.body, 2));
    expect(subscribed).toEqual(['pantau/v1/restart/request/+']);
    // Sequence numbers put on the wire more than once (unacknowledged, sent again on the next
    // connection from the outbox, not from a session), some of which the central had stored before
    // its restart: each is stored once, none is missing.
    const sent = new Map<number, number>();
    for (const ps of conns)
      for (const p of ps.filter((x) => x.type === 3 && ((x.flags >> 1) & 3) === 1)) {
        const { topic, payload } = parsePublish(p.body);
        if (!/\/(telemetry|events)$/.test(topic)) continue; // retained states carry no number
        const seq = (JSON.parse(payload.toString()) as { seq: number }).seq;
        sent.set(seq, (sent.get(seq) ?? 0) + 1);
      }
    const twice = [...sent].filter(([, n]) => n > 1).map(([seq]) => seq);
    expect(twice.length).toBeGreaterThan(0);
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    expect(twice.filter((q) => !bySeq.has(q) && !left.includes(q))).toEqual([]);
    const storedBefore = twice.filter((q) => (bySeq.get(q)?.received_at ?? Infinity) < restartedAt);
    expect(storedBefore.length).toBeGreaterThan(0);
    process.stdout.write(
      `restart: ${connects.length} connections (clean=false, one client id; session present after the cut, gone after the restart), ${twice.length} messages sent twice, ${storedBefore.length} of them already stored before the restart, each stored once\n`,
    );
  }, 120_000);

  it('a full disk: a clear error, the oldest dropped and counted, polling goes on', async () => {
    requireBinary(PRLIMIT, 'apt-get install -y util-linux');
    const devices = 40;
    const proxy = await startTcpProxy({ port: mqttPort });
    proxies.push(proxy);
    const file = siteYaml('full', proxy.port, devices, '{ replay_rate_per_s: 0 }');
    // The kernel refuses to let any file of the site box grow past 512 KiB (RLIMIT_FSIZE: writes
    // fail with EFBIG), as a full card would with ENOSPC: SQLite reports an I/O error or
    // SQLITE_FULL. Node ignores SIGXFSZ, so the write fails instead of killing the process.
    const since = Date.now();
    const proc = spawn(
      PRLIMIT,
      [
        `--fsize=${512 * 1024}`,
        '--',
        process.execPath,
        join(ROOT, 'gateway/dist/cli.js'),
        'run',
        '--config',
        file,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const stop = (signal: NodeJS.Signals = 'SIGTERM') =>
      new Promise<number | null>((res) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return res(proc.exitCode);
        proc.once('exit', (code) => res(code));
        proc.kill(signal);
      });
    gateways.push({ proc, stop });
    const first = await runFirst('full', since);
    await waitFor('live readings', () => maxSeq('full') >= first + 2 * devices, 30_000);
    // The link goes down and the outbox grows until the disk is full.
    proxy.setMode('blackhole');
    await waitFor('disk full', () => /disk full: dropping oldest/.test(out), 60_000, 200).catch(
      (e: Error) => {
        throw new Error(`${e.message}\n${out.slice(-3000)}`);
      },
    );
    const fullAt = Date.now();
    await sleep(3000);
    expect(proc.exitCode, out).toBeNull();
    proxy.setMode('pass');
    await drained('full', Date.now(), devices + 25);
    const h = health('full')!;
    expect(await stop('SIGTERM'), out).toBe(0);

    // A clear error in the log, at level error.
    const line = out.split('\n').find((l) => l.includes('disk full: dropping oldest'))!;
    expect(JSON.parse(line)).toMatchObject({ level: 50, msg: 'disk full: dropping oldest' });
    // Polling went on: readings taken after the disk was full are at the central.
    expect(h.polls.ok).toBeGreaterThan(0);
    const rows = central('full');
    const dropEvent = rows.find((r) => r.type === 'outbox_dropped');
    // On failure: what the site box said, and what the central holds (CI has seen this fail twice).
    expect(
      dropEvent?.data,
      `no drop event at the central (${rows.length} rows; outbox ${h.outbox.depth})\n${out.slice(-3000)}`,
    ).toMatchObject({ reason: 'disk_full' });
    expect(dropEvent!.data!.count as number).toBeGreaterThan(0);
    // Every reading is at the central, waiting, or counted as dropped: the oldest went.
    const seqs = rows.map((r) => r.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    const all = [...new Set([...seqs, ...waiting('full')])].sort((a, b) => a - b);
    const missing = holes(all, first, all.at(-1)!);
    expect(missing.length).toBeGreaterThan(0);
    // Each missing number was dropped and counted. A dropped message may still have arrived: one sent
    // before the link went dark whose acknowledgement was lost with it (at most the window of 20
    // unacknowledged messages), so the count may exceed what is missing by that much, never be less.
    expect(missing.length).toBeLessThanOrEqual(h.dropped);
    expect(h.dropped - missing.length).toBeLessThanOrEqual(20);
    const firstDropped = dropEvent!.data!.first_seq as number;
    expect(firstDropped).toBeLessThanOrEqual(missing[0]!);
    expect(missing[0]! - firstDropped).toBeLessThanOrEqual(20);
    const newest = rows.filter((r) => r.kind === 'batch').at(-1)!;
    expect(newest.received_at).toBeGreaterThan(fullAt);
    process.stdout.write(
      `full: ${h.dropped} oldest dropped and counted, ${seqs.length} readings delivered\n`,
    );
  }, 150_000);
  it('a replaced or reimaged site box (empty state_dir, same site and account): every reading it takes is stored, none missing', async () => {
    const devices = 5;
    const file = siteYaml('replaced', mqttPort, devices, '{ replay_rate_per_s: 0 }');
    // The old box was installed before numbering from the clock: it counts from 1.
    mkdirSync(stateDir('replaced'), { recursive: true });
    writeFileSync(join(stateDir('replaced'), 'sequence'), '0\n');
    const oldStart = Date.now();
    const old = startGateway(file);
    const oldFirst = await runFirst('replaced', oldStart);
    expect(oldFirst).toBe(1);
    await waitFor('the old box publishing', () => maxSeq('replaced') >= oldFirst + 4 * devices, 30_000);
    expect(await old.stop('SIGTERM'), old.output()).toBe(0);
    // Whatever still waited on the old box's disk goes with it (a real replacement loses that too).
    const goneWithOldDisk = waiting('replaced');
    const oldMax = maxSeq('replaced');
    const oldCount = central('replaced').length;
    // The box is replaced: its card reimaged, the same site.yaml and password put back.
    expect(readdirSync(stateDir('replaced'))).toEqual(expect.arrayContaining(['sequence', 'outbox.db']));
    rmSync(stateDir('replaced'), { recursive: true, force: true });

    const newStart = Date.now();
    const gw = startGateway(file);
    const b = await birth('replaced', newStart);
    // No saved number: it counts from the clock, above anything the old box used.
    expect(b.seq_origin).toBe('clock');
    expect(b.seq_first).toBeGreaterThanOrEqual(newStart);
    expect(b.seq_first).toBeGreaterThan(oldMax);
    await waitFor(
      'the new box stored',
      () => central('replaced').filter((r) => r.seq >= b.seq_first).length >= 6 * devices,
      30_000,
    );
    expect(await gw.stop('SIGTERM'), gw.output()).toBe(0);

    const rows = central('replaced');
    const mine = rows.filter((r) => r.seq >= b.seq_first);
    // Every number the new box handed out is at the central (or still on its disk), each once: none
    // was taken for one of the old box's.
    checkComplete('replaced', b.seq_first, mine, waiting('replaced'));
    expect(mine[0]!.seq).toBe(b.seq_first);
    expect(rows.length).toBe(oldCount + mine.length);
    expect(mine.filter((r) => r.kind === 'batch').length).toBeGreaterThanOrEqual(5 * devices);
    // The central's own report, as the API and the dashboard show it.
    const store = openStore({ kind: 'sqlite', path: centralDb }, { readonly: true });
    try {
      const report = await store.sequenceReport('replaced');
      expect(report.last).toBe(mine.at(-1)!.seq);
      expect(report.received).toBe(rows.length);
      // Nothing missing (but what went with the old disk): the old box's numbers end, the new box's
      // start at its clock, and the numbers between were never used.
      const missing = report.missing.flatMap(([a, z]) => Array.from({ length: z - a + 1 }, (_, k) => a + k));
      expect(missing.filter((n) => !goneWithOldDisk.includes(n))).toEqual([]);
      expect(report.skipped.some(([a, z]) => z === b.seq_first - 1 && a <= oldMax + 1)).toBe(true);
      // And its readings are in history, every device's.
      for (let i = 1; i <= devices; i++) {
        const series = await store.history({
          site: 'replaced',
          device: `r0${i}`,
          metric: 'uptime_s',
          from: newStart,
          to: Date.now(),
        });
        expect(
          series.reduce((n, x) => n + x.points.length, 0),
          `r0${i}`,
        ).toBeGreaterThanOrEqual(5);
      }
    } finally {
      await store.close();
    }
    expect(broker.output()).not.toMatch(/started numbering at or below/);

    // An old state_dir put back instead (its saved number long passed): the clash is said out loud.
    rmSync(stateDir('replaced'), { recursive: true, force: true });
    mkdirSync(stateDir('replaced'));
    writeFileSync(join(stateDir('replaced'), 'sequence'), '0\n');
    const restoredAt = Date.now();
    const restored = startGateway(file);
    await birth('replaced', restoredAt);
    const line = await waitFor(
      'the central warns of the clash',
      () =>
        broker
          .output()
          .split('\n')
          .find((l) => l.includes('started numbering at or below')),
      15_000,
    );
    expect(JSON.parse(line)).toMatchObject({
      level: 40,
      site: 'replaced',
      seq_first: 1,
      held_max: mine.at(-1)!.seq,
    });
    // And counted: once, by this broker process (it started in an earlier case; none before was a clash).
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^pantau_broker_sequence_clashes_total 1$/m);
    await restored.stop('SIGTERM');
    process.stdout.write(
      `replaced: old box ${oldFirst}..${oldMax}, new box from ${b.seq_first}: ${mine.length} stored, none missing, ${goneWithOldDisk.length} lost with the old disk\n`,
    );
  }, 120_000);
});
