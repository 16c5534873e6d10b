// The simulated terminal at the byte level, with raw sockets (no client of ours in between):
// checksums, echoed reply ids, session ids, framing, 1024-byte DATA datagrams on UDP, the comm key,
// one session at a time, the hang.

import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CMD,
  checksumValid,
  commKey,
  decodePacket,
  encodePacket,
  encodeZkTime,
  type Packet,
  prepareBufferRequest,
  readBufferRequest,
  TcpDeframer,
  tcpFrame,
} from '../protocol.js';
import { wallClockAt } from '../zone.js';
import { startZkSimulator, type ZkSimulator, type ZkSimulatorOptions } from './server.js';

const sims: ZkSimulator[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});
async function sim(o: ZkSimulatorOptions) {
  const s = await startZkSimulator(o);
  sims.push(s);
  return s;
}

/** A raw peer: send payloads, collect every answer packet (checked for a valid checksum). */
interface Raw {
  send(payload: Buffer): void;
  /** Waits until `n` packets arrived in total or `ms` passed; returns all so far. */
  until(n: number, ms?: number): Promise<Packet[]>;
  sizes: number[];
}
function collector(): { got: Packet[]; sizes: number[]; take: (p: Buffer) => void; wait: Raw['until'] } {
  const got: Packet[] = [];
  const sizes: number[] = [];
  let wake: (() => void) | undefined;
  return {
    got,
    sizes,
    take(p: Buffer) {
      expect(checksumValid(p), `checksum of ${p.toString('hex').slice(0, 32)}`).toBe(true);
      const pkt = decodePacket(p);
      if (pkt) got.push(pkt);
      sizes.push(p.length);
      wake?.();
    },
    async wait(n: number, ms = 1000) {
      const end = Date.now() + ms;
      while (got.length < n && Date.now() < end) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, Math.max(1, end - Date.now()));
        });
      }
      return got;
    },
  };
}
async function rawTcp(port: number): Promise<Raw> {
  const s: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  closers.push(() => s.destroy());
  const c = collector();
  const d = new TcpDeframer();
  s.on('data', (chunk: Buffer) => {
    for (const p of d.push(chunk)) c.take(p);
  });
  return { send: (p) => s.write(tcpFrame(p)), until: c.wait, sizes: c.sizes };
}
async function rawUdp(port: number): Promise<Raw> {
  const s: DgramSocket = createSocket('udp4');
  await new Promise<void>((r) => s.connect(port, '127.0.0.1', () => r()));
  closers.push(() => s.close());
  const c = collector();
  s.on('message', (m: Buffer) => c.take(m));
  return { send: (p) => s.send(p), until: c.wait, sizes: c.sizes };
}
const rawOf = (transport: 'tcp' | 'udp', port: number) => (transport === 'tcp' ? rawTcp(port) : rawUdp(port));

