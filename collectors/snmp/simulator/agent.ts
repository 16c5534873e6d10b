// A simulated SNMP agent (v1 and v2c) on UDP, serving a recording of a real device. It answers
// GET, GETNEXT and GETBULK the way net-snmp's snmpd does, so the collector and net-snmp's own
// command-line tools can both talk to it.

import { createSocket, type Socket } from 'node:dgram';
import {
  BerError,
  decodeOid,
  decodeSigned,
  encodeInteger,
  encodeOid,
  encodeSequence,
  readChildren,
  readTlv,
  Tag,
  tlv,
} from '../ber.js';
import { compareOid } from '../oid.js';
import { loadRecording, type Varbind } from '../snmprec.js';
import { buildMib, type MibEntry, type Scenario } from './scenarios.js';

export interface SimulatedAgentOptions {
  /** A `.snmprec`/`snmpwalk -On` file, or already parsed varbinds (shared between many agents). */
  recording: string | readonly Varbind[];
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  community?: string;
  scenarios?: Scenario[];
  /** Clock, for deterministic tests. */
  now?: () => number;
}

export interface SimulatedAgent {
  readonly port: number;
  readonly host: string;
  /** Requests answered so far. */
  readonly requests: number;
  /** Serves another recording from now on (a scripted change: a radio re-aligned, a counter grown). */
  replace(recording: string | readonly Varbind[]): void;
  close(): Promise<void>;
}

/** Largest response we send, like an agent on a 1500-byte Ethernet MTU. */
const MAX_RESPONSE_BYTES = 1472;
const V1 = 0n;
const V2C = 1n;
const ERR_TOO_BIG = 1;
const ERR_NO_SUCH_NAME = 2;
const ERR_GEN = 5;

type Exception = typeof Tag.NoSuchObject | typeof Tag.NoSuchInstance | typeof Tag.EndOfMibView;
type Answer = { oid: readonly number[]; entry: MibEntry | null; exception?: Exception };

function encodeUnsigned(tag: number, v: bigint): Buffer {
  return encodeInteger(tag, v < 0n ? 0n : v);
}

function encodeValue(e: MibEntry, elapsed: number): Buffer {
  const v = e.dynamic ? e.dynamic(elapsed) : e.value;
  switch (e.tag) {
    case Tag.Integer:
      return encodeInteger(Tag.Integer, v as bigint);
    case Tag.Counter32:
    case Tag.Gauge32:
    case Tag.TimeTicks:
    case Tag.Counter64:
      return encodeUnsigned(e.tag, v as bigint);
    case Tag.OID:
      return encodeOid(v as number[]);
    case Tag.Null:
      return tlv(Tag.Null, Buffer.alloc(0));
    default:
      return tlv(e.tag, v as Buffer);
  }
}

function encodeVarbind(a: Answer, elapsed: number): Buffer {
  const value =
    a.exception !== undefined ? tlv(a.exception, Buffer.alloc(0)) : encodeValue(a.entry!, elapsed);
  return encodeSequence(Tag.Sequence, [encodeOid(a.oid), value]);
}

