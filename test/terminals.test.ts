// Attendance terminals end to end: byte-exact ZKTeco simulators (TCP with a comm key, UDP, a full
// one that hangs, a new one nobody uses yet) read by a real site box, judged, shown to BKD staff per
// agency; an engineer sets a terminal's clock; the site goes dark and BKD sees whose attendance may
// be incomplete.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startZkSimulator, type ZkSimulator } from '@pantau/collectors/zkteco/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Central, startCentral } from './support/central.js';
import { type Daemon, runDaemon, tempDir, waitFor } from './support/procs.js';

const TZ = 'Asia/Makassar';

interface Row {
  device: string;
  status: string;
  reasons: Array<{ code: string; id: string }>;
  terminal: {
    state: string;
    clock_offset_s?: number;
    fill?: { records: number; records_capacity: number; records_pct: number };
    last_punch: { ts: number } | null;
  } | null;
  serial: string | null;
}
interface Board {
  summary: { reachable: number; total: number; id: string };
  agencies: Array<{ agency: string; total: number; reachable: number; terminals: Row[] }>;
}

describe('attendance terminals through real processes', () => {
  const dir = tempDir('terminals');
  const sims: Record<string, ZkSimulator> = {};
  let central: Central;
  let gateway: Daemon;

  const api = <T>(path: string, user = 'bkd', init: RequestInit = {}) => central.api<T>(path, user, init);
  const rows = async () => (await api<Board>('/api/terminals')).body.agencies.flatMap((a) => a.terminals);
  const row = async (id: string) => (await rows()).find((r) => r.device === id);

  beforeAll(async () => {
    sims['absen-bkd'] = await startZkSimulator({
      transport: 'tcp',
      commKey: 12345,
      serial: 'BKD0001',
      recordSize: 16,
      records: 1000,
      clockOffsetS: 300,
      timeZone: TZ,
      capacity: { records: 100_000 },
    });
    sims['absen-igd'] = await startZkSimulator({
      transport: 'udp',
      serial: 'IGD0001',
      recordSize: 40,
      records: 960,
      timeZone: TZ,
      capacity: { records: 1000 },
    });
    sims['absen-pkm'] = await startZkSimulator({
      transport: 'tcp',
      serial: 'PKM0001',
      records: 50,
      full: true,
      timeZone: TZ,
    });
    sims['absen-baru'] = await startZkSimulator({
      transport: 'tcp',
      serial: 'NEW0001',
      records: [],
      timeZone: TZ,
    });

    central = await startCentral({
      dir: dir.path,
      sites: ['kantor'],
      users: [
        ['bkd', 'hr'],
        ['insinyur', 'engineer'],
      ],
      requests: true,
      backbone: `root: scc
sites:
  - { id: scc, name: Command Center }
  - { id: kantor, name: Kantor BKD, agency: BKD }
links:
  - { id: scc-kantor, medium: fiber, a: { site: scc }, b: { site: kantor } }
`,
    });
    const mqttPort = central.mqttPort;
    writeFileSync(join(dir.path, 'bkd.key'), '12345\n');
    const t = (id: string, zk: string) =>
      `  - { id: ${id}, kind: terminal, address: 127.0.0.1, interval_s: 2, timeout_ms: 1000, zk: { port: ${sims[id]!.port}${zk} } }\n`;
    writeFileSync(
      join(dir.path, 'kantor.yaml'),
      `site:
  id: kantor
  name: Kantor BKD
  timezone: ${TZ}
  # Every minute of every day is a working one here, so "no punch" does not depend on when tests run.
  working_hours: { days: [1, 2, 3, 4, 5, 6, 7], start: "00:00", end: "23:59" }
mqtt: { urls: ["mqtt://127.0.0.1:${mqttPort}"], username: gw-kantor, password_file: kantor.pw, keepalive_s: 5 }
state_dir: state
log_level: warn
devices:
${t('absen-bkd', ', comm_key_file: bkd.key')}${t('absen-igd', ', transport: udp')}${t('absen-pkm', '')}  - { id: absen-baru, kind: terminal, address: 127.0.0.1, interval_s: 2, timeout_ms: 1000, zk: { port: ${sims['absen-baru']!.port} }, terminal: { no_punch_grace_min: 0 } }
`,
    );
    gateway = runDaemon('gateway', ['run', '--config', join(dir.path, 'kantor.yaml')]);
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await central?.stop();
    await Promise.all(Object.values(sims).map((s) => s.close()));
    dir.remove();
  }, 30_000);

  it('shows each terminal per agency: clock off, memory nearly full, hung, unused', async () => {
    const all = await waitFor(
      'four terminals judged',
      async () => {
        const r = await rows();
        return r.length === 4 && r.every((x) => x.terminal) ? r : null;
      },
      30_000,
      500,
    );
    const by = Object.fromEntries(all.map((r) => [r.device, r]));
    // TCP with a comm key, 16-byte records; the clock five minutes ahead.
    expect(by['absen-bkd']!.terminal!.state).toBe('up');
    expect(by['absen-bkd']!.serial).toBe('BKD0001');
    expect(Math.abs(by['absen-bkd']!.terminal!.clock_offset_s! - 300)).toBeLessThanOrEqual(2);
    expect(by['absen-bkd']!.reasons.map((r) => r.code)).toEqual(['clock_drift']);
    expect(by['absen-bkd']!.terminal!.last_punch).not.toBeNull();
    // UDP, 40-byte records, 96 % of the log memory used.
    expect(by['absen-igd']!.terminal!.fill).toMatchObject({
      records: 960,
      records_capacity: 1000,
      records_pct: 96,
    });
    expect(by['absen-igd']!.reasons[0]!.id).toBe(
      'Memori log 96% penuh: mesin akan hang — unduh lalu kosongkan log',
    );
    // Memory full: it accepts the connection, then hangs.
    expect(by['absen-pkm']).toMatchObject({ status: 'down', terminal: { state: 'hung' } });
    expect(by['absen-baru']!.reasons.map((r) => r.id)).toContain('Belum ada absen sejak 00:00 (hari kerja)');
    const board = (await api<Board>('/api/terminals')).body;
    expect(board.summary.id).toBe('3 dari 4 mesin absensi terhubung');
    expect(board.agencies.map((a) => a.agency)).toEqual(['BKD']);
    // Events travel separately from states (through the site box's outbox): wait for them.
    const wanted = [
      'clock_drift:absen-bkd',
      'terminal_memory_high:absen-igd',
      'terminal_hung:absen-pkm',
      'attendance_silent:absen-baru',
    ];
    await waitFor(
      'terminal events',
      async () => {
        const ev = (await api<Array<{ type: string; device?: string }>>('/api/events?limit=200')).body;
        const types = ev.map((e) => `${e.type}:${e.device}`);
        return wanted.every((w) => types.includes(w));
      },
      15_000,
      250,
    );
    // The terminals' logs were read, never cleared.
    expect(sims['absen-bkd']!.log()).toHaveLength(1000);
    expect(sims['absen-igd']!.stats().commands.CLEAR_ATTLOG ?? 0).toBe(0);
  }, 40_000);

  it('a new punch is seen at the next poll', async () => {
    const before = (await row('absen-baru'))!.terminal!.last_punch;
    expect(before).toBeNull();
    sims['absen-baru']!.addPunch();
    const r = await waitFor(
      'punch seen',
      async () => {
        const x = await row('absen-baru');
        return x?.terminal?.last_punch ? x : null;
      },
      15_000,
      500,
    );
    expect(r.reasons.map((x) => x.code)).not.toContain('no_punch');
  }, 20_000);

  it('an engineer sets a terminal clock through its site box; HR staff may not', async () => {
    const refused = await api('/api/terminals/kantor/absen-bkd/clock-sync', 'bkd', {
      method: 'POST',
      body: '{}',
    });
    expect(refused.status).toBe(403);
    const res = await api<{ previous_offset_s: number; offset_s: number }>(
      '/api/terminals/kantor/absen-bkd/clock-sync',
      'insinyur',
      {
        method: 'POST',
        body: '{}',
      },
    );
    expect(res.status).toBe(200);
    expect(Math.abs(res.body.previous_offset_s - 300)).toBeLessThanOrEqual(2);
    expect(Math.abs(res.body.offset_s)).toBeLessThanOrEqual(1);
    expect(Math.abs(sims['absen-bkd']!.clockOffsetS())).toBeLessThanOrEqual(1);
    await waitFor('drift cleared', async () => (await row('absen-bkd'))?.reasons.length === 0);
    const trail = await api<Array<{ user: string; target: string; detail: { ok: boolean } }>>(
      '/api/audit?action=terminal_clock_sync',
      'insinyur',
    );
    expect(trail.body.map((e) => [e.user, e.target, e.detail.ok])).toEqual([
      ['insinyur', 'kantor/absen-bkd', true],
    ]);
  }, 30_000);

  it('the site goes dark: BKD sees which agency attendance may be incomplete', async () => {
    await gateway.stop('SIGKILL');
    type Gap = { site: string; terminals: string[]; incident: string; outage?: { label: string } };
    const gaps = await waitFor(
      'gap reported',
      async () => {
        const r = await api<{ agencies: Array<{ agency: string; gaps: Gap[] }> }>(
          `/api/attendance/gaps?from=${Date.now() - 3600_000}`,
        );
        const bkd = r.body.agencies.find((a) => a.agency === 'BKD');
        return bkd?.gaps.some((g) => g.incident === 'site:kantor') ? bkd.gaps : null;
      },
      20_000,
      500,
    );
    const site = gaps.find((g) => g.incident === 'site:kantor')!;
    expect(site.terminals.sort()).toEqual(['absen-baru', 'absen-bkd', 'absen-igd', 'absen-pkm']);
    // Before that, the hung terminal alone: a device hang, its own gap.
    const hung = gaps.find((g) => g.incident === 'device:kantor/absen-pkm')!;
    expect(hung).toMatchObject({ terminals: ['absen-pkm'], outage: { label: 'device_hang' } });
  }, 30_000);
});
