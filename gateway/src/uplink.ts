// The site box's own path to the command center, hop by hop, SmokePing-style: a burst of probes to
// each hop at the same moment, the whole distribution kept. Each hop names the backbone link it
// sits behind, so the central can put loss and latency on that link's card and tell which link of
// the path adds the delay.

import { isCollectorError } from '@pantau/collectors/common';
import { type PingResult, pingBurst, pingReading } from '@pantau/collectors/ping';
import type { MetricName, Reading, Reason, Status } from '@pantau/contract';
import type { UplinkConfig } from './config.js';
import { DEFAULT_RULES, evaluateRules, worst } from './health/rules.js';

/** The pseudo-device a site box publishes its path under. */
export const UPLINK_DEVICE = 'uplink';

export type HopConfig = UplinkConfig['hops'][number];

export interface HopResult {
  hop: HopConfig;
  /** With no route to the hop at all, a burst with every probe lost. */
  result: PingResult;
}

const LOSS_RULES = DEFAULT_RULES.filter((r) => r.metric === 'loss_pct');
const label = (h: HopConfig) => h.name ?? h.id;

/** One burst to every hop at once, so the hops' figures describe the same moment. */
export async function probePath(cfg: UplinkConfig): Promise<HopResult[]> {
  return Promise.all(
    cfg.hops.map(async (hop) => {
      try {
        const result = await pingBurst(hop.address, {
          count: cfg.probes,
          intervalMs: cfg.probe_interval_ms,
          timeoutMs: cfg.timeout_ms,
        });
        return { hop, result };
      } catch (e) {
        // No route to the hop is what a broken path looks like from here: a result, not a failure.
        if (isCollectorError(e) && e.kind === 'unreachable') return { hop, result: silent(cfg.probes) };
        throw e;
      }
    }),
  );
}

function silent(sent: number): PingResult {
  return {
    sent,
    received: 0,
    loss_pct: 100,
    latency_ms: null,
    latency_min_ms: null,
    latency_max_ms: null,
    jitter_ms: null,
    percentiles_ms: null,
    rtts_ms: [],
  };
}

/** One reading per hop, labelled with the hop and the backbone link it is reached through. */
export function pathReadings(results: HopResult[], ts: number): Reading[] {
  return results.map(({ hop, result }, i) => ({
    ...pingReading(result, ts),
    labels: {
      hop: hop.id,
      hop_index: String(i + 1),
      address: hop.address,
      ...(hop.name ? { hop_name: hop.name } : {}),
      ...(hop.link ? { link: hop.link } : {}),
    },
  }));
}

/**
 * Judges the path. The hop where answers stop (and stay stopped to the end) is where the path is
 * broken; a hop that is silent while the hops beyond it answer only filters ICMP. Loss rules keep
 * their hysteresis per hop in `active`.
 */
export function judgePath(
  results: HopResult[],
  active: Map<string, Set<string>>,
): { status: Status; reasons: Reason[] } {
  const answered = results.map((h) => h.result.received > 0);
  let brokenAt = answered.length;
  while (brokenAt > 0 && !answered[brokenAt - 1]) brokenAt--;
  const reasons: Reason[] = [];
  let status: Status = 'ok';
  if (brokenAt < results.length) {
    const dead = results[brokenAt]!.hop;
    const via = dead.link ? ` (tautan ${dead.link})` : '';
    const viaEn = dead.link ? ` (link ${dead.link})` : '';
    const prev = brokenAt > 0 ? results[brokenAt - 1]!.hop : null;
    status = 'down';
    reasons.push(
      prev
        ? {
            code: 'path_broken',
            id: `Jalur ke pusat putus setelah ${label(prev)}: ${label(dead)} tidak menjawab${via}`,
            en: `Path to the command center broken after ${label(prev)}: ${label(dead)} not answering${viaEn}`,
          }
        : {
            code: 'path_broken',
            id: `Jalur ke pusat putus di hop pertama: ${label(dead)} tidak menjawab${via}`,
            en: `Path to the command center broken at the first hop: ${label(dead)} not answering${viaEn}`,
          },
    );
  }
  results.forEach(({ hop, result }, i) => {
    const set = active.get(hop.id) ?? new Set<string>();
    active.set(hop.id, set);
    if (i >= brokenAt) {
      set.clear();
      return;
    }
    if (!answered[i]) {
      reasons.push({
        code: 'hop_filtered',
        id: `${label(hop)} tidak menjawab ping, tetapi hop sesudahnya menjawab (ICMP disaring)`,
        en: `${label(hop)} does not answer ping, but the hops beyond it do (ICMP filtered)`,
      });
      set.clear();
      return;
    }
    const figures: Partial<Record<MetricName, number>> = { loss_pct: result.loss_pct };
    const judged = evaluateRules(LOSS_RULES, figures, set);
    status = worst(status, judged.status);
    for (const r of judged.reasons)
      reasons.push({ code: r.code, id: `${label(hop)}: ${r.id}`, en: `${label(hop)}: ${r.en}` });
  });
  return { status, reasons };
}
