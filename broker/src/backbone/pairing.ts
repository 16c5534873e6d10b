// Link pairing from what the radios say: a radio's station or registration table names the MAC of
// its peer; the radio owning that MAC is the other end. Pairs the backbone does not describe yet
// are proposed (A-end = the site nearer the command center); peers nobody owns are listed too.

import type { Backbone } from './description.js';
import { ancestors } from './description.js';

export interface DeviceMacs {
  site: string;
  device: string;
  macs?: string[];
  peers?: string[];
}

export interface PairingProposal {
  a: { site: string; device: string };
  b: { site: string; device: string };
  /** The peer MAC that tied them. */
  mac: string;
  /** Already described by this backbone link. */
  link?: string;
}

export interface PairingReport {
  proposals: PairingProposal[];
  known: PairingProposal[];
  /** Peers no polled device owns (a radio not yet added to any site box). */
  unknownPeers: Array<{ site: string; device: string; mac: string }>;
}

const depth = (bb: Backbone | null, site: string) =>
  bb?.sites.has(site) ? ancestors(bb, site).length : Number.POSITIVE_INFINITY;

export function proposePairs(bb: Backbone | null, devices: DeviceMacs[]): PairingReport {
  const owner = new Map<string, DeviceMacs>();
  for (const d of devices) for (const m of d.macs ?? []) owner.set(m.toLowerCase(), d);
  const seen = new Set<string>();
  const report: PairingReport = { proposals: [], known: [], unknownPeers: [] };
  for (const d of devices) {
    for (const raw of d.peers ?? []) {
      const mac = raw.toLowerCase();
      const peer = owner.get(mac);
      if (!peer) {
        report.unknownPeers.push({ site: d.site, device: d.device, mac });
        continue;
      }
      if (peer.site === d.site && peer.device === d.device) continue;
      const [x, y] = depth(bb, d.site) <= depth(bb, peer.site) ? [d, peer] : [peer, d];
      const key = `${x.site}/${x.device}|${y.site}/${y.device}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const p: PairingProposal = {
        a: { site: x.site, device: x.device },
        b: { site: y.site, device: y.device },
        mac,
      };
      const link = [...(bb?.links.values() ?? [])].find((l) => {
        const ends = [`${l.a.site}/${l.a.device}`, `${l.b.site}/${l.b.device}`];
        return ends.includes(`${x.site}/${x.device}`) && ends.includes(`${y.site}/${y.device}`);
      });
      if (link) report.known.push({ ...p, link: link.id });
      else report.proposals.push(p);
    }
  }
  return report;
}

/** The proposal as backbone.yaml text an engineer can paste (and edit: id, medium, capacity). */
export function proposalYaml(p: PairingProposal): string {
  return [
    `  - id: ${p.a.site}-${p.b.site}`,
    '    medium: radio',
    `    a: { site: ${p.a.site}, device: ${p.a.device} }`,
    `    b: { site: ${p.b.site}, device: ${p.b.device} }`,
  ].join('\n');
}
