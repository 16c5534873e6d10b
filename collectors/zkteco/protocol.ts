// The ZKTeco pull protocol (port 4370, TCP or UDP) as bytes: command codes, the 8-byte header and
// its checksum, TCP framing and a streaming deframer, the comm-key scramble, the terminal's packed
// wall-clock time, and the record layouts of the buffered reads. Pure functions over Buffers, shared
// by our client and our terminal simulator. See ../../test/fixtures/zkteco/PROTOCOL.md.

/** Command and reply codes (u16le in the header's first field). */
export const CMD = {
  USERTEMP_RRQ: 9,
  OPTIONS_RRQ: 11,
  OPTIONS_WRQ: 12,
  ATTLOG_RRQ: 13,
  CLEAR_DATA: 14,
  CLEAR_ATTLOG: 15,
  DELETE_USER: 18,
  DELETE_USERTEMP: 19,
  CLEAR_ADMIN: 20,
  CLEAR_OPLOG: 33,
  GET_FREE_SIZES: 50,
  GET_TIME: 201,
  SET_TIME: 202,
  REG_EVENT: 500,
  CONNECT: 1000,
  EXIT: 1001,
  ENABLEDEVICE: 1002,
  DISABLEDEVICE: 1003,
  RESTART: 1004,
  POWEROFF: 1005,
  REFRESHDATA: 1013,
  GET_VERSION: 1100,
  AUTH: 1102,
  PREPARE_DATA: 1500,
  DATA: 1501,
  FREE_DATA: 1502,
  PREPARE_BUFFER: 1503,
  READ_BUFFER: 1504,
  ACK_OK: 2000,
  ACK_ERROR: 2001,
  ACK_DATA: 2002,
  ACK_RETRY: 2003,
  ACK_REPEAT: 2004,
  ACK_UNAUTH: 2005,
  ACK_UNKNOWN: 0xffff,
} as const;

/** Function codes of PREPARE_BUFFER's argument. */
export const FCT = { ATTLOG: 1, USER: 5 } as const;

/**
 * Commands that erase data on the terminal. Our client refuses to send them: Pantau never clears a
 * terminal's log or users (DESIGN.md: "never clear their logs").
 */
export const DESTRUCTIVE_COMMANDS: ReadonlySet<number> = new Set([
  CMD.CLEAR_DATA,
  CMD.CLEAR_ATTLOG,
  CMD.DELETE_USER,
  CMD.DELETE_USERTEMP,
  CMD.CLEAR_ADMIN,
  CMD.CLEAR_OPLOG,
  CMD.RESTART,
  CMD.POWEROFF,
]);

const NAMES = new Map<number, string>(Object.entries(CMD).map(([k, v]) => [v, k]));
/** "ACK_OK (2000)", for messages. */
export const commandName = (code: number): string => `${NAMES.get(code) ?? 'command'} (${code})`;

export const HEADER_SIZE = 8;
export const TCP_MAGIC = Buffer.from([0x50, 0x50, 0x82, 0x7d]);
export const TCP_HEADER_SIZE = 8;
/** Largest READ_BUFFER chunk on TCP, and on UDP; DATA datagrams on UDP carry at most UDP_DATA_SIZE. */
export const TCP_MAX_CHUNK = 0xffc0;
export const UDP_MAX_CHUNK = 16 * 1024;
export const UDP_DATA_SIZE = 1024;
export const READ_BUFFER_LIMITS = { tcp: TCP_MAX_CHUNK, udp: UDP_MAX_CHUNK } as const;
/** Reply ids count modulo this (0..0xFFFE). */
export const REPLY_ID_MOD = 0xffff;

/**
 * The header checksum: the whole payload (header with the checksum field taken as 0, then data)
 * summed as u16le words, an odd last byte padded with 0, carries folded back into 16 bits, one's
 * complement. The checksum field of `payload` is ignored.
 */
