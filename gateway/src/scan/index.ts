// A LAN scan for the installer: which cameras, radios, terminals and power devices answer here, who
// they are, and which of them site.yaml does not watch yet. Each protocol sweeps with its own bounded
// concurrency; the four run side by side.

import type { DeviceConfig } from '../config.js';
import { probeModbus } from './modbus.js';
import { scanCameras } from './onvif.js';
import { probeSnmp } from './snmp.js';
import { mapLimit, scanTargets } from './targets.js';
import type { FoundDevice, ScanOptions } from './types.js';
import { probeZk } from './zk.js';

export { expandCidr, MAX_PREFIX_HOSTS, mapLimit, scanTargets, TargetError } from './targets.js';
export { tcpOpen } from './tcp.js';
export type { FoundAccess, FoundDevice, FoundKind, FoundVia, ScanOptions } from './types.js';

const ALL = ['camera', 'snmp', 'zk', 'modbus'] as const;

/** Whether site.yaml already watches this device the way the scan found it. */
export function isConfigured(f: FoundDevice, devices: readonly DeviceConfig[]): boolean {
  return devices.some((d) => {
    if (d.address !== f.address) return false;
    switch (f.via) {
      case 'ws-discovery':
        return d.kind === 'camera';
      case 'zk':
        return d.kind === 'terminal';
      case 'modbus':
        return d.kind === 'power' && !!d.modbus && (d.modbus.port ?? 502) === f.port;
      case 'snmp':
        return !!d.snmp || d.kind === 'radio' || d.kind === 'host';
    }
    return false;
  });
}

const addressKey = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);

export async function scanLan(
  o: ScanOptions & { devices?: readonly DeviceConfig[] },
): Promise<FoundDevice[]> {
  const targets = scanTargets(o.subnets ?? [], o.addresses ?? []);
  const kinds = new Set(o.kinds ?? ALL);
  const timeoutMs = o.timeoutMs ?? 1000;
  const limit = o.concurrency ?? 32;
  const sweep = async (
    protocol: string,
    probe: (a: string) => Promise<FoundDevice | null>,
  ): Promise<FoundDevice[]> => {
    let done = 0;
    const r = await mapLimit(targets, limit, async (a) => {
      if (o.signal?.aborted) return null;
      const f = await probe(a).catch(() => null);
      o.onProgress?.({ protocol, done: ++done, total: targets.length });
      return f;
    });
    return r.filter((x): x is FoundDevice => x !== null);
  };
  const parts = await Promise.all([
    kinds.has('camera')
      ? scanCameras({
          addresses: targets,
          wsdPort: o.wsdPort ?? 3702,
          multicast: o.multicast ?? false,
          timeoutMs,
          ...(o.camera ? { camera: o.camera } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
        })
      : [],
    kinds.has('snmp')
      ? sweep('snmp', (a) =>
          probeSnmp(a, { communities: o.communities ?? ['public'], port: o.snmpPort ?? 161, timeoutMs }),
        )
      : [],
    kinds.has('zk')
      ? sweep('zk', (a) =>
          probeZk(a, {
            port: o.zkPort ?? 4370,
            timeoutMs,
            ...(o.zkCommKey !== undefined ? { commKey: o.zkCommKey } : {}),
          }),
        )
      : [],
    kinds.has('modbus')
      ? sweep('modbus', (a) =>
          probeModbus(a, { port: o.modbusPort ?? 502, units: o.modbusUnits ?? [1], timeoutMs }),
        )
      : [],
  ]);
  const devices = o.devices ?? [];
  return parts
    .flat()
    .map((f) => ({ ...f, already_configured: isConfigured(f, devices) }))
    .sort((a, b) => addressKey(a.address) - addressKey(b.address) || a.port - b.port);
}
export { type DeviceTestRequest, type DeviceTestResult, type Line, testDevice } from './test-device.js';
