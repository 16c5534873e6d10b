// The installer's pending site.yaml: the running text plus the devices added on the page, edited as a
// YAML document so the file's comments and layout survive. Secrets (camera passwords, comm keys) go
// to their own files beside site.yaml, never into it.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isDeviceId } from '@pantau/contract';
import { isMap, isSeq, parseDocument, YAMLSeq } from 'yaml';
import type { FoundDevice } from '../scan/index.js';

export type Priority = 'emergency' | 'basic' | 'normal';

export interface AddDevice {
  found: FoundDevice;
  id: string;
  name: string;
  location?: string;
  priority: Priority;
  camera?: { username: string; password: string };
  commKey?: number;
}

export class DraftError extends Error {}

/** A device id from a place name: "Pasar Sentral – Kamera 1" → "pasar-sentral-kamera-1". */
export function slugify(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
}

/** Where a device's secret lives, relative to site.yaml. */
export const secretPath = (id: string, what: 'password' | 'commkey') => `secrets/${id}.${what}`;

function writeSecret(configFile: string, rel: string, value: string): void {
  const file = join(dirname(configFile), rel);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${value}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** The site.yaml entry for a found device, as plain data (what `devices:` gets). */
export function deviceEntry(a: AddDevice): Record<string, unknown> {
  const f = a.found;
  const base: Record<string, unknown> = {
    id: a.id,
    name: a.name,
    ...(a.location ? { location: a.location } : {}),
    priority: a.priority,
    kind: f.kind === 'host' ? 'host' : f.kind,
    address: f.address,
  };
  const x = f.access;
  if (x.onvif)
    return {
      ...base,
      kind: 'camera',
      onvif: {
        ...(x.onvif.port !== 80 ? { port: x.onvif.port } : {}),
        ...(x.onvif.path !== '/onvif/device_service' ? { path: x.onvif.path } : {}),
        username: a.camera?.username || 'admin',
        password_file: secretPath(a.id, 'password'),
      },
    };
  if (x.zk)
    return {
      ...base,
      kind: 'terminal',
      zk: {
        ...(x.zk.port !== 4370 ? { port: x.zk.port } : {}),
        transport: x.zk.transport,
        ...(a.commKey !== undefined && a.commKey !== 0 ? { comm_key_file: secretPath(a.id, 'commkey') } : {}),
      },
    };
  if (x.modbus)
    return {
      ...base,
      kind: 'power',
      modbus: {
        ...(x.modbus.port !== 502 ? { port: x.modbus.port } : {}),
        unit_id: x.modbus.unit_id,
        map: x.modbus.map,
      },
    };
  if (x.snmp)
    return {
      ...base,
      snmp: {
        version: x.snmp.version,
        community: x.snmp.community,
        ...(x.snmp.port !== 161 ? { port: x.snmp.port } : {}),
      },
    };
  throw new DraftError('this device was found without a way to read it');
}

/** The ids in a site.yaml text's devices list. */
export function deviceIds(text: string): string[] {
  const doc = parseDocument(text);
  const devices = doc.get('devices');
  if (!isSeq(devices)) return [];
  return devices.items.flatMap((d) =>
    isMap(d) && typeof d.get('id') === 'string' ? [d.get('id') as string] : [],
  );
}

/**
 * Appends one device to site.yaml text; writes its secret file (beside site.yaml) when it has one.
 * Refuses a bad or taken id with a reason the page can show.
 */
export function addDevice(text: string, configFile: string, a: AddDevice): string {
  if (!isDeviceId(a.id))
    throw new DraftError(
      `"${a.id}" cannot be a device id: lowercase letters, digits and dashes / hanya huruf kecil, angka dan tanda minus`,
    );
  if (deviceIds(text).includes(a.id))
    throw new DraftError(`a device "${a.id}" is already in site.yaml / perangkat "${a.id}" sudah ada`);
  if (!a.name.trim()) throw new DraftError('a name is needed / nama wajib diisi');
  if (a.found.access.modbus && !a.found.access.modbus.map)
    throw new DraftError(
      'no built-in register map fits this device: write a map file, then add it to site.yaml by hand / belum ada peta register yang cocok',
    );
  if (a.found.access.onvif && !a.camera?.password)
    throw new DraftError("the camera's password is needed / kata sandi kamera wajib diisi");
  const entry = deviceEntry(a);
  const doc = parseDocument(text);
  let devices = doc.get('devices');
  if (!isSeq(devices)) {
    devices = new YAMLSeq();
    doc.set('devices', devices);
  }
  (devices as YAMLSeq).items.push(doc.createNode(entry));
  if (a.found.access.onvif) writeSecret(configFile, secretPath(a.id, 'password'), a.camera?.password ?? '');
  if (a.found.access.zk && a.commKey) writeSecret(configFile, secretPath(a.id, 'commkey'), String(a.commKey));
  // No folding: a one-line flow entry stays one line.
  return doc.toString({ lineWidth: 0 });
}

/** Removes a device from site.yaml text (a pending addition the installer changed their mind about). */
export function removeDevice(text: string, id: string): string {
  const doc = parseDocument(text);
  const devices = doc.get('devices');
  if (!isSeq(devices)) return text;
  const i = devices.items.findIndex((d) => isMap(d) && d.get('id') === id);
  if (i < 0) throw new DraftError(`no device "${id}" / tidak ada perangkat "${id}"`);
  devices.items.splice(i, 1);
  return doc.toString({ lineWidth: 0 });
}
