// Power lost / restored from a UPS's `on_battery` (1 = running on battery, 0 = on mains), whichever
// collector read it (SNMP UPS-MIB, CyberPower, a Modbus map). Pure functions: the gateway keeps the
// state between polls and publishes the events.

import type { EventPayload, Reading } from '@pantau/contract';

export type PowerEvent = 'power_lost' | 'power_restored';
/** An `on_battery` value as read: 1, 0, or nothing (the device did not say). */
export type OnBattery = number | boolean | null | undefined;

const norm = (v: OnBattery): 0 | 1 | null =>
  v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? null : v ? 1 : 0;

/**
 * The event between two consecutive `on_battery` readings: 0 → 1 is power lost, 1 → 0 power restored.
 * Nothing when either is unknown (a first reading, a failed poll): the device state already says
 * which it is, and a guess would raise a false alarm.
 */
export function powerTransition(prev: OnBattery, current: OnBattery): PowerEvent | null {
  const p = norm(prev);
  const c = norm(current);
  if (p === null || c === null || p === c) return null;
  return c === 1 ? 'power_lost' : 'power_restored';
}

/** What the gateway keeps per UPS for `debouncePower`. */
export interface PowerState {
  /** The last state an event (or the first reading) stood for. */
  confirmed: 0 | 1 | null;
  /** A different state seen, not yet confirmed, and how many readings in a row said it. */
  pending: 0 | 1 | null;
  count: number;
}

/**
 * Like `powerTransition`, but a change must hold for `confirmAfter` readings in a row (default 2)
 * before it is an event, so a UPS's own self test (a few seconds on battery) or one odd reading does
 * not page anyone. An unknown reading neither confirms nor cancels a pending change.
 */
export function debouncePower(
  state: PowerState | undefined,
  reading: OnBattery,
  confirmAfter = 2,
): { state: PowerState; event: PowerEvent | null } {
  const s: PowerState = state ? { ...state } : { confirmed: null, pending: null, count: 0 };
  const v = norm(reading);
  if (v === null) return { state: s, event: null };
  if (s.confirmed === null) return { state: { confirmed: v, pending: null, count: 0 }, event: null };
  if (v === s.confirmed) return { state: { confirmed: v, pending: null, count: 0 }, event: null };
  const count = s.pending === v ? s.count + 1 : 1;
  if (count < confirmAfter) return { state: { confirmed: s.confirmed, pending: v, count }, event: null };
  return {
    state: { confirmed: v, pending: null, count: 0 },
    event: powerTransition(s.confirmed, v),
  };
}

function minutes(s: number): string {
  return String(Math.round(s / 60));
}

/** Severity and plain-language message (id + en) of a power event, from the UPS's reading at the time. */
export function powerEventText(
  event: PowerEvent,
  reading?: Pick<Reading, 'values'>,
): Pick<EventPayload, 'type' | 'severity' | 'message'> & { data: Record<string, number> } {
  const v = reading?.values ?? {};
  const data: Record<string, number> = {};
  for (const k of ['battery_pct', 'battery_runtime_s', 'input_voltage_v'] as const)
    if (v[k] !== undefined) data[k] = v[k];
  if (event === 'power_lost') {
    const left =
      v.battery_runtime_s !== undefined
        ? {
            id: `, sisa baterai ± ${minutes(v.battery_runtime_s)} menit`,
            en: `, about ${minutes(v.battery_runtime_s)} min of battery left`,
          }
        : v.battery_pct !== undefined
          ? { id: `, baterai ${v.battery_pct}%`, en: `, battery at ${v.battery_pct}%` }
          : { id: '', en: '' };
    return {
      type: 'power_lost',
      severity: 'critical',
      message: {
        id: `Listrik padam: UPS memakai baterai${left.id}`,
        en: `Power cut: UPS running on battery${left.en}`,
      },
      data,
    };
  }
  return {
    type: 'power_restored',
    severity: 'info',
    message: {
      id: 'Listrik menyala kembali: UPS kembali memakai listrik PLN/genset',
      en: 'Power restored: UPS back on mains or generator',
    },
    data,
  };
}
