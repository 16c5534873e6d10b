// Our own typed ZKTeco terminal client (pull protocol, port 4370) over TCP or UDP.
//
// One request in flight at a time; every reply is matched to its request by the reply id the
// terminal echoes, so a late answer to a request that already timed out (or anything else that
// does not carry the awaited id) is dropped, never taken for the answer to another request. TCP is
// deframed by the length in each frame header, whatever the segments. Errors are CollectorErrors
// (ZkError adds the precise reason, e.g. 'busy' when the terminal refuses a second session).
//
// The client never sends a command that erases data (CLEAR_ATTLOG and friends): see
// DESTRUCTIVE_COMMANDS in protocol.ts.

import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { isIPv6, Socket } from 'node:net';
import { CollectorError, type CollectorErrorKind } from '../common/errors.js';
import {
  CMD,
  checksumValid,
  commandName,
  commKey,
  DatasetError,
  DESTRUCTIVE_COMMANDS,
  decodePacket,
  decodeZkTime,
  encodePacket,
  encodeZkTime,
  FCT,
  FramingError,
  type FreeSizes,
  type Packet,
  parseAttendance,
  parseFreeSizes,
  parseOption,
  parseUsers,
  prepareBufferRequest,
  type RawUser,
  READ_BUFFER_LIMITS,
  REPLY_ID_MOD,
  type RecordSize,
  readBufferRequest,
  TcpDeframer,
  tcpFrame,
  type WallClock,
} from './protocol.js';
import { epochOfWallClock, wallClockAt } from './zone.js';

export type ZkTransport = 'tcp' | 'udp';

export interface ZkClientOptions {
  host: string;
  /** Default 4370. */
  port?: number;
  /** Default 'tcp'. */
  transport?: ZkTransport;
  /** The terminal's numeric communication key ("comm key", "password"); 0 or unset when none. */
  commKey?: number;
  /** Per request: how long to wait for the (next packet of the) reply. Default 5000 ms. */
  timeoutMs?: number;
  /** TCP connection set-up. Default: timeoutMs. */
  connectTimeoutMs?: number;
}

/**
 * Why a request failed. unreachable: no TCP connection / socket error. busy: the terminal refused a
 * new session (another one is open). auth: comm key missing or wrong. timeout: no reply in time.
 * closed: the terminal closed the connection. malformed: a reply we cannot read. rejected: the
 * terminal answered ACK_ERROR. unsupported: it answered ACK_UNKNOWN. refused: we will not send it.
 */
export type ZkFailure =
  | 'unreachable'
  | 'busy'
  | 'auth'
  | 'timeout'
  | 'closed'
  | 'malformed'
  | 'rejected'
  | 'unsupported'
  | 'refused';

const KIND: Record<ZkFailure, CollectorErrorKind> = {
  unreachable: 'unreachable',
  // The terminal cannot serve us now; the scheduler should simply try again at the next poll.
  busy: 'unreachable',
  auth: 'auth',
  timeout: 'timeout',
  closed: 'unreachable',
  malformed: 'malformed',
  rejected: 'malformed',
  unsupported: 'unsupported',
  refused: 'unsupported',
};

export class ZkError extends CollectorError {
  override name = 'ZkError';
  constructor(
    readonly reason: ZkFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(KIND[reason], message, options);
  }
}

export interface DeviceInfo {
  serial: string;
  name: string;
  platform: string;
  firmware: string;
  fp_version?: string;
}

/** A punch with its time both as the terminal shows it and as an instant in the site's zone. */
export interface AttendanceRecord {
  /** Position in the terminal's log (0 = oldest). */
  index: number;
  user_id: string;
  uid?: number;
  time: WallClock & { epoch_ms: number };
  punch: number;
  verify?: number;
  status?: number;
  workcode?: number;
}

export interface AttendanceRead {
  records: AttendanceRecord[];
  /** Records in the terminal's log (all of them were read; `records` may be filtered by `since`). */
  total: number;
  record_size: RecordSize | 0;
  /** READ_BUFFER round trips (0 when the terminal sent everything inline). */
  chunks: number;
  bytes: number;
}

