// ICMP latency and loss by a short burst of echo requests, using iputils `ping` as a child process
// (Node has no raw sockets). Fixed arguments, no shell, and a hard kill if ping itself hangs.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Reading } from '@pantau/contract';
import { CollectorError } from '../common/errors.js';

export interface PingOptions {
  count: number;
  intervalMs: number;
  /** How long to wait for each reply. */
  timeoutMs: number;
}

export interface PingResult {
  sent: number;
  received: number;
  loss_pct: number;
  latency_ms: number | null;
  latency_min_ms: number | null;
  latency_max_ms: number | null;
  jitter_ms: number | null;
  /** The distribution of the burst, SmokePing-style: a spread-out burst is a different link from a tight one. */
  percentiles_ms: Percentiles | null;
  rtts_ms: number[];
}

export interface Percentiles {
  p10: number;
  p25: number;
  p50: number;
  p75: number;
  p90: number;
}

/** Percentiles by linear interpolation between closest ranks (the definition numpy and R type 7 use). */
export function percentiles(values: number[]): Percentiles | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => {
    const pos = (sorted.length - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return round(sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo));
  };
  return { p10: at(0.1), p25: at(0.25), p50: at(0.5), p75: at(0.75), p90: at(0.9) };
}

const PING_PATHS = ['/usr/bin/ping', '/bin/ping'];
const round = (x: number) => Math.round(x * 1000) / 1000;

/** Parses iputils ping output: every reply's RTT (duplicates ignored) and the transmitted count. */
export function parsePing(output: string, count: number): PingResult {
  const seen = new Set<string>();
  const rtts: number[] = [];
  for (const line of output.split('\n')) {
    const m = /icmp_seq=(\d+).*time[=<]([\d.]+) ms/.exec(line);
    if (!m || line.includes('DUP!') || seen.has(m[1]!)) continue;
    seen.add(m[1]!);
    rtts.push(Number(m[2]));
  }
  const sentMatch = /(\d+) packets transmitted/.exec(output);
  const sent = sentMatch ? Number(sentMatch[1]) : count;
  const received = rtts.length;
  const loss = sent > 0 ? round(((sent - received) / sent) * 100) : 100;
  if (received === 0) {
    return {
      sent,
      received,
      loss_pct: 100,
      latency_ms: null,
      latency_min_ms: null,
      latency_max_ms: null,
      jitter_ms: null,
      percentiles_ms: null,
      rtts_ms: [],
    };
  }
  let jitter = 0;
  for (let i = 1; i < rtts.length; i++) jitter += Math.abs(rtts[i]! - rtts[i - 1]!);
  return {
    sent,
    received,
    loss_pct: loss,
    latency_ms: round(rtts.reduce((a, b) => a + b, 0) / received),
    latency_min_ms: round(Math.min(...rtts)),
    latency_max_ms: round(Math.max(...rtts)),
    jitter_ms: rtts.length > 1 ? round(jitter / (rtts.length - 1)) : 0,
    percentiles_ms: percentiles(rtts),
    rtts_ms: rtts,
  };
}

export function pingBurst(address: string, opts: Partial<PingOptions> = {}): Promise<PingResult> {
  const count = opts.count ?? 5;
  const intervalMs = Math.max(opts.intervalMs ?? 200, 200); // below 200 ms iputils wants root
  const timeoutMs = opts.timeoutMs ?? 1000;
  const bin = PING_PATHS.find((p) => existsSync(p));
  if (!bin)
    return Promise.reject(
      new CollectorError('unsupported', 'ping is not installed: apt-get install -y iputils-ping'),
    );
  const args = [
    ...(isIP(address) === 6 ? ['-6'] : []),
    '-n',
    '-c',
    String(count),
    '-i',
    String(intervalMs / 1000),
    '-W',
    String(Math.max(1, Math.ceil(timeoutMs / 1000))),
    '--',
    address,
  ];
  const deadline = count * intervalMs + timeoutMs + 2000;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), deadline);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new CollectorError('unsupported', `cannot run ping: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      // Exit 1 = no reply (still a result: 100 % loss); 2 = ping could not run at all.
      if (code === 2 && !out.includes('packets transmitted')) {
        const msg = err.trim() || out.trim();
        if (/Operation not permitted|permission/i.test(msg))
          return reject(
            new CollectorError('unsupported', `ping needs CAP_NET_RAW or net.ipv4.ping_group_range: ${msg}`),
          );
        return reject(new CollectorError('unreachable', `ping ${address}: ${msg}`));
      }
      resolve(parsePing(out, count));
    });
  });
}

export function pingReading(r: PingResult, ts: number): Reading {
  const values: Reading['values'] = { loss_pct: r.loss_pct };
  if (r.latency_ms !== null) values.latency_ms = r.latency_ms;
  if (r.latency_min_ms !== null) values.latency_min_ms = r.latency_min_ms;
  if (r.latency_max_ms !== null) values.latency_max_ms = r.latency_max_ms;
  if (r.jitter_ms !== null) values.jitter_ms = r.jitter_ms;
  if (r.percentiles_ms) {
    values.latency_p10_ms = r.percentiles_ms.p10;
    values.latency_p25_ms = r.percentiles_ms.p25;
    values.latency_p50_ms = r.percentiles_ms.p50;
    values.latency_p75_ms = r.percentiles_ms.p75;
    values.latency_p90_ms = r.percentiles_ms.p90;
  }
  return { ts, values };
}
