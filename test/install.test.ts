// deploy/install.sh into throw-away directory trees (no container here): both roles, each run twice
// — the second run is an upgrade — and what it installed actually runs.

import { execFile } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, requireBinary, tempDir } from './support/procs.js';

const run = promisify(execFile);
const SCRIPT = join(ROOT, 'deploy/install.sh');

/** A tree with just the account files useradd needs. */
function throwawayRoot(path: string): void {
  mkdirSync(join(path, 'etc'), { recursive: true });
  for (const f of ['passwd', 'group', 'shadow', 'gshadow', 'login.defs'])
    if (existsSync(`/etc/${f}`)) copyFileSync(`/etc/${f}`, join(path, 'etc', f));
}

/**
 * A source tree as a build machine of another CPU leaves it: this repository (linked), except that
 * better-sqlite3's compiled module is not one this machine can load (an ELF file it cannot map, as
 * an amd64 build is on a Pi).
 */
function foreignBuild(path: string): void {
  mkdirSync(path);
  for (const e of readdirSync(ROOT))
    if (!['.git', 'node_modules', 'broker'].includes(e)) symlinkSync(join(ROOT, e), join(path, e));
  // The check runs in broker/: a real folder, so Node looks for modules in this tree's node_modules.
  mkdirSync(join(path, 'broker'));
  for (const e of readdirSync(join(ROOT, 'broker')))
    if (e !== 'node_modules') symlinkSync(join(ROOT, 'broker', e), join(path, 'broker', e));
  const nm = join(path, 'node_modules');
  mkdirSync(nm);
  for (const e of readdirSync(join(ROOT, 'node_modules')))
    if (e !== 'better-sqlite3') symlinkSync(join(ROOT, 'node_modules', e), join(nm, e));
  const pkg = join(nm, 'better-sqlite3');
  mkdirSync(join(pkg, 'build/Release'), { recursive: true });
  cpSync(join(ROOT, 'node_modules/better-sqlite3/lib'), join(pkg, 'lib'), { recursive: true });
  copyFileSync(join(ROOT, 'node_modules/better-sqlite3/package.json'), join(pkg, 'package.json'));
  const real = readFileSync(join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'));
  // The ELF header says another machine: 32-bit ARM (EM_ARM = 40) instead of this one's.
  const foreign = Buffer.from(real);
  foreign[4] = 1; // ELFCLASS32
  foreign.writeUInt16LE(40, 18);
  writeFileSync(join(pkg, 'build/Release/better_sqlite3.node'), foreign);
}

const install = (root: string, role: string) =>
  run('bash', [SCRIPT, '--role', role, '--root', root], { maxBuffer: 16 * 1024 * 1024 });

const users = (root: string) =>
  readFileSync(join(root, 'etc/passwd'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('pantau:'));

describe('deploy/install.sh into a throw-away root', () => {
  const dir = tempDir('install');
  afterAll(() => dir.remove());

  it('site role, twice: user once, directories, unit enabled, config kept, the daemon checks its config', async () => {
    requireBinary('/usr/sbin/useradd', 'apt-get install -y passwd');
    const root = join(dir.path, 'site');
    throwawayRoot(root);
    const first = await install(root, 'site');
    expect(first.stdout).toContain('creating the system user pantau');
    expect(first.stdout).toContain('wrote /etc/pantau/site.yaml from the example');
    const [line] = users(root);
    expect(line).toMatch(/^pantau:x:\d+:\d+:Pantau monitoring:\/var\/lib\/pantau:\/usr\/sbin\/nologin$/);
    const uid = Number(line!.split(':')[2]);
    const state = statSync(join(root, 'var/lib/pantau'));
    expect([state.uid, state.mode & 0o777]).toEqual([uid, 0o750]);
    // The site box rewrites its own site.yaml (config push, installer page): group-writable folder.
    expect(statSync(join(root, 'etc/pantau')).mode & 0o777).toBe(0o770);
    expect(statSync(join(root, 'etc/pantau/site.yaml')).mode & 0o777).toBe(0o660);
    const unit = readFileSync(join(root, 'etc/systemd/system/pantau-gateway.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${process.execPath} /opt/pantau/gateway/dist/cli.js run`);
    expect(
      readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/pantau-gateway.service')),
    ).toBe('../pantau-gateway.service');
    expect(existsSync(join(root, 'etc/systemd/system/pantau-broker.service'))).toBe(false);

    // The installer edits the config; an upgrade (the same script again) keeps it.
    const edited = readFileSync(join(root, 'etc/pantau/site.yaml'), 'utf8').replace('contoh-lokasi', 'rsud');
    writeFileSync(join(root, 'etc/pantau/site.yaml'), edited);
    const second = await install(root, 'site');
    expect(second.stdout).toContain('user pantau exists');
    expect(second.stdout).toContain('keeping /etc/pantau/site.yaml');
    expect(users(root)).toHaveLength(1);
    expect(readFileSync(join(root, 'etc/pantau/site.yaml'), 'utf8')).toBe(edited);

    // The installed tree runs: the example config, with its password file, is valid.
    writeFileSync(join(root, 'etc/pantau/site.pw'), 'gw-secret-1\n');
    const cfg = readFileSync(join(root, 'etc/pantau/site.yaml'), 'utf8')
      .replace('/etc/pantau/site.pw', join(root, 'etc/pantau/site.pw'))
      .replace('/var/lib/pantau/gateway', join(root, 'var/lib/pantau/gateway'));
    writeFileSync(join(dir.path, 'site-check.yaml'), cfg);
    const check = await run(process.execPath, [
      join(root, 'opt/pantau/gateway/dist/cli.js'),
      'check-config',
      join(dir.path, 'site-check.yaml'),
    ]);
    expect(check.stdout).toMatch(/ok|valid/i);
  }, 180_000);

  it('central role, twice: broker and dashboard units, the three configs from the examples and valid', async () => {
    const root = join(dir.path, 'central');
    throwawayRoot(root);
    await install(root, 'central');
    await install(root, 'central');
    expect(users(root)).toHaveLength(1);
    for (const u of ['pantau-broker.service', 'pantau-dashboard.service'])
      expect(existsSync(join(root, 'etc/systemd/system/multi-user.target.wants', u))).toBe(true);
    expect(existsSync(join(root, 'etc/systemd/system/pantau-gateway.service'))).toBe(false);
    for (const c of ['central.yaml', 'dashboard.yaml', 'backbone.yaml'])
      expect(existsSync(join(root, 'etc/pantau', c))).toBe(true);
    // The examples check out once their files exist and paths point into the tree.
    const etc = join(root, 'etc/pantau');
    const rel = (s: string) =>
      s
        .replaceAll('/etc/pantau/', `${etc}/`)
        .replaceAll('/var/lib/pantau/', `${join(root, 'var/lib/pantau')}/`);
    // The files the services change are in /var/lib/pantau, theirs, with nothing in them yet.
    expect(statSync(etc).mode & 0o777).toBe(0o750);
    for (const f of ['credentials.yaml', 'users.yaml']) {
      const st = statSync(join(root, 'var/lib/pantau', f));
      expect([st.uid === statSync(join(root, 'var/lib/pantau')).uid, st.mode & 0o777]).toEqual([true, 0o600]);
    }
    writeFileSync(join(etc, 'dashboard.pw'), 'dash-secret-1\n');
    for (const [pkg, c] of [
      ['broker', 'central.yaml'],
      ['dashboard', 'dashboard.yaml'],
    ] as const) {
      writeFileSync(join(dir.path, `check-${c}`), rel(readFileSync(join(etc, c), 'utf8')));
      await run(process.execPath, [
        join(root, `opt/pantau/${pkg}/dist/cli.js`),
        'check-config',
        join(dir.path, `check-${c}`),
      ]);
    }
  }, 180_000);

  it('a native module built for another machine: says so and what to do on the box, installs nothing more', async () => {
    const src = join(dir.path, 'foreign-src');
    foreignBuild(src);
    const root = join(dir.path, 'foreign');
    throwawayRoot(root);
    const failed = await run(
      'bash',
      [join(src, 'deploy/install.sh'), '--role', 'site', '--root', root, '--no-rebuild'],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    ).then(
      () => null,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(failed).not.toBeNull();
    expect(failed!.code).toBe(1);
    expect(failed!.stdout).toContain(
      `better-sqlite3's native module in ${root}/opt/pantau does not load under Node ${process.versions.node}`,
    );
    // Node's own reason comes along (the ELF file is for another machine).
    expect(failed!.stdout).toMatch(/Error: .*better_sqlite3\.node/);
    expect(failed!.stderr).toContain(`cd ${root}/opt/pantau && npm rebuild better-sqlite3`);
    expect(failed!.stderr).toContain('same CPU');
    expect(failed!.stderr).toContain("jalankan 'npm rebuild better-sqlite3'");
    // Stopped before anything that would start a daemon that cannot run.
    expect(existsSync(join(root, 'etc/systemd/system/pantau-gateway.service'))).toBe(false);
    expect(users(root)).toHaveLength(0);

    // This repository's own build loads: the same script goes through.
    const ok = await install(root, 'site');
    expect(ok.stdout).not.toContain('does not load');
    expect(existsSync(join(root, 'etc/systemd/system/pantau-gateway.service'))).toBe(true);
  }, 180_000);

  it('refuses clearly: no role, a too-old Node', async () => {
    await expect(run('bash', [SCRIPT])).rejects.toMatchObject({
      stderr: expect.stringContaining('--role must be site or central'),
    });
    const fake = join(dir.path, 'node18');
    writeFileSync(fake, '#!/bin/sh\necho 18.19.0\n', { mode: 0o755 });
    await expect(
      run('bash', [SCRIPT, '--role', 'site', '--root', join(dir.path, 'never'), '--node', fake]),
    ).rejects.toMatchObject({ stderr: expect.stringContaining('too old: Pantau needs 20 or newer') });
  });
});
