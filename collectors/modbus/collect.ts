// One Modbus poll of one device: the map's reads (as few as it allows) over the pool's kept-open
// link, decoded to metrics. Throws CollectorError when the device cannot be read; a bad map is a
// RegisterMapError (a config mistake, not a device fault).

import type { MetricName, Reading } from '@pantau/contract';
import { CollectorError } from '../common/errors.js';
import type { CollectorResult } from '../common/types.js';
import { ModbusPool, type ModbusTarget, rtuAvailable, SERIALPORT_MISSING } from './connection.js';
import { decodeBlock, planReads, type ReadBlock } from './decode.js';
import { loadRegisterMap, type RegisterMap } from './map.js';

/** Maps checked and planned once, not at every poll. */
const plans = new WeakMap<RegisterMap, ReadBlock[]>();

/** The reads a map needs, checking the map the first time it is seen. */
export function readsFor(map: RegisterMap): ReadBlock[] {
  let p = plans.get(map);
  if (!p) {
    loadRegisterMap(map, `register map ${typeof map?.id === 'string' ? map.id : '(no id)'}`);
    p = planReads(map);
    plans.set(map, p);
  }
  return p;
}

function checkTarget(t: ModbusTarget): void {
  const bad = (msg: string) => {
    throw new CollectorError('unsupported', `modbus target: ${msg}`);
  };
  if (t.transport === 'tcp') {
    if (!t.host) bad('transport tcp needs a host');
    if (t.port !== undefined && (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535))
      bad(`port ${t.port} is not a TCP port (1–65535)`);
  } else if (t.transport === 'rtu') {
    if (!t.path) bad('transport rtu needs a serial port path, e.g. /dev/ttyUSB0');
    if (!rtuAvailable()) throw new CollectorError('unsupported', SERIALPORT_MISSING);
  } else bad(`transport must be tcp or rtu, not ${String(t.transport)}`);
  if (!Number.isInteger(t.unitId) || t.unitId < 0 || t.unitId > 255) bad(`unit id ${t.unitId} is not 0–255`);
  if (!(t.timeoutMs > 0)) bad('timeoutMs must be above 0');
}

/** The pool `collectModbus` uses when it is given none: one kept-open link per endpoint for the process. */
export const sharedModbusPool = new ModbusPool();

/** Polls one Modbus device once with a register map. */
export async function collectModbus(
  target: ModbusTarget,
  map: RegisterMap,
  opts: { pool?: ModbusPool; now?: () => number } = {},
): Promise<CollectorResult> {
  checkTarget(target);
  const blocks = readsFor(map);
  const link = (opts.pool ?? sharedModbusPool).link(target);
  const now = opts.now ?? Date.now;
  const data: number[][] = [];
  for (const block of blocks)
    data.push(await link.read(target.unitId, block.fn, block.address, block.count, target.timeoutMs));
  const ts = now();
  // The device's own reading first (unlabelled), then one per label set, as the other collectors do.
  const byLabels = new Map<string, Reading>([['[]', { ts, values: {} }]]);
  blocks.forEach((block, i) => {
    for (const { entry, value } of decodeBlock(block, data[i]!)) {
      if (value === null) continue;
      const labels = entry.labels ?? {};
      const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
      let r = byLabels.get(key);
      if (!r) {
        r = { ts, values: {}, labels };
        byLabels.set(key, r);
      }
      r.values[entry.metric as MetricName] = value;
    }
  });
  return {
    kind: map.kind ?? 'power',
    readings: [...byLabels.values()],
    identity: { profile: map.id, model: map.name, ...(map.vendor ? { vendor: map.vendor } : {}) },
    observations: [],
  };
}
