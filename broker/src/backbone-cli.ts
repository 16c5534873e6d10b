// pantau-broker backbone …: check the backbone description, commission a link (record its
// baseline from the last minutes of readings), list link verdicts, incidents and pairing proposals.

import { parseArgs } from 'node:util';
import { fail, out } from '@pantau/config';
import {
  BaselineError,
  CentralDb,
  computeBaseline,
  loadBackbone,
  proposalYaml,
  proposePairs,
} from './backbone/index.js';
import { loadBrokerConfig } from './config.js';
import { openStore } from './store/index.js';

export const BACKBONE_USAGE = `pantau-broker backbone check FILE                          validate backbone.yaml, print the tree
pantau-broker backbone commission --config central.yaml --link L [--minutes 15] [--by NAME] [--json]
pantau-broker backbone links      --config central.yaml [--json]
pantau-broker backbone incidents  --config central.yaml [--json]
pantau-broker backbone pairing    --config central.yaml
`;

function central(configFile: string) {
  const cfg = loadBrokerConfig(configFile);
  if (!cfg.backbone) fail(`${configFile}: backbone: not configured (add backbone.file)`);
  return { cfg, bb: loadBackbone(cfg.backbone!.file), db: new CentralDb(cfg.backbone!.state_path!) };
}

export async function backboneCli(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (action === 'check') {
    const file = rest[0] ?? fail(BACKBONE_USAGE);
    const bb = loadBackbone(file);
    out(`OK: ${file}: ${bb.sites.size} sites, ${bb.links.size} links, root ${bb.root}`);
    const print = (site: string, depth: number) => {
      const up = bb.upstream.get(site);
      out(`${'  '.repeat(depth)}${site}${up ? `  ← ${up.id} (${up.medium})` : ''}`);
      for (const c of bb.children.get(site) ?? []) print(c, depth + 1);
    };
    print(bb.root, 0);
    return;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      link: { type: 'string' },
      minutes: { type: 'string', default: '15' },
      by: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const { cfg, bb, db } = central(values.config ?? fail('--config is required'));
  try {
    switch (action) {
      case 'commission': {
        const link = values.link ?? fail('--link is required');
        const minutes = Number(values.minutes);
        if (!Number.isFinite(minutes) || minutes <= 0) fail('--minutes must be a positive number');
        const store = openStore(cfg.store, { readonly: true });
        try {
          const to = Date.now();
          const b = await computeBaseline(store, bb, link, {
            from: to - minutes * 60_000,
            to,
            by: values.by ?? process.env.USER ?? 'cli',
          });
          db.putBaseline(link, b);
          if (values.json) return out(JSON.stringify(b, null, 2));
          out(`baseline recorded for ${link} (median of the last ${minutes} min):`);
          for (const end of ['a', 'b'] as const) {
            const e = b[end];
            out(
              `  ${end.toUpperCase()} ${bb.links.get(link)![end].site}: ${e ? JSON.stringify(e) : 'no readings'} (${b.samples[end]} samples)`,
            );
          }
        } catch (e) {
          if (e instanceof BaselineError) fail(e.message);
          throw e;
        } finally {
          await store.close();
        }
        return;
      }
      case 'links': {
        const statuses = db.linkStatuses();
        if (values.json) return out(JSON.stringify(statuses, null, 2));
        for (const l of bb.links.values()) {
          const s = statuses.find((x) => x.link === l.id)?.verdict;
          const lat = s?.latency?.values;
          const path =
            lat?.latency_p50_ms !== undefined ? `${lat.latency_p50_ms} ms, ${lat.loss_pct ?? 0}% loss` : '-';
          out(
            `${l.id.padEnd(24)} ${(s?.status ?? 'unknown').padEnd(9)} ${(s?.cause ?? '-').padEnd(13)} ${path.padEnd(20)} ${s?.reasons[0]?.id ?? ''}`,
          );
        }
        return;
      }
      case 'incidents': {
        const open = db.openIncidents();
        if (values.json) return out(JSON.stringify(open, null, 2));
        if (open.length === 0) out('no open incidents / tidak ada insiden terbuka');
        for (const i of open)
          out(
            `${new Date(i.opened_at).toISOString()} ${i.severity.padEnd(8)} ${i.title.id} [${i.affected.sites.length} sites]${i.outage ? ` — ${i.outage.reason.id}` : ''}`,
          );
        return;
      }
      case 'pairing': {
        const store = openStore(cfg.store, { readonly: true });
        try {
          const devices = (await store.listDevices()).map((d) => ({
            site: d.site,
            device: d.device,
            ...(d.state.macs ? { macs: d.state.macs } : {}),
            ...(d.state.peers ? { peers: d.state.peers } : {}),
          }));
          const r = proposePairs(bb, devices);
          for (const k of r.known)
            out(`# known: ${k.link} (${k.a.site}/${k.a.device} ↔ ${k.b.site}/${k.b.device})`);
          if (r.proposals.length === 0) out('# no new pairs proposed');
          else out('# proposed links (add to backbone.yaml under links:)');
          for (const p of r.proposals) out(proposalYaml(p));
          for (const u of r.unknownPeers)
            out(`# ${u.site}/${u.device} sees ${u.mac}, which no polled device owns`);
        } finally {
          await store.close();
        }
        return;
      }
      default:
        fail(BACKBONE_USAGE);
    }
  } finally {
    db.close();
  }
}
