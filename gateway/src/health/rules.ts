// Device health is judged by rules that are data: a threshold on a figure, with hysteresis so a value
// hovering at the line does not flap the state, and a reason in Bahasa Indonesia and English.

import type { MetricName, Reason, Status } from '@pantau/contract';

export interface ThresholdRule {
  code: string;
  metric: MetricName;
  op: '<' | '>=';
  threshold: number;
  /** Once raised, the reason clears only beyond threshold ± hysteresis. */
  hysteresis: number;
  status: Exclude<Status, 'ok' | 'unknown'>;
  /** `{value}` is replaced with the current value. */
  id: string;
  en: string;
}

export const DEFAULT_RULES: readonly ThresholdRule[] = [
  {
    code: 'loss_total',
    metric: 'loss_pct',
    op: '>=',
    threshold: 100,
    hysteresis: 0,
    status: 'degraded',
    id: 'Ping tidak dijawab (paket hilang 100%)',
    en: 'No ping replies (100% loss)',
  },
  {
    code: 'loss_high',
    metric: 'loss_pct',
    op: '>=',
    threshold: 20,
    hysteresis: 10,
    status: 'degraded',
    id: 'Banyak paket hilang: {value}%',
    en: 'High packet loss: {value}%',
  },
  {
    code: 'snr_low',
    metric: 'snr_db',
    op: '<',
    threshold: 15,
    hysteresis: 2,
    status: 'degraded',
    id: 'Sinyal lemah: SNR {value} dB (di bawah 15 dB)',
    en: 'Weak signal: SNR {value} dB (below 15 dB)',
  },
  {
    code: 'ccq_low',
    metric: 'ccq_pct',
    op: '<',
    threshold: 60,
    hysteresis: 5,
    status: 'degraded',
    id: 'Kualitas tautan rendah: CCQ {value}%',
    en: 'Poor link quality: CCQ {value}%',
  },
  {
    code: 'on_battery',
    metric: 'on_battery',
    op: '>=',
    threshold: 1,
    hysteresis: 0,
    status: 'degraded',
    id: 'Listrik padam: UPS memakai baterai',
    en: 'Mains lost: the UPS runs on battery',
  },
  {
    code: 'battery_low',
    metric: 'battery_pct',
    op: '<',
    threshold: 30,
    hysteresis: 10,
    status: 'degraded',
    id: 'Baterai UPS tinggal {value}%',
    en: 'UPS battery at {value}%',
  },
];

/** Reasons that come from reachability, not from a figure. */
export const REACHABILITY = {
  silent: {
    code: 'not_answering',
    id: 'Perangkat tidak menjawab (SNMP dan ping)',
    en: 'Device not answering (SNMP and ping)',
  },
  snmpSilent: {
    code: 'snmp_silent',
    id: 'SNMP tidak menjawab, tetapi ping menjawab',
    en: 'SNMP not answering, but ping replies',
  },
  snmpAuth: {
    code: 'snmp_auth',
    id: 'SNMP menolak kredensial (community/user salah)',
    en: 'SNMP refused the credentials (wrong community/user)',
  },
  snmpMalformed: {
    code: 'snmp_malformed',
    id: 'Jawaban SNMP rusak atau tidak lengkap',
    en: 'Malformed or incomplete SNMP reply',
  },
} as const satisfies Record<string, Reason>;

const RANK: Record<Status, number> = { unknown: 0, ok: 1, degraded: 2, down: 3 };

export function worst(a: Status, b: Status): Status {
  return RANK[a] >= RANK[b] ? a : b;
}

/** Evaluates threshold rules against the latest figures; `active` carries hysteresis between calls. */
export function evaluateRules(
  rules: readonly ThresholdRule[],
  figures: Partial<Record<MetricName, number>>,
  active: Set<string>,
): { status: Status; reasons: Reason[] } {
  let status: Status = 'ok';
  const reasons: Reason[] = [];
  for (const r of rules) {
    const v = figures[r.metric];
    if (v === undefined) {
      active.delete(r.code);
      continue;
    }
    const was = active.has(r.code);
    const limit = was
      ? r.op === '<'
        ? r.threshold + r.hysteresis
        : r.threshold - r.hysteresis
      : r.threshold;
    const hit = r.op === '<' ? v < limit : v >= limit;
    if (!hit) {
      active.delete(r.code);
      continue;
    }
    active.add(r.code);
    status = worst(status, r.status);
    const value = String(Math.round(v * 10) / 10);
    reasons.push({ code: r.code, id: r.id.replace('{value}', value), en: r.en.replace('{value}', value) });
  }
  // A total loss also trips the high-loss rule: say it once.
  if (reasons.some((r) => r.code === 'loss_total'))
    return { status, reasons: reasons.filter((r) => r.code !== 'loss_high') };
  return { status, reasons };
}
