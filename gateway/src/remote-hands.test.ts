import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/procs.js';
import { parseGatewayConfig } from './config.js';
import { RequestError } from './publisher.js';
import { parseTraceroute, remoteHands } from './remote-hands.js';

describe('remote hands on the site box', () => {
  const dir = tempDir('hands');
  afterAll(() => dir.remove());
  const cfg = parseGatewayConfig(
    `site: { id: rsud }
mqtt: { urls: ["mqtt://127.0.0.1:1"], username: gw-rsud, password: x }
devices:
  - { id: r1, address: 127.0.0.2, snmp: { community: public } }
  - { id: h1, kind: host, address: 127.0.0.3, ping: { count: 1 } }
`,
    join(dir.path, 'site.yaml'),
  );
  const restarted: string[] = [];
  const hands = remoteHands({
    config: () => cfg,
    restartDevice: async (id) => {
      restarted.push(id);
      return [`snmp:${id}`];
    },
  });
  const code = async (op: string, args: Record<string, unknown>) => {
    try {
      await hands[op]!(args);
      return 'ok';
    } catch (e) {
      return e instanceof RequestError ? e.code : `thrown ${(e as Error).message}`;
    }
  };

  it('answers bad arguments with bad_args, before anything runs', async () => {
    expect(await code('ping', {})).toBe('bad_args');
    expect(await code('ping', { address: '--help' })).toBe('bad_args');
    expect(await code('ping', { address: '127.0.0.1; reboot' })).toBe('bad_args');
    expect(await code('ping', { address: '127.0.0.1', count: 0 })).toBe('bad_args');
    expect(await code('ping', { address: '127.0.0.1', count: 1.5 })).toBe('bad_args');
    expect(await code('traceroute', { address: '127.0.0.1', max_hops: 31 })).toBe('bad_args');
    expect(await code('discover', { addresses: '127.0.0.1' })).toBe('bad_args');
    expect(await code('discover', { addresses: ['127.0.0.1:99999'] })).toBe('bad_args');
    expect(await code('discover', { multicast: 'yes' })).toBe('bad_args');
    expect(await code('probe', { device: 'r1', address: '127.0.0.9' })).toBe('bad_args');
    expect(await code('probe', { kind: 'camera', address: '127.0.0.9' })).toBe('bad_args');
    expect(await code('probe', { address: '127.0.0.9', community: '' })).toBe('bad_args');
    expect(await code('restart-collector', {})).toBe('bad_args');
    expect(restarted).toEqual([]);
  });

  it('names an unknown device as such, and restarts a known one', async () => {
    expect(await code('restart-collector', { device: 'nope' })).toBe('unknown_device');
    expect(await code('probe', { device: 'nope' })).toBe('unknown_device');
    expect(await code('probe', { device: 'h1' })).toBe('unsupported');
    expect(await hands['restart-collector']!({ device: 'r1', by: 'eng' })).toEqual({
      device: 'r1',
      restarted: ['snmp:r1'],
    });
  });

  it('runs at most two operations at once', async () => {
    if (!existsSync('/usr/bin/ping')) throw new Error('ping is missing: apt-get install -y iputils-ping');
    const slow = () => hands.ping!({ address: '127.0.0.1', count: 3 });
    const results = await Promise.allSettled([slow(), slow(), slow()]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(((results[2] as PromiseRejectedResult).reason as RequestError).code).toBe('busy');
  });

  it('reads traceroute -n output, silent hops included', () => {
    const out = `traceroute to 10.9.0.1 (10.9.0.1), 5 hops max, 60 byte packets
 1  10.10.0.1  0.512 ms
 2  *
 3  10.9.0.1  12.250 ms
`;
    expect(parseTraceroute(out)).toEqual([
      { hop: 1, address: '10.10.0.1', rtt_ms: 0.512 },
      { hop: 2, address: null, rtt_ms: null },
      { hop: 3, address: '10.9.0.1', rtt_ms: 12.25 },
    ]);
  });
});
