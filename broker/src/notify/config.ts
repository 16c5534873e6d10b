// notify.yaml (named by central.yaml's `notify.file`): where messages go (channels), who gets
// which incidents (rules and roles), and when (settle time, minimum interval, reminders,
// maintenance windows, the daily digest). Secrets stay in their own files, read here once.

import { fieldName, loadConfig, readSecretFile, type SemanticIssue } from '@pantau/config';
import { type Static, Type } from '@sinclair/typebox';

const Name = Type.String({ pattern: '^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$' });
const Names = Type.Array(Name, { minItems: 1 });
const HHMM = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' });
const Lang = Type.Union([Type.Literal('id'), Type.Literal('id+en')], { default: 'id' });
const Url = Type.String({ pattern: '^https?://' });

const Webhook = Type.Object(
  {
    type: Type.Literal('webhook'),
    url: Url,
    /** HMAC-SHA256 key: the receiver checks X-Pantau-Signature with it. */
    secret_file: Type.String({ minLength: 1 }),
    language: Lang,
    timeout_s: Type.Number({ minimum: 1, maximum: 120, default: 10 }),
  },
  { additionalProperties: false },
);

const Smtp = Type.Object(
  {
    type: Type.Literal('smtp'),
    host: Type.String({ format: 'host' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 25 }),
    from: Type.String({ format: 'email' }),
    /** Default recipients when a rule names no role with e-mail addresses. */
    to: Type.Array(Type.String({ format: 'email' }), { default: [] }),
    /** Upgrade with STARTTLS when the relay offers it; `required` refuses to send in clear. */
    starttls: Type.Union([Type.Literal('off'), Type.Literal('optional'), Type.Literal('required')], {
      default: 'optional',
    }),
    /** The relay's CA (a private CA on the intranet); the system's CAs otherwise. */
    ca_file: Type.Optional(Type.String({ minLength: 1 })),
    username: Type.Optional(Type.String({ minLength: 1 })),
    password_file: Type.Optional(Type.String({ minLength: 1 })),
    language: Lang,
    timeout_s: Type.Number({ minimum: 1, maximum: 120, default: 20 }),
  },
  { additionalProperties: false },
);

/** A WhatsApp (or SMS) gateway on the intranet or the internet: one HTTP request per recipient. */
const ChatGateway = Type.Object(
  {
    type: Type.Literal('chat_gateway'),
    url: Url,
    method: Type.Union([Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('GET')], { default: 'POST' }),
    /** Header values may hold {{token}}, read from token_file. */
    headers: Type.Record(Type.String(), Type.String(), { default: {} }),
    token_file: Type.Optional(Type.String({ minLength: 1 })),
    /** The request body; {{to}}, {{text}} and {{token}} are replaced (JSON-escaped when content is JSON). */
    body: Type.String({ default: '{"to":"{{to}}","text":"{{text}}"}' }),
    content_type: Type.String({ default: 'application/json' }),
    /** Default recipients (phone numbers or group ids) when a rule's roles give none. */
    to: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    language: Lang,
    timeout_s: Type.Number({ minimum: 1, maximum: 120, default: 15 }),
  },
  { additionalProperties: false },
);

const Telegram = Type.Object(
  {
    type: Type.Literal('telegram'),
    /** The Bot API, or a local Bot API server / proxy. */
    api_url: Type.String({ pattern: '^https?://', default: 'https://api.telegram.org' }),
    token_file: Type.String({ minLength: 1 }),
    chat_ids: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    language: Lang,
    timeout_s: Type.Number({ minimum: 1, maximum: 120, default: 15 }),
  },
  { additionalProperties: false },
);

const Channel = Type.Union([Webhook, Smtp, ChatGateway, Telegram]);

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
    channels: Type.Record(Name, Channel),
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
export type ChannelDef = Static<typeof Channel>;
export type RuleDef = Static<typeof Rule>;
export type WindowDef = Static<typeof Window>;
export type RoleDef = Static<typeof Role>;

/** A channel with its secrets read. */
export type Channel =
  | (Static<typeof Webhook> & { secret: string })
  | (Static<typeof Smtp> & { password?: string; ca?: string })
  | (Static<typeof ChatGateway> & { token?: string })
  | (Static<typeof Telegram> & { token: string });

export interface NotifyConfig extends Omit<NotifyFile, 'channels'> {
  channels: Record<string, Channel>;
}

function check(c: NotifyFile): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  c.rules.forEach((r, i) => {
    r.channels.forEach((ch, j) => {
      if (!c.channels[ch])
        issues.push({ path: ['rules', i, 'channels', j], message: `no channel "${ch}" in channels` });
    });
    r.roles.forEach((ro, j) => {
      if (!c.roles[ro]) issues.push({ path: ['rules', i, 'roles', j], message: `no role "${ro}" in roles` });
    });
  });
  c.digest?.channels.forEach((ch, j) => {
    if (!c.channels[ch])
      issues.push({ path: ['digest', 'channels', j], message: `no channel "${ch}" in channels` });
  });
  c.digest?.roles.forEach((ro, j) => {
    if (!c.roles[ro]) issues.push({ path: ['digest', 'roles', j], message: `no role "${ro}" in roles` });
  });
  for (const [name, ch] of Object.entries(c.channels)) {
    if (ch.type === 'smtp' && ch.password_file && !ch.username)
      issues.push({ path: ['channels', name, 'username'], message: 'password_file needs a username' });
    if (ch.type === 'chat_gateway' && !ch.body.includes('{{text}}') && !ch.url.includes('{{text}}'))
      issues.push({ path: ['channels', name, 'body'], message: 'must contain {{text}} (the message)' });
  }
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
  const c = loadConfig(file, NotifySchema, { check });
  const secret = (name: string, field: string, p: string) =>
    readSecretFile(file, fieldName(['channels', name, field]), p);
  const channels: Record<string, Channel> = {};
  for (const [name, ch] of Object.entries(c.channels)) {
    if (ch.type === 'webhook')
      channels[name] = { ...ch, secret: secret(name, 'secret_file', ch.secret_file) };
    else if (ch.type === 'smtp')
      channels[name] = {
        ...ch,
        ...(ch.password_file ? { password: secret(name, 'password_file', ch.password_file) } : {}),
        ...(ch.ca_file ? { ca: secret(name, 'ca_file', ch.ca_file) } : {}),
      };
    else if (ch.type === 'chat_gateway')
      channels[name] = {
        ...ch,
        ...(ch.token_file ? { token: secret(name, 'token_file', ch.token_file) } : {}),
      };
    else channels[name] = { ...ch, token: secret(name, 'token_file', ch.token_file) };
  }
  return { ...c, channels };
}