export interface ClientStats {
  requests: number;
  replies: number;
  /** Packets whose reply id matched no waiting request (late, duplicate or unsolicited). */
  stray: number;
  bad_checksum: number;
  read_buffer_chunks: number;
  bytes_read: number;
}

interface Pending {
  command: number;
  replyId: number;
  timeoutMs: number;
  timer: NodeJS.Timeout | undefined;
  onPacket: (p: Packet) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

const NONE = Symbol('more');

export class ZkClient {
  readonly host: string;
  readonly port: number;
  readonly transport: ZkTransport;
  readonly timeoutMs: number;
  private readonly key: number | undefined;
  private readonly connectTimeoutMs: number;
  private tcp: Socket | undefined;
  private udp: DgramSocket | undefined;
  private deframer = new TcpDeframer();
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private sessionId = 0;
  private replyId = 0;
  private open = false;
  private dead: ZkError | undefined;
  /** Set after a request timed out: the terminal may be hung, so we stop sending (but EXIT). */
  private timedOut = false;
  readonly stats: ClientStats = {
    requests: 0,
    replies: 0,
    stray: 0,
    bad_checksum: 0,
    read_buffer_chunks: 0,
    bytes_read: 0,
  };

  constructor(opts: ZkClientOptions) {
    this.host = opts.host;
    this.port = opts.port ?? 4370;
    this.transport = opts.transport ?? 'tcp';
    this.key = opts.commKey;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? this.timeoutMs;
  }

  /** The session id the terminal gave us (0 before connect). */
  get session(): number {
    return this.sessionId;
  }

  get connected(): boolean {
    return this.open && !this.dead;
  }

  private get where(): string {
    return `${this.host}:${this.port}/${this.transport}`;
  }

  /** Opens the socket, CONNECT, AUTH when the terminal asks for the comm key, then SDKBuild=1. */
  async connect(): Promise<void> {
    if (this.open) throw new ZkError('refused', `already connected to ${this.where}`);
    await this.openLink();
    let r: Packet;
    try {
      r = await this.transact(CMD.CONNECT, Buffer.alloc(0), (p) => p);
    } catch (e) {
      this.closeLink();
      if (e instanceof ZkError && e.reason === 'timeout')
        throw new ZkError(
          'timeout',
          this.transport === 'udp'
            ? `no answer to CONNECT from ${this.where} within ${this.timeoutMs} ms (unreachable, or the terminal is hung)`
            : `${this.where} accepted TCP but did not answer CONNECT within ${this.timeoutMs} ms (another session open, or the terminal is hung)`,
        );
      throw e;
    }
    if (r.command === CMD.ACK_ERROR) {
      this.closeLink();
      throw new ZkError(
        'busy',
        `${this.where} refused the session (ACK_ERROR to CONNECT): another session is open; terminals serve one at a time`,
      );
    }
    if (r.command !== CMD.ACK_OK && r.command !== CMD.ACK_UNAUTH) {
      this.closeLink();
      throw new ZkError('malformed', `${this.where} answered CONNECT with ${commandName(r.command)}`);
    }
    this.sessionId = r.sessionId;
    this.open = true;
    if (r.command === CMD.ACK_UNAUTH) {
      const a = await this.transact(CMD.AUTH, commKey(this.key ?? 0, this.sessionId), (p) => p);
      if (a.command !== CMD.ACK_OK) {
        await this.disconnect();
        throw new ZkError(
          'auth',
          this.key === undefined || this.key === 0
            ? `${this.where} requires a comm key and none is configured (${commandName(a.command)} to AUTH with key 0)`
            : `${this.where} refused the comm key (${commandName(a.command)} to AUTH)`,
        );
      }
    }
    // Newer firmware wants this before bulk reads; older answers ACK_ERROR or ACK_UNKNOWN: fine.
    await this.transact(CMD.OPTIONS_WRQ, Buffer.from('SDKBuild=1\0', 'latin1'), (p) => p);
  }

