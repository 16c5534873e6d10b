// Enrolling site boxes through real processes: a command center on TLS (broker on mqtts, dashboard on
// HTTPS) issues one-time tokens (dashboard API and `pantau-broker enroll issue`); the site box CLI
// `pantau-gateway enroll` redeems one and writes site.yaml; the real gateway daemon then reports under
// that site. A used token is refused with 409 and touches nothing; an expired one with 410; a stream of
// wrong tokens locks the address out; the QR code on the page decodes (zbarimg) to the token shown.

import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, logIn, screenshot } from './support/browser.js';
import { type Central, cli, startCentral } from './support/central.js';
import { type Daemon, freePort, ROOT, requireBinary, runDaemon, tempDir, waitFor } from './support/procs.js';

const run = promisify(execFile);
const ZBARIMG = '/usr/bin/zbarimg';
const TOKEN = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/;

const BACKBONE = `root: scc
sites:
  - { id: scc, name: "Ruang kendali SCC" }
  - { id: rsud, name: "RSUD Latemmamala" }
links:
  - { id: scc-rsud, medium: radio, a: { site: scc }, b: { site: rsud } }
`;

interface Issued {
  id: string;
  site: string;
  token: string;
  qr_svg: string;
  expires_at: number;
  created_by: string;
  status: string;
}
interface Row {
  id: string;
  site: string;
  status: string;
  used_from: string | null;
  box: { hostname: string; version: string; fingerprint: string } | null;
}

