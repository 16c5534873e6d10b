// Dashboard users: scrypt hashes only, file replaced atomically with mode 0600.

import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { duplicateIds, hashSecret, loadConfig, verifySecret } from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';
import { stringify } from 'yaml';

export const ROLES = ['admin', 'engineer', 'operator', 'leadership', 'installer', 'hr'] as const;
export type Role = (typeof ROLES)[number];

const UsersSchema = Type.Object(
  {
    users: Type.Array(
      Type.Object(
        {
          username: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }),
          role: Type.Union(ROLES.map((r) => Type.Literal(r)) as [ReturnType<typeof Type.Literal<Role>>]),
          password_hash: Type.String({ pattern: '^scrypt\\$' }),
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
  },
  { additionalProperties: false },
);
export type UsersFile = Static<typeof UsersSchema>;
export type User = UsersFile['users'][number];

export function loadUsers(file: string): UsersFile {
  if (!existsSync(file)) return { users: [] };
  return loadConfig(file, UsersSchema, {
    check: (u) =>
      duplicateIds(
        u.users.map((x) => ({ id: x.username })),
        ['users'],
        'username',
      ),
  });
}

function save(file: string, u: UsersFile): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(
    tmp,
    `# Pantau dashboard users: scrypt hashes only. Edit with "pantau-dashboard users".\n${stringify(u)}`,
    { mode: 0o600 },
  );
  renameSync(tmp, file);
}

export async function addUser(file: string, username: string, role: Role, password: string): Promise<void> {
  const u = loadUsers(file);
  if (u.users.some((x) => x.username === username)) throw new Error(`user "${username}" already exists`);
  if (password.length < 8) throw new Error('password must be at least 8 characters');
  u.users.push({ username, role, password_hash: await hashSecret(password) });
  save(file, u);
}

export async function setPassword(file: string, username: string, password: string): Promise<void> {
  const u = loadUsers(file);
  const user = u.users.find((x) => x.username === username);
  if (!user) throw new Error(`no user "${username}"`);
  if (password.length < 8) throw new Error('password must be at least 8 characters');
  user.password_hash = await hashSecret(password);
  save(file, u);
}

export function removeUser(file: string, username: string): boolean {
  const u = loadUsers(file);
  const n = u.users.length;
  u.users = u.users.filter((x) => x.username !== username);
  if (u.users.length === n) return false;
  save(file, u);
  return true;
}

export async function verifyUser(file: string, username: string, password: string): Promise<User | null> {
  const user = loadUsers(file).users.find((x) => x.username === username);
  // Hash anyway when the user is unknown so timing does not reveal which usernames exist.
  const hash =
    user?.password_hash ??
    'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const ok = await verifySecret(password, hash);
  return ok && user ? user : null;
}
