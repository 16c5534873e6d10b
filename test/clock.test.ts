// A site box without a real-time clock: it boots in 1970 (libfaketime stands in for the missing
// clock, the daemon is otherwise real), polls a radio while its clock is unset, and NTP sets the
// clock later. Nothing taken meanwhile may be lost or land in 1970: the readings wait in the outbox
// and are corrected when the clock is set.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Central, startCentral } from './support/central.js';
import { type Daemon, ROOT, requireBinary, runDaemon, tempDir, waitFor } from './support/procs.js';

const RECORDING = join(ROOT, 'test/fixtures/snmp/airos/device.snmprec');
const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';
const FAKETIME_ARM = '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1';

interface SiteRow {
  site: string;
  state: string;
  clock?: { plausible?: boolean; holding?: boolean };
  health: { clock?: { plausible?: boolean; holding?: boolean; last_step_ms?: number } } | null;
}
interface Sequence {
  first: number | null;
  last: number | null;
  skipped: Array<[number, number]>;
  received: number;
  missing_count: number;
  clock_suspect_readings: number;
}
interface EventRow {
  type: string;
  ts: number;
  seq: number;
  data?: Record<string, unknown>;
  clock_corrected_ms?: number;
}

describe('a site box whose clock is set after it started', () => {
  const dir = tempDir('clock');
  const timeFile = join(dir.path, 'faketime');
  let agent: SimulatedAgent;
  let central: Central;
  let gateway: Daemon;
  let lonely: Daemon | undefined;
  const lib = process.arch === 'arm64' ? FAKETIME_ARM : FAKETIME;
  const fakeClock = (file: string) => ({
    LD_PRELOAD: lib,
    FAKETIME_TIMESTAMP_FILE: file,
    // Re-read the file at every call, so the test can set the clock while the daemon runs.
    FAKETIME_NO_CACHE: '1',
    // Only the wall clock was never set; the monotonic clock is what lets the daemon notice.
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  });
  const siteYaml = (site: string, waitS: number) =>
    `site: { id: ${site}, name: "Menara tanpa RTC" }
mqtt: { urls: ["mqtt://127.0.0.1:${central.mqttPort}"], username: gw-${site}, password_file: ${site}.pw, keepalive_s: 5 }
state_dir: gw-${site}
log_level: warn
defaults: { interval_s: 1, timeout_ms: 800, retries: 0, jitter_pct: 0 }
health_interval_s: 1
clock: { wait_for_sync_s: ${waitS} }
devices:
  - id: ptp-tower
    kind: radio
    address: 127.0.0.1
    snmp: { version: 2c, community: public, port: ${agent.port} }
`;

  const api = async <T>(path: string) => {
    const r = await central.api<T>(path, 'eng');
    if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`);
    return r.body;
  };
  const site = async () => (await api<SiteRow[]>('/api/sites')).find((s) => s.site === 'pirtc');

  beforeAll(async () => {
    requireBinary(lib, 'apt-get install -y faketime');
    agent = await startSimulatedAgent({ recording: RECORDING, port: 0 });
    central = await startCentral({ dir: dir.path, sites: ['pirtc', 'nontp'], users: [['eng', 'engineer']] });
    // The box "boots" on 1 January 1970, and its clock runs from there.
    writeFileSync(timeFile, '@1970-01-01 00:00:00\n');
    writeFileSync(join(dir.path, 'pirtc.yaml'), siteYaml('pirtc', 600));
    gateway = runDaemon('gateway', ['run', '--config', join(dir.path, 'pirtc.yaml')], fakeClock(timeFile));
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await lonely?.stop();
    await central?.stop();
    await agent?.close();
    dir.remove();
  });

  it('holds the readings while the clock says 1970, corrects them when NTP sets it, loses none', async () => {
    // Online, polling, saying its clock is not set, and holding everything back.
    const held = await waitFor(
      'the site box online, holding',
      async () => {
        const s = await site();
        return s?.state === 'online' && s.clock?.holding === true ? s : undefined;
      },
      30_000,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${JSON.stringify(await site())}\n${gateway.output()}`);
    });
    expect(held.clock!.plausible).toBe(false);
    await new Promise((r) => setTimeout(r, 4000));
    expect((await api<Sequence>('/api/sites/pirtc/sequence')).received).toBe(0);

    // NTP arrives: the clock jumps to the real time.
    const setAt = Date.now();
    writeFileSync(timeFile, '+0\n');
    const seqAfter = await waitFor(
      'held readings delivered',
      async () => {
        const q = await api<Sequence>('/api/sites/pirtc/sequence');
        const s = await site();
        return q.received >= 10 && s?.health?.clock?.holding === false ? q : undefined;
      },
      30_000,
    );
    expect(seqAfter.missing_count, gateway.output()).toBe(0);
    // A box with no saved sequence number numbers from its clock: while that said 1970 the numbers
    // were a guess (small); once set, they jumped to it, and the numbers in between are unused.
    expect(seqAfter.first!).toBeLessThan(3_600_000);
    expect(seqAfter.last!).toBeGreaterThanOrEqual(setAt);
    const jump = seqAfter.skipped.find(([, b]) => b + 1 >= setAt);
    expect(jump, JSON.stringify(seqAfter.skipped)).toBeDefined();
    expect(jump![0]).toBeLessThan(3_600_000);
    expect(gateway.output()).toMatch(/sequence numbers now count from it/);
    // Every reading landed in history: none set aside as taken before the clock was set.
    expect(seqAfter.clock_suspect_readings).toBe(0);

    const events = await api<EventRow[]>('/api/events?site=pirtc&limit=200');
    const set = events.find((e) => e.type === 'gateway_clock_set');
    expect(set, JSON.stringify(events.map((e) => e.type))).toBeDefined();
    expect(set!.data!.was_plausible).toBe(false);
    expect(Number(set!.data!.corrected)).toBeGreaterThan(3);
    expect(Number(set!.data!.delta_ms)).toBeGreaterThan(setAt - 120_000);
    // The start event was written in "1970" and reached the central with a corrected time.
    const started = events.find((e) => e.type === 'gateway_started')!;
    expect(started.ts).toBeGreaterThan(setAt - 60_000);
    expect(started.ts).toBeLessThan(setAt);
    expect(started.clock_corrected_ms).toBeGreaterThan(0);

    // The readings taken in "1970" sit in history at the real times they were taken.
    const hist = await api<Array<{ points: Array<[number, number]> }>>(
      `/api/history?site=pirtc&device=ptp-tower&metric=rx_power_dbm&from=${setAt - 120_000}&to=${Date.now() + 5000}`,
    );
    const times = hist.flatMap((s) => s.points.map(([t]) => t)).sort((a, b) => a - b);
    expect(times.filter((t) => t < setAt).length).toBeGreaterThan(3);
    expect(times[0]).toBeGreaterThan(setAt - 60_000);
    const health = (await site())!.health!;
    expect(health.clock!.plausible).toBe(true);
    expect(health.clock!.last_step_ms).toBeGreaterThan(0);
  }, 90_000);

  it('a network without a time server: after the wait the readings go as they are, set aside at the central, and people are told', async () => {
    const file = join(dir.path, 'faketime-nontp');
    writeFileSync(file, '@1970-01-01 00:00:00\n');
    writeFileSync(join(dir.path, 'nontp.yaml'), siteYaml('nontp', 3));
    lonely = runDaemon('gateway', ['run', '--config', join(dir.path, 'nontp.yaml')], fakeClock(file));
    const q = await waitFor(
      'readings delivered after the wait',
      async () => {
        const r = await api<Sequence>('/api/sites/nontp/sequence');
        return r.received >= 5 ? r : undefined;
      },
      30_000,
    );
    expect(q.missing_count).toBe(0);
    // Kept out of history and counted: a 1970 reading would draw a line from 1970 to today.
    expect(q.clock_suspect_readings).toBeGreaterThan(0);
    const events = await api<EventRow[]>('/api/events?site=nontp&limit=200');
    expect(events.map((e) => e.type)).toContain('gateway_clock_unset');
    const site = (await api<SiteRow[]>('/api/sites')).find((s) => s.site === 'nontp')!;
    expect(site.clock).toMatchObject({ plausible: false, holding: false });
    // Health goes every second and may be one from before the wait ran out: wait for a newer one.
    await waitFor(
      'health says no longer holding',
      async () => {
        const s = (await api<SiteRow[]>('/api/sites')).find((x) => x.site === 'nontp')!;
        return s.health?.clock?.holding === false && s.health.clock.plausible === false;
      },
      10_000,
    );
  }, 60_000);
});
