// Users in the API: admins list, add, change, disable and remove them; everyone changes their own
// password. Changes are written to the users file and count at once: a removed or disabled user's
// sessions end now, a new role or site list applies to their open sessions from the next request.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { Audit } from './audit.js';
import type { LoginBrake, Sessions } from './sessions.js';
import {
  addUser,
  publicUser,
  ROLES,
  type Role,
  removeUser,
  SITE_PATTERN,
  setDisabled,
  setPassword,
  setRole,
  setSites,
  USERNAME_PATTERN,
  type UserDirectory,
  UserError,
} from './users.js';

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));
const Sites = Type.Array(Type.String({ pattern: SITE_PATTERN }), { maxItems: 500 });
const Password = Type.String({ minLength: 1, maxLength: 256 });
const Params = Type.Object({ username: Type.String({ pattern: USERNAME_PATTERN }) });
const NewUserBody = Type.Object(
  {
    username: Type.String({ pattern: USERNAME_PATTERN }),
    role: RoleSchema,
    password: Password,
    sites: Type.Optional(Sites),
  },
  { additionalProperties: false },
);
const ChangeBody = Type.Object(
  { role: Type.Optional(RoleSchema), disabled: Type.Optional(Type.Boolean()), sites: Type.Optional(Sites) },
  { additionalProperties: false, minProperties: 1 },
);
const ResetBody = Type.Object({ password: Password }, { additionalProperties: false });
const OwnPasswordBody = Type.Object(
  { old_password: Password, new_password: Password },
  { additionalProperties: false },
);

export function registerUserRoutes(
  app: App,
  o: { directory: UserDirectory; sessions: Sessions; brake: LoginBrake; audit: Audit },
): void {
  const { directory, sessions, brake, audit } = o;
  const file = directory.file;

  /** Runs a change; a refused one answers with its status and reason. */
  const attempt = async <T>(reply: FastifyReply, f: () => T | Promise<T>): Promise<T | FastifyReply> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof UserError)
        return reply.code(e.status).send({
          error: e.status === 404 ? 'not_found' : e.status === 409 ? 'conflict' : 'bad_request',
          message: e.message,
          reason: e.reason,
        });
      // A users file the service may read but not replace (e.g. in /etc under ProtectSystem=strict).
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
        const en = `cannot write ${file} (${code}): the dashboard needs write access to the users file and its folder (docs/security.md)`;
        const id = `${file} tidak bisa ditulis (${code}): dashboard perlu izin tulis pada file pengguna dan foldernya`;
        return reply
          .code(500)
          .send({ error: 'users_file_not_writable', message: `${en} / ${id}`, reason: { id, en } });
      }
      throw e;
    }
  };
  /** Makes open sessions follow the file now, not only on their next request. */
  const follow = (username: string) => {
    const u = directory.get(username);
    if (!u || u.disabled) sessions.endFor(username);
    else sessions.update(username, u.role, u.sites ?? []);
  };

  app.get('/api/users', async () => directory.list().map(publicUser));

  app.post<{ Body: Static<typeof NewUserBody> }>(
    '/api/users',
    { schema: { body: NewUserBody } },
    async (req, reply) =>
      attempt(reply, async () => {
        const u = await addUser(file, { ...req.body, role: req.body.role as Role });
        audit(req, 'user_added', u.username, { role: u.role, sites: u.sites });
        return reply.code(201).send(u);
      }),
  );

  app.patch<{ Params: Static<typeof Params>; Body: Static<typeof ChangeBody> }>(
    '/api/users/:username',
    { schema: { params: Params, body: ChangeBody } },
    async (req, reply) =>
      attempt(reply, () => {
        const { username } = req.params;
        const by = req.session!.username;
        const before = directory.get(username);
        if (!before) throw new UserError(404, `no user "${username}" / pengguna "${username}" tidak ada`);
        const { role, disabled, sites } = req.body;
        let now = publicUser(before);
        // Each change on its own line in the audit log, as it is written: a refused one stops the rest.
        if (sites !== undefined && sites.join(',') !== now.sites.join(',')) {
          now = setSites(file, username, sites);
          audit(req, 'user_sites', username, { from: publicUser(before).sites, to: now.sites });
        }
        if (role !== undefined && role !== now.role) {
          const from = now.role;
          now = setRole(file, username, role as Role, by);
          audit(req, 'user_role', username, { from, to: now.role });
        }
        if (disabled !== undefined && disabled !== now.disabled) {
          now = setDisabled(file, username, disabled, by);
          audit(req, disabled ? 'user_disabled' : 'user_enabled', username);
        }
        follow(username);
        return now;
      }),
  );

  app.post<{ Params: Static<typeof Params>; Body: Static<typeof ResetBody> }>(
    '/api/users/:username/password',
    { schema: { params: Params, body: ResetBody } },
    async (req, reply) =>
      attempt(reply, async () => {
        const { username } = req.params;
        await setPassword(file, username, req.body.password);
        // Whoever held the old password is out; an admin resetting their own keeps this session.
        sessions.endFor(username, req.session!.id);
        audit(req, 'user_password_reset', username);
        return { ok: true };
      }),
  );

  app.delete<{ Params: Static<typeof Params> }>(
    '/api/users/:username',
    { schema: { params: Params } },
    async (req, reply) =>
      attempt(reply, () => {
        const { username } = req.params;
        const role = directory.get(username)?.role ?? null;
        removeUser(file, username, req.session!.username);
        sessions.endFor(username);
        audit(req, 'user_removed', username, { role });
        return { ok: true };
      }),
  );

  app.post<{ Body: Static<typeof OwnPasswordBody> }>(
    '/api/me/password',
    { schema: { body: OwnPasswordBody } },
    async (req, reply) =>
      attempt(reply, async () => {
        const s = req.session!;
        // The same brake as the login form: a left-open session must not become a password oracle.
        const wait = brake.blockedFor(s.username, req.ip);
        if (wait > 0) {
          reply.header('retry-after', String(wait));
          return reply.code(429).send({
            error: 'too_many_attempts',
            message: `too many wrong passwords; try again in ${wait} s / terlalu banyak salah, coba lagi dalam ${wait} detik`,
          });
        }
        if (!(await directory.verify(s.username, req.body.old_password))) {
          brake.fail(s.username, req.ip);
          audit(req, 'password_change_failed', s.username, { reason: 'wrong old password' });
          return reply.code(403).send({
            error: 'forbidden',
            message: 'the current password is wrong / kata sandi lama salah',
            reason: { id: 'Kata sandi lama salah', en: 'The current password is wrong' },
          });
        }
        brake.succeed(s.username, req.ip);
        await setPassword(file, s.username, req.body.new_password);
        sessions.endFor(s.username, s.id);
        audit(req, 'password_changed', s.username);
        return { ok: true };
      }),
  );
}
