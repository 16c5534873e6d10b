#!/usr/bin/env node
// pantau-broker: run the central broker, check its config, manage site-box and reader accounts.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CONFIG_KINDS,
  fail,
  feedWatchdog,
  generateSecret,
  migrateConfigCommand,
  out,
  runCli,
} from '@pantau/config';
import pino from 'pino';
import { AUDIT_USAGE, auditCli } from './audit-cli.js';
import { loadBackbone } from './backbone/description.js';
import { BACKBONE_USAGE, backboneCli } from './backbone-cli.js';
import { BackupError, backupCentral, restoreCentral } from './backup.js';
import { startBroker } from './broker.js';
import { CA_USAGE, caCli } from './ca-cli.js';
import { loadBrokerConfig } from './config.js';
import { addGateway, addReader, loadCredentials, removeAccount, setPassword } from './credentials.js';
import { ENROLL_USAGE, enrollCli } from './enroll-cli.js';
import { startIngestClient } from './ingest-client.js';
import { accountsWithoutMosquittoHash, aclFile, mosquittoConf, passwordFile } from './mosquitto.js';
import { NOTIFY_USAGE, notifyCli } from './notify/cli.js';
import { loadNotifyConfig } from './notify/config.js';

function mosquittoConfig(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      credentials: { type: 'string' },
      out: { type: 'string' },
      port: { type: 'string', default: '1883' },
      host: { type: 'string', default: '0.0.0.0' },
      'max-packet-bytes': { type: 'string', default: '262144' },
    },
  });
  const file = values.credentials ?? fail('--credentials is required');
  const dir = resolve(values.out ?? fail('--out is required'));
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`--port "${values.port}" is not a TCP port`);
  const maxBytes = Number(values['max-packet-bytes']);
  if (!Number.isInteger(maxBytes) || maxBytes < 1024) fail('--max-packet-bytes must be an integer >= 1024');
  const c = loadCredentials(file);
  const missing = accountsWithoutMosquittoHash(c);
  mkdirSync(dir, { recursive: true });
  const write = (name: string, text: string) => {
    const tmp = join(dir, `.${name}.tmp`);
    writeFileSync(tmp, text, { mode: 0o640 });
    renameSync(tmp, join(dir, name));
  };
  write('passwd', passwordFile(c));
  write('acl', aclFile(c));
  write(
    'mosquitto.conf',
    mosquittoConf({
      port,
      host: values.host!,
      passwordFile: join(dir, 'passwd'),
      aclFile: join(dir, 'acl'),
      persistenceDir: join(dir, 'data'),
      // The packet carries the topic and headers besides the payload.
      maxPacketBytes: maxBytes + 1024,
    }),
  );
  out(`wrote ${join(dir, 'passwd')}, ${join(dir, 'acl')} and ${join(dir, 'mosquitto.conf')}`);
  out('reload mosquitto to apply (systemctl reload mosquitto, or kill -HUP its pid)');
  if (missing.length > 0)
    out(
      `left out (no mosquitto hash; set their password again with "credentials set-password"): ${missing.join(', ')}`,
    );
}

