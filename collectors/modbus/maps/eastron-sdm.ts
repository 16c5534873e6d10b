// Energy meter, Eastron SDM120/SDM230/SDM630 (phase 1): input registers holding IEEE 754 float32,
// high word first, two registers each. The meter answers reads across its unused registers (as
// zeros), so the map lets one read span small gaps: three requests per poll instead of nine.

import type { RegisterMap } from '../map.js';

const f32 = { fn: 'input', type: 'f32', word_order: 'be' } as const;

export const eastronSdm: RegisterMap = {
  id: 'eastron-sdm',
  name: 'Eastron SDM energy meter',
  vendor: 'Eastron',
  kind: 'power',
  max_gap: 12,
  entries: [
    { metric: 'voltage_v', address: 0x0000, ...f32 },
    { metric: 'current_a', address: 0x0006, ...f32 },
    { metric: 'power_w', address: 0x000c, ...f32 },
    { metric: 'apparent_power_va', address: 0x0012, ...f32 },
    { metric: 'power_factor', address: 0x001e, ...f32 },
    { metric: 'frequency_hz', address: 0x0046, ...f32 },
    // Energies are kWh on the meter → Wh.
    { metric: 'energy_wh', address: 0x0048, scale: 1000, labels: { direction: 'import' }, ...f32 },
    { metric: 'energy_wh', address: 0x004a, scale: 1000, labels: { direction: 'export' }, ...f32 },
    { metric: 'energy_wh', address: 0x0156, scale: 1000, ...f32 },
  ],
};
