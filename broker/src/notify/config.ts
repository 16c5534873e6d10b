// notify.yaml (named by central.yaml's `notify.file`): where messages go (channels), who gets
// which incidents (rules and roles), and when (settle time, minimum interval, reminders,
// maintenance windows, the daily digest). Secrets stay in their own files, read here once.

import { CONFIG_KINDS, fieldName, loadConfig, readSecretFile, type SemanticIssue } from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';

const Name = Type.String({ pattern: '^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$' });
const Names = Type.Array(Name, { minItems: 1 });
const HHMM = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' });
const Lang = Type.Union([Type.Literal('id'), Type.Literal('id+en')], { default: 'id' });
const Url = Type.String({ pattern: '^https?://' });

// One flat object with `type` rather than a union: Ajv reports every branch of a union, while one
// schema plus a semantic check names the one field that is wrong (as store/config.ts does).
const ChannelSchema = Type.Object(
  {
    type: Type.Union([
      Type.Literal('webhook'),
      Type.Literal('smtp'),
      Type.Literal('chat_gateway'),
      Type.Literal('telegram'),
    ]),
    /** webhook, chat_gateway: where to send; a chat gateway's may hold {{to}}. */
    url: Type.Optional(Url),
    /** webhook: the HMAC-SHA256 key the receiver checks X-Pantau-Signature with. */
    secret_file: Type.Optional(Type.String({ minLength: 1 })),
    /** smtp: the intranet relay. */
    host: Type.Optional(Type.String({ format: 'host' })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    from: Type.Optional(Type.String({ format: 'email' })),
    /** smtp: e-mail addresses; chat_gateway: phone numbers or group ids. Used when a rule names no roles. */
    to: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    /** smtp: upgrade with STARTTLS when offered (optional), always (required) or never (off). */
    starttls: Type.Optional(
      Type.Union([Type.Literal('off'), Type.Literal('optional'), Type.Literal('required')]),
    ),
    /** smtp: the relay's CA (a private CA on the intranet); the system's CAs otherwise. */
    ca_file: Type.Optional(Type.String({ minLength: 1 })),
    username: Type.Optional(Type.String({ minLength: 1 })),
    password_file: Type.Optional(Type.String({ minLength: 1 })),
    /** chat_gateway: the request; {{to}}, {{text}} and {{token}} are replaced. */
    method: Type.Optional(Type.Union([Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('GET')])),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    body: Type.Optional(Type.String()),
    content_type: Type.Optional(Type.String({ minLength: 1 })),
    /** chat_gateway, telegram: the API token. */
    token_file: Type.Optional(Type.String({ minLength: 1 })),
    /** telegram: the Bot API, or a local Bot API server. */
    api_url: Type.Optional(Url),
    chat_ids: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    /** Bahasa Indonesia only, or followed by English. */
    language: Lang,
    timeout_s: Type.Optional(Type.Number({ minimum: 1, maximum: 120 })),
  },
  { additionalProperties: false },
);

type ChannelInput = Static<typeof ChannelSchema>;

const FIELDS: Record<ChannelInput['type'], { needs: string[]; may: string[] }> = {
  webhook: { needs: ['url', 'secret_file'], may: [] },
  smtp: { needs: ['host', 'from'], may: ['port', 'to', 'starttls', 'ca_file', 'username', 'password_file'] },
  chat_gateway: { needs: ['url'], may: ['method', 'headers', 'body', 'content_type', 'token_file', 'to'] },
  telegram: { needs: ['token_file'], may: ['api_url', 'chat_ids'] },
};
const COMMON = ['type', 'language', 'timeout_s'];

function channelIssues(name: string, ch: ChannelInput): SemanticIssue[] {
  const at = ['channels', name];
  const f = FIELDS[ch.type];
  const issues: SemanticIssue[] = [];
  for (const k of f.needs)
    if ((ch as Record<string, unknown>)[k] === undefined)
      issues.push({ path: at, message: `type ${ch.type} needs ${k}` });
  for (const k of Object.keys(ch))
    if (!COMMON.includes(k) && !f.needs.includes(k) && !f.may.includes(k))
      issues.push({ path: [...at, k], message: `not used by type ${ch.type}` });
  if (ch.type === 'smtp')
    (ch.to ?? []).forEach((a, i) => {
      if (!EMAIL.test(a)) issues.push({ path: [...at, 'to', i], message: 'must be an e-mail address' });
    });
  if (ch.type === 'smtp' && ch.password_file && !ch.username)
    issues.push({ path: [...at, 'password_file'], message: 'needs username' });
  if (
    ch.type === 'chat_gateway' &&
    !(ch.body ?? DEFAULT_BODY).includes('{{text}}') &&
    !ch.url?.includes('{{text}}')
  )
    issues.push({ path: [...at, 'body'], message: 'must contain {{text}} (the message)' });
  return issues;
}

const EMAIL = /^[^@\s]+@[^@\s]+$/;
const DEFAULT_BODY = '{"to":"{{to}}","text":"{{text}}"}';

const Role = Type.Object(
  {
    email: Type.Array(Type.String({ format: 'email' }), { default: [] }),
    /** Phone numbers or group ids for the chat gateway. */
    chat: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    telegram: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  },
  { additionalProperties: false },
);

const Rule = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1 })),
    /** Every given criterion must hold; within one, any listed value does. Absent: any. */
    match: Type.Object(
      {
        severity: Type.Optional(
          Type.Array(Type.Union([Type.Literal('warning'), Type.Literal('critical')]), { minItems: 1 }),
        ),
        kind: Type.Optional(
          Type.Array(
            Type.Union([
              Type.Literal('link'),
              Type.Literal('site'),
              Type.Literal('device'),
              Type.Literal('weather'),
            ]),
            { minItems: 1 },
          ),
        ),
        priority: Type.Optional(
          Type.Array(Type.Union([Type.Literal('emergency'), Type.Literal('basic'), Type.Literal('normal')]), {
            minItems: 1,
          }),
        ),
        kecamatan: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
        agency: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
      },
      { additionalProperties: false, default: {} },
    ),
    channels: Names,
    /** Roles whose addresses receive it; without roles each channel's own `to` list does. */
    roles: Type.Array(Name, { default: [] }),
  },
  { additionalProperties: false },
);