  /**
   * One request, one reply packet. Refuses commands that erase data on the terminal. Exposed for
   * tools and tests; prefer the typed methods.
   */
  async request(
    command: number,
    data: Buffer | string = Buffer.alloc(0),
    timeoutMs?: number,
  ): Promise<Packet> {
    if (DESTRUCTIVE_COMMANDS.has(command))
      throw new ZkError(
        'refused',
        `Pantau never sends ${commandName(command)}: it would erase data on the terminal`,
      );
    this.needSession();
    const body = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    return this.transact(command, body, (p) => p, timeoutMs);
  }

  /** ACK_OK's data, or a typed error naming what the terminal said instead. */
  private async ok(command: number, data: Buffer | string = Buffer.alloc(0), what = commandName(command)) {
    const r = await this.request(command, data);
    if (r.command === CMD.ACK_OK || r.command === CMD.ACK_DATA) return r.data;
    throw this.answerError(r, what);
  }

  private answerError(r: Packet, what: string): ZkError {
    if (r.command === CMD.ACK_UNAUTH)
      return new ZkError(
        'auth',
        `${this.where} answered ${what} with ACK_UNAUTH (session not authenticated)`,
      );
    if (r.command === CMD.ACK_ERROR)
      return new ZkError('rejected', `${this.where} answered ${what} with ACK_ERROR`);
    if (r.command === CMD.ACK_UNKNOWN)
      return new ZkError('unsupported', `${this.where} does not know ${what}`);
    return new ZkError('malformed', `${this.where} answered ${what} with ${commandName(r.command)}`);
  }

  /** One option (`~SerialNumber`, `~DeviceName`, …); undefined when the terminal does not know it. */
  async option(name: string): Promise<string | undefined> {
    const r = await this.request(CMD.OPTIONS_RRQ, `${name}\0`);
    if (r.command !== CMD.ACK_OK) {
      if (r.command === CMD.ACK_ERROR || r.command === CMD.ACK_UNKNOWN) return undefined;
      throw this.answerError(r, `OPTIONS_RRQ ${name}`);
    }
    if (r.data.length === 0) return undefined;
    return parseOption(r.data)[1];
  }

  async deviceInfo(): Promise<DeviceInfo> {
    const serial = (await this.option('~SerialNumber')) ?? '';
    const name = (await this.option('~DeviceName')) ?? '';
    const platform = (await this.option('~Platform')) ?? '';
    const fw = await this.request(CMD.GET_VERSION);
    const firmware = fw.command === CMD.ACK_OK ? parseOption(fw.data)[0] : '';
    const fp = await this.option('~ZKFPVersion');
    return { serial, name, platform, firmware, ...(fp ? { fp_version: fp } : {}) };
  }

  /** The terminal's wall clock (no zone), and when we asked (the midpoint of the round trip). */
  async readClock(): Promise<{ wall: WallClock; at_ms: number }> {
    const t0 = Date.now();
    const d = await this.ok(CMD.GET_TIME);
    const t1 = Date.now();
    if (d.length < 4) throw new ZkError('malformed', `${this.where}: GET_TIME answered ${d.length} bytes`);
    return { wall: decodeZkTime(d.readUInt32LE(0)), at_ms: (t0 + t1) / 2 };
  }

  async getTime(): Promise<WallClock> {
    return (await this.readClock()).wall;
  }

  /**
   * Terminal clock minus true time, in seconds (positive: the terminal is ahead), its wall clock read
   * in the site's IANA zone. The terminal counts whole seconds: ±1 s.
   */
  async clockOffset(timeZone: string): Promise<number> {
    const { wall, at_ms } = await this.readClock();
    // +500 ms: the terminal truncates to the second, so on average it is half a second further on.
    return (epochOfWallClock(wall, timeZone) + 500 - at_ms) / 1000;
  }

  /** Sets the terminal's wall clock to `date` as seen in `timeZone`, then REFRESHDATA. */
  async setTime(date: Date | number, timeZone: string): Promise<void> {
    const ms = typeof date === 'number' ? date : date.getTime();
    const wall = wallClockAt(Math.round(ms / 1000) * 1000, timeZone);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(encodeZkTime(wall), 0);
    await this.ok(CMD.SET_TIME, b, 'SET_TIME');
    await this.ok(CMD.REFRESHDATA);
  }

