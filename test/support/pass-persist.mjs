#!/usr/bin/env node
// Serves one subtree of a recorded walk (.snmprec) to net-snmp's snmpd through its `pass_persist`
// protocol (snmpd.conf(5), "pass_persist"), so the real agent answers with the recorded vendor values.
//
//   pass-persist.mjs RECORDING.snmprec .1.3.6.1.4.1.41112
//
// snmpd writes "PING\n" before every request (answer "PONG\n"); "get\nOID\n" and "getnext\nOID\n" are
// answered with "OID\nTYPE\nVALUE\n" or "NONE\n"; "set\nOID\nTYPE VALUE\n" with "not-writable\n".
// Plain JavaScript on purpose: snmpd runs it as a child process, without the TypeScript toolchain.

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const [recordingPath, prefixArg] = process.argv.slice(2);
if (!recordingPath || !prefixArg) {
  process.stderr.write('usage: pass-persist.mjs RECORDING.snmprec SUBTREE-OID\n');
  process.exit(2);
}

/** ".1.3.6" or "1.3.6" → [1, 3, 6]; throws on anything else. */
function parseOid(s) {
  const t = s.trim().replace(/^\./, '');
  if (!/^\d+(\.\d+)*$/.test(t)) throw new Error(`not a numeric OID: "${s}"`);
  return t.split('.').map(Number);
}

function compareOid(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length;
}

const isUnder = (oid, root) => oid.length >= root.length && root.every((arc, i) => oid[i] === arc);
const dotted = (oid) => `.${oid.join('.')}`;
const hexBytes = (buf) => [...buf].map((b) => b.toString(16).padStart(2, '0')).join(' ');
/** snmpd reads a `string` value up to the newline; anything not printable ASCII goes as `octet` hex. */
const printable = (buf) => buf.every((b) => b >= 0x20 && b <= 0x7e);

function ipAddress(raw, where) {
  const bytes = /^[0-9a-f]{8}$/i.test(raw) ? [...Buffer.from(raw, 'hex')] : raw.split('.').map(Number);
  if (bytes.length !== 4 || bytes.some((b) => !(b >= 0 && b <= 255)))
    throw new Error(`${where}: bad IpAddress "${raw}"`);
  return bytes.join('.');
}

function integer(raw, where) {
  const v = raw === '' ? '0' : raw.trim();
  if (!/^-?\d+$/.test(v)) throw new Error(`${where}: not an integer "${raw}"`);
  return v;
}

/** One recorded line as pass_persist's TYPE and VALUE lines; null for types it cannot carry (Null). */
function toPass(tag, raw, where) {
  switch (tag) {
    case '2':
      return ['integer', integer(raw, where)];
    case '65':
      return ['counter', integer(raw, where)];
    case '66':
      return ['gauge', integer(raw, where)];
    case '67':
      return ['timeticks', integer(raw, where)];
    case '70':
      return ['counter64', integer(raw, where)];
    case '4': {
      const buf = Buffer.from(raw, 'utf8');
      return printable(buf) ? ['string', raw] : ['octet', hexBytes(buf)];
    }
    case '4x':
      return ['octet', hexBytes(Buffer.from(raw, 'hex'))];
    case '6':
      return ['objectid', dotted(parseOid(raw))];
    case '64':
      return ['ipaddress', ipAddress(raw, where)];
    case '64x':
      return ['ipaddress', ipAddress(raw.toLowerCase(), where)];
    case '5':
      return null;
    default:
      throw new Error(`${where}: unsupported snmprec type "${tag}"`);
  }
}

const root = parseOid(prefixArg);
const entries = [];
readFileSync(recordingPath, 'utf8')
  .split(/\r?\n/)
  .forEach((line, i) => {
    if (!line.trim() || line.startsWith('#')) return;
    const where = `${recordingPath}:${i + 1}`;
    const a = line.indexOf('|');
    const b = line.indexOf('|', a + 1);
    if (a < 0 || b < 0) throw new Error(`${where}: expected OID|TYPE|VALUE`);
    const oid = parseOid(line.slice(0, a));
    if (!isUnder(oid, root)) return;
    const value = toPass(line.slice(a + 1, b), line.slice(b + 1), where);
    if (value) entries.push({ oid, type: value[0], value: value[1] });
  });
entries.sort((x, y) => compareOid(x.oid, y.oid));

function answer(e) {
  return e ? `${dotted(e.oid)}\n${e.type}\n${e.value}\n` : 'NONE\n';
}

function get(oidText) {
  const oid = parseOid(oidText);
  return answer(entries.find((e) => compareOid(e.oid, oid) === 0));
}

function getNext(oidText) {
  const oid = parseOid(oidText);
  return answer(entries.find((e) => compareOid(e.oid, oid) > 0));
}

// One write per answer: stdout on a pipe is synchronous on Linux, so every answer leaves at once.
const reply = (text) => process.stdout.write(text);

// Requests span lines: a command, then its OID (and for set, a type and value line).
let pending = null;
const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
rl.on('line', (raw) => {
  const line = raw.trim();
  try {
    if (pending === null) {
      if (line === '') return;
      if (line === 'PING') return reply('PONG\n');
      if (line === 'get' || line === 'getnext' || line === 'set') {
        pending = { cmd: line, oid: null };
        return;
      }
      return reply('NONE\n');
    }
    if (pending.cmd === 'set') {
      if (pending.oid === null) {
        pending.oid = line;
        return;
      }
      pending = null;
      return reply('not-writable\n');
    }
    const { cmd } = pending;
    pending = null;
    return reply(cmd === 'get' ? get(line) : getNext(line));
  } catch (e) {
    pending = null;
    process.stderr.write(`pass-persist: ${e instanceof Error ? e.message : String(e)}\n`);
    return reply('NONE\n');
  }
});
rl.on('close', () => process.exit(0));
