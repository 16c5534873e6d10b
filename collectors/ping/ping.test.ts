import { describe, expect, it } from 'vitest';
import { parsePing, percentiles, pingBurst, pingReading } from './index.js';

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

describe('burst distribution (SmokePing-style)', () => {
  it('interpolates percentiles between closest ranks, as numpy does', () => {
    // numpy.percentile([1..10], [10, 25, 50, 75, 90]) = 1.9, 3.25, 5.5, 7.75, 9.1
    expect(percentiles([10, 9, 8, 7, 6, 5, 4, 3, 2, 1])).toEqual({
      p10: 1.9,
      p25: 3.25,
      p50: 5.5,
      p75: 7.75,
      p90: 9.1,
    });
    expect(percentiles([4.2])).toEqual({ p10: 4.2, p25: 4.2, p50: 4.2, p75: 4.2, p90: 4.2 });
    expect(percentiles([])).toBeNull();
  });
  it('a reading carries the distribution of the replies that came back', () => {
    const values = pingReading(parsePing(PARTIAL, 5), 1).values;
    // Replies 2.1, 4.1, 3.1 (the duplicate ignored): the median is 3.1, not the mean of all four.
    expect(values).toMatchObject({
      loss_pct: 40,
      latency_p50_ms: 3.1,
      latency_p10_ms: 2.3,
      latency_p90_ms: 3.9,
    });
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
