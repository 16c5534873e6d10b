// Pairing from what recorded radios report: the airFiber LTU recording names its peer's MAC in its
// station table; the radio owning that MAC is proposed as the other end of the link.

import { join } from 'node:path';
import { collectSnmp, newSnmpMemory, SnmpSession } from '@pantau/collectors/snmp';
import { startSimulatedAgent } from '@pantau/collectors/snmp/simulator';
import { describe, expect, it } from 'vitest';
import { parseBackbone } from './description.js';
import { type DeviceMacs, proposalYaml, proposePairs } from './pairing.js';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/snmp');

/** Decodes a recording as the collector would poll it, and keeps what pairing needs. */
async function decoded(dir: string, site: string, device: string): Promise<DeviceMacs> {
  const agent = await startSimulatedAgent({
    recording: join(FIXTURES, dir, 'device.snmprec'),
    port: 0,
    now: () => 0,
  });
  const session = new SnmpSession({
    address: agent.host,
    port: agent.port,
    version: '2c',
    community: 'public',
    timeoutMs: 1000,
    retries: 0,
  });
  try {
    const r = await collectSnmp(session, newSnmpMemory());
    return { site, device, macs: r.identity?.macs ?? [], peers: r.peers ?? [] };
  } finally {
    session.close();
    await agent.close();
  }
}

const BACKBONE = `root: scc
sites:
  - { id: scc, name: Command Center }
  - { id: bukit, name: Relay Bukit }
  - { id: pasar, name: Pasar Sentral }
links:
  - { id: scc-bukit, medium: radio, a: { site: scc, device: ltu-bukit }, b: { site: bukit, device: ltu-scc } }
  - { id: bukit-pasar, medium: fiber, a: { site: bukit }, b: { site: pasar } }
`;

describe('link pairing from peer MACs', () => {
  it('proposes the recorded LTU and the radio owning its peer MAC, nearer the center as A-end', async () => {
    const ltu = await decoded('airos-af-ltu_1.4.0', 'pasar', 'ltu-relay');
    expect(ltu.peers).toEqual(['18:e8:29:1e:38:d6']);
    // The far radio: its own MAC is the LTU's peer, and it reports the LTU back (upper case, as some do).
    const far: DeviceMacs = {
      site: 'bukit',
      device: 'ltu-pasar',
      macs: ['18:E8:29:1E:38:D6'],
      peers: [ltu.macs![1]!.toUpperCase()],
    };
    const routeros = await decoded('routeros', 'pasar', 'hap');
    const r = proposePairs(parseBackbone(BACKBONE), [ltu, far, routeros]);
    // Both ends name each other: one proposal, not two.
    expect(r.proposals).toEqual([
      {
        a: { site: 'bukit', device: 'ltu-pasar' },
        b: { site: 'pasar', device: 'ltu-relay' },
        mac: '18:e8:29:1e:38:d6',
      },
    ]);
    expect(r.known).toEqual([]);
    // The RouterOS registration table names clients nobody polls: listed, not paired.
    expect(r.unknownPeers.filter((p) => p.device === 'hap')).toHaveLength(11);
    expect(proposalYaml(r.proposals[0]!)).toBe(
      [
        '  - id: bukit-pasar',
        '    medium: radio',
        '    a: { site: bukit, device: ltu-pasar }',
        '    b: { site: pasar, device: ltu-relay }',
      ].join('\n'),
    );
  });

  it('a pair the backbone already describes is known, whichever end reports it', () => {
    const r = proposePairs(parseBackbone(BACKBONE), [
      { site: 'bukit', device: 'ltu-scc', macs: ['aa:00:00:00:00:02'], peers: ['aa:00:00:00:00:01'] },
      { site: 'scc', device: 'ltu-bukit', macs: ['aa:00:00:00:00:01'] },
    ]);
    expect(r.proposals).toEqual([]);
    expect(r.known).toEqual([
      {
        a: { site: 'scc', device: 'ltu-bukit' },
        b: { site: 'bukit', device: 'ltu-scc' },
        mac: 'aa:00:00:00:00:01',
        link: 'scc-bukit',
      },
    ]);
  });

  it('a radio naming itself, or a site outside the backbone, does not confuse the order', () => {
    const r = proposePairs(parseBackbone(BACKBONE), [
      {
        site: 'baru',
        device: 'r1',
        macs: ['bb:00:00:00:00:01'],
        peers: ['bb:00:00:00:00:01', 'bb:00:00:00:00:02'],
      },
      { site: 'bukit', device: 'r2', macs: ['bb:00:00:00:00:02'] },
    ]);
    // A site not yet in backbone.yaml counts as farthest from the center: it is the B-end.
    expect(r.proposals.map((p) => `${p.a.site}/${p.a.device} → ${p.b.site}/${p.b.device}`)).toEqual([
      'bukit/r2 → baru/r1',
    ]);
  });
});