describe.each(['tcp', 'udp'] as const)('simulator over %s', (transport) => {
  it('answers CONNECT with a session id, echoes reply ids, serves the buffered read', async () => {
    const s = await sim({ transport: 'both', records: 1000, recordSize: 40 });
    const t = await rawOf(transport, s.port);
    t.send(encodePacket(CMD.CONNECT, 0, 0));
    const [ack] = await t.until(1);
    expect(ack?.command).toBe(CMD.ACK_OK);
    expect(ack?.replyId).toBe(0);
    const sid = ack?.sessionId ?? 0;
    expect(sid).toBeGreaterThan(0);

    t.send(encodePacket(CMD.PREPARE_BUFFER, sid, 1, prepareBufferRequest(CMD.ATTLOG_RRQ)));
    const [, prep] = await t.until(2);
    expect(prep).toMatchObject({ command: CMD.ACK_OK, sessionId: sid, replyId: 1 });
    expect(prep?.data).toHaveLength(13);
    expect(prep?.data.readUInt32LE(1)).toBe(4 + 1000 * 40);

    t.send(encodePacket(CMD.READ_BUFFER, sid, 2, readBufferRequest(0, 16 * 1024)));
    const n = 2 + (transport === 'udp' ? 1 + 16 + 1 : 3); // CONNECT, PREPARE_BUFFER, then the chunk
    const all = await t.until(n);
    const chunk = all.slice(2);
    expect(chunk.map((p) => p.replyId)).toEqual(chunk.map(() => 2));
    expect(chunk[0]?.command).toBe(CMD.PREPARE_DATA);
    expect(chunk[0]?.data.readUInt32LE(0)).toBe(16 * 1024);
    expect(chunk.at(-1)?.command).toBe(CMD.ACK_OK);
    const data = chunk.filter((p) => p.command === CMD.DATA);
    if (transport === 'udp') {
      expect(data).toHaveLength(16);
      // 1024 bytes of data per datagram (+ the 8-byte header)
      expect(t.sizes.slice(3, 19)).toEqual(new Array(16).fill(1032));
    } else {
      expect(data).toHaveLength(1);
    }
    expect(Buffer.concat(data.map((p) => p.data))).toHaveLength(16 * 1024);

    t.send(
      encodePacket(
        CMD.READ_BUFFER,
        sid,
        3,
        readBufferRequest(0, transport === 'udp' ? 16 * 1024 + 1 : 0xffc1),
      ),
    );
    expect((await t.until(n + 1)).at(-1)).toMatchObject({ command: CMD.ACK_ERROR, replyId: 3 });
    t.send(encodePacket(4242, sid, 4));
    expect((await t.until(n + 2)).at(-1)).toMatchObject({ command: CMD.ACK_UNKNOWN, replyId: 4 });
    t.send(encodePacket(CMD.FREE_DATA, sid, 5));
    t.send(encodePacket(CMD.READ_BUFFER, sid, 6, readBufferRequest(0, 100)));
    expect((await t.until(n + 4)).at(-1)).toMatchObject({ command: CMD.ACK_ERROR, replyId: 6 });
    t.send(encodePacket(CMD.EXIT, sid, 7));
    expect((await t.until(n + 5)).at(-1)).toMatchObject({ command: CMD.ACK_OK, replyId: 7 });
    expect(s.sessions().active).toBe(0);
  });

  it('refuses a second CONNECT while a session is open (ACK_ERROR, session 0)', async () => {
    const s = await sim({ transport: 'both' });
    const a = await rawOf(transport, s.port);
    const b = await rawOf(transport === 'tcp' ? 'udp' : 'tcp', s.port); // across transports too
    a.send(encodePacket(CMD.CONNECT, 0, 0));
    await a.until(1);
    b.send(encodePacket(CMD.CONNECT, 0, 0));
    const [refused] = await b.until(1);
    expect(refused).toMatchObject({ command: CMD.ACK_ERROR, sessionId: 0, replyId: 0 });
    expect(s.sessions()).toMatchObject({ active: 1, opened: 1, refused: 1 });
  });

  it('comm key: ACK_UNAUTH until AUTH; the right key opens, commands before it are refused', async () => {
    const s = await sim({ transport: 'both', commKey: 12 });
    const t = await rawOf(transport, s.port);
    t.send(encodePacket(CMD.CONNECT, 0, 0));
    const [c] = await t.until(1);
    expect(c?.command).toBe(CMD.ACK_UNAUTH);
    const sid = c?.sessionId ?? 0;
    t.send(encodePacket(CMD.GET_TIME, sid, 1));
    expect((await t.until(2))[1]?.command).toBe(CMD.ACK_UNAUTH);
    t.send(encodePacket(CMD.AUTH, sid, 2, commKey(12, sid)));
    expect((await t.until(3))[2]).toMatchObject({ command: CMD.ACK_OK, replyId: 2 });
    t.send(encodePacket(CMD.GET_TIME, sid, 3));
    expect((await t.until(4))[3]).toMatchObject({ command: CMD.ACK_OK, replyId: 3 });
  });

  it('drops a packet with a bad checksum without answering', async () => {
    const s = await sim({ transport: 'both' });
    const t = await rawOf(transport, s.port);
    const bad = encodePacket(CMD.CONNECT, 0, 0);
    bad[2] = (bad[2] ?? 0) ^ 0xff;
    t.send(bad);
    expect(await t.until(1, 200)).toHaveLength(0);
    expect(s.stats().dropped).toBe(1);
  });

  it('when memory is full, accepts CONNECT and answers nothing more', async () => {
    const s = await sim({ transport: 'both', full: true });
    const t = await rawOf(transport, s.port);
    t.send(encodePacket(CMD.CONNECT, 0, 0));
    const [c] = await t.until(1);
    expect(c?.command).toBe(CMD.ACK_OK);
    t.send(encodePacket(CMD.GET_FREE_SIZES, c?.sessionId ?? 0, 1));
    expect(await t.until(2, 300)).toHaveLength(1);
    s.setFull(false);
    t.send(encodePacket(CMD.CONNECT, 0, 0));
    expect((await t.until(2))[1]?.command).toBe(CMD.ACK_OK);
  });
});

describe('simulator clock and log', () => {
  it('SET_TIME moves the clock; GET_TIME reads it back in the terminal zone', async () => {
    const s = await sim({ timeZone: 'Asia/Jakarta', clockOffsetS: 0 });
    const t = await rawTcp(s.port);
    t.send(encodePacket(CMD.CONNECT, 0, 0));
    const sid = (await t.until(1))[0]?.sessionId ?? 0;
    const target = Date.now() + 7200_000;
    const b = Buffer.alloc(4);
    b.writeUInt32LE(encodeZkTime(wallClockAt(target, 'Asia/Jakarta')), 0);
    t.send(encodePacket(CMD.SET_TIME, sid, 1, b));
    await t.until(2);
    expect(s.clockOffsetS()).toBeGreaterThan(7198);
    expect(s.clockOffsetS()).toBeLessThan(7201);
    t.send(encodePacket(CMD.GET_TIME, sid, 2));
    const got = (await t.until(3))[2]?.data.readUInt32LE(0) ?? 0;
    expect(Math.abs(got - encodeZkTime(wallClockAt(target, 'Asia/Jakarta')))).toBeLessThanOrEqual(2);
  });

  it('addPunch appends at the terminal time; a clearing command would clear (why our client never sends one)', async () => {
    const s = await sim({ records: 3 });
    const p = s.addPunch({ user_id: '1002', punch: 1 });
    expect(s.log()).toHaveLength(4);
    expect(p).toMatchObject({ uid: 2, user_id: '1002', punch: 1 });
    const t = await rawTcp(s.port);
    t.send(encodePacket(CMD.CONNECT, 0, 0));
    const sid = (await t.until(1))[0]?.sessionId ?? 0;
    t.send(encodePacket(CMD.CLEAR_ATTLOG, sid, 1));
    await t.until(2);
    expect(s.log()).toHaveLength(0);
  });
});
