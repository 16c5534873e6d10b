// The broker's fence, tested with a foreign client: the real mosquitto_pub/mosquitto_sub.

import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { addGateway, addReader, type RunningBroker, startBroker } from '@pantau/broker';
import { openStore } from '@pantau/broker/store';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary, tempDir, waitFor } from './support/procs.js';

const run = promisify(execFile);
const PUB = '/usr/bin/mosquitto_pub';
const SUB = '/usr/bin/mosquitto_sub';

describe('broker ACL against a foreign MQTT client', () => {
  const dir = tempDir('acl');
  let broker: RunningBroker;
  let port: number;
  const telemetry = (seq: number, device = 'ptp-scc') =>
    JSON.stringify({
      v: 1,
      seq,
      device,
      backfill: false,
      readings: [{ ts: Date.now(), values: { rx_power_dbm: -61 } }],
    });
  const pub = (args: string[]) =>
    run(PUB, ['-h', '127.0.0.1', '-p', String(port), '-q', '1', ...args], { timeout: 10_000 });
  /** Publishes as the site box of rsud. */
  const asRsud = (topic: string, message: string) =>
    pub(['-u', 'gw-rsud', '-P', 'gw-rsud-pass', '-t', topic, '-m', message]);

  beforeAll(async () => {
    requireBinary(PUB, 'apt-get install -y mosquitto-clients');
    const cred = join(dir.path, 'credentials.yaml');
    await addGateway(cred, 'rsud', 'gw-rsud', 'gw-rsud-pass');
    await addGateway(cred, 'damkar', 'gw-damkar', 'gw-damkar-pass');
    await addReader(cred, 'dashboard', 'dash-pass-1');
    await addReader(cred, 'dashboard-cmd', 'dash-cmd-pass-1', { requests: true });
    broker = await startBroker(
      {
        mqtt: { host: '127.0.0.1', port: 0, max_packet_bytes: 4096 },
        credentials_file: cred,
        store: { kind: 'sqlite', path: join(dir.path, 'central.db') },
        log_level: 'silent' as 'fatal',
      },
      { logger: pino({ level: 'silent' }) },
    );
    port = broker.port;
  });
  afterAll(async () => {
    await broker?.close();
    dir.remove();
  });

  it('refuses a wrong password', async () => {
    const r = await pub(['-u', 'gw-rsud', '-P', 'wrong', '-t', 'pantau/v1/rsud/events', '-m', '{}']).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((r as { code: number }).code).not.toBe(0);
    expect((r as { stderr: string }).stderr).toMatch(/not authori[sz]ed|bad user name or password/i);
  });

  it('refuses an anonymous client', async () => {
    const r = await pub(['-t', 'pantau/v1/rsud/events', '-m', '{}']).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((r as { code: number }).code).not.toBe(0);
    expect((r as { stderr: string }).stderr).toMatch(/not authori[sz]ed/i);
  });

  it("a site box cannot publish into another site's topics; its own are ingested", async () => {
    // A reader watching everything must never see the forged message.
    const sub = spawn(SUB, [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-u',
      'dashboard',
      '-P',
      'dash-pass-1',
      '-t',
      'pantau/v1/#',
      '-v',
    ]);
    let seen = '';
    sub.stdout.on('data', (d: Buffer) => {
      seen += d.toString();
    });
    await new Promise((r) => setTimeout(r, 500));
    await asRsud('pantau/v1/damkar/ptp-scc/telemetry', telemetry(1)).catch(() => undefined);
    await asRsud('pantau/v1/rsud/ptp-scc/telemetry', telemetry(2));
    await waitFor(
      'own-site message delivered',
      () => seen.includes('pantau/v1/rsud/ptp-scc/telemetry'),
      5000,
    );
    sub.kill();
    expect(seen).not.toContain('pantau/v1/damkar');
    const store = openStore({ kind: 'sqlite', path: join(dir.path, 'central.db') }, { readonly: true });
    const now = Date.now();
    expect(
      await store.history({
        site: 'damkar',
        device: 'ptp-scc',
        metric: 'rx_power_dbm',
        from: 0,
        to: now + 1000,
      }),
    ).toEqual([]);
    expect(
      (
        await store.history({
          site: 'rsud',
          device: 'ptp-scc',
          metric: 'rx_power_dbm',
          from: 0,
          to: now + 1000,
        })
      )[0]?.points.length,
    ).toBe(1);
    await store.close();
    expect(broker.stats().denied).toBeGreaterThanOrEqual(1);
  });

  it('a site box may not pose as the central, and a reader may not publish', async () => {
    const before = broker.stats().denied;
    await asRsud('pantau/v1/rsud/request/restart', '{}').catch(() => undefined);
    await pub(['-u', 'dashboard', '-P', 'dash-pass-1', '-t', 'pantau/v1/rsud/events', '-m', '{}']).catch(
      () => undefined,
    );
    await waitFor('two denials', () => broker.stats().denied >= before + 2, 5000);
  });

  it('a reader allowed to send requests may send them, and nothing else', async () => {
    const before = broker.stats().denied;
    const asCmd = (topic: string, extra: string[] = []) =>
      pub([
        '-u',
        'dashboard-cmd',
        '-P',
        'dash-cmd-pass-1',
        '-t',
        topic,
        '-m',
        '{"v":1,"id":"x","ts":1}',
        ...extra,
      ]);
    // The site box listening for its requests receives it.
    const sub = run(
      SUB,
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-u',
        'gw-rsud',
        '-P',
        'gw-rsud-pass',
        '-t',
        'pantau/v1/rsud/request/+',
        '-C',
        '1',
        '-W',
        '5',
        '-v',
      ],
      { timeout: 10_000 },
    );
    await new Promise((r) => setTimeout(r, 500));
    await asCmd('pantau/v1/rsud/request/camera-clock-sync');
    expect((await sub).stdout).toContain('pantau/v1/rsud/request/camera-clock-sync');
    await asCmd('pantau/v1/rsud/events').catch(() => undefined);
    await asCmd('pantau/v1/rsud/request/restart', ['-r']).catch(() => undefined);
    await waitFor('event and retained request denied', () => broker.stats().denied >= before + 2, 5000);
  });

  it('a site box may subscribe only to its own requests', async () => {
    const before = broker.stats().denied;
    const r = await run(
      SUB,
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-u',
        'gw-rsud',
        '-P',
        'gw-rsud-pass',
        '-t',
        'pantau/v1/damkar/#',
        '-C',
        '1',
        '-W',
        '2',
      ],
      { timeout: 10_000 },
    ).catch((e: { stderr: string; stdout: string }) => e);
    expect(`${(r as { stderr: string }).stderr}`).toMatch(/denied/i);
    expect(broker.stats().denied).toBe(before + 1);
  });

  it('a malformed payload is rejected and counted, and the broker stays up', async () => {
    const before = broker.stats().rejected;
    await asRsud('pantau/v1/rsud/ptp-scc/telemetry', '{"v":1,"seq":"x"}');
    await asRsud('pantau/v1/rsud/ptp-scc/telemetry', 'not json');
    await waitFor('rejections counted', () => broker.stats().rejected >= before + 2, 5000);
    await asRsud('pantau/v1/rsud/ptp-scc/telemetry', telemetry(3));
    await waitFor('good batch after bad ones', () => broker.stats().batches >= 2, 5000);
  });
});
