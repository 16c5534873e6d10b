// Scripted simulations of what happens to radio links, each run through the central's engine as the
// site boxes would report it (telemetry, device states, events, last wills), and each expected to be
// classified with the right cause and reason: rain on both ends, interference on one end, a
// misalignment step, a reboot, a flapping link, and a dead relay with three sites behind it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceStatePayload, EventPayload, Reading, TelemetryPayload } from '@pantau/contract';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CentralDb } from './central-db.js';
import type { LinkBaseline } from './classifier.js';
import { levelOf } from './classifier.js';
import { ancestors, loadBackbone, parseBackbone } from './description.js';
import { CentralEngine } from './engine.js';

const BACKBONE = `
root: scc
sites:
  - { id: scc, name: Command Center, kecamatan: Kota, coords: [-4.0, 119.6] }
  - { id: bukit, name: Relay Bukit Tanete, kecamatan: Tanete, coords: [-4.2, 119.8] }
  - { id: rsud, name: RSUD Tanete, kecamatan: Tanete, priority: emergency }
  - { id: damkar, name: Pos Damkar, kecamatan: Tanete, priority: emergency }
  - { id: camat, name: Kantor Camat Tanete, kecamatan: Tanete }
  - { id: pasar, name: Pasar Sentral, kecamatan: Kota }
  - { id: mall, name: Mal Pelayanan Publik, kecamatan: Kota }
links:
  - { id: scc-bukit, name: SCC–Bukit, medium: radio, a: { site: scc, device: r-scc-bukit }, b: { site: bukit, device: r-bukit-scc } }
  - { id: bukit-rsud, name: Bukit–RSUD, medium: radio, a: { site: bukit, device: r-bukit-rsud }, b: { site: rsud, device: r-rsud } }
  - { id: bukit-damkar, name: Bukit–Damkar, medium: radio, a: { site: bukit, device: r-bukit-damkar }, b: { site: damkar, device: r-damkar } }
  - { id: bukit-camat, name: Bukit–Camat, medium: radio, a: { site: bukit, device: r-bukit-camat }, b: { site: camat, device: r-camat } }
  - { id: scc-pasar, name: SCC–Pasar, medium: radio, a: { site: scc, device: r-scc-pasar }, b: { site: pasar, device: r-pasar } }
  - { id: scc-mall, name: SCC–MPP, medium: fiber, a: { site: scc }, b: { site: mall } }
`;

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 22, 6, 0, 0);

/** Radio figures of one end at the baseline: −55 dBm, noise −95 dBm, SNR 40 dB, MCS 8. */
const BASE = { rx: -55, noise: -95, mcs: 8 };

interface EndFigures {
  rx?: number;
  noise?: number;
  mcs?: number;
  chains?: [number, number];
  uptime?: number;
  linkUptime?: number;
}

class Network {
  now = T0;
  seq = 0;
  readonly engine: CentralEngine;
  readonly db: CentralDb;
  readonly bb = parseBackbone(BACKBONE);
  private readonly uptime = new Map<string, number>();
  /** Site boxes whose health reports keep coming. */
  private readonly alive = new Set<string>();

  constructor(dir: string) {
    this.db = new CentralDb(join(dir, 'central.db'));
    this.engine = new CentralEngine({ backbone: this.bb, db: this.db, now: () => this.now });
  }

  online(...sites: string[]): void {
    for (const site of sites) {
      this.alive.add(site);
      this.engine.onGatewayState(site, { v: 1, state: 'online', ts: this.now, site }, this.now);
    }
  }

  offline(site: string): void {
    this.alive.delete(site);
    this.engine.onGatewayState(site, { v: 1, state: 'offline', ts: this.now, site }, this.now);
  }

  /** One poll of one radio as its site box publishes it: telemetry and the retained state. */
  radio(site: string, device: string, f: EndFigures, status: DeviceStatePayload['status'] = 'ok'): void {
    const up = f.uptime ?? (this.uptime.get(device) ?? 86_400) + 60;
    this.uptime.set(device, up);
    const values: Reading['values'] = { uptime_s: up };
    if (f.rx !== undefined) {
      values.rx_power_dbm = f.rx;
      values.noise_floor_dbm = f.noise ?? BASE.noise;
      values.snr_db = f.rx - (f.noise ?? BASE.noise);
      values.mcs_index = f.mcs ?? BASE.mcs;
    }
    if (f.linkUptime !== undefined) values.link_uptime_s = f.linkUptime;
    const readings: Reading[] = [{ ts: this.now, values }];
    for (const [i, c] of (f.chains ?? []).entries())
      readings.push({ ts: this.now, values: { rx_power_dbm: c }, labels: { chain: String(i) } });
    const t: TelemetryPayload = { v: 1, seq: ++this.seq, device, backfill: false, readings };
    this.engine.onTelemetry(site, t, this.now);
    this.engine.onDeviceState(
      site,
      {
        v: 1,
        ts: this.now,
        device,
        kind: 'radio',
        address: '10.0.0.1',
        status,
        reasons: [],
        last_seen: status === 'down' ? this.now - 5 * MIN : this.now,
        interval_s: 60,
        figures: {},
      },
      this.now,
    );
  }

