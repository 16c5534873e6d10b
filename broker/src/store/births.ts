// What a site box's birth (its retained `online` state) tells the central about its sequence numbers:
// which numbers it will never use, and whether its new run starts among numbers already held.

import type { GatewayStatePayload } from '@pantau/contract';
import type { SequenceClash } from './types.js';

/** Skipped ranges a birth declares: the rest of a restarted box's block, and a jump to the clock. */
export function birthSkips(p: GatewayStatePayload, max: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (p.state !== 'online' || !Number.isSafeInteger(p.seq_first)) return out;
  const first = p.seq_first!;
  if (max > 0 && first > max + 1) out.push([max + 1, first - 1]);
  const j = p.seq_jump;
  if (
    Array.isArray(j) &&
    j.length === 2 &&
    Number.isSafeInteger(j[0]) &&
    Number.isSafeInteger(j[1]) &&
    j[0] >= first - 1 &&
    j[1] > j[0] + 1
  )
    out.push([j[0] + 1, j[1] - 1]);
  return out;
}

/** The birth of a new run (not a reconnection of the one before) whose first number is already held. */
export function clashOf(p: GatewayStatePayload, previousFirst: unknown, held: number): SequenceClash | null {
  if (p.state !== 'online' || !Number.isSafeInteger(p.seq_first) || previousFirst === p.seq_first)
    return null;
  return held >= p.seq_first! ? { seq_first: p.seq_first!, held_max: held } : null;
}
