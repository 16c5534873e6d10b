// What one end of a link looks like at one instant, taken from the readings its site box published.
// The same extraction serves live telemetry and the stored history a baseline is computed from, so
// a baseline and the value it is compared with can never be read differently.

import type { Reading } from '@pantau/contract';

export interface EndSample {
  ts: number;
  /** Received power: the device figure, or the strongest chain when only chains are reported. */
  rx_dbm?: number;
  chains_dbm?: number[];
  /** Spread between chains (or the radio's own ratio, PTP): grows when a feed or polarisation is off. */
  imbalance_db?: number;
  /** The radio's own expected level (airFiber LTU), the reference when no baseline was recorded. */
  ideal_dbm?: number;
  snr_db?: number;
  noise_dbm?: number;
  /** Lowest modulation index reported (the direction that stepped down first). */
  mcs?: number;
  capacity_rx_bps?: number;
  capacity_tx_bps?: number;
  rate_rx_bps?: number;
  rate_tx_bps?: number;
  link_uptime_s?: number;
  uptime_s?: number;
}

export interface EndSelector {
  /** For an AP serving many stations: the one station that is this link. */
  station?: string;
}

const min = (xs: number[]) => (xs.length ? Math.min(...xs) : undefined);
const max = (xs: number[]) => (xs.length ? Math.max(...xs) : undefined);

/** Picks the readings that describe this link: the device itself, or one station of its table. */
function linkReadings(readings: Reading[], sel: EndSelector): { main: Reading[]; uptime?: number } {
  const device = readings.filter((r) => !r.labels || Object.keys(r.labels).length === 0);
  const uptime = device.find((r) => r.values.uptime_s !== undefined)?.values.uptime_s;
  const stations = new Set(readings.flatMap((r) => (r.labels?.station ? [r.labels.station] : [])));
  let station = sel.station;
  // A point-to-point station reports its one peer in the station table; use it when the device
  // itself carries no rx power.
  const deviceHasRx = readings.some(
    (r) => r.values.rx_power_dbm !== undefined && (!r.labels || !('station' in r.labels)),
  );
  if (!station && !deviceHasRx && stations.size === 1) station = [...stations][0];
  const main = station
    ? readings.filter((r) => r.labels?.station === station)
    : readings.filter((r) => !r.labels || !('station' in r.labels || 'iface' in r.labels));
  return { main, ...(uptime !== undefined ? { uptime } : {}) };
}

export function extractEnd(readings: Reading[], sel: EndSelector = {}): EndSample | null {
  if (readings.length === 0) return null;
  const ts = Math.max(...readings.map((r) => r.ts));
  const { main, uptime } = linkReadings(readings, sel);
  const whole = main.filter((r) => !r.labels?.chain && !r.labels?.direction);
  const chains = main.filter((r) => r.labels?.chain !== undefined);
  const get = (k: keyof Reading['values']) => {
    for (const r of whole) if (r.values[k] !== undefined) return r.values[k];
    return undefined;
  };
  const all = (k: keyof Reading['values']) =>
    main.flatMap((r) => (r.values[k] !== undefined ? [r.values[k]!] : []));
  const chainRx = chains.flatMap((r) => (r.values.rx_power_dbm !== undefined ? [r.values.rx_power_dbm] : []));
  const s: EndSample = { ts };
  const rx = get('rx_power_dbm') ?? max(chainRx);
  if (rx !== undefined) s.rx_dbm = rx;
  if (chainRx.length > 1) {
    s.chains_dbm = chainRx;
    s.imbalance_db = Math.round((Math.max(...chainRx) - Math.min(...chainRx)) * 10) / 10;
  } else {
    const ratio = get('chain_imbalance_db');
    if (ratio !== undefined) s.imbalance_db = Math.abs(ratio);
  }
  const ideal = max(all('rx_power_ideal_dbm'));
  if (ideal !== undefined) s.ideal_dbm = ideal;
  const snr = get('snr_db') ?? min(all('snr_db'));
  if (snr !== undefined) s.snr_db = snr;
  const noise = get('noise_floor_dbm') ?? max(all('noise_floor_dbm'));
  if (noise !== undefined) s.noise_dbm = noise;
  const mcs = min(all('mcs_index'));
  if (mcs !== undefined) s.mcs = mcs;
  for (const k of [
    'capacity_rx_bps',
    'capacity_tx_bps',
    'rate_rx_bps',
    'rate_tx_bps',
    'link_uptime_s',
  ] as const) {
    const v = get(k) ?? max(all(k));
    if (v !== undefined) s[k] = v;
  }
  if (uptime !== undefined) s.uptime_s = uptime;
  return s;
}

/** Median of the defined values of one field over samples; undefined when none has it. */
export function medianOf(samples: readonly EndSample[], k: keyof EndSample): number | undefined {
  const xs = samples.flatMap((s) => (typeof s[k] === 'number' ? [s[k] as number] : [])).sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}
