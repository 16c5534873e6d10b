// Incidents in the API: the list with who acknowledged what and the notes on each, acknowledging and
// writing notes (operators and engineers, audited), and uptime reports per link, site, kecamatan and
// agency for a chosen period, as JSON or CSV.

import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Backbone,
  type CentralDb,
  type IncidentNote,
  type IncidentRecord,
  uptimeCsv,
  uptimeReport,
} from '@pantau/broker/backbone';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { Audit } from './audit.js';
import type { Role } from './users.js';

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

const IncidentsQuery = Type.Object(
  {
    open: Type.Optional(Type.Boolean()),
    since: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  },
  { additionalProperties: false },
);
const NoteBody = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: 200 }),
    opened_at: Type.Integer({ minimum: 0 }),
    /** Required for a note; optional with an acknowledgement. */
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { additionalProperties: false },
);
const UptimeQuery = Type.Object(
  {
    from: Type.Integer({ minimum: 0 }),
    to: Type.Optional(Type.Integer({ minimum: 0 })),
    group: Type.Union(
      (['link', 'site', 'kecamatan', 'agency'] as const).map((g) => Type.Literal(g)),
      { default: 'site' },
    ),
    format: Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json' }),
  },
  { additionalProperties: false },
);

/** Roles that may acknowledge an incident or write on it. */
const RESPONDERS: Role[] = ['admin', 'engineer', 'operator'];
/** A report longer than this is refused: the incidents table is read whole for the period. */
const MAX_REPORT_MS = 400 * 86_400_000;

export interface IncidentView extends IncidentRecord {
  acknowledged: { by: string; at: number } | null;
  notes: IncidentNote[];
}

export function registerIncidentRoutes(
  app: App,
  o: { bb: Backbone | null; db: CentralDb | null; audit: Audit },
): void {
  const { bb, db, audit } = o;
  const noBackbone = { error: 'not_found', message: 'no backbone configured / backbone belum diatur' };

  const withNotes = (list: IncidentRecord[]): IncidentView[] => {
    const notes = db!.incidentNotes(list);
    return list.map((i) => {
      const mine = notes.get(`${i.key}@${i.opened_at}`) ?? [];
      const ack = mine.find((n) => n.kind === 'ack');
      return { ...i, acknowledged: ack ? { by: ack.username, at: ack.at } : null, notes: mine };
    });
  };

  app.get<{ Querystring: Static<typeof IncidentsQuery> }>(
    '/api/incidents',
    { schema: { querystring: IncidentsQuery } },
    async (req, reply) => {
      if (!db) return reply.code(404).send(noBackbone);
      if (req.query.open) return withNotes(db.openIncidents());
      return withNotes(
        db.incidents({
          limit: req.query.limit,
          ...(req.query.since !== undefined ? { since: req.query.since } : {}),
        }),
      );
    },
  );

  const write = async (
    kind: IncidentNote['kind'],
    req: FastifyRequest<{ Body: Static<typeof NoteBody> }>,
    reply: FastifyReply,
  ) => {
    const session = req.session!;
    if (!RESPONDERS.includes(session.role as Role))
      return reply.code(403).send({
        error: 'forbidden',
        message:
          'only operators and engineers may acknowledge incidents / hanya operator dan teknisi yang boleh menanggapi insiden',
      });
    if (!db) return reply.code(404).send(noBackbone);
    const { key, opened_at, text } = req.body;
    if (kind === 'note' && !text)
      return reply
        .code(400)
        .send({ error: 'bad_request', message: 'text: a note needs text / catatan kosong' });
    const inc = db.incident(key, opened_at);
    if (!inc)
      return reply
        .code(404)
        .send({ error: 'not_found', message: `no incident "${key}" opened at ${opened_at}` });
    const earlier = db.incidentNotes([inc]).get(`${key}@${opened_at}`) ?? [];
    if (kind === 'ack' && earlier.some((n) => n.kind === 'ack'))
      return reply.code(409).send({ error: 'conflict', message: 'already acknowledged / sudah ditanggapi' });
    db.addIncidentNote({
      key,
      opened_at,
      at: Date.now(),
      username: session.username,
      kind,
      text: text ?? '',
    });
    audit(req, kind === 'ack' ? 'incident_acknowledged' : 'incident_note', key, {
      opened_at,
      ...(text !== undefined ? { text } : {}),
    });
    return reply.code(201).send(withNotes([inc])[0]);
  };

  app.post<{ Body: Static<typeof NoteBody> }>(
    '/api/incidents/ack',
    { schema: { body: NoteBody } },
    (req, reply) => write('ack', req, reply),
  );
  app.post<{ Body: Static<typeof NoteBody> }>(
    '/api/incidents/note',
    { schema: { body: NoteBody } },
    (req, reply) => write('note', req, reply),
  );

  app.get<{ Querystring: Static<typeof UptimeQuery> }>(
    '/api/uptime',
    { schema: { querystring: UptimeQuery } },
    async (req, reply) => {
      if (!bb || !db) return reply.code(404).send(noBackbone);
      const to = req.query.to ?? Date.now();
      const from = req.query.from;
      if (from >= to)
        return reply.code(400).send({ error: 'bad_request', message: 'from: must be before to' });
      if (to - from > MAX_REPORT_MS)
        return reply.code(400).send({ error: 'bad_request', message: 'to: period longer than 400 days' });
      const report = uptimeReport(bb, db.incidentsBetween(from, to), { from, to, group: req.query.group });
      if (req.query.format === 'csv') {
        const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
        reply
          .type('text/csv; charset=utf-8')
          .header(
            'content-disposition',
            `attachment; filename="pantau-uptime-${report.group}-${day(from)}-${day(to)}.csv"`,
          );
        return uptimeCsv(report, bb.timezone);
      }
      return report;
    },
  );
}