const USAGE = `pantau-broker --config central.yaml             run the central broker (or, when central.yaml
                                                 names an external_broker, the ingest client)
pantau-broker ingest --config central.yaml      run only the ingest client of an external broker
pantau-broker check-config FILE                  validate central.yaml
pantau-broker migrate-config FILE [--kind central|notify|backbone]
                                                 rewrite a config of an older config version in the current one
                                                 (keeps FILE.v<N>.bak); the kind from the name central.yaml,
                                                 notify.yaml or backbone.yaml unless --kind
pantau-broker mosquitto-config --credentials F --out DIR [--port 1883] [--host 0.0.0.0]
                               [--max-packet-bytes 262144]
                                                 write passwd, acl and mosquitto.conf for Mosquitto 2
pantau-broker credentials add-gateway --file F --site S [--username U] [--password P]
pantau-broker credentials add-reader  --file F --username U [--password P] [--requests]
                                      (--requests: may also send requests to site boxes, e.g. clock sync)
pantau-broker credentials set-password --file F --username U [--password P]
pantau-broker credentials remove      --file F --username U
pantau-broker credentials list        --file F
pantau-broker backup  --config central.yaml --out FILE.tar.gz [--dashboard dashboard.yaml]
                      [--users users.yaml | --without-users] [--ca-dir DIR]
                      configs, accounts, dashboard users (dashboard.yaml's users_file; dashboard.yaml
                      beside central.yaml unless --dashboard), backbone, the central state database,
                      notify.yaml and its secrets, TLS files, the private CA (ca/ beside central.yaml
                      or --ca-dir); not readings. The archive is written 0600: it holds password
                      hashes and private keys
pantau-broker restore --from FILE.tar.gz [--force]     put them back where they were (stop the daemons first)
${CA_USAGE}${ENROLL_USAGE}${AUDIT_USAGE}${BACKBONE_USAGE}${NOTIFY_USAGE}`;

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
    case 'set-password': {
      const username = values.username ?? fail('--username is required');
      if (!(await setPassword(file, username, password))) fail(`no account "${username}" in ${file}`);
      out(`new password set for ${username}`);
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

async function backupCli(cmd: 'backup' | 'restore', args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      users: { type: 'string' },
      dashboard: { type: 'string' },
      'without-users': { type: 'boolean' },
      'ca-dir': { type: 'string' },
      out: { type: 'string' },
      from: { type: 'string' },
      force: { type: 'boolean' },
    },
  });
  if (values.users && values['without-users']) fail('--users and --without-users exclude each other');
  try {
    if (cmd === 'backup') {
      const m = await backupCentral({
        config: values.config ?? fail('--config is required'),
        out: values.out ?? fail('--out is required'),
        ...(values.users ? { users: values.users } : {}),
        ...(values.dashboard ? { dashboard: values.dashboard } : {}),
        ...(values['ca-dir'] ? { caDir: values['ca-dir'] } : {}),
        withoutUsers: values['without-users'] === true,
      });
      for (const e of m.entries) out(`${e.role.padEnd(16)} ${e.path} (${e.bytes} bytes)`);
      for (const n of m.notes ?? []) out(`note: ${n}`);
      out(
        `backup written to ${values.out} (mode 0600: it holds password hashes and private keys; keep it where only root can read it)`,
      );
    } else {
      const m = await restoreCentral({
        from: values.from ?? fail('--from is required'),
        force: values.force === true,
      });
      for (const e of m.entries) out(`restored ${e.role.padEnd(16)} ${e.path}`);
      out(`restored the backup of ${m.created_at} from ${m.host}`);
    }
  } catch (e) {
    if (e instanceof BackupError) fail(`${cmd}: ${e.message}`, 2);
    throw e;
  }
}

/** The configs of the central this CLI reads, with their loaders. */
const CENTRAL_KINDS = {
  central: [CONFIG_KINDS.central, loadBrokerConfig],
  notify: [CONFIG_KINDS.notify, loadNotifyConfig],
  backbone: [CONFIG_KINDS.backbone, loadBackbone],
} as const;

function migrateConfig(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { kind: { type: 'string' } },
    allowPositionals: true,
  });
  const file = positionals[0] ?? fail(USAGE);
  const name = values.kind ?? basename(file).replace(/\.ya?ml$/, '');
  if (!Object.hasOwn(CENTRAL_KINDS, name))
    fail(
      values.kind
        ? `--kind must be one of: ${Object.keys(CENTRAL_KINDS).join(', ')}`
        : `${file}: say which config it is with --kind ${Object.keys(CENTRAL_KINDS).join('|')}`,
    );
  const [kind, load] = CENTRAL_KINDS[name as keyof typeof CENTRAL_KINDS];
  migrateConfigCommand(file, kind, load);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'migrate-config') return migrateConfig(argv.slice(1));
  if (argv[0] === 'credentials') return credentials(argv.slice(1));
  if (argv[0] === 'backbone') return backboneCli(argv.slice(1));
  if (argv[0] === 'ca') return caCli(argv.slice(1));
  if (argv[0] === 'notify') return notifyCli(argv.slice(1));
  if (argv[0] === 'audit') return auditCli(argv.slice(1));
  if (argv[0] === 'enroll') return enrollCli(argv.slice(1));
  if (argv[0] === 'backup' || argv[0] === 'restore') return backupCli(argv[0], argv.slice(1));
  if (argv[0] === 'mosquitto-config') return mosquittoConfig(argv.slice(1));
  const ingestOnly = argv[0] === 'ingest';
  if (ingestOnly) argv.shift();
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
  if (ingestOnly && !cfg.external_broker) fail(`${values.config}: "ingest" needs an external_broker section`);
  loadCredentials(cfg.credentials_file);
  const running = cfg.external_broker ? await startIngestClient(cfg) : await startBroker(cfg);
  // The broker feeds systemd's watchdog itself (observe.ts); the ingest client says it is alive here.
  const pinoLog = pino({ level: cfg.log_level, base: { service: 'pantau-broker' } });
  const watchdog = cfg.external_broker
    ? feedWatchdog({ health: () => ({ ok: true, reasons: [] }), log: pinoLog, status: 'ingesting' })
    : null;
  const stop = () =>
    void running.close().then(() => {
      watchdog?.close();
      process.exit(0);
    });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

runCli('pantau-broker', main);