class Mib {
  constructor(private readonly entries: MibEntry[]) {
    entries.sort((a, b) => compareOid(a.oid, b.oid));
  }
  /** Index of the first entry whose OID is > oid (or >= when inclusive). */
  private search(oid: readonly number[], inclusive: boolean): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = compareOid(this.entries[mid]!.oid, oid);
      if (c < 0 || (c === 0 && !inclusive)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  get(oid: readonly number[]): MibEntry | null {
    const e = this.entries[this.search(oid, true)];
    return e && compareOid(e.oid, oid) === 0 ? e : null;
  }
  /** Whether anything is registered under this OID as a prefix: tells noSuchInstance from noSuchObject. */
  hasObject(oid: readonly number[]): boolean {
    const parent = oid.slice(0, -1);
    const e = this.entries[this.search(parent, false)];
    return !!e && e.oid.length > parent.length && parent.every((a, i) => e.oid[i] === a);
  }
  next(oid: readonly number[], skipCounter64: boolean): MibEntry | null {
    for (let i = this.search(oid, false); i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (!(skipCounter64 && e.tag === Tag.Counter64)) return e;
    }
    return null;
  }
}

interface Request {
  version: bigint;
  community: string;
  pduTag: number;
  requestId: bigint;
  /** error-status, or non-repeaters for GETBULK */
  a: number;
  /** error-index, or max-repetitions for GETBULK */
  b: number;
  oids: number[][];
}

function parseRequest(msg: Buffer): Request {
  const top = readTlv(msg, 0);
  if (top.tag !== Tag.Sequence) throw new BerError('not a sequence');
  const [ver, comm, pdu] = readChildren(top.content);
  if (!ver || !comm || !pdu || ver.tag !== Tag.Integer || comm.tag !== Tag.OctetString)
    throw new BerError('bad header');
  const [rid, a, b, vbl] = readChildren(pdu.content);
  if (!rid || !a || !b || !vbl) throw new BerError('bad PDU');
  const oids = readChildren(vbl.content).map((vb) => {
    const [name] = readChildren(vb.content);
    if (!name || name.tag !== Tag.OID) throw new BerError('bad varbind');
    return decodeOid(name.content);
  });
  return {
    version: decodeSigned(ver.content),
    community: comm.content.toString('latin1'),
    pduTag: pdu.tag,
    requestId: decodeSigned(rid.content),
    a: Number(decodeSigned(a.content)),
    b: Number(decodeSigned(b.content)),
    oids,
  };
}

function encodeResponse(req: Request, errStatus: number, errIndex: number, varbinds: Buffer[]): Buffer {
  const pdu = encodeSequence(Tag.Response, [
    encodeInteger(Tag.Integer, req.requestId),
    encodeInteger(Tag.Integer, errStatus),
    encodeInteger(Tag.Integer, errIndex),
    encodeSequence(Tag.Sequence, varbinds),
  ]);
  return encodeSequence(Tag.Sequence, [
    encodeInteger(Tag.Integer, req.version),
    tlv(Tag.OctetString, Buffer.from(req.community, 'latin1')),
    pdu,
  ]);
}

/** Builds the response to one request; null means "stay silent" (as agents do for a wrong community). */
export function answer(mib: Mib, req: Request, community: string, elapsed: number): Buffer | null {
  if (req.community !== community || (req.version !== V1 && req.version !== V2C)) return null;
  const v1 = req.version === V1;
  const echo = (oids: number[][]) =>
    oids.map((oid) => encodeSequence(Tag.Sequence, [encodeOid(oid), tlv(Tag.Null, Buffer.alloc(0))]));

  const lookupGet = (oid: number[]): Answer => {
    const e = mib.get(oid);
    if (e) return { oid, entry: e };
    return { oid, entry: null, exception: mib.hasObject(oid) ? Tag.NoSuchInstance : Tag.NoSuchObject };
  };
  const lookupNext = (oid: readonly number[]): Answer => {
    const e = mib.next(oid, v1);
    return e ? { oid: e.oid, entry: e } : { oid, entry: null, exception: Tag.EndOfMibView };
  };

  let answers: Answer[];
  switch (req.pduTag) {
    case Tag.GetRequest:
      answers = req.oids.map(lookupGet);
      break;
    case Tag.GetNextRequest:
      answers = req.oids.map(lookupNext);
      break;
    case Tag.GetBulkRequest: {
      if (v1) return encodeResponse(req, ERR_GEN, 0, echo(req.oids));
      const nonRep = Math.max(0, Math.min(req.a, req.oids.length));
      const maxRep = Math.max(0, req.b);
      answers = req.oids.slice(0, nonRep).map(lookupNext);
      let cursor = req.oids.slice(nonRep);
      const body: Buffer[] = answers.map((x) => encodeVarbind(x, elapsed));
      let size = body.reduce((n, b) => n + b.length, 0);
      // Repetitions stop at the size limit, as real agents truncate rather than fail.
      outer: for (let r = 0; r < maxRep && cursor.length > 0; r++) {
        const nextCursor: number[][] = [];
        let allEnd = true;
        for (const oid of cursor) {
          const x = lookupNext(oid);
          const enc = encodeVarbind(x, elapsed);
          if (size + enc.length > MAX_RESPONSE_BYTES - 64) break outer;
          body.push(enc);
          size += enc.length;
          if (x.exception === undefined) allEnd = false;
          nextCursor.push([...x.oid]);
        }
        if (allEnd) break;
        cursor = nextCursor;
      }
      return encodeResponse(req, 0, 0, body);
    }
    default:
      return encodeResponse(req, ERR_GEN, 0, echo(req.oids));
  }

  if (v1) {
    const missing = answers.findIndex((x) => x.exception !== undefined);
    if (missing >= 0) return encodeResponse(req, ERR_NO_SUCH_NAME, missing + 1, echo(req.oids));
  }
  const out = encodeResponse(
    req,
    0,
    0,
    answers.map((x) => encodeVarbind(x, elapsed)),
  );
  if (out.length > MAX_RESPONSE_BYTES) return encodeResponse(req, ERR_TOO_BIG, 0, []);
  return out;
}

export async function startSimulatedAgent(opts: SimulatedAgentOptions): Promise<SimulatedAgent> {
  const recording = typeof opts.recording === 'string' ? loadRecording(opts.recording) : opts.recording;
  let mib = new Mib(buildMib(recording, opts.scenarios ?? []));
  const now = opts.now ?? Date.now;
  const started = now();
  const community = opts.community ?? 'public';
  const host = opts.host ?? '127.0.0.1';
  const socket: Socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  let requests = 0;
  socket.on('message', (msg, rinfo) => {
    let reply: Buffer | null;
    try {
      reply = answer(mib, parseRequest(msg), community, now() - started);
    } catch {
      return; // garbage in: a real agent drops it and counts snmpInASNParseErrs
    }
    if (!reply) return;
    requests++;
    socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port ?? 0, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const port = socket.address().port;
  return {
    port,
    host,
    get requests() {
      return requests;
    },
    replace(next) {
      mib = new Mib(buildMib(typeof next === 'string' ? loadRecording(next) : next, opts.scenarios ?? []));
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

export type { Mib };
