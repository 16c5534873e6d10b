// A generic UPS over Modbus: a starting point to copy for a real model, whose manual lists its own
// registers. Holding registers from 0 (protocol addresses), one status word with flags, tenths for
// volts and hertz. The test server (test/support/modbus-server.py, unit 1) serves exactly this.

import type { RegisterMap } from '../map.js';

export const upsGeneric: RegisterMap = {
  id: 'ups-generic',
  name: 'Generic UPS (Modbus)',
  kind: 'power',
  entries: [
    // Status word: bit 0 on battery, bit 1 battery low, bit 2 battery needs replacing.
    { metric: 'on_battery', fn: 'holding', address: 0, type: 'u16', bit: 0 },
    { metric: 'battery_low', fn: 'holding', address: 0, type: 'u16', bit: 1 },
    { metric: 'battery_replace', fn: 'holding', address: 0, type: 'u16', bit: 2 },
    { metric: 'battery_pct', fn: 'holding', address: 1, type: 'u16' },
    // Seconds as a 32-bit number, high word first.
    { metric: 'battery_runtime_s', fn: 'holding', address: 2, type: 'u32', word_order: 'be' },
    { metric: 'battery_voltage_v', fn: 'holding', address: 4, type: 'u16', scale: 0.1 },
    { metric: 'battery_temperature_c', fn: 'holding', address: 5, type: 'i16', scale: 0.1 },
    { metric: 'input_voltage_v', fn: 'holding', address: 6, type: 'u16', scale: 0.1 },
    { metric: 'input_frequency_hz', fn: 'holding', address: 7, type: 'u16', scale: 0.1 },
    { metric: 'output_voltage_v', fn: 'holding', address: 8, type: 'u16', scale: 0.1 },
    { metric: 'output_load_pct', fn: 'holding', address: 9, type: 'u16' },
    // Discrete input 0: mains present (1) or not (0).
    { metric: 'input_fault', fn: 'discrete', address: 0, enum: { '0': 1, '1': 0 } },
  ],
};
