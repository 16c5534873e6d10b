// Recorded SNMP walks: the `.snmprec` format of the fixtures (OID|TYPE|VALUE) and `snmpwalk -On`
// output, which users attach to bug reports.

import { readFileSync } from 'node:fs';
import { Tag } from './ber.js';
import { compareOid, parseOid } from './oid.js';

export type VarValue = bigint | Buffer | number[];

/** One recorded variable: BER tag of its type and its value (bigint, bytes, or OID arcs). */
export interface Varbind {
  oid: number[];
  tag: number;
  value: VarValue;
}

const NUMERIC_TAGS: Record<string, number> = {
  '2': Tag.Integer,
  '65': Tag.Counter32,
  '66': Tag.Gauge32,
  '67': Tag.TimeTicks,
  '70': Tag.Counter64,
};

function ipBytes(s: string, where: string): Buffer {
  const parts = s.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255)))
    throw new Error(`${where}: bad IpAddress "${s}"`);
  return Buffer.from(parts);
}

export function parseSnmprec(text: string, source = 'snmprec'): Varbind[] {
  const out: Varbind[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim() || line.startsWith('#')) return;
    const where = `${source}:${i + 1}`;
    const a = line.indexOf('|');
    const b = line.indexOf('|', a + 1);
    if (a < 0 || b < 0) throw new Error(`${where}: expected OID|TYPE|VALUE`);
    const oid = parseOid(line.slice(0, a));
    const type = line.slice(a + 1, b);
    const raw = line.slice(b + 1);
    const numeric = NUMERIC_TAGS[type];
    if (numeric !== undefined) out.push({ oid, tag: numeric, value: BigInt(raw || '0') });
    else if (type === '4') out.push({ oid, tag: Tag.OctetString, value: Buffer.from(raw, 'utf8') });
    else if (type === '4x') out.push({ oid, tag: Tag.OctetString, value: Buffer.from(raw, 'hex') });
    else if (type === '6') out.push({ oid, tag: Tag.OID, value: parseOid(raw) });
    else if (type === '64')
      out.push({
        oid,
        tag: Tag.IpAddress,
        value: /^[0-9a-f]{8}$/i.test(raw) ? Buffer.from(raw, 'hex') : ipBytes(raw, where),
      });
    else if (type === '64x') out.push({ oid, tag: Tag.IpAddress, value: Buffer.from(raw, 'hex') });
    else if (type === '5') out.push({ oid, tag: Tag.Null, value: Buffer.alloc(0) });
    else throw new Error(`${where}: unsupported snmprec type "${type}"`);
  });
  return sortVarbinds(out);
}

const WALK_LINE = /^(\.?\d+(?:\.\d+)+)\s*=\s*(?:([A-Za-z0-9-]+):\s?)?(.*)$/;

/** Parses `snmpwalk -On` output (numeric OIDs); quoted strings may span lines. */
export function parseSnmpwalk(text: string, source = 'snmpwalk'): Varbind[] {
  const out: Varbind[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    const m = WALK_LINE.exec(line);
    if (!m) {
      if (/No more variables|No Such (Object|Instance)/.test(line)) continue;
      throw new Error(`${source}:${i + 1}: not an snmpwalk -On line`);
    }
    const oid = parseOid(m[1]!);
    const type = (m[2] ?? '').toUpperCase();
    let rest = m[3] ?? '';
    const num = (s: string) => BigInt(/-?\d+/.exec(s)?.[0] ?? '0');
    switch (type) {
      case 'INTEGER':
        out.push({ oid, tag: Tag.Integer, value: num(/\((-?\d+)\)/.exec(rest)?.[1] ?? rest) });
        break;
      case 'COUNTER32':
        out.push({ oid, tag: Tag.Counter32, value: num(rest) });
        break;
      case 'GAUGE32':
      case 'UNSIGNED32':
        out.push({ oid, tag: Tag.Gauge32, value: num(rest) });
        break;
      case 'COUNTER64':
        out.push({ oid, tag: Tag.Counter64, value: num(rest) });
        break;
      case 'TIMETICKS':
        out.push({ oid, tag: Tag.TimeTicks, value: num(/\((\d+)\)/.exec(rest)?.[1] ?? rest) });
        break;
      case 'OID':
        out.push({ oid, tag: Tag.OID, value: parseOid(rest.trim()) });
        break;
      case 'IPADDRESS':
        out.push({ oid, tag: Tag.IpAddress, value: ipBytes(rest.trim(), `${source}:${i + 1}`) });
        break;
      case 'HEX-STRING':
        out.push({ oid, tag: Tag.OctetString, value: Buffer.from(rest.replace(/\s+/g, ''), 'hex') });
        break;
      case 'STRING': {
        if (rest.startsWith('"')) {
          const closed = (r: string) => r.length > 1 && r.endsWith('"');
          while (!closed(rest) && i + 1 < lines.length) rest += `\n${lines[++i]}`;
          rest = rest.slice(1, rest.endsWith('"') ? -1 : undefined);
        }
        out.push({ oid, tag: Tag.OctetString, value: Buffer.from(rest, 'utf8') });
        break;
      }
      case '':
        out.push({ oid, tag: Tag.OctetString, value: Buffer.from(rest.replace(/^"|"$/g, ''), 'utf8') });
        break;
      default:
        throw new Error(`${source}:${i + 1}: unsupported snmpwalk type "${m[2]}"`);
    }
  }
  return sortVarbinds(out);
}

export function sortVarbinds(v: Varbind[]): Varbind[] {
  return v.sort((a, b) => compareOid(a.oid, b.oid));
}

/** Loads a recording from a file; `.snmprec` or `snmpwalk -On` output, told apart by content. */
export function loadRecording(path: string): Varbind[] {
  const text = readFileSync(path, 'utf8');
  const first = text.split('\n').find((l) => l.trim() && !l.startsWith('#')) ?? '';
  return /^\.?[\d.]+\|/.test(first) ? parseSnmprec(text, path) : parseSnmpwalk(text, path);
}
