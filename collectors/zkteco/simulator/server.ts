// A ZKTeco attendance terminal that speaks the pull protocol byte for byte (PROTOCOL.md), over TCP,
// UDP or both on one port: valid checksums, the request's reply id echoed in every answer, a session
// id per session, TCP framing, 1024-byte DATA datagrams on UDP, the comm key (ACK_UNAUTH until
// AUTH), one session at a time, a settable clock, the buffered read (PREPARE_BUFFER, READ_BUFFER,
// FREE_DATA) of 8-, 16- or 40-byte attendance records and of users, and the hang of a terminal whose
// memory is full (it still accepts CONNECT, then answers nothing).
//
// Choices where PROTOCOL.md is silent, taken from how the public clients read real terminals:
// - A second session while one is open: CONNECT is answered ACK_ERROR (session 0). Some firmware
//   instead stays silent; our client reports both as "not now" (busy / hung), never as a fault.
// - A wrong comm key: AUTH is answered ACK_UNAUTH and the session is dropped.
// - Any command before AUTH (with a key set) or outside a session: ACK_UNAUTH.
// - A packet with a bad checksum is dropped without an answer.
// - PREPARE_BUFFER's ACK_OK carries u8 0, u32 size, u32 size, u32 0 (13 bytes); PREPARE_DATA carries
//   u32 size, u32 packet size (8 bytes) — the layouts the Wireshark dissector and both npm clients read.
// - A UDP session idle for `udpIdleMs` is forgotten (a UDP client that vanished cannot say EXIT).
// - While hung (`full`), every CONNECT is answered (a fresh session id, no one-session check) and
//   nothing else; setFull(false) is a restart: sessions and prepared buffers are forgotten.

import { createSocket, type Socket as DgramSocket, type RemoteInfo } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import {
  CMD,
  checksumValid,
  commKey,
  decodePacket,
  decodeZkTime,
  encodeAttendance,
  encodeFreeSizes,
  encodePacket,
  encodeUsers,
  encodeZkTime,
  FCT,
  type Packet,
  parseRecord,
  type RawAttendance,
  type RawUser,
  READ_BUFFER_LIMITS,
  type RecordSize,
  TcpDeframer,
  tcpFrame,
  UDP_DATA_SIZE,
  type WallClock,
  writeRecord,
} from '../protocol.js';
import { epochOfWallClock, wallClockAt } from '../zone.js';

export type SimTransport = 'tcp' | 'udp' | 'both';

/** A punch to put in the simulated log. */
export interface SimPunch {
  uid?: number;
  user_id?: string;
  /** ms since epoch, a Date, or the terminal's wall clock; default: the terminal's "now". */
  time?: number | Date | WallClock;
  punch?: number;
  verify?: number;
  status?: number;
  workcode?: number;
}

export interface ZkSimulatorOptions {
  host?: string;
  /** 0 = a free port (the same number for TCP and UDP with 'both'). */
  port?: number;
  transport?: SimTransport;
  commKey?: number;
  serial?: string;
  name?: string;
  platform?: string;
  firmware?: string;
  fpVersion?: string;
  /** Terminal clock minus true time, seconds. */
  clockOffsetS?: number;
  /** The zone whose wall clock the terminal keeps. */
  timeZone?: string;
  recordSize?: RecordSize;
  /** A number of generated punches (one a minute up to now, enrolled users in turn), or the punches. */
  records?: number | SimPunch[];
  /** Enrolled users (uid 1..N, user id 1000+uid). Default 50. */
  users?: number;
  capacity?: { users?: number; fingerprints?: number; records?: number };
  /** Memory full: the terminal hangs (accepts CONNECT, then answers nothing). */
  full?: boolean;
  /** One session at a time (real terminals). Default true. */
  oneSession?: boolean;
  /**
   * Pause between the packets of one multi-packet answer (PREPARE_DATA, DATA, ACK_OK), in ms. Real
   * terminals are slow and send each packet as its own segment; 0 writes all packets of an answer
   * in one go, so TCP joins them (our client copes either way; the npm clients do not). Default 0.
   */
  frameGapMs?: number;
  /** PREPARE_BUFFER answers DATA with the whole dataset inline when it is at most this long. Default 0. */
  inlineMax?: number;
  /** Answer these commands only after a delay (ms), e.g. { 201: 500 } to make GET_TIME late. */
  replyDelayMs?: Partial<Record<number, number>>;
  /** Forget a silent UDP session after this long. Default 60 s. */
  udpIdleMs?: number;
}

