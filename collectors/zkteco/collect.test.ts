// One poll of one terminal against the simulator: the typed result, incremental punches reported
// once, the per-terminal lock, a second session refused gracefully, the full-memory hang.

import { afterEach, describe, expect, it } from 'vitest';
import { type AttendanceRecord, ZkClient } from './client.js';
import { collectTerminal, newSince, type TerminalMemory, withTerminalLock } from './collect.js';
import { startZkSimulator, type ZkSimulator, type ZkSimulatorOptions } from './simulator/server.js';

const TZ = 'Asia/Makassar';
const sims: ZkSimulator[] = [];
const clients: ZkClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.disconnect()));
  await Promise.all(sims.splice(0).map((s) => s.close()));
});
async function sim(o: ZkSimulatorOptions = {}) {
  const s = await startZkSimulator({ timeZone: TZ, ...o });
  sims.push(s);
  return s;
}
const target = (
  s: ZkSimulator,
  o: { timeoutMs?: number; commKey?: number; transport?: 'tcp' | 'udp' } = {},
) => ({
  host: '127.0.0.1',
  port: s.port,
  transport: o.transport ?? (s.transport === 'udp' ? ('udp' as const) : ('tcp' as const)),
  timeoutMs: o.timeoutMs ?? 2000,
  ...(o.commKey !== undefined ? { commKey: o.commKey } : {}),
});

describe.each(['tcp', 'udp'] as const)('collectTerminal over %s', (transport) => {
  it('reports identity, clock offset, fill and the latest punch in one session', async () => {
    const s = await sim({
      transport,
      serial: 'SOP-BKD-01',
      records: 1234,
      users: 60,
      capacity: { records: 5000, users: 1000, fingerprints: 2000 },
      clockOffsetS: 120,
      commKey: 4321,
    });
    const memory: TerminalMemory = {};
    const r = await collectTerminal(target(s, { commKey: 4321 }), memory, { timeZone: TZ });
    expect(r.state).toBe('up');
    expect(r.error).toBeUndefined();
    expect(r.identity?.serial).toBe('SOP-BKD-01');
    expect(Math.abs((r.clock_offset_s ?? 0) - 120)).toBeLessThanOrEqual(1.5);
    expect(r.fill).toEqual({
      records: 1234,
      capacity: 5000,
      pct: 24.7,
      users: 60,
      users_capacity: 1000,
      fingerprints: 60,
      fingerprints_capacity: 2000,
    });
    const last = s.log().at(-1);
    expect(r.latest_punch?.user_id).toBe(last?.user_id);
    expect(r.latest_punch?.punch).toBe(last?.punch);
    expect(r.new_punches).toBe(0); // the first poll sets the baseline
    expect(r.log_read).toBe(true);
    expect(memory.count).toBe(1234);
    expect(s.sessions()).toMatchObject({ active: 0, opened: 1 });
  });

  it('reports each new punch once (incremental), and reads the log only when it grew', async () => {
    const s = await sim({ transport, records: 300 });
    const memory: TerminalMemory = {};
    const opts = { timeZone: TZ, readEvery: 3 };
    expect((await collectTerminal(target(s), memory, opts)).new_punches).toBe(0);

    const added = [
      s.addPunch({ user_id: '1007', punch: 0 }),
      s.addPunch({ user_id: '1008', punch: 0 }),
      s.addPunch({ user_id: '1009', punch: 1 }),
    ];
    const r1 = await collectTerminal(target(s), memory, opts);
    expect(r1.log_read).toBe(true);
    expect(r1.new_punches).toBe(3);
    expect(r1.latest_punch).toMatchObject({ user_id: added[2]?.user_id, punch: 1 });

    const r2 = await collectTerminal(target(s), memory, opts);
    expect(r2.log_read).toBe(false); // same count: no log read
    expect(r2.new_punches).toBe(0);
    expect(r2.latest_punch).toEqual(r1.latest_punch);

    await collectTerminal(target(s), memory, opts);
    const r4 = await collectTerminal(target(s), memory, opts); // the 3rd poll since the read: read again
    expect(r4.log_read).toBe(true);
    expect(r4.new_punches).toBe(0);

    s.addPunch({ user_id: '1010' });
    expect((await collectTerminal(target(s), memory, opts)).new_punches).toBe(1);
    expect((await collectTerminal(target(s), memory, opts)).new_punches).toBe(0);
    expect(s.stats().commands.CLEAR_ATTLOG ?? 0).toBe(0);
    expect(s.log()).toHaveLength(304);
  });

  it('a second session is refused gracefully: busy, the first session unaffected', async () => {
    const s = await sim({ transport, records: 50 });
    const first = new ZkClient(target(s));
    clients.push(first);
    await first.connect();
    const r = await collectTerminal(target(s), {}, { timeZone: TZ });
    expect(r.state).toBe('busy');
    expect(r.error?.reason).toBe('busy');
    expect(r.error?.message).toMatch(/another session is open/);
    expect(r.fill).toBeUndefined();
    // the first session goes on as if nothing happened
    expect((await first.freeSizes()).records).toBe(50);
    expect((await first.readAttendance({ timeZone: TZ })).records).toHaveLength(50);
    await first.disconnect();
    expect((await collectTerminal(target(s), {}, { timeZone: TZ })).state).toBe('up');
    expect(s.sessions()).toMatchObject({ opened: 2, refused: 1, active: 0 });
  });

  it('memory full: the hang is caught as a timeout, state hung, naming the likely cause', async () => {
    const s = await sim({ transport, records: 1000, capacity: { records: 1000 } });
    const memory: TerminalMemory = {};
    const ok = await collectTerminal(target(s, { timeoutMs: 400 }), memory, { timeZone: TZ });
    expect(ok.state).toBe('up');
    expect(ok.fill?.pct).toBe(100);

    s.setFull(true);
    const t0 = Date.now();
    const r = await collectTerminal(target(s, { timeoutMs: 400 }), memory, { timeZone: TZ });
    expect(r.state).toBe('hung');
    expect(r.error?.kind).toBe('timeout');
    expect(r.error?.message).toMatch(/accepted the session but stopped answering/);
    expect(r.error?.message).toMatch(/memory full\? log at 1000\/1000/);
    expect(r.latest_punch).toEqual(ok.latest_punch); // what we knew is kept
    expect(Date.now() - t0).toBeLessThan(5000); // one request timeout and a short EXIT, not minutes

    // a terminal that hangs the first time we ever see it
    const r2 = await collectTerminal(target(s, { timeoutMs: 300 }), {}, { timeZone: TZ });
    expect(r2.state).toBe('hung');
    expect(r2.error?.message).toMatch(/memory full or hung\?/);

    s.setFull(false); // someone restarted it
    expect((await collectTerminal(target(s, { timeoutMs: 400 }), memory, { timeZone: TZ })).state).toBe('up');
  });
});

