// Ubiquiti airMAX (airOS): UBNT-AirMAX-MIB under .1.3.6.1.4.1.41112.1.4. See test/fixtures/snmp/VENDORS.md.

import type { Profile } from './types.js';

const B = '1.3.6.1.4.1.41112.1.4';

export const airmax: Profile = {
  id: 'airmax',
  vendor: 'Ubiquiti',
  family: 'airMAX',
  kind: 'radio',
  detect: { sysObjectId: ['1.3.6.1.4.1.10002.1'], subtree: B },
  scalars: [
    { metric: 'frequency_mhz', oid: `${B}.1.1.4.1` },
    { metric: 'tx_power_dbm', oid: `${B}.1.1.6.1` },
    { metric: 'distance_m', oid: `${B}.1.1.7.1` },
    { metric: 'rx_power_dbm', oid: `${B}.5.1.5.1`, noValue: [0, -99] },
    { metric: 'rssi_raw', oid: `${B}.5.1.6.1` },
    { metric: 'ccq_pct', oid: `${B}.5.1.7.1` },
    { metric: 'noise_floor_dbm', oid: `${B}.5.1.8.1`, noValue: [0] },
    { metric: 'rate_tx_bps', oid: `${B}.5.1.9.1` },
    { metric: 'rate_rx_bps', oid: `${B}.5.1.10.1` },
    { metric: 'stations_count', oid: `${B}.5.1.15.1` },
    // airMAX quality is empty on airOS 8: absent stays absent, never 0.
    { metric: 'quality_pct', oid: `${B}.6.1.3.1` },
    { metric: 'capacity_pct', oid: `${B}.6.1.4.1` },
    { metric: 'airtime_pct', oid: `${B}.6.1.7.1`, scale: 0.1 },
    { metric: 'cpu_pct', oid: `${B}.8.3.0`, scale: 0.01 },
    { metric: 'temperature_c', oid: `${B}.8.4.0` },
  ],
  tables: [
    {
      entry: `${B}.2.1`,
      index: { label: 'chain', from: 'last' },
      columns: [{ metric: 'rssi_raw', column: 2, noValue: [0, -99] }],
    },
    {
      entry: `${B}.7.1`,
      index: { label: 'station', from: 'mac6' },
      columns: [
        { metric: 'rx_power_dbm', column: 3, noValue: [0, -99] },
        { metric: 'noise_floor_dbm', column: 4, noValue: [0] },
        { metric: 'distance_m', column: 5 },
        { metric: 'ccq_pct', column: 6 },
        { metric: 'rate_tx_bps', column: 11 },
        { metric: 'rate_rx_bps', column: 12 },
        { metric: 'link_uptime_s', column: 15, ticks: true },
        { metric: 'snr_db', column: 16 },
        { metric: 'capacity_tx_bps', column: 17, scale: 1000 },
        { metric: 'capacity_rx_bps', column: 18, scale: 1000 },
        { metric: 'latency_ms', column: 21 },
      ],
      connectedSinceColumn: 15,
    },
  ],
  identity: {
    modelColumn: '1.2.840.10036.3.1.2.1.3',
    firmwareColumn: '1.2.840.10036.3.1.2.1.4',
    firmwarePattern: /^[A-Z]{2}\.[^.]+\.v(.+)$/,
  },
  deriveSnr: true,
};
