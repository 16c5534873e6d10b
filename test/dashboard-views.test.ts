// The dashboard's views in a real browser (Debian's Chromium via playwright-core) over real
// processes: the backbone rig (broker, dashboard, two site boxes polling simulated radios, rain at
// both ends after a while) plus a third site whose site box is played by an MQTT client with its own
// site credentials (a camera and an attendance terminal). Each role logs in and sees only its views;
// the server refuses the other roles' APIs; the map, link card, site boxes, incidents, summary,
// cameras and terminals render real data; a live update arrives without a reload; the language
// switch is remembered. Screenshots of each view at 1366×768 and at phone size go to test/artifacts.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { topics } from '@pantau/contract';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackboneRig, startBackboneRig } from './support/backbone-rig.js';
import { DESK, fitsPhone, launchChromium, logIn, screenshot } from './support/browser.js';
import { tempDir, waitFor } from './support/procs.js';

/** Late enough for the views before it to be seen in fair weather, whatever the machine's pace. */
const RAIN_AT_MS = 60_000;

const USERS: Array<[string, string, string[]?]> = [
  ['insinyur', 'engineer'],
  ['operator', 'operator'],
  ['pimpinan', 'leadership'],
  ['bkd', 'hr'],
  // An installer assigned all three sites (test/dashboard-admin.test.ts tests the limits).
  ['pemasang', 'installer', ['scc', 'bukit', 'damkar']],
  ['admin', 'admin'],
];

