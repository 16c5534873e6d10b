// `pantau-gateway scan` and `pantau-gateway test-device`: the installer's two questions at a site —
// what answers on this LAN, and does this one device read properly.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fail, out } from '@pantau/config';
import { type GatewayConfig, loadGatewayConfig } from '../config.js';
import { scanLan, TargetError } from './index.js';
import { testDevice } from './test-device.js';
import type { FoundAccess, FoundDevice, FoundKind } from './types.js';

export const SCAN_USAGE = `pantau-gateway scan --subnet 10.1.2.0/24 [--address A ...] [--community public,...] [--config site.yaml]
        [--camera-user U --camera-password-file F] [--comm-key-file F] [--modbus-unit 1,2]
        [--only camera,snmp,zk,modbus] [--multicast] [--timeout 1000] [--json]
                                              find cameras, radios, terminals and power devices on the LAN
pantau-gateway test-device --address A --via snmp|onvif|zk|modbus [--port P] [--community C] [--snmp-version 2c]
        [--username U --password-file F] [--unit 1 --map ups-generic] [--transport tcp|udp] [--comm-key-file F]
        [--timezone Asia/Makassar] [--json]      read one device once, as the site box would
`;

const list = (v: string[] | undefined) =>
  (v ?? [])
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter(Boolean);
const secret = (file: string | undefined) => (file ? readFileSync(file, 'utf8').trim() : undefined);
const intOf = (v: string | undefined, flag: string, def: number): number => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`${flag} must be a whole number, not "${v}"`);
  return n;
};

function describe(f: FoundDevice): string {
  const who = [f.vendor, f.model, f.firmware].filter(Boolean).join(' ') || '(unknown / tidak dikenal)';
  const flag = f.already_configured ? ' [configured / sudah terdaftar]' : ' [NEW / BARU]';
  const extra = f.profile ? ` profile ${f.profile}` : '';
  const note = f.note ? `\n      ${f.note.id} / ${f.note.en}` : '';
  return `${f.address}:${f.port}  ${f.kind.padEnd(8)} via ${f.via.padEnd(12)} ${who}${extra}${f.name ? ` "${f.name}"` : ''}${flag}${note}`;
}

export async function scanCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      subnet: { type: 'string', multiple: true },
      address: { type: 'string', multiple: true },
      community: { type: 'string', multiple: true },
      config: { type: 'string' },
      'camera-user': { type: 'string' },
      'camera-password-file': { type: 'string' },
      'comm-key-file': { type: 'string' },
      'modbus-unit': { type: 'string', multiple: true },
      'snmp-port': { type: 'string' },
      'wsd-port': { type: 'string' },
      'zk-port': { type: 'string' },
      'modbus-port': { type: 'string' },
      only: { type: 'string', multiple: true },
      multicast: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '32' },
      json: { type: 'boolean', default: false },
    },
  });
  const subnets = list(values.subnet);
  const addresses = list(values.address);
  if (subnets.length === 0 && addresses.length === 0 && !values.multicast)
    fail(`give --subnet or --address (or --multicast)\n\n${SCAN_USAGE}`);
  const cfg: GatewayConfig | null = values.config ? loadGatewayConfig(values.config) : null;
  const only = list(values.only);
  for (const k of only)
    if (!['camera', 'snmp', 'zk', 'modbus'].includes(k))
      fail(`--only: unknown "${k}" (camera, snmp, zk, modbus)`);
  const password = secret(values['camera-password-file']);
  const commKey = secret(values['comm-key-file']);
  let found: FoundDevice[];
  try {
    found = await scanLan({
      subnets,
      addresses,
      communities: list(values.community).length ? list(values.community) : ['public'],
      ...(values['camera-user']
        ? { camera: { username: values['camera-user'], password: password ?? '' } }
        : {}),
      ...(commKey !== undefined ? { zkCommKey: intOf(commKey, '--comm-key-file', 0) } : {}),
      modbusUnits: list(values['modbus-unit']).map((u) => intOf(u, '--modbus-unit', 1)),
      snmpPort: intOf(values['snmp-port'], '--snmp-port', 161),
      wsdPort: intOf(values['wsd-port'], '--wsd-port', 3702),
      zkPort: intOf(values['zk-port'], '--zk-port', 4370),
      modbusPort: intOf(values['modbus-port'], '--modbus-port', 502),
      multicast: values.multicast ?? false,
      timeoutMs: intOf(values.timeout, '--timeout', 1000),
      concurrency: Math.max(1, intOf(values.concurrency, '--concurrency', 32)),
      ...(only.length ? { kinds: only as Array<'camera' | 'snmp' | 'zk' | 'modbus'> } : {}),
      ...(cfg ? { devices: cfg.devices } : {}),
    });
  } catch (e) {
    if (e instanceof TargetError) return fail(e.message);
    throw e;
  }
  if (values.json) return out(JSON.stringify(found, null, 2));
  if (found.length === 0) return out('nothing answered / tidak ada perangkat yang menjawab');
  for (const f of found) out(describe(f));
  const fresh = found.filter((f) => !f.already_configured).length;
  out(`${found.length} found, ${fresh} new / ${found.length} ditemukan, ${fresh} baru`);
}

