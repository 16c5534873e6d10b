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
  model: string | null;
  version: string | null;
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

/** Where our identity differs from LibreNMS's on purpose: the recording says more than LibreNMS shows. */
const IDENTITY_QUIRKS: Record<string, { model?: string; firmware?: string }> = {
  // LibreNMS shows the MIB's name for the sysObjectID; sysDescr names the actual model.
  mimosa: { model: 'B5c' },
  // LibreNMS leaves hardware empty; ENTITY-MIB's chassis entry names the board.
  routeros: { model: 'RB952Ui-5ac2nD' },
  // LibreNMS leaves the version empty; ENTITY-MIB's software revision has it.
  siklu: { firmware: '3.7.6.24444' },
  // LibreNMS leaves the model empty; UBNT-AirFIBER-MIB has no model name either.
  'airos-af': {},
};

interface Source {
  metric: MetricName;
  labels: Record<string, string>;
  noValue: number[];
  scale: number;
  map?: Record<number, number>;
}

const extra = (s: { map?: Record<number, number> }) => (s.map ? { map: s.map } : {});

/** Finds which metric (and labels) the profile makes of an OID. */
function sourceOf(p: Profile, oid: string): Source | null {
  const o = oid.replace(/^\./, '');
  for (const s of p.scalars)
    if (s.oid === o)
      return {
        metric: s.metric,
        labels: s.labels ?? {},
        noValue: s.noValue ?? [],
        scale: s.scale ?? 1,
        ...extra(s),
      };
  for (const t of p.tables) {
    for (const c of t.columns) {
      const prefix = `${t.entry}.${c.column}.`;
      if (!o.startsWith(prefix)) continue;
      const index = o.slice(prefix.length).split('.').map(Number);
      const last = String(index[index.length - 1]);
      const label =
        t.index.from === 'mac6'
          ? {
              [t.index.label]: index
                .slice(-6)
                .map((b) => b.toString(16).padStart(2, '0'))
                .join(':'),
            }
          : t.index.from === 'last' && last !== t.index.unlabelled
            ? { [t.index.label]: last }
            : {};
      return {
        metric: c.metric,
        labels: { ...label, ...c.labels },
        noValue: c.noValue ?? [],
        scale: c.scale ?? 1,
        ...extra(c),
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

  it('reads model and firmware as LibreNMS does (deviations listed)', async () => {
    const r = await poll();
    const quirk = IDENTITY_QUIRKS[dir] ?? {};
    expect(r.identity?.model).toBe(quirk.model ?? expected.model ?? undefined);
    expect(r.identity?.firmware).toBe(quirk.firmware ?? expected.version ?? undefined);
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

/** UPS recordings → the profile that must be detected. Their numbers are LibreNMS's `sensors[]`. */
const UPS_RECORDINGS: Record<string, string> = {
  riello: 'ups-mib',
  cyberpower: 'cyberpower',
};

interface ExpectedUps {
  vendor: string;
  model: string | null;
  version: string | null;
  serial?: string;
  power_summary: { battery_charge_pct: number; on_battery: boolean; input_voltage_phase1?: number };
  sensors: Array<{
    class: string;
    oid: string;
    value: number;
    descr: string;
    states?: Record<string, string>;
    snmprec_raw: { value: string };
  }>;
}

/** LibreNMS shows runtimes in minutes; ours are seconds. */
const UPS_TO_LIBRENMS: Partial<Record<MetricName, number>> = {
  battery_runtime_s: 1 / 60,
  time_on_battery_s: 1 / 60,
};

const UPS_QUIRKS: Record<string, { digits?: number; skip?: string }> = {
  // LibreNMS rounds its Fahrenheit → Celsius conversion to two decimals (20.17 for 20.1667).
  '.1.3.6.1.4.1.3808.1.1.4.2.1.0': { digits: 2 },
  // upsAdvanceInputLineFailCause: why the UPS last went to battery, history rather than a present
  // state (on_battery and input_fault carry the present).
  '.1.3.6.1.4.1.3808.1.1.1.3.2.5.0': { skip: 'cause of the last transfer: history, not a reading' },
};

describe.each(Object.entries(UPS_RECORDINGS))('UPS recording %s', (dir, profileId) => {
  const expected = JSON.parse(readFileSync(join(DIR, dir, 'expected.json'), 'utf8')) as ExpectedUps;
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
  const device = async () => (await poll()).readings[0]!.values;

  it(`is detected as ${profileId}, a power device`, async () => {
    const r = await poll();
    expect(r.identity?.profile).toBe(profileId);
    expect(r.kind).toBe('power');
  });

  it('reads model, firmware and serial as LibreNMS does', async () => {
    const r = await poll();
    expect(r.identity?.model).toBe(expected.model ?? undefined);
    expect(r.identity?.firmware).toBe(expected.version ?? undefined);
    expect(r.identity?.serial).toBe(expected.serial);
  });

  it('says on battery or not, charge and input voltage as the power summary does', async () => {
    const v = await device();
    expect(v.on_battery).toBe(expected.power_summary.on_battery ? 1 : 0);
    expect(v.battery_pct).toBe(expected.power_summary.battery_charge_pct);
    expect(v.input_voltage_v).toBeDefined();
    if (expected.power_summary.input_voltage_phase1 !== undefined)
      expect(v.input_voltage_v).toBe(expected.power_summary.input_voltage_phase1);
    expect(v.battery_runtime_s).toBeGreaterThan(0);
  });

  it.each(expected.sensors.map((w) => [`${w.class} ${w.descr} ${w.oid}`, w] as const))(
    '%s',
    async (_n, w) => {
      const quirk = UPS_QUIRKS[w.oid];
      if (quirk?.skip) {
        expect(quirk.skip).toBeTruthy(); // documented above
        return;
      }
      const src = sourceOf(profile, w.oid);
      expect(src, `the ${profileId} profile has no source for ${w.oid}`).not.toBeNull();
      const ours = decodedValue((await poll()).readings, src!);
      const raw = Number(w.snmprec_raw.value);
      if (src!.noValue.includes(raw)) {
        // −1 is UPS-MIB's "unknown": LibreNMS graphs it as −0.1 A, we leave it out.
        expect(
          ours,
          `${src!.metric} ${JSON.stringify(src!.labels)} should be absent for raw ${raw}`,
        ).toBeUndefined();
        return;
      }
      expect(ours, `${src!.metric} ${JSON.stringify(src!.labels)}`).toBeDefined();
      if (w.class === 'state') {
        // An enumeration: LibreNMS keeps the raw state, the profile maps it to a number of ours.
        expect(w.states?.[String(w.value)], 'the recorded state is a known one').toBeDefined();
        expect(src!.map, `${src!.metric} maps its states`).toBeDefined();
        expect(ours).toBe(src!.map![w.value]);
        return;
      }
      expect(ours! * (UPS_TO_LIBRENMS[src!.metric] ?? 1)).toBeCloseTo(w.value, quirk?.digits ?? 6);
    },
  );
});

describe('a UPS on battery', () => {
  /** The recording with one OID's value changed, as the UPS would answer during a power cut. */
  async function pollWith(dir: string, changes: Record<string, string>) {
    const { parseSnmprec } = await import('./snmprec.js');
    const text = readFileSync(join(DIR, dir, 'device.snmprec'), 'utf8')
      .split('\n')
      .map((line) => {
        const [oid, type] = line.split('|');
        return oid !== undefined && oid in changes ? `${oid}|${type}|${changes[oid]}` : line;
      })
      .join('\n');
    const agent = await startSimulatedAgent({ recording: parseSnmprec(text), port: 0, now: () => 0 });
    agents.push(agent);
    const session = new SnmpSession({
      address: '127.0.0.1',
      port: agent.port,
      version: '2c',
      community: 'public',
      timeoutMs: 1000,
      retries: 0,
    });
    try {
      return (await collectSnmp(session, newSnmpMemory())).readings[0]!.values;
    } finally {
      session.close();
    }
  }

  it('UPS-MIB: output source battery(5) is on_battery 1, battery low(3) is battery_low 1', async () => {
    const v = await pollWith('riello', {
      '1.3.6.1.2.1.33.1.4.1.0': '5',
      '1.3.6.1.2.1.33.1.2.1.0': '3',
      '1.3.6.1.2.1.33.1.2.2.0': '95',
      '1.3.6.1.2.1.33.1.3.3.1.3.1': '0',
    });
    expect(v).toMatchObject({ on_battery: 1, battery_low: 1, time_on_battery_s: 95, input_voltage_v: 0 });
  });

  it('UPS-MIB: output source other(1) says nothing about the battery', async () => {
    const v = await pollWith('riello', { '1.3.6.1.2.1.33.1.4.1.0': '1' });
    expect(v.on_battery).toBeUndefined();
  });

  it('CyberPower: output status onBattery(3) is on_battery 1, input blackout(5) is input_fault 1', async () => {
    const v = await pollWith('cyberpower', {
      '1.3.6.1.4.1.3808.1.1.1.4.1.1.0': '3',
      '1.3.6.1.4.1.3808.1.1.1.3.2.6.0': '5',
      '1.3.6.1.4.1.3808.1.1.1.3.2.1.0': '0',
    });
    expect(v).toMatchObject({ on_battery: 1, input_fault: 1, input_voltage_v: 0, battery_pct: 100 });
  });

  it('CyberPower: onBoost(4) is mains with the voltage raised, not battery', async () => {
    const v = await pollWith('cyberpower', { '1.3.6.1.4.1.3808.1.1.1.4.1.1.0': '4' });
    expect(v.on_battery).toBe(0);
  });
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

/** Families with no recording in the fixtures, walked as the OID table in VENDORS.md describes them. */
describe('families supported from the OID table alone', () => {
  async function decode(lines: string[]) {
    const { parseSnmprec } = await import('./snmprec.js');
    const agent = await startSimulatedAgent({
      recording: parseSnmprec(lines.join('\n')),
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
    try {
      return await collectSnmp(session, newSnmpMemory());
    } finally {
      session.close();
    }
  }
  const device = (r: Awaited<ReturnType<typeof decode>>) => r.readings[0]!.values;
  const labelled = (r: Awaited<ReturnType<typeof decode>>, labels: Record<string, string>) =>
    r.readings.find((x) => JSON.stringify(x.labels) === JSON.stringify(labels))?.values;

  it("airFiber 60 / Wave: shares airMAX's sysObjectID, told apart by its subtree; instance ≠ ifIndex", async () => {
    const af = '1.3.6.1.4.1.41112.1.11.1';
    const r = await decode([
      '1.3.6.1.2.1.1.1.0|4|Linux 4.4.153 #1 SMP armv7l',
      '1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.10002.1',
      '1.3.6.1.2.1.1.3.0|67|500000',
      // the row's instance is 1 while its ifIndex column says 3
      `${af}.1.1.1|2|0`,
      `${af}.1.2.1|2|69120`,
      `${af}.1.3.1|2|3`,
      `${af}.2.6.1|2|17`,
      `${af}.4.1.1|2|1`,
      `${af}.4.2.1|2|3`,
      `${af}.4.7.1|2|14`,
      `${af}.4.8.1|2|9`,
    ]);
    expect(r.identity).toMatchObject({
      profile: 'airfiber-60',
      vendor: 'Ubiquiti',
      model: 'airFiber 60 (AP)',
    });
    expect(device(r)).toMatchObject({
      frequency_mhz: 69120,
      cpu_pct: 17,
      gps_status: 1,
      gps_fix: 3,
      gps_satellites_visible_count: 14,
      gps_satellites_tracked_count: 9,
    });
  });

  it('PMP 450: kHz frequency, numbers inside strings, utilisation per window and direction', async () => {
    const c = '1.3.6.1.4.1.161.19.3';
    const r = await decode([
      '1.3.6.1.2.1.1.1.0|4|CANOPY 20.0 AP-DES',
      '1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.161.19.250.256',
      '1.3.6.1.2.1.1.3.0|67|720000',
      `${c}.1.7.1.0|4|23`,
      `${c}.1.7.37.0|2|5745000`,
      `${c}.1.12.1.1.0|2|41`,
      `${c}.1.12.1.2.0|2|12`,
      `${c}.1.12.2.1.0|4|38`,
      `${c}.1.12.2.2.0|2|11`,
      `${c}.1.12.3.1.0|2|35`,
      `${c}.1.12.3.2.0|2|10`,
      `${c}.3.1.95.0|65|120`,
      `${c}.3.1.97.0|65|4`,
      `${c}.3.1.223.0|65|2`,
      `${c}.3.1.35.0|4|47`,
    ]);
    expect(r.identity).toMatchObject({ profile: 'pmp450', vendor: 'Cambium Networks' });
    expect(device(r)).toMatchObject({
      stations_count: 23,
      frequency_mhz: 5745,
      crc_errors: 2,
      temperature_c: 47,
    });
    expect(labelled(r, { window: '5m', direction: 'downlink' })).toEqual({ utilization_pct: 38 });
    expect(labelled(r, { window: '15m', direction: 'uplink' })).toEqual({ utilization_pct: 10 });
    expect(labelled(r, { direction: 'in' })).toEqual({ fec_errors: 120 });
  });

  it('ePMP: a growing session-drop counter is a link flap', async () => {
    const { parseSnmprec } = await import('./snmprec.js');
    const e = '1.3.6.1.4.1.17713.21';
    const walk = (drops: number) =>
      parseSnmprec(
        [
          '1.3.6.1.2.1.1.1.0|4|Cambium ePMP',
          `1.3.6.1.2.1.1.2.0|6|${e}`,
          '1.3.6.1.2.1.1.3.0|67|900000',
          `${e}.1.2.1.0|2|5800`,
          `${e}.1.2.3.0|2|-61`,
          `${e}.2.1.45.0|65|${drops}`,
        ].join('\n'),
      );
    const agent = await startSimulatedAgent({ recording: walk(3), port: 0, now: () => 0 });
    agents.push(agent);
    const session = new SnmpSession({
      address: '127.0.0.1',
      port: agent.port,
      version: '2c',
      community: 'public',
      timeoutMs: 1000,
      retries: 0,
    });
    const mem = newSnmpMemory();
    const first = await collectSnmp(session, mem);
    expect(first.observations).toEqual([]);
    agent.replace(walk(5));
    const second = await collectSnmp(session, mem);
    session.close();
    expect(second.observations.map((o) => o.type)).toEqual(['link_flap']);
    expect(second.observations[0]!.data).toMatchObject({ previous: 3, current: 5 });
  });
});
