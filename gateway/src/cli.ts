#!/usr/bin/env node
// pantau-gateway: run the site box, check its config, or read one device now.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CollectorResult } from '@pantau/collectors/common';
import { collectOnvif, discover } from '@pantau/collectors/onvif';
import { probeStream } from '@pantau/collectors/rtsp';
import { collectSnmp, loadRecording, newSnmpMemory, SnmpSession } from '@pantau/collectors/snmp';
import { startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { CONFIG_KINDS, fail, generateSecret, migrateConfigCommand, out, runCli } from '@pantau/config';
import { withCredentials } from './camera.js';
import { loadGatewayConfig } from './config.js';
import { startGateway } from './daemon.js';
import { EnrollError, enrollSiteBox } from './enroll.js';
import { commissionCommand, installerPinCommand } from './installer/cli.js';
import { SCAN_USAGE, scanCommand, testDeviceCommand } from './scan/cli.js';

const USAGE = `pantau-gateway run --config site.yaml        run the site box
pantau-gateway check-config FILE              validate site.yaml (exit 2 on error)
pantau-gateway migrate-config FILE            rewrite a site.yaml of an older config version in the current one (keeps FILE.v<N>.bak)
pantau-gateway probe snmp --address A [--port 161] [--community public] [--version 2c] [--json]
pantau-gateway probe snmp --walk-file FILE.snmprec [--json]   decode a recorded walk offline
pantau-gateway probe camera --address A [--port 80] --username U --password-file F [--rtsp URL] [--sample 4] [--json]
                                              ONVIF facts and a short sample of the stream
pantau-gateway enroll --central https://central:8443 --token XXXX-XXXX-XXXX-XXXX [--config /etc/pantau/site.yaml]
                      [--ca-file F]        join the central with the one-time token from its dashboard
pantau-gateway discover onvif [--address A[:port] ...] [--timeout 3000] [--json]
                                              WS-Discovery: multicast, or unicast to given addresses
${SCAN_USAGE}pantau-gateway installer-pin --config site.yaml   set the installer page's PIN (read from stdin)
pantau-gateway commission --config site.yaml [--far-end RADIO-ID=ADDRESS ...] [--far-community C] [--out DIR] [--json]
                                              record day-one values of every device; report as HTML and JSON
`;

async function probeCamera(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      address: { type: 'string' },
      port: { type: 'string', default: '80' },
      username: { type: 'string' },
      'password-file': { type: 'string' },
      rtsp: { type: 'string' },
      sample: { type: 'string', default: '4' },
      timeout: { type: 'string', default: '5000' },
      json: { type: 'boolean', default: false },
    },
  });
  const address = values.address ?? fail('--address is required');
  const password = values['password-file'] ? readFileSync(values['password-file'], 'utf8').trim() : '';
  const onvif = await collectOnvif({
    address,
    port: Number(values.port),
    username: values.username ?? '',
    password,
    timeoutMs: Number(values.timeout),
  });
  const url = values.rtsp ?? onvif.streamUri;
  const stream = url
    ? await probeStream(withCredentials(url, values.username, password), { sampleS: Number(values.sample) })
    : null;
  if (values.json) return out(JSON.stringify({ onvif, stream }, null, 2));
  const id = onvif.identity;
  out(
    `ONVIF: ${onvif.state}${id ? ` — ${id.manufacturer} ${id.model} ${id.firmware} (serial ${id.serial})` : ''}`,
  );
  if (onvif.clock) out(`clock: camera ${Math.round(onvif.clock.offset_ms / 100) / 10} s from this box`);
  if (onvif.error) out(`  ${onvif.error.kind}: ${onvif.error.message}`);
  if (!stream) return out('stream: no address (give --rtsp URL)');
  if (!stream.up) return out(`stream: DOWN — ${stream.error?.kind}: ${stream.error?.message}`);
  const v = stream.video;
  out(
    `stream: up — ${v?.codec} ${v?.width}x${v?.height} ${stream.frames.fps ?? v?.fps ?? '?'} fps` +
      `${v?.bitrate_bps ? `, ${Math.round(v.bitrate_bps / 1000)} kbit/s` : ''}; frames ${stream.frames.advancing ? 'advancing' : 'NOT advancing'}` +
      `${stream.frozen.detected ? '; FROZEN' : ''}${stream.black.detected ? '; BLACK' : ''}`,
  );
}

async function discoverCommand(argv: string[]): Promise<void> {
  if (argv[0] !== 'onvif') fail(USAGE);
  const { values } = parseArgs({
    args: argv.slice(1),
    options: {
      address: { type: 'string', multiple: true },
      timeout: { type: 'string', default: '3000' },
      json: { type: 'boolean', default: false },
    },
  });
  const found = await discover({
    timeoutMs: Number(values.timeout),
    ...(values.address?.length ? { addresses: values.address } : {}),
  });
  if (values.json) return out(JSON.stringify(found, null, 2));
  if (found.length === 0) return out('no ONVIF device answered / tidak ada perangkat ONVIF yang menjawab');
  for (const d of found)
    out(`${d.address}  ${d.scopes.name ?? '?'} ${d.scopes.hardware ?? ''}  ${d.xaddrs.join(' ')}`);
}

