// Users and roles over real processes (broker and dashboard, two site boxes played by MQTT clients
// with their own site credentials) and Debian's Chromium: an admin adds an operator in the page and
// the operator logs in; disabling them ends their open session and live stream at once; a role change
// reaches an open session on its next request; an admin cannot demote or remove themselves nor the
// last admin; an installer sees only the sites assigned to them (API, live stream and page); a
// changing request without the CSRF token or from another origin is refused; every change is in the
// audit log (API, view and CLI). Screenshots of the new views go to test/artifacts.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { topics } from '@pantau/contract';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESK, fitsPhone, launchChromium, logIn, screenshot } from './support/browser.js';
import { type Central, cli, loginTo, startCentral } from './support/central.js';
import { tempDir, waitFor } from './support/procs.js';

interface AuditRow {
  ts: number;
  user: string;
  role: string | null;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
  remote: string | null;
}

describe('dashboard users, roles, installer sites, CSRF and the audit log', () => {
  const dir = tempDir('admin');
  let central: Central;
  let browser: Browser;
  const gw: Record<string, MqttClient> = {};
  let base = '';
  const started = Date.now();

  const radio = (site: string, device: string) => ({
    v: 1,
    ts: Date.now(),
    device,
    kind: 'radio',
    name: `Radio ${site}`,
    address: '10.0.0.2',
    status: 'ok',
    reasons: [],
    last_seen: Date.now(),
    interval_s: 3600,
    figures: { rx_power_dbm: { value: site === 'kota' ? -58 : -71, ts: Date.now() } },
  });
  const publishSite = async (site: string) => {
    await gw[site]!.publishAsync(
      topics.gatewayState(site),
      JSON.stringify({
        v: 1,
        state: 'online',
        ts: Date.now(),
        site,
        name: `Kantor ${site}`,
        version: '0.1.0',
      }),
      { qos: 1, retain: true },
    );
    await gw[site]!.publishAsync(
      topics.deviceState(site, `r-${site}`),
      JSON.stringify(radio(site, `r-${site}`)),
      {
        qos: 1,
        retain: true,
      },
    );
    await gw[site]!.publishAsync(
      topics.events(site),
      JSON.stringify({
        v: 1,
        seq: 1,
        ts: Date.now(),
        type: 'device_rebooted',
        device: `r-${site}`,
        severity: 'info',
        message: { id: `Radio ${site} mulai ulang`, en: `Radio ${site} rebooted` },
      }),
      { qos: 1 },
    );
  };

  /** A raw request as `user`'s session, with exactly the headers given (no token unless asked). */
  const raw = async (
    path: string,
    init: { method?: string; cookie?: string; headers?: Record<string, string>; body?: unknown } = {},
  ) => {
    const res = await fetch(`${base}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        ...(init.cookie ? { cookie: init.cookie } : {}),
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(init.headers ?? {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    let body: Record<string, unknown> & { message?: string; error?: string } = {};
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body, text };
  };
  /** A request with a session's cookie and CSRF token, as the page sends it. */
  const as = (l: { cookie: string; csrf: string }, path: string, method = 'GET', body?: unknown) =>
    raw(path, {
      method,
      cookie: l.cookie,
      headers: method === 'GET' ? {} : { 'x-csrf-token': l.csrf },
      body,
    });
  const audit = async (q = '') => (await central.api<AuditRow[]>(`/api/audit?${q}`, 'admin')).body;

  const page = async (user: string, password: string, viewport = DESK) => {
    const p = await browser.newPage({ viewport });
    await logIn(p, base, user, password);
    await p.locator('nav a').first().waitFor();
    return p;
  };

  beforeAll(async () => {
    central = await startCentral({
      dir: dir.path,
      sites: ['kota', 'desa'],
      users: [
        ['admin', 'admin'],
        ['insinyur', 'engineer'],
        ['pemasang', 'installer', ['kota']],
      ],
    });
    base = central.base;
    for (const site of ['kota', 'desa']) {
      gw[site] = await mqtt.connectAsync(`mqtt://127.0.0.1:${central.mqttPort}`, {
        username: `gw-${site}`,
        password: readFileSync(join(dir.path, `${site}.pw`), 'utf8').trim(),
        reconnectPeriod: 0,
      });
      await publishSite(site);
    }
    await waitFor(
      'both sites stored',
      async () => (await central.api<unknown[]>('/api/devices', 'insinyur')).body.length === 2,
      20_000,
    );
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const c of Object.values(gw)) await c.endAsync();
    await central?.stop();
    dir.remove();
  }, 30_000);

  it('CSRF: a changing request needs the session token and our own origin; cookies are HttpOnly, SameSite=Strict', async () => {
    const admin = { cookie: central.cookies.admin!, csrf: central.csrf.admin! };
    const user = { username: 'csrf-probe', role: 'hr', password: 'probe-pass-123' };
    const none = await raw('/api/users', { method: 'POST', cookie: admin.cookie, body: user });
    expect(none.status).toBe(403);
    expect(none.body).toMatchObject({
      error: 'csrf',
      message: expect.stringMatching(/X-CSRF-Token.*token CSRF/),
    });
    const wrong = await raw('/api/users', {
      method: 'POST',
      cookie: admin.cookie,
      headers: { 'x-csrf-token': `${admin.csrf.slice(0, -2)}xx` },
      body: user,
    });
    expect(wrong.status).toBe(403);
    // Another user's token is no good either.
    const others = await raw('/api/users', {
      method: 'POST',
      cookie: admin.cookie,
      headers: { 'x-csrf-token': central.csrf.insinyur! },
      body: user,
    });
    expect(others.status).toBe(403);
    const foreign = await raw('/api/users', {
      method: 'POST',
      cookie: admin.cookie,
      headers: { 'x-csrf-token': admin.csrf, origin: 'http://evil.example' },
      body: user,
    });
    expect(foreign.status).toBe(403);
    expect(foreign.body.message).toMatch(/Origin http:\/\/evil.example is not this dashboard/);
    const foreignReferer = await raw('/api/users', {
      method: 'POST',
      cookie: admin.cookie,
      headers: { 'x-csrf-token': admin.csrf, referer: 'http://evil.example/page' },
      body: user,
    });
    expect(foreignReferer.status).toBe(403);
    // Nothing was added by any of those.
    expect(
      (await central.api<Array<{ username: string }>>('/api/users', 'admin')).body.map((u) => u.username),
    ).not.toContain('csrf-probe');
    const ok = await raw('/api/users', {
      method: 'POST',
      cookie: admin.cookie,
      headers: { 'x-csrf-token': admin.csrf, origin: base },
      body: user,
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toEqual({ username: 'csrf-probe', role: 'hr', disabled: false, sites: [] });
    expect(ok.text).not.toMatch(/scrypt|probe-pass/);
    // Deleting is a changing request too.
    expect((await raw('/api/users/csrf-probe', { method: 'DELETE', cookie: admin.cookie })).status).toBe(403);
    expect((await as(admin, '/api/users/csrf-probe', 'DELETE')).status).toBe(200);
    // Login: without the login form's token, refused; logout without the session's, refused.
    const bare = await raw('/api/login', {
      method: 'POST',
      body: { username: 'admin', password: 'admin-secret-1' },
    });
    expect(bare.status).toBe(403);
    expect(bare.body.error).toBe('csrf');
    const l = await loginTo(base, 'insinyur', 'insinyur-secret-1');
    expect(l.setCookie).toMatch(/pantau_sid=[^;]+;.*HttpOnly/);
    expect(l.setCookie).toMatch(/pantau_sid=[^;]+;.*SameSite=Strict/);
    expect((await raw('/api/logout', { method: 'POST', cookie: l.cookie, body: {} })).status).toBe(403);
    expect((await as(l, '/api/me')).status).toBe(200);
    expect((await as(l, '/api/logout', 'POST', {})).status).toBe(200);
    expect((await as(l, '/api/me')).status).toBe(401);
  });

  it('the admin adds an operator in the page; the operator logs in; disabling ends their session and stream at once', async () => {
    const p = await page('admin', 'admin-secret-1');
    expect(await p.locator('nav a').allTextContents()).toContain('Pengguna');
    await p.click('nav a[data-view=users]');
    await p.locator('#users-table').waitFor();
    // The password policy is the server's: a short one is refused with its reason.
    await p.fill('#user-add input[name=username]', 'budi');
    await p.selectOption('#user-add select[name=role]', 'operator');
    await p.fill('#user-add input[name=password]', 'budi');
    await p.evaluate(() =>
      document
        .querySelector<HTMLInputElement>('#user-add input[name=password]')!
        .removeAttribute('minlength'),
    );
    await p.click('#user-add button[type=submit]');
    await waitFor('refusal shown', async () =>
      /minimal 10 karakter/.test((await p.locator('#users-msg').textContent()) ?? ''),
    );
    await p.fill('#user-add input[name=username]', 'budi');
    await p.selectOption('#user-add select[name=role]', 'operator');
    await p.fill('#user-add input[name=password]', 'budi-sandi-awal');
    await p.click('#user-add button[type=submit]');
    const row = p.locator('#users-table tr[data-user=budi]');
    await row.waitFor();
    expect(await row.locator('select.role').inputValue()).toBe('operator');
    expect(await p.locator('#users-msg').textContent()).toContain('Tersimpan');
    await screenshot(p, 'users-id-1366');
    await fitsPhone(p, 'users-id');

    // Budi logs in in his own browser and sees the operator's views.
    const op = await page('budi', 'budi-sandi-awal');
    expect(await op.locator('nav a').allTextContents()).toEqual(['Titik pantau', 'Gangguan']);
    // And, by API, an open live stream.
    const budi = await loginTo(base, 'budi', 'budi-sandi-awal');
    const ctrl = new AbortController();
    const stream = await fetch(`${base}/api/stream`, {
      headers: { cookie: budi.cookie },
      signal: ctrl.signal,
    });
    const reader = stream.body!.getReader();
    await reader.read();

    await row.locator('button.toggle').click();
    await waitFor('disabled shown', async () => (await row.locator('.badge').textContent()) === 'Nonaktif');
    // The open stream ends now, not at its next message.
    const end = await Promise.race([
      (async () => {
        for (;;) if ((await reader.read()).done) return 'ended';
      })(),
      new Promise((r) => setTimeout(() => r('still open'), 5000)),
    ]);
    ctrl.abort();
    expect(end).toBe('ended');
    // His open page's next call is a 401, and it falls back to the login form.
    expect(await op.evaluate(async () => (await fetch('/api/me')).status)).toBe(401);
    expect((await as(budi, '/api/cameras')).status).toBe(401);
    await op.reload();
    await op.locator('#login-form').waitFor();
    await logIn(op, base, 'budi', 'budi-sandi-awal');
    await waitFor(
      'refused',
      async () => (await op.locator('#login-error').textContent()) === 'Nama pengguna atau kata sandi salah',
    );
    // Enabled again, he can log in.
    await row.locator('button.toggle').click();
    await waitFor('enabled shown', async () => (await row.locator('.badge').textContent()) === 'Aktif');
    expect((await loginTo(base, 'budi', 'budi-sandi-awal')).status).toBe(200);
    await op.close();
    await p.close();
  }, 90_000);

  it("a role change reaches the user's open session on its next request", async () => {
    const budi = await loginTo(base, 'budi', 'budi-sandi-awal');
    expect((await as(budi, '/api/sites')).status).toBe(403);
    const p = await page('admin', 'admin-secret-1');
    await p.click('nav a[data-view=users]');
    const row = p.locator('#users-table tr[data-user=budi]');
    await row.waitFor();
    await row.locator('select.role').selectOption('engineer');
    await waitFor(
      'saved',
      async () => (await p.locator('#users-msg').textContent()) === 'Tersimpan: Peran budi',
    );
    const sites = await as(budi, '/api/sites');
    expect(sites.status).toBe(200);
    expect((await as(budi, '/api/me')).body).toMatchObject({ username: 'budi', role: 'engineer' });
    // The admin resets his password: his sessions end, the new password works, the old does not.
    await row.locator('input[name=password]').fill('sandi-baru-budi');
    await row.locator('.reset-form button').click();
    await waitFor(
      'reset saved',
      async () => (await p.locator('#users-msg').textContent()) === 'Tersimpan: Setel ulang sandi budi',
    );
    expect((await as(budi, '/api/me')).status).toBe(401);
    expect((await loginTo(base, 'budi', 'budi-sandi-awal')).status).toBe(401);
    const again = await loginTo(base, 'budi', 'sandi-baru-budi');
    expect(again.status).toBe(200);
    // He changes his own password: the old one is needed, and the policy holds.
    expect(
      (
        await as(again, '/api/me/password', 'POST', {
          old_password: 'salah-sekali',
          new_password: 'sandi-budi-sendiri',
        })
      ).status,
    ).toBe(403);
    expect(
      (await as(again, '/api/me/password', 'POST', { old_password: 'sandi-baru-budi', new_password: 'budi' }))
        .status,
    ).toBe(400);
    // In the page (Akun saya): a wrong current password is refused with the reason in Indonesian…
    const own = await page('budi', 'sandi-baru-budi');
    await own.click('#account-link');
    const form = own.locator('#password-form');
    await form.waitFor();
    await form.locator('input[name=old_password]').fill('salah-sekali');
    await form.locator('input[name=new_password]').fill('sandi-budi-sendiri');
    await form.locator('button[type=submit]').click();
    await waitFor(
      'refused',
      async () => (await own.locator('#password-msg').textContent()) === 'Kata sandi lama salah',
    );
    // …the right one works. That session stays; his other sessions end.
    await form.locator('input[name=old_password]').fill('sandi-baru-budi');
    await form.locator('input[name=new_password]').fill('sandi-budi-sendiri');
    await form.locator('button[type=submit]').click();
    await waitFor(
      'changed',
      async () => (await own.locator('#password-msg').textContent()) === 'Kata sandi diganti.',
    );
    await screenshot(own, 'account-id-1366');
    expect(await own.evaluate(async () => (await fetch('/api/me')).status)).toBe(200);
    expect((await as(again, '/api/me')).status).toBe(401);
    expect((await loginTo(base, 'budi', 'sandi-budi-sendiri')).status).toBe(200);
    await own.close();
    await p.close();
  }, 60_000);

  it('an admin cannot demote or remove themselves, and the last admin stays', async () => {
    const admin = { cookie: central.cookies.admin!, csrf: central.csrf.admin! };
    const p = await page('admin', 'admin-secret-1');
    await p.click('nav a[data-view=users]');
    const me = p.locator('#users-table tr[data-user=admin]');
    await me.waitFor();
    await me.locator('select.role').selectOption('engineer');
    await waitFor('refusal shown', async () =>
      /tidak bisa menurunkan peran akun sendiri/.test((await p.locator('#users-msg').textContent()) ?? ''),
    );
    expect(await p.locator('#users-msg').getAttribute('role')).toBe('alert');
    // The page shows the role as it still is.
    expect(await me.locator('select.role').inputValue()).toBe('admin');
    await screenshot(p, 'users-refused-id-1366');
    const demote = await as(admin, '/api/users/admin', 'PATCH', { role: 'engineer' });
    expect(demote.status).toBe(409);
    expect(demote.body.message).toMatch(/cannot demote yourself/);
    expect((await as(admin, '/api/users/admin', 'PATCH', { disabled: true })).status).toBe(409);
    expect((await as(admin, '/api/users/admin', 'DELETE')).status).toBe(409);
    // Only admins manage users.
    const eng = { cookie: central.cookies.insinyur!, csrf: central.csrf.insinyur! };
    expect((await as(eng, '/api/users')).status).toBe(403);
    expect((await as(eng, '/api/users/budi', 'DELETE')).status).toBe(403);
    // The CLI (the way back in when every admin is gone) refuses to remove the last admin too.
    await expect(
      cli('dashboard', ['users', 'remove', '--file', join(dir.path, 'users.yaml'), '--username', 'admin']),
    ).rejects.toThrow(/cannot remove the last admin/);
    // Bad input is a 4xx with a reason.
    const bad = await as(admin, '/api/users', 'POST', { username: 'x y', role: 'wizard', password: 'p' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/body/);
    expect((await as(admin, '/api/users/nobody', 'PATCH', { role: 'hr' })).status).toBe(404);
    await p.close();
  }, 60_000);

  it('an installer sees only their sites: API, live stream and page', async () => {
    const inst = { cookie: central.cookies.pemasang!, csrf: central.csrf.pemasang! };
    const sites = (await as(inst, '/api/sites')).body as unknown as Array<{ site: string }>;
    expect(sites.map((s) => s.site)).toEqual(['kota']);
    const devices = (await as(inst, '/api/devices')).body as unknown as Array<{ site: string }>;
    expect(devices.map((d) => d.site)).toEqual(['kota']);
    const events = (await as(inst, '/api/events')).body as unknown as Array<{ site: string }>;
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e.site))).toEqual(new Set(['kota']));
    expect((await as(inst, '/api/devices?site=kota')).status).toBe(200);
    const now = Date.now();
    for (const path of [
      '/api/devices?site=desa',
      '/api/devices/desa/r-desa',
      '/api/sites/desa/sequence',
      `/api/history?site=desa&device=r-desa&metric=rx_power_dbm&from=${now - 60_000}&to=${now}`,
      '/api/events?site=desa',
    ]) {
      const r = await as(inst, path);
      expect(`${path} → ${r.status}`).toBe(`${path} → 403`);
      expect(r.body).toMatchObject({ error: 'forbidden_site', site: 'desa' });
      expect(r.body.message).toMatch(/site "desa" is not assigned to pemasang/);
    }
    expect((await as(inst, '/api/pairing')).status).toBe(200);
    // An engineer still sees both.
    expect((await central.api<unknown[]>('/api/sites', 'insinyur')).body).toHaveLength(2);

    // The live stream carries only the installer's sites.
    const ctrl = new AbortController();
    const res = await fetch(`${base}/api/stream`, { headers: { cookie: inst.cookie }, signal: ctrl.signal });
    const reader = res.body!.getReader();
    let text = '';
    await reader.read();
    await publishSite('desa');
    await publishSite('kota');
    await waitFor('kota on the stream', async () => {
      text += new TextDecoder().decode((await reader.read()).value);
      return text.includes('"site":"kota"');
    });
    ctrl.abort();
    expect(text).not.toContain('"site":"desa"');

    const p = await page('pemasang', 'pemasang-secret-1');
    expect(await p.locator('nav a').allTextContents()).toEqual(['Gateway lokasi', 'Perangkat']);
    await p.locator('#sites-table tr[data-site=kota]').waitFor();
    expect(await p.locator('#sites-table tbody tr').count()).toBe(1);
    expect(await p.locator('#assigned-sites').textContent()).toBe('Lokasi yang ditugaskan kepada Anda: kota');
    await screenshot(p, 'sites-installer-id-1366');
    await p.goto(`${base}#devices/desa`);
    const refused = p.locator('#view-devices .load-error');
    await refused.waitFor();
    expect(await refused.textContent()).toBe('Lokasi "desa" tidak ditugaskan kepada Anda.');
    await screenshot(p, 'devices-installer-refused-id-1366');
    await p.goto(`${base}#devices/kota`);
    await p.locator('#devices-table tr[data-device="kota/r-kota"]').waitFor();

    // The admin assigns desa too, in the page: the installer's next request sees it.
    const a = await page('admin', 'admin-secret-1');
    await a.click('nav a[data-view=users]');
    const row = a.locator('#users-table tr[data-user=pemasang]');
    await row.waitFor();
    await row.locator('input[name=sites]').fill('kota, desa');
    await row.locator('.sites-form button').click();
    await waitFor(
      'saved',
      async () => (await a.locator('#users-msg').textContent()) === 'Tersimpan: Lokasi (pemasang) pemasang',
    );
    expect(await row.locator('input[name=sites]').inputValue()).toBe('kota, desa');
    expect((await as(inst, '/api/devices?site=desa')).status).toBe(200);
    await p.goto(`${base}#sites`);
    await p.locator('#sites-table tr[data-site=desa]').waitFor();
    // And the CLI takes it away again; the running dashboard follows the file.
    await cli('dashboard', [
      'users',
      'set-sites',
      '--file',
      join(dir.path, 'users.yaml'),
      '--username',
      'pemasang',
      '--sites',
      'kota',
    ]);
    expect((await as(inst, '/api/devices?site=desa')).status).toBe(403);
    await a.close();
    await p.close();
  }, 90_000);

  it('every change is in the audit log: API (admins, engineers read), view and CLI', async () => {
    const admin = { cookie: central.cookies.admin!, csrf: central.csrf.admin! };
    // Removing budi ends his sessions and is the last change to check.
    const budi = await loginTo(base, 'budi', 'sandi-budi-sendiri');
    expect((await as(admin, '/api/users/budi', 'DELETE')).status).toBe(200);
    expect((await as(budi, '/api/me')).status).toBe(401);
    expect((await loginTo(base, 'budi', 'sandi-budi-sendiri')).status).toBe(401);

    const all = await audit(`from=${started - 1000}&limit=5000`);
    const seen = (action: string, target?: string, user = 'admin') =>
      all.find(
        (e) => e.action === action && e.user === user && (target === undefined || e.target === target),
      );
    for (const [action, target, user] of [
      ['login', 'admin', 'admin'],
      ['login_failed', 'budi', 'budi'],
      ['logout', 'insinyur', 'insinyur'],
      ['user_added', 'budi', 'admin'],
      ['user_added', 'csrf-probe', 'admin'],
      ['user_removed', 'csrf-probe', 'admin'],
      ['user_disabled', 'budi', 'admin'],
      ['user_enabled', 'budi', 'admin'],
      ['user_role', 'budi', 'admin'],
      ['user_password_reset', 'budi', 'admin'],
      ['password_change_failed', 'budi', 'budi'],
      ['password_changed', 'budi', 'budi'],
      ['user_sites', 'pemasang', 'admin'],
      ['user_removed', 'budi', 'admin'],
    ] as const)
      expect(seen(action, target, user), `${action} ${target} by ${user}`).toBeDefined();
    expect(seen('user_role', 'budi')).toMatchObject({
      role: 'admin',
      detail: { from: 'operator', to: 'engineer' },
      remote: expect.stringMatching(/127\.0\.0\.1/),
    });
    expect(seen('user_sites', 'pemasang')?.detail).toEqual({ from: ['kota'], to: ['kota', 'desa'] });
    // The failed login while disabled says why (the answer to the browser does not).
    expect(
      all.some((e) => e.action === 'login_failed' && e.user === 'budi' && e.detail.reason === 'disabled'),
    ).toBe(true);
    // No password or hash ever lands in the log.
    expect(JSON.stringify(all)).not.toMatch(/sandi|secret-1|scrypt/);
    // Refused changes changed nothing and are not logged as changes.
    expect(all.filter((e) => e.action === 'user_role' && e.target === 'admin')).toEqual([]);
    // Filters.
    const roles = await audit(`action=user_role&from=${started - 1000}`);
    expect(roles.every((e) => e.action === 'user_role')).toBe(true);
    expect((await audit('user=budi')).every((e) => e.user === 'budi')).toBe(true);
    expect((await central.api<unknown>(`/api/audit?from=10&to=5`, 'admin')).status).toBe(400);
    expect((await central.api<unknown>('/api/audit?action=DROP%20TABLE', 'admin')).status).toBe(400);
    // Engineers read it; installers do not.
    expect((await central.api<unknown[]>('/api/audit', 'insinyur')).status).toBe(200);
    expect((await central.api<unknown>('/api/audit', 'pemasang')).status).toBe(403);

    const p = await page('admin', 'admin-secret-1');
    await p.click('nav a[data-view=audit]');
    const rows = p.locator('#audit-table tbody tr[data-action]');
    await rows.first().waitFor();
    const actions = await p
      .locator('#audit-table tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => `${(tr as HTMLElement).dataset.action} ${(tr as HTMLElement).dataset.target}`),
      );
    for (const want of [
      'user_added budi',
      'user_disabled budi',
      'user_role budi',
      'user_removed budi',
      'user_sites pemasang',
    ])
      expect(actions).toContain(want);
    expect(await p.locator('#audit-table tbody tr[data-action=user_role]').first().textContent()).toContain(
      'Peran diubah',
    );
    await screenshot(p, 'audit-id-1366');
    await p.selectOption('#audit-form select[name=action]', 'login_failed');
    await p.click('#audit-form button[type=submit]');
    await waitFor('filtered', async () => {
      const list = await p
        .locator('#audit-table tbody tr')
        .evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.action));
      return list.length > 0 && list.every((a) => a === 'login_failed');
    });
    await fitsPhone(p, 'audit-id');
    await p.click('#lang');
    await waitFor(
      'English',
      async () => (await p.locator('nav a[data-view=audit]').textContent()) === 'Audit log',
    );
    await screenshot(p, 'audit-en-1366');
    await p.click('#lang');
    await p.close();

    const tail = await cli('dashboard', [
      'audit',
      'tail',
      '--config',
      join(dir.path, 'dashboard.yaml'),
      '-n',
      '5',
    ]);
    expect(tail.stdout).toMatch(/admin\(admin\)\s+user_removed\s+budi/);
    const search = await cli('dashboard', [
      'audit',
      'search',
      '--config',
      join(dir.path, 'dashboard.yaml'),
      '--user',
      'budi',
      '--action',
      'password_changed',
    ]);
    expect(search.stdout.trim().split('\n')).toHaveLength(1);
    expect(search.stdout).toMatch(/budi\(engineer\)\s+password_changed/);
  }, 90_000);
});
