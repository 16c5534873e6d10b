import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRecording } from '../snmprec.js';
import { fadeDepth, type SimulatedAgent, startSimulatedAgent } from './index.js';

const run = promisify(execFile);
const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'snmp');

function requireNetSnmpTools(): void {
  if (!existsSync('/usr/bin/snmpwalk')) throw new Error('net-snmp tools missing: apt-get install -y snmp');
}

// The real net-snmp command-line tools are the peer: if they decode our answers to the recording,
// the simulator speaks SNMP byte for byte.
describe('SNMP simulator against net-snmp tools', () => {
  let agent: SimulatedAgent;
  const recording = join(FIXTURES, 'ptp670', 'device.snmprec');
  beforeAll(async () => {
    requireNetSnmpTools();
    agent = await startSimulatedAgent({ recording, port: 0 });
  });
  afterAll(() => agent.close());

  it('snmpwalk (GETNEXT, v1 and v2c) returns every recorded OID in order', async () => {
    const expected = loadRecording(recording).map((v) => `.${v.oid.join('.')}`);
    for (const version of ['2c', '1']) {
      const { stdout } = await run('snmpwalk', [
        `-v${version}`,
        '-c',
        'public',
        '-On',
        '-Oq',
        '-t',
        '2',
        `127.0.0.1:${agent.port}`,
        '.1',
      ]);
      const got = stdout
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('.') && !l.includes('No more variables'))
        .map((l) => l.split(' ')[0]);
      // v1 cannot carry Counter64: real v1 agents skip them, and so do we.
      const want =
        version === '1'
          ? expected.filter(
              (o) => !loadRecording(recording).find((v) => `.${v.oid.join('.')}` === o && v.tag === 0x46),
            )
          : expected;
      expect(got).toEqual(want);
    }
  });

  it('snmpbulkwalk (GETBULK) agrees with the recording values', async () => {
    const { stdout } = await run('snmpbulkwalk', [
      '-v2c',
      '-c',
      'public',
      '-On',
      '-Oqv',
      '-Cr30',
      `127.0.0.1:${agent.port}`,
      '.1.3.6.1.4.1.17713',
    ]);
    const values = stdout.trim().split('\n');
    const rec = loadRecording(recording).filter((v) => v.oid.join('.').startsWith('1.3.6.1.4.1.17713.'));
    expect(values.length).toBe(rec.length);
    const firstInt = rec.findIndex((v) => v.tag === 0x02);
    expect(values[firstInt]).toBe(String(rec[firstInt]!.value));
  });

  it('answers noSuchObject/noSuchInstance in v2c and noSuchName in v1', async () => {
    const v2 = await run('snmpget', [
      '-v2c',
      '-c',
      'public',
      '-On',
      `127.0.0.1:${agent.port}`,
      '.1.3.6.1.2.1.1.9.0',
      '.1.3.6.1.2.1.1.3.5',
      '.1.3.6.1.2.1.1.3.0',
    ]);
    expect(v2.stdout).toMatch(/\.1\.3\.6\.1\.2\.1\.1\.9\.0 = No Such Object/);
    expect(v2.stdout).toMatch(/\.1\.3\.6\.1\.2\.1\.1\.3\.5 = No Such Instance/);
    expect(v2.stdout).toMatch(/\.1\.3\.6\.1\.2\.1\.1\.3\.0 = Timeticks/);
    const v1 = await run('snmpget', [
      '-v1',
      '-c',
      'public',
      '-On',
      `127.0.0.1:${agent.port}`,
      '.1.3.6.1.2.1.1.9.0',
    ]).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${v1.stdout}${v1.stderr}`).toMatch(/noSuchName|There is no such variable/);
  });

  it('stays silent for a wrong community, like a real agent', async () => {
    const r = await run('snmpget', [
      '-v2c',
      '-c',
      'wrong',
      '-t',
      '0.3',
      '-r',
      '0',
      `127.0.0.1:${agent.port}`,
      '.1.3.6.1.2.1.1.3.0',
    ]).catch((e: { stderr: string }) => e);
    expect(r.stderr).toMatch(/Timeout/);
  });
});

describe('simulator scenarios', () => {
  it('advances uptime and counters with the clock, wraps 32-bit counters, and reboots', async () => {
    let t = 1_000_000;
    const agent = await startSimulatedAgent({
      recording: join(FIXTURES, 'airos', 'device.snmprec'),
      port: 0,
      now: () => t,
      scenarios: [
        { kind: 'counters', bitRateIn: 8e9, bitRateOut: 8e6 },
        { kind: 'reboot', atMs: 20_000 },
      ],
    });
    try {
      requireNetSnmpTools();
      const get = async (...oids: string[]) => {
        const { stdout } = await run('snmpget', [
          '-v2c',
          '-c',
          'public',
          '-On',
          '-Oqv',
          '-Ot',
          `127.0.0.1:${agent.port}`,
          ...oids,
        ]);
        return stdout
          .trim()
          .split('\n')
          .map((s) => BigInt(s));
      };
      const [up0, hc0, c32a] = await get(
        '.1.3.6.1.2.1.1.3.0',
        '.1.3.6.1.2.1.31.1.1.1.6.5',
        '.1.3.6.1.2.1.2.2.1.10.5',
      );
      expect(up0).toBe(637273100n);
      expect(hc0).toBe(0n);
      expect(c32a).toBe(0n);
      t += 10_000;
      const [up1, hc1, c32] = await get(
        '.1.3.6.1.2.1.1.3.0',
        '.1.3.6.1.2.1.31.1.1.1.6.5',
        '.1.3.6.1.2.1.2.2.1.10.5',
      );
      expect(up1).toBe(637273100n + 1000n);
      expect(hc1).toBe(10_000_000_000n); // 8 Gbit/s for 10 s = 10 GB
      expect(c32).toBe(10_000_000_000n % (1n << 32n));
      t += 15_000; // past the reboot at 20 s
      const [up2, hc2] = await get('.1.3.6.1.2.1.1.3.0', '.1.3.6.1.2.1.31.1.1.1.6.5');
      expect(up2).toBe(500n);
      expect(hc2).toBe(5_000_000_000n);
    } finally {
      await agent.close();
    }
  });

  it('fades down and back up', () => {
    const s = { kind: 'fade' as const, startMs: 1000, durationMs: 1000, depthDb: 10, recoverMs: 2000 };
    expect([0, 1000, 1500, 2000, 3000, 4000, 5000].map((t) => fadeDepth(s, t))).toEqual([
      0, 0, 0.5, 1, 0.5, 0, 0,
    ]);
  });
});
