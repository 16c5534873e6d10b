#!/usr/bin/env node
// Starts one or many simulated SNMP agents from a recording and prints each one's port as a JSON
// line; used by the benchmark and by hand when trying the collector against a recorded device.

import { parseArgs } from 'node:util';
import { loadRecording } from '../snmprec.js';
import { startSimulatedAgent } from './agent.js';
import type { Scenario } from './scenarios.js';

const { values } = parseArgs({
  options: {
    recording: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    count: { type: 'string', default: '1' },
    community: { type: 'string', default: 'public' },
    scenario: { type: 'string', multiple: true, default: [] },
  },
});

if (!values.recording) {
  process.stderr.write(
    'usage: simulator --recording FILE [--count N] [--port P] [--scenario counters|fade|reboot]...\n',
  );
  process.exit(1);
}

const scenarios: Scenario[] = values.scenario.map((s): Scenario => {
  if (s === 'counters') return { kind: 'counters', bitRateIn: 10e6, bitRateOut: 2e6 };
  if (s === 'fade') return { kind: 'fade', startMs: 30_000, durationMs: 240_000, depthDb: 18 };
  if (s === 'reboot') return { kind: 'reboot', atMs: 120_000 };
  process.stderr.write(`unknown scenario "${s}"\n`);
  return process.exit(1);
});

const recording = loadRecording(values.recording);
const count = Number(values.count);
const base = Number(values.port);
for (let i = 0; i < count; i++) {
  const a = await startSimulatedAgent({
    recording,
    host: values.host,
    port: base === 0 ? 0 : base + i,
    community: values.community,
    scenarios,
  });
  process.stdout.write(`${JSON.stringify({ host: a.host, port: a.port })}\n`);
}
process.stdout.write(`${JSON.stringify({ ready: count })}\n`);
