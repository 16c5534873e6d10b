// Table walks against the simulator: whole columns in one GETBULK, and the next poll sized by the
// last one — still complete when a table grows or shrinks between polls.

import { afterAll, describe, expect, it } from 'vitest';
import { Tag } from './ber.js';
import { parseOid } from './oid.js';
import { SnmpSession } from './session.js';
import { type SimulatedAgent, startSimulatedAgent } from './simulator/index.js';
import type { Varbind } from './snmprec.js';

const STATION = '1.3.6.1.4.1.41112.1.4.7.1';
/** An airMAX-like station table with `n` stations (signal column 3, CCQ column 6). */
function table(n: number): Varbind[] {
  const rows: Varbind[] = [
    { oid: parseOid('1.3.6.1.2.1.1.1.0'), tag: Tag.OctetString, value: Buffer.from('radio') },
  ];
  for (const col of [3, 6])
    for (let i = 1; i <= n; i++)
      rows.push({ oid: parseOid(`${STATION}.${col}.${i}`), tag: Tag.Integer, value: BigInt(-50 - i) });
  // A neighbouring subtree the walk must stop before.
  rows.push({ oid: parseOid('1.3.6.1.4.1.41112.1.4.8.1.0'), tag: Tag.Integer, value: 7n });
  return rows;
}

describe('column walks', () => {
  let agent: SimulatedAgent;
  afterAll(async () => agent?.close());

  it('reads every row as the table grows past and shrinks below the last poll’s size', async () => {
    agent = await startSimulatedAgent({ recording: table(3), port: 0 });
    const session = new SnmpSession({
      address: agent.host,
      port: agent.port,
      version: '2c',
      community: 'public',
      timeoutMs: 1000,
      retries: 0,
      maxRepetitions: 10,
    });
    const cols = [`${STATION}.3`, `${STATION}.6`];
    const walk = async () => {
      const before = session.requests;
      const m = await session.walkColumns(cols);
      return {
        rows: cols.map((c) => m.get(c)!.map((v) => Number(v.value))),
        requests: session.requests - before,
      };
    };
    expect(await walk()).toEqual({
      rows: [
        [-51, -52, -53],
        [-51, -52, -53],
      ],
      requests: 1,
    });
    for (const n of [3, 30, 30, 0, 2]) {
      agent.replace(table(n));
      const expected = Array.from({ length: n }, (_, i) => -51 - i);
      const r = await walk();
      expect(r.rows, `${n} stations`).toEqual([expected, expected]);
    }
    session.close();
  });
});
