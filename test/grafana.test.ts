// The Grafana dashboards in deploy/grafana must match the InfluxDB schema the store writes: with a
// few hours of realistic readings of radios, paths and cameras stored through the InfluxDB store,
// every template variable's query finds values and every panel's query returns series, from the
// raw data and from the rollup. Grafana's own macros are replaced the way Grafana does.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INFLUX_DEFAULTS, InfluxStore } from '@pantau/broker/store';
import type { DeviceStatePayload, Reading } from '@pantau/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Influxd, startInfluxd } from './support/influxd.js';
import { ROOT } from './support/procs.js';

const DIR = join(ROOT, 'deploy/grafana');
const DB = 'pantau';
const MIN = 60_000;

interface Target {
  refId: string;
  query: string;
  alias?: string;
  rawQuery: boolean;
}
interface Dashboard {
  title: string;
  templating: {
    list: Array<{ name: string; type: string; query: string; options?: Array<{ value: string }> }>;
  };
  panels: Array<{ title: string; targets: Target[] }>;
}

let influxd: Influxd;

async function influxql(q: string): Promise<Array<{ tags?: Record<string, string>; values: unknown[][] }>> {
  const res = await fetch(`${influxd.url}/query?db=${DB}&q=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { results: Array<{ series?: never[]; error?: string }>; error?: string };
  const r = body.results?.[0];
  if (body.error || r?.error) throw new Error(`${q}: ${body.error ?? r?.error}`);
  return r?.series ?? [];
}

/** Three hours of a link (two radios at two sites), a site box's path, and two cameras. */
async function ingestRealisticData(): Promise<void> {
  const store = new InfluxStore({
    cfg: { kind: 'influx', ...INFLUX_DEFAULTS, url: influxd.url, database: DB },
  });
  const now = Date.now();
  const times = Array.from({ length: 180 }, (_, i) => now - (180 - i) * MIN);
  const seq: Record<string, number> = {};
  const send = (site: string, device: string, readings: Reading[]) => {
    seq[site] = (seq[site] ?? 0) + 1;
    return store.ingestTelemetry(site, { v: 1, seq: seq[site], device, backfill: false, readings }, now);
  };
  for (const [site, device] of [
    ['scc', 'r-bukit'],
    ['bukit', 'r-scc'],
  ] as const) {
    await send(
      site,
      device,
      times.flatMap((ts, i) => [
        {
          ts,
          values: {
            rx_power_dbm: -62 - (i % 5),
            snr_db: 31 - (i % 3),
            capacity_tx_bps: 140e6 + i * 1e4,
            capacity_rx_bps: 135e6,
            latency_ms: 1.2,
            loss_pct: 0,
          },
        },
        { ts, values: { if_in_bps: 8e6, if_out_bps: 2e6 }, labels: { iface: 'ath0' } },
        { ts, values: { if_in_bps: 7.9e6, if_out_bps: 1.9e6 }, labels: { iface: 'eth0' } },
      ]),
    );
  }
  // The relay's site box probes its path to the command center (uplink readings).
  await send(
    'bukit',
    'gateway',
    times.map((ts) => ({
      ts,
      values: { latency_ms: 4.5, loss_pct: 0, jitter_ms: 0.4 },
      labels: {
        hop: 'pusat',
        hop_index: '1',
        address: '10.0.0.1',
        hop_name: 'Command Center',
        link: 'scc-bukit',
      },
    })),
  );
  for (const cam of ['cam-gerbang', 'cam-parkir']) {
    await send(
      'pasar',
      cam,
      times.map((ts, i) => ({
        ts,
        values: {
          stream_up: 1,
          video_fps: 25,
          video_bitrate_bps: 2.1e6 + (i % 7) * 1e4,
          clock_offset_s: 0.4,
        },
      })),
    );
    for (const ts of times.filter((_, i) => i % 10 === 0)) {
      const state: DeviceStatePayload = {
        v: 1,
        ts,
        device: cam,
        kind: 'camera',
        address: '10.1.2.3',
        status: 'ok',
        reasons: [],
        last_seen: ts,
        interval_s: 60,
        figures: {},
      };
      await store.putDeviceState('pasar', state, now);
    }
  }
  await store.close(); // delivers, and rolls up what arrived later than the continuous query looks
}

/** Grafana's regex formatting of a variable's value for =~ /^$var$/. */
const regexValue = (v: string) => v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');

describe('Grafana dashboards against the InfluxDB schema', () => {
  beforeAll(async () => {
    influxd = await startInfluxd();
    await ingestRealisticData();
  }, 60_000);
  afterAll(async () => {
    await influxd?.remove();
  });

  const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
  it('has the links and cameras dashboards', () => {
    expect(files.sort()).toEqual(['cameras.json', 'links.json']);
  });

  for (const file of files)
    it(`${file}: every variable finds values and every panel query returns series, raw and rollup`, async () => {
      const d = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Dashboard;
      const rps = d.templating.list.find((v) => v.name === 'rp')?.options?.map((o) => o.value) ?? [];
      expect(rps).toEqual(['raw', 'rollup']);
      const values: Record<string, string> = {};
      const subst = (q: string) => {
        let out = q.replaceAll('$timeFilter', 'time > now() - 6h').replaceAll('$__interval', '5m');
        for (const name of Object.keys(values).sort((a, b) => b.length - a.length))
          out = out.replaceAll(`$${name}`, values[name]!);
        expect(out, `unreplaced variable in ${out}`).not.toMatch(/\$[a-z_]/);
        return out;
      };
      for (const rp of rps) {
        values.rp = rp;
        for (const v of d.templating.list.filter((x) => x.type === 'query')) {
          const series = await influxql(subst(v.query));
          const found = series.flatMap((s) => s.values.map((row) => String(row[1])));
          expect(found.length, `variable ${v.name}: ${v.query}`).toBeGreaterThan(0);
          values[v.name] = regexValue(found[0]!);
        }
        for (const p of d.panels)
          for (const t of p.targets) {
            expect(t.rawQuery).toBe(true);
            const series = await influxql(subst(t.query));
            expect(series.length, `${file} / ${p.title} / ${rp}: ${subst(t.query)}`).toBeGreaterThan(0);
            expect(series.some((s) => s.values.length > 0)).toBe(true);
            // An alias may only name tags the query groups by.
            for (const [, tag] of (t.alias ?? '').matchAll(/\$tag_([a-z_]+)/g))
              expect(t.query, `${p.title}: alias uses $tag_${tag}`).toContain(`"${tag}"`);
          }
      }
    });
});
