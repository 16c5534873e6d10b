// Upgrading: configs written by the previous version (Pantau 0.1.0) are read unchanged by this one,
// through the real command lines; a central whose state shared the store file keeps it; a config
// from a newer Pantau is refused with a message that says so; migrate-config finds nothing to do on
// today's configs (none has changed its format yet) and writes nothing.

import { execFile } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadBrokerConfig } from '@pantau/broker';
import { CentralDb } from '@pantau/broker/backbone';
import { loadDashboardConfig } from '@pantau/dashboard';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './support/procs.js';

const run = promisify(execFile);
const cli = (pkg: string, ...args: string[]) =>
  run(process.execPath, [join(ROOT, `${pkg}/dist/cli.js`), ...args]);

describe('upgrade from Pantau 0.1.0 configs', () => {
  const dir = tempDir('upgrade');
  afterAll(() => dir.remove());

  it('reads the old site.yaml, central.yaml and dashboard.yaml; keeps the state in the old file', async () => {
    cpSync(join(ROOT, 'test/fixtures/config-0.1.0'), dir.path, { recursive: true });
    for (const f of readdirSync(dir.path).filter((f) => f.endsWith('.yaml')))
      writeFileSync(join(dir.path, f), readFileSync(join(dir.path, f), 'utf8').replaceAll('@PORT@', '18830'));
    for (const f of ['gateway-relay-kota.mqtt-password', 'dashboard.mqtt-password'])
      writeFileSync(join(dir.path, f), 'secret-from-0.1.0\n');
    writeFileSync(join(dir.path, 'credentials.yaml'), 'accounts: []\n');
    writeFileSync(join(dir.path, 'users.yaml'), 'users: []\n');
    // 0.1.0 kept baselines and incidents in central.db itself (the default state file was the store's).
    const old = new CentralDb(join(dir.path, 'central.db'));
    old.putBaseline('scc-relay', { recorded_at: 1000, recorded_by: 'insinyur' });
    old.close();

    await cli('gateway', 'check-config', join(dir.path, 'site.yaml'));
    await cli('broker', 'check-config', join(dir.path, 'central.yaml'));
    await cli('dashboard', 'check-config', join(dir.path, 'dashboard.yaml'));
    // The upgraded central and dashboard find the commissioned baseline where 0.1.0 left it.
    const cfg = loadBrokerConfig(join(dir.path, 'central.yaml'));
    expect(cfg.backbone!.state_path).toBe(join(dir.path, 'central.db'));
    expect(loadDashboardConfig(join(dir.path, 'dashboard.yaml')).backbone!.state_path).toBe(
      join(dir.path, 'central.db'),
    );
    const db = new CentralDb(cfg.backbone!.state_path!);
    expect(db.baseline('scc-relay')).toMatchObject({ recorded_by: 'insinyur' });
    db.close();
  });

  it('a config that names its version: this one is read; a newer one is refused, clearly', async () => {
    const site = join(dir.path, 'site.yaml');
    const text = readFileSync(site, 'utf8');
    writeFileSync(site, `version: 1\n${text}`);
    await cli('gateway', 'check-config', site);
    writeFileSync(site, `version: 2\n${text}`);
    await expect(cli('gateway', 'check-config', site)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/site\.yaml:1.*version.*written for a newer Pantau \(config version 2\)/),
    });
  });

  it('migrate-config: every config of today is current (nothing written); a newer one is refused; an unknown name needs --kind', async () => {
    const site = join(dir.path, 'site.yaml');
    const yamls = () => readdirSync(dir.path).filter((f) => f.endsWith('.yaml'));
    writeFileSync(site, readFileSync(site, 'utf8').replace(/^version: \d+\n/, ''));
    const before = Object.fromEntries(
      yamls().map((f) => [f, readFileSync(join(dir.path, f), 'utf8')] as const),
    );
    const g = await cli('gateway', 'migrate-config', site);
    expect(g.stdout).toContain(`${site}: site.yaml version 1, the current one: nothing to change`);
    const c = await cli('broker', 'migrate-config', join(dir.path, 'central.yaml'));
    expect(c.stdout).toContain('central.yaml version 1, the current one: nothing to change');
    const b = await cli('broker', 'migrate-config', join(dir.path, 'backbone.yaml'));
    expect(b.stdout).toContain('backbone.yaml version 1, the current one: nothing to change');
    const d = await cli('dashboard', 'migrate-config', join(dir.path, 'dashboard.yaml'));
    expect(d.stdout).toContain('dashboard.yaml version 1, the current one: nothing to change');
    // Nothing written, no backups.
    expect(
      Object.fromEntries(yamls().map((f) => [f, readFileSync(join(dir.path, f), 'utf8')] as const)),
    ).toEqual(before);
    expect(readdirSync(dir.path).filter((f) => f.endsWith('.bak'))).toEqual([]);

    writeFileSync(site, `version: 2\n${before['site.yaml']}`);
    await expect(cli('gateway', 'migrate-config', site)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/site\.yaml:1:10: version: written for a newer Pantau/),
    });
    expect(existsSync(`${site}.v2.bak`)).toBe(false);
    cpSync(join(dir.path, 'central.yaml'), join(dir.path, 'pusat.yaml'));
    await expect(cli('broker', 'migrate-config', join(dir.path, 'pusat.yaml'))).rejects.toMatchObject({
      stderr: expect.stringContaining('say which config it is with --kind central|notify|backbone'),
    });
    await cli('broker', 'migrate-config', join(dir.path, 'pusat.yaml'), '--kind', 'central');
  });
});
