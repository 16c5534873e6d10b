// Modbus TCP: a device that answers on 502 is tried against each built-in register map, unit by unit;
// the first map whose every read succeeds names it. Modbus has no common "who are you" that cheap
// UPSes and meters answer, so the map fit is the classification.

import { collectModbus, ModbusPool, REGISTER_MAPS } from '@pantau/collectors/modbus';
import { tcpOpen } from './tcp.js';
import type { FoundDevice } from './types.js';

export interface ModbusProbeOptions {
  port: number;
  units: number[];
  timeoutMs: number;
}

export async function probeModbus(address: string, o: ModbusProbeOptions): Promise<FoundDevice | null> {
  if (!(await tcpOpen(address, o.port, o.timeoutMs))) return null;
  // Its own pool: the scan must not leave links open in the daemon's shared one.
  const pool = new ModbusPool();
  try {
    for (const unitId of o.units) {
      for (const map of Object.values(REGISTER_MAPS)) {
        try {
          await collectModbus(
            { transport: 'tcp', host: address, port: o.port, unitId, timeoutMs: o.timeoutMs },
            map,
            { pool },
          );
        } catch {
          continue; // this map does not fit this unit (an exception or no answer for its registers)
        }
        return {
          address,
          port: o.port,
          kind: 'power',
          ...(map.vendor ? { vendor: map.vendor } : {}),
          model: map.name ?? map.id,
          profile: map.id,
          via: 'modbus',
          already_configured: false,
          access: { modbus: { port: o.port, unit_id: unitId, map: map.id } },
        };
      }
    }
    return null;
  } finally {
    pool.close();
  }
}
