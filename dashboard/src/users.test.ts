import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/procs.js';
import {
  addUser,
  loadUsers,
  passwordIssue,
  removeUser,
  setDisabled,
  setPassword,
  setRole,
  setSites,
  UserDirectory,
  UserError,
  verifyUser,
} from './users.js';

describe('users file', () => {
  const dir = tempDir('users');
  afterAll(() => dir.remove());
  let n = 0;
  const fresh = () => join(dir.path, `users-${n++}.yaml`);
  /** The refusal's status and message, or null when it went through. */
  const refused = async (f: () => unknown): Promise<[number, string] | null> => {
    try {
      await f();
      return null;
    } catch (e) {
      if (e instanceof UserError) return [e.status, e.message];
      throw e;
    }
  };

  it('keeps scrypt hashes only, in a 0600 file replaced whole', async () => {
    const f = fresh();
    await addUser(f, { username: 'op', role: 'operator', password: 'operator-pass' });
    const text = readFileSync(f, 'utf8');
    expect(text).not.toContain('operator-pass');
    expect(loadUsers(f).users[0]).toMatchObject({ username: 'op', role: 'operator' });
    expect(loadUsers(f).users[0]!.password_hash).toMatch(/^scrypt\$/);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(
      await refused(() => addUser(f, { username: 'op', role: 'operator', password: 'operator-pass' })),
    ).toEqual([409, expect.stringMatching(/already exists/)]);
    // The old hash format still verifies: hashes written before this change keep working.
    expect(await verifyUser(f, 'op', 'operator-pass')).toMatchObject({ username: 'op' });
    expect(await verifyUser(f, 'op', 'wrong-password')).toBeNull();
  });

  it('password policy: at least 10 characters, not the username', async () => {
    expect(passwordIssue('budi', 'short-1')).toMatch(/at least 10.*minimal 10/);
    expect(passwordIssue('budi.santoso', 'Budi.Santoso')).toMatch(/not be the username/);
    expect(passwordIssue('budi', 'cukup-panjang')).toBeNull();
    const f = fresh();
    expect(
      await refused(() => addUser(f, { username: 'budi', role: 'operator', password: 'pendek' })),
    ).toEqual([400, expect.stringMatching(/at least 10/)]);
    await addUser(f, { username: 'budi', role: 'operator', password: 'cukup-panjang' });
    expect(await refused(() => setPassword(f, 'budi', 'budi'))).toEqual([400, expect.any(String)]);
    await setPassword(f, 'budi', 'lebih-panjang-lagi');
    expect(await verifyUser(f, 'budi', 'cukup-panjang')).toBeNull();
    expect(await verifyUser(f, 'budi', 'lebih-panjang-lagi')).not.toBeNull();
  });

  it('changes roles and sites; a disabled user cannot log in until enabled', async () => {
    const f = fresh();
    await addUser(f, { username: 'admin', role: 'admin', password: 'admin-pass-1' });
    await addUser(f, {
      username: 'andi',
      role: 'installer',
      password: 'andi-pass-12',
      sites: ['rsud', 'rsud', 'scc'],
    });
    expect(loadUsers(f).users[1]!.sites).toEqual(['rsud', 'scc']);
    expect(setSites(f, 'andi', ['bukit']).sites).toEqual(['bukit']);
    expect(await refused(() => setSites(f, 'andi', ['Not A Site']))).toEqual([
      400,
      expect.stringMatching(/sites/),
    ]);
    expect(setSites(f, 'andi', []).sites).toEqual([]);
    expect(loadUsers(f).users[1]).not.toHaveProperty('sites');
    expect(setRole(f, 'andi', 'engineer', 'admin').role).toBe('engineer');
    expect(setDisabled(f, 'andi', true, 'admin').disabled).toBe(true);
    expect(await verifyUser(f, 'andi', 'andi-pass-12')).toBeNull();
    expect(setDisabled(f, 'andi', false, 'admin').disabled).toBe(false);
    expect(await verifyUser(f, 'andi', 'andi-pass-12')).not.toBeNull();
    expect(await refused(() => setRole(f, 'nobody', 'hr'))).toEqual([404, expect.stringMatching(/no user/)]);
  });

  it('never leaves no admin, and an admin cannot remove, demote or disable themselves', async () => {
    const f = fresh();
    await addUser(f, { username: 'admin', role: 'admin', password: 'admin-pass-1' });
    await addUser(f, { username: 'kedua', role: 'admin', password: 'kedua-pass-1' });
    for (const change of [
      () => removeUser(f, 'admin', 'admin'),
      () => setRole(f, 'admin', 'engineer', 'admin'),
      () => setDisabled(f, 'admin', true, 'admin'),
    ])
      expect(await refused(change)).toEqual([409, expect.stringMatching(/yourself.*sendiri/)]);
    // Another admin may; then the one left is the last.
    setDisabled(f, 'kedua', true, 'admin');
    expect(await refused(() => setRole(f, 'admin', 'engineer'))).toEqual([
      409,
      expect.stringMatching(/last admin/),
    ]);
    expect(await refused(() => removeUser(f, 'admin'))).toEqual([409, expect.stringMatching(/last admin/)]);
    expect(await refused(() => setDisabled(f, 'admin', true))).toEqual([
      409,
      expect.stringMatching(/last admin/),
    ]);
    // A disabled admin is no admin: removing it is fine.
    removeUser(f, 'kedua', 'admin');
    expect(loadUsers(f).users.map((u) => u.username)).toEqual(['admin']);
  });

  it('the running dashboard sees changes made on disk, and keeps the last good file when one is broken', async () => {
    const f = fresh();
    await addUser(f, { username: 'admin', role: 'admin', password: 'admin-pass-1' });
    const errors: string[] = [];
    const d = new UserDirectory(f, (e) => errors.push(e.message));
    expect(d.get('admin')?.role).toBe('admin');
    await addUser(f, { username: 'op', role: 'operator', password: 'operator-pass' });
    expect(d.get('op')?.role).toBe('operator');
    setRole(f, 'op', 'hr', 'admin');
    expect(d.get('op')?.role).toBe('hr');
    writeFileSync(f, 'users:\n  - username: op\n    role: wizard\n');
    expect(d.get('op')?.role).toBe('hr');
    d.get('op');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/role/);
    expect(await d.verify('op', 'operator-pass')).not.toBeNull();
  });
});
