// Counters into rates over real UDP against the simulator, with one clock for both sides.

import { join } from 'node:path';
import type { Reading } from '@pantau/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { Tag } from './ber.js';
import { collectSnmp, counterRate, isReboot, newSnmpMemory, SnmpSession } from './index.js';
import { parseOid } from './oid.js';
import { type Scenario, type SimulatedAgent, startSimulatedAgent } from './simulator/index.js';
import { loadRecording, type Varbind } from './snmprec.js';

const AIROS = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'snmp', 'airos', 'device.snmprec');

let agent: SimulatedAgent | undefined;
afterEach(async () => {
  await agent?.close();
  agent = undefined;
});

async function pollsAt(recording: string | Varbind[], scenarios: Scenario[], times: number[]) {
  let t = 0;
  agent = await startSimulatedAgent({ recording, port: 0, scenarios, now: () => t });
  const session = new SnmpSession({
    address: '127.0.0.1',
    port: agent.port,
    version: '2c',
    community: 'public',
    timeoutMs: 1000,
    retries: 0,
  });
  const mem = newSnmpMemory();
  const out = [];
  for (const at of times) {
    t = at;
    out.push(await collectSnmp(session, mem, { now: () => t }));
  }
  session.close();
  return out;
}

const iface = (readings: Reading[], name: string) =>
  readings.find((r) => r.labels?.iface === name)?.values ?? {};

describe('interface rates', () => {
  it('64-bit counters give the simulated bit rate, and no rate on the first poll', async () => {
    const [a, b] = await pollsAt(
      AIROS,
      [{ kind: 'counters', bitRateIn: 80e6, bitRateOut: 20e6 }],
      [0, 10_000],
    );
    expect(iface(a!.readings, 'ath0').if_in_bps).toBeUndefined();
    expect(iface(b!.readings, 'ath0').if_in_bps).toBe(80e6);
    expect(iface(b!.readings, 'ath0').if_out_bps).toBe(20e6);
  });

  it('32-bit counters that wrap between polls still give the right rate', async () => {
    // A device with only ifTable (no HC counters), its in-counter close to 2^32.
    const rows: Varbind[] = [
      { oid: parseOid('1.3.6.1.2.1.1.1.0'), tag: Tag.OctetString, value: Buffer.from('old radio') },
      { oid: parseOid('1.3.6.1.2.1.1.2.0'), tag: Tag.OID, value: parseOid('1.3.6.1.4.1.8072.3.2.10') },
      { oid: parseOid('1.3.6.1.2.1.1.3.0'), tag: Tag.TimeTicks, value: 100n },
      { oid: parseOid('1.3.6.1.2.1.2.2.1.2.3'), tag: Tag.OctetString, value: Buffer.from('wlan0') },
      { oid: parseOid('1.3.6.1.2.1.2.2.1.3.3'), tag: Tag.Integer, value: 71n },
      { oid: parseOid('1.3.6.1.2.1.2.2.1.8.3'), tag: Tag.Integer, value: 1n },
      { oid: parseOid('1.3.6.1.2.1.2.2.1.10.3'), tag: Tag.Counter32, value: 4_000_000_000n },
      { oid: parseOid('1.3.6.1.2.1.2.2.1.16.3'), tag: Tag.Counter32, value: 5n },
    ];
    const [, b] = await pollsAt(rows, [{ kind: 'counters', bitRateIn: 800e6, bitRateOut: 8e6 }], [0, 5_000]);
    // 800 Mbit/s for 5 s = 500 MB: past 2^32 (4.29 GB) from 4.0 GB, so the counter wrapped.
    expect(iface(b!.readings, 'wlan0').if_in_bps).toBe(800e6);
    expect(iface(b!.readings, 'wlan0').if_out_bps).toBe(8e6);
  });

  it('a reboot is reported once, gives no rate across it, and rates resume after', async () => {
    const polls = await pollsAt(
      AIROS,
      [
        { kind: 'counters', bitRateIn: 8e6, bitRateOut: 8e6 },
        { kind: 'reboot', atMs: 15_000 },
      ],
      [0, 10_000, 20_000, 30_000],
    );
    expect(polls.map((p) => p.observations.map((o) => o.type))).toEqual([[], [], ['device_rebooted'], []]);
    expect(polls[2]!.readings[0]!.values.uptime_s).toBe(5);
    expect(iface(polls[2]!.readings, 'ath0').if_in_bps).toBeUndefined();
    expect(iface(polls[3]!.readings, 'ath0').if_in_bps).toBe(8e6);
    for (const p of polls)
      for (const r of p.readings)
        for (const v of [r.values.if_in_bps, r.values.if_out_bps])
          if (v !== undefined) expect(v).toBeGreaterThanOrEqual(0);
  });

  it('rain fades rx power and SNR while the noise floor stays', async () => {
    const polls = await pollsAt(
      AIROS,
      [{ kind: 'fade', startMs: 0, durationMs: 60_000, depthDb: 12 }],
      [0, 30_000, 60_000],
    );
    const v = polls.map((p) => p.readings[0]!.values);
    expect(v.map((x) => x.rx_power_dbm)).toEqual([-69, -75, -81]);
    expect(v.map((x) => x.snr_db)).toEqual([34, 28, 22]);
    expect(v.map((x) => x.noise_floor_dbm)).toEqual([-103, -103, -103]);
  });
});

describe('counter arithmetic', () => {
  it('handles one 32-bit wrap, refuses a reset, never goes negative', () => {
    const W32 = 2n ** 32n;
    expect(counterRate(100n, 300n, W32, 2)).toBe(100);
    expect(counterRate(W32 - 100n, 100n, W32, 1)).toBe(200);
    expect(counterRate(100n, 10n, W32, 1)).toBeNull(); // going back a little is a reset, not a near-full wrap
    expect(counterRate(500n, 10n, 2n ** 64n, 1)).toBeNull(); // 64-bit counters do not wrap in practice
    expect(counterRate(1n, 2n, W32, 0)).toBeNull();
  });
  it('tells a reboot from a TimeTicks wrap', () => {
    expect(isReboot(1000, 5)).toBe(true);
    expect(isReboot(2 ** 32 / 100 - 10, 20)).toBe(false);
    expect(isReboot(5, 1000)).toBe(false);
  });
});

describe('recordings', () => {
  it('every fixture recording parses', async () => {
    const { readdirSync } = await import('node:fs');
    const dir = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'snmp');
    for (const d of readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())) {
      expect(loadRecording(join(dir, d.name, 'device.snmprec')).length).toBeGreaterThan(10);
    }
  });
});
