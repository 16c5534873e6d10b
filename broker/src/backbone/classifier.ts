// Fade or fault: what a weak or broken link is suffering from, in plain language. A pure function of
// the link's recent samples at both ends, its baseline, recent reboots and flaps, what neighbouring
// links in the same area are doing, and the previous verdict (hysteresis and debouncing need it).
//
// The physics it leans on:
// - rain or cloud attenuates the path, so both ends lose about the same power together, the noise
//   floor stays where it was and the radios step their modulation down; neighbours fade too;
// - interference raises the noise floor at one end, so SNR falls there while rx power holds;
// - a knocked antenna, water in a connector or a failing feed is a step change that stays, often
//   on one end or one chain only (the chains drift apart);
// - a radio that lost power comes back with its uptime reset.

import type { MetricName, Reason, Status } from '@pantau/contract';
import { type EndSample, medianOf } from './ends.js';

export type Cause =
  | 'ok'
  | 'no_data'
  | 'down'
  | 'device_power'
  | 'interference'
  | 'alignment'
  | 'weather_fade'
  | 'fade'
  | 'unstable';

export type Level = 0 | 1 | 2;

export interface EndBaseline {
  rx_dbm?: number;
  snr_db?: number;
  noise_dbm?: number;
  mcs?: number;
  imbalance_db?: number;
  capacity_rx_bps?: number;
  capacity_tx_bps?: number;
}

export interface LinkBaseline {
  a?: EndBaseline;
  b?: EndBaseline;
  recorded_at: number;
  recorded_by: string;
}

export interface EndInput {
  /** Samples of the recent window, oldest first. */
  samples: EndSample[];
  /** The radio answers its site box (device state not down, not stale); null when not polled at all. */
  reachable: boolean | null;
  /** When the radio last rebooted, if recently. */
  rebootedAt?: number;
}

export interface LinkInput {
  id: string;
  name: string;
  thresholds: { warn_db: number; critical_db: number };
  baseline: LinkBaseline | null;
  a: EndInput;
  b: EndInput;
  /** Link flaps (connection reset, session drop) seen at either end, timestamps. */
  flaps: number[];
  /** Other links nearby that are losing power at the same time (names, for the reason). */
  fadingNeighbours: string[];
  area?: string;
  previous: LinkVerdict | null;
  now: number;
}

export interface EndFigures {
  rx_dbm?: number;
  /** How far below its reference (baseline, or the radio's own ideal level) the rx power is. */
  drop_db?: number;
  snr_drop_db?: number;
  noise_rise_db?: number;
  mcs_drop?: number;
  imbalance_rise_db?: number;
  reference?: 'baseline' | 'ideal';
  /** The drop arrived within one or two samples rather than building up. */
  step?: boolean;
}

export interface LinkVerdict {
  status: Status;
  cause: Cause;
  level: Level;
  reasons: Reason[];
  a: EndFigures;
  b: EndFigures;
  /** The larger of the ends' impairments (power drop or SNR drop), dB. */
  impairment_db: number | null;
  flaps_30m: number;
  unstable: boolean;
  /** When the current cause began. */
  since: number;
  /** Both ends (or the only measured end) are losing power: used for the area check of neighbours. */
  fading: boolean;
  /** The latest probe burst across this link from a site box's path probe (attached by the engine). */
  latency?: { site: string; ts: number; values: Partial<Record<MetricName, number>> };
}

/** How far the value must come back below a threshold before the level drops (dB). */
export const HYSTERESIS_DB = 2;
export const FLAP_WINDOW_MS = 30 * 60_000;
/** Flaps within the window that make a link unstable, and the quiet time that clears it. */
export const UNSTABLE_FLAPS = 3;
export const UNSTABLE_QUIET_MS = 30 * 60_000;
/** A reboot stays the explanation this long. */
export const REBOOT_MEMORY_MS = 15 * 60_000;
const NOISE_RISE_DB = 3;
const IMBALANCE_RISE_DB = 5;
/** Samples whose median is "now": one odd reading must not swing a verdict. */
const RECENT = 3;

const r1 = (x: number) => Math.round(x * 10) / 10;

/** A threshold with hysteresis: enter at `warn`/`critical`, leave only below them minus HYSTERESIS_DB. */
export function levelOf(value: number, prev: Level, t: { warn_db: number; critical_db: number }): Level {
  if (value >= t.critical_db) return 2;
  if (prev === 2 && value > t.critical_db - HYSTERESIS_DB) return 2;
  if (value >= t.warn_db) return 1;
  if (prev >= 1 && value > t.warn_db - HYSTERESIS_DB) return 1;
  return 0;
}

