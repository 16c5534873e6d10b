#!/usr/bin/env node
// pantau-dashboard: run the dashboard, check its config, manage users.

import { parseArgs } from 'node:util';
import { fail, generateSecret, out, runCli } from '@pantau/config';
import { loadDashboardConfig } from './config.js';
import { startDashboard } from './server.js';
import { SITE_CONFIG_USAGE, siteConfigCommand } from './site-config-cli.js';
import { addUser, loadUsers, ROLES, type Role, removeUser, setPassword } from './users.js';

const USAGE = `pantau-dashboard --config dashboard.yaml        run the dashboard
pantau-dashboard check-config FILE                validate dashboard.yaml
pantau-dashboard users add    --file F --username U --role ${ROLES.join('|')} [--password P]
pantau-dashboard users passwd --file F --username U [--password P]
pantau-dashboard users remove --file F --username U
pantau-dashboard users list   --file F
${SITE_CONFIG_USAGE}`;

async function users(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      file: { type: 'string' },
      username: { type: 'string' },
      role: { type: 'string' },
      password: { type: 'string' },
    },
  });
  const file = values.file ?? fail('--file is required');
  const generated = values.password === undefined;
  const password = values.password ?? generateSecret(12);
  switch (action) {
    case 'add': {
      const username = values.username ?? fail('--username is required');
      const role = (values.role ?? fail(`--role is required: ${ROLES.join(', ')}`)) as Role;
      if (!ROLES.includes(role)) fail(`--role must be one of: ${ROLES.join(', ')}`);
      await addUser(file, username, role, password);
      out(`added ${username} (${role})`);
      if (generated) out(`password (shown once): ${password}`);
      return;
    }
    case 'passwd': {
      const username = values.username ?? fail('--username is required');
      await setPassword(file, username, password);
      out(`password changed for ${username}`);
      if (generated) out(`new password (shown once): ${password}`);
      return;
    }
    case 'remove': {
      const username = values.username ?? fail('--username is required');
      if (!removeUser(file, username)) fail(`no user "${username}"`);
      out(`removed ${username}`);
      return;
    }
    case 'list':
      for (const u of loadUsers(file).users) out(`${u.username}  ${u.role}`);
      return;
    default:
      fail(USAGE);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'users') return users(argv.slice(1));
  if (argv[0] === 'site-config') return siteConfigCommand(argv.slice(1));
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
