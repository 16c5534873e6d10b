// Helpers the benches share: ports, /proc figures, env options, formatting.
// Not imported from test/support/procs.ts: the bench builds with rootDir src and runs from dist,
// where ../../support is neither compiled nor present.

import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port now. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise<boolean>((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/** Waits (300 tries, everyMs apart) until the port accepts connections, else throws `failure`. */
export async function waitPort(port: number, failure: string, everyMs = 100): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await portOpen(port)) return;
    await sleep(everyMs);
  }
  throw new Error(failure);
}

/** User + system CPU time (ms) and VmRSS/VmHWM (kB) of a live process; throws if it is gone. */
export function procStat(pid: number): { cpuMs: number; rssKb: number; hwmKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { cpuMs: procCpuMsOf(pid), rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

function procCpuMsOf(pid: number): number {
  // utime and stime are fields 14 and 15, after the parenthesised command name (100 ticks a second).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** User + system CPU time of a process in ms; 0 once it is gone. */
export function procCpuMs(pid: number): number {
  try {
    return procCpuMsOf(pid);
  } catch {
    return 0;
  }
}

/** VmRSS of a process in MB; 0 once it is gone. */
export function rssMb(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** A whole number >= 0 from the environment variable `k`, `d` when unset. */
export function envWhole(k: string, d: number): number {
  const v = Number(process.env[k] ?? d);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${k} must be a whole number, got ${process.env[k]}`);
  return v;
}

/** A number with `d` decimals and thousands separators (en-US); 'n/a' when not finite. */
export const fmt = (x: number, d = 0) =>
  Number.isFinite(x)
    ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
    : 'n/a';

/** The middle value (the upper of the two middle ones for an even count); NaN for none. */
export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length ? sorted[sorted.length >> 1]! : Number.NaN;
}
