// Our client against the simulated terminal over real sockets on 127.0.0.1: TCP and UDP, the comm
// key, all three record sizes, a 100,000-record log in chunks, joined and paced frames, inline data,
// late replies, the clock in WITA and WIB, setting it, and commands we never send.

import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ZkClient, type ZkClientOptions, ZkError } from './client.js';
import { CMD, encodeZkTime, type RecordSize } from './protocol.js';
import { startZkSimulator, type ZkSimulator, type ZkSimulatorOptions } from './simulator/server.js';

const TZ = 'Asia/Makassar';
const open: ZkSimulator[] = [];
const clients: ZkClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.disconnect()));
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function sim(o: ZkSimulatorOptions = {}): Promise<ZkSimulator> {
  const s = await startZkSimulator({ timeZone: TZ, ...o });
  open.push(s);
  return s;
}
function client(s: ZkSimulator, o: Partial<ZkClientOptions> = {}): ZkClient {
  const c = new ZkClient({
    host: '127.0.0.1',
    port: s.port,
    transport: s.transport === 'udp' ? 'udp' : 'tcp',
    timeoutMs: 2000,
    ...o,
  });
  clients.push(c);
  return c;
}
const caught = async (p: Promise<unknown>): Promise<ZkError> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof ZkError) return e;
    throw e;
  }
  throw new Error('expected a ZkError');
};

/** Our records, compared with what the simulated terminal holds. */
async function expectSameLog(c: ZkClient, s: ZkSimulator) {
  const read = await c.readAttendance({ timeZone: TZ });
  const log = s.log();
  expect(read.total).toBe(log.length);
  expect(read.records).toHaveLength(log.length);
  for (let i = 0; i < log.length; i += Math.max(1, Math.floor(log.length / 500))) {
    const want = log[i];
    const got = read.records[i];
    expect(got?.index).toBe(i);
    expect(got?.user_id).toBe(want?.user_id);
    expect(got && encodeZkTime(got.time)).toBe(want?.time);
    expect(got?.punch).toBe(want?.punch);
  }
  return read;
}