function endFigures(end: EndInput, base: EndBaseline | undefined, warn: number): EndFigures {
  const recent = end.samples.slice(-RECENT);
  const f: EndFigures = {};
  const rx = medianOf(recent, 'rx_dbm');
  if (rx === undefined) return f;
  f.rx_dbm = rx;
  const ideal = medianOf(recent, 'ideal_dbm');
  const ref = base?.rx_dbm ?? ideal;
  if (ref !== undefined) {
    f.drop_db = r1(Math.max(0, ref - rx));
    f.reference = base?.rx_dbm !== undefined ? 'baseline' : 'ideal';
  }
  const snr = medianOf(recent, 'snr_db');
  if (snr !== undefined && base?.snr_db !== undefined) f.snr_drop_db = r1(Math.max(0, base.snr_db - snr));
  const noise = medianOf(recent, 'noise_dbm');
  if (noise !== undefined && base?.noise_dbm !== undefined) f.noise_rise_db = r1(noise - base.noise_dbm);
  const mcs = medianOf(recent, 'mcs');
  if (mcs !== undefined && base?.mcs !== undefined) f.mcs_drop = Math.max(0, base.mcs - mcs);
  const imb = medianOf(recent, 'imbalance_db');
  if (imb !== undefined && base?.imbalance_db !== undefined)
    f.imbalance_rise_db = r1(imb - base.imbalance_db);
  // A step: the whole drop happened between two consecutive samples, and it stayed.
  if (f.drop_db !== undefined && f.drop_db >= warn && ref !== undefined) {
    const s = end.samples.filter((x) => x.rx_dbm !== undefined);
    for (let i = s.length - 1; i > 0; i--) {
      const fall = s[i - 1]!.rx_dbm! - s[i]!.rx_dbm!;
      if (fall >= warn * 0.8 && s.slice(i).every((x) => ref - x.rx_dbm! >= warn)) {
        f.step = true;
        break;
      }
    }
  }
  return f;
}

function uptimeReset(end: EndInput, now: number): number | undefined {
  if (end.rebootedAt !== undefined && now - end.rebootedAt < REBOOT_MEMORY_MS) return end.rebootedAt;
  const s = end.samples;
  for (let i = s.length - 1; i > 0; i--) {
    const prev = s[i - 1]!.uptime_s;
    const cur = s[i]!.uptime_s;
    if (prev !== undefined && cur !== undefined && cur < prev && now - s[i]!.ts < REBOOT_MEMORY_MS)
      return s[i]!.ts;
  }
  return undefined;
}

const reason = (code: string, id: string, en: string): Reason => ({ code, id, en });

