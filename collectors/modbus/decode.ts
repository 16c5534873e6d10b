// Pure parts of a Modbus poll: which reads cover a map (as few as the map allows), and how raw
// registers become a metric value. No I/O here, so both are tested without a device.

import {
  isRegisterFn,
  protocolMaxCount,
  type RegisterEntry,
  type RegisterFn,
  type RegisterMap,
  wordsOf,
} from './map.js';

/** One Modbus read request and the entries it serves. */
export interface ReadBlock {
  fn: RegisterFn;
  address: number;
  count: number;
  entries: RegisterEntry[];
}

/**
 * Groups a map's entries into reads: per function, sorted by address, neighbours merged while the
 * gap between them is at most `max_gap` unused registers and the read stays within `max_count`.
 * With the default gap of 0, only contiguous (or overlapping) entries share a read.
 */
export function planReads(map: RegisterMap): ReadBlock[] {
  const blocks: ReadBlock[] = [];
  const maxGap = map.max_gap ?? 0;
  const order: RegisterFn[] = ['holding', 'input', 'coil', 'discrete'];
  for (const fn of order) {
    const entries = map.entries
      .filter((e) => e.fn === fn)
      .sort((a, b) => a.address - b.address || wordsOf(b.type) - wordsOf(a.type));
    const maxCount = Math.min(map.max_count ?? protocolMaxCount(fn), protocolMaxCount(fn));
    let cur: ReadBlock | null = null;
    for (const e of entries) {
      const words = isRegisterFn(fn) ? wordsOf(e.type) : 1;
      const end = e.address + words; // exclusive
      if (cur) {
        const curEnd = cur.address + cur.count;
        const gap = e.address - curEnd;
        const newCount = Math.max(curEnd, end) - cur.address;
        if (gap <= maxGap && newCount <= maxCount) {
          cur.count = newCount;
          cur.entries.push(e);
          continue;
        }
      }
      cur = { fn, address: e.address, count: words, entries: [e] };
      blocks.push(cur);
    }
  }
  return blocks;
}

/** Keeps seven significant digits of a float32 (all it has): 229.8 rather than 229.8000030517578. */
const f32Digits = (v: number): number => Number(v.toPrecision(7));

/** The raw number an entry's registers hold, before bit, enum and scale; null for NaN/∞ floats. */
export function rawValue(e: RegisterEntry, words: readonly number[], at: number): number | null {
  const w0 = words[at];
  if (w0 === undefined) return null;
  const type = e.type ?? 'u16';
  if (type === 'u16') return w0 & 0xffff;
  if (type === 'i16') return ((w0 & 0xffff) << 16) >> 16;
  const w1 = words[at + 1];
  if (w1 === undefined) return null;
  const [hi, lo] = (e.word_order ?? 'be') === 'be' ? [w0, w1] : [w1, w0];
  const buf = Buffer.alloc(4);
  buf.writeUInt16BE(hi & 0xffff, 0);
  buf.writeUInt16BE(lo & 0xffff, 2);
  if (type === 'u32') return buf.readUInt32BE(0);
  if (type === 'i32') return buf.readInt32BE(0);
  const f = buf.readFloatBE(0);
  return Number.isFinite(f) ? f32Digits(f) : null;
}

/** Raw → metric value: no_value, then bit, then enum or scale and offset. Null means "no reading". */
export function entryValue(e: RegisterEntry, raw: number | null): number | null {
  if (raw === null || e.no_value?.includes(raw)) return null;
  let v = raw;
  if (e.bit !== undefined) {
    // Bits of the register as sent: a signed type's negative value is its two's complement.
    const unsigned = v < 0 ? v + (e.type === 'i32' ? 2 ** 32 : 2 ** 16) : v;
    v = Math.floor(unsigned / 2 ** e.bit) % 2;
  }
  if (e.enum) return e.enum[String(v)] ?? null;
  const out = v * (e.scale ?? 1) + (e.offset ?? 0);
  return Number.isFinite(out) ? Math.round(out * 1e6) / 1e6 : null;
}

/** Decodes every entry of one block from the words (registers) or bits (0/1) that its read returned. */
export function decodeBlock(
  block: ReadBlock,
  data: readonly number[],
): Array<{ entry: RegisterEntry; value: number | null }> {
  return block.entries.map((entry) => {
    const at = entry.address - block.address;
    const raw = isRegisterFn(block.fn) ? rawValue(entry, data, at) : (data[at] ?? null);
    return { entry, value: entryValue(entry, raw) };
  });
}
