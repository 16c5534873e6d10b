// Truth against real devices, table-driven: every radio recording decodes to the values LibreNMS
// decoded from the same walk. The OID → metric mapping comes from the profiles themselves, so this
// test checks the profiles rather than restating them; only LibreNMS's own quirks are listed here.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricName, Reading } from '@pantau/contract';
import { afterAll, describe, expect, it } from 'vitest';
import { collectSnmp, newSnmpMemory, PROFILES, type Profile, SnmpSession } from './index.js';
import { type SimulatedAgent, startSimulatedAgent } from './simulator/index.js';

const DIR = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'snmp');

interface Expected {
  vendor: string;
  wireless: Array<{
    class: string;
    oid: string;
    value: number;
    descr: string;
    snmprec_raw: { value: string };
  }>;
}

/** Recording → the profile that must be detected. UPS recordings belong to the power collector. */
const RECORDINGS: Record<string, string> = {
  airos: 'airmax',
  'airos-af': 'airfiber',
  'airos-af-ltu_1.4.0': 'airfiber-ltu',
  epmp: 'epmp',
  ptp670: 'ptp670',
  siklu: 'siklu',
  ceraos: 'ceragon',
  mimosa: 'mimosa',
  routeros: 'mikrotik',
  openwrt: 'openwrt',
};

/** Our unit → LibreNMS's unit for that class. */
const TO_LIBRENMS: Partial<Record<MetricName, number>> = { distance_m: 1 / 1000 };

/** Where LibreNMS itself deviates from its class unit (quirks of the reference, not of the device). */
const LIBRENMS_QUIRKS: Record<string, { factor?: number; skip?: string }> = {
  // airFiber frequencies are kHz in the MIB and LibreNMS shows them undivided.
  '.1.3.6.1.4.1.41112.1.3.1.1.5.1': { factor: 1000 },
  '.1.3.6.1.4.1.41112.1.3.1.1.6.1': { factor: 1000 },
  // Siklu: LibreNMS divides MHz by 1000.
  '.1.3.6.1.4.1.31926.2.1.1.4.1': { factor: 1 / 1000 },
  // MikroTik 60 GHz column 13 is the PHY rate in Mbit/s (equal to the station's tx rate in this walk);
  // LibreNMS files it as a distance.
  '.1.3.6.1.4.1.14988.1.1.1.8.1.13.1': { skip: 'LibreNMS reads the 60 GHz PHY rate as a distance' },
  // PTP 670 aggregate rate: the sum of rx and tx, which we do not store twice.
  '.1.3.6.1.4.1.17713.11.20.3.0': { skip: 'aggregate = rate_rx_bps + rate_tx_bps' },
};

interface Source {
  metric: MetricName;
  labels: Record<string, string>;
  noValue: number[];
  scale: number;
}

/** Finds which metric (and labels) the profile makes of an OID. */
function sourceOf(p: Profile, oid: string): Source | null {
  const o = oid.replace(/^\./, '');
  for (const s of p.scalars)
    if (s.oid === o)
      return { metric: s.metric, labels: s.labels ?? {}, noValue: s.noValue ?? [], scale: s.scale ?? 1 };
  for (const t of p.tables) {
    for (const c of t.columns) {
      const prefix = `${t.entry}.${c.column}.`;
      if (!o.startsWith(prefix)) continue;
      const index = o.slice(prefix.length).split('.').map(Number);
      const label =
        t.index.from === 'mac6'
          ? {
              [t.index.label]: index
                .slice(-6)
                .map((b) => b.toString(16).padStart(2, '0'))
                .join(':'),
            }
          : t.index.from === 'last'
            ? { [t.index.label]: String(index[index.length - 1]) }
            : {};
      return {
        metric: c.metric,
        labels: { ...label, ...c.labels },
        noValue: c.noValue ?? [],
        scale: c.scale ?? 1,
      };
    }
  }
  const extendPrefix = '1.3.6.1.4.1.8072.1.3.2.3.1.1.';
  if (p.extend && o.startsWith(extendPrefix)) {
    const name = String.fromCharCode(...o.slice(extendPrefix.length).split('.').map(Number).slice(1));
    for (const e of p.extend) {
      const m = e.name.exec(name);
      if (m)
        return {
          metric: e.metric,
          labels: { ...(m.groups ?? {}) },
          noValue: e.noValue ?? [],
          scale: e.scale ?? 1,
        };
    }
  }
  return null;
}