export interface SimSessions {
  /** 1 while a session is open. */
  active: number;
  /** Sessions opened since start. */
  opened: number;
  /** CONNECTs refused because another session was open. */
  refused: number;
  /** Sessions refused at AUTH (wrong comm key). */
  auth_failed: number;
}

export interface SimStats {
  /** Requests received, by command name. */
  commands: Record<string, number>;
  read_buffer_chunks: number;
  /** Packets dropped for a bad checksum or no header. */
  dropped: number;
}

export interface ZkSimulator {
  host: string;
  port: number;
  transport: SimTransport;
  close(): Promise<void>;
  /** Appends a punch at the terminal's current time (or the given one); returns it as stored. */
  addPunch(p?: SimPunch): RawAttendance;
  setFull(full: boolean): void;
  sessions(): SimSessions;
  clockOffsetS(): number;
  stats(): SimStats;
  /** The log as a client can read it back. */
  log(): readonly RawAttendance[];
  users(): readonly RawUser[];
}

type Origin = { kind: 'tcp'; socket: Socket } | { kind: 'udp'; address: string; port: number };
interface Session {
  id: number;
  origin: Origin;
  authed: boolean;
  buffer?: Buffer;
  lastSeen: number;
}

const NAME = new Map<number, string>(Object.entries(CMD).map(([k, v]) => [v, k]));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const sameOrigin = (a: Origin, b: Origin) =>
  a.kind === 'tcp'
    ? b.kind === 'tcp' && a.socket === b.socket
    : b.kind === 'udp' && a.address === b.address && a.port === b.port;

/**
 * Starts a simulated terminal. With transport 'both' and port 0, TCP and UDP share one free port
 * (retried when the UDP side of the number happens to be taken).
 */
export async function startZkSimulator(opts: ZkSimulatorOptions = {}): Promise<ZkSimulator> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      const retry =
        opts.transport === 'both' && !opts.port && (e as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (!retry || attempt >= 4) throw e;
    }
  }
}

