import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@pantau/config';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../../test/support/procs.js';
import { type RunningBroker, startBroker } from './broker.js';
import { loadBrokerConfig } from './config.js';
import { addGateway, loadCredentials, removeAccount } from './credentials.js';

describe('broker over WebSocket', () => {
  const dir = tempDir('broker-ws');
  let broker: RunningBroker;
  beforeAll(async () => {
    const cred = join(dir.path, 'credentials.yaml');
    await addGateway(cred, 'psc', 'gw-psc', 'gw-psc-pass');
    broker = await startBroker(
      {
        mqtt: { host: '127.0.0.1', port: 0, ws_port: 0, max_packet_bytes: 65536 },
        credentials_file: cred,
        store: { kind: 'sqlite', path: join(dir.path, 'c.db') },
        log_level: 'fatal',
      },
      { logger: pino({ level: 'silent' }) },
    );
  });
  afterAll(async () => {
    await broker?.close();
    dir.remove();
  });

  it('accepts a site box over ws:// and ingests what it publishes', async () => {
    expect(broker.wsPort).toBeGreaterThan(0);
    const c = await mqtt.connectAsync(`ws://127.0.0.1:${broker.wsPort}`, {
      username: 'gw-psc',
      password: 'gw-psc-pass',
      reconnectPeriod: 0,
    });
    await c.publishAsync(
      'pantau/v1/psc/ptp-1/telemetry',
      JSON.stringify({
        v: 1,
        seq: 9,
        device: 'ptp-1',
        backfill: false,
        readings: [{ ts: Date.now(), values: { snr_db: 30 } }],
      }),
      { qos: 1 },
    );
    await waitFor('ingested', () => broker.stats().samples === 1, 5000);
    await c.endAsync();
  });

  it("holds a last will to the site box's fence", async () => {
    const before = broker.stats().denied;
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      username: 'gw-psc',
      password: 'gw-psc-pass',
      reconnectPeriod: 0,
      will: {
        topic: 'pantau/v1/damkar/gateway/state',
        payload: Buffer.from('{"v":1,"state":"offline","ts":1}'),
        qos: 1,
        retain: true,
      },
    });
    c.stream.destroy(); // vanish without DISCONNECT: the broker publishes the will, if allowed
    await waitFor('will denied', () => broker.stats().denied === before + 1, 5000);
    expect(broker.stats().states).toBe(0);
  });

  it('refuses a wrong password over ws:// too', async () => {
    await expect(
      mqtt.connectAsync(`ws://127.0.0.1:${broker.wsPort}`, {
        username: 'gw-psc',
        password: 'nope',
        reconnectPeriod: 0,
      }),
    ).rejects.toThrow(/Bad username or password|Not authorized/i);
  });

  it('picks up a removed account without a restart', async () => {
    removeAccount(join(dir.path, 'credentials.yaml'), 'gw-psc');
    expect(loadCredentials(join(dir.path, 'credentials.yaml')).gateways).toEqual([]);
    await waitFor(
      'account gone',
      () =>
        mqtt
          .connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
            username: 'gw-psc',
            password: 'gw-psc-pass',
            reconnectPeriod: 0,
          })
          .then(
            async (c) => {
              await c.endAsync();
              return false;
            },
            () => true,
          ),
      5000,
      300,
    );
  });

  // Each change replaces the file (rename): a watch on the first file would miss every later change.
  it('keeps picking up changes: accounts added one after another are let in', async () => {
    const cred = join(dir.path, 'credentials.yaml');
    const loginWorks = (username: string) =>
      mqtt
        .connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
          username,
          password: `${username}-pass`,
          reconnectPeriod: 0,
        })
        .then(
          async (c) => {
            await c.endAsync();
            return true;
          },
          () => false,
        );
    for (const site of ['rsud', 'pasar', 'damkar']) {
      await addGateway(cred, site, `gw-${site}`, `gw-${site}-pass`);
      await waitFor(`gw-${site} accepted`, () => loginWorks(`gw-${site}`), 5000, 300);
    }
  });
});

describe('central.yaml', () => {
  it('names file, line and field of a mistake', () => {
    const dir = tempDir('broker-cfg');
    const f = join(dir.path, 'central.yaml');
    writeFileSync(
      f,
      'mqtt:\n  port: 99999\ncredentials_file: c.yaml\nstore: { kind: sqlite, path: c.db }\nloglevel: info\n',
    );
    try {
      loadBrokerConfig(f);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).issues.map((i) => `${i.line}:${i.field}: ${i.message}`)).toEqual([
        '2:mqtt.port: must be <= 65535',
        '5:loglevel: unknown key (check the spelling)',
      ]);
    } finally {
      dir.remove();
    }
  });
});
