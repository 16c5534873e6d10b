#!/usr/bin/env node
// Starts one or many simulated ZKTeco attendance terminals and prints each one's address as a JSON
// line, then {"ready":N}; used by the demo, and by hand when trying the collector.
//
//   node collectors/dist/zkteco/simulator/cli.js --records 5000 --record-size 40 --comm-key 12
//   node collectors/dist/zkteco/simulator/cli.js --count 3 --port 4370 --transport both --punch-every-s 30

import { parseArgs } from 'node:util';
import type { RecordSize } from '../protocol.js';
import { isTimeZone } from '../zone.js';
import { type SimTransport, startZkSimulator, type ZkSimulator } from './server.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    count: { type: 'string', default: '1' },
    transport: { type: 'string', default: 'both' },
    'comm-key': { type: 'string' },
    records: { type: 'string', default: '1000' },
    'record-size': { type: 'string', default: '40' },
    users: { type: 'string', default: '50' },
    capacity: { type: 'string', default: '100000' },
    full: { type: 'boolean', default: false },
    'clock-offset-s': { type: 'string', default: '0' },
    'time-zone': { type: 'string', default: 'Asia/Makassar' },
    serial: { type: 'string' },
    name: { type: 'string' },
    'frame-gap-ms': { type: 'string', default: '1' },
    'punch-every-s': { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
});

const usage =
  'usage: zkteco-simulator [--count N] [--port P] [--host H] [--transport tcp|udp|both]\n' +
  '  [--comm-key K] [--records N] [--record-size 8|16|40] [--users N] [--capacity N] [--full]\n' +
  '  [--clock-offset-s S] [--time-zone Asia/Makassar] [--serial S] [--name NAME]\n' +
  '  [--frame-gap-ms MS] [--punch-every-s S]\n' +
  'Ports count up from --port (0: free ports). Serials get "-1".."-N" when N > 1. --full makes the\n' +
  'terminals hang as with a full memory (CONNECT answered, nothing else). --punch-every-s adds a\n' +
  'punch to each terminal at that interval.\n';

const fail = (msg: string): never => {
  process.stderr.write(`${msg}\n${usage}`);
  return process.exit(1);
};

if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const int = (name: string, v: string | undefined, min = 0): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, not "${v}"`);
  return n;
};
const count = int('count', values.count, 1);
const base = int('port', values.port);
if (base > 65535) fail('--port must be a port number');
const transport = values.transport as SimTransport;
if (!['tcp', 'udp', 'both'].includes(transport)) fail(`--transport must be tcp, udp or both`);
const recordSize = Number(values['record-size']) as RecordSize;
if (![8, 16, 40].includes(recordSize)) fail('--record-size must be 8, 16 or 40');
const offsetS = Number(values['clock-offset-s']);
if (!Number.isFinite(offsetS)) fail('--clock-offset-s must be a number');
const timeZone = values['time-zone'];
if (!isTimeZone(timeZone)) fail(`--time-zone "${timeZone}" is not an IANA time zone`);
const key = values['comm-key'] === undefined ? undefined : int('comm-key', values['comm-key']);
const punchEveryS = Number(values['punch-every-s']);
if (!Number.isFinite(punchEveryS) || punchEveryS < 0) fail('--punch-every-s must be ≥ 0');

const sims: ZkSimulator[] = [];
for (let i = 0; i < count; i++) {
  const sim = await startZkSimulator({
    host: values.host,
    port: base === 0 ? 0 : base + i,
    transport,
    ...(key !== undefined ? { commKey: key } : {}),
    records: int('records', values.records),
    recordSize,
    users: int('users', values.users, 1),
    capacity: { records: int('capacity', values.capacity, 1) },
    full: values.full,
    clockOffsetS: offsetS,
    timeZone,
    frameGapMs: int('frame-gap-ms', values['frame-gap-ms']),
    ...(values.serial ? { serial: count > 1 ? `${values.serial}-${i + 1}` : values.serial } : {}),
    ...(values.name ? { name: values.name } : {}),
  });
  sims.push(sim);
  process.stdout.write(`${JSON.stringify({ host: sim.host, port: sim.port, transport: sim.transport })}\n`);
}
process.stdout.write(`${JSON.stringify({ ready: count })}\n`);

const timer =
  punchEveryS > 0
    ? setInterval(() => {
        for (const s of sims) {
          const users = s.users();
          const u = users[Math.floor(Math.random() * users.length)];
          s.addPunch({
            ...(u ? { uid: u.uid, user_id: u.user_id } : {}),
            punch: new Date().getHours() < 12 ? 0 : 1,
          });
        }
      }, punchEveryS * 1000)
    : undefined;

const stop = async () => {
  if (timer) clearInterval(timer);
  await Promise.all(sims.map((s) => s.close()));
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
