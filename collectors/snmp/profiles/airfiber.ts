// Ubiquiti airFiber (AF-5X, AF-11, AF-24…): UBNT-AirFIBER-MIB under .1.3.6.1.4.1.41112.1.3.
// Shares airMAX's sysObjectID; told apart by its own subtree answering.

import type { Profile } from './types.js';

const B = '1.3.6.1.4.1.41112.1.3';

export const airfiber: Profile = {
  id: 'airfiber',
  vendor: 'Ubiquiti',
  family: 'airFiber',
  kind: 'radio',
  detect: { sysObjectId: ['1.3.6.1.4.1.10002.1'], subtree: B },
  scalars: [
    // Frequencies are in kHz.
    { metric: 'frequency_mhz', oid: `${B}.1.1.5.1`, scale: 0.001, labels: { direction: 'tx' } },
    { metric: 'frequency_mhz', oid: `${B}.1.1.6.1`, scale: 0.001, labels: { direction: 'rx' } },
    { metric: 'tx_power_dbm', oid: `${B}.1.1.9.1` },
    { metric: 'distance_m', oid: `${B}.2.1.4.1` },
    { metric: 'capacity_rx_bps', oid: `${B}.2.1.5.1` },
    { metric: 'capacity_tx_bps', oid: `${B}.2.1.6.1` },
    { metric: 'rx_power_dbm', oid: `${B}.2.1.11.1`, noValue: [0, -99], labels: { chain: '0' } },
    { metric: 'rx_power_dbm', oid: `${B}.2.1.14.1`, noValue: [0, -99], labels: { chain: '1' } },
    { metric: 'temperature_c', oid: `${B}.2.1.8.1`, labels: { sensor: '0' } },
    { metric: 'temperature_c', oid: `${B}.2.1.10.1`, labels: { sensor: '1' } },
    { metric: 'link_uptime_s', oid: `${B}.2.1.44.1` },
    { metric: 'dfs_detections', oid: `${B}.2.1.47.1` },
  ],
  tables: [],
  identity: { firmware: [{ oids: [`${B}.2.1.40.1`] }] },
};