  async freeSizes(): Promise<FreeSizes> {
    const d = await this.ok(CMD.GET_FREE_SIZES);
    const s = parseFreeSizes(d);
    if (!s)
      throw new ZkError(
        'malformed',
        `${this.where}: GET_FREE_SIZES answered ${d.length} bytes, want 80 or more`,
      );
    return s;
  }

  /**
   * The whole dataset of one buffered read: PREPARE_BUFFER, then READ_BUFFER chunk by chunk
   * (≤ 0xFFC0 bytes on TCP, 16 KiB on UDP), then FREE_DATA. Returns u32le total + records.
   */
  async readBuffer(command: number, fct = 0, ext = 0): Promise<{ data: Buffer; chunks: number }> {
    this.needSession();
    const first = await this.transact(CMD.PREPARE_BUFFER, prepareBufferRequest(command, fct, ext), (p) => p);
    if (first.command === CMD.DATA) return { data: Buffer.from(first.data), chunks: 0 };
    if (first.command !== CMD.ACK_OK)
      throw this.answerError(first, `PREPARE_BUFFER for ${commandName(command)}`);
    if (first.data.length < 5)
      throw new ZkError(
        'malformed',
        `${this.where}: PREPARE_BUFFER answered ${first.data.length} bytes, no size`,
      );
    const size = first.data.readUInt32LE(1);
    const max = READ_BUFFER_LIMITS[this.transport];
    const parts: Buffer[] = [];
    let chunks = 0;
    try {
      for (let start = 0; start < size; start += max) {
        const len = Math.min(max, size - start);
        const part = await this.readChunk(start, len);
        if (part.length !== len)
          throw new ZkError(
            'malformed',
            `${this.where}: READ_BUFFER ${start}+${len} brought ${part.length} bytes`,
          );
        parts.push(part);
        chunks++;
      }
    } finally {
      if (!this.timedOut && !this.dead) await this.request(CMD.FREE_DATA).catch(() => undefined);
    }
    return { data: Buffer.concat(parts), chunks };
  }

  /** One READ_BUFFER: PREPARE_DATA (size), DATA (one frame on TCP, 1024-byte datagrams on UDP), ACK_OK. */
  private async readChunk(start: number, len: number): Promise<Buffer> {
    let expected: number | undefined;
    const parts: Buffer[] = [];
    let got = 0;
    const data = await this.transact(CMD.READ_BUFFER, readBufferRequest(start, len), (p) => {
      if (p.command === CMD.PREPARE_DATA) {
        if (p.data.length < 4) throw new ZkError('malformed', `${this.where}: PREPARE_DATA without a size`);
        expected = p.data.readUInt32LE(0);
        return NONE;
      }
      if (p.command === CMD.DATA) {
        if (expected === undefined) return Buffer.from(p.data); // the whole chunk in one answer
        parts.push(Buffer.from(p.data));
        got += p.data.length;
        return NONE;
      }
      if (p.command === CMD.ACK_OK && expected !== undefined) {
        if (got !== expected)
          throw new ZkError(
            'malformed',
            `${this.where}: READ_BUFFER ${start}+${len} announced ${expected} bytes, ${got} arrived${this.transport === 'udp' ? ' (datagrams lost?)' : ''}`,
          );
        return Buffer.concat(parts, got);
      }
      throw this.answerError(p, `READ_BUFFER ${start}+${len}`);
    });
    this.stats.read_buffer_chunks++;
    this.stats.bytes_read += data.length;
    return data;
  }

