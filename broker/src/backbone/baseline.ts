// Commissioning: a link's baseline is the median of what each end measured over a quiet window
// (by default the last 15 minutes), read back from the store through the same extraction the live
// classifier uses.

import type { MetricName, Reading } from '@pantau/contract';
import type { Store } from '../store/index.js';
import type { EndBaseline, LinkBaseline } from './classifier.js';
import type { Backbone } from './description.js';
import { type EndSample, extractEnd, medianOf } from './ends.js';

const METRICS: MetricName[] = [
  'rx_power_dbm',
  'rx_power_ideal_dbm',
  'chain_imbalance_db',
  'snr_db',
  'noise_floor_dbm',
  'mcs_index',
  'capacity_rx_bps',
  'capacity_tx_bps',
  'uptime_s',
];

export class BaselineError extends Error {}

async function endSamples(
  store: Store,
  site: string,
  device: string,
  station: string | undefined,
  from: number,
  to: number,
): Promise<EndSample[]> {
  const byTs = new Map<number, Reading[]>();
  for (const metric of METRICS) {
    for (const series of await store.history({ site, device, metric, from, to })) {
      for (const [ts, value] of series.points) {
        const list = byTs.get(ts) ?? [];
        const labels = series.labels;
        const key = JSON.stringify(labels);
        let r = list.find((x) => JSON.stringify(x.labels ?? {}) === key);
        if (!r) {
          r = { ts, values: {}, ...(Object.keys(labels).length ? { labels } : {}) };
          list.push(r);
        }
        r.values[metric] = value;
        byTs.set(ts, list);
      }
    }
  }
  return [...byTs.entries()]
    .sort(([a], [b]) => a - b)
    .flatMap(([, readings]) => {
      const s = extractEnd(readings, station ? { station } : {});
      return s && s.rx_dbm !== undefined ? [s] : [];
    });
}

function summarise(samples: EndSample[]): EndBaseline {
  const b: EndBaseline = {};
  const put = (k: keyof EndBaseline, v: number | undefined) => {
    if (v !== undefined) b[k] = Math.round(v * 10) / 10;
  };
  put('rx_dbm', medianOf(samples, 'rx_dbm'));
  put('snr_db', medianOf(samples, 'snr_db'));
  put('noise_dbm', medianOf(samples, 'noise_dbm'));
  put('mcs', medianOf(samples, 'mcs'));
  put('imbalance_db', medianOf(samples, 'imbalance_db'));
  put('capacity_rx_bps', medianOf(samples, 'capacity_rx_bps'));
  put('capacity_tx_bps', medianOf(samples, 'capacity_tx_bps'));
  return b;
}

/** Computes (does not save) a link's baseline from the stored readings of both ends. */
export async function computeBaseline(
  store: Store,
  bb: Backbone,
  linkId: string,
  opts: { from: number; to: number; by: string; minSamples?: number },
): Promise<LinkBaseline & { samples: { a: number; b: number } }> {
  const link = bb.links.get(linkId);
  if (!link) throw new BaselineError(`no link "${linkId}" in the backbone`);
  const min = opts.minSamples ?? 3;
  const out: LinkBaseline & { samples: { a: number; b: number } } = {
    recorded_at: opts.to,
    recorded_by: opts.by,
    samples: { a: 0, b: 0 },
  };
  for (const end of ['a', 'b'] as const) {
    const e = link[end];
    if (!e.device) continue;
    const samples = await endSamples(store, e.site, e.device, e.station, opts.from, opts.to);
    out.samples[end] = samples.length;
    if (samples.length >= min) out[end] = summarise(samples);
  }
  // An end that reports but has too few readings yet is waited for: a one-ended baseline only when
  // the other end says nothing at all (unreachable at commissioning).
  for (const end of ['a', 'b'] as const)
    if (out.samples[end] > 0 && out.samples[end] < min)
      throw new BaselineError(
        `link "${linkId}": only ${out.samples[end]} of ${min} readings yet at the ${end.toUpperCase()} end; try again shortly`,
      );
  if (!out.a && !out.b)
    throw new BaselineError(
      `link "${linkId}": fewer than ${min} readings with rx power at either end between ${new Date(opts.from).toISOString()} and ${new Date(opts.to).toISOString()}`,
    );
  return out;
}