export async function testDeviceCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      address: { type: 'string' },
      via: { type: 'string' },
      port: { type: 'string' },
      community: { type: 'string', default: 'public' },
      'snmp-version': { type: 'string', default: '2c' },
      username: { type: 'string' },
      'password-file': { type: 'string' },
      path: { type: 'string', default: '/onvif/device_service' },
      unit: { type: 'string', default: '1' },
      map: { type: 'string', default: 'ups-generic' },
      transport: { type: 'string', default: 'tcp' },
      'comm-key-file': { type: 'string' },
      timezone: { type: 'string', default: 'Asia/Makassar' },
      sample: { type: 'string', default: '3' },
      timeout: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const address = values.address ?? fail(`--address is required\n\n${SCAN_USAGE}`);
  const via = values.via ?? fail('--via is required: snmp, onvif, zk or modbus');
  let access: FoundAccess;
  let kind: FoundKind;
  switch (via) {
    case 'snmp': {
      const v = values['snmp-version'];
      if (v !== '1' && v !== '2c') fail('--snmp-version must be 1 or 2c');
      access = {
        snmp: {
          version: v as '1' | '2c',
          community: values.community!,
          port: intOf(values.port, '--port', 161),
        },
      };
      kind = 'radio';
      break;
    }
    case 'onvif':
      access = {
        onvif: {
          port: intOf(values.port, '--port', 80),
          path: values.path!,
          xaddr: '',
          authenticated: false,
        },
      };
      kind = 'camera';
      break;
    case 'zk':
      if (values.transport !== 'tcp' && values.transport !== 'udp') fail('--transport must be tcp or udp');
      access = {
        zk: { port: intOf(values.port, '--port', 4370), transport: values.transport as 'tcp' | 'udp' },
      };
      kind = 'terminal';
      break;
    case 'modbus':
      access = {
        modbus: {
          port: intOf(values.port, '--port', 502),
          unit_id: intOf(values.unit, '--unit', 1),
          map: values.map!,
        },
      };
      kind = 'power';
      break;
    default:
      return fail(`--via must be snmp, onvif, zk or modbus, not "${via}"`);
  }
  const commKey = secret(values['comm-key-file']);
  const r = await testDevice({
    address,
    kind,
    access,
    timeZone: values.timezone!,
    sampleS: intOf(values.sample, '--sample', 3),
    ...(values.timeout ? { timeoutMs: intOf(values.timeout, '--timeout', 2000) } : {}),
    ...(values.username
      ? { camera: { username: values.username, password: secret(values['password-file']) ?? '' } }
      : {}),
    ...(commKey !== undefined ? { zkCommKey: intOf(commKey, '--comm-key-file', 0) } : {}),
  });
  if (values.json) out(JSON.stringify(r, null, 2));
  else for (const l of r.lines) out(`${l.ok ? 'OK  ' : 'FAIL'} ${l.id} / ${l.en}`);
  if (!r.ok) process.exitCode = 1;
}