export function classifyLink(x: LinkInput): LinkVerdict {
  const prev = x.previous;
  const t = x.thresholds;
  const a = endFigures(x.a, x.baseline?.a, t.warn_db);
  const b = endFigures(x.b, x.baseline?.b, t.warn_db);
  const reasons: Reason[] = [];
  const flaps = x.flaps.filter((ts) => x.now - ts <= FLAP_WINDOW_MS);
  const lastFlap = flaps.length ? Math.max(...flaps) : undefined;
  // Debounced: unstable after UNSTABLE_FLAPS flaps in the window; stays until a quiet spell.
  const unstable =
    flaps.length >= UNSTABLE_FLAPS ||
    (!!prev?.unstable && lastFlap !== undefined && x.now - lastFlap < UNSTABLE_QUIET_MS);
  const verdict = (status: Status, cause: Cause, level: Level, fading = false): LinkVerdict => ({
    status,
    cause,
    level,
    reasons,
    a,
    b,
    impairment_db: impairment ?? null,
    flaps_30m: flaps.length,
    unstable,
    since: prev && prev.cause === cause ? prev.since : x.now,
    fading,
  });
  const impairments = [a, b].flatMap((e) => {
    const v = Math.max(e.drop_db ?? -1, e.snr_drop_db ?? -1);
    return v >= 0 ? [v] : [];
  });
  const impairment = impairments.length ? Math.max(...impairments) : undefined;

  // 1. Is there a link at all?
  const rebootA = uptimeReset(x.a, x.now);
  const rebootB = uptimeReset(x.b, x.now);
  const measured = [a, b].filter((e) => e.rx_dbm !== undefined).length;
  const polled = [x.a, x.b].filter((e) => e.reachable !== null).length;
  if (polled === 0) {
    reasons.push(
      reason(
        'no_data',
        'Kedua ujung tautan tidak dipantau oleh kotak lokasi mana pun',
        'Neither end is polled by any site box',
      ),
    );
    return verdict('unknown', 'no_data', 0);
  }
  const endDown = (e: EndInput, f: EndFigures) =>
    e.reachable === false || (e.reachable === true && f.rx_dbm === undefined);
  if (
    measured === 0 ||
    (endDown(x.a, a) && endDown(x.b, b)) ||
    (x.a.reachable === true && a.rx_dbm === undefined)
  ) {
    if (rebootA !== undefined || rebootB !== undefined) {
      const end = rebootB !== undefined ? 'B' : 'A';
      reasons.push(
        reason(
          'device_power',
          `Tautan ${x.name} putus: radio ujung ${end} baru menyala ulang (kemungkinan listrik padam)`,
          `Link ${x.name} is down: the ${end}-end radio just restarted (likely a power cut)`,
        ),
      );
      return verdict('down', 'device_power', 2);
    }
    const who =
      x.a.reachable === true && a.rx_dbm === undefined
        ? {
            id: 'radio ujung A menyala tetapi tidak melihat pasangannya',
            en: 'the A-end radio answers but does not see its peer',
          }
        : { id: 'radio di kedua ujung tidak menjawab', en: 'neither radio answers' };
    reasons.push(
      reason('link_down', `Tautan ${x.name} putus: ${who.id}`, `Link ${x.name} is down: ${who.en}`),
    );
    return verdict('down', 'down', 2);
  }

  // 2. A restart explains what follows it for a while.
  if (rebootA !== undefined || rebootB !== undefined) {
    const end = rebootB !== undefined ? 'B' : 'A';
    reasons.push(
      reason(
        'device_power',
        `Radio ujung ${end} menyala ulang (uptime kembali ke nol): kemungkinan listrik padam atau perangkat hang`,
        `The ${end}-end radio restarted (uptime reset): likely a power cut or a hung device`,
      ),
    );
  }
  if (unstable)
    reasons.push(
      reason(
        'unstable',
        `Tautan tidak stabil: ${flaps.length} kali terputus-sambung dalam 30 menit`,
        `Link unstable: ${flaps.length} flaps in 30 minutes`,
      ),
    );

  // 3. How weak, against the baseline (or the radio's own ideal level), with hysteresis.
  if (impairment === undefined) {
    if (!x.baseline && a.reference === undefined && b.reference === undefined)
      reasons.push(
        reason(
          'no_baseline',
          'Belum ada baseline: rekam baseline saat komisioning agar pelemahan bisa dinilai',
          'No baseline yet: record one at commissioning so fading can be judged',
        ),
      );
    if (rebootA !== undefined || rebootB !== undefined) return verdict('degraded', 'device_power', 1);
    return unstable ? verdict('degraded', 'unstable', 1) : verdict('ok', 'ok', 0);
  }
  const level = levelOf(impairment, prev?.level ?? 0, t);
  const bothFalling =
    (a.drop_db ?? 0) >= NOISE_RISE_DB &&
    (b.drop_db ?? 0) >= NOISE_RISE_DB &&
    Math.abs(a.drop_db! - b.drop_db!) <= 4;
  const onlyOneEnd = measured === 1;
  const fading = bothFalling || (onlyOneEnd && (a.drop_db ?? b.drop_db ?? 0) >= NOISE_RISE_DB);
  if (level === 0) {
    if (rebootA !== undefined || rebootB !== undefined) return verdict('degraded', 'device_power', 1, fading);
    return unstable ? verdict('degraded', 'unstable', 1, fading) : verdict('ok', 'ok', 0, fading);
  }
  const status: Status = 'degraded';
  const sev = level === 2 ? { id: 'kritis', en: 'critical' } : { id: 'peringatan', en: 'warning' };
  const worstEnd = (a.drop_db ?? 0) >= (b.drop_db ?? 0) ? 'A' : 'B';
  const fig = worstEnd === 'A' ? a : b;
  const other = worstEnd === 'A' ? b : a;
  const ref = (f: EndFigures) => (f.reference === 'ideal' ? 'level ideal radio' : 'baseline');
  const refEn = (f: EndFigures) => (f.reference === 'ideal' ? "the radio's ideal level" : 'baseline');

  // Interference: the noise floor rose at an end and SNR fell while rx power held.
  for (const [name, f] of [
    ['A', a],
    ['B', b],
  ] as const) {
    if (
      (f.noise_rise_db ?? 0) >= NOISE_RISE_DB &&
      (f.snr_drop_db ?? 0) >= t.warn_db - HYSTERESIS_DB &&
      (f.drop_db ?? 0) < NOISE_RISE_DB
    ) {
      reasons.push(
        reason(
          'interference',
          `Interferensi di ujung ${name} (${sev.id}): derau latar naik ${f.noise_rise_db} dB, SNR turun ${f.snr_drop_db} dB, daya terima tetap`,
          `Interference at the ${name} end (${sev.en}): noise floor up ${f.noise_rise_db} dB, SNR down ${f.snr_drop_db} dB, rx power steady`,
        ),
      );
      return verdict(status, 'interference', level, fading);
    }
  }
  // Alignment or cable: one end only, a chain drifting away from the other, or a step that stays.
  const oneSided = !onlyOneEnd && (fig.drop_db ?? 0) >= t.warn_db && (other.drop_db ?? 0) < NOISE_RISE_DB;
  const chainDrift = [a, b].find((f) => (f.imbalance_rise_db ?? 0) >= IMBALANCE_RISE_DB);
  const step = (a.step || b.step) && x.fadingNeighbours.length === 0;
  if (oneSided || chainDrift || step) {
    const why = chainDrift
      ? {
          id: `selisih antar-rantai naik ${chainDrift.imbalance_rise_db} dB`,
          en: `chain imbalance up ${chainDrift.imbalance_rise_db} dB`,
        }
      : oneSided
        ? { id: `hanya ujung ${worstEnd} yang turun`, en: `only the ${worstEnd} end dropped` }
        : { id: 'turun mendadak dan tidak pulih', en: 'a sudden drop that stays' };
    reasons.push(
      reason(
        'alignment',
        `Kemungkinan arah antena bergeser atau kabel/konektor bermasalah (${sev.id}): daya terima ujung ${worstEnd} ${fig.drop_db} dB di bawah ${ref(fig)}; ${why.id}`,
        `Likely antenna misalignment or a cable/connector fault (${sev.en}): ${worstEnd}-end rx power ${fig.drop_db} dB below ${refEn(fig)}; ${why.en}`,
      ),
    );
    return verdict(status, 'alignment', level, fading);
  }
  const mcsDrop = Math.max(a.mcs_drop ?? 0, b.mcs_drop ?? 0);
  const noiseSteady = [a, b].every((f) => (f.noise_rise_db ?? 0) < NOISE_RISE_DB);
  if ((bothFalling || (onlyOneEnd && x.fadingNeighbours.length > 0)) && noiseSteady) {
    const parts = [
      bothFalling
        ? {
            id: `kedua ujung turun bersamaan (A ${a.drop_db} dB, B ${b.drop_db} dB)`,
            en: `both ends dropped together (A ${a.drop_db} dB, B ${b.drop_db} dB)`,
          }
        : { id: `turun ${fig.drop_db} dB`, en: `down ${fig.drop_db} dB` },
      { id: 'derau latar tetap', en: 'noise floor steady' },
      ...(mcsDrop > 0
        ? [{ id: `modulasi turun ${mcsDrop} tingkat`, en: `modulation stepped down ${mcsDrop} level(s)` }]
        : []),
      ...(x.fadingNeighbours.length > 0
        ? [
            {
              id: `${x.fadingNeighbours.length} tautan lain di ${x.area ?? 'area yang sama'} juga melemah (${x.fadingNeighbours.join(', ')})`,
              en: `${x.fadingNeighbours.length} other link(s) in ${x.area ?? 'the same area'} fading too (${x.fadingNeighbours.join(', ')})`,
            },
          ]
        : []),
    ];
    reasons.push(
      reason(
        'weather_fade',
        `Pelemahan karena cuaca (hujan/awan, ${sev.id}): ${parts.map((p) => p.id).join('; ')}`,
        `Weather fade (rain/cloud, ${sev.en}): ${parts.map((p) => p.en).join('; ')}`,
      ),
    );
    return verdict(status, 'weather_fade', level, true);
  }
  reasons.push(
    reason(
      'fade',
      `Sinyal melemah (${sev.id}): ${impairment} dB di bawah ${ref(fig)}`,
      `Signal fading (${sev.en}): ${impairment} dB below ${refEn(fig)}`,
    ),
  );
  return verdict(status, 'fade', level, fading);
}
