// Backup → wipe → restore gives the same central state, through the real command line, with the
// files laid out as install.sh and the docs lay them out: configs in etc/pantau, the files the
// dashboard changes (accounts, users) and the state database in var/lib/pantau, the CA in
// etc/pantau/ca.

import { execFile } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CentralDb } from './backbone/central-db.js';
import { EnrollmentDb } from './enroll/db.js';
import { NotifyStore } from './notify/queue.js';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '..', 'dist', 'cli.js');
const cli = (...args: string[]) => run(process.execPath, [CLI, ...args]);

/** Every file under `root`: its text and mode (the databases are compared through their tables). */
function files(root: string): Record<string, { text: string; mode: number }> {
  const out: Record<string, { text: string; mode: number }> = {};
  const walk = (d: string) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, f.name);
      if (f.isDirectory()) walk(p);
      else if (!/\.db(-wal|-shm)?$/.test(f.name))
        out[relative(root, p)] = { text: readFileSync(p, 'utf8'), mode: statSync(p).mode & 0o777 };
    }
  };
  walk(root);
  return out;
}

describe('backup and restore of the central state', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-backup-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const etc = join(dir, 'etc', 'pantau');
  const lib = join(dir, 'var', 'lib', 'pantau');
  const archive = join(dir, 'backups', 'central.tar.gz');
  const state = join(lib, 'central-state.db');

  const snapshot = () => {
    const db = new CentralDb(state);
    const enroll = new EnrollmentDb(state);
    const queue = new NotifyStore(state);
    try {
      return {
        incidents: db.incidents({ limit: 100 }),
        notes: db.incidentNotes(db.incidents({ limit: 100 })),
        baseline: db.baseline('scc-bukit'),
        enrollments: enroll.list({ now: 10_000 }),
        queued: queue.db.prepare('SELECT dedup, text FROM notify_queue').all(),
        stateMode: statSync(state).mode & 0o777,
        etc: files(etc),
        lib: files(lib),
      };
    } finally {
      queue.db.close();
      enroll.close();
      db.close();
    }
  };

  const central = join(etc, 'central.yaml');

  it('keeps configs, accounts, users, CA, notify secrets and the state database with their modes; the archive is 0600', async () => {
    mkdirSync(etc, { recursive: true });
    mkdirSync(lib, { recursive: true });
    await cli('ca', 'init', '--dir', join(etc, 'ca'), '--name', 'Test CA');
    await cli(
      'ca',
      'issue',
      '--dir',
      join(etc, 'ca'),
      '--server',
      '--name',
      'central.test',
      '--name',
      '127.0.0.1',
    );
    writeFileSync(
      central,
      `mqtt:
  host: 127.0.0.1
  port: 0
  tls: { port: 0, cert_file: ca/server-central.test.crt, key_file: ca/server-central.test.key }
credentials_file: ../../var/lib/pantau/credentials.yaml
store: { kind: sqlite, path: ../../var/lib/pantau/central.db }
backbone: { file: backbone.yaml }
notify: { file: notify.yaml }
`,
    );
    writeFileSync(
      join(etc, 'dashboard.yaml'),
      `http: { host: 127.0.0.1, port: 0 }
mqtt: { url: "mqtt://127.0.0.1:1883", username: dashboard, password_file: dashboard.pw }
store: { kind: sqlite, path: ../../var/lib/pantau/central.db }
backbone: { file: backbone.yaml, state_path: ../../var/lib/pantau/central-state.db }
users_file: ../../var/lib/pantau/users.yaml
`,
      { mode: 0o640 },
    );
    // World-readable by mistake: restored without the others' bits.
    writeFileSync(join(etc, 'dashboard.pw'), 'dash-secret\n', { mode: 0o644 });
    chmodSync(join(etc, 'dashboard.pw'), 0o644);
    writeFileSync(
      join(etc, 'notify.yaml'),
      `channels:
  email: { type: smtp, host: 127.0.0.1, from: pantau@pemda.go.id, to: [noc@pemda.go.id], username: pantau, password_file: notify-smtp.password }
rules:
  - { channels: [email] }
`,
    );
    writeFileSync(join(etc, 'notify-smtp.password'), 'smtp-secret\n', { mode: 0o600 });
    writeFileSync(
      join(etc, 'backbone.yaml'),
      `root: scc
sites:
  - { id: scc, name: Command Center }
  - { id: bukit, name: Relay Bukit, kecamatan: Tanete }
links:
  - { id: scc-bukit, medium: radio, a: { site: scc }, b: { site: bukit } }
`,
    );
    writeFileSync(
      join(lib, 'users.yaml'),
      'users:\n  - { username: admin, role: admin, hash: "scrypt$x" }\n',
      { mode: 0o600 },
    );
    await cli(
      'credentials',
      'add-gateway',
      '--file',
      join(lib, 'credentials.yaml'),
      '--site',
      'bukit',
      '--password=gw-secret-1',
    );
    const db = new CentralDb(state);
    chmodSync(state, 0o640);
    db.putBaseline('scc-bukit', { recorded_at: 1000, recorded_by: 'insinyur' });
    db.putIncident({
      key: 'link:scc-bukit',
      kind: 'link',
      subject: 'scc-bukit',
      severity: 'critical',
      title: { code: 'link_down', id: 'Tautan SCC – Bukit putus', en: 'Link SCC – Bukit down' },
      affected: { sites: ['bukit'], links: ['scc-bukit'], devices: [] },
      opened_at: 5000,
      updated_at: 6000,
      closed_at: null,
    });
    db.addIncidentNote({
      key: 'link:scc-bukit',
      opened_at: 5000,
      at: 7000,
      username: 'operator',
      kind: 'ack',
      text: 'dicek',
    });
    const enroll = new EnrollmentDb(state);
    enroll.issue({ site: 'bukit', by: 'admin', ttlMs: 3_600_000 });
    enroll.close();
    const queue = new NotifyStore(state);
    queue.enqueue(
      {
        dedup: 'd1',
        channel: 'email',
        recipient: 'noc@pemda.go.id',
        subject: 's',
        text: 'GANGGUAN',
        data: '{}',
      },
      8000,
    );
    queue.db.close();
    // Left open, as while the broker runs: the online backup still sees what is committed.
    const before = snapshot();
    expect(Object.keys(before.etc).sort()).toEqual(
      [
        'backbone.yaml',
        'ca/ca.crt',
        'ca/ca.key',
        'ca/server-central.test.crt',
        'ca/server-central.test.key',
        'central.yaml',
        'dashboard.pw',
        'dashboard.yaml',
        'notify-smtp.password',
        'notify.yaml',
      ].sort(),
    );

    const b = await cli('backup', '--config', central, '--out', archive);
    for (const role of [
      'central_state',
      'credentials',
      'users',
      'dashboard_config',
      'notify_config',
      'secret',
      'ca',
    ])
      expect(b.stdout).toContain(role);
    expect(b.stdout).toContain(join(etc, 'ca', 'ca.key'));
    expect(b.stdout).toContain(join(etc, 'notify-smtp.password'));
    expect(b.stdout).toContain('mode 0600');
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    const listing = (await run('tar', ['-tzf', archive])).stdout;
    expect(listing).toMatch(/ca-ca\.key/);
    expect(listing).toMatch(/users-users\.yaml/);

    // Restoring over a live central is refused.
    await expect(cli('restore', '--from', archive)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('add --force'),
    });

    db.close();
    rmSync(join(dir, 'etc'), { recursive: true });
    rmSync(join(dir, 'var'), { recursive: true });
    const r = await cli('restore', '--from', archive);
    expect(r.stdout).toContain('restored the backup');
    const after = snapshot();
    expect(after.etc['dashboard.pw']!.mode).toBe(0o640);
    expect(after).toEqual({
      ...before,
      etc: { ...before.etc, 'dashboard.pw': { ...before.etc['dashboard.pw']!, mode: 0o640 } },
    });
    expect(before.baseline).toMatchObject({ recorded_by: 'insinyur' });
    expect(before.incidents).toHaveLength(1);
    expect(before.enrollments).toHaveLength(1);
    expect(before.queued).toEqual([{ dedup: 'd1', text: 'GANGGUAN' }]);
    // The secrets are back 0600, as they were.
    for (const f of ['ca/ca.key', 'ca/server-central.test.key', 'notify-smtp.password'])
      expect(after.etc[f]!.mode, f).toBe(0o600);
    for (const f of ['users.yaml', 'credentials.yaml']) expect(after.lib[f]!.mode, f).toBe(0o600);
    // The restored central starts from its config (which reads notify.yaml and its password).
    await cli('check-config', central);

    // A damaged archive is named as such, and nothing is written.
    const bytes = readFileSync(archive);
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0xff;
    writeFileSync(join(dir, 'damaged.tar.gz'), bytes);
    await expect(cli('restore', '--from', join(dir, 'damaged.tar.gz'), '--force')).rejects.toMatchObject({
      code: 2,
    });
    writeFileSync(join(dir, 'not-a-backup.tar.gz'), 'hello');
    await expect(cli('restore', '--from', join(dir, 'not-a-backup.tar.gz'))).rejects.toMatchObject({
      stderr: expect.stringContaining('not a readable backup'),
    });
  });

  it('refuses to leave the dashboard users out silently', async () => {
    // A central.yaml elsewhere, with no dashboard.yaml beside it.
    const alone = join(dir, 'alone');
    mkdirSync(alone, { recursive: true });
    for (const f of ['central.yaml', 'backbone.yaml', 'notify.yaml', 'notify-smtp.password'])
      cpSync(join(etc, f), join(alone, f));
    writeFileSync(
      join(alone, 'central.yaml'),
      readFileSync(central, 'utf8')
        .replace(/^ {2}tls: .*\n/m, '')
        .replaceAll('../../var', join(dir, 'var')),
    );
    const out = join(dir, 'backups', 'alone.tar.gz');
    await expect(cli('backup', '--config', join(alone, 'central.yaml'), '--out', out)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(
        /dashboard's users were not found: no .*alone\/dashboard\.yaml.*--dashboard FILE.*--users FILE.*--without-users/s,
      ),
    });
    // Named: the users file of that dashboard.yaml is in the backup.
    const named = await cli(
      'backup',
      '--config',
      join(alone, 'central.yaml'),
      '--dashboard',
      join(etc, 'dashboard.yaml'),
      '--out',
      out,
    );
    expect(named.stdout).toContain(join(lib, 'users.yaml'));
    // Left out on purpose, and said so; no CA found is said too.
    const without = await cli(
      'backup',
      '--config',
      join(alone, 'central.yaml'),
      '--without-users',
      '--out',
      out,
    );
    expect(without.stdout).not.toContain('users.yaml');
    expect(without.stdout).toContain('dashboard users left out (--without-users)');
    expect(without.stdout).toMatch(/no private CA .*--ca-dir DIR/);
    // A dashboard.yaml whose users file is gone is refused, naming it.
    rmSync(join(lib, 'users.yaml'));
    await expect(cli('backup', '--config', central, '--out', out)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining(`users: ${join(lib, 'users.yaml')} does not exist`),
    });
  });
});