async function probe(argv: string[]): Promise<void> {
  if (argv[0] === 'camera') return probeCamera(argv.slice(1));
  if (argv[0] !== 'snmp') fail(USAGE);
  const { values } = parseArgs({
    args: argv.slice(1),
    options: {
      address: { type: 'string' },
      port: { type: 'string', default: '161' },
      community: { type: 'string', default: 'public' },
      version: { type: 'string', default: '2c' },
      timeout: { type: 'string', default: '2000' },
      'walk-file': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (values['walk-file']) return decodeWalk(values['walk-file'], values.json ?? false);
  const address = values.address ?? fail('--address is required (or --walk-file FILE)');
  if (values.version !== '1' && values.version !== '2c')
    fail('--version must be 1 or 2c (use a site.yaml device for v3)');
  const session = new SnmpSession({
    address,
    port: Number(values.port),
    version: values.version as '1' | '2c',
    community: values.community!,
    timeoutMs: Number(values.timeout),
    retries: 1,
  });
  try {
    print(await collectSnmp(session, newSnmpMemory()), values.json ?? false);
  } finally {
    session.close();
  }
}

function print(r: CollectorResult, json: boolean): void {
  if (json) {
    out(JSON.stringify(r, null, 2));
    return;
  }
  const id = r.identity;
  out(`${id?.vendor ?? 'unknown vendor'} ${id?.model ?? ''} ${id?.firmware ?? ''} (${id?.profile})`);
  for (const rd of r.readings)
    out(`${rd.labels ? JSON.stringify(rd.labels) : '(device)'} ${JSON.stringify(rd.values)}`);
}

/**
 * Decodes a recorded walk (.snmprec or `snmpwalk -On` output) offline, through the very collector the
 * daemon runs: the walk is served by an SNMP agent on loopback for the one poll.
 */
async function decodeWalk(file: string, json: boolean): Promise<void> {
  let recording: ReturnType<typeof loadRecording>;
  try {
    recording = loadRecording(file);
  } catch (e) {
    return fail(`${file}: ${(e as Error).message}`);
  }
  const community = generateSecret(8);
  // A stopped clock: the walk is decoded exactly as recorded, uptime included.
  const agent = await startSimulatedAgent({ recording, community, port: 0, now: () => 0 });
  const session = new SnmpSession({
    address: agent.host,
    port: agent.port,
    version: '2c',
    community,
    timeoutMs: 2000,
    retries: 0,
  });
  try {
    print(await collectSnmp(session, newSnmpMemory()), json);
  } finally {
    session.close();
    await agent.close();
  }
}

async function enrollCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      central: { type: 'string' },
      token: { type: 'string' },
      config: { type: 'string', default: '/etc/pantau/site.yaml' },
      'ca-file': { type: 'string' },
      'allow-http': { type: 'boolean', default: false },
    },
  });
  try {
    const { site } = await enrollSiteBox({
      centralUrl: values.central ?? fail('--central is required (the dashboard, e.g. https://central:8443)'),
      token: values.token ?? fail('--token is required (from the dashboard: "Pendaftaran kotak lokasi")'),
      configPath: values.config!,
      ...(values['ca-file'] ? { caFile: values['ca-file'] } : {}),
      allowHttp: values['allow-http'] === true,
    });
    out(`enrolled as site ${site}; wrote ${values.config} / terdaftar sebagai lokasi ${site}`);
    out('restart the site box daemon: systemctl restart pantau-gateway');
  } catch (e) {
    if (e instanceof EnrollError) fail(`enroll: ${e.message}`, e.status === undefined ? 2 : 1);
    throw e;
  }
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'check-config': {
      const file = rest[0] ?? fail(USAGE);
      const cfg = loadGatewayConfig(file);
      out(`OK: ${file}: site ${cfg.site.id}, ${cfg.devices.length} devices`);
      return;
    }
    case 'migrate-config':
      return migrateConfigCommand(rest[0] ?? fail(USAGE), CONFIG_KINDS.site, loadGatewayConfig);
    case 'run': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } } });
      const cfg = loadGatewayConfig(values.config ?? fail('--config is required'));
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        void gw.stop().then(() => process.exit(0));
      };
      const gw = await startGateway(cfg, { onRestartNeeded: stop });
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      // `systemctl reload pantau-gateway`: the edited site.yaml applied without a restart (reload.ts).
      process.on('SIGHUP', () => {
        let text: string;
        try {
          text = readFileSync(cfg.file, 'utf8');
        } catch (e) {
          return out(`SIGHUP: cannot read ${cfg.file}: ${(e as Error).message}`);
        }
        void gw
          .applyConfig(text, { by: 'sighup' })
          .catch((e: Error) => out(`SIGHUP: reload failed: ${e.message}`));
      });
      return;
    }
    case 'probe':
      return probe(rest);
    case 'enroll':
      return enrollCommand(rest);
    case 'discover':
      return discoverCommand(rest);
    case 'scan':
      return scanCommand(rest);
    case 'test-device':
      return testDeviceCommand(rest);
    case 'installer-pin':
      return installerPinCommand(rest);
    case 'commission':
      return commissionCommand(rest);
    default:
      fail(USAGE, cmd === '--help' || cmd === 'help' ? 0 : 1);
  }
}

runCli('pantau-gateway', main);
