#!/usr/bin/env node
// Starts one or many simulated ONVIF cameras and prints each one's address as a JSON line, then
// {"ready":N}; used by the demo and the benchmarks, and by hand when trying the collector.
//
//   node collectors/dist/onvif/simulator/cli.js --count 3 --clock-offset-s 3600 \
//     --rtsp rtsp://127.0.0.1:8554/moving --discovery-port 0

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type OnvifSimulator, type SimulatorMode, startOnvifSimulator } from './server.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    count: { type: 'string', default: '1' },
    username: { type: 'string', default: 'admin' },
    password: { type: 'string', default: 'admin' },
    'clock-offset-s': { type: 'string', default: '0' },
    rtsp: { type: 'string', default: 'rtsp://127.0.0.1:8554/moving' },
    'rtsp-sub': { type: 'string' },
    auth: { type: 'string', default: 'both' },
    mode: { type: 'string', default: 'normal' },
    snapshot: { type: 'string' },
    'discovery-port': { type: 'string' },
    multicast: { type: 'boolean', default: false },
    name: { type: 'string' },
    fixtures: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

const usage =
  'usage: onvif-simulator [--count N] [--port P] [--host H] [--username U] [--password P]\n' +
  '  [--clock-offset-s S] [--rtsp URL] [--rtsp-sub URL] [--auth wsse|digest|both]\n' +
  '  [--mode normal|silent|hang|garbage] [--snapshot FILE.jpg] [--discovery-port P] [--multicast]\n' +
  '  [--name NAME] [--fixtures DIR]\n' +
  'Ports count up from --port (0: free ports), and so do discovery ports unless --multicast\n' +
  '(all share --discovery-port, normally 3702, and join 239.255.255.250). Names get " 1".." N" when N > 1.\n';

const fail = (msg: string): never => {
  process.stderr.write(`${msg}\n${usage}`);
  return process.exit(1);
};

if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const count = Number(values.count);
const base = Number(values.port);
const offsetS = Number(values['clock-offset-s']);
if (!Number.isInteger(count) || count < 1) fail(`--count must be a positive integer, not "${values.count}"`);
if (!Number.isInteger(base) || base < 0 || base > 65535)
  fail(`--port must be a port number, not "${values.port}"`);
if (!Number.isFinite(offsetS)) fail(`--clock-offset-s must be a number, not "${values['clock-offset-s']}"`);
const auth = values.auth;
if (auth !== 'wsse' && auth !== 'digest' && auth !== 'both') fail(`--auth must be wsse, digest or both`);
const mode = values.mode as SimulatorMode;
if (!['normal', 'silent', 'hang', 'garbage'].includes(mode)) fail(`unknown --mode "${values.mode}"`);
const discoveryBase = values['discovery-port'] === undefined ? undefined : Number(values['discovery-port']);
if (discoveryBase !== undefined && !Number.isInteger(discoveryBase))
  fail('--discovery-port must be a port number');
const snapshot = values.snapshot ? readFileSync(values.snapshot) : undefined;

const sims: OnvifSimulator[] = [];
for (let i = 0; i < count; i++) {
  const sim = await startOnvifSimulator({
    host: values.host,
    port: base === 0 ? 0 : base + i,
    username: values.username,
    password: values.password,
    clockOffsetMs: offsetS * 1000,
    rtspBase: values.rtsp,
    ...(values['rtsp-sub'] ? { rtspSubBase: values['rtsp-sub'] } : {}),
    auth: auth as 'wsse' | 'digest' | 'both',
    mode,
    ...(snapshot ? { snapshot } : {}),
    ...(discoveryBase !== undefined
      ? { discoveryPort: discoveryBase === 0 || values.multicast ? discoveryBase : discoveryBase + i }
      : {}),
    ...(values.multicast ? { discoveryMulticast: true } : {}),
    ...(values.name !== undefined ? { name: count > 1 ? `${values.name} ${i + 1}` : values.name } : {}),
    ...(values.fixtures ? { fixturesDir: values.fixtures } : {}),
  });
  sims.push(sim);
  process.stdout.write(
    `${JSON.stringify({ host: sim.host, port: sim.port, url: sim.url, discoveryPort: sim.discoveryPort })}\n`,
  );
}
process.stdout.write(`${JSON.stringify({ ready: count })}\n`);

const stop = async () => {
  await Promise.all(sims.map((s) => s.close()));
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