describe('collectTerminal', () => {
  it('two polls of one terminal at once never open two sessions: the lock serialises them', async () => {
    const s = await sim({ records: 3000, frameGapMs: 1 });
    const [a, b, c] = await Promise.all([
      collectTerminal(target(s), {}, { timeZone: TZ }),
      collectTerminal(target(s), {}, { timeZone: TZ }),
      collectTerminal(target(s), {}, { timeZone: TZ }),
    ]);
    expect([a?.state, b?.state, c?.state]).toEqual(['up', 'up', 'up']);
    expect(s.sessions()).toMatchObject({ opened: 3, refused: 0 });
  });

  it('the lock runs holders of one key one after another, other keys freely', async () => {
    const order: string[] = [];
    const step = (k: string, ms: number) => () =>
      new Promise<void>((r) => {
        order.push(`${k}+`);
        setTimeout(() => {
          order.push(`${k}-`);
          r();
        }, ms);
      });
    await Promise.all([
      withTerminalLock('t1', step('a', 30)),
      withTerminalLock('t1', step('b', 5)),
      withTerminalLock('t2', step('c', 5)),
    ]);
    expect(order.indexOf('a-')).toBeLessThan(order.indexOf('b+'));
    expect(order.indexOf('c+')).toBeLessThan(order.indexOf('a-'));
    await expect(withTerminalLock('t1', () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await withTerminalLock('t1', async () => undefined); // a failed holder does not block the next
  });

  it('unreachable and wrong key are states, not exceptions', async () => {
    const s = await sim({ commKey: 99 });
    expect((await collectTerminal(target(s, { commKey: 98 }), {}, { timeZone: TZ })).state).toBe('auth');
    const port = s.port;
    await s.close();
    sims.length = 0;
    const r = await collectTerminal({ host: '127.0.0.1', port, timeoutMs: 500 }, {}, { timeZone: TZ });
    expect(r.state).toBe('unreachable');
    expect(r.error?.kind).toBe('unreachable');
  });
});

describe('newSince', () => {
  const rec = (index: number, user_id: string, t: number): AttendanceRecord => ({
    index,
    user_id,
    punch: 0,
    time: { year: 2026, month: 1, day: 1, hour: 0, minute: 0, second: 0, epoch_ms: t },
  });
  const log = [rec(0, 'a', 1000), rec(1, 'b', 2000), rec(2, 'c', 3000), rec(3, 'd', 4000)];

  it('nothing on the first read (baseline)', () => {
    expect(newSince(log, {})).toEqual([]);
  });
  it('the records after the last one seen', () => {
    expect(newSince(log, { count: 2, last: { user_id: 'b', time_ms: 2000, punch: 0 } })).toEqual(
      log.slice(2),
    );
    expect(newSince(log, { count: 0 })).toEqual(log);
  });
  it('after the log was cleared or wrapped: what is later than the last one seen', () => {
    const cleared = [rec(0, 'c', 3000), rec(1, 'd', 4000), rec(2, 'e', 5000)];
    expect(newSince(cleared, { count: 2, last: { user_id: 'b', time_ms: 2000, punch: 0 } })).toHaveLength(3);
    expect(newSince(cleared, { count: 5, last: { user_id: 'c', time_ms: 3000, punch: 0 } })).toHaveLength(2);
  });
});
