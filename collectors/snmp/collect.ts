// One SNMP poll of one device: the system group, IF-MIB traffic, and the vendor profile's radio
// figures. The caller keeps `SnmpMemory` between polls; it is what turns counters into rates and
// uptime going backwards into a reboot.

import type { MetricName, Reading, Reason } from '@pantau/contract';
import { CollectorError } from '../common/errors.js';
import type { CollectorObservation, CollectorResult, DeviceIdentity } from '../common/types.js';

import { PROFILES } from './profiles/index.js';
import type { Profile, TableSource, TextSource } from './profiles/types.js';
import { isException, type SnmpSession, type SnmpVar } from './session.js';

const SYS = {
  descr: '1.3.6.1.2.1.1.1.0',
  objectId: '1.3.6.1.2.1.1.2.0',
  upTime: '1.3.6.1.2.1.1.3.0',
  name: '1.3.6.1.2.1.1.5.0',
};
const IF = {
  descr: '1.3.6.1.2.1.2.2.1.2',
  physAddress: '1.3.6.1.2.1.2.2.1.6',
  type: '1.3.6.1.2.1.2.2.1.3',
  speed: '1.3.6.1.2.1.2.2.1.5',
  oper: '1.3.6.1.2.1.2.2.1.8',
  in32: '1.3.6.1.2.1.2.2.1.10',
  out32: '1.3.6.1.2.1.2.2.1.16',
  name: '1.3.6.1.2.1.31.1.1.1.1',
  in64: '1.3.6.1.2.1.31.1.1.1.6',
  out64: '1.3.6.1.2.1.31.1.1.1.10',
  highSpeed: '1.3.6.1.2.1.31.1.1.1.15',
};
const NO_WIRELESS_DATA: Reason = {
  code: 'no_wireless_data',
  id: 'Tidak ada data nirkabel: tabel radio perangkat ini kosong (mis. paket "wifi" RouterOS 7)',
  en: 'No wireless data: this device\'s radio tables are empty (e.g. RouterOS 7 "wifi" package)',
};
const EXTEND_OUTPUT = '1.3.6.1.4.1.8072.1.3.2.3.1.1';
const EXTEND_OUTPUT_ARCS = EXTEND_OUTPUT.split('.').length;
const TWO_32 = 2n ** 32n;
const TWO_64 = 2n ** 64n;
/** TimeTicks wrap after 2^32 centiseconds (≈ 497 days): a wrap is not a reboot. */
const TICKS_WRAP_S = 2 ** 32 / 100;
/** Interface names and types rarely change: re-read them every this many polls. */
const IF_META_EVERY = 20;

interface InterfaceMeta {
  name: string;
  mac: string | null;
  type: number;
  speedBps: number | null;
}

interface CounterSample {
  ts: number;
  /**
   * Monotonic time the counters arrived: a rate is counted over the time between two answers, not
   * between two poll starts (the earlier requests of a poll take longer under load, which skewed a
   * 1 s rate by a third) and not over wall time (which jumps when NTP sets the clock).
   */
  at: number;
  in64: bigint | null;
  out64: bigint | null;
  in32: bigint | null;
  out32: bigint | null;
}

export interface SnmpMemory {
  profile: Profile | null | undefined;
  identity: DeviceIdentity;
  uptimeS: number | null;
  polls: number;
  interfaces: Map<number, InterfaceMeta>;
  counters: Map<number, CounterSample>;
  /** Connection time of each station, to see a reset (a link flap). */
  connected: Map<string, number>;
  /** Last value of each session-drop counter, to see it grow (a link flap). */
  flapCounters: Map<string, number>;
  /** Model and firmware are read once per detection, not every poll. */
  identityRead: boolean;
}

export function newSnmpMemory(): SnmpMemory {
  return {
    profile: undefined,
    identity: {},
    uptimeS: null,
    polls: 0,
    interfaces: new Map(),
    counters: new Map(),
    connected: new Map(),
    flapCounters: new Map(),
    identityRead: false,
  };
}

function num(v: SnmpVar | undefined): number | null {
  if (!v || isException(v)) return null;
  if (typeof v.value === 'number') return v.value;
  if (typeof v.value === 'bigint') return Number(v.value);
  // Some vendors put numbers inside OctetStrings.
  if (Buffer.isBuffer(v.value) || typeof v.value === 'string') {
    const n = Number(v.value.toString().trim());
    return v.value.length > 0 && Number.isFinite(n) ? n : null;
  }
  return null;
}

