#!/usr/bin/env node
// pantau-gateway: run the site box, check its config, or read one device now.

import { parseArgs } from 'node:util';
import { collectSnmp, newSnmpMemory, SnmpSession } from '@pantau/collectors/snmp';
import { fail, out, runCli } from '@pantau/config';
import { loadGatewayConfig } from './config.js';
import { startGateway } from './daemon.js';

const USAGE = `pantau-gateway run --config site.yaml        run the site box
pantau-gateway check-config FILE              validate site.yaml (exit 2 on error)
pantau-gateway probe snmp --address A [--port 161] [--community public] [--version 2c] [--json]
`;

async function probe(argv: string[]): Promise<void> {
  if (argv[0] !== 'snmp') fail(USAGE);
  const { values } = parseArgs({
    args: argv.slice(1),
    options: {
      address: { type: 'string' },
      port: { type: 'string', default: '161' },
      community: { type: 'string', default: 'public' },
      version: { type: 'string', default: '2c' },
      timeout: { type: 'string', default: '2000' },
      json: { type: 'boolean', default: false },
    },
  });
  const address = values.address ?? fail('--address is required');
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
    const r = await collectSnmp(session, newSnmpMemory());
    if (values.json) out(JSON.stringify(r, null, 2));
    else {
      out(
        `${r.identity?.vendor ?? 'unknown vendor'} ${r.identity?.model ?? ''} ${r.identity?.firmware ?? ''} (${r.identity?.profile})`,
      );
      for (const rd of r.readings)
        out(`${rd.labels ? JSON.stringify(rd.labels) : '(device)'} ${JSON.stringify(rd.values)}`);
    }
  } finally {
    session.close();
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
    case 'run': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } } });
      const cfg = loadGatewayConfig(values.config ?? fail('--config is required'));
      const gw = await startGateway(cfg);
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        void gw.stop().then(() => process.exit(0));
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      return;
    }
    case 'probe':
      return probe(rest);
    default:
      fail(USAGE, cmd === '--help' || cmd === 'help' ? 0 : 1);
  }
}

runCli('pantau-gateway', main);