  event(site: string, device: string, type: EventPayload['type'], data?: Record<string, unknown>): void {
    this.engine.onEvent(
      site,
      {
        v: 1,
        seq: ++this.seq,
        ts: this.now,
        type,
        device,
        severity: 'warning',
        message: { id: type, en: type },
        ...(data ? { data } : {}),
      },
      this.now,
    );
  }

  /** Both radios of a link at their baseline, unless figures are given per end. */
  link(id: string, a: EndFigures = { rx: BASE.rx }, b: EndFigures = { rx: BASE.rx }): void {
    const l = this.bb.links.get(id)!;
    if (l.a.device) this.radio(l.a.site, l.a.device, a);
    if (l.b.device) this.radio(l.b.site, l.b.device, b);
  }

  allLinksAtBaseline(except: string[] = []): void {
    for (const id of this.bb.links.keys()) if (!except.includes(id)) this.link(id);
  }

  commission(): void {
    const end = {
      rx_dbm: BASE.rx,
      snr_db: BASE.rx - BASE.noise,
      noise_dbm: BASE.noise,
      mcs: BASE.mcs,
      imbalance_db: 1,
    };
    for (const id of this.bb.links.keys()) {
      const b: LinkBaseline = { a: end, b: end, recorded_at: this.now, recorded_by: 'test' };
      this.db.putBaseline(id, b);
    }
  }

  tick(minutes = 1): void {
    this.now += minutes * MIN;
    for (const site of this.alive) this.engine.onGatewayHealth(site, this.now);
  }

  verdict(id: string) {
    return this.engine.evaluate(this.now).get(id)!;
  }
}

