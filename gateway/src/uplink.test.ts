import { parsePing } from '@pantau/collectors/ping';
import { describe, expect, it } from 'vitest';
import type { UplinkConfig } from './config.js';
import { type HopResult, judgePath, pathReadings, probePath } from './uplink.js';

const hops: UplinkConfig['hops'] = [
  { id: 'relay', address: '10.20.0.1', name: 'Relay Bukit', link: 'bukit-relay' },
  { id: 'pusat', address: '10.0.0.1', name: 'Command Center', link: 'relay-scc' },
];

/** A burst as iputils prints it: `rtts` replies out of `sent`, the rest lost. */
function burst(sent: number, rtts: number[]): HopResult['result'] {
  const lines = rtts.map((t, i) => `64 bytes from x: icmp_seq=${i + 1} ttl=64 time=${t} ms`);
  return parsePing(`${lines.join('\n')}\n${sent} packets transmitted, ${rtts.length} received\n`, sent);
}
const at = (a: HopResult['result'], b: HopResult['result']): HopResult[] => [
  { hop: hops[0]!, result: a },
  { hop: hops[1]!, result: b },
];

describe('path judgement', () => {
  it('a healthy path is ok, each hop labelled with its link and carrying its distribution', () => {
    const results = at(burst(5, [2, 3, 2, 4, 3]), burst(5, [9, 12, 10, 30, 11]));
    expect(judgePath(results, new Map())).toEqual({ status: 'ok', reasons: [] });
    const [relay, pusat] = pathReadings(results, 1000);
    expect(relay!.labels).toEqual({
      hop: 'relay',
      hop_index: '1',
      address: '10.20.0.1',
      hop_name: 'Relay Bukit',
      link: 'bukit-relay',
    });
    expect(pusat!.values).toMatchObject({
      loss_pct: 0,
      latency_p50_ms: 11,
      latency_min_ms: 9,
      latency_max_ms: 30,
    });
  });

  it('names the hop where the path breaks and the link it is reached through', () => {
    const v = judgePath(at(burst(5, [2, 2, 2, 2, 2]), burst(5, [])), new Map());
    expect(v.status).toBe('down');
    expect(v.reasons[0]).toMatchObject({ code: 'path_broken' });
    expect(v.reasons[0]!.id).toBe(
      'Jalur ke pusat putus setelah Relay Bukit: Command Center tidak menjawab (tautan relay-scc)',
    );
    expect(v.reasons[0]!.en).toContain('broken after Relay Bukit');
    const first = judgePath(at(burst(5, []), burst(5, [])), new Map());
    expect(first.reasons[0]!.id).toContain('putus di hop pertama: Relay Bukit');
  });

  it('a silent hop with answering hops beyond it filters ICMP: a note, not a break', () => {
    const v = judgePath(at(burst(5, []), burst(5, [9, 9, 9, 9, 9])), new Map());
    expect(v.status).toBe('ok');
    expect(v.reasons.map((r) => r.code)).toEqual(['hop_filtered']);
  });

  it('loss on a hop degrades the path, with hysteresis per hop', () => {
    const active = new Map<string, Set<string>>();
    const lossy = (n: number) =>
      at(burst(10, [2, 2, 2, 2, 2, 2, 2, 2, 2, 2].slice(0, n)), burst(10, Array(10).fill(9)));
    const v = judgePath(lossy(7), active);
    expect(v.status).toBe('degraded');
    expect(v.reasons[0]!.id).toBe('Relay Bukit: Banyak paket hilang: 30%');
    // 10 % is below the 20 % line but not below 20 − 10: still raised.
    expect(judgePath(lossy(9), active).status).toBe('degraded');
    expect(judgePath(lossy(10), active).status).toBe('ok');
  });
});

describe('path probe with real iputils ping', () => {
  it('bursts to every hop at once; a hop that never answers is total loss, not an error', async () => {
    const results = await probePath({
      interval_s: 60,
      probes: 4,
      probe_interval_ms: 200,
      timeout_ms: 500,
      hops: [
        { id: 'lo', address: '127.0.0.1' },
        // Class E: reserved, routed nowhere, so no reply ever comes back.
        { id: 'void', address: '240.0.0.1', link: 'gone' },
      ],
    });
    expect(results[0]!.result).toMatchObject({ sent: 4, received: 4, loss_pct: 0 });
    expect(results[0]!.result.percentiles_ms!.p50).toBeGreaterThanOrEqual(0);
    expect(results[1]!.result).toMatchObject({ received: 0, loss_pct: 100 });
    const v = judgePath(results, new Map());
    expect(v.status).toBe('down');
    expect(v.reasons[0]!.en).toBe(
      'Path to the command center broken after lo: void not answering (link gone)',
    );
  });
});
