// Monitoring points end to end: five simulated ONVIF cameras whose streams come from Debian's
// GStreamer RTSP server, watched by a real site box (ffmpeg), reported through the broker to the
// dashboard's board. Each fact is its own state: live, frozen, black, clock an hour off, wrong
// ONVIF credentials; the RTSP server killed and restarted; the clock set by an engineer.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type OnvifSimulator, startOnvifSimulator } from '@pantau/collectors/onvif/simulator';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, logIn, screenshot } from './support/browser.js';
import { type Central, startCentral } from './support/central.js';
import { type Daemon, freePort, ROOT, runDaemon, tempDir, waitFor } from './support/procs.js';
import { type RtspServer, requireRtspPeers, startRtspServer } from './support/rtsp.js';

const run = promisify(execFile);
const INTERVAL_S = 5;

interface Tile {
  device: string;
  status: string;
  active: boolean;
  priority: string;
  kecamatan: string | null;
  reasons: Array<{ code: string; id: string; en: string }>;
  camera: {
    onvif: string | null;
    stream: string;
    frozen: boolean;
    black: boolean;
    clock_offset_s?: number;
    last_good_frame: number | null;
    thumbnail_ts?: number | null;
  } | null;
  thumbnail: { url: string } | null;
}
interface Board {
  summary: { active: number; total: number; id: string; en: string };
  filters: { kecamatan: string[]; agency: string[] };
  tiles: Tile[];
}