describe.each(['tcp', 'udp'] as const)('over %s', (transport) => {
  it('connects, says who the terminal is, its memory, and reads the log', async () => {
    const s = await sim({
      transport,
      serial: 'BKD0012345',
      name: 'X628-C',
      platform: 'ZEM560_TFT',
      firmware: 'Ver 6.60 Oct 29 2019',
      records: 500,
      users: 40,
      capacity: { users: 1000, fingerprints: 2000, records: 80_000 },
    });
    const c = client(s);
    await c.connect();
    expect(c.session).toBeGreaterThan(0);
    expect(await c.deviceInfo()).toEqual({
      serial: 'BKD0012345',
      name: 'X628-C',
      platform: 'ZEM560_TFT',
      firmware: 'Ver 6.60 Oct 29 2019',
      fp_version: '10',
    });
    expect(await c.freeSizes()).toMatchObject({
      users: 40,
      records: 500,
      users_capacity: 1000,
      fingerprints_capacity: 2000,
      records_capacity: 80_000,
      records_free: 79_500,
    });
    const read = await expectSameLog(c, s);
    expect(read.record_size).toBe(40);
    const users = await c.readUsers();
    expect(users).toEqual(s.users());
    expect(c.stats.stray).toBe(0);
    await c.disconnect();
    expect(s.sessions()).toMatchObject({ active: 0, opened: 1, refused: 0 });
    const cmds = s.stats().commands;
    expect(Object.keys(cmds)).toEqual(
      expect.arrayContaining(['DISABLEDEVICE', 'ENABLEDEVICE', 'FREE_DATA', 'EXIT']),
    );
  });

  it.each([8, 16, 40] as RecordSize[])('reads %i-byte records', async (recordSize) => {
    const s = await sim({ transport, recordSize, records: 3000 });
    const c = client(s);
    await c.connect();
    const read = await expectSameLog(c, s);
    expect(read.record_size).toBe(recordSize);
    // more than one READ_BUFFER where the log is larger than a chunk (16 KiB on UDP, 0xFFC0 on TCP)
    if (recordSize === 40 || transport === 'udp') expect(read.chunks).toBeGreaterThan(1);
    const first = read.records[0];
    if (recordSize === 40) expect(first).toMatchObject({ uid: 1, user_id: '1001', verify: 1 });
    if (recordSize === 16) expect(first).toMatchObject({ user_id: '1001', status: 1, workcode: 0 });
    if (recordSize === 8) expect(first).toMatchObject({ uid: 1, user_id: '1', status: 1 });
    expect(first?.uid === undefined).toBe(recordSize === 16);
  });

  it('reads a 100,000-record log in chunks without a timeout', async () => {
    const s = await sim({ transport, records: 100_000, capacity: { records: 100_000 } });
    const c = client(s, { timeoutMs: 3000 });
    await c.connect();
    const t0 = Date.now();
    const read = await expectSameLog(c, s);
    const ms = Date.now() - t0;
    const chunk = transport === 'tcp' ? 0xffc0 : 16 * 1024;
    expect(read.bytes).toBe(4 + 100_000 * 40);
    expect(read.chunks).toBe(Math.ceil(read.bytes / chunk));
    expect(s.stats().read_buffer_chunks).toBe(read.chunks);
    expect(c.stats.stray).toBe(0);
    // for the record, not asserted: ~0.5 s on loopback
    expect(ms).toBeGreaterThan(0);
  });

  it('with the right comm key', async () => {
    const s = await sim({ transport, commKey: 123456, records: 10 });
    const c = client(s, { commKey: 123456 });
    await c.connect();
    expect((await c.freeSizes()).records).toBe(10);
    await expectSameLog(c, s);
  });

  it('with a wrong comm key: auth, and the terminal free again', async () => {
    const s = await sim({ transport, commKey: 123456 });
    const e = await caught(client(s, { commKey: 654321 }).connect());
    expect(e.reason).toBe('auth');
    expect(e.kind).toBe('auth');
    expect(e.message).toMatch(/refused the comm key/);
    expect(s.sessions()).toMatchObject({ active: 0, auth_failed: 1 });
    const c = client(s, { commKey: 123456 });
    await c.connect();
  });

  it('without a comm key where one is set: auth, saying none is configured', async () => {
    const s = await sim({ transport, commKey: 7 });
    const e = await caught(client(s).connect());
    expect(e.reason).toBe('auth');
    expect(e.message).toMatch(/requires a comm key and none is configured/);
  });

  it('refuses a second session while one is open (busy), the first one unharmed', async () => {
    const s = await sim({ transport, records: 20 });
    const first = client(s);
    await first.connect();
    const e = await caught(client(s).connect());
    expect(e.reason).toBe('busy');
    expect(e.message).toMatch(/another session is open/);
    expect((await first.freeSizes()).records).toBe(20);
    await expectSameLog(first, s);
    await first.disconnect();
    expect(s.sessions()).toMatchObject({ active: 0, opened: 1, refused: 1 });
    await client(s).connect(); // free again after EXIT
  });

  it('sets the clock: the offset comes back to about 0', async () => {
    const s = await sim({ transport, clockOffsetS: -5000 });
    const c = client(s);
    await c.connect();
    expect(await c.clockOffset(TZ)).toBeCloseTo(-5000, -1);
    await c.setTime(new Date(), TZ);
    expect(Math.abs(await c.clockOffset(TZ))).toBeLessThanOrEqual(1.5);
    expect(Math.abs(s.clockOffsetS())).toBeLessThanOrEqual(1.5);
    expect(s.stats().commands.REFRESHDATA).toBe(1);
  });
});

describe('clock offset in the site zone', () => {
  it('WITA terminal an hour fast: +3600 s read in Asia/Makassar', async () => {
    const s = await sim({ timeZone: 'Asia/Makassar', clockOffsetS: 3600 });
    const c = client(s);
    await c.connect();
    expect(Math.abs((await c.clockOffset('Asia/Makassar')) - 3600)).toBeLessThanOrEqual(1.5);
  });

  it('WIB terminal 90 s slow: -90 s read in Asia/Jakarta; read as WITA it would look an hour slower', async () => {
    const s = await sim({ timeZone: 'Asia/Jakarta', clockOffsetS: -90 });
    const c = client(s);
    await c.connect();
    expect(Math.abs((await c.clockOffset('Asia/Jakarta')) + 90)).toBeLessThanOrEqual(1.5);
    expect(Math.abs((await c.clockOffset('Asia/Makassar')) + 90 + 3600)).toBeLessThanOrEqual(1.5);
    const wall = await c.getTime();
    expect(wall.year).toBeGreaterThanOrEqual(2024);
  });

  it('punch times come with their instant in the zone', async () => {
    const at = Date.UTC(2026, 5, 1, 0, 15, 0); // 08:15 WITA
    const s = await sim({ records: [{ user_id: '1001', time: at, punch: 0 }] });
    const c = client(s);
    await c.connect();
    const [r] = (await c.readAttendance({ timeZone: TZ })).records;
    expect(r?.time).toEqual({ year: 2026, month: 6, day: 1, hour: 8, minute: 15, second: 0, epoch_ms: at });
    const since = await c.readAttendance({ timeZone: TZ, since: at });
    expect(since.records).toHaveLength(0);
    expect(since.total).toBe(1);
  });
});

