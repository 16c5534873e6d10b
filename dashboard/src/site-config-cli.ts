// `pantau-dashboard site-config push|list|show`: the API's config push from a shell at the central
// (the same check, the same site_configs versions, the same request to the box). It lives here and
// not in pantau-broker because the dashboard's broker account is the one allowed to send requests.

import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { SiteConfigs } from '@pantau/broker';
import { EXIT_CONFIG, fail, out } from '@pantau/config';
import pino from 'pino';
import { AuditLog } from './audit.js';
import { loadDashboardConfig, statePath } from './config.js';
import { LiveFeed } from './live.js';
import { checkSiteConfig, outcome, PUSH_START_MS, PUSH_TIMEOUT_MS } from './remote-ops.js';

export const SITE_CONFIG_USAGE = `pantau-dashboard site-config push --config dashboard.yaml --site S --file site.yaml [--by NAME]
pantau-dashboard site-config list --config dashboard.yaml --site S
pantau-dashboard site-config show --config dashboard.yaml --site S [--version N]
`;

const CONNECT_WAIT_MS = 15_000;

export async function siteConfigCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      site: { type: 'string' },
      file: { type: 'string' },
      by: { type: 'string' },
      version: { type: 'string' },
    },
  });
  const cfg = loadDashboardConfig(values.config ?? fail('--config is required'));
  const site = values.site ?? fail('--site is required');
  const db = new SiteConfigs(statePath(cfg));
  try {
    if (action === 'list') {
      for (const r of db.list(site))
        out(
          `${r.version}\t${new Date(r.ts).toISOString()}\t${r.by}\t${r.status}${r.detail ? `\t${r.detail}` : ''}`,
        );
      return;
    }
    if (action === 'show') {
      const r = db.get(site, values.version === undefined ? undefined : Number(values.version));
      if (!r) fail(`no config version for site ${site}`);
      out(r!.yaml);
      return;
    }
    if (action !== 'push') fail(SITE_CONFIG_USAGE);
    const file = values.file ?? fail('--file is required');
    const yaml = readFileSync(file, 'utf8');
    const problem = checkSiteConfig(site, yaml);
    if (problem) fail(problem.message.replaceAll(`${site}/site.yaml`, file), EXIT_CONFIG);
    const by = values.by ?? `cli:${userInfo().username}`;
    // The audit line goes where the dashboard's go (the journal), apart from what the user reads.
    const log = pino({ level: 'info', base: { service: 'pantau-dashboard' } }, pino.destination(2));
    const live = new LiveFeed({
      urls: cfg.mqtt.urls ?? (cfg.mqtt.url ? [cfg.mqtt.url] : []),
      username: cfg.mqtt.username,
      password: cfg.mqttPassword,
      ...(cfg.mqttTls ? { tls: cfg.mqttTls } : {}),
      log,
    });
    live.start();
    try {
      const until = Date.now() + CONNECT_WAIT_MS;
      while (!live.connected && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      if (!live.connected)
        fail('cannot reach the broker with the dashboard account (see dashboard.yaml mqtt)');
      const rec = db.add(site, yaml, by);
      let a: Parameters<typeof outcome>[0];
      try {
        const res = await live.request(
          site,
          'config-push',
          { yaml, version: String(rec.version), by, not_after: Date.now() + PUSH_START_MS },
          PUSH_TIMEOUT_MS,
        );
        a = {
          ok: res.ok,
          ...(res.ok ? { result: res.result } : {}),
          ...(res.error ? { error: res.error } : {}),
        };
      } catch (e) {
        a = { ok: false, error: { code: 'no_answer', message: (e as Error).message } };
      }
      const o = outcome(a);
      db.answer(site, rec.version, o.status, o.detail);
      log.info(
        { audit: 'site_config_push', username: by, site, version: rec.version, status: o.status },
        'site_config_push',
      );
      // The same trail as a push from the page: who, what, and how the box answered.
      const trail = new AuditLog(statePath(cfg));
      try {
        trail.record({
          ts: Date.now(),
          user: by,
          role: null,
          action: 'site_config_push',
          target: site,
          detail: {
            via: 'cli',
            version: rec.version,
            ok: o.status === 'applied',
            status: o.status,
            detail: o.detail,
          },
          remote: null,
        });
      } finally {
        trail.close();
      }
      out(`site ${site} config version ${rec.version}: ${o.status}${o.detail ? ` — ${o.detail}` : ''}`);
      if (o.status !== 'applied') process.exitCode = 1;
    } finally {
      await live.stop();
    }
  } finally {
    db.close();
  }
}