describe('dashboard views in a real browser', () => {
  const dir = tempDir('views');
  let rig: BackboneRig;
  let browser: Browser;
  let gw: MqttClient;
  let base: string;
  const pages: Page[] = [];

  const camera = (live: boolean) => ({
    v: 1,
    ts: Date.now(),
    device: 'cam-damkar',
    kind: 'camera',
    name: 'Kamera Halaman Damkar',
    address: '10.20.0.10',
    status: live ? 'ok' : 'down',
    reasons: live ? [] : [{ code: 'stream_down', id: 'Siaran kamera terputus', en: 'Camera stream cut off' }],
    last_seen: Date.now(),
    // A long interval keeps the hand-published state current for the whole run.
    interval_s: 300,
    figures: {},
    camera: {
      onvif: null,
      stream: live ? 'up' : 'down',
      frozen: false,
      black: false,
      last_good_frame: live ? Date.now() : Date.now() - 600_000,
    },
  });
  const terminal = {
    v: 1,
    ts: Date.now(),
    device: 'absen-damkar',
    kind: 'terminal',
    name: 'Mesin Absen Damkar',
    address: '10.20.0.20',
    status: 'ok',
    reasons: [],
    last_seen: Date.now(),
    // A long interval keeps the hand-published state current for the whole run.
    interval_s: 3600,
    figures: {},
    terminal: {
      state: 'up',
      clock_offset_s: 4,
      fill: {
        records: 41_000,
        records_capacity: 100_000,
        records_pct: 41,
        users: 52,
        users_capacity: 3000,
        fingerprints: 104,
        fingerprints_capacity: 3000,
      },
      last_punch: { ts: Date.now() - 3_600_000, user_id: '17', punch: 0 },
      time_zone: 'Asia/Makassar',
    },
  };
  const publish = (topic: string, body: unknown) =>
    gw.publishAsync(topic, JSON.stringify(body), { qos: 1, retain: true });

  const page = async (user: string, viewport = DESK) => {
    const p = await browser.newPage({ viewport });
    pages.push(p);
    await logIn(p, base, user, `${user}-secret-1`);
    await p.locator('nav a').first().waitFor();
    return p;
  };
  const navTexts = async (p: Page) => (await p.locator('nav a').allTextContents()).map((s) => s.trim());

  beforeAll(async () => {
    rig = await startBackboneRig({
      dir: dir.path,
      rainAtMs: RAIN_AT_MS,
      users: USERS,
      moreSites: {
        ids: ['damkar'],
        yaml: '  - { id: damkar, name: Kantor Damkar, kecamatan: Lalabata, agency: Damkar, priority: emergency, coords: [-4.35, 119.88] }\n',
        links:
          '  - { id: scc-damkar, name: "SCC – Damkar", medium: fiber, a: { site: scc }, b: { site: damkar } }\n',
      },
    });
    base = `http://127.0.0.1:${rig.central.httpPort}/`;
    gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.central.mqttPort}`, {
      username: 'gw-damkar',
      password: readFileSync(join(dir.path, 'damkar.pw'), 'utf8').trim(),
      reconnectPeriod: 0,
    });
    await publish(topics.gatewayState('damkar'), {
      v: 1,
      state: 'online',
      ts: Date.now(),
      site: 'damkar',
      name: 'Kantor Damkar',
      version: '0.1.0',
    });
    await publish(topics.deviceState('damkar', 'cam-damkar'), camera(true));
    await publish(topics.deviceState('damkar', 'absen-damkar'), terminal);
    browser = await launchChromium();
    await waitFor(
      'both radio ends reporting',
      async () => {
        const r = await rig.central.api<{ a: { device_state: unknown }; b: { device_state: unknown } }>(
          '/api/links/scc-bukit',
          'insinyur',
        );
        return r.body.a.device_state && r.body.b.device_state ? true : null;
      },
      30_000,
    );
    // Commissioned in fair weather (by the admin; the engineer records it again from the card).
    await waitFor(
      'baseline recorded',
      async () =>
        (
          await rig.central.api('/api/links/scc-bukit/baseline', 'admin', {
            method: 'POST',
            body: JSON.stringify({ minutes: 1 }),
          })
        ).status === 201,
      20_000,
      500,
    );
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.endAsync();
    await rig?.stop();
    dir.remove();
  }, 30_000);

  it('the server refuses each role the APIs of the others (403) and serves its own', async () => {
    const cases: Array<[string, string, number]> = [
      ['pimpinan', '/api/summary', 200],
      ['pimpinan', `/api/uptime?from=${Date.now() - 3600_000}`, 200],
      ['pimpinan', '/api/cameras', 403],
      ['pimpinan', '/api/incidents', 403],
      ['pimpinan', '/api/backbone', 403],
      ['pimpinan', '/api/sites', 403],
      ['pimpinan', '/api/terminals', 403],
      ['operator', '/api/cameras', 200],
      ['operator', '/api/incidents', 200],
      ['operator', '/api/backbone', 403],
      ['operator', '/api/links/scc-bukit', 403],
      ['operator', '/api/sites', 403],
      ['operator', '/api/terminals', 403],
      ['bkd', '/api/terminals', 200],
      ['bkd', '/api/attendance/gaps', 200],
      ['bkd', '/api/cameras', 403],
      ['bkd', '/api/incidents', 403],
      ['bkd', '/api/devices', 403],
      ['pemasang', '/api/sites', 200],
      ['pemasang', '/api/devices?site=bukit', 200],
      ['pemasang', '/api/backbone', 403],
      ['pemasang', '/api/cameras', 403],
      ['pemasang', '/api/incidents', 403],
      ['insinyur', '/api/backbone', 200],
      ['insinyur', '/api/terminals', 200],
      ['admin', '/api/links/scc-bukit', 200],
    ];
    for (const [user, path, want] of cases) {
      const r = await rig.central.api<{ message?: string }>(path, user);
      expect(`${user} ${path} → ${r.status}`).toBe(`${user} ${path} → ${want}`);
      if (want === 403) expect(r.body.message).toContain('may not use');
    }
    // Changing requests are refused by role too, before they reach the route.
    const baseline = await rig.central.api('/api/links/scc-bukit/baseline', 'pemasang', {
      method: 'POST',
      body: '{}',
    });
    expect(baseline.status).toBe(403);
    // The vendored chart library comes from the dashboard itself.
    const lib = await fetch(`${base}vendor/uplot.esm.js`);
    expect(lib.status).toBe(200);
    expect(await lib.text()).toContain('uPlot');
  });

  it('leadership sees the summary only: "X dari N titik aktif", links in trouble, sites cut off', async () => {
    const p = await page('pimpinan');
    expect(await navTexts(p)).toEqual(['Ringkasan']);
    const cams = p.locator('[data-testid=sum-cameras] .big-figure');
    await cams.waitFor();
    expect(await cams.textContent()).toBe('1 dari 1 titik aktif');
    expect(await p.locator('[data-testid=sum-sites] .big-figure').textContent()).toBe(
      'Semua 3 lokasi terhubung',
    );
    await screenshot(p, 'summary-id-1366');
    // Another role's view by address: told it may not, nothing else shown.
    await p.goto(`${base}#map`);
    await p.locator('#denied').waitFor();
    expect(await p.locator('#denied').textContent()).toBe('Peran Anda tidak boleh membuka halaman ini.');
    expect(await p.locator('#map-svg').count()).toBe(0);
    await p.goto(`${base}#summary`);
    await cams.waitFor();
    await fitsPhone(p, 'summary-id');
  });

  it('each role sees only its views', async () => {
    const expected: Record<string, string[]> = {
      operator: ['Titik pantau', 'Gangguan'],
      bkd: ['Mesin absensi'],
      pemasang: ['Gateway lokasi', 'Perangkat'],
      insinyur: [
        'Ringkasan',
        'Peta jaringan',
        'Titik pantau',
        'Gangguan',
        'Gateway lokasi',
        'Perangkat',
        'Mesin absensi',
        'Jejak audit',
      ],
    };
    for (const [user, views] of Object.entries(expected)) {
      const p = await page(user);
      expect(await navTexts(p), user).toEqual(views);
      await p.close();
    }
  });

  it('the backbone map: laid out from the command center, links coloured, a link opens its card', async () => {
    const p = await page('insinyur');
    await p.click('nav a[data-view=map]');
    const svg = p.locator('#map-svg');
    await svg.waitFor();
    expect(await p.locator('#map-svg g.site').count()).toBe(3);
    expect(await p.locator('#map-svg g.link').count()).toBe(2);
    // The command center is on the top row; both other sites one hop below it.
    const y = async (site: string) =>
      (await p.locator(`#map-svg g.site[data-site=${site}]`).getAttribute('transform'))!.match(
        /,([\d.]+)\)/,
      )![1];
    expect(Number(await y('bukit'))).toBeGreaterThan(Number(await y('scc')));
    expect(await y('bukit')).toBe(await y('damkar'));
    expect(await p.locator('#map-svg g.site[data-site=bukit]').getAttribute('class')).toContain('ok');
    await waitFor(
      'radio link judged',
      async () =>
        (await p.locator('#map-svg g.link[data-link=scc-bukit]').getAttribute('class'))?.includes(' ok'),
      20_000,
    );
    await screenshot(p, 'map-id-1366');
    await p.click('input[name=map-layout][value=geo]');
    // The map is drawn again after its data is fetched again: the old drawing is there meanwhile.
    await waitFor('geo layout drawn', async () => (await y('damkar')) !== (await y('bukit')), 10_000);
    await screenshot(p, 'map-geo-id-1366');
    await p.click('input[name=map-layout][value=tree]');
    await fitsPhone(p, 'map-id');

    // Click the radio link: its card, both ends side by side with their figures and ages.
    await p.locator('#map-svg g.link[data-link=scc-bukit] line.hit').click({ force: true });
    await p.locator('#view-link .end-a').waitFor();
    expect(p.url()).toContain('#link/scc-bukit');
    expect(await p.locator('#view-link .end-a h3').textContent()).toContain('Command Center');
    expect(await p.locator('#view-link .end-b h3').textContent()).toContain('Relay Bukit');
    const rx = await p.locator('#view-link .end-a table.kv tr').first().textContent();
    expect(rx).toMatch(/-\d+(\.\d)? dBm.*dtk lalu/);
    expect(await p.locator('#view-link .verdict').textContent()).toContain('direkam oleh admin');
    await waitFor('rx chart drawn', async () => (await p.locator('#chart-rx canvas').count()) > 0, 10_000);
    // Commissioning again from the card, still in fair weather.
    await p.click('#record-baseline');
    await waitFor(
      'baseline recorded from the card',
      async () => (await p.locator('#view-link .verdict').textContent())?.includes('direkam oleh insinyur'),
      10_000,
    );
  });

  it('the link card after commissioning and rain: baseline drawn, fade explained, latency spread', async () => {
    const p = await page('insinyur');
    await p.goto(`${base}#link/scc-bukit`);
    await p.locator('#record-baseline').waitFor();
    expect(await p.locator('.verdict').textContent()).toContain('direkam oleh insinyur');
    await waitFor(
      'weather fade shown on the card without a reload',
      async () =>
        (await p.locator('.verdict-reasons').textContent())?.includes('kedua ujung turun bersamaan'),
      90_000,
      1000,
    );
    expect(await p.locator('.card-title .badge').textContent()).toBe('Gangguan');
    expect(await p.locator('.verdict').textContent()).toMatch(/turun [\d.]+ dB/);
    // The baseline is a series on the rx chart (its legend), the probe spread a box plot.
    await waitFor(
      'baseline in the chart legend',
      async () => (await p.locator('#chart-rx .u-legend').textContent())?.includes('A Baseline'),
      10_000,
    );
    await waitFor('latency box', async () => (await p.locator('svg.dist .box').count()) === 1, 30_000, 1000);
    expect(await p.locator('.dist + p').textContent()).toMatch(/p50 [\d.]+ ms/);
    await screenshot(p, 'link-card-id-1366');
    await fitsPhone(p, 'link-card-id');
  }, 120_000);

  it('site boxes: state, last heard, outbox, missing readings, clock, version, load', async () => {
    const p = await page('pemasang');
    const row = p.locator('#sites-table tr[data-site=bukit]');
    await row.waitFor();
    expect(await p.locator('.note').textContent()).toBe(
      'Lokasi yang ditugaskan kepada Anda: scc, bukit, damkar',
    );
    expect(await row.locator('.badge').first().textContent()).toBe('Terhubung');
    expect(await row.locator('td').nth(2).textContent()).toMatch(/dtk lalu/);
    expect(await row.locator('td').nth(3).textContent()).toMatch(/^\d+/);
    expect(await row.locator('td').nth(6).textContent()).toMatch(/Tersinkron|Belum tersinkron/);
    expect(await row.locator('td').nth(8).textContent()).toMatch(/^\d+\.\d\d/);
    expect(await p.locator('#sites-table tbody tr').count()).toBe(3);
    await screenshot(p, 'sites-id-1366');
    await fitsPhone(p, 'sites-id');
    // The installer's other view: each device of the site boxes with its figures and their ages.
    await p.click('nav a[data-view=devices]');
    const radio = p.locator('#devices-table tr[data-device="bukit/r-scc"]');
    await radio.waitFor();
    expect(await radio.locator('td').nth(2).textContent()).toMatch(/^-\d+ dBm\d+ dtk lalu$/);
    await screenshot(p, 'devices-id-1366');
    await fitsPhone(p, 'devices-id');
  });

  it("site boxes: a real gap in a site box's numbers shows as missing ranges, a restart's unused numbers apart", async () => {
    // The damkar site box's readings: 4, 6, … 16 and 18–25 never arrive; then it restarts at 2001
    // having written up to 26, so 27–2000 were never used.
    const sent = [1, 2, 3, 5, 7, 9, 11, 13, 15, 17, 26];
    const reading = (seq: number) =>
      gw.publishAsync(
        topics.deviceTelemetry('damkar', 'ups-damkar'),
        JSON.stringify({
          v: 1,
          seq,
          device: 'ups-damkar',
          backfill: false,
          readings: [{ ts: Date.now(), values: { battery_pct: 100 } }],
        }),
        { qos: 1 },
      );
    for (const seq of sent) await reading(seq);
    await publish(topics.gatewayState('damkar'), {
      v: 1,
      state: 'online',
      ts: Date.now(),
      site: 'damkar',
      name: 'Kantor Damkar',
      version: '0.1.0',
      seq_first: 2001,
      seq_committed: 26,
    });
    await reading(2001);
    const report = await waitFor('the gap at the central', async () => {
      const r = await rig.central.api<{ missing_count: number; last: number; skipped: number[][] }>(
        '/api/sites/damkar/sequence',
        'pemasang',
      );
      return r.body.last === 2001 && r.body.skipped.length === 1 ? r.body : undefined;
    });
    expect(report.missing_count).toBe(15);

    const p = await page('pemasang');
    await p.click('nav a[data-view=sites]');
    const cell = p.locator('#sites-table tr[data-site=damkar] td').nth(5);
    await waitFor(
      'missing ranges shown',
      async () => (await cell.locator('.seq-missing').count()) === 1,
      20_000,
    );
    expect(await cell.locator('.missing-count.bad').textContent()).toBe('15');
    // Open by itself, the first five ranges and how many more, then the unused ones, labelled as such.
    expect(await cell.locator('details.seq').getAttribute('open')).not.toBeNull();
    expect(await cell.locator('.seq-missing').textContent()).toBe(
      'Nomor urut hilang: 4, 6, 8, 10, 12 … dan 3 lagi',
    );
    expect(await cell.locator('.seq-skipped').textContent()).toBe(
      'Nomor tak terpakai setelah gateway menyala ulang (bukan bacaan hilang): 27–2000',
    );
    await screenshot(p, 'sites-gap-id-1366');
    await fitsPhone(p, 'sites-gap-id');
    // A site box with nothing missing: its details on request.
    const bukit = p.locator('#sites-table tr[data-site=bukit] td').nth(5);
    expect(await bukit.locator('details.seq').getAttribute('open')).toBeNull();
    await bukit.locator('details.seq summary').click();
    await waitFor('details loaded', async () => (await bukit.locator('.seq-missing').count()) === 1, 10_000);
    expect(await bukit.locator('.seq-missing').textContent()).toBe('Tidak ada yang hilang');
    expect(await bukit.locator('.seq-body').textContent()).toMatch(/\d+ diterima, nomor \d+–\d+/);
    // In English.
    await p.click('#lang');
    await waitFor(
      'English',
      async () => (await cell.locator('.seq-missing').textContent())?.startsWith('Missing') ?? false,
      10_000,
    );
    expect(await cell.locator('.seq-missing').textContent()).toBe(
      'Missing sequence numbers: 4, 6, 8, 10, 12 … and 3 more',
    );
    expect(await cell.locator('.seq-skipped').textContent()).toBe(
      'Numbers unused after a restart (not lost readings): 27–2000',
    );
    await p.click('#lang');
  });

  it('incidents: the operator acknowledges the rain and writes a note; uptime report with CSV', async () => {
    const p = await page('operator');
    await p.click('nav a[data-view=incidents]');
    const inc = p.locator('#incidents-open .incident[data-key="weather:Tanete"]');
    await waitFor('weather incident listed', async () => (await inc.count()) === 1, 60_000, 1000);
    await inc.locator('input[name=text]').fill('hujan lebat, dipantau');
    await inc.locator('button.ack').click();
    await waitFor('acknowledged', async () => (await inc.locator('.acked').count()) === 1, 10_000);
    expect(await inc.locator('.acked').textContent()).toContain('Ditanggapi oleh operator');
    expect(await inc.locator('.notes').textContent()).toContain('hujan lebat, dipantau');
    await inc.locator('input[name=text]').fill('sudah lapor ke teknisi');
    await inc.locator('button[type=submit]').click();
    await waitFor('note shown', async () => (await inc.locator('.notes li').count()) === 2, 10_000);
    // Both are in the audit log, with who and from where.
    const trail = await rig.central.api<
      Array<{ action: string; user: string; role: string; target: string }>
    >('/api/audit?user=operator', 'admin');
    expect(trail.body.map((e) => e.action)).toEqual(
      expect.arrayContaining(['incident_acknowledged', 'incident_note', 'login']),
    );
    expect(trail.body.find((e) => e.action === 'incident_note')).toMatchObject({
      role: 'operator',
      target: 'weather:Tanete',
      detail: { text: 'sudah lapor ke teknisi' },
    });
    const row = p.locator('#uptime-table tbody tr').first();
    await row.waitFor();
    expect(await row.textContent()).toMatch(/\d+\.\d\d%/);
    await p.selectOption('select[name=group]', 'link');
    await p.click('#uptime-form button[type=submit]');
    await waitFor(
      'per link',
      async () => (await p.locator('#uptime-table').textContent())?.includes('SCC – Bukit'),
      5000,
    );
    const href = await p.locator('#uptime-csv').getAttribute('href');
    expect(href).toMatch(/group=link&format=csv$/);
    const csv = await p.evaluate(async (u) => (await fetch(u!)).text(), href);
    expect(csv.split('\r\n')[0]).toMatch(/^link,name,/);
    await screenshot(p, 'incidents-id-1366');
    await fitsPhone(p, 'incidents-id');
  }, 90_000);

  it('a live update arrives without a reload: the camera goes dark and the board says so', async () => {
    const p = await page('operator');
    await p.click('nav a[data-view=cameras]');
    const summary = p.locator('#board-summary');
    await summary.waitFor();
    expect(await summary.textContent()).toBe('1 dari 1 titik aktif');
    await p.evaluate(() => {
      (window as unknown as { marker: number }).marker = 42;
    });
    await waitFor(
      'live feed connected',
      async () => (await p.locator('#conn').textContent()) === 'Pembaruan langsung: tersambung',
      10_000,
    );
    await publish(topics.deviceState('damkar', 'cam-damkar'), camera(false));
    await waitFor(
      'board updated live',
      async () => (await summary.textContent()) === '0 dari 1 titik aktif',
      10_000,
    );
    expect(await p.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42);
    const tile = p.locator('.tile[data-device="damkar/cam-damkar"]');
    expect(await tile.locator('.reasons').textContent()).toBe('Siaran kamera terputus');
    // Its last good picture is ten minutes old: greyed and called stale, with the age.
    expect(await tile.locator('.age.is-stale').textContent()).toBe('basi · 10 mnt lalu');
    await screenshot(p, 'cameras-id-1366');
    await fitsPhone(p, 'cameras-id');
    // Leadership's summary follows.
    const lead = await page('pimpinan');
    await waitFor(
      'summary shows the dark camera',
      async () =>
        (await lead.locator('[data-testid=sum-cameras] .big-figure').textContent()) ===
        '0 dari 1 titik aktif',
      10_000,
    );
    await waitFor(
      'summary lists the faded link',
      async () => (await lead.locator('[data-testid=sum-links]').textContent())?.includes('SCC – Bukit'),
      10_000,
    );
    await screenshot(lead, 'summary-trouble-id-1366');
    await publish(topics.deviceState('damkar', 'cam-damkar'), camera(true));
  });

  it('attendance terminals per agency for BKD staff', async () => {
    const p = await page('bkd');
    const agency = p.locator('.agency[data-agency=Damkar]');
    await agency.waitFor();
    expect(await p.locator('#terminals-summary').textContent()).toBe('1 dari 1 mesin absensi terhubung');
    const text = await agency.textContent();
    expect(text).toContain('Mesin Absen Damkar');
    expect(text).toContain('41%');
    expect(text).toMatch(/1 jam \d+ mnt lalu/);
    await screenshot(p, 'terminals-id-1366');
    await fitsPhone(p, 'terminals-id');
  });

  it('switches to English and remembers it; stale values are greyed with their age', async () => {
    const p = await page('insinyur');
    await p.click('#lang');
    expect(await navTexts(p)).toEqual([
      'Summary',
      'Network map',
      'Monitoring points',
      'Incidents',
      'Site boxes',
      'Devices',
      'Attendance terminals',
      'Audit log',
    ]);
    await p.reload();
    await p.locator('nav a').first().waitFor();
    expect(await p.locator('nav a').first().textContent()).toBe('Summary');
    expect(await p.locator('#lang').textContent()).toBe('Bahasa Indonesia');
    await p.click('nav a[data-view=terminals]');
    // The terminal's state is a minute-interval report: its last punch an hour old is shown as an age.
    await p.locator('.agency').waitFor();
    expect(await p.locator('.agency').textContent()).toMatch(/1 h \d+ min ago/);
    await screenshot(p, 'terminals-en-1366');
    await p.click('nav a[data-view=map]');
    await p.locator('#map-svg').waitFor();
    await screenshot(p, 'map-en-1366');
    await p.click('#lang');
    expect(await p.locator('nav a').first().textContent()).toBe('Ringkasan');
  });
});
