// Dashboard users: scrypt hashes only, file replaced atomically with mode 0600. Every change is a
// read-modify-write of the whole file; the hash is computed first, so the read-modify-write itself is
// synchronous and two changes in one process cannot interleave.

import { existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { duplicateIds, hashSecret, loadConfig, verifySecret } from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';
import { stringify } from 'yaml';

export const ROLES = ['admin', 'engineer', 'operator', 'leadership', 'installer', 'hr'] as const;
export type Role = (typeof ROLES)[number];

export const USERNAME_PATTERN = '^[A-Za-z0-9._-]{1,64}$';
export const SITE_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$';
export const MIN_PASSWORD = 10;

const UsersSchema = Type.Object(
  {
    users: Type.Array(
      Type.Object(
        {
          username: Type.String({ pattern: USERNAME_PATTERN }),
          role: Type.Union(ROLES.map((r) => Type.Literal(r)) as [ReturnType<typeof Type.Literal<Role>>]),
          password_hash: Type.String({ pattern: '^scrypt\\$' }),
          /** A disabled user cannot log in; the entry stays so the audit log's names keep meaning. */
          disabled: Type.Optional(Type.Boolean()),
          /** For installers: the only sites they see. An installer without sites sees none. */
          sites: Type.Optional(Type.Array(Type.String({ pattern: SITE_PATTERN }), { maxItems: 500 })),
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
/** What the API and the CLI show of a user: never the hash. */
export type PublicUser = Omit<User, 'password_hash'> & { disabled: boolean; sites: string[] };

/** A refused change: the status the API answers with and its reason, "English / Indonesia". */
export class UserError extends Error {
  /** The reason in each language, for the page to show in the chosen one. */
  readonly reason: { id: string; en: string };
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
    const [en = message, id = message] = message.split(' / ');
    this.reason = { id, en };
  }
}

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

export function publicUser(u: User): PublicUser {
  return { username: u.username, role: u.role, disabled: u.disabled === true, sites: u.sites ?? [] };
}

/** Why a password is refused, or null when it is acceptable. */
export function passwordIssue(username: string, password: string): string | null {
  if (password.length < MIN_PASSWORD)
    return `password must be at least ${MIN_PASSWORD} characters / kata sandi minimal ${MIN_PASSWORD} karakter`;
  if (password.toLowerCase() === username.toLowerCase())
    return 'password must not be the username / kata sandi tidak boleh sama dengan nama pengguna';
  return null;
}

function checkPassword(username: string, password: string): void {
  const issue = passwordIssue(username, password);
  if (issue) throw new UserError(400, issue);
}

function checkSites(sites: string[]): string[] {
  const re = new RegExp(SITE_PATTERN);
  for (const s of sites)
    if (!re.test(s))
      throw new UserError(
        400,
        `sites: "${s}" is not a site id (lowercase letters, digits, "-") / "${s}" bukan id lokasi`,
      );
  return [...new Set(sites)];
}

function find(u: UsersFile, username: string): User {
  const user = u.users.find((x) => x.username === username);
  if (!user) throw new UserError(404, `no user "${username}" / pengguna "${username}" tidak ada`);
  return user;
}

const activeAdmins = (u: UsersFile) => u.users.filter((x) => x.role === 'admin' && !x.disabled).length;

const WHAT = {
  remove: { en: 'remove', id: 'menghapus' },
  demote: { en: 'demote', id: 'menurunkan peran' },
  disable: { en: 'disable', id: 'menonaktifkan' },
} as const;

/**
 * Refuses a change that takes away an admin when `by` (the admin making it) is that admin, or when
 * it would leave no admin able to log in.
 */
function guardAdmin(u: UsersFile, user: User, what: keyof typeof WHAT, by: string | undefined): void {
  const w = WHAT[what];
  if (by !== undefined && by === user.username)
    throw new UserError(409, `you cannot ${w.en} yourself / Anda tidak bisa ${w.id} akun sendiri`);
  if (user.role === 'admin' && !user.disabled && activeAdmins(u) <= 1)
    throw new UserError(409, `cannot ${w.en} the last admin / tidak bisa ${w.id} admin terakhir`);
}

function validRole(role: string): Role {
  if (!ROLES.includes(role as Role))
    throw new UserError(400, `role must be one of ${ROLES.join(', ')} / peran harus salah satu dari itu`);
  return role as Role;
}

export interface NewUser {
  username: string;
  role: Role;
  password: string;
  sites?: string[];
}

export async function addUser(file: string, n: NewUser): Promise<PublicUser> {
  if (!new RegExp(USERNAME_PATTERN).test(n.username))
    throw new UserError(
      400,
      'username: letters, digits, ".", "_" or "-", at most 64 / nama pengguna tidak sah',
    );
  validRole(n.role);
  checkPassword(n.username, n.password);
  const sites = checkSites(n.sites ?? []);
  const hash = await hashSecret(n.password);
  const u = loadUsers(file);
  if (u.users.some((x) => x.username === n.username))
    throw new UserError(409, `user "${n.username}" already exists / pengguna "${n.username}" sudah ada`);
  const user: User = { username: n.username, role: n.role, password_hash: hash };
  if (sites.length > 0) user.sites = sites;
  u.users.push(user);
  save(file, u);
  return publicUser(user);
}

export async function setPassword(file: string, username: string, password: string): Promise<void> {
  checkPassword(username, password);
  const hash = await hashSecret(password);
  const u = loadUsers(file);
  find(u, username).password_hash = hash;
  save(file, u);
}

/** Changes a role; `by` is the admin asking (who cannot demote themselves). */
export function setRole(file: string, username: string, role: Role, by?: string): PublicUser {
  validRole(role);
  const u = loadUsers(file);
  const user = find(u, username);
  if (user.role === role) return publicUser(user);
  if (user.role === 'admin') guardAdmin(u, user, 'demote', by);
  user.role = role;
  save(file, u);
  return publicUser(user);
}

export function setDisabled(file: string, username: string, disabled: boolean, by?: string): PublicUser {
  const u = loadUsers(file);
  const user = find(u, username);
  if ((user.disabled === true) === disabled) return publicUser(user);
  if (disabled) {
    guardAdmin(u, user, 'disable', by);
    user.disabled = true;
  } else delete user.disabled;
  save(file, u);
  return publicUser(user);
}

export function setSites(file: string, username: string, sites: string[]): PublicUser {
  const clean = checkSites(sites);
  const u = loadUsers(file);
  const user = find(u, username);
  if (clean.length > 0) user.sites = clean;
  else delete user.sites;
  save(file, u);
  return publicUser(user);
}

export function removeUser(file: string, username: string, by?: string): void {
  const u = loadUsers(file);
  const user = find(u, username);
  guardAdmin(u, user, 'remove', by);
  u.users = u.users.filter((x) => x !== user);
  save(file, u);
}

/** The user when the password is right and the account is enabled; otherwise null. */
export async function verifyUser(file: string, username: string, password: string): Promise<User | null> {
  return verifyIn(loadUsers(file).users, username, password);
}

async function verifyIn(users: User[], username: string, password: string): Promise<User | null> {
  const user = users.find((x) => x.username === username);
  // Hash anyway when the user is unknown so timing does not reveal which usernames exist.
  const hash =
    user?.password_hash ??
    'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const ok = await verifySecret(password, hash);
  return ok && user && !user.disabled ? user : null;
}

/**
 * The users file as the running dashboard sees it: read again whenever it changed on disk (a change
 * made by the CLI counts at once, like one made in the page). A file broken by a hand edit keeps the
 * last good reading, and the error is reported once.
 */
export class UserDirectory {
  private users: User[] = [];
  private stamp = '';

  constructor(
    readonly file: string,
    private readonly onError: (e: Error) => void = () => {},
  ) {
    this.refresh();
  }

  private refresh(): void {
    let stamp = 'absent';
    try {
      const st = statSync(this.file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {}
    if (stamp === this.stamp) return;
    try {
      this.users = loadUsers(this.file).users;
      this.stamp = stamp;
    } catch (e) {
      // Not remembered as read: the next call tries again, and reports again only on a new stamp.
      if (this.stamp !== `bad:${stamp}`) this.onError(e as Error);
      this.stamp = `bad:${stamp}`;
    }
  }

  get(username: string): User | undefined {
    this.refresh();
    return this.users.find((u) => u.username === username);
  }

  list(): User[] {
    this.refresh();
    return this.users;
  }

  verify(username: string, password: string): Promise<User | null> {
    this.refresh();
    return verifyIn(this.users, username, password);
  }
}
