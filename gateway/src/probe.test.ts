import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../../test/support/procs.js';

const run = promisify(execFile);
const CLI = join(ROOT, 'gateway', 'dist', 'cli.js');
const AIROS = join(ROOT, 'test', 'fixtures', 'snmp', 'airos', 'device.snmprec');

async function decode(file: string): Promise<{
  identity: Record<string, string>;
  readings: Array<{ values: Record<string, number>; labels?: Record<string, string> }>;
}> {
  const { stdout } = await run(process.execPath, [CLI, 'probe', 'snmp', '--walk-file', file, '--json']);
  return JSON.parse(stdout);
}

describe('probe snmp --walk-file: a recorded walk decoded offline', () => {
  it('decodes a .snmprec recording exactly as recorded', async () => {
    const r = await decode(AIROS);
    expect(r.identity).toMatchObject({
      vendor: 'Ubiquiti',
      model: 'Rocket Prism 5AC Gen2',
      firmware: '8.5.1.37185.180307.0931',
      profile: 'airmax',
    });
    expect(r.readings[0]!.values).toMatchObject({
      uptime_s: 6372731,
      rx_power_dbm: -69,
      snr_db: 34,
      distance_m: 14400,
    });
  });

  it('decodes snmpwalk -On output to the same reading', async () => {
    // A walk made by net-snmp's own snmpwalk, as a user would attach it to a bug report.
    const agent = await startSimulatedAgent({ recording: AIROS, port: 0, now: () => 0 });
    const dir = tempDir('walk');
    try {
      const { stdout } = await run('snmpwalk', [
        '-v2c',
        '-c',
        'public',
        '-On',
        `127.0.0.1:${agent.port}`,
        '.1',
      ]);
      const f = join(dir.path, 'walk.txt');
      writeFileSync(f, stdout);
      const withoutTime = (r: Awaited<ReturnType<typeof decode>>) => ({
        ...r,
        readings: r.readings.map(({ values, labels }) => ({ values, labels })),
      });
      expect(withoutTime(await decode(f))).toEqual(withoutTime(await decode(AIROS)));
    } finally {
      await agent.close();
      dir.remove();
    }
  });

  it('refuses a file that is not a walk, naming the line', async () => {
    const dir = tempDir('walk-bad');
    const f = join(dir.path, 'notes.txt');
    writeFileSync(f, 'radio di RSUD\n');
    const r = await run(process.execPath, [CLI, 'probe', 'snmp', '--walk-file', f]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    dir.remove();
    expect((r as { code: number }).code).toBe(1);
    expect((r as { stderr: string }).stderr).toMatch(/notes\.txt:1: not an snmpwalk -On line/);
  });
});
