// The protocol as bytes: every test vector of PROTOCOL.md reproduced exactly (hex in, hex out), the
// deframer against split and joined frames, the packed time, the record and free-size layouts.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ZkClient } from './client.js';
import {
  CMD,
  checksum,
  checksumValid,
  commKey,
  DatasetError,
  decodePacket,
  decodeZkTime,
  encodeAttendance,
  encodeFreeSizes,
  encodePacket,
  encodeUsers,
  encodeZkTime,
  FramingError,
  type FreeSizes,
  parseAttendance,
  parseFreeSizes,
  parseOption,
  parseUsers,
  prepareBufferRequest,
  type RawAttendance,
  type RecordSize,
  readBufferRequest,
  TcpDeframer,
  tcpFrame,
} from './protocol.js';
import { epochOfWallClock, wallClockAt, zoneOffsetMs } from './zone.js';

const PROTOCOL_MD = fileURLToPath(new URL('../../test/fixtures/zkteco/PROTOCOL.md', import.meta.url));
const vectors = (): Record<string, string> => {
  const md = readFileSync(PROTOCOL_MD, 'utf8');
  const m = /## Test vectors[^\n]*\n```json\n([\s\S]*?)```/.exec(md);
  if (!m?.[1]) throw new Error(`no test vectors in ${PROTOCOL_MD}`);
  return JSON.parse(m[1]) as Record<string, string>;
};
const hex = (b: Buffer) => b.toString('hex');

