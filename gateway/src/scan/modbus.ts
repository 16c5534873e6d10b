// Modbus TCP: a device that answers on 502 is asked Read Device Identification (43/14: vendor,
// product, revision, model), which better devices answer, and tried against each built-in register
// map, unit by unit; the first map whose every read succeeds is its profile. Cheap UPSes and meters
// often know no 43/14: then the map fit is the whole classification.

import { collectModbus, type ModbusIdentity, ModbusPool, REGISTER_MAPS } from '@pantau/collectors/modbus';
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
  const target = (unitId: number) => ({
    transport: 'tcp' as const,
    host: address,
    port: o.port,
    unitId,
    timeoutMs: o.timeoutMs,
  });
  try {
    let identified: { unitId: number; id: ModbusIdentity } | null = null;
    for (const unitId of o.units) {
      const id = await pool
        .link(target(unitId))
        .identify(unitId, o.timeoutMs)
        .catch(() => null);
      if (id && !identified) identified = { unitId, id };
      for (const map of Object.values(REGISTER_MAPS)) {
        try {
          await collectModbus(target(unitId), map, { pool });
        } catch {
          continue; // this map does not fit this unit (an exception or no answer for its registers)
        }
        return found(address, o.port, unitId, id, map);
      }
    }
    // It speaks Modbus and says who it is, but no built-in map fits: worth listing, with what to do.
    if (identified)
      return {
        ...found(address, o.port, identified.unitId, identified.id, null),
        note: {
          id: 'Tidak ada peta register bawaan yang cocok: buat berkas peta (collectors/modbus/README.md)',
          en: 'No built-in register map fits: write a map file (collectors/modbus/README.md)',
        },
      };
    return null;
  } finally {
    pool.close();
  }
}

function found(
  address: string,
  port: number,
  unitId: number,
  id: ModbusIdentity | null,
  map: (typeof REGISTER_MAPS)[string] | null,
): FoundDevice {
  const vendor = id?.vendor ?? map?.vendor;
  const model = id?.model ?? id?.product ?? map?.name;
  return {
    address,
    port,
    kind: 'power',
    ...(vendor ? { vendor } : {}),
    ...(model ? { model } : {}),
    ...(id?.revision ? { firmware: id.revision } : {}),
    ...(map ? { profile: map.id } : {}),
    via: 'modbus',
    already_configured: false,
    access: { modbus: { port, unit_id: unitId, map: map?.id ?? '' } },
  };
}
