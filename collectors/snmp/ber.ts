// A small BER codec for SNMP messages (X.690 subset): enough for an agent that answers v1/v2c
// GET, GETNEXT and GETBULK byte for byte like a real one.

export const Tag = {
  Integer: 0x02,
  OctetString: 0x04,
  Null: 0x05,
  OID: 0x06,
  Sequence: 0x30,
  IpAddress: 0x40,
  Counter32: 0x41,
  Gauge32: 0x42,
  TimeTicks: 0x43,
  Opaque: 0x44,
  Counter64: 0x46,
  NoSuchObject: 0x80,
  NoSuchInstance: 0x81,
  EndOfMibView: 0x82,
  GetRequest: 0xa0,
  GetNextRequest: 0xa1,
  Response: 0xa2,
  SetRequest: 0xa3,
  GetBulkRequest: 0xa5,
} as const;

export class BerError extends Error {
  override name = 'BerError';
}

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag, ...lengthBytes(content.length)]), content]);
}

/** Two's complement, minimal length (X.690 8.3). */
export function encodeSigned(v: bigint): Buffer {
  const bytes: number[] = [];
  let x = v;
  for (;;) {
    const b = Number(x & 0xffn);
    bytes.unshift(b);
    x >>= 8n;
    if ((x === 0n && (b & 0x80) === 0) || (x === -1n && (b & 0x80) !== 0)) break;
  }
  return Buffer.from(bytes);
}

export const encodeInteger = (tag: number, v: bigint | number) => tlv(tag, encodeSigned(BigInt(v)));

export function encodeOid(oid: readonly number[]): Buffer {
  if (oid.length < 2) throw new BerError(`OID too short: ${oid.join('.')}`);
  const out: number[] = [];
  const first = oid[0]! * 40 + oid[1]!;
  for (const arc of [first, ...oid.slice(2)]) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(Tag.OID, Buffer.from(out));
}

export const encodeSequence = (tag: number, parts: Buffer[]) => tlv(tag, Buffer.concat(parts));

/** A decoded TLV: tag, content bytes and where the next TLV starts. */
export interface Tlv {
  tag: number;
  content: Buffer;
  end: number;
}

export function readTlv(buf: Buffer, at: number): Tlv {
  if (at + 2 > buf.length) throw new BerError('truncated TLV header');
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > buf.length) throw new BerError('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > buf.length) throw new BerError('truncated TLV content');
  return { tag, content: buf.subarray(p, p + len), end: p + len };
}

/** Reads all TLVs inside a constructed value. */
export function readChildren(content: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < content.length; ) {
    const t = readTlv(content, at);
    out.push(t);
    at = t.end;
  }
  return out;
}

export function decodeSigned(content: Buffer): bigint {
  if (content.length === 0) throw new BerError('empty integer');
  let v = 0n;
  for (const b of content) v = (v << 8n) | BigInt(b);
  if (content[0]! & 0x80) v -= 1n << BigInt(content.length * 8);
  return v;
}

export function decodeOid(content: Buffer): number[] {
  const arcs: number[] = [];
  let v = 0;
  for (const b of content) {
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    }
  }
  const first = arcs.shift();
  if (first === undefined) throw new BerError('empty OID');
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...arcs];
}
