// The ingest's session with a real mosquitto: it stores many messages at once (not one per round
// trip, as mqtt.js did), acknowledges each only once stored, and a failed store leaves the message
// unacknowledged, so mosquitto sends it again and nothing is lost.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, portOpen, requireBinary, tempDir, waitFor } from '../../test/support/procs.js';
import { IngestSession } from './ingest-session.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const PASSWD = '/usr/bin/mosquitto_passwd';

describe('ingest session (real mosquitto)', () => {
  const dir = tempDir('ingest-session');
  let port = 0;
  let broker: ChildProcess;

  beforeAll(async () => {
    requireBinary(MOSQUITTO, 'apt-get install -y mosquitto');
    requireBinary(PASSWD, 'apt-get install -y mosquitto');
    port = await freePort();
    const passwd = join(dir.path, 'passwd');
    writeFileSync(passwd, '');
    execFileSync(PASSWD, ['-b', passwd, 'ingest', 'ingest-secret-1']);
    execFileSync(PASSWD, ['-b', passwd, 'site', 'site-secret-1']);
    writeFileSync(
      join(dir.path, 'mosquitto.conf'),
      `listener ${port} 127.0.0.1
allow_anonymous false
password_file ${passwd}
persistence false
max_inflight_messages 100
max_queued_messages 100000
user ${userInfo().username}
`,
    );
    broker = spawn(MOSQUITTO, ['-c', join(dir.path, 'mosquitto.conf')], { stdio: 'ignore' });
    await waitFor('mosquitto listening', () => portOpen(port), 10_000);
  });

  afterAll(() => {
    broker?.kill('SIGKILL');
    dir.remove();
  });

  const session = (clientId: string, onMessage: (topic: string, payload: Buffer) => Promise<void>) => {
    const s = new IngestSession({
      servers: [{ host: '127.0.0.1', port, protocol: 'mqtt' }],
      username: 'ingest',
      password: 'ingest-secret-1',
      clientId,
      keepaliveS: 10,
      filter: `t/${clientId}/#`,
      reconnectMs: 200,
      log: pino({ level: 'silent' }),
      onMessage,
    });
    const subscribed = new Promise<boolean>((r) => s.once('subscribed', r));
    s.start();
    return { s, subscribed };
  };

  const publishAll = async (prefix: string, n: number) => {
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      username: 'site',
      password: 'site-secret-1',
      reconnectPeriod: 0,
    });
    await Promise.all(
      Array.from({ length: n }, (_, i) => pub.publishAsync(`${prefix}/${i}`, String(i), { qos: 1 })),
    );
    await pub.endAsync();
  };

  it('stores what mosquitto has in flight at once, and acknowledges every message once stored', async () => {
    let storing = 0;
    let most = 0;
    const stored = new Set<number>();
    // A store that takes 5 ms per commit, as one with an fsync would.
    const { s, subscribed } = session('many', async (topic) => {
      storing++;
      most = Math.max(most, storing);
      await new Promise((r) => setTimeout(r, 5));
      stored.add(Number(topic.split('/').at(-1)));
      storing--;
    });
    expect(await subscribed).toBe(true);
    await publishAll('t/many', 2000);
    await waitFor('all 2000 stored', () => stored.size === 2000, 20_000);
    // More than one message at a time in the store: the session does not wait for each PUBACK.
    expect(most).toBeGreaterThan(10);
    await s.end();
    // Everything was acknowledged: a new session under the same id gets nothing again.
    const again: string[] = [];
    const second = session('many', async (topic) => {
      again.push(topic);
    });
    expect(await second.subscribed).toBe(true);
    await new Promise((r) => setTimeout(r, 1000));
    expect(again).toEqual([]);
    await second.s.end();
  });

  it('a store that fails leaves the message unacknowledged: mosquitto sends it again', async () => {
    const stored: number[] = [];
    let failOnce = true;
    const { s, subscribed } = session('retry', async (topic) => {
      const n = Number(topic.split('/').at(-1));
      if (n === 7 && failOnce) {
        failOnce = false;
        throw new Error('disk full');
      }
      stored.push(n);
    });
    expect(await subscribed).toBe(true);
    await publishAll('t/retry', 20);
    await waitFor('all 20 stored', () => new Set(stored).size === 20, 10_000);
    expect(stored).toContain(7);
    expect(s.connects).toBeGreaterThanOrEqual(2);
    await s.end();
  });

  it('a wrong password is refused at login and tried again, not a crash', async () => {
    const s = new IngestSession({
      servers: [{ host: '127.0.0.1', port, protocol: 'mqtt' }],
      username: 'ingest',
      password: 'wrong',
      clientId: 'wrong',
      keepaliveS: 10,
      filter: 't/#',
      reconnectMs: 100,
      log: pino({ level: 'silent' }),
      onMessage: async () => undefined,
    });
    s.start();
    await new Promise((r) => setTimeout(r, 800));
    expect(s.connected).toBe(false);
    expect(s.connects).toBe(0);
    await s.end();
  });
});
