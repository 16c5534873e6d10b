// Requests from the central through a real MQTT broker (aedes, in this process): an answer too big
// for the central's packet limit is replaced by a too_big error instead of costing the connection.

import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Publisher } from './publisher.js';

describe('answers to requests', () => {
  let aedes: Aedes;
  let server: Server;
  let port: number;
  let pub: Publisher;

  beforeAll(async () => {
    aedes = await Aedes.createBroker();
    server = createServer((s) => aedes.handle(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    pub = new Publisher({
      site: 'rsud',
      urls: [`mqtt://127.0.0.1:${port}`],
      username: 'gw-rsud',
      password: 'x',
      keepaliveS: 30,
      clientId: 'gw-rsud-test',
      log: pino({ level: 'silent' }),
      maxMessageBytes: 4096,
      birth: () => ({
        v: 1,
        state: 'online',
        ts: Date.now(),
        site: 'rsud',
        version: 't',
        started_at: 0,
        uptime_s: 0,
        outbox_depth: 0,
      }),
    });
    pub.handle('small', async () => ({ n: 1 }));
    pub.handle('big', async () => ({ text: 'x'.repeat(10_000) }));
    pub.start();
  });
  afterAll(async () => {
    await pub.stop();
    await new Promise<void>((r) => aedes.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('answers a small result, and a too_big error for one over the limit', async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`);
    try {
      const answers = new Map<string, { ok: boolean; result?: unknown; error?: { code: string } }>();
      c.on('message', (_t, b) => {
        const r = JSON.parse(b.toString());
        answers.set(r.id, r);
      });
      await c.subscribeAsync('pantau/v1/rsud/response/+', { qos: 1 });
      const ask = async (op: string, id: string) => {
        for (let i = 0; i < 100 && !answers.has(id); i++) {
          // Until the box has subscribed, a request finds nobody: ask again (the id makes it once).
          await c.publishAsync(`pantau/v1/rsud/request/${op}`, JSON.stringify({ v: 1, id, ts: Date.now() }), {
            qos: 1,
          });
          await new Promise((r) => setTimeout(r, 100));
        }
        return answers.get(id);
      };
      expect(await ask('small', 's1')).toMatchObject({ ok: true, result: { n: 1 } });
      expect(await ask('big', 'b1')).toMatchObject({ ok: false, error: { code: 'too_big' } });
      // Still connected: the next request is answered.
      expect(await ask('small', 's2')).toMatchObject({ ok: true });
    } finally {
      await c.endAsync();
    }
  });
});