  /**
   * The attendance log, whole (the protocol always returns all of it), bracketed by DISABLE/ENABLE
   * DEVICE. `since` (ms since epoch) keeps only records after that instant; the incremental logic of
   * the poller lives in collect.ts. Never clears the log.
   */
  async readAttendance(opts: { timeZone: string; since?: number }): Promise<AttendanceRead> {
    await this.ok(CMD.DISABLEDEVICE);
    try {
      const sizes = await this.freeSizes();
      const total = sizes.records;
      if (total <= 0) return { records: [], total: 0, record_size: 0, chunks: 0, bytes: 0 };
      const { data, chunks } = await this.readBuffer(CMD.ATTLOG_RRQ);
      let parsed: ReturnType<typeof parseAttendance>;
      try {
        parsed = parseAttendance(data, total);
      } catch (e) {
        if (e instanceof DatasetError)
          throw new ZkError('malformed', `${this.where}: ${e.message}`, { cause: e });
        throw e;
      }
      const records: AttendanceRecord[] = [];
      const zone = opts.timeZone;
      parsed.records.forEach((r, index) => {
        const wall = decodeZkTime(r.time);
        const epoch_ms = epochOfWallClock(wall, zone);
        if (opts.since !== undefined && epoch_ms <= opts.since) return;
        records.push({
          index,
          user_id: r.user_id,
          ...(r.uid !== undefined ? { uid: r.uid } : {}),
          time: { ...wall, epoch_ms },
          punch: r.punch,
          ...(r.verify !== undefined ? { verify: r.verify } : {}),
          ...(r.status !== undefined ? { status: r.status } : {}),
          ...(r.workcode !== undefined ? { workcode: r.workcode } : {}),
        });
      });
      return { records, total, record_size: parsed.size, chunks, bytes: data.length };
    } finally {
      if (!this.timedOut && !this.dead) await this.request(CMD.ENABLEDEVICE).catch(() => undefined);
    }
  }

  /** Enrolled users (72-byte layout on newer firmware, 28-byte on older). */
  async readUsers(): Promise<RawUser[]> {
    await this.ok(CMD.DISABLEDEVICE);
    try {
      const sizes = await this.freeSizes();
      if (sizes.users <= 0) return [];
      const { data } = await this.readBuffer(CMD.USERTEMP_RRQ, FCT.USER);
      try {
        return parseUsers(data, sizes.users);
      } catch (e) {
        if (e instanceof DatasetError)
          throw new ZkError('malformed', `${this.where}: ${e.message}`, { cause: e });
        throw e;
      }
    } finally {
      if (!this.timedOut && !this.dead) await this.request(CMD.ENABLEDEVICE).catch(() => undefined);
    }
  }

  /**
   * EXIT (briefly awaited — barely when the terminal already failed to answer — whatever the
   * answer), then closes the socket. Never throws.
   */
  async disconnect(): Promise<void> {
    if (this.open && !this.dead) {
      this.open = false;
      await this.transact(
        CMD.EXIT,
        Buffer.alloc(0),
        (p) => p,
        this.timedOut ? Math.min(this.timeoutMs, 200) : Math.min(this.timeoutMs, 1000),
      ).catch(() => undefined);
    }
    this.open = false;
    this.closeLink();
  }

  // ---- plumbing ----

  private needSession(): void {
    if (this.dead) throw this.dead;
    if (!this.open) throw new ZkError('refused', `not connected to ${this.where}`);
  }

  /**
   * Sends one request and feeds every packet carrying its reply id to `onPacket` until that returns
   * something other than NONE. The timer restarts with each such packet, so a long answer streams
   * without timing out while a silent terminal is caught after timeoutMs.
   */
  private transact<T>(
    command: number,
    data: Buffer,
    onPacket: (p: Packet) => T | typeof NONE,
    timeoutMs = this.timeoutMs,
  ): Promise<T> {
    const run = () =>
      new Promise<T>((resolve, reject) => {
        if (this.dead) return reject(this.dead);
        if (command === CMD.CONNECT) {
          this.sessionId = 0;
          this.replyId = 0;
        } else {
          this.replyId = (this.replyId + 1) % REPLY_ID_MOD;
        }
        const p: Pending = {
          command,
          replyId: this.replyId,
          timeoutMs,
          timer: undefined,
          onPacket,
          resolve: resolve as (v: unknown) => void,
          reject,
        };
        this.pending = p;
        this.arm(p);
        this.stats.requests++;
        this.send(encodePacket(command, this.sessionId, p.replyId, data));
      });
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private arm(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      if (this.pending !== p) return;
      this.pending = undefined;
      if (p.command !== CMD.EXIT) this.timedOut = true;
      p.reject(
        new ZkError(
          'timeout',
          `${this.where} did not answer ${commandName(p.command)} within ${p.timeoutMs} ms`,
        ),
      );
    }, p.timeoutMs);
  }

