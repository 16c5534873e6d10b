// Backup → wipe → restore gives the same central state, through the real command line.

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CentralDb } from './backbone/central-db.js';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '..', 'dist', 'cli.js');
const cli = (...args: string[]) => run(process.execPath, [CLI, ...args]);

describe('backup and restore of the central state', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pantau-backup-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const etc = join(dir, 'etc');
  const lib = join(dir, 'lib');
  const archive = join(dir, 'backups', 'central.tar.gz');

  const snapshot = () => {
    const db = new CentralDb(join(lib, 'central-state.db'));
    try {
      return {
        incidents: db.incidents({ limit: 100 }),
        notes: db.incidentNotes(db.incidents({ limit: 100 })),
        baseline: db.baseline('scc-bukit'),
        files: Object.fromEntries(
          readdirSync(etc).map((f) => [f, readFileSync(join(etc, f), 'utf8')] as const),
        ),
        modes: Object.fromEntries(
          readdirSync(etc).map((f) => [f, statSync(join(etc, f)).mode & 0o777] as const),
        ),
      };
    } finally {
      db.close();
    }
  };

  it('keeps accounts, users, backbone, baselines, incidents and notes; refuses to overwrite; detects damage', async () => {
    await run('mkdir', ['-p', etc, lib]);
    writeFileSync(
      join(etc, 'central.yaml'),
      `mqtt: { host: 127.0.0.1, port: 0 }
credentials_file: credentials.yaml
store: { kind: sqlite, path: ../lib/central.db }
backbone: { file: backbone.yaml, state_path: ../lib/central-state.db }
`,
    );
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
      join(etc, 'users.yaml'),
      'users:\n  - { username: admin, role: admin, hash: "scrypt$x" }\n',
      {
        mode: 0o640,
      },
    );
    await cli(
      'credentials',
      'add-gateway',
      '--file',
      join(etc, 'credentials.yaml'),
      '--site',
      'bukit',
      '--password=gw-secret-1',
    );
    const db = new CentralDb(join(lib, 'central-state.db'));
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
    // Left open, as while the broker runs: the online backup still sees what is committed.
    const before = snapshot();

    const b = await cli(
      'backup',
      '--config',
      join(etc, 'central.yaml'),
      '--users',
      join(etc, 'users.yaml'),
      '--out',
      archive,
    );
    expect(b.stdout).toContain('central_state');
    expect(b.stdout).toContain('credentials');

    // Restoring over a live central is refused.
    await expect(cli('restore', '--from', archive)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('add --force'),
    });

    db.close();
    rmSync(etc, { recursive: true });
    rmSync(lib, { recursive: true });
    const r = await cli('restore', '--from', archive);
    expect(r.stdout).toContain('restored the backup');
    expect(snapshot()).toEqual(before);
    expect(before.baseline).toMatchObject({ recorded_by: 'insinyur' });
    expect(before.incidents).toHaveLength(1);
    // The restored central starts from its config.
    await cli('check-config', join(etc, 'central.yaml'));

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
});
