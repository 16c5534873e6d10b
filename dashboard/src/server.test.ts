import { join } from 'node:path';
import { openStore } from '@pantau/broker/store';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginTo } from '../../test/support/central.js';
import { tempDir } from '../../test/support/procs.js';
import type { DashboardConfig } from './config.js';
import { type RunningDashboard, startDashboard } from './server.js';
import { addUser } from './users.js';

describe('dashboard API', () => {
  const dir = tempDir('dash');
  let dash: RunningDashboard;
  let base = '';
  let cookie = '';
  const now = Date.now();

  beforeAll(async () => {
    const users = join(dir.path, 'users.yaml');
    await addUser(users, { username: 'admin', role: 'admin', password: 'admin-pass-1' });
    await addUser(users, { username: 'victim', role: 'operator', password: 'victim-pass-1' });
    const store = openStore({ kind: 'sqlite', path: join(dir.path, 'central.db') });
    await store.putGatewayState(
      'rsud',
      { v: 1, state: 'online', ts: now - 5000, site: 'rsud', name: 'RSUD Latemmamala' },
      now - 5000,
    );
    await store.putDeviceState(
      'rsud',
      {
        v: 1,
        ts: now - 1000,
        device: 'ptp-scc',
        kind: 'radio',
        name: 'Pemancar RSUD → SCC',
        address: '10.0.0.2',
        status: 'ok',
        reasons: [],
        last_seen: now - 1000,
        interval_s: 10,
        // rx power read just now; latency last read 5 minutes ago: stale.
        figures: {
          rx_power_dbm: { value: -61, ts: now - 1000 },
          latency_ms: { value: 3, ts: now - 300_000 },
        },
      },
      now,
    );
    await store.ingestTelemetry(
      'rsud',
      {
        v: 1,
        seq: 1,
        device: 'ptp-scc',
        backfill: false,
        readings: [
          { ts: now - 2000, values: { rx_power_dbm: -62 } },
          { ts: now - 1000, values: { rx_power_dbm: -61 } },
        ],
      },
      now,
    );
    // A batch that arrived while seq 2 never did: one reading missing.
    await store.ingestTelemetry(
      'rsud',
      {
        v: 1,
        seq: 3,
        device: 'ups-1',
        backfill: true,
        readings: [{ ts: now - 500, values: { battery_pct: 99 } }],
      },
      now,
    );
    await store.close();
    const cfg: DashboardConfig = {
      http: { host: '127.0.0.1', port: 0, secure_cookies: false },
      mqtt: { url: 'mqtt://127.0.0.1:9', username: 'dashboard' },
      mqttPassword: 'x',
      store: { kind: 'sqlite', path: join(dir.path, 'central.db') },
      users_file: users,
      language: 'id',
      timezone: 'Asia/Makassar',
      log_level: 'fatal',
    };
    dash = await startDashboard(cfg, { logger: pino({ level: 'silent' }) });
    base = `http://127.0.0.1:${dash.port}`;
  });
  afterAll(async () => {
    await dash?.close();
    dir.remove();
  });

  const login = (username: string, password: string) => loginTo(base, username, password);
  const get = (path: string) => fetch(`${base}${path}`, { headers: { cookie } });

  it('needs a login for the API but serves the page and health', async () => {
    expect((await fetch(`${base}/api/sites`)).status).toBe(401);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/app.js">');
  });

  it('refuses a wrong password, then brakes guessing', async () => {
    for (let i = 0; i < 5; i++) expect((await login('victim', 'guess')).status).toBe(401);
    const r = await login('victim', 'victim-pass-1');
    expect(r.status).toBe(429);
  });

  it('logs in with a HttpOnly, SameSite=Strict session cookie', async () => {
    const r = await login('admin', 'admin-pass-1');
    expect(r.status).toBe(200);
    const set = /pantau_sid=[^,]*/.exec(r.setCookie)?.[0] ?? '';
    expect(set).toMatch(/^pantau_sid=[A-Za-z0-9_-]{43};/);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    // Plain HTTP without secure_cookies: a Secure cookie would never come back.
    expect(set).not.toMatch(/Secure/);
    cookie = r.cookie;
    expect(await (await get('/api/me')).json()).toMatchObject({
      username: 'admin',
      role: 'admin',
      language: 'id',
      csrf: r.csrf,
      sites: null,
    });
  });

  it('shows sites and devices with the age of every value, stale ones flagged', async () => {
    const sites = (await (await get('/api/sites')).json()) as Array<{
      site: string;
      state: string;
      name: string;
    }>;
    expect(sites).toMatchObject([
      { site: 'rsud', state: 'online', name: 'RSUD Latemmamala', missing_readings: 1, backfilled_batches: 1 },
    ]);
    const seq = (await (await get('/api/sites/rsud/sequence')).json()) as { missing: number[][] };
    expect(seq).toMatchObject({ first: 1, last: 3, received: 2, missing: [[2, 2]] });
    expect((await get('/api/sites/nope/sequence')).status).toBe(404);
    const devs = (await (await get('/api/devices?site=rsud')).json()) as Array<{
      figures: Record<string, { value: number; age_s: number; stale: boolean }>;
      stale: boolean;
    }>;
    expect(devs[0]!.figures.rx_power_dbm).toMatchObject({ value: -61, stale: false });
    expect(devs[0]!.figures.latency_ms).toMatchObject({ value: 3, stale: true });
    expect(devs[0]!.figures.latency_ms!.age_s).toBeGreaterThanOrEqual(299);
    expect(devs[0]!.stale).toBe(false);
    expect((await get('/api/devices/rsud/nope')).status).toBe(404);
  });

  it('answers history and refuses bad queries with the field named', async () => {
    const ok = await get(
      `/api/history?site=rsud&device=ptp-scc&metric=rx_power_dbm&from=${now - 60_000}&to=${now}`,
    );
    expect(await ok.json()).toEqual([
      {
        labels: {},
        points: [
          [now - 2000, -62],
          [now - 1000, -61],
        ],
      },
    ]);
    const cases: Array<[string, RegExp]> = [
      [`site=rsud&device=ptp-scc&metric=rx_power_watts&from=0&to=10`, /metric/],
      [`site=rsud&device=ptp-scc&metric=rx_power_dbm&from=10&to=5`, /from/],
      [`device=ptp-scc&metric=rx_power_dbm&from=0&to=5`, /site/],
      [`site=RSUD&device=ptp-scc&metric=rx_power_dbm&from=0&to=5`, /site/],
      [`site=rsud&device=ptp-scc&metric=rx_power_dbm&from=x&to=5`, /from/],
    ];
    for (const [q, field] of cases) {
      const r = await get(`/api/history?${q}`);
      expect(r.status, q).toBe(400);
      const body = (await r.json()) as { error: string; message: string };
      expect(body.error).toBe('bad_request');
      expect(body.message, q).toMatch(field);
    }
  });

  it('a bad login body is a 400 with a reason', async () => {
    const form = await fetch(`${base}/api/login`);
    const { csrf } = (await form.json()) as { csrf: string };
    const r = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        cookie: form.headers.getSetCookie()[0]!.split(';')[0]!,
        'x-csrf-token': csrf,
      },
      body: '{"username":"a"}',
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { message: string }).message).toMatch(/password/);
  });
});
