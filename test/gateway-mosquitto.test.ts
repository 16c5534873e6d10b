// Interop: the site box speaks the contract to any MQTT broker, here a real Debian mosquitto with
// passwords and no anonymous access. Birth is re-published after a broker restart; a killed site box
// turns `offline` by its last will.

import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type SimulatedAgent, startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Daemon, freePort, ROOT, requireBinary, runDaemon, tempDir, waitFor } from './support/procs.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const run = promisify(execFile);

describe('site box against a real mosquitto broker', () => {
  const dir = tempDir('mosq');
  let port: number;
  let mosquitto: ChildProcess;
  let gateway: Daemon;
  let agent: SimulatedAgent;
  const conf = join(dir.path, 'mosquitto.conf');

  const startMosquitto = async () => {
    mosquitto = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
    await waitFor('mosquitto listening', () =>
      run('/usr/bin/mosquitto_pub', [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-u',
        'reader',
        '-P',
        'reader-pass',
        '-t',
        'probe/x',
        '-m',
        '1',
      ]).then(
        () => true,
        () => false,
      ),
    );
  };
  const stopMosquitto = () =>
    new Promise<void>((r) => {
      if (mosquitto.exitCode !== null) return r();
      mosquitto.once('exit', () => r());
      mosquitto.kill('SIGTERM');
    });

  /** Messages a fresh subscriber gets within `ms` (retained ones first). Async: the simulator lives in this process. */
  const snapshot = async (filter: string, ms: number, count?: number): Promise<string[]> => {
    const args = [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-u',
      'reader',
      '-P',
      'reader-pass',
      '-t',
      filter,
      '-v',
      '-W',
      String(Math.max(1, Math.ceil(ms / 1000))),
    ];
    const { stdout } = await run(
      '/usr/bin/mosquitto_sub',
      count ? [...args, '-C', String(count)] : args,
    ).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    return stdout.trim().split('\n').filter(Boolean);
  };

  beforeAll(async () => {
    requireBinary(MOSQUITTO, 'apt-get install -y mosquitto mosquitto-clients');
    requireBinary('/usr/bin/mosquitto_passwd', 'apt-get install -y mosquitto');
    port = await freePort();
    const pw = join(dir.path, 'passwd');
    execFileSync('/usr/bin/mosquitto_passwd', ['-b', '-c', pw, 'gw-rsud', 'gw-pass-1']);
    execFileSync('/usr/bin/mosquitto_passwd', ['-b', pw, 'reader', 'reader-pass']);
    // Run as ourselves: as root, mosquitto would switch to its own user, who cannot read our temp dir.
    writeFileSync(
      conf,
      `listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${pw}\npersistence false\nuser ${userInfo().username}\n`,
    );
    await startMosquitto();
    agent = await startSimulatedAgent({
      recording: join(ROOT, 'test/fixtures/snmp/airos/device.snmprec'),
      port: 0,
      scenarios: [{ kind: 'counters', bitRateIn: 1e6, bitRateOut: 1e6 }],
    });
    writeFileSync(join(dir.path, 'gw.pw'), 'gw-pass-1');
    writeFileSync(
      join(dir.path, 'site.yaml'),
      `site: { id: rsud }\nmqtt: { urls: ["mqtt://127.0.0.1:${port}"], username: gw-rsud, password_file: gw.pw, keepalive_s: 5 }\nstate_dir: state\nlog_level: ${process.env.DEBUG_SNAPSHOT ? 'debug' : 'warn'}\ndefaults: { interval_s: 1, timeout_ms: 500, retries: 0 }\ndevices:\n  - id: ptp-scc\n    address: 127.0.0.1\n    snmp: { port: ${agent.port} }\n`,
    );
    gateway = runDaemon('gateway', ['run', '--config', join(dir.path, 'site.yaml')]);
  }, 30_000);

  afterAll(async () => {
    if (process.env.DEBUG_SNAPSHOT) process.stderr.write(gateway?.output() ?? '');
    await gateway?.stop('SIGKILL');
    await stopMosquitto();
    await agent?.close();
    dir.remove();
  });

  it('publishes retained states and telemetry with increasing sequence numbers', async () => {
    await waitFor(
      'device state retained',
      async () => (await snapshot('pantau/v1/rsud/+/state', 500)).some((l) => l.includes('"rx_power_dbm"')),
      15_000,
    );
    const retained = await snapshot('pantau/v1/rsud/#', 500);
    expect(retained.find((l) => l.startsWith('pantau/v1/rsud/gateway/state '))).toContain('"state":"online"');
    const live = await snapshot('pantau/v1/rsud/ptp-scc/telemetry', 10_000, 3);
    const seqs = live
      .map((l) => JSON.parse(l.slice(l.indexOf(' ') + 1)) as { seq: number })
      .map((p) => p.seq);
    expect(seqs.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
  });

  it('re-publishes its birth after the broker restarts, without a gateway restart', async () => {
    await stopMosquitto();
    await startMosquitto(); // persistence off: every retained message is gone
    await waitFor(
      'online again',
      async () =>
        (await snapshot('pantau/v1/rsud/gateway/state', 300)).some((l) => l.includes('"state":"online"')),
      20_000,
    );
    expect(gateway.proc.exitCode).toBeNull();
    // Device states were re-published too, so a dashboard starting now sees everything.
    expect((await snapshot('pantau/v1/rsud/ptp-scc/state', 300))[0]).toContain('"device":"ptp-scc"');
  });

  it('is marked offline by its last will when killed with -9', async () => {
    await gateway.stop('SIGKILL');
    await waitFor(
      'offline by will',
      async () =>
        (await snapshot('pantau/v1/rsud/gateway/state', 300)).some((l) => l.includes('"state":"offline"')),
      20_000,
    );
  });

  it('stops promptly on SIGTERM while the broker hangs, instead of waiting for an acknowledgement', async () => {
    // A long keepalive, as on a real site: the MQTT client would not notice the frozen broker for minutes.
    const slow = join(dir.path, 'site-keepalive-60.yaml');
    writeFileSync(
      slow,
      readFileSync(join(dir.path, 'site.yaml'), 'utf8').replace('keepalive_s: 5', 'keepalive_s: 60'),
    );
    await gateway.stop('SIGKILL');
    gateway = runDaemon('gateway', ['run', '--config', slow]);
    await waitFor(
      'online',
      async () =>
        (await snapshot('pantau/v1/rsud/gateway/state', 300)).some((l) => l.includes('"state":"online"')),
      20_000,
    );
    // A frozen broker keeps the TCP connection open but never acknowledges the goodbye.
    mosquitto.kill('SIGSTOP');
    const t0 = Date.now();
    const code = await Promise.race([
      gateway.stop('SIGTERM'),
      new Promise<string>((r) => setTimeout(() => r('still running'), 15_000)),
    ]);
    mosquitto.kill('SIGCONT');
    expect(code, gateway.output()).toBe(0);
    // A bounded goodbye: at most a few seconds per step, well inside systemd's stop timeout.
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 40_000);
});
