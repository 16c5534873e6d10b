// Prometheus's own check of the text format: `promtool check metrics` (Debian package prometheus)
// parses an exposition as the Prometheus server does and lints it (names, units, _total on
// counters, HELP on every family). Stricter than the npm parser, which accepts what it can read.

import { spawn } from 'node:child_process';
import { requireBinary } from './procs.js';

export const PROMTOOL = '/usr/bin/promtool';

/** Resolves with nothing when promtool finds no problem; rejects with what it said otherwise. */
export function promtoolCheck(text: string, what: string): Promise<void> {
  requireBinary(PROMTOOL, 'apt-get install -y prometheus');
  return new Promise((resolve, reject) => {
    const p = spawn(PROMTOOL, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.on('error', reject);
    p.on('close', (code) =>
      // Exit 1: not parseable; 3: parsed, with lint problems. Both fail, and so does any remark.
      code === 0 && out.trim() === ''
        ? resolve()
        : reject(new Error(`promtool check metrics on ${what}: exit ${code}\n${out}`)),
    );
    p.stdin.end(text);
  });
}
