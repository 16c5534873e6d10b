import { describe, expect, it } from 'vitest';
import { parsePing, pingBurst, pingReading } from './index.js';

const PARTIAL = `PING 10.10.1.2 (10.10.1.2) 56(84) bytes of data.
64 bytes from 10.10.1.2: icmp_seq=1 ttl=64 time=2.10 ms
64 bytes from 10.10.1.2: icmp_seq=2 ttl=64 time=4.10 ms
64 bytes from 10.10.1.2: icmp_seq=2 ttl=64 time=4.30 ms (DUP!)
64 bytes from 10.10.1.2: icmp_seq=4 ttl=64 time=3.10 ms

--- 10.10.1.2 ping statistics ---
5 packets transmitted, 3 received, +1 duplicates, 40% packet loss, time 805ms
`;
const NONE = `PING 10.10.9.9 (10.10.9.9) 56(84) bytes of data.

--- 10.10.9.9 ping statistics ---
5 packets transmitted, 0 received, 100% packet loss, time 4090ms
`;
const V6 = `PING ::1(::1) 56 data bytes
64 bytes from ::1: icmp_seq=1 ttl=64 time=0.031 ms
64 bytes from ::1: icmp_seq=2 ttl=64 time=0.045 ms

--- ::1 ping statistics ---
2 packets transmitted, 2 received, 0% packet loss, time 1001ms
`;

describe('ping output', () => {
  it('counts partial loss, ignores duplicates, computes jitter', () => {
    const r = parsePing(PARTIAL, 5);
    expect(r).toMatchObject({
      sent: 5,
      received: 3,
      loss_pct: 40,
      latency_min_ms: 2.1,
      latency_max_ms: 4.1,
      rtts_ms: [2.1, 4.1, 3.1],
    });
    expect(r.latency_ms).toBeCloseTo(3.1, 6);
    expect(r.jitter_ms).toBeCloseTo(1.5, 6);
  });
  it('total loss is a result with no latency, not an error', () => {
    const r = parsePing(NONE, 5);
    expect(r).toMatchObject({ sent: 5, received: 0, loss_pct: 100, latency_ms: null });
    expect(pingReading(r, 1).values).toEqual({ loss_pct: 100 });
  });
  it('reads IPv6 output', () => {
    expect(parsePing(V6, 2)).toMatchObject({ received: 2, loss_pct: 0, latency_min_ms: 0.031 });
  });
});

describe('ping against loopback (real iputils ping)', () => {
  it('answers with no loss', async () => {
    const r = await pingBurst('127.0.0.1', { count: 3, intervalMs: 200 });
    expect(r.sent).toBe(3);
    expect(r.loss_pct).toBe(0);
    expect(r.latency_ms).toBeGreaterThanOrEqual(0);
  });
});
