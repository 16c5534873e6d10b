#!/usr/bin/env node
// pantau-dashboard: run the dashboard, check its config, manage users, read the audit log.

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CONFIG_KINDS, fail, generateSecret, migrateConfigCommand, out, runCli } from '@pantau/config';
import { AuditLog } from './audit.js';
import { loadDashboardConfig, statePath } from './config.js';
import { startDashboard } from './server.js';
import { SITE_CONFIG_USAGE, siteConfigCommand } from './site-config-cli.js';
import {
  addUser,
  loadUsers,
  publicUser,
  ROLES,
  type Role,
  removeUser,
  setDisabled,
  setPassword,
  setSites,
  UserError,
} from './users.js';

const USAGE = `pantau-dashboard --config dashboard.yaml        run the dashboard
pantau-dashboard check-config FILE                validate dashboard.yaml
pantau-dashboard migrate-config FILE              rewrite a dashboard.yaml of an older config version in the current one (keeps FILE.v<N>.bak)
pantau-dashboard users add       --file F --username U --role ${ROLES.join('|')} [--password P] [--sites a,b]
pantau-dashboard users passwd    --file F --username U [--password P]
pantau-dashboard users set-sites --file F --username U --sites a,b   (installers: the sites they see)
pantau-dashboard users disable   --file F --username U
pantau-dashboard users enable    --file F --username U
pantau-dashboard users remove    --file F --username U
pantau-dashboard users list      --file F
pantau-dashboard audit tail   --config dashboard.yaml [-n 50]
pantau-dashboard audit search --config dashboard.yaml [--from ISO] [--to ISO] [--user U] [--action A] [-n 200]
${SITE_CONFIG_USAGE}`;

const siteList = (s: string | undefined) =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

async function users(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      file: { type: 'string' },
      username: { type: 'string' },
      role: { type: 'string' },
      password: { type: 'string' },
      sites: { type: 'string' },
    },
  });
  const file = values.file ?? fail('--file is required');
  const generated = values.password === undefined;
  const password = values.password ?? generateSecret(12);
  const username = () => values.username ?? fail('--username is required');
  switch (action) {
    case 'add': {
      const name = username();
      const role = (values.role ?? fail(`--role is required: ${ROLES.join(', ')}`)) as Role;
      if (!ROLES.includes(role)) fail(`--role must be one of: ${ROLES.join(', ')}`);
      await addUser(file, { username: name, role, password, sites: siteList(values.sites) });
      out(`added ${name} (${role})`);
      if (generated) out(`password (shown once): ${password}`);
      return;
    }
    case 'passwd': {
      const name = username();
      await setPassword(file, name, password);
      out(`password changed for ${name}`);
      if (generated) out(`new password (shown once): ${password}`);
      return;
    }
    case 'set-sites': {
      const name = username();
      if (values.sites === undefined) fail('--sites is required (comma-separated; "" for none)');
      const u = setSites(file, name, siteList(values.sites));
      out(`${name}: sites ${u.sites.join(', ') || '(none)'}`);
      return;
    }
    case 'disable':
    case 'enable': {
      const name = username();
      setDisabled(file, name, action === 'disable');
      out(`${action}d ${name} (open sessions end at their next request)`);
      return;
    }
    case 'remove': {
      const name = username();
      removeUser(file, name);
      out(`removed ${name}`);
      return;
    }
    case 'list':
      for (const u of loadUsers(file).users.map(publicUser))
        out(
          `${u.username}  ${u.role}${u.disabled ? '  (disabled)' : ''}${u.role === 'installer' ? `  sites: ${u.sites.join(',') || '(none)'}` : ''}`,
        );
      return;
    default:
      fail(USAGE);
  }
}

function audit(argv: string[]): void {
  const [action, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      user: { type: 'string' },
      action: { type: 'string' },
      n: { type: 'string', short: 'n' },
    },
  });
  if (action !== 'tail' && action !== 'search') fail(USAGE);
  const cfg = loadDashboardConfig(values.config ?? fail('--config is required'));
  const time = (field: string, s: string | undefined) => {
    if (s === undefined) return undefined;
    const ms = Date.parse(s);
    return Number.isNaN(ms) ? fail(`--${field}: not a date/time: "${s}" (e.g. 2026-12-01T08:00+08:00)`) : ms;
  };
  const limit = Number(values.n ?? (action === 'tail' ? 50 : 200));
  if (!Number.isInteger(limit) || limit < 1) fail('-n must be a positive whole number');
  const path = statePath(cfg);
  if (!existsSync(path)) {
    out(`no audit log yet (${path} does not exist)`);
    return;
  }
  const log = new AuditLog(path, { readonly: true });
  try {
    const from = time('from', values.from);
    const to = time('to', values.to);
    const rows = log.search({
      limit,
      ...(action === 'search' && from !== undefined ? { from } : {}),
      ...(action === 'search' && to !== undefined ? { to } : {}),
      ...(values.user ? { user: values.user } : {}),
      ...(values.action ? { action: values.action } : {}),
    });
    // Oldest first, like a log file.
    for (const r of rows.reverse())
      out(
        `${new Date(r.ts).toISOString()}  ${r.user}${r.role ? `(${r.role})` : ''}  ${r.action}${r.target ? `  ${r.target}` : ''}${Object.keys(r.detail).length ? `  ${JSON.stringify(r.detail)}` : ''}${r.remote ? `  from ${r.remote}` : ''}`,
      );
  } finally {
    log.close();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  try {
    if (argv[0] === 'users') return await users(argv.slice(1));
    if (argv[0] === 'audit') return audit(argv.slice(1));
    if (argv[0] === 'site-config') return await siteConfigCommand(argv.slice(1));
  } catch (e) {
    if (e instanceof UserError) fail(e.message);
    throw e;
  }
  if (argv[0] === 'migrate-config')
    return migrateConfigCommand(argv[1] ?? fail(USAGE), CONFIG_KINDS.dashboard, loadDashboardConfig);
  if (argv[0] === 'check-config') {
    const file = argv[1] ?? fail(USAGE);
    loadDashboardConfig(file);
    out(`OK: ${file}`);
    return;
  }
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help || !values.config) fail(USAGE, values.help ? 0 : 1);
  const d = await startDashboard(loadDashboardConfig(values.config!));
  const stop = () => void d.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

runCli('pantau-dashboard', main);
