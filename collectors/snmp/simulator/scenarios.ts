// Scripted changes over time for the simulator: what a real radio does while it is watched.
// A scenario turns a static recording into a living device: uptime ticks, counters advance,
// rain fades the signal, a power cut reboots it.

import { Tag } from '../ber.js';
import { parseOid } from '../oid.js';
import type { Varbind } from '../snmprec.js';

export type Scenario =
  /** Rain: rx signal, RSSI and CCQ sink by `depthDb` over `durationMs`, then recover; noise floor stays.
   *  With `everyMs` the shower comes back every so often, as it does in the wet season. */
  | {
      kind: 'fade';
      startMs: number;
      durationMs: number;
      depthDb: number;
      recoverMs?: number;
      everyMs?: number;
    }
  /** Interface counters advance at these bit rates (32-bit counters wrap); adds IF-MIB rows when absent. */
  | { kind: 'counters'; bitRateIn: number; bitRateOut: number; startMs?: number }
  /** Power cut at `atMs`: uptime and counters start again from zero. */
  | { kind: 'reboot'; atMs: number };

/** A value computed from the time since the agent started. */
export type Dynamic = (elapsedMs: number) => bigint;

export interface MibEntry {
  oid: number[];
  tag: number;
  value: Varbind['value'];
  dynamic?: Dynamic;
}

const SYS_UPTIME = parseOid('1.3.6.1.2.1.1.3.0');
const AIRMAX = '1.3.6.1.4.1.41112.1.4';
const IF_TABLE = [1, 3, 6, 1, 2, 1, 2, 2, 1];
const IFX_TABLE = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
const TWO_32 = 1n << 32n;
const TWO_64 = 1n << 64n;

const key = (oid: readonly number[]) => oid.join('.');

/** Fraction of the fade depth reached at time t: ramps down, then back up. */
export function fadeDepth(s: Extract<Scenario, { kind: 'fade' }>, t: number): number {
  const recover = s.recoverMs ?? s.durationMs;
  let x = t - s.startMs;
  if (x <= 0) return 0;
  if (s.everyMs) x %= s.everyMs;
  if (x < s.durationMs) return x / s.durationMs;
  if (x < s.durationMs + recover) return 1 - (x - s.durationMs) / recover;
  return 0;
}

/** Builds the agent's MIB: the recording plus whatever the scenarios add or animate. */
export function buildMib(recording: readonly Varbind[], scenarios: readonly Scenario[]): MibEntry[] {
  const byKey = new Map<string, MibEntry>();
  for (const v of recording) byKey.set(key(v.oid), { oid: v.oid, tag: v.tag, value: v.value });

  const reboot = scenarios.find((s): s is Extract<Scenario, { kind: 'reboot' }> => s.kind === 'reboot');
  /** Milliseconds since the device (re)started: what uptime and counters grow with. */
  const sinceBoot = (t: number) => (reboot && t >= reboot.atMs ? t - reboot.atMs : t);
  const booted = (t: number) => !!reboot && t >= reboot.atMs;

  const up = byKey.get(key(SYS_UPTIME));
  const baseTicks = up && typeof up.value === 'bigint' ? up.value : 0n;
  byKey.set(key(SYS_UPTIME), {
    oid: [...SYS_UPTIME],
    tag: up?.tag ?? Tag.TimeTicks,
    value: baseTicks,
    dynamic: (t) => (booted(t) ? 0n : baseTicks) + BigInt(Math.floor(sinceBoot(t) / 10)),
  });

  for (const s of scenarios) {
    if (s.kind === 'fade') applyFade(byKey, s);
    if (s.kind === 'counters') applyCounters(byKey, s, sinceBoot, booted);
  }
  return [...byKey.values()];
}

