// The collector against net-snmp's real agent (Debian snmpd): system group, loopback counters and
// rates over v2c and v3 (SHA + AES), and the errors a wrong community or key must give.

import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCollectorError } from '@pantau/collectors/common';
import { collectSnmp, newSnmpMemory, SnmpSession, type SnmpTarget } from '@pantau/collectors/snmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary, tempDir, waitFor } from './support/procs.js';

const SNMPD = '/usr/sbin/snmpd';

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

describe('SNMP collector against a real snmpd', () => {
  const dir = tempDir('snmpd');
  let snmpd: ChildProcess;
  let port: number;
  const target = (over: Partial<SnmpTarget>): SnmpTarget => ({
    address: '127.0.0.1',
    port,
    version: '2c',
    community: 'pantau-ro',
    timeoutMs: 1000,
    retries: 0,
    ...over,
  });
  const v3 = {
    user: 'pantau',
    level: 'authPriv' as const,
    authProtocol: 'sha' as const,
    authKey: 'rahasia-auth-1',
    privProtocol: 'aes' as const,
    privKey: 'rahasia-priv-1',
  };

  beforeAll(async () => {
    requireBinary(SNMPD, 'apt-get install -y snmpd');
    port = await freeUdpPort();
    const conf = join(dir.path, 'snmpd.conf');
    writeFileSync(
      conf,
      [
        'rocommunity pantau-ro 127.0.0.1',
        `createUser ${v3.user} SHA "${v3.authKey}" AES "${v3.privKey}"`,
        `rouser ${v3.user} priv`,
        'sysLocation Pantau test',
        '',
      ].join('\n'),
    );
    snmpd = spawn(
      SNMPD,
      ['-f', '-Lo', '-C', '-c', conf, '-p', join(dir.path, 'snmpd.pid'), `udp:127.0.0.1:${port}`],
      {
        env: { ...process.env, SNMP_PERSISTENT_DIR: join(dir.path, 'persist'), MIBS: '' },
        stdio: 'ignore',
      },
    );
    await waitFor(
      'snmpd answering',
      async () => {
        const s = new SnmpSession(target({ timeoutMs: 300 }));
        try {
          return (await s.get(['1.3.6.1.2.1.1.3.0'])).length === 1;
        } finally {
          s.close();
        }
      },
      20_000,
      300,
    );
  }, 30_000);

  afterAll(async () => {
    snmpd?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    dir.remove();
  });

  for (const version of ['2c', '3'] as const) {
    it(`v${version}: reads sysUpTime and loopback counters, with sane rates`, async () => {
      const session = new SnmpSession(version === '3' ? target({ version: '3', v3 }) : target({}));
      const mem = newSnmpMemory();
      try {
        const first = await collectSnmp(session, mem);
        expect(first.kind).toBe('host');
        expect(first.identity?.sysDescr).toMatch(/Linux/);
        const up1 = first.readings[0]!.values.uptime_s!;
        expect(up1).toBeGreaterThanOrEqual(0);
        const lo1 = first.readings.find((r) => r.labels?.iface === 'lo');
        expect(lo1?.values.if_oper_up).toBe(1);
        expect(lo1?.values.if_in_bps).toBeUndefined(); // no rate from a single reading
        // snmpd caches interface counters for a few seconds; wait past the cache.
        await new Promise((r) => setTimeout(r, 3500));
        const second = await collectSnmp(session, mem);
        expect(second.readings[0]!.values.uptime_s!).toBeGreaterThan(up1);
        expect(second.observations).toEqual([]);
        const lo2 = second.readings.find((r) => r.labels?.iface === 'lo')!;
        // The SNMP traffic itself crosses lo, so the rate is positive, and far below any real limit.
        expect(lo2.values.if_in_bps).toBeGreaterThan(0);
        expect(lo2.values.if_in_bps).toBeLessThan(1e9);
        expect(lo2.values.if_out_bps).toBeGreaterThanOrEqual(0);
      } finally {
        session.close();
      }
    });
  }

  it('a wrong v3 key is an auth error, not a timeout', async () => {
    const session = new SnmpSession(target({ version: '3', v3: { ...v3, authKey: 'salah-kunci-1' } }));
    const err = await collectSnmp(session, newSnmpMemory()).catch((e: unknown) => e);
    session.close();
    expect(isCollectorError(err) && err.kind).toBe('auth');
  });

  it('a wrong community is a timeout: agents stay silent', async () => {
    const session = new SnmpSession(target({ community: 'salah', timeoutMs: 300 }));
    const err = await collectSnmp(session, newSnmpMemory()).catch((e: unknown) => e);
    session.close();
    expect(isCollectorError(err) && err.kind).toBe('timeout');
  });
});
