// The Modbus peer tests talk to: Debian's python3-pymodbus serving the built-in register maps
// (test/support/modbus-server.py). Fails with the install command when it is missing.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const PYTHON = '/usr/bin/python3';
const SERVER = join(import.meta.dirname, 'modbus-server.py');
export const MODBUS_APT =
  'apt-get install -y --no-install-recommends python3-pymodbus python3-serial python3-serial-asyncio';

export function requireModbusPeer(): void {
  if (!existsSync(PYTHON))
    throw new Error(`${PYTHON} (Debian's python3) is missing. Install it with: ${MODBUS_APT}`);
  const r = spawnSync(PYTHON, ['-c', 'import pymodbus, serial, serial_asyncio'], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`python3-pymodbus is missing. Install it with: ${MODBUS_APT}\n${r.stderr}`);
}

export interface ModbusServer {
  proc: ChildProcess;
  port: number;
  /** RTU: the serial port to open. */
  path?: string;
  output: () => string;
  /** Reads answered so far for one unit, as "unit fc address count" (from the server's REQ lines). */
  requests: (unit: number) => string[];
  signal: (s: NodeJS.Signals) => void;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/** Servers still running, so a test's afterAll can stop whatever it started. */
export const runningModbusServers = new Set<ModbusServer>();

export function startModbusServer(
  opts: { port?: number; rtu?: boolean; onBattery?: boolean; host?: string; identity?: boolean } = {},
): Promise<ModbusServer> {
  const args = [SERVER, '--port', String(opts.port ?? 0)];
  if (opts.host) args.push('--host', opts.host);
  if (opts.identity) args.push('--identity');
  if (opts.rtu) args.push('--rtu');
  if (opts.onBattery) args.push('--on-battery');
  const proc = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let ready = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`modbus-server.py did not get ready in 10 s:\n${out}`));
    }, 10_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`modbus-server.py exited (${code}) before it was ready:\n${out}`));
    };
    proc.once('exit', onExit);
    proc.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready ? null : /^READY (?:rtu (\S+)|(\d+))$/m.exec(out);
      if (!m) return;
      ready = true;
      clearTimeout(timer);
      proc.off('exit', onExit);
      const server: ModbusServer = {
        proc,
        port: m[2] ? Number(m[2]) : 0,
        ...(m[1] ? { path: m[1] } : {}),
        output: () => out,
        requests: (unit) =>
          [...out.matchAll(/^REQ unit=(\d+) fc=(\d+) address=(\d+) count=(\d+)$/gm)]
            .filter((x) => Number(x[1]) === unit)
            .map((x) => `${x[1]} ${x[2]} ${x[3]} ${x[4]}`),
        signal: (s) => proc.kill(s),
        stop: (signal = 'SIGTERM') =>
          new Promise<void>((res) => {
            runningModbusServers.delete(server);
            if (proc.exitCode !== null || proc.signalCode !== null) return res();
            proc.once('exit', () => res());
            proc.kill(signal);
          }),
      };
      runningModbusServers.add(server);
      resolve(server);
    });
  });
}