function applyFade(mib: Map<string, MibEntry>, s: Extract<Scenario, { kind: 'fade' }>): void {
  const dropBy = (perDb: number, min: bigint, max: bigint) => (e: MibEntry) => {
    const base = e.value as bigint;
    e.dynamic = (t) => {
      const v = base - BigInt(Math.round(fadeDepth(s, t) * s.depthDb * perDb));
      return v < min ? min : v > max ? max : v;
    };
  };
  for (const e of mib.values()) {
    if (typeof e.value !== 'bigint') continue;
    const k = key(e.oid);
    if (!k.startsWith(`${AIRMAX}.`)) continue;
    const rest = k.slice(AIRMAX.length + 1);
    // signal (dBm), RSSI and per-chain RSSI fall dB for dB; CCQ loses ~2 % per dB; noise floor is untouched.
    if (rest === '5.1.5.1' || rest === '5.1.6.1' || rest.startsWith('2.1.2.1.')) dropBy(1, -120n, 100n)(e);
    else if (rest === '5.1.7.1') dropBy(2, 0n, 100n)(e);
    else if (rest.startsWith('7.1.3.')) dropBy(1, -120n, 0n)(e);
  }
}

function applyCounters(
  mib: Map<string, MibEntry>,
  s: Extract<Scenario, { kind: 'counters' }>,
  sinceBoot: (t: number) => number,
  booted: (t: number) => boolean,
): void {
  const start = s.startMs ?? 0;
  const hasIfTable = [...mib.keys()].some((k) => k.startsWith(`${key(IF_TABLE)}.`));
  if (!hasIfTable) addSyntheticInterfaces(mib);

  const animate = (table: number[], col: number, bitRate: number, wrap: bigint) => {
    for (const e of mib.values()) {
      if (e.oid.length !== table.length + 2 || typeof e.value !== 'bigint') continue;
      if (key(e.oid.slice(0, table.length + 1)) !== key([...table, col])) continue;
      const ifIndex = e.oid[e.oid.length - 1]!;
      if (ifIndex === 1 && !hasIfTable) continue; // synthetic loopback stays quiet
      const base = e.value;
      e.dynamic = (t) => {
        const bytes = BigInt(
          Math.floor((Math.max(0, sinceBoot(t) - (booted(t) ? 0 : start)) / 1000) * (bitRate / 8)),
        );
        return ((booted(t) ? 0n : base) + bytes) % wrap;
      };
    }
  };
  animate(IF_TABLE, 10, s.bitRateIn, TWO_32);
  animate(IF_TABLE, 16, s.bitRateOut, TWO_32);
  animate(IFX_TABLE, 6, s.bitRateIn, TWO_64);
  animate(IFX_TABLE, 10, s.bitRateOut, TWO_64);
}

/** IF-MIB rows for a recording that has none (airOS walks often skip IF-MIB): lo, eth0, ath0. */
function addSyntheticInterfaces(mib: Map<string, MibEntry>): void {
  const rows: Array<{ index: number; name: string; type: number; speedMbps: number }> = [
    { index: 1, name: 'lo', type: 24, speedMbps: 0 },
    { index: 2, name: 'eth0', type: 6, speedMbps: 1000 },
    { index: 5, name: 'ath0', type: 71, speedMbps: 0 },
  ];
  const put = (oid: number[], tag: number, value: Varbind['value']) => mib.set(key(oid), { oid, tag, value });
  put([1, 3, 6, 1, 2, 1, 2, 1, 0], Tag.Integer, BigInt(rows.length));
  for (const r of rows) {
    put([...IF_TABLE, 1, r.index], Tag.Integer, BigInt(r.index));
    put([...IF_TABLE, 2, r.index], Tag.OctetString, Buffer.from(r.name));
    put([...IF_TABLE, 3, r.index], Tag.Integer, BigInt(r.type));
    put([...IF_TABLE, 5, r.index], Tag.Gauge32, BigInt(Math.min(r.speedMbps * 1_000_000, 4294967295)));
    put([...IF_TABLE, 7, r.index], Tag.Integer, 1n);
    put([...IF_TABLE, 8, r.index], Tag.Integer, 1n);
    put([...IF_TABLE, 10, r.index], Tag.Counter32, 0n);
    put([...IF_TABLE, 16, r.index], Tag.Counter32, 0n);
    put([...IFX_TABLE, 1, r.index], Tag.OctetString, Buffer.from(r.name));
    put([...IFX_TABLE, 6, r.index], Tag.Counter64, 0n);
    put([...IFX_TABLE, 10, r.index], Tag.Counter64, 0n);
    put([...IFX_TABLE, 15, r.index], Tag.Gauge32, BigInt(r.speedMbps));
  }
}
