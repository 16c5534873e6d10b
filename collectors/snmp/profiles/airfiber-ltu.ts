// Ubiquiti airFiber LTU: .1.3.6.1.4.1.41112.1.10. Its sysObjectID is plain net-snmp's, so only the
// subtree tells it from any Linux box. Reports its own expected rx level ("ideal"): fade margin is
// ideal − actual.

import type { Profile } from './types.js';

const B = '1.3.6.1.4.1.41112.1.10.1';

export const airfiberLtu: Profile = {
  id: 'airfiber-ltu',
  vendor: 'Ubiquiti',
  family: 'airFiber LTU',
  kind: 'radio',
  detect: { sysObjectId: ['1.3.6.1.4.1.8072.3.2.10', '1.3.6.1.4.1.41112'], subtree: `${B}.2` },
  scalars: [
    { metric: 'frequency_mhz', oid: `${B}.2.2.0` },
    { metric: 'tx_power_dbm', oid: `${B}.2.6.0` }, // EIRP
  ],
  tables: [
    {
      entry: `${B}.4.1`,
      index: { label: 'station', from: 'mac6' },
      columns: [
        { metric: 'capacity_tx_bps', column: 3, scale: 1000 },
        { metric: 'capacity_rx_bps', column: 4, scale: 1000 },
        { metric: 'rx_power_dbm', column: 5, noValue: [0, -99], labels: { chain: '0' } },
        { metric: 'rx_power_dbm', column: 6, noValue: [0, -99], labels: { chain: '1' } },
        { metric: 'rx_power_ideal_dbm', column: 7, noValue: [0, -99], labels: { chain: '0' } },
        { metric: 'rx_power_ideal_dbm', column: 8, noValue: [0, -99], labels: { chain: '1' } },
        { metric: 'signal_level_dbm', column: 9, noValue: [0, -99], labels: { chain: '0' } },
        { metric: 'signal_level_dbm', column: 10, noValue: [0, -99], labels: { chain: '1' } },
        { metric: 'distance_m', column: 23 },
      ],
    },
  ],
  identity: { model: [{ oids: [`${B}.3.2.0`] }], firmware: [{ oids: [`${B}.3.4.0`] }] },
};