  private settle(p: Pending, fn: () => void): void {
    if (p.timer) clearTimeout(p.timer);
    if (this.pending === p) this.pending = undefined;
    fn();
  }

  private onPayload(payload: Buffer): void {
    const pkt = decodePacket(payload);
    const p = this.pending;
    if (!pkt) {
      if (p)
        this.settle(p, () =>
          p.reject(new ZkError('malformed', `${this.where} sent ${payload.length} bytes, no header`)),
        );
      return;
    }
    if (!checksumValid(payload)) {
      this.stats.bad_checksum++;
      if (p)
        this.settle(p, () =>
          p.reject(
            new ZkError('malformed', `${this.where} sent ${commandName(pkt.command)} with a bad checksum`),
          ),
        );
      return;
    }
    if (!p || pkt.replyId !== p.replyId) {
      this.stats.stray++;
      return;
    }
    this.stats.replies++;
    let out: unknown;
    try {
      out = p.onPacket(pkt);
    } catch (e) {
      this.settle(p, () => p.reject(e));
      return;
    }
    if (out === NONE) this.arm(p);
    else this.settle(p, () => p.resolve(out));
  }

  private fail(err: ZkError): void {
    if (!this.dead) this.dead = err;
    const p = this.pending;
    if (p) this.settle(p, () => p.reject(err));
  }

  private send(payload: Buffer): void {
    if (this.tcp) this.tcp.write(tcpFrame(payload));
    else this.udp?.send(payload);
  }

  private openLink(): Promise<void> {
    this.dead = undefined;
    this.timedOut = false;
    if (this.transport === 'udp') {
      return new Promise((resolve, reject) => {
        const s = createSocket(isIPv6(this.host) ? 'udp6' : 'udp4');
        this.udp = s;
        s.on('message', (m) => this.onPayload(m));
        s.on('error', (e: NodeJS.ErrnoException) => {
          const err = new ZkError('unreachable', `${this.where}: ${e.code ?? e.message}`, { cause: e });
          this.fail(err);
          reject(err);
        });
        s.connect(this.port, this.host, () => resolve());
      });
    }
    return new Promise((resolve, reject) => {
      const s = new Socket();
      this.tcp = s;
      this.deframer = new TcpDeframer();
      s.setNoDelay(true);
      const timer = setTimeout(() => {
        s.destroy();
        reject(
          new ZkError('unreachable', `no TCP connection to ${this.where} within ${this.connectTimeoutMs} ms`),
        );
      }, this.connectTimeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      s.on('data', (chunk: Buffer) => {
        let payloads: Buffer[];
        try {
          payloads = this.deframer.push(chunk);
        } catch (e) {
          const msg = e instanceof FramingError ? e.message : String(e);
          this.fail(new ZkError('malformed', `${this.where}: ${msg}`, { cause: e }));
          s.destroy();
          return;
        }
        for (const pl of payloads) this.onPayload(pl);
      });
      s.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const err = new ZkError('unreachable', `${this.where}: ${e.code ?? e.message}`, { cause: e });
        this.fail(err);
        reject(err);
      });
      s.on('close', () => {
        clearTimeout(timer);
        this.fail(new ZkError('closed', `${this.where} closed the connection`));
      });
      s.connect(this.port, this.host);
    });
  }

  private closeLink(): void {
    this.tcp?.destroy();
    this.tcp = undefined;
    if (this.udp) {
      try {
        this.udp.close();
      } catch {
        // already closed
      }
      this.udp = undefined;
    }
    const p = this.pending;
    if (p) this.settle(p, () => p.reject(new ZkError('closed', `connection to ${this.where} closed`)));
  }
}