describe('monitoring points through real processes', () => {
  const dir = tempDir('cameras');
  const cams: Record<string, OnvifSimulator> = {};
  let central: Central;
  let gateway: Daemon | undefined;
  let rtsp: RtspServer;
  let rtspPort: number;
  let httpPort: number;
  let browser: Browser | undefined;

  const api = <T>(path: string, user = 'insinyur', init: RequestInit = {}) =>
    central.api<T>(path, user, init);
  const board = async (q = '') => (await api<Board>(`/api/cameras${q}`)).body;
  /** Events travel separately from states (through the site box's outbox): wait for them. */
  const eventsIncluding = (wanted: string[]) =>
    waitFor(
      `events ${wanted.join(', ')}`,
      async () => {
        const events = await api<Array<{ type: string; device?: string }>>('/api/events?limit=500');
        const types = events.body.map((e) => `${e.type}:${e.device}`);
        return wanted.every((w) => types.includes(w)) ? types : null;
      },
      15_000,
      250,
    );
  const tile = async (device: string) => (await board()).tiles.find((t) => t.device === device);

  beforeAll(async () => {
    requireRtspPeers();
    rtspPort = await freePort();
    rtsp = await startRtspServer(rtspPort);
    const r = (path: string) => `rtsp://127.0.0.1:${rtspPort}${path}`;
    const make = async (id: string, stream: string, over: { clockOffsetMs?: number } = {}) => {
      cams[id] = await startOnvifSimulator({
        username: 'admin',
        password: `kamera-${id}`,
        rtspBase: r(stream === 'moving' ? '/moving' : `/${stream}`),
        rtspSubBase: r(stream === 'moving' ? '/sub' : `/${stream}`),
        discoveryPort: 0,
        ...over,
      });
    };
    await make('cam-rsud', 'moving');
    await make('cam-pasar', 'frozen');
    await make('cam-terminal', 'black');
    await make('cam-camat', 'moving', { clockOffsetMs: 3_600_000 });
    await make('cam-mpp', 'moving');

    // The site box watches cameras at several places; the backbone says which are emergency services.
    central = await startCentral({
      dir: dir.path,
      sites: ['kota'],
      users: [
        ['insinyur', 'engineer'],
        ['operator', 'operator'],
      ],
      requests: true,
      backbone: `root: scc
sites:
  - { id: scc, name: Command Center }
  - { id: kota, name: Kota, kecamatan: Lalabata, agency: Diskominfo, priority: emergency }
links:
  - { id: scc-kota, medium: fiber, a: { site: scc }, b: { site: kota } }
`,
    });
    const mqttPort = central.mqttPort;
    httpPort = central.httpPort;
    const camera = (id: string, name: string, password: string, extra = '') => {
      writeFileSync(join(dir.path, `${id}.pw`), `${password}\n`);
      return `  - id: ${id}
    name: "${name}"
    kind: camera
    address: 127.0.0.1
    interval_s: ${INTERVAL_S}
    onvif: { port: ${cams[id]!.port}, username: admin, password_file: ${id}.pw }
    camera: { sample_s: 3, confirm_polls: 2${extra} }
`;
    };
    writeFileSync(
      join(dir.path, 'kota.yaml'),
      `site: { id: kota }
mqtt: { urls: ["mqtt://127.0.0.1:${mqttPort}"], username: gw-kota, password_file: kota.pw, keepalive_s: 5 }
state_dir: state-kota
log_level: warn
health_interval_s: 5
devices:
${camera('cam-rsud', 'RSUD — IGD', 'kamera-cam-rsud')}${camera('cam-pasar', 'Pasar Sentral', 'kamera-cam-pasar')}${camera('cam-terminal', 'Terminal Bus', 'kamera-cam-terminal')}${camera('cam-camat', 'Kantor Camat', 'kamera-cam-camat')}${camera('cam-mpp', 'Mal Pelayanan Publik', 'salah-sandi', `, rtsp_url: "rtsp://127.0.0.1:${rtspPort}/sub"`)}`,
    );
    gateway = runDaemon('gateway', ['run', '--config', join(dir.path, 'kota.yaml')]);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await central?.stop();
    await Promise.all(Object.values(cams).map((c) => c.close()));
    await rtsp?.stop();
    dir.remove();
  }, 30_000);

  it('tells each fact apart: live, frozen, black, clock off, wrong credentials', async () => {
    const b = await waitFor(
      'every camera judged, frozen and black confirmed',
      async () => {
        const v = await board();
        const by = Object.fromEntries(v.tiles.map((t) => [t.device, t]));
        return v.tiles.length === 5 && by['cam-pasar']?.camera?.frozen && by['cam-terminal']?.camera?.black
          ? v
          : null;
      },
      60_000,
      1000,
    );
    const by = Object.fromEntries(b.tiles.map((t) => [t.device, t]));
    expect(by['cam-rsud']).toMatchObject({
      status: 'ok',
      active: true,
      priority: 'emergency',
      kecamatan: 'Lalabata',
    });
    expect(by['cam-rsud']!.camera).toMatchObject({
      onvif: 'UpWithAuth',
      stream: 'up',
      frozen: false,
      black: false,
    });
    expect(by['cam-rsud']!.camera!.last_good_frame).toBeGreaterThan(Date.now() - 60_000);
    expect(by['cam-pasar']).toMatchObject({ status: 'degraded', active: false });
    expect(by['cam-pasar']!.reasons.map((r) => r.code)).toContain('picture_frozen');
    expect(by['cam-terminal']).toMatchObject({ status: 'degraded', active: false });
    expect(by['cam-terminal']!.reasons.map((r) => r.code)).toContain('picture_black');
    // An hour off, and still authenticated: the requests were signed with the camera's own clock.
    expect(by['cam-camat']!.camera!.onvif).toBe('UpWithAuth');
    expect(Math.abs(by['cam-camat']!.camera!.clock_offset_s! - 3600)).toBeLessThan(3);
    expect(by['cam-camat']!.reasons[0]!.id).toMatch(/^Jam kamera selisih \+1 jam/);
    expect(by['cam-mpp']!.camera!.onvif).toBe('UpWithoutAuth');
    expect(by['cam-mpp']!.camera!.stream).toBe('up');
    expect(by['cam-mpp']!.reasons.map((r) => r.code)).toContain('onvif_auth');
    expect(b.summary).toMatchObject({ active: 3, total: 5, id: '3 dari 5 titik aktif' });
    const types = await eventsIncluding([
      'camera_frozen:cam-pasar',
      'camera_black:cam-terminal',
      'clock_drift:cam-camat',
      'camera_auth_failed:cam-mpp',
    ]);
    // Frozen was reported once, not once per probe.
    expect(types.filter((t) => t === 'camera_frozen:cam-pasar')).toHaveLength(1);
  }, 90_000);

  it('thumbnails arrive at the dashboard, small JPEGs', async () => {
    const t = await waitFor('a thumbnail', async () => (await tile('cam-rsud'))?.thumbnail, 30_000, 1000);
    const img = await api<Buffer>(t.url);
    expect(img.status).toBe(200);
    expect(img.type).toBe('image/jpeg');
    expect([img.body[0], img.body[1]]).toEqual([0xff, 0xd8]);
    expect(img.body.length).toBeLessThanOrEqual(64_000);
    expect((await api('/api/cameras/kota/no-such/thumbnail')).status).toBe(404);
  }, 40_000);

  it('the board in a browser: tiles with pictures, trouble first, live ages, English switch, phone size', async () => {
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    await logIn(page, `http://127.0.0.1:${httpPort}/`, 'operator', 'operator-secret-1');
    await page.locator('#board .tile').nth(4).waitFor();
    expect(await page.locator('#board-summary').textContent()).toBe('3 dari 5 titik aktif');
    // All five are at an emergency site: the ones not live come first.
    const order = await page
      .locator('#board .tile')
      .evaluateAll((els) =>
        els.map((e) => `${e.getAttribute('data-device')} ${e.classList.contains('active')}`),
      );
    expect(order.slice(0, 2).every((x) => x.endsWith('false'))).toBe(true);
    const live = page.locator('#board .tile[data-device="kota/cam-rsud"]');
    expect(await live.locator('.badge').textContent()).toBe('Aktif');
    expect(await live.locator('.prio').textContent()).toBe('Darurat');
    await waitFor('thumbnail drawn', () =>
      live
        .locator('img')
        .evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0),
    );
    expect(await page.locator('#board .tile[data-device="kota/cam-pasar"] .badge').textContent()).toBe(
      'Beku',
    );
    expect(await page.locator('#board .tile[data-device="kota/cam-terminal"] .badge').textContent()).toBe(
      'Hitam',
    );
    expect(await page.locator('#board .tile[data-device="kota/cam-mpp"] .reasons').textContent()).toContain(
      'ONVIF menolak kredensial',
    );
    // An operator sees no clock button; the age of the last good picture ticks.
    expect(await page.locator('button.sync').count()).toBe(0);
    expect(await live.locator('[data-ts]').textContent()).toMatch(/dtk lalu$/);
    await screenshot(page, 'board-id-1366');
    await page.click('#lang');
    // The board is drawn again in English after its data is fetched again: wait for it.
    await page.locator('#board-summary', { hasText: 'monitoring points live' }).waitFor({ timeout: 15_000 });
    await page.locator('#board .tile').nth(4).waitFor();
    expect(await page.locator('#board-summary').textContent()).toBe('3 of 5 monitoring points live');
    expect(await page.locator('#board .tile[data-device="kota/cam-pasar"] .badge').textContent()).toBe(
      'Frozen',
    );
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'board-en-phone');
    await page.click('#lang');
    // An engineer gets the clock button on the drifting camera only.
    const eng = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    // Engineers start on the summary; the board is one menu entry away.
    await logIn(eng, `http://127.0.0.1:${httpPort}/#cameras`, 'insinyur', 'insinyur-secret-1');
    await eng.locator('#board .tile').nth(4).waitFor();
    expect(await eng.locator('button.sync').count()).toBe(1);
    expect(await eng.locator('button.sync').getAttribute('data-device')).toBe('cam-camat');
    await eng.close();
    await page.close();
  }, 60_000);

  it('installer commands: probe one camera, and find cameras by WS-Discovery (unicast)', async () => {
    const gw = (args: string[]) => run(process.execPath, [join(ROOT, 'gateway/dist/cli.js'), ...args]);
    const probed = JSON.parse(
      (
        await gw([
          'probe',
          'camera',
          '--address',
          '127.0.0.1',
          '--port',
          String(cams['cam-rsud']!.port),
          '--username',
          'admin',
          '--password-file',
          join(dir.path, 'cam-rsud.pw'),
          '--sample',
          '2',
          '--json',
        ])
      ).stdout,
    ) as { onvif: { state: string; streamUri: string }; stream: { up: boolean; video: { width: number } } };
    expect(probed.onvif.state).toBe('UpWithAuth');
    expect(probed.onvif.streamUri).toBe(`rtsp://127.0.0.1:${rtspPort}/sub`);
    expect(probed.stream).toMatchObject({ up: true, video: { width: 320 } });
    const found = JSON.parse(
      (
        await gw([
          'discover',
          'onvif',
          '--address',
          `127.0.0.1:${cams['cam-rsud']!.discoveryPort}`,
          '--address',
          `127.0.0.1:${cams['cam-pasar']!.discoveryPort}`,
          '--timeout',
          '1500',
          '--json',
        ])
      ).stdout,
    ) as Array<{ xaddrs: string[] }>;
    expect(found.flatMap((d) => d.xaddrs).sort()).toEqual(
      [cams['cam-rsud']!.url, cams['cam-pasar']!.url].sort(),
    );
  }, 40_000);

  it('filters the board by kecamatan and agency', async () => {
    const b = await board('?kecamatan=Lalabata&agency=Diskominfo');
    expect(b.tiles).toHaveLength(5);
    expect(b.filters).toEqual({ kecamatan: ['Lalabata'], agency: ['Diskominfo'] });
    expect((await board('?kecamatan=Ganra')).summary).toMatchObject({
      active: 0,
      total: 0,
      id: '0 dari 0 titik aktif',
    });
  });

  it('an engineer sets a camera clock through its site box; an operator may not', async () => {
    const refused = await api<{ message: string }>('/api/cameras/kota/cam-camat/clock-sync', 'operator', {
      method: 'POST',
      body: '{}',
    });
    expect(refused.status).toBe(403);
    const res = await api<{ previous_offset_s: number; offset_s: number }>(
      '/api/cameras/kota/cam-camat/clock-sync',
      'insinyur',
      { method: 'POST', body: '{}' },
    );
    expect(res.status).toBe(200);
    expect(Math.abs(res.body.previous_offset_s - 3600)).toBeLessThan(3);
    expect(Math.abs(res.body.offset_s)).toBeLessThan(2);
    expect(Math.abs(cams['cam-camat']!.clockOffsetMs())).toBeLessThan(2000);
    const t = await waitFor('drift cleared on the board', async () => {
      const v = await tile('cam-camat');
      return v && Math.abs(v.camera!.clock_offset_s!) < 2 && v.status === 'ok' ? v : null;
    });
    expect(t.reasons).toEqual([]);
    await eventsIncluding(['clock_synced:cam-camat']);
    // The request to the site box is in the audit trail with its answer; the refused one is not.
    const trail = await api<Array<{ user: string; target: string; detail: { ok: boolean } }>>(
      '/api/audit?action=camera_clock_sync',
      'insinyur',
    );
    expect(trail.body.map((e) => [e.user, e.target, e.detail.ok])).toEqual([
      ['insinyur', 'kota/cam-camat', true],
    ]);
    expect(
      (await api('/api/cameras/kota/cam-nope/clock-sync', 'insinyur', { method: 'POST', body: '{}' })).status,
    ).toBe(404);
  }, 40_000);

  it('the RTSP server killed: streams down within a probe interval or two; restarted: live again', async () => {
    await rtsp.stop('SIGKILL');
    const t0 = Date.now();
    // The next probe already sees no video (the tile stops being live); a second one confirms it.
    const seen = await waitFor(
      'cam-rsud stream seen down',
      async () => {
        const v = await tile('cam-rsud');
        return v?.camera?.stream === 'down' ? v : null;
      },
      40_000,
      250,
    );
    expect(Date.now() - t0).toBeLessThan((INTERVAL_S + 8) * 1000);
    expect(seen.active).toBe(false);
    const down = await waitFor(
      'cam-rsud down',
      async () => {
        const v = await tile('cam-rsud');
        return v?.status === 'down' ? v : null;
      },
      40_000,
      500,
    );
    // Confirmed by two probes: at most two intervals plus one probe's run time.
    expect(Date.now() - t0).toBeLessThan((2 * INTERVAL_S + 10) * 1000);
    expect(down.camera!.stream).toBe('down');
    expect(down.active).toBe(false);
    rtsp = await startRtspServer(rtspPort);
    await waitFor('cam-rsud live again', async () => (await tile('cam-rsud'))?.active, 40_000, 500);
    await eventsIncluding(['camera_stream_down:cam-rsud', 'camera_stream_up:cam-rsud']);
  }, 90_000);
});