let dir: string;
let net: Network;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pantau-scenario-'));
  net = new Network(dir);
  net.online('scc', 'bukit', 'rsud', 'damkar', 'camat', 'pasar', 'mall');
  net.commission();
  // Ten quiet minutes first: every link at its baseline.
  for (let i = 0; i < 10; i++) {
    net.allLinksAtBaseline();
    net.tick();
  }
});
afterEach(() => {
  net.db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('scripted simulations', () => {
  it('quiet network: every radio link ok, no incidents', () => {
    const all = net.engine.evaluate(net.now);
    for (const id of ['scc-bukit', 'bukit-rsud', 'scc-pasar']) expect(all.get(id)!.status).toBe('ok');
    expect(all.get('scc-mall')!.status).toBe('unknown'); // fiber with no polled device
    expect(net.db.openIncidents()).toEqual([]);
  });

  it('rain fade on both ends: weather, with modulation stepping down and a neighbour fading too', () => {
    // Rain moves in over ten minutes across Tanete: both ends of two links lose power together.
    for (let i = 1; i <= 10; i++) {
      const drop = i * 0.8;
      net.allLinksAtBaseline(['bukit-rsud', 'bukit-damkar']);
      net.link(
        'bukit-rsud',
        { rx: BASE.rx - drop, mcs: i > 5 ? 6 : 8 },
        { rx: BASE.rx - drop - 0.5, mcs: i > 5 ? 6 : 8 },
      );
      net.link('bukit-damkar', { rx: BASE.rx - drop * 0.9 }, { rx: BASE.rx - drop * 0.9 });
      net.tick();
    }
    const v = net.verdict('bukit-rsud');
    expect(v.cause).toBe('weather_fade');
    expect(v.status).toBe('degraded');
    expect(v.level).toBe(1);
    expect(v.reasons[0]!.id).toMatch(/^Pelemahan karena cuaca/);
    expect(v.reasons[0]!.id).toContain('kedua ujung turun bersamaan');
    expect(v.reasons[0]!.id).toContain('modulasi turun 2 tingkat');
    expect(v.reasons[0]!.en).toContain('Bukit–Damkar');
    // One incident for the weather over Tanete, not one per link.
    const open = net.db.openIncidents();
    expect(open.map((i) => i.key)).toEqual(['weather:Tanete']);
    expect(open[0]!.affected.links).toEqual(['bukit-damkar', 'bukit-rsud']);
  });

  it('interference on one end: the noise floor rises at B while rx power holds', () => {
    for (let i = 0; i < 5; i++) {
      net.allLinksAtBaseline(['bukit-rsud']);
      net.link('bukit-rsud', { rx: BASE.rx }, { rx: BASE.rx + 0.5, noise: BASE.noise + 9 });
      net.tick();
    }
    const v = net.verdict('bukit-rsud');
    expect(v.cause).toBe('interference');
    expect(v.b.noise_rise_db).toBe(9);
    expect(v.reasons[0]!.id).toContain('Interferensi di ujung B');
    expect(v.reasons[0]!.en).toContain('noise floor up 9 dB');
    expect(net.db.openIncidents().map((i) => i.key)).toEqual(['link:bukit-rsud']);
  });

  it('a misalignment step: a sudden 12 dB drop that stays, one chain falling away', () => {
    net.link('bukit-damkar', { rx: BASE.rx, chains: [-55, -56] }, { rx: BASE.rx, chains: [-55, -56] });
    net.tick();
    for (let i = 0; i < 6; i++) {
      net.allLinksAtBaseline(['bukit-damkar']);
      net.link('bukit-damkar', { rx: BASE.rx - 12, chains: [-67, -76] }, { rx: BASE.rx - 11.5 });
      net.tick();
    }
    const v = net.verdict('bukit-damkar');
    expect(v.cause).toBe('alignment');
    expect(v.level).toBe(2);
    expect(v.a.step).toBe(true);
    expect(v.reasons[0]!.id).toMatch(/arah antena bergeser/);
    expect(v.reasons[0]!.en).toContain('chain imbalance up 8 dB');
  });

  it('a reboot: uptime back to zero is a device/power cause, not a fade', () => {
    net.allLinksAtBaseline(['scc-pasar']);
    net.link('scc-pasar', { rx: BASE.rx }, { rx: BASE.rx, uptime: 40 });
    net.event('pasar', 'r-pasar', 'device_rebooted');
    net.tick();
    const v = net.verdict('scc-pasar');
    expect(v.cause).toBe('device_power');
    expect(v.reasons[0]!.id).toContain('Radio ujung B menyala ulang');
    // After a quiet quarter hour the restart no longer explains anything.
    for (let i = 0; i < 16; i++) {
      net.allLinksAtBaseline();
      net.tick();
    }
    expect(net.verdict('scc-pasar').cause).toBe('ok');
  });

  it('a flapping link: unstable after three flaps in 30 minutes, and it stays so until 30 quiet minutes', () => {
    for (let i = 0; i < 3; i++) {
      net.allLinksAtBaseline();
      net.event('rsud', 'r-rsud', 'link_flap');
      for (let m = 0; m < 4; m++) {
        net.allLinksAtBaseline();
        net.tick();
      }
      if (i < 2) expect(net.verdict('bukit-rsud').unstable).toBe(false);
    }
    let v = net.verdict('bukit-rsud');
    expect(v.unstable).toBe(true);
    expect(v.cause).toBe('unstable');
    expect(v.reasons[0]!.id).toContain('3 kali terputus-sambung dalam 30 menit');
    // Debounced: 20 minutes later it is still unstable, even though only two flaps are recent...
    for (let i = 0; i < 20; i++) {
      net.allLinksAtBaseline();
      net.tick();
    }
    v = net.verdict('bukit-rsud');
    expect(v.unstable).toBe(true);
    // ...and it clears after 30 quiet minutes.
    for (let i = 0; i < 12; i++) {
      net.allLinksAtBaseline();
      net.tick();
    }
    expect(net.verdict('bukit-rsud').status).toBe('ok');
  });

  it('link-uptime going back counts as a flap even without an event', () => {
    net.link('scc-pasar', { rx: BASE.rx, linkUptime: 5000 });
    net.tick();
    net.link('scc-pasar', { rx: BASE.rx, linkUptime: 30 });
    net.tick();
    expect(net.verdict('scc-pasar').flaps_30m).toBe(1);
  });

  it('a dead relay with three sites behind it: one incident for the relay link, not one per site or device', () => {
    net.verdict('scc-bukit');
    // Power cut at the hilltop: the relay's site box and radios die; the sites behind go silent.
    net.offline('bukit');
    for (const s of ['rsud', 'damkar', 'camat']) net.offline(s);
    for (let i = 0; i < 4; i++) {
      // The command center's radio still answers but no longer sees its peer.
      net.radio('scc', 'r-scc-bukit', {});
      net.link('scc-pasar');
      net.tick();
    }
    const all = net.engine.evaluate(net.now);
    expect(all.get('scc-bukit')!.status).toBe('down');
    expect(all.get('scc-bukit')!.reasons[0]!.id).toContain(
      'radio ujung A menyala tetapi tidak melihat pasangannya',
    );
    expect(all.get('scc-pasar')!.status).toBe('ok');
    const open = net.db.openIncidents();
    expect(open.map((i) => i.key)).toEqual(['link:scc-bukit']);
    expect(open[0]!.title.id).toContain('4 lokasi di belakangnya tidak terjangkau');
    expect(open[0]!.affected.sites).toEqual(['bukit', 'camat', 'damkar', 'rsud']);
    expect(open[0]!.affected.devices).toContain('rsud/r-rsud');
    expect(open[0]!.affected.links).toEqual(['bukit-camat', 'bukit-damkar', 'bukit-rsud', 'scc-bukit']);
    // Power back: the relay and the sites behind report again; the incident closes.
    net.online('bukit', 'rsud', 'damkar', 'camat');
    for (let i = 0; i < 4; i++) {
      net.allLinksAtBaseline();
      net.tick();
    }
    net.engine.evaluate(net.now);
    expect(net.db.openIncidents()).toEqual([]);
    expect(net.db.incidents()[0]!.closed_at).toBe(net.now);
  });

  it('a site box down while its link still sees the peer: the site, not the link', () => {
    net.offline('camat');
    for (let i = 0; i < 3; i++) {
      net.allLinksAtBaseline(['bukit-camat']);
      net.radio('bukit', 'r-bukit-camat', { rx: BASE.rx });
      net.tick();
    }
    net.engine.evaluate(net.now);
    const open = net.db.openIncidents();
    expect(open.map((i) => i.key)).toEqual(['site:camat']);
    expect(open[0]!.title.en).toContain('likely power or the site box');
  });
});

describe('outage labels: power, RF or a hung device', () => {
  /** The relay's UPS, as its site box reports it. */
  const ups = (onBattery: 0 | 1) =>
    net.engine.onDeviceState(
      'bukit',
      {
        v: 1,
        ts: net.now,
        device: 'ups-bukit',
        kind: 'power',
        address: '10.0.3.9',
        status: onBattery ? 'degraded' : 'ok',
        reasons: [],
        last_seen: net.now,
        interval_s: 60,
        figures: { on_battery: { value: onBattery, ts: net.now } } as DeviceStatePayload['figures'],
      },
      net.now,
    );

  it('a power cut: the UPS goes to battery, then the relay goes silent → labelled power', () => {
    ups(0);
    net.event('bukit', 'ups-bukit', 'power_lost');
    ups(1);
    // The battery holds for a quarter of an hour, everything still reports.
    for (let i = 0; i < 15; i++) {
      net.allLinksAtBaseline();
      net.tick();
    }
    net.engine.evaluate(net.now);
    expect(net.db.openIncidents()).toEqual([]);
    // Then the battery is flat: the relay and everything behind it go dark.
    for (const s of ['bukit', 'rsud', 'damkar', 'camat']) net.offline(s);
    for (let i = 0; i < 4; i++) {
      net.radio('scc', 'r-scc-bukit', {});
      net.link('scc-pasar');
      net.tick();
    }
    net.engine.evaluate(net.now);
    const [inc] = net.db.openIncidents();
    expect(inc!.key).toBe('link:scc-bukit');
    expect(inc!.outage).toEqual({
      label: 'power',
      reason: {
        code: 'outage_power',
        id: 'Listrik padam: UPS di Relay Bukit Tanete beralih ke baterai pukul 14:10, lalu senyap',
        en: 'Power cut: the UPS at Relay Bukit Tanete went to battery at 14:10, then silence',
      },
    });
  });

  it('a fade, then the link breaks → labelled RF', () => {
    for (let i = 0; i < 5; i++) {
      net.allLinksAtBaseline(['scc-pasar']);
      net.link('scc-pasar', { rx: BASE.rx - 12 }, { rx: BASE.rx - 12 });
      net.tick();
      net.engine.evaluate(net.now);
    }
    net.offline('pasar');
    for (let i = 0; i < 4; i++) {
      net.allLinksAtBaseline(['scc-pasar']);
      net.radio('scc', 'r-scc-pasar', {});
      net.tick();
    }
    net.engine.evaluate(net.now);
    const inc = net.db.openIncidents().find((i) => i.key === 'link:scc-pasar');
    expect(inc!.outage!.label).toBe('rf');
    expect(inc!.outage!.reason.id).toBe(
      'Gangguan RF: tautan SCC–Pasar melemah sejak pukul 14:12 sebelum putus',
    );
  });

  it('a device silent while power and link are fine → labelled device hang', () => {
    net.engine.onDeviceState(
      'rsud',
      {
        v: 1,
        ts: net.now,
        device: 'absen-igd',
        kind: 'terminal',
        address: '10.0.4.20',
        status: 'down',
        reasons: [],
        last_seen: net.now - 10 * MIN,
        interval_s: 60,
        figures: {},
      },
      net.now,
    );
    net.allLinksAtBaseline();
    net.tick();
    net.engine.evaluate(net.now);
    const inc = net.db.openIncidents().find((i) => i.key === 'device:rsud/absen-igd');
    expect(inc!.outage).toMatchObject({ label: 'device_hang' });
    expect(inc!.outage!.reason.en).toBe(
      'Device hang: absen-igd silent while power and link at RSUD Tanete are fine',
    );
  });

  it('the label stays what it was when the outage began', () => {
    net.event('bukit', 'ups-bukit', 'power_lost');
    for (const s of ['bukit', 'rsud', 'damkar', 'camat']) net.offline(s);
    for (let i = 0; i < 4; i++) {
      net.radio('scc', 'r-scc-bukit', {});
      net.tick();
    }
    net.engine.evaluate(net.now);
    net.event('scc', 'r-scc-bukit', 'power_restored');
    net.tick();
    net.engine.evaluate(net.now);
    expect(net.db.openIncidents().find((i) => i.key === 'link:scc-bukit')!.outage!.label).toBe('power');
  });
});

describe('thresholds', () => {
  it('hysteresis: enter warn at 5 dB, leave only below 3 dB; critical at 10, leave below 8', () => {
    const t = { warn_db: 5, critical_db: 10 };
    expect(levelOf(4.9, 0, t)).toBe(0);
    expect(levelOf(5, 0, t)).toBe(1);
    expect(levelOf(3.5, 1, t)).toBe(1);
    expect(levelOf(3, 1, t)).toBe(0);
    expect(levelOf(10, 1, t)).toBe(2);
    expect(levelOf(8.5, 2, t)).toBe(2);
    expect(levelOf(8, 2, t)).toBe(1);
  });

  it('a per-link override replaces the default', () => {
    const bb = parseBackbone(
      `${BACKBONE.replace('a: { site: scc, device: r-scc-pasar }', 'fade: { warn_db: 3, critical_db: 6 }, a: { site: scc, device: r-scc-pasar }')}`,
    );
    expect(bb.links.get('scc-pasar')!.fade).toEqual({ warn_db: 3, critical_db: 6 });
  });

  it("without a baseline, the radio's own ideal level (airFiber LTU) is the reference", async () => {
    const { classifyLink } = await import('./classifier.js');
    const sample = (ts: number) => ({ ts, rx_dbm: -64, ideal_dbm: -56 });
    const v = classifyLink({
      id: 'x',
      name: 'X',
      thresholds: { warn_db: 5, critical_db: 10 },
      baseline: null,
      a: { samples: [sample(1), sample(2), sample(3)], reachable: true },
      b: { samples: [], reachable: null },
      flaps: [],
      fadingNeighbours: [],
      previous: null,
      now: 3,
    });
    expect(v.a).toMatchObject({ drop_db: 8, reference: 'ideal' });
    expect(v.status).toBe('degraded');
    expect(v.reasons[0]!.id).toContain('level ideal radio');
  });
});

describe('the shipped example', () => {
  it('deploy/backbone.example.yaml is a valid tree, standby path left out of it', () => {
    const bb = loadBackbone(join(import.meta.dirname, '../../../deploy/backbone.example.yaml'));
    expect(bb.upstream.get('kec-ganra')?.id).toBe('lompo-ganra');
    expect(ancestors(bb, 'kec-ganra')).toEqual(['tower-lompo', 'relay-bukit', 'scc']);
    expect(bb.links.get('ganra-isp')?.standby).toBe(true);
  });
});
