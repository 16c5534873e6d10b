// Cameras: WS-Discovery (unicast to each address, multicast too when asked), then, with the
// installer's camera credentials, GetDeviceInformation for vendor, model and firmware. Without
// credentials the discovery scopes (name, hardware) are all a camera tells.

import { collectOnvif, type DiscoveredDevice, discover } from '@pantau/collectors/onvif';
import { mapLimit } from './targets.js';
import type { FoundDevice } from './types.js';

export interface OnvifScanOptions {
  addresses: string[];
  wsdPort: number;
  multicast: boolean;
  timeoutMs: number;
  camera?: { username: string; password: string };
  signal?: AbortSignal;
}

/** Where the camera's device service is, from the first XAddr that is a URL. */
function serviceOf(d: DiscoveredDevice): { port: number; path: string; xaddr: string } {
  for (const x of d.xaddrs) {
    try {
      const u = new URL(x);
      return {
        port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80),
        path: u.pathname || '/onvif/device_service',
        xaddr: x,
      };
    } catch {
      // not a URL: try the next one
    }
  }
  return { port: 80, path: '/onvif/device_service', xaddr: '' };
}

export async function scanCameras(o: OnvifScanOptions): Promise<FoundDevice[]> {
  if (o.addresses.length === 0 && !o.multicast) return [];
  const found = await discover({
    // Wait a little longer than one probe: cameras answer after a random delay (up to 500 ms by spec).
    timeoutMs: Math.max(1500, o.timeoutMs),
    addresses: o.addresses,
    port: o.wsdPort,
    multicast: o.multicast,
    ...(o.signal ? { signal: o.signal } : {}),
  }).catch(() => [] as DiscoveredDevice[]);
  const byAddress = new Map(found.map((d) => [d.address, d]));
  return mapLimit([...byAddress.values()], 8, async (d) => {
    const svc = serviceOf(d);
    const base: FoundDevice = {
      address: d.address,
      port: svc.port,
      kind: 'camera',
      via: 'ws-discovery',
      already_configured: false,
      ...(d.scopes.name ? { name: d.scopes.name } : {}),
      ...(d.scopes.hardware ? { model: d.scopes.hardware } : {}),
      access: { onvif: { port: svc.port, path: svc.path, xaddr: svc.xaddr, authenticated: false } },
    };
    if (!o.camera) {
      return {
        ...base,
        note: {
          id: 'Isi nama pengguna dan kata sandi kamera untuk membaca merek, model dan firmware',
          en: "Give the camera's username and password to read its make, model and firmware",
        },
      };
    }
    const r = await collectOnvif({
      address: d.address,
      port: svc.port,
      path: svc.path,
      username: o.camera.username,
      password: o.camera.password,
      timeoutMs: Math.max(3000, o.timeoutMs),
    });
    if (r.state !== 'UpWithAuth' || !r.identity)
      return {
        ...base,
        note: {
          id: `Kamera menolak kredensial (${r.state}): ${r.error?.message ?? ''}`,
          en: `The camera refused the credentials (${r.state}): ${r.error?.message ?? ''}`,
        },
      };
    return {
      ...base,
      vendor: r.identity.manufacturer,
      model: r.identity.model,
      firmware: r.identity.firmware,
      ...(r.identity.serial ? { serial: r.identity.serial } : {}),
      access: { onvif: { ...base.access.onvif!, authenticated: true } },
    };
  });
}
