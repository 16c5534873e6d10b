import type { CommissionedDevice, CommissioningPayload } from '@pantau/contract';
import { renderCommissioningHtml } from '@pantau/contract';
import { describe, expect, it } from 'vitest';
import { fitForCentral, fitsCap, pairLinks } from './commission.js';

const radio = (id: string, macs: string[], peers: string[]): CommissionedDevice => ({
  id,
  kind: 'radio',
  address: '10.0.0.1',
  ok: true,
  notes: [],
  macs,
  peers,
});

const camera = (id: string, kb: number): CommissionedDevice => ({
  id,
  kind: 'camera',
  address: '10.0.0.2',
  ok: true,
  notes: [],
  thumbnail: { mime: 'image/jpeg', data: 'A'.repeat(kb * 1024) },
});

const report = (devices: CommissionedDevice[]): CommissioningPayload => ({
  v: 1,
  id: 'pasar-20261202-040000',
  ts: 1_796_184_000_000,
  site: 'pasar',
  time_zone: 'Asia/Makassar',
  by: 'installer@10.1.2.50',
  gateway_version: '0.1.0',
  devices,
  links: [],
});

describe('commissioning', () => {
  it('pairs two radios of the site whose peer tables name each other', () => {
    const devices = [
      radio('ap-pasar', ['aa:00:00:00:00:01'], ['aa:00:00:00:00:02']),
      radio('sta-kantor', ['aa:00:00:00:00:02'], []),
      radio('other', ['bb:00:00:00:00:09'], ['cc:00:00:00:00:00']),
    ];
    expect(pairLinks(devices)).toEqual([{ a: 'ap-pasar', b: 'sta-kantor' }]);
  });

  it('leaves pictures out, last first, until the report fits the broker cap; keeps the rest', () => {
    const r = report([camera('cam-1', 30), camera('cam-2', 30), camera('cam-3', 30)]);
    const fitted = fitForCentral(r, 80 * 1024);
    expect(fitted.thumbnails_omitted).toBe(2);
    expect(fitted.devices.map((d) => d.thumbnail !== undefined)).toEqual([true, false, false]);
    expect(Buffer.byteLength(JSON.stringify(fitted))).toBeLessThan(80 * 1024);
    // The box's own copy is untouched.
    expect(r.devices.every((d) => d.thumbnail)).toBe(true);
    expect(fitForCentral(r, 1024 * 1024).thumbnails_omitted).toBeUndefined();
  });

  it('keeps only baseline figures when pictures alone do not make it fit, and says whether it fits', () => {
    const many = Array.from({ length: 400 }, (_, i) => ({
      ts: 1,
      values: { rx_power_dbm: -60, if_in_bps: 1e6, uptime_s: 1000 + i },
      labels: { station: `aa:bb:cc:dd:${String(i % 100).padStart(2, '0')}:ee` },
    }));
    const r = report([{ ...radio('ap', [], []), readings: many }]);
    const full = Buffer.byteLength(JSON.stringify(r));
    expect(fitsCap(r, full)).toBe(false);
    expect(fitsCap(r, full + 200)).toBe(true);
    // A cap the whole report misses by a little once the 32 kB envelope is set aside.
    const cap = full + 32 * 1024 - 1000;
    const fitted = fitForCentral(r, cap);
    expect(fitted.devices[0]!.readings).toHaveLength(400);
    expect(fitted.devices[0]!.readings!.every((x) => Object.keys(x.values).join() === 'rx_power_dbm')).toBe(
      true,
    );
    expect(Buffer.byteLength(JSON.stringify(fitted))).toBeLessThan(full * 0.75);
    // The box's own copy keeps everything.
    expect(Object.keys(r.devices[0]!.readings![0]!.values)).toHaveLength(3);
  });

  it('renders a self-contained page with what the devices said, escaped', () => {
    const html = renderCommissioningHtml(
      report([
        {
          ...radio('ap-pasar', [], []),
          name: '<script>alert(1)</script>',
          readings: [
            { ts: 1, values: { rx_power_dbm: -61.4, capacity_tx_bps: 150_000_000 }, labels: { chain: '0' } },
          ],
          notes: [{ ok: false, id: 'Jam selisih', en: 'Clock off' }],
        },
      ]),
    );
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toMatch(/Daya terima \/ Rx power<\/td><td class="n">-61.4 dBm/);
    expect(html).toMatch(/150\.0 Mbit\/s/);
    expect(html).not.toMatch(/(src|href)="https?:/);
  });
});