function decodedValue(readings: Reading[], src: Source): number | undefined {
  const want = JSON.stringify(Object.entries(src.labels).sort());
  const r = readings.find(
    (x) => JSON.stringify(Object.entries(x.labels ?? {}).sort()) === want && src.metric in x.values,
  );
  return r?.values[src.metric];
}

const agents: SimulatedAgent[] = [];
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
});

describe.each(Object.entries(RECORDINGS))('recording %s', (dir, profileId) => {
  const expected = JSON.parse(readFileSync(join(DIR, dir, 'expected.json'), 'utf8')) as Expected;
  const profile = PROFILES.find((p) => p.id === profileId)!;
  let decoded: Awaited<ReturnType<typeof collectSnmp>> | undefined;
  const poll = async () => {
    if (decoded) return decoded;
    const agent = await startSimulatedAgent({
      recording: join(DIR, dir, 'device.snmprec'),
      port: 0,
      now: () => 0,
    });
    agents.push(agent);
    const session = new SnmpSession({
      address: '127.0.0.1',
      port: agent.port,
      version: '2c',
      community: 'public',
      timeoutMs: 1000,
      retries: 0,
    });
    decoded = await collectSnmp(session, newSnmpMemory());
    session.close();
    return decoded;
  };

  it(`is detected as ${profileId} (${expected.vendor})`, async () => {
    const r = await poll();
    expect(r.identity?.profile).toBe(profileId);
    expect(r.identity?.vendor).toBe(expected.vendor);
    expect(r.kind).toBe('radio');
  });

  it.each(expected.wireless.map((w) => [`${w.class} ${w.descr} ${w.oid}`, w] as const))(
    '%s',
    async (_n, w) => {
      const quirk = LIBRENMS_QUIRKS[w.oid];
      if (quirk?.skip) {
        expect(quirk.skip).toBeTruthy(); // documented above: a value we derive instead of storing
        return;
      }
      const src = sourceOf(profile, w.oid);
      expect(src, `the ${profileId} profile has no source for ${w.oid}`).not.toBeNull();
      const ours = decodedValue((await poll()).readings, src!);
      const raw = Number(w.snmprec_raw.value);
      if (src!.noValue.includes(raw)) {
        // 0 / −99 mean "no signal" on this vendor: LibreNMS graphs them, we leave them out.
        expect(
          ours,
          `${src!.metric} ${JSON.stringify(src!.labels)} should be absent for raw ${raw}`,
        ).toBeUndefined();
        return;
      }
      expect(ours, `${src!.metric} ${JSON.stringify(src!.labels)}`).toBeDefined();
      const factor = (TO_LIBRENMS[src!.metric] ?? 1) * (quirk?.factor ?? 1);
      expect(ours! * factor).toBeCloseTo(w.value, 6);
    },
  );
});

describe('a radio whose wireless tables are empty', () => {
  it('says "no wireless data" and reports no zeros (RouterOS 7 wifi packages)', async () => {
    const routeros7 = [
      '1.3.6.1.2.1.1.1.0|4|RouterOS RB5009',
      '1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.14988.1',
      '1.3.6.1.2.1.1.3.0|67|12345',
      '1.3.6.1.4.1.14988.1.1.7.3.0|4|HE20ABC123',
      '1.3.6.1.4.1.14988.1.1.7.4.0|4|7.12',
    ].join('\n');
    const { parseSnmprec } = await import('./snmprec.js');
    const agent = await startSimulatedAgent({ recording: parseSnmprec(routeros7), port: 0, now: () => 0 });
    agents.push(agent);
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
    expect(r.identity?.profile).toBe('mikrotik');
    expect(r.notices?.map((n) => n.code)).toEqual(['no_wireless_data']);
    expect(r.readings).toEqual([{ ts: r.readings[0]!.ts, values: { uptime_s: 123.45 } }]);
  });
});
