// Third-party browser code served from our own node_modules: the chart library (uPlot) is bundled
// with the dashboard and never fetched from a CDN, so the page works on a network without internet.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

export function registerVendorRoutes(app: App): void {
  const dist = dirname(createRequire(import.meta.url).resolve('uplot'));
  const read = (f: string) => readFileSync(join(dist, f), 'utf8');
  // uPlot ships its minified build only as a script defining `var uPlot`; as a module that variable
  // is module-local, so exporting it makes the minified build importable (half the size of the ESM
  // build). Read once at start-up: a missing file fails the start, not a page load.
  const bodies = new Map([
    [
      'uplot.esm.js',
      {
        type: 'text/javascript; charset=utf-8',
        body: `${read('uPlot.iife.min.js')}\nexport default uPlot;\n`,
      },
    ],
    ['uplot.min.css', { type: 'text/css; charset=utf-8', body: read('uPlot.min.css') }],
  ]);
  app.get<{ Params: { name: string } }>('/vendor/:name', async (req, reply) => {
    const f = bodies.get(req.params.name);
    if (!f) return reply.code(404).send({ error: 'not_found', message: `no file "${req.params.name}"` });
    return reply.type(f.type).header('cache-control', 'public, max-age=3600').send(f.body);
  });
}
