// What every Pantau command line shares: plain output, a clear failure, and exit code 2 for a
// config error, so systemd and installers can tell "fix your file" from "something broke".

import { ConfigError, EXIT_CONFIG } from './index.js';

export const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

export const fail = (s: string, code = 1): never => {
  process.stderr.write(`${s}\n`);
  process.exit(code);
};

/** Runs a CLI's main; a ConfigError exits 2 with its file:line: field: reason lines. */
export function runCli(name: string, main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    if (e instanceof ConfigError) fail(e.message, EXIT_CONFIG);
    fail(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  });
}

// A reader that stops early (`| head`) is not an error of ours.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
