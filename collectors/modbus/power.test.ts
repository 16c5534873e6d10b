import { describe, expect, it } from 'vitest';
import { debouncePower, type OnBattery, type PowerState, powerEventText, powerTransition } from './index.js';

describe('powerTransition', () => {
  it('mains → battery is power lost, battery → mains power restored', () => {
    expect(powerTransition(0, 1)).toBe('power_lost');
    expect(powerTransition(1, 0)).toBe('power_restored');
    expect(powerTransition(false, true)).toBe('power_lost');
  });

  it('no change, or an unknown side (first reading, failed poll), is no event', () => {
    for (const [a, b] of [
      [0, 0],
      [1, 1],
      [undefined, 1],
      [null, 0],
      [1, undefined],
      [0, Number.NaN],
    ] as Array<[OnBattery, OnBattery]>)
      expect(powerTransition(a, b), `${a} → ${b}`).toBeNull();
  });
});

describe('debouncePower', () => {
  const run = (readings: OnBattery[], confirmAfter?: number) => {
    let state: PowerState | undefined;
    return readings.map((r) => {
      const out = debouncePower(state, r, confirmAfter);
      state = out.state;
      return out.event;
    });
  };

  it('a change must hold for two readings in a row', () => {
    expect(run([0, 1, 1, 1, 0, 0])).toEqual([null, null, 'power_lost', null, null, 'power_restored']);
  });

  it('a single reading on battery (a self test) raises nothing', () => {
    expect(run([0, 1, 0, 0, 1, 0])).toEqual([null, null, null, null, null, null]);
  });

  it('an unknown reading neither confirms nor cancels a pending change', () => {
    expect(run([0, 1, undefined, 1])).toEqual([null, null, null, 'power_lost']);
  });

  it('the first known reading sets the state without an event (the device state already says it)', () => {
    expect(run([undefined, 1, 1, 1])).toEqual([null, null, null, null]);
  });

  it('confirmAfter 1 reports at the first changed reading', () => {
    expect(run([0, 1, 0], 1)).toEqual([null, 'power_lost', 'power_restored']);
  });
});

describe('powerEventText', () => {
  it('says the cut in Indonesian first, with the runtime left', () => {
    const t = powerEventText('power_lost', {
      values: { on_battery: 1, battery_pct: 87, battery_runtime_s: 4620 },
    });
    expect(t).toEqual({
      type: 'power_lost',
      severity: 'critical',
      message: {
        id: 'Listrik padam: UPS memakai baterai, sisa baterai ± 77 menit',
        en: 'Power cut: UPS running on battery, about 77 min of battery left',
      },
      data: { battery_pct: 87, battery_runtime_s: 4620 },
    });
  });

  it('falls back to the charge, and says restored plainly', () => {
    expect(powerEventText('power_lost', { values: { battery_pct: 40 } }).message.en).toBe(
      'Power cut: UPS running on battery, battery at 40%',
    );
    expect(powerEventText('power_restored')).toMatchObject({ type: 'power_restored', severity: 'info' });
  });
});