const Window = Type.Object(
  {
    /** Sites and links (ids from backbone.yaml) whose incidents stay quiet. */
    sites: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    links: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** A one-off window, ISO 8601 with offset, e.g. 2026-12-05T08:00:00+08:00. */
    start: Type.Optional(Type.String({ format: 'date-time' })),
    end: Type.Optional(Type.String({ format: 'date-time' })),
    /** A weekly window in the backbone's time zone: days (mon..sun) and from–to. */
    weekly: Type.Optional(
      Type.Object(
        {
          days: Type.Array(
            Type.Union(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => Type.Literal(d))),
            { minItems: 1 },
          ),
          from: HHMM,
          to: HHMM,
        },
        { additionalProperties: false },
      ),
    ),
    note: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const NotifySchema = Type.Object(
  {
    channels: Type.Record(Name, ChannelSchema),
    roles: Type.Record(Name, Role, { default: {} }),
    rules: Type.Array(Rule, { minItems: 1 }),
    timing: Type.Object(
      {
        /** An incident must last this long before "opened" is sent; shorter blips send nothing. */
        settle_s: Type.Integer({ minimum: 0, maximum: 86400, default: 120 }),
        /** A cleared incident that comes back within this is the same trouble (flapping), not a new one. */
        clear_s: Type.Integer({ minimum: 0, maximum: 86400, default: 600 }),
        /** At least this long between two messages about the same cause (resolved excepted). */
        min_interval_s: Type.Integer({ minimum: 0, maximum: 86400, default: 900 }),
        /** Reminder for a critical incident no one acknowledged; 0: never. */
        repeat_s: Type.Integer({ minimum: 0, maximum: 604800, default: 3600 }),
      },
      { additionalProperties: false, default: {} },
    ),
    delivery: Type.Object(
      {
        retry_first_s: Type.Number({ minimum: 1, maximum: 3600, default: 30 }),
        retry_max_s: Type.Number({ minimum: 1, maximum: 86400, default: 1800 }),
        /** Undelivered messages older than this are given up with a log line. */
        give_up_days: Type.Number({ minimum: 0.01, maximum: 60, default: 3 }),
      },
      { additionalProperties: false, default: {} },
    ),
    maintenance: Type.Array(Window, { default: [] }),
    digest: Type.Optional(
      Type.Object(
        {
          /** Local time of day (backbone time zone) the digest of the last 24 h is sent. */
          time: HHMM,
          channels: Names,
          roles: Type.Array(Name, { default: [] }),
          /** A link with at least this many warning incidents in 24 h and no outage is listed. */
          min_incidents: Type.Integer({ minimum: 1, maximum: 1000, default: 3 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type NotifyFile = Static<typeof NotifySchema>;
export type RuleDef = Static<typeof Rule>;
export type WindowDef = Static<typeof Window>;
export type RoleDef = Static<typeof Role>;

type Lang = 'id' | 'id+en';

/** A channel with its defaults filled in and its secrets read. */
export type Channel =
  | { type: 'webhook'; language: Lang; timeout_s: number; url: string; secret: string }
  | {
      type: 'smtp';
      language: Lang;
      timeout_s: number;
      host: string;
      port: number;
      from: string;
      to: string[];
      starttls: 'off' | 'optional' | 'required';
      ca?: string;
      username?: string;
      password?: string;
    }
  | {
      type: 'chat_gateway';
      language: Lang;
      timeout_s: number;
      url: string;
      method: 'POST' | 'PUT' | 'GET';
      headers: Record<string, string>;
      body: string;
      content_type: string;
      token?: string;
      to: string[];
    }
  | {
      type: 'telegram';
      language: Lang;
      timeout_s: number;
      api_url: string;
      token: string;
      chat_ids: string[];
    };

export interface NotifyConfig extends Omit<NotifyFile, 'channels'> {
  channels: Record<string, Channel>;
}

const ADDRESS_FIELD = { smtp: 'email', chat_gateway: 'chat', telegram: 'telegram' } as const;

/** A channel a rule sends on must reach someone: its roles' addresses of that kind, or its own list. */
function reachIssues(
  c: NotifyFile,
  at: Array<string | number>,
  channels: string[],
  roles: string[],
): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  channels.forEach((name, j) => {
    const ch = c.channels[name];
    if (!ch) {
      issues.push({ path: [...at, 'channels', j], message: `no channel "${name}" in channels` });
      return;
    }
    if (ch.type === 'webhook') return;
    const field = ADDRESS_FIELD[ch.type];
    if (roles.length > 0) {
      if (!roles.some((r) => (c.roles[r]?.[field] ?? []).length > 0))
        issues.push({
          path: [...at, 'channels', j],
          message: `roles ${roles.join(', ')} have no ${field} addresses for ${ch.type} channel "${name}"`,
        });
    } else if (((ch.type === 'telegram' ? ch.chat_ids : ch.to) ?? []).length === 0)
      issues.push({
        path: [...at, 'channels', j],
        message: `channel "${name}" has no recipients of its own (${ch.type === 'telegram' ? 'chat_ids' : 'to'}) and no roles are given`,
      });
  });
  roles.forEach((ro, j) => {
    if (!c.roles[ro]) issues.push({ path: [...at, 'roles', j], message: `no role "${ro}" in roles` });
  });
  return issues;
}

function check(c: NotifyFile): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  c.rules.forEach((r, i) => {
    issues.push(...reachIssues(c, ['rules', i], r.channels, r.roles));
  });
  if (c.digest) issues.push(...reachIssues(c, ['digest'], c.digest.channels, c.digest.roles));
  for (const [name, ch] of Object.entries(c.channels)) issues.push(...channelIssues(name, ch));
  if (c.delivery.retry_max_s < c.delivery.retry_first_s)
    issues.push({ path: ['delivery', 'retry_max_s'], message: 'must not be less than retry_first_s' });
  c.maintenance.forEach((w, i) => {
    if (w.sites.length === 0 && w.links.length === 0)
      issues.push({ path: ['maintenance', i], message: 'names no sites and no links' });
    const oneOff = w.start !== undefined || w.end !== undefined;
    if (oneOff && (w.start === undefined || w.end === undefined))
      issues.push({
        path: ['maintenance', i, w.start ? 'end' : 'start'],
        message: 'start and end go together',
      });
    if (oneOff === (w.weekly !== undefined))
      issues.push({ path: ['maintenance', i], message: 'needs either start and end, or weekly (not both)' });
    if (w.start && w.end && Date.parse(w.end) <= Date.parse(w.start))
      issues.push({ path: ['maintenance', i, 'end'], message: 'must be after start' });
  });
  return issues;
}

/** Loads notify.yaml; relative secret paths resolve against its folder. */
export function loadNotifyConfig(file: string): NotifyConfig {
  const c = loadConfig(file, NotifySchema, { check, kind: CONFIG_KINDS.notify });
  const secret = (name: string, field: string, p: string) =>
    readSecretFile(file, fieldName(['channels', name, field]), p);
  const channels: Record<string, Channel> = {};
  for (const [name, ch] of Object.entries(c.channels)) {
    const base = { language: ch.language };
    if (ch.type === 'webhook')
      channels[name] = {
        ...base,
        type: 'webhook',
        timeout_s: ch.timeout_s ?? 10,
        url: ch.url!,
        secret: secret(name, 'secret_file', ch.secret_file!),
      };
    else if (ch.type === 'smtp')
      channels[name] = {
        ...base,
        type: 'smtp',
        timeout_s: ch.timeout_s ?? 20,
        host: ch.host!,
        port: ch.port ?? 25,
        from: ch.from!,
        to: ch.to ?? [],
        starttls: ch.starttls ?? 'optional',
        ...(ch.username ? { username: ch.username } : {}),
        ...(ch.password_file ? { password: secret(name, 'password_file', ch.password_file) } : {}),
        ...(ch.ca_file ? { ca: secret(name, 'ca_file', ch.ca_file) } : {}),
      };
    else if (ch.type === 'chat_gateway')
      channels[name] = {
        ...base,
        type: 'chat_gateway',
        timeout_s: ch.timeout_s ?? 15,
        url: ch.url!,
        method: ch.method ?? 'POST',
        headers: ch.headers ?? {},
        body: ch.body ?? DEFAULT_BODY,
        content_type: ch.content_type ?? 'application/json',
        to: ch.to ?? [],
        ...(ch.token_file ? { token: secret(name, 'token_file', ch.token_file) } : {}),
      };
    else
      channels[name] = {
        ...base,
        type: 'telegram',
        timeout_s: ch.timeout_s ?? 15,
        api_url: ch.api_url ?? 'https://api.telegram.org',
        chat_ids: ch.chat_ids ?? [],
        token: secret(name, 'token_file', ch.token_file!),
      };
  }
  return { ...c, channels };
}