/** site.yaml as an installer might have started it: devices and comments, no site or account yet. */
const siteYaml = (stateDir: string) => `# Kotak lokasi — disiapkan oleh pemasang
site:
  id: belum-terdaftar # diisi oleh "pantau-gateway enroll"
  name: "Kotak lokasi"
mqtt:
  urls: ["mqtt://127.0.0.1:1"]
  username: placeholder
  password: placeholder
  keepalive_s: 5
state_dir: ${stateDir}
log_level: warn
health_interval_s: 2
defaults: { interval_s: 1, timeout_ms: 800, retries: 0 }
metrics: { enabled: false }
devices:
  # the site's own router, pinged
  - id: router
    name: "Router kantor"
    kind: host
    address: 127.0.0.1
    ping: { enabled: true, count: 2 }
`;

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('enrolling a site box with a one-time token', () => {
  const dir = tempDir('enroll');
  const file = (p: string) => join(dir.path, p);
  let central: Central;
  let browser: Browser | undefined;
  const gateways: Daemon[] = [];
  let rsudToken = '';

  const issue = (user: string, body: unknown) =>
    central.api<Issued & { message?: string }>('/api/enrollments', user, {
      method: 'POST',
      body: JSON.stringify(body),
    });
  /** The site box CLI; resolves with its exit code and what it said. */
  const enroll = async (token: string, config: string) => {
    try {
      const r = await cli('gateway', [
        'enroll',
        '--central',
        central.base,
        '--token',
        token,
        '--config',
        config,
        '--ca-file',
        join(central.caDir, 'ca.crt'),
      ]);
      return { code: 0, out: r.stdout + r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, out: err.stdout + err.stderr };
    }
  };
  /** POST /enroll from a chosen loopback address (all of 127/8 is this machine). */
  const redeemFrom = (from: string, token: string) =>
    new Promise<{ status: number; body: { error?: string; message?: string; site?: string } }>(
      (resolve, reject) => {
        const body = JSON.stringify({
          token,
          box: { hostname: 'guesser', version: '0', fingerprint: 'x' },
        });
        const req = request(
          `https://127.0.0.1:${central.httpPort}/enroll`,
          {
            method: 'POST',
            ca: central.ca!,
            localAddress: from,
            headers: { 'content-type': 'application/json' },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      },
    );
  const devicesOf = async (site: string) =>
    (
      await central.api<Array<{ device: string; figures: Record<string, { value: number }> }>>(
        `/api/devices?site=${site}`,
        'insinyur',
      )
    ).body;

  beforeAll(async () => {
    requireBinary(ZBARIMG, 'apt-get install -y zbar-tools');
    requireBinary('/usr/bin/ping', 'apt-get install -y iputils-ping');
    central = await startCentral({
      dir: dir.path,
      sites: [],
      users: [
        ['insinyur', 'engineer'],
        ['pemasang', 'installer'],
        ['operator', 'operator'],
      ],
      tls: {},
      backbone: BACKBONE,
      enroll: true,
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(gateways.map((g) => g.stop()));
    await central?.stop();
    dir.remove();
  });

  it('issues a token for a backbone site: typeable text, a QR code, 24 h by default; only its hash is kept', async () => {
    const before = Date.now();
    const r = await issue('insinyur', { site: 'rsud' });
    expect(r.status).toBe(201);
    expect(r.body.token).toMatch(TOKEN);
    expect(r.body.qr_svg).toMatch(/^<svg [^>]*viewBox/);
    expect(r.body).toMatchObject({ site: 'rsud', created_by: 'insinyur', status: 'pending' });
    expect(r.body.expires_at - before).toBeGreaterThanOrEqual(24 * 3600_000 - 1000);
    expect(r.body.expires_at - before).toBeLessThanOrEqual(24 * 3600_000 + 5000);
    const db = ['central-state.db', 'central-state.db-wal']
      .filter((f) => existsSync(file(f)))
      .map((f) => readFileSync(file(f)).toString('latin1'))
      .join('');
    expect(db).toContain('rsud');
    expect(db).not.toContain(r.body.token);
    expect(db).not.toContain(r.body.token.replace(/-/g, ''));
  });

  it('refuses what it should: other roles, installers without the site, sites not in the backbone, long TTLs', async () => {
    expect((await issue('operator', { site: 'rsud' })).status).toBe(403);
    // This installer has no `sites:` list in the users file: no site is theirs.
    const inst = await issue('pemasang', { site: 'rsud' });
    expect(inst.status).toBe(403);
    expect(inst.body.message).toMatch(/may not enroll site "rsud"/);
    const unknown = await issue('insinyur', { site: 'pasar' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/not in backbone\.yaml/);
    expect((await issue('insinyur', { site: 'rsud', ttl_h: 169 })).status).toBe(400);
    expect((await issue('insinyur', { site: 'Bad Site' })).status).toBe(400);
    expect((await central.api('/api/enrollments', 'operator')).status).toBe(403);
  });

  it('the site box enrolls with the CLI and its daemon reports under that site', async () => {
    const { body } = await issue('insinyur', { site: 'rsud' });
    rsudToken = body.token;
    const config = file('box-rsud/site.yaml');
    await run('mkdir', ['-p', file('box-rsud')]);
    writeFileSync(config, siteYaml(file('box-rsud/state')));
    // Typed loosely, as an installer would: lower case, spaces for dashes.
    const r = await enroll(body.token.toLowerCase().replace(/-/g, ' '), config);
    expect(r.out).toMatch(/enrolled as site rsud/);
    expect(r.code).toBe(0);

    const text = readFileSync(config, 'utf8');
    expect(text).toContain('# Kotak lokasi — disiapkan oleh pemasang');
    expect(text).toContain("# the site's own router, pinged");
    expect(text).toMatch(/id: rsud/);
    expect(text).toContain(`mqtts://localhost:${central.tlsPort}`);
    expect(text).toMatch(/username: gw-rsud/);
    expect(text).not.toMatch(/password: placeholder/);
    expect(text).toMatch(/password_file: site\.pw/);
    expect(text).toMatch(/ca_file: central-ca\.crt/);
    expect(statSync(file('box-rsud/site.pw')).mode & 0o777).toBe(0o600);
    expect(readFileSync(file('box-rsud/central-ca.crt'))).toEqual(central.ca);
    expect(readFileSync(file('credentials.yaml'), 'utf8')).toMatch(/site: rsud\s+username: gw-rsud/);
    await cli('gateway', ['check-config', config]);

    const gw = runDaemon('gateway', ['run', '--config', config]);
    gateways.push(gw);
    await waitFor(
      'the router ping from the enrolled box',
      async () => (await devicesOf('rsud')).find((d) => d.device === 'router' && d.figures.latency_ms),
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\ngateway: ${gw.output()}\nbroker: ${central.daemons[0]!.output()}`);
    });

    const rows = (await central.api<Row[]>('/api/enrollments', 'insinyur')).body;
    const row = rows.find((x) => x.id === body.id)!;
    expect(row.status).toBe('used');
    expect(row.used_from).toBe('127.0.0.1');
    expect(row.box?.fingerprint).toMatch(/^[0-9a-f]{32}$/);
  }, 60_000);

  it('a used token is refused with 409 and the box config stays as it was', async () => {
    const config = file('box-rsud/site.yaml');
    const files = [config, file('box-rsud/site.pw'), file('box-rsud/central-ca.crt')];
    const before = files.map(sha);
    const again = await enroll(rsudToken, config);
    expect(again.code).not.toBe(0);
    expect(again.out).toMatch(/\(409\).*already used/);
    expect(files.map(sha)).toEqual(before);
    expect(existsSync(`${config}.enrolled`)).toBe(false);
  }, 30_000);

  it('a second box enrolls while the broker runs: the broker takes the new account without a restart', async () => {
    // A site not in the backbone yet, and a box with no site.yaml at all.
    const { body, status } = await issue('insinyur', { site: 'pasar', new_site: true });
    expect(status).toBe(201);
    const bare = file('box-bare/site.yaml');
    await run('mkdir', ['-p', file('box-bare')]);
    const r = await enroll(body.token, bare);
    expect(r.code).toBe(0);
    const out = (await cli('gateway', ['check-config', bare])).stdout;
    expect(out).toMatch(/OK: .*site pasar, 0 devices/);

    // Now a box for rsud's neighbour with devices, enrolled after two account changes already.
    const second = await issue('insinyur', { site: 'kantor-camat', new_site: true, ttl_h: 2 });
    const config = file('box-camat/site.yaml');
    await run('mkdir', ['-p', file('box-camat')]);
    writeFileSync(config, siteYaml(file('box-camat/state')));
    expect((await enroll(second.body.token, config)).code).toBe(0);
    const gw = runDaemon('gateway', ['run', '--config', config]);
    gateways.push(gw);
    await waitFor(
      'the second enrolled box reporting',
      async () => (await devicesOf('kantor-camat')).find((d) => d.figures.latency_ms),
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\ngateway: ${gw.output()}\nbroker: ${central.daemons[0]!.output()}`);
    });
  }, 60_000);

  it('an expired token (issued by pantau-broker enroll with a TTL of seconds) is refused with 410', async () => {
    const issued = await cli('broker', [
      'enroll',
      'issue',
      '--config',
      file('central.yaml'),
      '--site',
      'rsud',
      '--ttl-h',
      String(1.5 / 3600),
      '--by',
      'test',
      '--json',
    ]);
    const e = JSON.parse(issued.stdout) as Issued;
    expect(e.token).toMatch(TOKEN);
    expect(e.expires_at - Date.now()).toBeLessThanOrEqual(1500);
    await new Promise((r) => setTimeout(r, 2000));
    await run('mkdir', ['-p', file('scratch')]);
    const config = file('scratch/site.yaml');
    writeFileSync(config, siteYaml(file('scratch/state')));
    const before = sha(config);
    const r = await enroll(e.token, config);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/\(410\).*expired/);
    expect(sha(config)).toBe(before);

    // Revoked on the dashboard: 410 as well.
    const { body } = await issue('insinyur', { site: 'rsud' });
    const revoked = await central.api<Row>(`/api/enrollments/${body.id}/revoke`, 'insinyur', {
      method: 'POST',
      body: '{}',
    });
    expect(revoked.body.status).toBe('revoked');
    expect((await enroll(body.token, config)).out).toMatch(/\(410\).*withdrawn/);
    const list = await cli('broker', ['enroll', 'list', '--config', file('central.yaml')]);
    expect(list.stdout).toMatch(new RegExp(`${body.id}\\s+rsud\\s+revoked`));
  }, 30_000);

  it('guessing is refused: after five wrong tokens the address is locked out, even with a right one', async () => {
    const { body } = await issue('insinyur', { site: 'pasar', new_site: true });
    for (let i = 0; i < 5; i++) {
      const r = await redeemFrom('127.0.0.2', `ABCD-EFGH-JKMN-PQ${String(i).padStart(2, '0')}`);
      expect(r.status).toBe(404);
    }
    const locked = await redeemFrom('127.0.0.2', 'ABCD-EFGH-JKMN-PQ99');
    expect(locked.status).toBe(429);
    expect(locked.body.message).toMatch(/too many wrong tokens/);
    expect((await redeemFrom('127.0.0.2', body.token)).status).toBe(429);
    // Another address is not affected, and the token was not spent by the refused attempt.
    const ok = await redeemFrom('127.0.0.3', body.token);
    expect(ok.status).toBe(200);
    expect(ok.body.site).toBe('pasar');
    // Every attempt is in the audit trail, by address and reason; the token itself is not.
    const trail = await central.api<
      Array<{ action: string; remote: string; detail: { reason?: string; ok: boolean } }>
    >('/api/audit?action=enroll_redeem&limit=100', 'insinyur');
    const from2 = trail.body.filter((a) => a.remote === '127.0.0.2').map((a) => a.detail.reason);
    expect(from2.filter((r) => r === 'unknown_token')).toHaveLength(5);
    expect(from2).toContain('rate_limited');
    expect(trail.body.some((a) => a.remote === '127.0.0.3' && a.detail.ok)).toBe(true);
    expect(JSON.stringify(trail.body)).not.toContain(body.token);
    expect(central.daemons[1]!.output()).not.toContain(body.token);
  }, 30_000);

  it('the page shows the token, its QR code (which decodes to the same token) and the expiry', async () => {
    browser = await launchChromium();
    const ctx = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1366, height: 900 },
    });
    const page = await ctx.newPage();
    await logIn(page, `${central.base}/#sites`, 'insinyur', 'insinyur-secret-1');
    await page.click('#to-enroll');
    await page.waitForSelector('#enroll-form');
    expect(await page.textContent('#view-title')).toBe('Pendaftaran kotak lokasi');
    await page.fill('#enroll-form input[name=site]', 'rsud');
    await page.selectOption('#enroll-form select[name=ttl_h]', '4');
    await page.click('#enroll-form button[type=submit]');
    await page.waitForSelector('#enroll-token');
    const token = (await page.textContent('#enroll-token'))!.trim();
    expect(token).toMatch(TOKEN);
    expect(await page.textContent('.enroll-issued')).toMatch(/Sekali pakai, berlaku sampai/);
    const qr = join(dir.path, 'qr.png');
    await page.locator('#enroll-qr').screenshot({ path: qr });
    const decoded = await run(ZBARIMG, ['--raw', '-q', qr]);
    expect(decoded.stdout.trim()).toBe(token);
    // The list shows it pending, issued by this user.
    const row = page.locator('#enroll-list tr', { hasText: 'insinyur' }).first();
    expect(await row.textContent()).toMatch(/Menunggu/);
    await screenshot(page, 'enroll-desk');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'enroll-phone');
  }, 60_000);

  it('the installer enrolls the box on its own page (phone): it restarts as the new site and reports', async () => {
    const { body } = await issue('insinyur', { site: 'dermaga', new_site: true });
    const boxDir = file('box-page');
    await run('mkdir', ['-p', boxDir]);
    const config = join(boxDir, 'site.yaml');
    const installerPort = await freePort();
    writeFileSync(
      config,
      `${siteYaml(join(boxDir, 'state'))}installer: { host: 127.0.0.1, port: ${installerPort}, pin_file: installer.pin, central_ca_file: ${join(central.caDir, 'ca.crt')} }\n`,
    );
    await new Promise<void>((resolve, reject) => {
      const p = spawn(
        process.execPath,
        [join(ROOT, 'gateway/dist/cli.js'), 'installer-pin', '--config', config],
        {
          stdio: ['pipe', 'ignore', 'pipe'],
        },
      );
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`installer-pin exited ${code}`))));
      p.stdin.end('246810\n');
    });
    // The box runs before it is enrolled: polling its devices, its page up, its uplink refused.
    const first = runDaemon('gateway', ['run', '--config', config]);
    gateways.push(first);
    const page = `http://127.0.0.1:${installerPort}`;
    await waitFor('installer page up', async () => (await fetch(`${page}/`).catch(() => null))?.ok, 20_000);
    browser ??= await launchChromium();
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const tab = await ctx.newPage();
    await tab.goto(page);
    await tab.fill('#pin', '246810');
    await tab.click('#login-button');
    await tab.click('#enroll summary');
    await tab.fill('#enroll-central', central.base.replace('https://', ''));
    await tab.fill('#enroll-token', body.token.toLowerCase());
    await tab.click('#enroll-button');
    await tab.waitForSelector('#enroll-result');
    expect(await tab.textContent('#enroll-result')).toMatch(/Terdaftar sebagai lokasi dermaga/);
    await screenshot(tab, 'installer-enrolled-phone');
    await ctx.close();
    // The daemon ends by itself to take its new identity (systemd's Restart=always starts it again).
    await waitFor('the daemon restarting', () => first.proc.exitCode !== null, 15_000);
    expect(first.proc.exitCode).toBe(0);
    const text = readFileSync(config, 'utf8');
    expect(text).toMatch(/id: dermaga/);
    expect(text).toMatch(/username: gw-dermaga/);
    expect(text).toContain('installer:');
    // Started again, as systemd would: the box reports under the site it was enrolled as.
    const again = runDaemon('gateway', ['run', '--config', config]);
    gateways.push(again);
    await waitFor(
      'the router ping from the box enrolled on its page',
      async () => (await devicesOf('dermaga')).find((d) => d.device === 'router' && d.figures.latency_ms),
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\ngateway: ${again.output()}`);
    });
    const trail = await central.api<Array<{ target: string; detail: { ok: boolean } }>>(
      '/api/audit?action=enroll_redeem',
      'insinyur',
    );
    expect(trail.body.some((a) => a.target === 'dermaga' && a.detail.ok)).toBe(true);
  }, 90_000);
});
