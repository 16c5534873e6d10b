// pantau-broker enroll …: issue a one-time token for a site box, list and revoke them, from the
// command center's shell (the dashboard does the same on its "Enroll a site box" page).

import { parseArgs } from 'node:util';
import { fail, out } from '@pantau/config';
import { loadBackbone } from './backbone/index.js';
import { loadBrokerConfig } from './config.js';
import { centralStatePath, EnrollmentDb, TtlError, ttlMs } from './enroll/index.js';

export const ENROLL_USAGE = `pantau-broker enroll issue  --site S [--ttl-h 24] [--new-site] [--by NAME] [--json] [--config central.yaml]
                            a one-time token for the site box (default 24 h, at most 168 h)
pantau-broker enroll list   [--json] [--config central.yaml]
pantau-broker enroll revoke --id ID [--config central.yaml]   (--config: default /etc/pantau/central.yaml)
`;

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

export async function enrollCli(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', default: '/etc/pantau/central.yaml' },
      site: { type: 'string' },
      'ttl-h': { type: 'string' },
      'new-site': { type: 'boolean', default: false },
      by: { type: 'string' },
      id: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!['issue', 'list', 'revoke'].includes(action ?? '')) fail(ENROLL_USAGE);
  const configFile = values.config!;
  const cfg = loadBrokerConfig(configFile);
  const db = new EnrollmentDb(
    centralStatePath({ configFile, store: cfg.store, backboneStatePath: cfg.backbone?.state_path }),
  );
  const by = values.by ?? `cli:${process.env.USER ?? 'root'}`;
  try {
    if (action === 'issue') {
      const site = values.site ?? fail('--site is required');
      if (!SLUG.test(site)) fail(`--site "${site}" must be a lowercase id (a-z, 0-9, -)`);
      if (cfg.backbone && !loadBackbone(cfg.backbone.file).sites.has(site) && !values['new-site'])
        fail(
          `site "${site}" is not in ${cfg.backbone.file}: add it there, or pass --new-site to enroll a site not in the backbone yet`,
        );
      let ttl: number;
      try {
        ttl = ttlMs(values['ttl-h'] === undefined ? undefined : Number(values['ttl-h']));
      } catch (e) {
        if (e instanceof TtlError) fail(`--ttl-h: ${e.message}`);
        throw e;
      }
      const { enrollment, token } = db.issue({ site, by, ttlMs: ttl!, newSite: values['new-site'] === true });
      if (values.json) return out(JSON.stringify({ ...enrollment, token }, null, 2));
      out(`token for site ${site} (one use, until ${new Date(enrollment.expires_at).toISOString()}):`);
      out(`  ${token}`);
      out(`on the site box: pantau-gateway enroll --central https://<dashboard>:8443 --token ${token}`);
      return;
    }
    if (action === 'list') {
      const all = db.list();
      if (values.json) return out(JSON.stringify(all, null, 2));
      if (all.length === 0) out('no enrollments / belum ada token pendaftaran');
      for (const e of all)
        out(
          `${e.id}  ${e.site.padEnd(24)} ${e.status.padEnd(8)} expires ${new Date(e.expires_at).toISOString()}  by ${e.created_by}${e.used_from ? `  used from ${e.used_from}` : ''}`,
        );
      return;
    }
    const id = values.id ?? fail('--id is required');
    if (!db.revoke(id, by)) fail(`no pending enrollment "${id}" (see "enroll list")`);
    out(`revoked ${id}`);
  } finally {
    db.close();
  }
}
