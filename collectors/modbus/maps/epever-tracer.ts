// Solar charge controller, EPEVER Tracer (A/B/AN/BN) and LS-B family: real-time data in input
// registers 0x3100–0x311A and statistics at 0x33xx, in hundredths; 32-bit values low word first.
// Reads are kept to the documented registers (no gaps): 0x3100–0x3107, 0x310C–0x3111, 0x311A,
// 0x3312–0x3313, so four requests per poll.

import type { RegisterMap } from '../map.js';

const LOAD = { circuit: 'load' };

export const epeverTracer: RegisterMap = {
  id: 'epever-tracer',
  name: 'EPEVER Tracer solar charge controller',
  vendor: 'EPEVER',
  kind: 'power',
  entries: [
    { metric: 'pv_voltage_v', fn: 'input', address: 0x3100, type: 'u16', scale: 0.01 },
    { metric: 'pv_current_a', fn: 'input', address: 0x3101, type: 'u16', scale: 0.01 },
    { metric: 'pv_power_w', fn: 'input', address: 0x3102, type: 'u32', word_order: 'le', scale: 0.01 },
    { metric: 'battery_voltage_v', fn: 'input', address: 0x3104, type: 'u16', scale: 0.01 },
    { metric: 'charge_current_a', fn: 'input', address: 0x3105, type: 'u16', scale: 0.01 },
    { metric: 'charge_power_w', fn: 'input', address: 0x3106, type: 'u32', word_order: 'le', scale: 0.01 },
    // The controller's DC load output (the radio or camera it powers).
    { metric: 'voltage_v', fn: 'input', address: 0x310c, type: 'u16', scale: 0.01, labels: LOAD },
    { metric: 'current_a', fn: 'input', address: 0x310d, type: 'u16', scale: 0.01, labels: LOAD },
    {
      metric: 'power_w',
      fn: 'input',
      address: 0x310e,
      type: 'u32',
      word_order: 'le',
      scale: 0.01,
      labels: LOAD,
    },
    { metric: 'battery_temperature_c', fn: 'input', address: 0x3110, type: 'i16', scale: 0.01 },
    { metric: 'temperature_c', fn: 'input', address: 0x3111, type: 'i16', scale: 0.01 },
    { metric: 'battery_pct', fn: 'input', address: 0x311a, type: 'u16' },
    // Total generated energy, kWh in hundredths → Wh.
    {
      metric: 'energy_wh',
      fn: 'input',
      address: 0x3312,
      type: 'u32',
      word_order: 'le',
      scale: 10,
      labels: { circuit: 'pv' },
    },
  ],
};
