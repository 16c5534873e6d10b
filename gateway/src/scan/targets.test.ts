import { describe, expect, it } from 'vitest';
import { expandCidr, mapLimit, scanTargets, TargetError } from './targets.js';

describe('scan targets', () => {
  it('expands a subnet to its host addresses', () => {
    const hosts = expandCidr('10.1.2.0/24');
    expect(hosts).toHaveLength(254);
    expect(hosts[0]).toBe('10.1.2.1');
    expect(hosts.at(-1)).toBe('10.1.2.254');
    // A host address with its prefix means the subnet it is in.
    expect(expandCidr('10.1.2.77/30')).toEqual(['10.1.2.77', '10.1.2.78']);
    expect(expandCidr('10.1.2.77/32')).toEqual(['10.1.2.77']);
    expect(expandCidr('10.1.0.0/22')).toHaveLength(1022);
  });

  it('refuses more than a /22 and what is not a subnet', () => {
    expect(() => expandCidr('10.1.0.0/21')).toThrow(TargetError);
    expect(() => expandCidr('10.1.0.0')).toThrow(/not a subnet/);
    expect(() => expandCidr('10.1.0.256/24')).toThrow(/not a subnet/);
    expect(() => scanTargets([], ['router.local'])).toThrow(/not an IPv4 address/);
  });

  it('visits each address once', () => {
    expect(scanTargets(['10.0.0.0/30'], ['10.0.0.2', '10.0.0.9'])).toEqual([
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.9',
    ]);
  });

  it('keeps at most `limit` probes in flight and the results in order', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([...Array(40).keys()], 5, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 1 + (i % 3)));
      inFlight--;
      return i * 2;
    });
    expect(most).toBe(5);
    expect(out).toEqual([...Array(40).keys()].map((i) => i * 2));
  });
});
