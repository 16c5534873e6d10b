#!/usr/bin/env node
// pantau-broker: run the central broker, check its config, manage site-box and reader accounts.

import { parseArgs } from 'node:util';
import { fail, generateSecret, out, runCli } from '@pantau/config';
import { AUDIT_USAGE, auditCli } from './audit-cli.js';
import { BACKBONE_USAGE, backboneCli } from './backbone-cli.js';
import { startBroker } from './broker.js';
import { CA_USAGE, caCli } from './ca-cli.js';
import { loadBrokerConfig } from './config.js';
import { addGateway, addReader, loadCredentials, removeAccount } from './credentials.js';
import { NOTIFY_USAGE, notifyCli } from './notify/cli.js';

const USAGE = `pantau-broker --config central.yaml             run the central broker
pantau-broker check-config FILE                  validate central.yaml
pantau-broker credentials add-gateway --file F --site S [--username U] [--password P]
pantau-broker credentials add-reader  --file F --username U [--password P] [--requests]
                                      (--requests: may also send requests to site boxes, e.g. clock sync)
pantau-broker credentials remove      --file F --username U
pantau-broker credentials list        --file F
${CA_USAGE}${AUDIT_USAGE}${BACKBONE_USAGE}${NOTIFY_USAGE}`;

async function credentials(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      file: { type: 'string' },
      site: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      requests: { type: 'boolean' },
    },
  });
  const file = values.file ?? fail('--file is required');
  const generated = values.password === undefined;
  const password = values.password ?? generateSecret();
  switch (action) {
    case 'add-gateway': {
      const site = values.site ?? fail('--site is required');
      if (!/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/.test(site))
        fail(`--site "${site}" must be a lowercase id (a-z, 0-9, -)`);
      const username = values.username ?? `gw-${site}`;
      await addGateway(file, site, username, password);
      out(`added site box account ${username} for site ${site}`);
      if (generated) out(`password (shown once, put it in the site box's password_file): ${password}`);
      return;
    }
    case 'add-reader': {
      const username = values.username ?? fail('--username is required');
      await addReader(file, username, password, { requests: values.requests ?? false });
      out(
        values.requests
          ? `added account ${username}: reads everything, may send requests to site boxes`
          : `added read-only account ${username}`,
      );
      if (generated) out(`password (shown once): ${password}`);
      return;
    }
    case 'remove': {
      const username = values.username ?? fail('--username is required');
      if (!removeAccount(file, username)) fail(`no account "${username}" in ${file}`);
      out(`removed ${username}`);
      return;
    }
    case 'list': {
      const c = loadCredentials(file);
      for (const g of c.gateways) out(`gateway  ${g.username}  site=${g.site}`);
      for (const r of c.readers) out(`reader   ${r.username}${r.requests ? '  (may send requests)' : ''}`);
      return;
    }
    default:
      fail(USAGE);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'credentials') return credentials(argv.slice(1));
  if (argv[0] === 'backbone') return backboneCli(argv.slice(1));
  if (argv[0] === 'ca') return caCli(argv.slice(1));
  if (argv[0] === 'notify') return notifyCli(argv.slice(1));
  if (argv[0] === 'audit') return auditCli(argv.slice(1));
  if (argv[0] === 'check-config') {
    const file = argv[1] ?? fail(USAGE);
    loadBrokerConfig(file);
    out(`OK: ${file}`);
    return;
  }
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help || !values.config) fail(USAGE, values.help ? 0 : 1);
  const cfg = loadBrokerConfig(values.config!);
  loadCredentials(cfg.credentials_file);
  const broker = await startBroker(cfg);
  const stop = () => void broker.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

runCli('pantau-broker', main);
