// The installer page on a running site box, in Debian's Chromium, against simulators on loopback
// addresses: PIN login (a wrong PIN refused, guessing slowed), a scan that finds and classifies a
// radio, a camera, a terminal and a UPS, a device tested and added with a place name and priority,
// the new site.yaml applied without a restart (same daemon process, the new devices' readings reach
// the central), then commissioning, whose report the central keeps and shows.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type OnvifSimulator, startOnvifSimulator } from '@pantau/collectors/onvif/simulator';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { startZkSimulator, type ZkSimulator } from '@pantau/collectors/zkteco/simulator';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot } from './support/browser.js';
import { type Central, startCentral } from './support/central.js';
import { type ModbusServer, requireModbusPeer, startModbusServer } from './support/modbus.js';
import { type Daemon, freePort, ROOT, runDaemon, tempDir, waitFor } from './support/procs.js';
import { type RtspServer, requireRtspPeers, startRtspServer } from './support/rtsp.js';

const CLI = join(ROOT, 'gateway', 'dist', 'cli.js');
const PIN = '246810';
const CAM_PASSWORD = 'rahasia-kamera-77';

describe('installer page on the site box', () => {
  const dir = tempDir('installer');
  let central: Central;
  let gateway: Daemon;
  let browser: Browser;
  let page: Page;
  let radio: SimulatedAgent;
  let farRadio: SimulatedAgent;
  let camera: OnvifSimulator;
  let terminal: ZkSimulator;
  let ups: ModbusServer;
  let rtsp: RtspServer;
  let base: string;
  const ports = { snmp: 0, wsd: 0, zk: 0, modbus: 0 };

  beforeAll(async () => {
    requireModbusPeer();
    requireRtspPeers();
    ports.snmp = await freePort();
    ports.wsd = await freePort();
    ports.zk = await freePort();
    ports.modbus = await freePort();
    const rtspPort = await freePort();
    rtsp = await startRtspServer(rtspPort);
    radio = await startSimulatedAgent({
      recording: join(ROOT, 'test', 'fixtures', 'snmp', 'airos', 'device.snmprec'),
      host: '127.0.0.17',
      port: ports.snmp,
      community: 'pasar-ro',
    });
    // The link's other end, at the central's side: reachable through the link, not in site.yaml.
    farRadio = await startSimulatedAgent({
      recording: join(ROOT, 'test', 'fixtures', 'snmp', 'siklu', 'device.snmprec'),
      host: '127.0.0.25',
      port: ports.snmp,
      community: 'scc-ro',
    });
    camera = await startOnvifSimulator({
      host: '127.0.0.18',
      username: 'admin',
      password: CAM_PASSWORD,
      rtspBase: `rtsp://127.0.0.1:${rtspPort}/moving`,
      rtspSubBase: `rtsp://127.0.0.1:${rtspPort}/sub`,
      discoveryPort: ports.wsd,
      name: 'Kamera Pasar',
    });
    terminal = await startZkSimulator({
      host: '127.0.0.19',
      port: ports.zk,
      transport: 'tcp',
      serial: 'PSR0001',
      clockOffsetS: 95,
      timeZone: 'Asia/Makassar',
    });
    ups = await startModbusServer({ host: '127.0.0.20', port: ports.modbus });
    central = await startCentral({
      dir: dir.path,
      sites: ['pasar'],
      users: [
        // The third element, this installer's sites, is read where dashboard users have sites (i8).
        ['teknisi', 'installer', ['pasar']] as unknown as [string, string],
        ['petugas', 'operator'],
      ],
      backbone: `root: scc
sites:
  - { id: scc, name: Command Center }
  - { id: pasar, name: Pasar Sentral, priority: basic }
links:
  - { id: scc-pasar, medium: radio, a: { site: scc }, b: { site: pasar, device: radio-pasar } }
`,
    });
    const installerPort = await freePort();
    base = `http://127.0.0.1:${installerPort}`;
    // The radio is already watched: the scan must say so.
    writeFileSync(
      join(dir.path, 'pasar.yaml'),
      `# Pasar Sentral site box (comments survive the installer's edits)
site: { id: pasar, name: Pasar Sentral, timezone: Asia/Makassar }
mqtt: { urls: ["mqtt://127.0.0.1:${central.mqttPort}"], username: gw-pasar, password_file: pasar.pw, keepalive_s: 5 }
state_dir: state
log_level: warn
defaults: { interval_s: 3 }
metrics: { enabled: false }
installer: { host: 127.0.0.1, port: ${installerPort}, pin_file: installer.pin }
devices:
  - { id: radio-pasar, name: Radio ke SCC, kind: radio, address: 127.0.0.17, snmp: { community: pasar-ro, port: ${ports.snmp} } }
`,
    );
    // The PIN, typed into the CLI (stdin), kept only as its scrypt hash.
    await new Promise<void>((resolve, reject) => {
      const p = spawn(process.execPath, [CLI, 'installer-pin', '--config', join(dir.path, 'pasar.yaml')], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      p.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      p.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`installer-pin exited ${code}: ${out}`)),
      );
      p.stdin.end(`${PIN}\n`);
    });
    const stored = readFileSync(join(dir.path, 'installer.pin'), 'utf8');
    expect(stored).toMatch(/^scrypt\$/);
    expect(stored).not.toContain(PIN);
    gateway = runDaemon('gateway', ['run', '--config', join(dir.path, 'pasar.yaml')]);
    await waitFor('installer page up', async () => (await fetch(`${base}/`)).ok, 20_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${gateway.output()}`);
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await central?.stop();
    await radio?.close();
    await farRadio?.close();
    await camera?.close();
    await terminal?.close();
    await ups?.stop();
    await rtsp?.stop();
    dir.remove();
  }, 30_000);

  it('serves everything itself and refuses requests without login or CSRF token', async () => {
    const html = await (await fetch(`${base}/`)).text();
    expect(html).not.toMatch(/https?:\/\//);
    const js = await (await fetch(`${base}/assets/app.js`)).text();
    expect(js).not.toMatch(/https?:\/\/(?!installer)/);
    expect((await fetch(`${base}/api/site`)).status).toBe(401);
    // A session without its CSRF token may not post.
    const login = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pin: PIN }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const session = cookie.split(';')[0]!;
    const noToken = await fetch(`${base}/api/scan`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: session },
      body: JSON.stringify({ subnet: '127.0.0.16/29' }),
    });
    expect(noToken.status).toBe(403);
    const { csrf } = (await login.json()) as { csrf: string };
    const tooBig = await fetch(`${base}/api/scan`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: session, 'x-csrf-token': csrf },
      body: JSON.stringify({ subnet: '10.0.0.0/8' }),
    });
    expect(tooBig.status).toBe(400);
    expect(((await tooBig.json()) as { error: string }).error).toMatch(/too large/);
    const post = (path: string, body: string, type = 'application/json') =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': type, cookie: session, 'x-csrf-token': csrf },
        body,
      });
    const reason = async (r: Response) => `${r.status} ${((await r.json()) as { error: string }).error}`;
    expect(await reason(await post('/api/scan', 'subnet=1', 'text/plain'))).toMatch(
      /^415 send application\/json/,
    );
    expect(await reason(await post('/api/scan', '{"subnet":'))).toMatch(/^400 the body is not a JSON object/);
    expect(await reason(await post('/api/scan', '{"subnet":"127.0.0.16/29","snmp_port":"x"}'))).toMatch(
      /^400 snmp_port must be a whole number/,
    );
    expect(await reason(await post('/api/test', '{"index":7}'))).toMatch(/^400 index must name a device/);
    expect(await reason(await post('/api/draft/add', '{"index":0,"name":"X","priority":"urgent"}'))).toMatch(
      /^400/,
    );
    expect(
      await reason(await post('/api/commission', '{"far_ends":[{"of":"nope","address":"10.0.0.1"}]}')),
    ).toMatch(/^400 far_ends\[0\]\.of: no radio "nope"/);
    expect(await reason(await post('/api/scan', JSON.stringify({ addresses: 'x'.repeat(70_000) })))).toMatch(
      /^413/,
    );
    expect((await fetch(`${base}/api/nothing`, { headers: { cookie: session } })).status).toBe(404);
    expect((await fetch(`${base}/etc/passwd`)).status).toBe(404);
    expect((await fetch(`${base}/assets/../../site.yaml`)).status).toBe(404);
    const crossSite = await fetch(`${base}/api/draft/reset`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        cookie: session,
        'x-csrf-token': csrf,
        origin: 'http://evil.example',
      },
      body: '{}',
    });
    expect(crossSite.status).toBe(403);
  });

  it('refuses a wrong PIN and slows down guessing', async () => {
    const tries: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${base}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pin: `00000${i}` }),
      });
      tries.push(r.status);
    }
    // Three wrong tries are answered; then the address must wait before a PIN is even checked.
    expect(tries.slice(0, 3)).toEqual([401, 401, 401]);
    expect(tries.slice(3)).toContain(429);
  });

  it('logs in on a phone, scans and classifies, tests, adds, applies without restart, commissions', async () => {
    // The guessing above came from this same address: wait out its slow-down (a few seconds).
    await waitFor(
      'login allowed again',
      async () =>
        (
          await fetch(`${base}/api/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ pin: PIN }),
          })
        ).status === 200,
      20_000,
      1000,
    );
    await page.goto(`${base}/`);
    await page.fill('#pin', '999999');
    await page.click('#login-button');
    await page.waitForSelector('#message');
    expect(await page.textContent('#message')).toMatch(/PIN salah/);
    await screenshot(page, 'installer-login-refused');
    // The wrong PIN above counts: wait for this address's slow-down to pass, then log in.
    await waitFor(
      'logged in',
      async () => {
        await page.fill('#pin', PIN);
        await page.click('#login-button');
        return (await page.waitForSelector('#scan-form', { timeout: 1500 }).catch(() => null)) !== null;
      },
      20_000,
      500,
    );
    await page.fill('#subnet', '127.0.0.16/29');
    await page.fill('#communities', 'public, pasar-ro');
    await page.fill('#camera_user', 'admin');
    await page.fill('#camera_password', CAM_PASSWORD);
    await page.click('#scan-section details summary');
    await page.fill('#snmp_port', String(ports.snmp));
    await page.fill('#wsd_port', String(ports.wsd));
    await page.fill('#zk_port', String(ports.zk));
    await page.fill('#modbus_port', String(ports.modbus));
    await page.fill('#timeout_ms', '600');
    await screenshot(page, 'installer-scan-form');
    await page.click('#scan-button');
    await page.waitForFunction(() => document.querySelectorAll('#found .card').length >= 4, null, {
      timeout: 30_000,
    });
    await page.waitForFunction(() => !document.querySelector('#scan-button')?.hasAttribute('disabled'));
    const card = (addr: string, via: string) =>
      page.locator(`.card[data-address="${addr}"][data-via="${via}"]`);
    expect(await card('127.0.0.17', 'snmp').textContent()).toMatch(
      /Ubiquiti · Rocket Prism 5AC Gen2.*SUDAH TERDAFTAR|SUDAH TERDAFTAR[\s\S]*Ubiquiti · Rocket Prism 5AC Gen2/,
    );
    expect(await card('127.0.0.18', 'ws-discovery').textContent()).toMatch(
      /Mockup Manufacturer · Mockup Model · Mockup_15_14_13/,
    );
    expect(await card('127.0.0.18', 'ws-discovery').textContent()).toMatch(/BARU/);
    expect(await card('127.0.0.19', 'zk').textContent()).toMatch(/ZKTeco · X100-C/);
    expect(await card('127.0.0.20', 'modbus').textContent()).toMatch(/Generic UPS/);
    await screenshot(page, 'installer-found');

    // Test the camera: ONVIF, its clock and a short sample of its stream.
    await card('127.0.0.18', 'ws-discovery').locator('.test-button').click();
    await card('127.0.0.18', 'ws-discovery').locator('.test-result').waitFor({ timeout: 30_000 });
    const camTest = await card('127.0.0.18', 'ws-discovery').locator('.test-result').textContent();
    expect(camTest).toMatch(/ONVIF menjawab: Mockup Manufacturer/);
    expect(camTest).toMatch(/Stream jalan: h264/);
    await card('127.0.0.19', 'zk').locator('.test-button').click();
    await card('127.0.0.19', 'zk').locator('.test-result').waitFor({ timeout: 20_000 });
    expect(await card('127.0.0.19', 'zk').locator('.test-result').textContent()).toMatch(
      /Jam terminal selisih 9[4-6]/,
    );
    await screenshot(page, 'installer-tested');

    // Add the camera, the terminal and the UPS with place names and priorities.
    const add = async (addr: string, via: string, name: string, location: string, priority: string) => {
      await card(addr, via).locator('.add-button').click();
      const form = card(addr, via).locator('.add-form');
      await form.locator('#add-name').fill(name);
      await form.locator('#add-location').fill(location);
      await form.locator('#add-priority').selectOption(priority);
      await form.locator('.save-button').click();
      await page.waitForFunction(
        (n) => Array.from(document.querySelectorAll('#pending li')).some((li) => li.textContent?.includes(n)),
        name.toLowerCase().replace(/[^a-z0-9]+/g, '-'),
      );
    };
    await add('127.0.0.18', 'ws-discovery', 'Kamera Pasar 1', 'Tiang depan pintu masuk', 'emergency');
    await add('127.0.0.19', 'zk', 'Absen Pasar', 'Kantor pengelola pasar', 'basic');
    await add('127.0.0.20', 'modbus', 'UPS Pasar', 'Ruang server', 'basic');
    expect(await page.textContent('#validity')).toMatch(/Konfigurasi valid \(4\)/);
    expect(await card('127.0.0.18', 'ws-discovery').textContent()).toMatch(/AKAN DITAMBAHKAN/);
    await screenshot(page, 'installer-draft');

    const pidBefore = gateway.proc.pid;
    await page.click('#apply-button');
    await page.waitForSelector('#apply-result', { timeout: 60_000 });
    const applied = await page.textContent('#apply-result');
    expect(applied, gateway.output()).toMatch(/Diterapkan/);
    await screenshot(page, 'installer-applied');
    expect(await card('127.0.0.18', 'ws-discovery').textContent()).toMatch(/SUDAH TERDAFTAR/);
    // Same process, still running: applied without a restart.
    expect(gateway.proc.pid).toBe(pidBefore);
    expect(gateway.proc.exitCode).toBeNull();
    const yaml = readFileSync(join(dir.path, 'pasar.yaml'), 'utf8');
    expect(yaml).toMatch(/^# Pasar Sentral site box/);
    expect(yaml).toMatch(/id: kamera-pasar-1/);
    expect(yaml).toMatch(/priority: emergency/);
    expect(yaml).toMatch(/password_file: secrets\/kamera-pasar-1\.password/);
    expect(yaml).not.toContain(CAM_PASSWORD);
    expect(readFileSync(join(dir.path, 'secrets', 'kamera-pasar-1.password'), 'utf8').trim()).toBe(
      CAM_PASSWORD,
    );
    // The new devices' readings reach the central.
    for (const dev of ['kamera-pasar-1', 'absen-pasar', 'ups-pasar'])
      await waitFor(
        `${dev} seen at the central`,
        async () => {
          const r = await central.api<{ status: string; last_seen?: number | null }>(
            `/api/devices/pasar/${dev}`,
            'teknisi',
          );
          return r.status === 200 && r.body.status !== 'unknown';
        },
        40_000,
        500,
      );

    // English on request.
    await page.click('#lang');
    expect(await page.textContent('#scan-section h2')).toMatch(/Scan the network/);
    await screenshot(page, 'installer-english');
    await page.click('#lang');

    // Commissioning: day-one values, pictures and clocks; the report is kept at the central.
    await page.fill('#commission-note', 'Pemasang: Andi');
    await page.click('#commission summary');
    await page.fill('#far-radio-pasar', `127.0.0.25:${ports.snmp}`);
    await page.fill('#far-community-radio-pasar', 'scc-ro');
    await page.click('#commission-button');
    await page.waitForSelector('#commission-result', { timeout: 90_000 });
    await screenshot(page, 'installer-commissioned');
    const [report] = await Promise.all([page.context().waitForEvent('page'), page.click('#report-link')]);
    await report.waitForLoadState();
    const reportText = (await report.textContent('body')) ?? '';
    expect(reportText).toMatch(/Laporan komisioning/);
    expect(reportText).toMatch(/Kamera Pasar 1/);
    expect(reportText).toMatch(/Daya terima \/ Rx power/);
    expect(await report.locator('img').count()).toBe(1);
    // A frame of the watched stream (320×180 sub-stream), scaled to the report's 240 px.
    expect(await report.locator('img').evaluate((i) => (i as HTMLImageElement).naturalWidth)).toBe(240);
    // Both ends of the radio link, the far one read through the link.
    expect(reportText).toMatch(/radio-pasar ⟷ radio-pasar-far/);
    expect(reportText).toMatch(/Siklu/);
    await screenshot(report, 'installer-report');

    const list = await waitFor(
      'report at the central',
      async () => {
        const r = await central.api<Array<{ id: string; devices: number; html: string; by: string }>>(
          '/api/sites/pasar/commissioning',
          'teknisi',
        );
        return r.status === 200 && r.body.length === 1 ? r.body : null;
      },
      30_000,
      500,
    );
    expect(list[0]!.devices).toBe(5);
    expect(list[0]!.by).toMatch(/^installer@/);
    const html = await central.api<Buffer>(list[0]!.html, 'teknisi');
    expect(html.status).toBe(200);
    expect(html.type).toMatch(/text\/html/);
    expect(html.body.toString()).toMatch(/<img alt="Kamera Pasar 1" src="data:image\/jpeg;base64,/);
    // Commissioning recorded the link's baseline from the pasar end's readings of the last minutes.
    const baseline = await waitFor(
      'baseline recorded at commissioning',
      () => {
        const db = new Database(join(dir.path, 'central-state.db'), { readonly: true });
        try {
          return db.prepare("SELECT body FROM baselines WHERE link = 'scc-pasar'").get() as
            | { body: string }
            | undefined;
        } finally {
          db.close();
        }
      },
      15_000,
    );
    const b = JSON.parse(baseline.body) as { recorded_by: string; b?: { rx_dbm?: number } };
    expect(b.recorded_by).toMatch(/^commissioning .*\(installer@/);
    expect(typeof b.b?.rx_dbm).toBe('number');
    // An operator may not read commissioning reports.
    expect((await central.api('/api/sites/pasar/commissioning', 'petugas')).status).toBe(403);
    // Additions started before site.yaml changed elsewhere are not applied over that change.
    const login = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pin: PIN }),
    });
    const session = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const { csrf } = (await login.json()) as { csrf: string };
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: session, 'x-csrf-token': csrf },
        body: JSON.stringify(body),
      });
    expect(
      (await post('/api/scan', { addresses: '127.0.0.20', modbus_port: String(ports.modbus) })).status,
    ).toBe(202);
    await waitFor('scan done', async () => {
      const r = (await (await fetch(`${base}/api/scan`, { headers: { cookie: session } })).json()) as {
        running: boolean;
        found: Array<{ via: string }>;
      };
      return !r.running && r.found.some((f) => f.via === 'modbus');
    });
    const found = (await (await fetch(`${base}/api/scan`, { headers: { cookie: session } })).json()) as {
      found: Array<{ via: string }>;
    };
    const index = found.found.findIndex((f) => f.via === 'modbus');
    expect((await post('/api/draft/add', { index, name: 'UPS Kedua', priority: 'normal' })).status).toBe(200);
    const siteFile = join(dir.path, 'pasar.yaml');
    writeFileSync(siteFile, `${readFileSync(siteFile, 'utf8')}# edited by hand\n`);
    const stale = await post('/api/apply', {});
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { error: string }).error).toMatch(/changed elsewhere/);
    expect(readFileSync(siteFile, 'utf8')).not.toContain('ups-kedua');
    expect((await post('/api/draft/reset', {})).status).toBe(200);

    const shown = await browser.newPage();
    await shown.setContent(html.body.toString());
    await screenshot(shown, 'installer-report-central');
    await shown.close();
  }, 240_000);
});
