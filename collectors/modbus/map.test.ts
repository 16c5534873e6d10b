// Register maps without a device: checking a map (every message names its field), planning the
// fewest reads, and turning raw registers into values.

import { describe, expect, it } from 'vitest';
import {
  entryValue,
  loadRegisterMap,
  planReads,
  REGISTER_MAPS,
  type RegisterEntry,
  type RegisterMap,
  RegisterMapError,
  rawValue,
  registerMapIssues,
} from './index.js';

const map = (entries: unknown[], extra: Record<string, unknown> = {}) => ({
  id: 'test',
  name: 'Test',
  entries,
  ...extra,
});
const issues = (input: unknown) => registerMapIssues(input).map((i) => `${i.path.join('.')}: ${i.message}`);

describe('built-in maps', () => {
  it.each(Object.values(REGISTER_MAPS).map((m) => [m.id, m] as const))('%s is a valid map', (_id, m) => {
    expect(registerMapIssues(m)).toEqual([]);
    expect(loadRegisterMap(m)).toBe(m);
  });

  it('need as few reads as their layout allows', () => {
    const reads = (id: string) => planReads(REGISTER_MAPS[id]!).map((b) => `${b.fn} ${b.address}+${b.count}`);
    expect(reads('ups-generic')).toEqual(['holding 0+10', 'discrete 0+1']);
    expect(reads('epever-tracer')).toEqual([
      `input ${0x3100}+8`,
      `input ${0x310c}+6`,
      `input ${0x311a}+1`,
      `input ${0x3312}+2`,
    ]);
    expect(reads('eastron-sdm')).toEqual(['input 0+32', `input ${0x46}+6`, `input ${0x156}+2`]);
  });
});

describe('checking a map', () => {
  it('names every wrong field with what it should be', () => {
    expect(
      issues(
        map([
          { metric: 'volts', fn: 'holding', address: 0 },
          { metric: 'input_voltage_v', fn: 'holdings', address: 1 },
          { metric: 'battery_pct', fn: 'input', address: -1 },
          { metric: 'battery_pct', fn: 'input', address: 2, type: 'u64', labels: { phase: '2' } },
          { metric: 'power_w', fn: 'coil', address: 0, type: 'u16' },
          { metric: 'power_w', fn: 'input', address: 3, type: 'u16', word_order: 'le', labels: { a: 'b' } },
          { metric: 'energy_wh', fn: 'input', address: 65535, type: 'u32' },
          { metric: 'on_battery', fn: 'holding', address: 4, bit: 16 },
          { metric: 'battery_low', fn: 'holding', address: 4, type: 'f32', bit: 1 },
          { metric: 'battery_replace', fn: 'holding', address: 5, enum: { one: 1 }, scale: 2 },
          { metric: 'current_a', fn: 'input', address: 6, scale: 0 },
          { metric: 'voltage_v', fn: 'input', adress: 7 },
        ]),
      ),
    ).toEqual([
      'entries.0.metric: unknown metric "volts" (names carry their unit, e.g. input_voltage_v, power_w, battery_pct)',
      'entries.1.fn: must be one of holding, input, coil, discrete',
      'entries.2.address: must be a whole number from 0 to 65535 (the 0-based protocol address)',
      'entries.3.type: must be one of u16, i16, u32, i32, f32',
      'entries.4.type: a coil is a single bit (0 or 1): leave out type',
      'entries.5.word_order: only two-register values (u32, i32, f32) have a word order',
      'entries.6.address: a u32 takes 2 registers: it must start at 65534 or below',
      'entries.7.bit: must be a whole number from 0 to 15',
      'entries.8.bit: a float has no bits to take: use u16 or u32',
      'entries.9.enum.one: raw values must be whole numbers',
      'entries.9.enum: an enumeration gives the value itself: leave out scale and offset',
      'entries.10.scale: must not be 0 (every value would read 0)',
      'entries.11.adress: unknown field (did you mean "address"?); known fields: metric, fn, address, type, word_order, scale, offset, bit, enum, no_value, labels',
      'entries.11.address: is required: the 0-based protocol address (register 40001 is holding 0)',
    ]);
  });

  it('refuses the same metric twice with the same labels (one would hide the other)', () => {
    expect(
      issues(
        map([
          { metric: 'voltage_v', fn: 'input', address: 0 },
          { metric: 'voltage_v', fn: 'input', address: 2, labels: { phase: '2' } },
          { metric: 'voltage_v', fn: 'input', address: 4 },
        ]),
      ),
    ).toEqual([
      'entries.2.metric: voltage_v is already read by entries[0] with the same labels: give one of them labels',
    ]);
  });

  it('checks the map itself: id, name, kind, limits, entries', () => {
    expect(
      issues({ id: 'Bad Id', kind: 'ups', max_gap: 200, max_count: 0, entries: [], colour: 'red' }),
    ).toEqual([
      'colour: unknown field; known fields: id, name, vendor, kind, max_gap, max_count, entries',
      'id: is required: a lowercase slug such as eastron-sdm',
      'name: is required: a human name for the device',
      'kind: must be one of radio, camera, terminal, power, host',
      'max_gap: must be a whole number from 0 to 124',
      'max_count: must be a whole number from 1 to 2000',
      'entries: is required: a list of at least one register entry',
    ]);
    expect(issues('not a map')).toEqual([': a register map must be an object with id, name and entries']);
  });

  it('loadRegisterMap throws one error listing every issue, with the source and field paths', () => {
    const bad = map([
      { metric: 'volts', fn: 'holding', address: 0 },
      { fn: 'input', address: 1 },
    ]);
    let err: unknown;
    try {
      loadRegisterMap(bad, 'site.yaml devices[3].map');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RegisterMapError);
    const e = err as RegisterMapError;
    expect(e.issues.map((i) => i.path)).toEqual([
      ['entries', 0, 'metric'],
      ['entries', 1, 'metric'],
    ]);
    expect(e.message).toBe(
      'site.yaml devices[3].map: invalid register map\n' +
        '  entries[0].metric: unknown metric "volts" (names carry their unit, e.g. input_voltage_v, power_w, battery_pct)\n' +
        '  entries[1].metric: is required: a metric name such as input_voltage_v',
    );
  });

  it('gives paths under a prefix, for a map inside a larger config file', () => {
    expect(
      registerMapIssues(map([{ metric: 'x', fn: 'input', address: 0 }]), ['devices', 2, 'map'])[0]!.path,
    ).toEqual(['devices', 2, 'map', 'entries', 0, 'metric']);
  });
});