describe('PROTOCOL.md test vectors', () => {
  const v = vectors();
  // How each vector is produced by our code; every vector in the file must have a producer.
  const produce: Record<string, () => Buffer> = {
    connect_request: () => encodePacket(CMD.CONNECT, 0, 0),
    connect_ack_session_fb2f: () => encodePacket(CMD.ACK_OK, 0xfb2f, 0),
    exit_request_session_fb2f_reply_1: () => encodePacket(CMD.EXIT, 0xfb2f, 1),
    options_rrq_ZKFaceVersion_session_8df3_reply_3: () =>
      encodePacket(CMD.OPTIONS_RRQ, 0x8df3, 3, 'ZKFaceVersion\0'),
    ack_ok_with_data_session_8df3: () => encodePacket(CMD.ACK_OK, 0x8df3, 0x000a, Buffer.from([0x09])),
    auth_key_12_session_45cf_reply_1: () => encodePacket(CMD.AUTH, 0x45cf, 1, commKey(12, 0x45cf)),
    auth_key_45_session_45cf_reply_1: () => encodePacket(CMD.AUTH, 0x45cf, 1, commKey(45, 0x45cf)),
    'commkey(12, 0x45cf)': () => commKey(12, 0x45cf),
    'commkey(45, 0x45cf)': () => commKey(45, 0x45cf),
  };

  it('covers every vector in the file', () => {
    expect(Object.keys(produce).sort()).toEqual(Object.keys(v).sort());
  });

  for (const [name, want] of Object.entries(vectors())) {
    it(`${name} = ${want}`, () => {
      const make = produce[name];
      expect(make, `no producer for ${name}`).toBeDefined();
      expect(hex((make as () => Buffer)())).toBe(want);
    });
  }

  it('every packet vector decodes with a valid checksum and re-encodes to the same bytes', () => {
    for (const [name, h] of Object.entries(v)) {
      if (name.startsWith('commkey')) continue;
      const buf = Buffer.from(h, 'hex');
      expect(checksumValid(buf), name).toBe(true);
      const p = decodePacket(buf);
      expect(p, name).toBeDefined();
      if (!p) continue;
      expect(hex(encodePacket(p.command, p.sessionId, p.replyId, p.data)), name).toBe(h);
      expect(p.checksum, name).toBe(checksum(buf));
    }
  });

  it('decodes the fields the vectors name', () => {
    const ack = decodePacket(Buffer.from(v.connect_ack_session_fb2f as string, 'hex'));
    expect(ack).toMatchObject({ command: CMD.ACK_OK, sessionId: 0xfb2f, replyId: 0 });
    const opt = decodePacket(Buffer.from(v.options_rrq_ZKFaceVersion_session_8df3_reply_3 as string, 'hex'));
    expect(opt?.data.toString('latin1')).toBe('ZKFaceVersion\0');
    expect(opt).toMatchObject({ command: CMD.OPTIONS_RRQ, sessionId: 0x8df3, replyId: 3 });
  });

  it('our client puts the vectors on the wire: CONNECT, then AUTH with key 12 in session 0x45cf', async () => {
    const seen: string[] = [];
    const server = createServer((s: Socket) => {
      const d = new TcpDeframer();
      s.on('data', (chunk: Buffer) => {
        for (const payload of d.push(chunk)) {
          seen.push(hex(payload));
          const p = decodePacket(payload);
          if (!p) continue;
          const answer =
            p.command === CMD.CONNECT
              ? encodePacket(CMD.ACK_UNAUTH, 0x45cf, p.replyId)
              : encodePacket(CMD.ACK_OK, 0x45cf, p.replyId);
          s.write(tcpFrame(answer));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const c = new ZkClient({ host: '127.0.0.1', port, commKey: 12, timeoutMs: 1000 });
      await c.connect();
      await c.disconnect();
      expect(seen[0]).toBe(v.connect_request);
      expect(seen[1]).toBe(v.auth_key_12_session_45cf_reply_1);
      expect(seen.at(-1)?.slice(0, 4)).toBe('e903'); // EXIT
    } finally {
      server.close();
    }
  });
});

describe('checksum', () => {
  it('pads an odd last byte and folds carries', () => {
    const p = encodePacket(0xffff, 0xffff, 0xffff, Buffer.from([0xff, 0xff, 0xff]));
    expect(checksumValid(p)).toBe(true);
    const bad = Buffer.from(p);
    bad[9] = 0x00;
    expect(checksumValid(bad)).toBe(false);
  });

  it('accepts the checksums of the npm clients (computed modulo 0xFFFF over the previous reply id)', () => {
    const require = createRequire(import.meta.url);
    const zk = require('node-zklib/utils.js') as {
      createUDPHeader: (c: number, s: number, r: number, d: Buffer | string) => Buffer;
    };
    for (const reply of [0, 1, 2, 0xfffe, 0x1234]) {
      for (const data of ['', '~SerialNumber\0', 'x']) {
        expect(checksumValid(zk.createUDPHeader(CMD.OPTIONS_RRQ, 0x8df3, reply, data))).toBe(true);
      }
    }
  });
});

describe('TCP deframer', () => {
  const frames = [
    encodePacket(CMD.ACK_OK, 0x1234, 7),
    encodePacket(CMD.PREPARE_DATA, 0x1234, 8, Buffer.from('0001000000010000', 'hex')),
    encodePacket(CMD.DATA, 0x1234, 8, Buffer.alloc(70_000, 0xab)),
    encodePacket(CMD.ACK_OK, 0x1234, 8, Buffer.from([1])),
  ];
  const stream = Buffer.concat(frames.map(tcpFrame));

  it('gives back joined frames one by one', () => {
    const out = new TcpDeframer().push(stream);
    expect(out.map(hex)).toEqual(frames.map(hex));
  });

  it('gives back frames split at every possible point', () => {
    for (const cut of [1, 3, 4, 7, 8, 9, 15, 16, 17, 30, 100, 65_536, stream.length - 1]) {
      const d = new TcpDeframer();
      const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(out.map(hex), `cut at ${cut}`).toEqual(frames.map(hex));
      expect(d.buffered).toBe(0);
    }
  });

  it('copes with a byte at a time', () => {
    const d = new TcpDeframer();
    const small = Buffer.concat(frames.slice(0, 2).map(tcpFrame));
    const out: Buffer[] = [];
    for (const b of small) out.push(...d.push(Buffer.from([b])));
    expect(out.map(hex)).toEqual(frames.slice(0, 2).map(hex));
  });

  it('holds back an incomplete frame', () => {
    const d = new TcpDeframer();
    expect(d.push(stream.subarray(0, 20))).toHaveLength(1); // the 16-byte first frame
    expect(d.buffered).toBe(4);
  });

  it('refuses a stream without the magic', () => {
    expect(() => new TcpDeframer().push(Buffer.from('0000000008000000e80317fc00000000', 'hex'))).toThrow(
      FramingError,
    );
  });

  it('frames with 50 50 82 7D and the u32le length', () => {
    expect(hex(tcpFrame(Buffer.from('e80317fc00000000', 'hex')))).toBe('5050827d08000000e80317fc00000000');
  });
});

describe('comm key', () => {
  it('is 4 bytes with byte 2 = 50 and changes with key and session', () => {
    const k = commKey(0, 1);
    expect(k).toHaveLength(4);
    expect(k[2]).toBe(50);
    expect(hex(commKey(1, 1))).not.toBe(hex(commKey(2, 1)));
    expect(hex(commKey(1, 0x100))).not.toBe(hex(commKey(1, 0x200)));
    // the low byte of (key + session) lands in byte 2, which is then overwritten with 50
    expect(hex(commKey(1, 1))).toBe(hex(commKey(1, 2)));
    expect(hex(commKey(0xffffffff, 0xffff))).toHaveLength(8); // no overflow into a 5th byte
  });
});

describe('packed time', () => {
  it('follows the formula in PROTOCOL.md', () => {
    const w = { year: 2024, month: 5, day: 17, hour: 8, minute: 30, second: 15 };
    const t = ((24 * 12 * 31 + 4 * 31 + 16) * 86400 + (8 * 60 + 30) * 60 + 15) >>> 0;
    expect(encodeZkTime(w)).toBe(t);
    expect(decodeZkTime(t)).toEqual(w);
  });

  it('agrees with zkteco-js encode/decode', () => {
    const require = createRequire(import.meta.url);
    const tj = require('zkteco-js/src/helper/time.js') as {
      encode: (d: Date) => number;
      decode: (t: number) => Date;
    };
    for (const [y, mo, d, h, mi, s] of [
      [2000, 1, 1, 0, 0, 0],
      [2024, 2, 29, 23, 59, 59],
      [2026, 12, 31, 12, 0, 1],
      [2099, 7, 4, 6, 7, 8],
    ] as const) {
      const w = { year: y, month: mo, day: d, hour: h, minute: mi, second: s };
      expect(encodeZkTime(w)).toBe(tj.encode(new Date(y, mo - 1, d, h, mi, s)));
      const back = tj.decode(encodeZkTime(w));
      expect([back.getFullYear(), back.getMonth() + 1, back.getDate(), back.getHours()]).toEqual([
        y,
        mo,
        d,
        h,
      ]);
    }
  });

  it('reads the wall clock in the site zone: WITA is UTC+8, WIB UTC+7', () => {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    expect(wallClockAt(at, 'Asia/Makassar')).toEqual({
      year: 2026,
      month: 1,
      day: 2,
      hour: 11,
      minute: 4,
      second: 5,
    });
    expect(wallClockAt(at, 'Asia/Jakarta').hour).toBe(10);
    expect(zoneOffsetMs(at, 'Asia/Makassar')).toBe(8 * 3600_000);
    expect(epochOfWallClock(wallClockAt(at, 'Asia/Jakarta'), 'Asia/Jakarta')).toBe(at);
    // a zone with summer time, across its change
    for (const t of [
      Date.UTC(2026, 2, 29, 0, 30),
      Date.UTC(2026, 2, 29, 1, 30),
      Date.UTC(2026, 9, 25, 2, 30),
    ]) {
      expect(epochOfWallClock(wallClockAt(t, 'Europe/Berlin'), 'Europe/Berlin')).toBe(t);
    }
  });
});

describe('records', () => {
  const recs: RawAttendance[] = [
    {
      uid: 7,
      user_id: '12345',
      time: encodeZkTime({ year: 2026, month: 3, day: 4, hour: 7, minute: 29, second: 58 }),
      punch: 0,
      verify: 1,
      status: 1,
      workcode: 0,
    },
    {
      uid: 8,
      user_id: '12346',
      time: encodeZkTime({ year: 2026, month: 3, day: 4, hour: 16, minute: 1, second: 2 }),
      punch: 1,
      verify: 15,
      status: 4,
      workcode: 9,
    },
  ];

  it('40 bytes: u16 uid, char[24] user id, u8 verify, u32 time, u8 punch, 8 reserved', () => {
    const ds = encodeAttendance(recs, 40);
    expect(ds).toHaveLength(4 + 80);
    expect(ds.readUInt32LE(0)).toBe(80);
    const r0 = ds.subarray(4, 44);
    expect(r0.readUInt16LE(0)).toBe(7);
    expect(r0.subarray(2, 7).toString()).toBe('12345');
    expect(r0[26]).toBe(1);
    expect(r0.readUInt32LE(27)).toBe(recs[0]?.time);
    expect(r0[31]).toBe(0);
    expect(hex(r0.subarray(32))).toBe('0000000000000000');
    const { size, records } = parseAttendance(ds, 2);
    expect(size).toBe(40);
    expect(records).toEqual(
      recs.map(({ uid, user_id, time, punch, verify }) => ({ uid, user_id, time, punch, verify })),
    );
  });

  it('16 bytes: u32 user id, u32 time, u8 status, u8 punch, 2 reserved, u32 work code', () => {
    const ds = encodeAttendance(recs, 16);
    const r1 = ds.subarray(20, 36);
    expect(r1.readUInt32LE(0)).toBe(12346);
    expect(r1.readUInt32LE(4)).toBe(recs[1]?.time);
    expect([r1[8], r1[9], r1[10], r1[11]]).toEqual([4, 1, 0, 0]);
    expect(r1.readUInt32LE(12)).toBe(9);
    const { size, records } = parseAttendance(ds, 2);
    expect(size).toBe(16);
    expect(records[1]).toEqual({ user_id: '12346', time: recs[1]?.time, status: 4, punch: 1, workcode: 9 });
  });

  it('8 bytes: u16 uid, u8 status, u32 time, u8 punch', () => {
    const ds = encodeAttendance(recs, 8);
    expect(hex(ds.subarray(4, 12))).toBe(
      hex(
        Buffer.concat([
          Buffer.from([7, 0, 1]),
          Buffer.from(new Uint32Array([recs[0]?.time ?? 0]).buffer),
          Buffer.from([0]),
        ]),
      ),
    );
    const { size, records } = parseAttendance(ds, 2);
    expect(size).toBe(8);
    expect(records[0]).toEqual({ uid: 7, user_id: '7', status: 1, time: recs[0]?.time, punch: 0 });
  });

  it('takes the record size from total / count and refuses anything but 8, 16, 40', () => {
    for (const size of [8, 16, 40] as RecordSize[])
      expect(parseAttendance(encodeAttendance(recs, size), 2).size).toBe(size);
    expect(() => parseAttendance(encodeAttendance(recs, 40), 3)).toThrow(DatasetError);
    expect(() => parseAttendance(Buffer.from('ff000000', 'hex'), 1)).toThrow(DatasetError);
    expect(parseAttendance(Buffer.from('00000000', 'hex'), 0).records).toEqual([]);
  });

  it('users: 72-byte and 28-byte layouts', () => {
    const users = [
      { uid: 1, privilege: 14, password: '123', name: 'Andi', card: 777, group: '1', user_id: '1001' },
    ];
    expect(parseUsers(encodeUsers(users, 72), 1)).toEqual(users);
    const u72 = encodeUsers(users, 72).subarray(4);
    expect(u72.subarray(48, 52).toString()).toBe('1001');
    expect(u72.readUInt32LE(35)).toBe(777);
    expect(parseUsers(encodeUsers(users, 28), 1)).toEqual(users);
  });
});

describe('free sizes', () => {
  it('reads the i32le fields at the offsets PROTOCOL.md gives', () => {
    const s: FreeSizes = {
      users: 1,
      fingerprints: 2,
      records: 3,
      oplog: 4,
      admins: 5,
      passwords: 6,
      fingerprints_capacity: 7,
      users_capacity: 8,
      records_capacity: 9,
      fingerprints_free: 10,
      users_free: 11,
      records_free: 12,
      faces: 13,
      faces_capacity: 14,
    };
    const b = encodeFreeSizes(s);
    expect(b).toHaveLength(92);
    const at = (o: number) => b.readInt32LE(o);
    expect([16, 24, 32, 40, 48, 52, 56, 60, 64, 68, 72, 76, 80, 88].map(at)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    ]);
    expect(parseFreeSizes(b)).toEqual(s);
    const { faces: _f, faces_capacity: _fc, ...short } = s;
    expect(parseFreeSizes(b.subarray(0, 80))).toEqual(short);
    expect(parseFreeSizes(b.subarray(0, 79))).toBeUndefined();
  });
});

describe('requests', () => {
  it('PREPARE_BUFFER for the log is 01 0d00 00000000 00000000', () => {
    expect(hex(prepareBufferRequest(CMD.ATTLOG_RRQ))).toBe('010d000000000000000000');
    expect(hex(prepareBufferRequest(CMD.USERTEMP_RRQ, 5))).toBe('0109000500000000000000');
  });
  it('READ_BUFFER is u32le start, u32le length', () => {
    expect(hex(readBufferRequest(0xffc0, 0x1234))).toBe('c0ff000034120000');
  });
  it('options read back as key and value', () => {
    expect(parseOption(Buffer.from('~SerialNumber=ABC123\0'))).toEqual(['~SerialNumber', 'ABC123']);
    expect(parseOption(Buffer.from('~Platform=ZMM220_TFT'))).toEqual(['~Platform', 'ZMM220_TFT']);
  });
});
