// Truth against a real device: the airMAX recording must decode to the values an established NMS
// (LibreNMS) decoded from the same walk, unit for unit.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Reading } from '@pantau/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectSnmp, newSnmpMemory, SnmpSession } from './index.js';
import { type SimulatedAgent, startSimulatedAgent } from './simulator/index.js';

const DIR = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'snmp', 'airos');

interface Expected {
  vendor: string;
  model: string;
  version: string;
  wireless: Array<{ class: string; oid: string; index: string; value: number; descr: string }>;
  sensors: Array<{ class: string; oid: string; value: number }>;
  processors: Array<{ usage: number }>;
}

/** LibreNMS class (and its unit) → our metric (and the factor from our unit to theirs). */
const CLASS_TO_METRIC: Record<string, { metric: string; toTheirs: number }> = {
  clients: { metric: 'stations_count', toTheirs: 1 },
  quality: { metric: 'quality_pct', toTheirs: 1 },
  capacity: { metric: 'capacity_pct', toTheirs: 1 },
  ccq: { metric: 'ccq_pct', toTheirs: 1 },
  'noise-floor': { metric: 'noise_floor_dbm', toTheirs: 1 },
  frequency: { metric: 'frequency_mhz', toTheirs: 1 },
  distance: { metric: 'distance_m', toTheirs: 1 / 1000 }, // LibreNMS shows km
};

function metricFor(w: Expected['wireless'][number]): {
  metric: string;
  toTheirs: number;
  labels?: Record<string, string>;
} {
  if (w.class === 'rate')
    return { metric: w.oid.endsWith('.5.1.9.1') ? 'rate_tx_bps' : 'rate_rx_bps', toTheirs: 1 };
  if (w.class === 'power')
    return { metric: w.oid.endsWith('.1.1.6.1') ? 'tx_power_dbm' : 'rx_power_dbm', toTheirs: 1 };
  if (w.class === 'rssi') {
    const chain = /\.2\.1\.2\.1\.(\d+)$/.exec(w.oid)?.[1];
    return chain
      ? { metric: 'rssi_raw', toTheirs: 1, labels: { chain } }
      : { metric: 'rssi_raw', toTheirs: 1 };
  }
  const m = CLASS_TO_METRIC[w.class];
  if (!m) throw new Error(`no mapping for LibreNMS class ${w.class}`);
  return m;
}

function find(readings: Reading[], metric: string, labels?: Record<string, string>): number | undefined {
  const r = readings.find(
    (x) => JSON.stringify(x.labels ?? {}) === JSON.stringify(labels ?? {}) && metric in x.values,
  );
  return r?.values[metric as keyof Reading['values']];
}

describe('Ubiquiti airMAX recording decodes to the LibreNMS values', () => {
  const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Expected;
  let agent: SimulatedAgent;
  let readings: Reading[] = [];
  let identity: Record<string, unknown> = {};
  beforeAll(async () => {
    agent = await startSimulatedAgent({ recording: join(DIR, 'device.snmprec'), port: 0 });
    const session = new SnmpSession({
      address: '127.0.0.1',
      port: agent.port,
      version: '2c',
      community: 'public',
      timeoutMs: 1000,
      retries: 0,
    });
    const r = await collectSnmp(session, newSnmpMemory());
    session.close();
    readings = r.readings;
    identity = { ...r.identity };
    expect(r.kind).toBe('radio');
  });
  afterAll(() => agent.close());

  it.each(expected.wireless.map((w) => [`${w.class} ${w.descr}`, w] as const))('%s', (_name, w) => {
    const m = metricFor(w);
    const ours = find(readings, m.metric, m.labels);
    expect(ours, `${m.metric} ${JSON.stringify(m.labels ?? {})}`).toBeDefined();
    expect((ours ?? Number.NaN) * m.toTheirs).toBeCloseTo(w.value, 9);
  });

  it('temperature sensor and processor usage', () => {
    const temp = expected.sensors.find((s) => s.class === 'temperature')!;
    expect(find(readings, 'temperature_c')).toBe(temp.value);
    expect(find(readings, 'cpu_pct')).toBe(expected.processors[0]!.usage);
  });

  it('SNR is derived from signal and noise floor', () => {
    expect(find(readings, 'snr_db')).toBe(-69 - -103);
  });

  it('identity: vendor, model, firmware', () => {
    expect(identity).toMatchObject({
      vendor: expected.vendor,
      model: expected.model,
      firmware: expected.version,
      profile: 'airmax',
    });
  });
});