async function startOnce(opts: ZkSimulatorOptions): Promise<ZkSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const transport = opts.transport ?? 'tcp';
  const timeZone = opts.timeZone ?? 'Asia/Makassar';
  const recordSize: RecordSize = opts.recordSize ?? 40;
  const oneSession = opts.oneSession ?? true;
  const frameGapMs = opts.frameGapMs ?? 0;
  const inlineMax = opts.inlineMax ?? 0;
  const udpIdleMs = opts.udpIdleMs ?? 60_000;
  const key = opts.commKey && opts.commKey !== 0 ? opts.commKey >>> 0 : undefined;
  const capacity = {
    users: opts.capacity?.users ?? 3000,
    fingerprints: opts.capacity?.fingerprints ?? 3000,
    records: opts.capacity?.records ?? 100_000,
  };
  let offsetMs = (opts.clockOffsetS ?? 0) * 1000;
  let full = opts.full ?? false;
  const firmware = opts.firmware ?? 'Ver 6.60 Apr 28 2017';
  const options = new Map<string, string>([
    ['~SerialNumber', opts.serial ?? 'CKPR200160001'],
    ['~DeviceName', opts.name ?? 'X100-C'],
    ['~Platform', opts.platform ?? 'ZMM220_TFT'],
    ['~ZKFPVersion', opts.fpVersion ?? '10'],
    ['~ZKFaceVersion', '0'],
    ['~OS', '1'],
    ['~OEMVendor', 'ZKTeco Inc.'],
    ['~ProductTime', '2019-03-11 10:22:31'],
    ['MAC', '00:17:61:12:34:56'],
    ['~PIN2Width', '9'],
    ['WorkCode', '0'],
    ['FaceFunOn', '0'],
    ['~SSR', '1'],
    ['~ExtendFmt', '0'],
  ]);

  const deviceNow = () => Date.now() + offsetMs;
  const packTime = (t: number | Date | WallClock | undefined): number => {
    if (t === undefined) return encodeZkTime(wallClockAt(deviceNow(), timeZone));
    if (typeof t === 'number') return encodeZkTime(wallClockAt(t, timeZone));
    if (t instanceof Date) return encodeZkTime(wallClockAt(t.getTime(), timeZone));
    return encodeZkTime(t);
  };

  // Users and the log, stored as a client reads them back (the record size decides what survives).
  const userCount = Math.max(1, opts.users ?? 50);
  const users: RawUser[] = [];
  for (let uid = 1; uid <= userCount; uid++)
    users.push({
      uid,
      privilege: uid === 1 ? 14 : 0,
      password: '',
      name: `Pegawai ${uid}`,
      card: 0,
      group: '1',
      user_id: String(1000 + uid),
    });
  const scratch = Buffer.alloc(40);
  const store = (p: SimPunch, time: number): RawAttendance => {
    const user =
      users.find((u) => (p.uid !== undefined ? u.uid === p.uid : u.user_id === p.user_id)) ?? users[0];
    const raw: RawAttendance = {
      uid: p.uid ?? user?.uid ?? 1,
      user_id: p.user_id ?? user?.user_id ?? '1',
      time,
      punch: p.punch ?? 0,
      verify: p.verify ?? 1,
      status: p.status ?? 1,
      workcode: p.workcode ?? 0,
    };
    writeRecord(scratch, 0, recordSize, raw);
    return parseRecord(scratch, 0, recordSize);
  };
  let log: RawAttendance[] = [];
  if (typeof opts.records === 'number') {
    const n = opts.records;
    const now = deviceNow() - 60_000;
    log = new Array(n);
    for (let i = 0; i < n; i++) {
      const u = users[i % users.length] as RawUser;
      log[i] = store(
        { uid: u.uid, user_id: u.user_id, punch: Math.floor(i / users.length) % 2 },
        encodeZkTime(wallClockAt(now - (n - 1 - i) * 60_000, timeZone)),
      );
    }
  } else if (opts.records) {
    log = opts.records.map((p) => store(p, packTime(p.time)));
  }

  let session: Session | undefined;
  const sessionsCount = { opened: 0, refused: 0, auth_failed: 0 };
  const stats: SimStats = { commands: {}, read_buffer_chunks: 0, dropped: 0 };
  const newSessionId = () => 1 + Math.floor(Math.random() * 0xfffe);

  // ---- sending ----
  let udpSocket: DgramSocket | undefined;
  const write = async (origin: Origin, payloads: Buffer[]): Promise<void> => {
    if (origin.kind === 'tcp' && frameGapMs <= 0) {
      // one write: the packets of one answer travel joined in as few segments as TCP likes
      if (!origin.socket.destroyed) origin.socket.write(Buffer.concat(payloads.map(tcpFrame)));
      return;
    }
    for (let i = 0; i < payloads.length; i++) {
      const p = payloads[i] as Buffer;
      if (origin.kind === 'tcp') {
        if (origin.socket.destroyed) return;
        await new Promise<void>((r) => origin.socket.write(tcpFrame(p), () => r()));
      } else {
        await new Promise<void>((r) => udpSocket?.send(p, origin.port, origin.address, () => r()));
      }
      if (frameGapMs > 0 && i < payloads.length - 1) await sleep(frameGapMs);
    }
  };

  // ---- the terminal ----
  const answer = (req: Packet, sessionId: number) => (command: number, data?: Buffer | string) =>
    encodePacket(command, sessionId, req.replyId, data ?? Buffer.alloc(0));

  const freeSizes = () =>
    encodeFreeSizes({
      users: users.length,
      fingerprints: users.length,
      records: log.length,
      oplog: 2 * log.length + 17,
      admins: 1,
      passwords: 0,
      fingerprints_capacity: capacity.fingerprints,
      users_capacity: capacity.users,
      records_capacity: capacity.records,
      fingerprints_free: Math.max(0, capacity.fingerprints - users.length),
      users_free: Math.max(0, capacity.users - users.length),
      records_free: Math.max(0, capacity.records - log.length),
      faces: 0,
      faces_capacity: 0,
    });

  /** The answer packets to one request (empty: stay silent). */
  const handle = (req: Packet, origin: Origin): Buffer[] => {
    const name = NAME.get(req.command) ?? String(req.command);
    stats.commands[name] = (stats.commands[name] ?? 0) + 1;

    if (req.command === CMD.CONNECT) {
      if (full) {
        sessionsCount.opened++;
        return [encodePacket(key ? CMD.ACK_UNAUTH : CMD.ACK_OK, newSessionId(), req.replyId)];
      }
      if (session && !sameOrigin(session.origin, origin)) {
        const idle = session.origin.kind === 'udp' && Date.now() - session.lastSeen > udpIdleMs;
        if (oneSession && !idle) {
          sessionsCount.refused++;
          return [encodePacket(CMD.ACK_ERROR, 0, req.replyId)];
        }
      }
      session = { id: newSessionId(), origin, authed: key === undefined, lastSeen: Date.now() };
      sessionsCount.opened++;
      return [encodePacket(key ? CMD.ACK_UNAUTH : CMD.ACK_OK, session.id, req.replyId)];
    }
    if (full) return []; // hung: memory full

    const s = session;
    if (!s || !sameOrigin(s.origin, origin) || s.id !== req.sessionId)
      return [encodePacket(CMD.ACK_UNAUTH, req.sessionId, req.replyId)];
    s.lastSeen = Date.now();
    const reply = answer(req, s.id);

    if (req.command === CMD.AUTH) {
      if (key === undefined) {
        s.authed = true;
        return [reply(CMD.ACK_OK)];
      }
      const ticks = req.data[2] ?? 50;
      if (req.data.length >= 4 && commKey(key, s.id, ticks).equals(req.data.subarray(0, 4))) {
        s.authed = true;
        return [reply(CMD.ACK_OK)];
      }
      sessionsCount.auth_failed++;
      session = undefined;
      return [reply(CMD.ACK_UNAUTH)];
    }
    if (req.command === CMD.EXIT) {
      session = undefined;
      return [reply(CMD.ACK_OK)];
    }
    if (!s.authed) return [reply(CMD.ACK_UNAUTH)];

    switch (req.command) {
      case CMD.OPTIONS_RRQ: {
        const z = req.data.indexOf(0);
        const k = req.data.subarray(0, z < 0 ? req.data.length : z).toString('latin1');
        const v = options.get(k);
        return [v === undefined ? reply(CMD.ACK_ERROR) : reply(CMD.ACK_OK, `${k}=${v}\0`)];
      }
      case CMD.OPTIONS_WRQ: {
        const z = req.data.indexOf(0);
        const kv = req.data.subarray(0, z < 0 ? req.data.length : z).toString('latin1');
        const eq = kv.indexOf('=');
        if (eq <= 0) return [reply(CMD.ACK_ERROR)];
        options.set(kv.slice(0, eq), kv.slice(eq + 1));
        return [reply(CMD.ACK_OK)];
      }
      case CMD.GET_VERSION:
        return [reply(CMD.ACK_OK, `${firmware}\0`)];
      case CMD.GET_FREE_SIZES:
        return [reply(CMD.ACK_OK, freeSizes())];
      case CMD.GET_TIME: {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(encodeZkTime(wallClockAt(deviceNow(), timeZone)), 0);
        return [reply(CMD.ACK_OK, b)];
      }
      case CMD.SET_TIME: {
        if (req.data.length < 4) return [reply(CMD.ACK_ERROR)];
        const set = epochOfWallClock(decodeZkTime(req.data.readUInt32LE(0)), timeZone);
        offsetMs = set - Date.now();
        return [reply(CMD.ACK_OK)];
      }
      case CMD.REFRESHDATA:
      case CMD.ENABLEDEVICE:
      case CMD.DISABLEDEVICE:
      case CMD.REG_EVENT:
        return [reply(CMD.ACK_OK)];
      case CMD.FREE_DATA:
        s.buffer = undefined;
        return [reply(CMD.ACK_OK)];
      case CMD.PREPARE_BUFFER: {
        if (req.data.length < 11 || req.data[0] !== 1) return [reply(CMD.ACK_ERROR)];
        const command = req.data.readUInt16LE(1);
        const fct = req.data.readUInt32LE(3);
        if (command === CMD.ATTLOG_RRQ) s.buffer = encodeAttendance(log, recordSize);
        else if (command === CMD.USERTEMP_RRQ && fct === FCT.USER)
          s.buffer = encodeUsers(users, recordSize === 40 ? 72 : 28);
        else return [reply(CMD.ACK_ERROR)];
        if (s.buffer.length <= inlineMax) return [reply(CMD.DATA, s.buffer)];
        const b = Buffer.alloc(13);
        b.writeUInt32LE(s.buffer.length, 1);
        b.writeUInt32LE(s.buffer.length, 5);
        return [reply(CMD.ACK_OK, b)];
      }
      case CMD.READ_BUFFER: {
        if (!s.buffer || req.data.length < 8) return [reply(CMD.ACK_ERROR)];
        const start = req.data.readUInt32LE(0);
        const len = req.data.readUInt32LE(4);
        const limit = READ_BUFFER_LIMITS[origin.kind];
        if (len === 0 || len > limit || start >= s.buffer.length) return [reply(CMD.ACK_ERROR)];
        const chunk = s.buffer.subarray(start, start + len);
        stats.read_buffer_chunks++;
        const prep = Buffer.alloc(8);
        prep.writeUInt32LE(chunk.length, 0);
        prep.writeUInt32LE(origin.kind === 'udp' ? UDP_DATA_SIZE : chunk.length, 4);
        const out = [reply(CMD.PREPARE_DATA, prep)];
        if (origin.kind === 'udp') {
          for (let off = 0; off < chunk.length; off += UDP_DATA_SIZE)
            out.push(reply(CMD.DATA, chunk.subarray(off, off + UDP_DATA_SIZE)));
        } else {
          out.push(reply(CMD.DATA, chunk));
        }
        out.push(reply(CMD.ACK_OK));
        return out;
      }
      case CMD.CLEAR_ATTLOG:
        log = [];
        return [reply(CMD.ACK_OK)];
      case CMD.CLEAR_DATA:
        log = [];
        users.length = 0;
        return [reply(CMD.ACK_OK)];
      default:
        return [reply(CMD.ACK_UNKNOWN)];
    }
  };

  const receive = async (payload: Buffer, origin: Origin): Promise<void> => {
    const req = decodePacket(payload);
    if (!req || !checksumValid(payload)) {
      stats.dropped++;
      return;
    }
    const out = handle(req, origin);
    if (out.length === 0) return;
    const delay = opts.replyDelayMs?.[req.command];
    if (delay) {
      setTimeout(() => void write(origin, out).catch(() => undefined), delay);
      return;
    }
    await write(origin, out);
  };

  // ---- sockets ----
  const sockets = new Set<Socket>();
  let tcpServer: Server | undefined;
  let port = opts.port ?? 0;

  if (transport !== 'udp') {
    tcpServer = createServer((socket) => {
      sockets.add(socket);
      socket.setNoDelay(true);
      const deframer = new TcpDeframer();
      const origin: Origin = { kind: 'tcp', socket };
      let chain: Promise<void> = Promise.resolve();
      socket.on('data', (chunk: Buffer) => {
        let payloads: Buffer[];
        try {
          payloads = deframer.push(chunk);
        } catch {
          socket.destroy(); // not our protocol
          return;
        }
        for (const p of payloads) chain = chain.then(() => receive(p, origin)).catch(() => undefined);
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        if (session && session.origin.kind === 'tcp' && session.origin.socket === socket) session = undefined;
      });
    });
    const srv = tcpServer;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => resolve());
    });
    const addr = srv.address();
    if (addr && typeof addr === 'object') port = addr.port;
  }

  if (transport !== 'tcp') {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    udpSocket = s;
    let chain: Promise<void> = Promise.resolve();
    s.on('message', (m: Buffer, r: RemoteInfo) => {
      const origin: Origin = { kind: 'udp', address: r.address, port: r.port };
      chain = chain.then(() => receive(m, origin)).catch(() => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', (e) => {
        for (const c of sockets) c.destroy();
        tcpServer?.close();
        reject(e);
      });
      s.bind(port, host, () => resolve());
    });
    s.on('error', () => undefined);
    port = s.address().port;
  }

  return {
    host,
    port,
    transport,
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([
        tcpServer ? new Promise<void>((r) => tcpServer?.close(() => r())) : undefined,
        udpSocket ? new Promise<void>((r) => udpSocket?.close(() => r())) : undefined,
      ]);
    },
    addPunch(p: SimPunch = {}) {
      const r = store(p, packTime(p.time));
      log.push(r);
      return r;
    },
    setFull(v: boolean) {
      full = v;
      if (!v) session = undefined; // a restart
    },
    sessions: () => ({ active: session ? 1 : 0, ...sessionsCount }),
    clockOffsetS: () => offsetMs / 1000,
    stats: () => ({ ...stats, commands: { ...stats.commands } }),
    log: () => log,
    users: () => users,
  };
}