function big(v: SnmpVar | undefined): bigint | null {
  if (!v || isException(v)) return null;
  if (typeof v.value === 'bigint') return v.value;
  if (typeof v.value === 'number') return BigInt(Math.trunc(v.value));
  return null;
}

function text(v: SnmpVar | undefined): string | undefined {
  if (!v || isException(v) || v.value === null) return undefined;
  return Buffer.isBuffer(v.value) ? v.value.toString('utf8').replace(/\0+$/, '') : String(v.value);
}

function formatUptime(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${d > 0 ? `${d}d ` : ''}${h}:${String(m).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

/** Whether uptime going from `prev` to `now` means a restart (and not a TimeTicks wrap). */
export function isReboot(prevS: number, nowS: number): boolean {
  if (nowS >= prevS) return false;
  const nearWrap = prevS > TICKS_WRAP_S - 3600 && nowS < 3600;
  return !nearWrap;
}

/** A six-byte ifPhysAddress as aa:bb:cc:dd:ee:ff; null for loopbacks and all-zero addresses. */
function macOf(v: SnmpVar | undefined): string | null {
  if (!v || isException(v) || !Buffer.isBuffer(v.value) || v.value.length !== 6) return null;
  if (v.value.every((b) => b === 0)) return null;
  return [...v.value].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

const MAC_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

/** Per-second rate between two counter readings; null when it cannot be trusted. */
export function counterRate(prev: bigint, cur: bigint, wrap: bigint, seconds: number): number | null {
  if (seconds <= 0) return null;
  let delta = cur - prev;
  if (delta < 0n) {
    // One wrap is plausible for a 32-bit counter; a bigger jump back is a reset.
    delta += wrap;
    if (wrap === TWO_64 || delta > wrap / 2n) return null;
  }
  return Number(delta) / seconds;
}

async function detectProfile(session: SnmpSession, sysObjectId: string): Promise<Profile | null> {
  for (const p of PROFILES) {
    if (
      !p.detect.sysObjectId.some((prefix) => sysObjectId === prefix || sysObjectId.startsWith(`${prefix}.`))
    )
      continue;
    const probe = await session.walkColumns([p.detect.subtree]).catch(() => null);
    if (probe && (probe.get(p.detect.subtree)?.length ?? 0) > 0) return p;
  }
  return null;
}

function scaled(
  raw: number | null,
  src: { scale?: number; offset?: number; noValue?: number[]; map?: Record<number, number> },
): number | null {
  if (raw === null || src.noValue?.includes(raw)) return null;
  if (src.map) return src.map[raw] ?? null;
  const v = raw * (src.scale ?? 1) + (src.offset ?? 0);
  return Number.isFinite(v) ? Math.round(v * 1e6) / 1e6 : null;
}

const mac = (arcs: number[]) => arcs.map((b) => b.toString(16).padStart(2, '0')).join(':');

/** Labels of one table row, from its index arcs. */
function rowLabels(t: TableSource, index: number[]): Record<string, string> {
  switch (t.index.from) {
    case 'none':
      return {};
    case 'mac6':
      return { [t.index.label]: mac(index.slice(-6)) };
    case 'mac6-then-last':
      return {
        [t.index.label]: mac(index.slice(-7, -1)),
        [t.index.lastLabel]: String(index[index.length - 1]),
      };
    case 'last': {
      const last = String(index[index.length - 1]);
      return last === t.index.unlabelled ? {} : { [t.index.label]: last };
    }
  }
}

/** Gathers values into one reading per distinct label set; the unlabelled one is the device itself. */
class ReadingSet {
  private readonly byKey = new Map<string, Reading>();
  constructor(private readonly ts: number) {
    this.byKey.set('{}', { ts, values: {} });
  }
  get device(): Reading {
    return this.byKey.get('{}')!;
  }
  put(labels: Record<string, string>, metric: MetricName, value: number): void {
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
    const k = key === '[]' ? '{}' : key;
    let r = this.byKey.get(k);
    if (!r) {
      r = { ts: this.ts, values: {}, labels };
      this.byKey.set(k, r);
    }
    r.values[metric] = value;
  }
  all(): Reading[] {
    return [...this.byKey.values()];
  }
}

async function readProfile(
  session: SnmpSession,
  p: Profile,
  mem: SnmpMemory,
  ts: number,
  observations: CollectorObservation[],
): Promise<Reading[]> {
  const set = new ReadingSet(ts);
  if (p.scalars.length > 0) {
    const scalars = await session.get(p.scalars.map((s) => s.oid));
    p.scalars.forEach((s, i) => {
      const v = scaled(num(scalars[i]), s);
      if (v === null) return;
      set.put(s.labels ?? {}, s.metric, v);
      if (s.flapCounter) {
        const prev = mem.flapCounters.get(s.oid);
        if (prev !== undefined && v > prev) {
          observations.push({
            type: 'link_flap',
            message: {
              id: `Sesi radio terputus ${v - prev} kali sejak pembacaan lalu`,
              en: `Radio session dropped ${v - prev} time(s) since the last reading`,
            },
            data: { metric: s.metric, previous: prev, current: v },
          });
        }
        mem.flapCounters.set(s.oid, v);
      }
    });
  }
  const values = set.device.values;
  if (p.deriveSnr && values.rx_power_dbm !== undefined && values.noise_floor_dbm !== undefined)
    values.snr_db = values.rx_power_dbm - values.noise_floor_dbm;

  for (const t of p.tables) {
    const cols = t.columns.map((c) => `${t.entry}.${c.column}`);
    const data = await session.walkColumns(cols);
    const prefixLen = t.entry.split('.').length + 1;
    t.columns.forEach((c, ci) => {
      for (const v of data.get(cols[ci]!) ?? []) {
        const raw = num(v);
        const value = c.ticks ? (raw === null ? null : raw / 100) : scaled(raw, c);
        if (value === null) continue;
        const row = rowLabels(t, v.oid.slice(prefixLen));
        const label = Object.values(row).join('/');
        set.put({ ...row, ...c.labels }, c.metric, value);
        if (t.connectedSinceColumn === c.column) {
          const key = `${t.entry}/${label}`;
          const prev = mem.connected.get(key);
          if (prev !== undefined && value < prev) {
            observations.push({
              type: 'link_flap',
              message: {
                id: `Tautan ${label} tersambung ulang (tersambung ${formatUptime(value)})`,
                en: `Link to ${label} reconnected (connected for ${formatUptime(value)})`,
              },
              data: { ...row, previous_connected_s: prev, connected_s: value },
            });
          }
          mem.connected.set(key, value);
        }
      }
    });
  }
  if (p.extend && p.extend.length > 0) {
    const lines = await session.walkColumns([EXTEND_OUTPUT]);
    for (const v of lines.get(EXTEND_OUTPUT) ?? []) {
      // The index is the extend name as a length-prefixed string of character codes.
      const arcs = v.oid.slice(EXTEND_OUTPUT_ARCS + 1);
      const name = String.fromCharCode(...arcs);
      for (const src of p.extend) {
        const m = src.name.exec(name);
        if (!m) continue;
        const value = scaled(num(v), src);
        if (value !== null) set.put({ ...(m.groups ?? {}) }, src.metric, value);
        break;
      }
    }
  }
  const readings = set.all();

  if (!mem.identityRead) {
    mem.identity = { ...mem.identity, ...(await readIdentity(session, p, mem.identity)) };
    mem.identityRead = true;
  }
  return readings;
}

/** The first text a list of sources yields, given the values fetched for their OIDs. */
function firstText(sources: TextSource[] | undefined, values: Map<string, string>): string | undefined {
  for (const src of sources ?? []) {
    const raw = src.oids.map((o) => values.get(o));
    if (raw.some((v) => v === undefined || v === '')) continue;
    let parts = raw as string[];
    if (src.maps) {
      const mapped = parts.map((v, i) => (src.maps?.[i] ? src.maps[i]![v] : v));
      if (mapped.some((v) => v === undefined)) continue;
      parts = mapped as string[];
    }
    let out: string | undefined;
    if (src.lookup) out = src.lookup[parts.join(' ')];
    else out = (src.template ?? '{0}').replace(/\{(\d+)\}/g, (_, i: string) => parts[Number(i)] ?? '');
    if (out !== undefined && src.pattern) out = src.pattern.exec(out)?.[1];
    if (out) return out.trim();
  }
  return undefined;
}

/** Model, firmware and serial as the profile says to read them. */
async function readIdentity(
  session: SnmpSession,
  p: Profile,
  known: DeviceIdentity,
): Promise<Pick<DeviceIdentity, 'model' | 'firmware' | 'serial'>> {
  const id = p.identity;
  const values = new Map<string, string>();
  if (known.sysDescr !== undefined) values.set('sysDescr', known.sysDescr);
  if (known.sysObjectID !== undefined) values.set('sysObjectID', known.sysObjectID);
  const oids = [
    ...new Set([...(id.model ?? []), ...(id.firmware ?? []), ...(id.serial ?? [])].flatMap((s) => s.oids)),
  ].filter((o) => !values.has(o));
  if (oids.length > 0) {
    const got = await session.get(oids).catch(() => []);
    oids.forEach((o, i) => {
      const v = got[i];
      if (!v || isException(v)) return;
      const t = typeof v.value === 'number' || typeof v.value === 'bigint' ? String(v.value) : text(v);
      if (t !== undefined) values.set(o, t);
    });
  }
  let model = firstText(id.model, values);
  let firmware = firstText(id.firmware, values);
  if (id.modelColumn || id.firmwareColumn) {
    const cols = [id.modelColumn, id.firmwareColumn].filter((c): c is string => !!c);
    const data = await session.walkColumns(cols);
    model ??= id.modelColumn ? text(data.get(id.modelColumn)?.[0]) : undefined;
    let fw = id.firmwareColumn ? text(data.get(id.firmwareColumn)?.[0]) : undefined;
    const m = fw && id.firmwarePattern?.exec(fw);
    if (m?.[1]) fw = m[1];
    firmware ??= fw;
  }
  const serial = firstText(id.serial, values);
  return {
    ...(model ? { model } : {}),
    ...(firmware ? { firmware } : {}),
    ...(serial ? { serial } : {}),
  };
}

async function readInterfaces(
  session: SnmpSession,
  mem: SnmpMemory,
  ts: number,
  rebooted: boolean,
  monotonic: () => number,
): Promise<Reading[]> {
  if (mem.interfaces.size === 0 || rebooted || mem.polls % IF_META_EVERY === 0) {
    const meta = await session.walkColumns([
      IF.descr,
      IF.type,
      IF.speed,
      IF.name,
      IF.highSpeed,
      IF.physAddress,
    ]);
    const byIndex = (col: string) => new Map((meta.get(col) ?? []).map((v) => [v.oid[v.oid.length - 1]!, v]));
    const descr = byIndex(IF.descr);
    const type = byIndex(IF.type);
    const speed = byIndex(IF.speed);
    const name = byIndex(IF.name);
    const high = byIndex(IF.highSpeed);
    const phys = byIndex(IF.physAddress);
    mem.interfaces.clear();
    for (const [i, d] of descr) {
      const hs = num(high.get(i));
      const s32 = num(speed.get(i));
      // ifHighSpeed is Mbit/s, but some radios put bit/s in it: a value above 10^6 cannot be Mbit/s.
      const speedBps =
        hs !== null && hs > 0 ? (hs > 1_000_000 ? hs : hs * 1_000_000) : s32 !== null && s32 > 0 ? s32 : null;
      mem.interfaces.set(i, {
        name: text(name.get(i)) || text(d) || `if${i}`,
        mac: macOf(phys.get(i)),
        type: num(type.get(i)) ?? 0,
        speedBps,
      });
    }
  }
  if (mem.interfaces.size === 0) return [];
  const cols = await session.walkColumns([IF.oper, IF.in32, IF.out32, IF.in64, IF.out64]);
  const at = monotonic();
  const byIndex = (col: string) => new Map((cols.get(col) ?? []).map((v) => [v.oid[v.oid.length - 1]!, v]));
  const oper = byIndex(IF.oper);
  const in32 = byIndex(IF.in32);
  const out32 = byIndex(IF.out32);
  const in64 = byIndex(IF.in64);
  const out64 = byIndex(IF.out64);
  const readings: Reading[] = [];
  for (const [i, meta] of mem.interfaces) {
    const cur: CounterSample = {
      ts,
      at,
      in64: big(in64.get(i)),
      out64: big(out64.get(i)),
      in32: big(in32.get(i)),
      out32: big(out32.get(i)),
    };
    const values: Partial<Record<MetricName, number>> = {};
    const o = num(oper.get(i));
    if (o !== null) values.if_oper_up = o === 1 ? 1 : 0;
    if (meta.speedBps !== null) values.if_speed_bps = meta.speedBps;
    const prev = mem.counters.get(i);
    if (prev && !rebooted) {
      const secs = (at - prev.at) / 1000;
      const rate = (
        p64: bigint | null,
        c64: bigint | null,
        p32: bigint | null,
        c32: bigint | null,
      ): number | null => {
        // HC counters win, unless they sit at 0 while the 32-bit counter moves (a known firmware bug).
        const hcStuck = c64 === 0n && p64 === 0n && c32 !== null && p32 !== null && c32 !== p32;
        if (c64 !== null && p64 !== null && !hcStuck) return counterRate(p64, c64, TWO_64, secs);
        if (c32 !== null && p32 !== null) return counterRate(p32, c32, TWO_32, secs);
        return null;
      };
      const rin = rate(prev.in64, cur.in64, prev.in32, cur.in32);
      const rout = rate(prev.out64, cur.out64, prev.out32, cur.out32);
      if (rin !== null) values.if_in_bps = Math.round(rin * 8);
      if (rout !== null) values.if_out_bps = Math.round(rout * 8);
    }
    mem.counters.set(i, cur);
    readings.push({ ts, values, labels: { iface: meta.name } });
  }
  return readings;
}

/** Polls one device once. Throws CollectorError when the device cannot be read at all. */
export async function collectSnmp(
  session: SnmpSession,
  memory: SnmpMemory,
  opts: { now?: () => number; monotonic?: () => number } = {},
): Promise<CollectorResult> {
  const now = opts.now ?? Date.now;
  // For counter rates; a test that injects the wall clock drives both with it.
  const monotonic = opts.monotonic ?? (opts.now ? opts.now : () => performance.now());
  const sys = await session.get([SYS.descr, SYS.objectId, SYS.upTime, SYS.name]);
  const ts = now();
  const upTicks = num(sys[2]);
  if (upTicks === null) throw new CollectorError('malformed', 'device answered without sysUpTime');
  const uptimeS = upTicks / 100;
  const observations: CollectorObservation[] = [];
  const rebooted = memory.uptimeS !== null && isReboot(memory.uptimeS, uptimeS);
  if (rebooted) {
    observations.push({
      type: 'device_rebooted',
      message: {
        id: `Perangkat menyala ulang (uptime kembali ke ${formatUptime(uptimeS)})`,
        en: `Device rebooted (uptime back to ${formatUptime(uptimeS)})`,
      },
      data: { previous_uptime_s: memory.uptimeS, uptime_s: uptimeS },
    });
    memory.profile = undefined;
    memory.counters.clear();
    memory.connected.clear();
    memory.flapCounters.clear();
    memory.identityRead = false;
  }
  memory.uptimeS = uptimeS;

  const sysObjectId = sys[1] && !isException(sys[1]) ? String(sys[1].value).replace(/^\./, '') : '';
  if (memory.profile === undefined) {
    memory.profile = await detectProfile(session, sysObjectId);
    memory.identityRead = false;
    memory.identity = {
      ...(memory.profile
        ? { vendor: memory.profile.vendor, profile: memory.profile.id }
        : { profile: 'host' }),
      sysObjectID: sysObjectId,
    };
  }
  const sysDescr = text(sys[0]);
  if (sysDescr !== undefined) memory.identity.sysDescr = sysDescr;

  const readings: Reading[] = [{ ts, values: { uptime_s: uptimeS } }];
  const notices: Reason[] = [];
  if (memory.profile) {
    const profileReadings = await readProfile(session, memory.profile, memory, ts, observations);
    const empty = profileReadings.every((r) => Object.keys(r.values).length === 0);
    if (empty && memory.profile.emptyMeansNoWirelessData) notices.push({ ...NO_WIRELESS_DATA });
    Object.assign(readings[0]!.values, profileReadings[0]!.values);
    readings.push(...profileReadings.slice(1));
  }
  readings.push(...(await readInterfaces(session, memory, ts, rebooted, monotonic)));
  const macs = [...new Set([...memory.interfaces.values()].flatMap((i) => (i.mac ? [i.mac] : [])))];
  if (macs.length > 0) memory.identity.macs = macs;
  // Peers: every MAC a station or registration table names (the far ends of this radio's links).
  const peers = [
    ...new Set(
      readings.flatMap((r) =>
        Object.entries(r.labels ?? {}).flatMap(([k, v]) => (k !== 'iface' && MAC_RE.test(v) ? [v] : [])),
      ),
    ),
  ];
  memory.polls++;
  return {
    kind: memory.profile?.kind ?? 'host',
    readings,
    identity: { ...memory.identity },
    observations,
    ...(notices.length > 0 ? { notices } : {}),
    ...(peers.length > 0 ? { peers } : {}),
  };
}
