// The devices view as an engineer sees it, in headless Chromium (Debian's, driven by playwright-core):
// login, the devices table with ages, a stale value shown as stale, the English switch, a phone-sized
// screen, and a live update arriving through broker → dashboard → page without a reload.
// (The other views, over a whole backbone: dashboard-views.test.ts.)

import { join } from 'node:path';
import { addGateway, addReader, type RunningBroker, startBroker } from '@pantau/broker';
import { type DeviceStatePayload, topics } from '@pantau/contract';
import { addUser, type RunningDashboard, startDashboard } from '@pantau/dashboard';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/browser.js';
import { tempDir, waitFor } from './support/procs.js';

describe('dashboard page in a real browser', () => {
  const dir = tempDir('page');
  let broker: RunningBroker;
  let dash: RunningDashboard;
  let browser: Browser;
  let page: Page;
  let gw: MqttClient;
  const now = Date.now();

  const state = (rx: number, snr: number, figuresTs: number): DeviceStatePayload => ({
    v: 1,
    ts: Date.now(),
    device: 'ptp-damkar',
    kind: 'radio',
    name: 'Pemancar Damkar → SCC',
    address: '10.10.2.2',
    status: snr < 15 ? 'degraded' : 'ok',
    reasons:
      snr < 15
        ? [{ code: 'snr_low', id: `Sinyal lemah: SNR ${snr} dB`, en: `Weak signal: SNR ${snr} dB` }]
        : [],
    last_seen: figuresTs,
    interval_s: 10,
    figures: {
      rx_power_dbm: { value: rx, ts: figuresTs },
      snr_db: { value: snr, ts: figuresTs },
      // Last ping ten minutes ago: must look stale.
      latency_ms: { value: 4.2, ts: now - 600_000 },
    },
  });

  beforeAll(async () => {
    const silent = pino({ level: 'silent' });
    const cred = join(dir.path, 'credentials.yaml');
    await addGateway(cred, 'damkar', 'gw-damkar', 'gw-damkar-pass');
    await addReader(cred, 'dashboard', 'dashboard-pass');
    await addUser(join(dir.path, 'users.yaml'), {
      username: 'insinyur',
      role: 'engineer',
      password: 'insinyur-pass',
    });
    const store = { kind: 'sqlite' as const, path: join(dir.path, 'central.db') };
    broker = await startBroker(
      {
        mqtt: { host: '127.0.0.1', port: 0, max_packet_bytes: 65536 },
        credentials_file: cred,
        store,
        log_level: 'fatal',
      },
      { logger: silent },
    );
    gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      username: 'gw-damkar',
      password: 'gw-damkar-pass',
      reconnectPeriod: 0,
    });
    await gw.publishAsync(
      topics.gatewayState('damkar'),
      JSON.stringify({ v: 1, state: 'online', ts: now, site: 'damkar', name: 'Kantor Damkar' }),
      { qos: 1, retain: true },
    );
    await gw.publishAsync(topics.deviceState('damkar', 'ptp-damkar'), JSON.stringify(state(-64, 31, now)), {
      qos: 1,
      retain: true,
    });
    await waitFor('ingested', () => broker.stats().states >= 2, 5000);
    dash = await startDashboard(
      {
        http: { host: '127.0.0.1', port: 0, secure_cookies: false },
        mqtt: { url: `mqtt://127.0.0.1:${broker.port}`, username: 'dashboard' },
        mqttPassword: 'dashboard-pass',
        store,
        users_file: join(dir.path, 'users.yaml'),
        language: 'id',
        timezone: 'Asia/Makassar',
        log_level: 'fatal',
      },
      { logger: silent },
    );
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.endAsync();
    await dash?.close();
    await broker?.close();
    dir.remove();
  });

  it('logs in and shows the radio with its figures and their age, in Bahasa Indonesia', async () => {
    await page.goto(`http://127.0.0.1:${dash.port}/#devices`);
    await page.fill('input[name=username]', 'insinyur');
    await page.fill('input[name=password]', 'insinyur-pass');
    await page.click('button[type=submit]');
    const row = page.locator('#devices-table tbody tr', { hasText: 'Pemancar Damkar' });
    await row.waitFor();
    expect(await row.locator('td').nth(0).textContent()).toContain('Kantor Damkar');
    expect(await row.locator('td').nth(2).textContent()).toMatch(/^-64 dBm\d+ dtk lalu$/);
    expect(await row.locator('.badge').textContent()).toBe('Aktif');
    await page.click('nav a[data-view=sites]');
    expect(await page.locator('#sites-table tr[data-site=damkar] .badge').textContent()).toBe('Terhubung');
    await page.click('nav a[data-view=devices]');
    await row.waitFor();
  });

  it('shows a stale value as stale', async () => {
    const latency = page
      .locator('#devices-table tbody tr', { hasText: 'Pemancar Damkar' })
      .locator('td')
      .nth(6)
      .locator('.value');
    expect(await latency.getAttribute('class')).toBe('value stale');
    expect(await latency.locator('.age').textContent()).toMatch(/^basi · 10 mnt lalu$/);
  });

  it('switches to English', async () => {
    await page.click('#lang');
    expect(await page.locator('#view-title').textContent()).toBe('Devices');
    await waitFor(
      'table in English',
      async () => (await page.locator('#devices-table th').first().textContent()) === 'Place / device',
      5000,
    );
    await page.click('#lang');
  });

  it('updates live when the radio fades, without a reload', async () => {
    await waitFor(
      'live feed connected',
      async () => (await page.locator('#conn').textContent()) === 'Pembaruan langsung: tersambung',
      10_000,
    );
    await gw.publishAsync(
      topics.deviceState('damkar', 'ptp-damkar'),
      JSON.stringify(state(-80, 12, Date.now())),
      { qos: 1, retain: true },
    );
    const row = page.locator('#devices-table tbody tr', { hasText: 'Pemancar Damkar' });
    await waitFor(
      'faded row',
      async () => (await row.locator('.badge').textContent()) === 'Gangguan',
      10_000,
    );
    expect(await row.locator('td').nth(2).textContent()).toMatch(/^-80 dBm/);
    expect(await row.textContent()).toContain('Sinyal lemah: SNR 12 dB');
  });

  it('says so when no backbone is configured, rather than failing', async () => {
    await page.goto(`http://127.0.0.1:${dash.port}/#map`);
    await waitFor(
      'no backbone message',
      async () => (await page.locator('#view-map').textContent()) === 'Backbone belum diatur.',
      5000,
    );
    await page.goto(`http://127.0.0.1:${dash.port}/#devices`);
    await page.locator('#devices-table').waitFor();
  });

  it('fits a phone screen', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
  });
});
