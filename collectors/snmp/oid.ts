// OIDs as arrays of arcs; compared arc by arc, which is the order SNMP walks in.

export type Oid = readonly number[];

export function parseOid(s: string): number[] {
  const t = s.startsWith('.') ? s.slice(1) : s;
  if (!/^\d+(\.\d+)+$/.test(t)) throw new TypeError(`not a numeric OID: "${s}"`);
  return t.split('.').map(Number);
}

export const oidString = (o: Oid) => o.join('.');

export function compareOid(a: Oid, b: Oid): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function isUnder(oid: Oid, prefix: Oid): boolean {
  if (oid.length <= prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (oid[i] !== prefix[i]) return false;
  return true;
}