describe('framing and reply matching', () => {
  it('the same log whether the terminal joins its frames or sends each on its own', async () => {
    const joined = await sim({ records: 2000, frameGapMs: 0 });
    const paced = await sim({ records: 2000, frameGapMs: 3 });
    const a = client(joined);
    const b = client(paced);
    await a.connect();
    await b.connect();
    const ra = await expectSameLog(a, joined);
    const rb = await expectSameLog(b, paced);
    expect(ra.records.map((r) => r.time.epoch_ms)).toHaveLength(rb.records.length);
  });

  it('takes a log sent inline (DATA in answer to PREPARE_BUFFER)', async () => {
    const s = await sim({ records: 30, inlineMax: 10_000 });
    const c = client(s);
    await c.connect();
    const read = await expectSameLog(c, s);
    expect(read.chunks).toBe(0);
    expect(s.stats().read_buffer_chunks).toBe(0);
  });

  it('never takes a late reply for the answer to the next request', async () => {
    // GET_TIME answered after 600 ms (we give up at 400); GET_FREE_SIZES after 300 ms: the late
    // GET_TIME answer arrives while GET_FREE_SIZES waits, and must be dropped by its reply id.
    const s = await sim({ records: 5, replyDelayMs: { [CMD.GET_TIME]: 600, [CMD.GET_FREE_SIZES]: 300 } });
    const c = client(s, { timeoutMs: 400 });
    await c.connect();
    const e = await caught(c.getTime());
    expect(e.reason).toBe('timeout');
    expect(e.message).toMatch(/did not answer GET_TIME \(201\) within 400 ms/);
    const sizes = await c.freeSizes();
    expect(sizes.records).toBe(5);
    expect(c.stats.stray).toBe(1);
  });

  it('refuses to send commands that erase data, and the terminal never sees them', async () => {
    const s = await sim({ records: 5 });
    const c = client(s);
    await c.connect();
    for (const cmd of [CMD.CLEAR_ATTLOG, CMD.CLEAR_DATA, CMD.DELETE_USER, CMD.CLEAR_OPLOG, CMD.CLEAR_ADMIN]) {
      const e = await caught(c.request(cmd));
      expect(e.reason).toBe('refused');
    }
    await c.readAttendance({ timeZone: TZ });
    const cmds = s.stats().commands;
    expect(cmds.CLEAR_ATTLOG ?? 0).toBe(0);
    expect(cmds.CLEAR_DATA ?? 0).toBe(0);
    expect(s.log()).toHaveLength(5);
  });
});

describe('unreachable', () => {
  it('TCP: nothing listening', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const e = await caught(new ZkClient({ host: '127.0.0.1', port, timeoutMs: 1000 }).connect());
    expect(e.reason).toBe('unreachable');
    expect(e.kind).toBe('unreachable');
  });

  it('TCP: connection taken but CONNECT never answered → timeout naming both likely causes', async () => {
    const conns = new Set<import('node:net').Socket>();
    const srv = createServer((sock) => conns.add(sock));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const e = await caught(new ZkClient({ host: '127.0.0.1', port, timeoutMs: 300 }).connect());
      expect(e.reason).toBe('timeout');
      expect(e.message).toMatch(/did not answer CONNECT.*another session open, or the terminal is hung/);
    } finally {
      for (const sock of conns) sock.destroy();
      srv.close();
    }
  });

  it('UDP: nobody answers', async () => {
    const s = await sim({ transport: 'udp' });
    const port = s.port;
    await s.close();
    open.length = 0;
    const e = await caught(
      new ZkClient({ host: '127.0.0.1', port, transport: 'udp', timeoutMs: 300 }).connect(),
    );
    expect(['timeout', 'unreachable']).toContain(e.reason);
  });
});
