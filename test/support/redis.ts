// A real redis-server for tests: its own port on 127.0.0.1, its own folder, nothing written to disk,
// a password as in production.

import { spawn } from 'node:child_process';
import { freePort, portOpen, requireBinary, waitFor } from './procs.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

export interface TestRedis {
  port: number;
  password: string;
  url: string;
  stop(): Promise<void>;
}

/** `port`: start again where an earlier one ran (a restart). */
export async function startRedis(o: { dir: string; password: string; port?: number }): Promise<TestRedis> {
  requireBinary(REDIS_SERVER, 'apt-get install -y redis-server');
  const port = o.port ?? (await freePort());
  const proc = spawn(
    REDIS_SERVER,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      o.dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--requirepass',
      o.password,
    ],
    { stdio: 'ignore' },
  );
  await waitFor('redis-server listening', () => portOpen(port), 10_000, 50);
  return {
    port,
    password: o.password,
    url: `redis://127.0.0.1:${port}/0`,
    stop: () =>
      new Promise((res) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return res();
        proc.once('exit', () => res());
        proc.kill('SIGKILL');
      }),
  };
}