describe('planning reads', () => {
  const entry = (address: number, extra: Partial<RegisterEntry> = {}): RegisterEntry => ({
    metric: 'voltage_v',
    fn: 'holding',
    address,
    labels: { n: String(address) },
    ...extra,
  });
  const plan = (m: Partial<RegisterMap> & { entries: RegisterEntry[] }) =>
    planReads({ id: 't', name: 't', ...m }).map(
      (b) => `${b.fn} ${b.address}+${b.count} [${b.entries.length}]`,
    );

  it('merges contiguous and overlapping registers, splits at gaps unless max_gap allows them', () => {
    const entries = [entry(5), entry(0, { type: 'u32' }), entry(2), entry(1), entry(10, { type: 'f32' })];
    expect(plan({ entries })).toEqual(['holding 0+3 [3]', 'holding 5+1 [1]', 'holding 10+2 [1]']);
    expect(plan({ entries, max_gap: 4 })).toEqual(['holding 0+12 [5]']);
  });

  it('keeps each function apart and respects max_count', () => {
    const entries = [
      entry(0),
      entry(1),
      entry(2),
      entry(0, { fn: 'input' }),
      entry(0, { fn: 'coil' }),
      entry(1, { fn: 'coil' }),
    ];
    expect(plan({ entries, max_count: 2 })).toEqual([
      'holding 0+2 [2]',
      'holding 2+1 [1]',
      'input 0+1 [1]',
      'coil 0+2 [2]',
    ]);
  });

  it('never asks for more than the protocol allows in one read (125 registers)', () => {
    const entries = Array.from({ length: 130 }, (_, i) => entry(i));
    expect(plan({ entries })).toEqual(['holding 0+125 [125]', 'holding 125+5 [5]']);
  });
});

describe('decoding values', () => {
  const e = (extra: Partial<RegisterEntry>): RegisterEntry => ({
    metric: 'voltage_v',
    fn: 'holding',
    address: 0,
    ...extra,
  });
  const value = (extra: Partial<RegisterEntry>, words: number[]) =>
    entryValue(e(extra), rawValue(e(extra), words, 0));

  it('reads 16-bit unsigned and signed registers', () => {
    expect(value({ type: 'u16' }, [0xfff6])).toBe(65526);
    expect(value({ type: 'i16' }, [0xfff6])).toBe(-10);
    expect(value({ type: 'i16', scale: 0.1 }, [0xffce])).toBe(-5);
  });

  it('reads 32-bit values in either word order', () => {
    expect(value({ type: 'u32' }, [0x0001, 0xe240])).toBe(123456);
    expect(value({ type: 'u32', word_order: 'le' }, [0xe240, 0x0001])).toBe(123456);
    expect(value({ type: 'i32' }, [0xffff, 0xfffe])).toBe(-2);
    expect(value({ type: 'i32', word_order: 'le' }, [0xfffe, 0xffff])).toBe(-2);
    expect(value({ type: 'u32' }, [0xffff, 0xffff])).toBe(4294967295);
  });

  it('reads float32 to the seven digits it has, and NaN as no value', () => {
    expect(value({ type: 'f32' }, [0x4365, 0xcccd])).toBe(229.8);
    expect(value({ type: 'f32', word_order: 'le' }, [0xcccd, 0x4365])).toBe(229.8);
    expect(value({ type: 'f32', scale: 1000 }, [0x44be, 0x6ccd])).toBe(1523400);
    expect(value({ type: 'f32' }, [0x7fc0, 0x0000])).toBeNull();
  });

  it('applies scale and offset (units come from the metric name)', () => {
    expect(value({ scale: 0.01 }, [9840])).toBe(98.4);
    expect(value({ scale: 0.1, offset: -40 }, [650])).toBe(25);
  });

  it('takes one bit of a status word, also of a negative signed value', () => {
    expect(value({ bit: 0 }, [0b101])).toBe(1);
    expect(value({ bit: 1 }, [0b101])).toBe(0);
    expect(value({ bit: 15, type: 'i16' }, [0x8000])).toBe(1);
    expect(value({ bit: 31, type: 'i32' }, [0x8000, 0])).toBe(1);
  });

  it('maps enumerations, and an unlisted raw value is no value rather than a guess', () => {
    const onBattery = { enum: { '2': 0, '3': 1 } };
    expect(value(onBattery, [3])).toBe(1);
    expect(value(onBattery, [2])).toBe(0);
    expect(value(onBattery, [7])).toBeNull();
  });

  it('leaves out raw values that mean "no reading"', () => {
    expect(value({ no_value: [0xffff] }, [0xffff])).toBeNull();
    expect(value({ no_value: [0xffff] }, [230])).toBe(230);
  });

  it('a coil or discrete input arrives as 0/1 and may be inverted by an enum', () => {
    const coil = e({ fn: 'discrete', enum: { '0': 1, '1': 0 } });
    expect(entryValue(coil, 0)).toBe(1);
    expect(entryValue(coil, 1)).toBe(0);
  });
});
