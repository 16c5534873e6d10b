// Cambium PMP 450 (Canopy WHISP MIBs under .1.3.6.1.4.1.161.19). Numbers may arrive as strings; the
// evaluator reads numbers inside OctetStrings. Frequency is in kHz.

import type { Profile, ScalarSource } from './types.js';

const B = '1.3.6.1.4.1.161.19.3';

const WINDOWS = { 1: '1m', 2: '5m', 3: '15m' } as const;
const DIRECTIONS = { 1: 'downlink', 2: 'uplink' } as const;

/** Sector utilisation over 1, 5 and 15 minutes, downlink and uplink: .3.1.12.{window}.{direction}.0. */
const utilisation: ScalarSource[] = Object.entries(WINDOWS).flatMap(([w, window]) =>
  Object.entries(DIRECTIONS).map(([d, direction]) => ({
    metric: 'utilization_pct' as const,
    oid: `${B}.1.12.${w}.${d}.0`,
    labels: { window, direction },
  })),
);

export const pmp450: Profile = {
  id: 'pmp450',
  vendor: 'Cambium Networks',
  family: 'PMP 450',
  kind: 'radio',
  detect: { sysObjectId: ['1.3.6.1.4.1.161.19'], subtree: B },
  scalars: [
    { metric: 'stations_count', oid: `${B}.1.7.1.0` },
    { metric: 'frequency_mhz', oid: `${B}.1.7.37.0`, scale: 0.001 },
    ...utilisation,
    { metric: 'fec_errors', oid: `${B}.3.1.95.0`, labels: { direction: 'in' } },
    { metric: 'fec_errors', oid: `${B}.3.1.97.0`, labels: { direction: 'out' } },
    { metric: 'crc_errors', oid: `${B}.3.1.223.0` },
    { metric: 'temperature_c', oid: `${B}.3.1.35.0` },
  ],
  tables: [],
  identity: {},
};
