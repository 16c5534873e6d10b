// A private InfluxDB 1.x for tests and benchmarks: Debian's influxd on 127.0.0.1, free ports, its
// own data directory, reporting to InfluxData switched off. Lives in the bench project so the
// benchmark can use it too; test/support/influxd.ts re-exports it for the tests.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './util.js';

export const INFLUXD = '/usr/bin/influxd';

export interface Influxd {
  port: number;
  url: string;
  dir: string;
  output(): string;
  /** Stops the daemon, keeping its data (for restart()). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops it and removes its data. */
  remove(): Promise<void>;
}

export async function startInfluxd(): Promise<Influxd> {
  if (!existsSync(INFLUXD))
    throw new Error(`${INFLUXD} is not installed. Install it with: apt-get install -y influxdb`);
  const dir = mkdtempSync(join(tmpdir(), 'pantau-influxd-'));
  const port = await freePort();
  const rpcPort = await freePort();
  const conf = join(dir, 'influxdb.conf');
  writeFileSync(
    conf,
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[coordinator]
  log-queries-after = "0s"
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
  auth-enabled = false
[continuous_queries]
  enabled = true
  log-enabled = false
  run-interval = "1s"
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[logging]
  level = "warn"
`,
  );
  const url = `http://127.0.0.1:${port}`;
  let proc: ChildProcess | null = null;
  let out = '';
  const start = async () => {
    const p = spawn(INFLUXD, ['run', '-config', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const until = Date.now() + 30_000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`influxd exited (${p.exitCode}):\n${out.slice(-2000)}`);
      try {
        if ((await fetch(`${url}/ping`)).status === 204) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > until) throw new Error(`influxd did not answer on ${url}:\n${out.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = () =>
    new Promise<void>((res) => {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return res();
      p.once('exit', () => res());
      p.kill('SIGTERM');
    });
  await start();
  return {
    port,
    url,
    dir,
    output: () => out,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
