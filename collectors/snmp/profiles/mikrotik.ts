// MikroTik RouterOS: MIKROTIK-MIB under .1.3.6.1.4.1.14988.1.1.1 — station mode, registration table
// (one row per peer), AP mode, 60 GHz. RouterOS 7 "wifi" packages leave every table empty.

import type { Profile } from './types.js';

const W = '1.3.6.1.4.1.14988.1.1.1';

export const mikrotik: Profile = {
  id: 'mikrotik',
  vendor: 'MikroTik',
  family: 'RouterOS',
  kind: 'radio',
  // The system subtree answers on every RouterOS, wireless or not.
  detect: { sysObjectId: ['1.3.6.1.4.1.14988'], subtree: '1.3.6.1.4.1.14988.1' },
  scalars: [],
  tables: [
    {
      // Station mode: this radio as a client of an AP.
      entry: `${W}.1.1`,
      index: { label: 'ifindex', from: 'last' },
      columns: [
        { metric: 'rate_tx_bps', column: 2 },
        { metric: 'rate_rx_bps', column: 3 },
        { metric: 'rx_power_dbm', column: 4, noValue: [0, -99] },
        { metric: 'frequency_mhz', column: 7 },
        { metric: 'ccq_pct', column: 9, labels: { direction: 'tx' } },
        { metric: 'ccq_pct', column: 10, labels: { direction: 'rx' } },
      ],
    },
    {
      // Registration table: each peer seen by an AP (or the AP seen by a station).
      entry: `${W}.2.1`,
      index: { label: 'station', from: 'mac6-then-last', lastLabel: 'ifindex' },
      columns: [
        { metric: 'rx_power_dbm', column: 3, noValue: [0, -99] },
        { metric: 'rate_tx_bps', column: 8 },
        { metric: 'rate_rx_bps', column: 9 },
        { metric: 'link_uptime_s', column: 11, ticks: true },
        { metric: 'snr_db', column: 12, noValue: [0] }, // 0 = unknown
      ],
      connectedSinceColumn: 11,
    },
    {
      // AP mode, one row per wireless interface.
      entry: `${W}.3.1`,
      index: { label: 'ifindex', from: 'last' },
      columns: [
        { metric: 'rate_tx_bps', column: 2 },
        { metric: 'rate_rx_bps', column: 3 },
        { metric: 'stations_count', column: 6 }, // a Counter32, though it is a count
        { metric: 'frequency_mhz', column: 7, noValue: [0] }, // 0 on a disabled interface
        { metric: 'noise_floor_dbm', column: 9, noValue: [0] },
        { metric: 'ccq_pct', column: 10 },
      ],
    },
    {
      // 60 GHz (Wireless Wire, Cube): rates in Mbit/s.
      entry: `${W}.8.1`,
      index: { label: 'ifindex', from: 'last' },
      columns: [
        { metric: 'frequency_mhz', column: 6, labels: { band: '60g' } },
        { metric: 'mcs_index', column: 7, labels: { band: '60g' } },
        { metric: 'quality_pct', column: 8, labels: { band: '60g' } }, // signal quality %
        { metric: 'rx_power_dbm', column: 12, noValue: [0, -99], labels: { band: '60g' } },
        { metric: 'rate_tx_bps', column: 13, scale: 1e6, labels: { band: '60g' } }, // PHY rate
      ],
    },
    {
      entry: `${W}.9.1`,
      index: { label: 'ifindex', from: 'last' },
      columns: [{ metric: 'rate_tx_bps', column: 8, scale: 1e6, labels: { band: '60g-station' } }],
    },
  ],
  identity: {
    // ENTITY-MIB's chassis entry reads "RouterOS 6.40.5 (stable) on RB952Ui-5ac2nD".
    model: [{ oids: ['1.3.6.1.2.1.47.1.1.1.1.2.65536'], pattern: / on (\S+)$/ }],
    firmware: [{ oids: ['1.3.6.1.4.1.14988.1.1.4.4.0'] }],
    serial: [{ oids: ['1.3.6.1.4.1.14988.1.1.7.3.0'] }],
  },
  emptyMeansNoWirelessData: true,
};
