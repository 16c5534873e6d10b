// Which addresses a scan visits: a subnet in CIDR form (capped, so a typo cannot start a sweep of a
// whole /8 over a radio link) plus any addresses given one by one.

import { isIPv4 } from 'node:net';

/** The largest subnet a scan sweeps: a /22, 1022 hosts. */
export const MAX_PREFIX_HOSTS = 22;

export class TargetError extends Error {}

const toInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const toDotted = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** The host addresses of an IPv4 subnet ("10.1.2.0/24"), without network and broadcast addresses. */
export function expandCidr(cidr: string): string[] {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || !isIPv4(m[1]!))
    throw new TargetError(`"${cidr}" is not a subnet like 10.1.2.0/24 / bukan subnet seperti 10.1.2.0/24`);
  const prefix = Number(m[2]);
  if (prefix > 32) throw new TargetError(`"${cidr}": the prefix must be 0–32`);
  if (prefix < MAX_PREFIX_HOSTS)
    throw new TargetError(
      `"${cidr}" is too large: scan at most a /${MAX_PREFIX_HOSTS} at a time / terlalu besar: paling banyak /${MAX_PREFIX_HOSTS} sekali pindai`,
    );
  const size = 2 ** (32 - prefix);
  const base = toInt(m[1]!) - (toInt(m[1]!) % size);
  if (size <= 2) return Array.from({ length: size }, (_, i) => toDotted(base + i));
  return Array.from({ length: size - 2 }, (_, i) => toDotted(base + 1 + i));
}

/** Subnet hosts and single addresses, each once, in order. */
export function scanTargets(subnets: readonly string[], addresses: readonly string[]): string[] {
  const out = new Set<string>();
  for (const s of subnets) for (const a of expandCidr(s)) out.add(a);
  for (const a of addresses) {
    if (!isIPv4(a.trim())) throw new TargetError(`"${a}" is not an IPv4 address / bukan alamat IPv4`);
    out.add(a.trim());
  }
  return [...out];
}

/** Runs `fn` over items with at most `limit` at once; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (x: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