export function checksum(payload: Uint8Array): number {
  let sum = 0;
  const n = payload.length;
  for (let i = 0; i < n; i += 2) {
    if (i === 2) continue; // the checksum field itself counts as 0
    const lo = payload[i] ?? 0;
    const hi = i + 1 < n ? (payload[i + 1] ?? 0) : 0;
    sum += lo | (hi << 8);
    if (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * True when the checksum field agrees with the payload. Compared modulo 0xFFFF (one's complement
 * arithmetic has two zeros), because the widespread clients compute it that way (see README).
 */
export function checksumValid(payload: Uint8Array): boolean {
  if (payload.length < HEADER_SIZE) return false;
  const field = (payload[2] ?? 0) | ((payload[3] ?? 0) << 8);
  return checksum(payload) % 0xffff === field % 0xffff;
}

export interface Packet {
  command: number;
  checksum: number;
  sessionId: number;
  replyId: number;
  data: Buffer;
}

/** One payload (header + data) with a valid checksum. */
export function encodePacket(
  command: number,
  sessionId: number,
  replyId: number,
  data: Uint8Array | string = Buffer.alloc(0),
): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const buf = Buffer.alloc(HEADER_SIZE + body.length);
  buf.writeUInt16LE(command & 0xffff, 0);
  buf.writeUInt16LE(sessionId & 0xffff, 4);
  buf.writeUInt16LE(replyId & 0xffff, 6);
  buf.set(body, HEADER_SIZE);
  buf.writeUInt16LE(checksum(buf), 2);
  return buf;
}

/** Header and data of one payload; undefined when shorter than a header. */
export function decodePacket(payload: Buffer): Packet | undefined {
  if (payload.length < HEADER_SIZE) return undefined;
  return {
    command: payload.readUInt16LE(0),
    checksum: payload.readUInt16LE(2),
    sessionId: payload.readUInt16LE(4),
    replyId: payload.readUInt16LE(6),
    data: payload.subarray(HEADER_SIZE),
  };
}

/** TCP frame: `50 50 82 7D` + u32le payload length + payload. */
export function tcpFrame(payload: Uint8Array): Buffer {
  const head = Buffer.alloc(TCP_HEADER_SIZE);
  TCP_MAGIC.copy(head, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

export class FramingError extends Error {
  override name = 'FramingError';
}

/**
 * Cuts a TCP byte stream into payloads by the length in each frame header, whatever the segments:
 * a frame split over many `data` events, or many frames joined in one, come out the same.
 * Throws FramingError on a frame that does not start with the magic or is absurdly long.
 */
export class TcpDeframer {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxPayload = 16 * 1024 * 1024) {}

  /** Bytes held back waiting for the rest of a frame. */
  get buffered(): number {
    return this.size;
  }

  push(chunk: Buffer): Buffer[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const out: Buffer[] = [];
    for (;;) {
      if (this.size < TCP_HEADER_SIZE) break;
      const head = this.peek(TCP_HEADER_SIZE);
      if (head.compare(TCP_MAGIC, 0, 4, 0, 4) !== 0)
        throw new FramingError(`TCP frame without the 50 50 82 7D magic: ${head.toString('hex')}`);
      const len = head.readUInt32LE(4);
      if (len > this.maxPayload)
        throw new FramingError(`TCP frame announces ${len} bytes, more than allowed`);
      if (this.size < TCP_HEADER_SIZE + len) break;
      const frame = this.take(TCP_HEADER_SIZE + len);
      out.push(frame.subarray(TCP_HEADER_SIZE));
    }
    return out;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks, this.size).subarray(0, n);
  }

  private take(n: number): Buffer {
    let first = this.chunks[0] as Buffer;
    if (first.length < n) {
      first = Buffer.concat(this.chunks, this.size);
      this.chunks = [first];
    }
    const out = first.subarray(0, n);
    const rest = first.subarray(n);
    if (rest.length > 0) this.chunks[0] = rest;
    else this.chunks.shift();
    this.size -= n;
    return out;
  }
}

/**
 * The 4 bytes sent with CMD_AUTH: reverse the 32 bits of the key, add the session id, XOR the
 * little-endian bytes with 'Z','K','S','O', swap the two u16 halves, XOR bytes 0, 1 and 3 with
 * `ticks` (50) and set byte 2 to it.
 */
export function commKey(key: number, sessionId: number, ticks = 50): Buffer {
  let k = 0;
  const kk = key >>> 0;
  for (let i = 0; i < 32; i++) k = ((k << 1) | ((kk >>> i) & 1)) >>> 0;
  k = (k + (sessionId >>> 0)) >>> 0;
  const b = Buffer.alloc(4);
  b.writeUInt32LE(k, 0);
  const x = [
    (b[0] ?? 0) ^ 0x5a, // 'Z'
    (b[1] ?? 0) ^ 0x4b, // 'K'
    (b[2] ?? 0) ^ 0x53, // 'S'
    (b[3] ?? 0) ^ 0x4f, // 'O'
  ] as [number, number, number, number];
  // swap the u16 halves: [x2 x3 x0 x1]
  const t = ticks & 0xff;
  return Buffer.from([x[2] ^ t, x[3] ^ t, t, x[1] ^ t]);
}

/** A terminal's wall clock: no zone, as its display shows it. month and day count from 1. */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/**
 * The terminal's packed time:
 * `((Y % 100) * 12 * 31 + (M - 1) * 31 + (D - 1)) * 86400 + (h * 60 + m) * 60 + s`.
 */
export function encodeZkTime(w: WallClock): number {
  return (
    ((w.year % 100) * 12 * 31 + (w.month - 1) * 31 + (w.day - 1)) * 86400 +
    (w.hour * 60 + w.minute) * 60 +
    w.second
  );
}

/** Inverse of encodeZkTime; years come out as 2000–2099. */
export function decodeZkTime(t: number): WallClock {
  let v = Math.floor(t);
  const second = v % 60;
  v = Math.floor(v / 60);
  const minute = v % 60;
  v = Math.floor(v / 60);
  const hour = v % 24;
  v = Math.floor(v / 24);
  const day = (v % 31) + 1;
  v = Math.floor(v / 31);
  const month = (v % 12) + 1;
  v = Math.floor(v / 12);
  return { year: v + 2000, month, day, hour, minute, second };
}

/** PREPARE_BUFFER's 11 bytes: u8 1, u16le command, u32le function, u32le extra. */
export function prepareBufferRequest(command: number, fct = 0, ext = 0): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt8(1, 0);
  b.writeUInt16LE(command, 1);
  b.writeUInt32LE(fct >>> 0, 3);
  b.writeUInt32LE(ext >>> 0, 7);
  return b;
}

/** READ_BUFFER's 8 bytes: u32le start, u32le length. */
export function readBufferRequest(start: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(start >>> 0, 0);
  b.writeUInt32LE(length >>> 0, 4);
  return b;
}

/** What the terminal says about its memory (GET_FREE_SIZES). */
export interface FreeSizes {
  users: number;
  fingerprints: number;
  records: number;
  oplog: number;
  admins: number;
  passwords: number;
  fingerprints_capacity: number;
  users_capacity: number;
  records_capacity: number;
  fingerprints_free: number;
  users_free: number;
  records_free: number;
  faces?: number;
  faces_capacity?: number;
}

const FREE_SIZE_OFFSETS: [keyof FreeSizes, number][] = [
  ['users', 16],
  ['fingerprints', 24],
  ['records', 32],
  ['oplog', 40],
  ['admins', 48],
  ['passwords', 52],
  ['fingerprints_capacity', 56],
  ['users_capacity', 60],
  ['records_capacity', 64],
  ['fingerprints_free', 68],
  ['users_free', 72],
  ['records_free', 76],
];

/** GET_FREE_SIZES reply data (80 bytes, or 92 with faces); undefined when too short. */
export function parseFreeSizes(data: Buffer): FreeSizes | undefined {
  if (data.length < 80) return undefined;
  const out = {} as FreeSizes;
  for (const [k, off] of FREE_SIZE_OFFSETS) out[k] = data.readInt32LE(off);
  if (data.length >= 92) {
    out.faces = data.readInt32LE(80);
    out.faces_capacity = data.readInt32LE(88);
  }
  return out;
}

/** The 92-byte GET_FREE_SIZES data (fields not named stay 0). */
export function encodeFreeSizes(s: FreeSizes): Buffer {
  const b = Buffer.alloc(92);
  for (const [k, off] of FREE_SIZE_OFFSETS) b.writeInt32LE((s[k] as number) | 0, off);
  b.writeInt32LE((s.faces ?? 0) | 0, 80);
  b.writeInt32LE((s.faces_capacity ?? 0) | 0, 88);
  return b;
}

export type RecordSize = 8 | 16 | 40;

/** One attendance record as stored on the terminal (time still packed). */
export interface RawAttendance {
  /** Internal user number (40- and 8-byte records). */
  uid?: number;
  /** Enrolment number as the terminal shows it ("user id"); for 8-byte records the uid as text. */
  user_id: string;
  /** Packed wall-clock time (see encodeZkTime). */
  time: number;
  /** 0 check-in, 1 check-out, 2 break-out, 3 break-in, 4 overtime-in, 5 overtime-out. */
  punch: number;
  /** Verify type (40-byte records): 0 password, 1 fingerprint, 2 card, 15 face, … */
  verify?: number;
  /** Status byte (16- and 8-byte records). */
  status?: number;
  /** Work code (16-byte records). */
  workcode?: number;
}

const cstr = (b: Buffer): string => {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('latin1');
};

/** One record of the given size at `off`. */
export function parseRecord(buf: Buffer, off: number, size: RecordSize): RawAttendance {
  if (size === 40) {
    return {
      uid: buf.readUInt16LE(off),
      user_id: cstr(buf.subarray(off + 2, off + 26)),
      verify: buf.readUInt8(off + 26),
      time: buf.readUInt32LE(off + 27),
      punch: buf.readUInt8(off + 31),
    };
  }
  if (size === 16) {
    return {
      user_id: String(buf.readUInt32LE(off)),
      time: buf.readUInt32LE(off + 4),
      status: buf.readUInt8(off + 8),
      punch: buf.readUInt8(off + 9),
      workcode: buf.readUInt32LE(off + 12),
    };
  }
  const uid = buf.readUInt16LE(off);
  return {
    uid,
    user_id: String(uid),
    status: buf.readUInt8(off + 2),
    time: buf.readUInt32LE(off + 3),
    punch: buf.readUInt8(off + 7),
  };
}

/** Writes one record of the given size at `off` (used by the simulator and tests). */
export function writeRecord(buf: Buffer, off: number, size: RecordSize, r: RawAttendance): void {
  buf.fill(0, off, off + size);
  if (size === 40) {
    buf.writeUInt16LE((r.uid ?? 0) & 0xffff, off);
    buf.write(r.user_id, off + 2, 24, 'latin1');
    buf.writeUInt8((r.verify ?? 0) & 0xff, off + 26);
    buf.writeUInt32LE(r.time >>> 0, off + 27);
    buf.writeUInt8(r.punch & 0xff, off + 31);
  } else if (size === 16) {
    buf.writeUInt32LE(Number(r.user_id) >>> 0, off);
    buf.writeUInt32LE(r.time >>> 0, off + 4);
    buf.writeUInt8((r.status ?? 0) & 0xff, off + 8);
    buf.writeUInt8(r.punch & 0xff, off + 9);
    buf.writeUInt32LE((r.workcode ?? 0) >>> 0, off + 12);
  } else {
    buf.writeUInt16LE((r.uid ?? Number(r.user_id)) & 0xffff, off);
    buf.writeUInt8((r.status ?? 0) & 0xff, off + 2);
    buf.writeUInt32LE(r.time >>> 0, off + 3);
    buf.writeUInt8(r.punch & 0xff, off + 7);
  }
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

/**
 * An attendance dataset (u32le total length + records) → records. The record size is total / count,
 * `count` being the record count from GET_FREE_SIZES; it must come out as 8, 16 or 40.
 */
export function parseAttendance(
  dataset: Buffer,
  count: number,
): { size: RecordSize | 0; records: RawAttendance[] } {
  if (dataset.length < 4) throw new DatasetError(`attendance dataset of ${dataset.length} bytes, no length`);
  const total = dataset.readUInt32LE(0);
  if (total > dataset.length - 4)
    throw new DatasetError(`attendance dataset announces ${total} bytes but carries ${dataset.length - 4}`);
  if (count <= 0 || total === 0) return { size: 0, records: [] };
  const size = total / count;
  if (size !== 8 && size !== 16 && size !== 40)
    throw new DatasetError(
      `attendance dataset of ${total} bytes for ${count} records: ${size} bytes per record is none of 8, 16, 40`,
    );
  const records: RawAttendance[] = new Array(count);
  for (let i = 0; i < count; i++) records[i] = parseRecord(dataset, 4 + i * size, size);
  return { size, records };
}

/** u32le total + records, as the terminal prepares it. */
export function encodeAttendance(records: readonly RawAttendance[], size: RecordSize): Buffer {
  const buf = Buffer.alloc(4 + records.length * size);
  buf.writeUInt32LE(records.length * size, 0);
  for (let i = 0; i < records.length; i++) writeRecord(buf, 4 + i * size, size, records[i] as RawAttendance);
  return buf;
}

/** A user as the terminal stores it (72-byte layout on newer firmware, 28-byte on older). */
export interface RawUser {
  uid: number;
  privilege: number;
  password: string;
  name: string;
  card: number;
  group: string;
  user_id: string;
}

export type UserSize = 28 | 72;

export function encodeUsers(users: readonly RawUser[], size: UserSize): Buffer {
  const buf = Buffer.alloc(4 + users.length * size);
  buf.writeUInt32LE(users.length * size, 0);
  users.forEach((u, i) => {
    const off = 4 + i * size;
    buf.writeUInt16LE(u.uid & 0xffff, off);
    buf.writeUInt8(u.privilege & 0xff, off + 2);
    if (size === 72) {
      buf.write(u.password, off + 3, 8, 'latin1');
      buf.write(u.name, off + 11, 24, 'latin1');
      buf.writeUInt32LE(u.card >>> 0, off + 35);
      buf.write(u.group, off + 40, 7, 'latin1');
      buf.write(u.user_id, off + 48, 24, 'latin1');
    } else {
      buf.write(u.password, off + 3, 5, 'latin1');
      buf.write(u.name, off + 8, 8, 'latin1');
      buf.writeUInt32LE(u.card >>> 0, off + 16);
      buf.writeUInt8(Number(u.group) & 0xff, off + 21);
      buf.writeUInt32LE(Number(u.user_id) >>> 0, off + 24);
    }
  });
  return buf;
}

/** A users dataset → users; the user size is total / count (72 or 28). */
export function parseUsers(dataset: Buffer, count: number): RawUser[] {
  if (dataset.length < 4) throw new DatasetError(`users dataset of ${dataset.length} bytes, no length`);
  const total = dataset.readUInt32LE(0);
  if (count <= 0 || total === 0) return [];
  const size = total / count;
  if (size !== 72 && size !== 28)
    throw new DatasetError(`users dataset of ${total} bytes for ${count} users: ${size} bytes per user`);
  const out: RawUser[] = [];
  for (let i = 0; i < count; i++) {
    const off = 4 + i * size;
    if (size === 72) {
      out.push({
        uid: dataset.readUInt16LE(off),
        privilege: dataset.readUInt8(off + 2),
        password: cstr(dataset.subarray(off + 3, off + 11)),
        name: cstr(dataset.subarray(off + 11, off + 35)),
        card: dataset.readUInt32LE(off + 35),
        group: cstr(dataset.subarray(off + 40, off + 47)),
        user_id: cstr(dataset.subarray(off + 48, off + 72)),
      });
    } else {
      out.push({
        uid: dataset.readUInt16LE(off),
        privilege: dataset.readUInt8(off + 2),
        password: cstr(dataset.subarray(off + 3, off + 8)),
        name: cstr(dataset.subarray(off + 8, off + 16)),
        card: dataset.readUInt32LE(off + 16),
        group: String(dataset.readUInt8(off + 21)),
        user_id: String(dataset.readUInt32LE(off + 24)),
      });
    }
  }
  return out;
}

/** `~SerialNumber=ABC\0` → ['~SerialNumber', 'ABC']. */
export function parseOption(data: Buffer): [string, string] {
  const s = cstr(data);
  const eq = s.indexOf('=');
  return eq < 0 ? [s, ''] : [s.slice(0, eq), s.slice(eq + 1)];
}
