// Licensed and millimetre-wave backhaul: Siklu EtherHaul, Ceragon IP-20, Mimosa B5. See VENDORS.md.

import type { Profile } from './types.js';

const SIKLU = '1.3.6.1.4.1.31926';
/** ENTITY-MIB entPhysicalEntry: descr .2, software revision .10, serial .11. */
const ENTITY = '1.3.6.1.2.1.47.1.1.1.1';
const CERAGON = '1.3.6.1.4.1.2281';
const MIMOSA = '1.3.6.1.4.1.43356';

export const siklu: Profile = {
  id: 'siklu',
  vendor: 'Siklu',
  family: 'EtherHaul',
  kind: 'radio',
  detect: { sysObjectId: [SIKLU], subtree: `${SIKLU}.2.1.1` },
  scalars: [],
  tables: [
    {
      // One radio: its row describes the device itself.
      entry: `${SIKLU}.2.1.1`,
      index: { from: 'none' },
      columns: [
        { metric: 'frequency_mhz', column: 4 },
        { metric: 'snr_db', column: 18 }, // CINR
        { metric: 'rx_power_dbm', column: 19, noValue: [0, -99] },
        { metric: 'tx_power_dbm', column: 42 },
      ],
    },
  ],
  identity: {
    model: [{ oids: [`${ENTITY}.2.1`] }, { oids: ['sysDescr'] }],
    firmware: [{ oids: [`${ENTITY}.10.1`], pattern: /^(\S+)/ }],
    serial: [{ oids: [`${ENTITY}.11.1`] }],
  },
};

export const ceragon: Profile = {
  id: 'ceragon',
  vendor: 'Ceragon',
  family: 'IP-20',
  kind: 'radio',
  detect: { sysObjectId: [CERAGON], subtree: `${CERAGON}.10.5.1.1` },
  scalars: [],
  tables: [
    {
      entry: `${CERAGON}.10.5.1.1`,
      index: { label: 'radio', from: 'last' },
      columns: [
        { metric: 'rx_power_dbm', column: 2, noValue: [-99] },
        { metric: 'tx_power_dbm', column: 3 },
      ],
    },
    {
      entry: `${CERAGON}.10.7.1.1`,
      index: { label: 'radio', from: 'last' },
      columns: [
        { metric: 'mse_db', column: 2, scale: 0.01, noValue: [-9900] },
        { metric: 'defective_blocks', column: 3 },
        { metric: 'xpi_db', column: 5, scale: 0.01 },
      ],
    },
    {
      entry: `${CERAGON}.10.7.4.1.1`,
      index: { label: 'radio', from: 'last' },
      columns: [
        { metric: 'rate_tx_bps', column: 7, scale: 1000 },
        { metric: 'rate_rx_bps', column: 11, scale: 1000 },
      ],
    },
  ],
  identity: {
    // The IP-20 family names its model only through sysObjectID.
    model: [{ oids: ['sysObjectID'], lookup: { '1.3.6.1.4.1.2281.1.20.2.2': 'IP-20C' } }],
    firmware: [{ oids: [`${CERAGON}.10.4.1.13.1.1.4.1`] }],
  },
};

export const mimosa: Profile = {
  id: 'mimosa',
  vendor: 'Mimosa',
  family: 'B5',
  kind: 'radio',
  detect: { sysObjectId: [MIMOSA], subtree: `${MIMOSA}.2.1.2` },
  scalars: [{ metric: 'temperature_c', oid: `${MIMOSA}.2.1.2.1.8.0`, scale: 0.1 }],
  tables: [
    {
      entry: `${MIMOSA}.2.1.2.9.3.3.1`,
      index: { label: 'chain', from: 'last' },
      columns: [
        { metric: 'frequency_mhz', column: 7 },
        { metric: 'tx_power_dbm', column: 10 },
        { metric: 'rx_power_min_dbm', column: 12, noValue: [0, -99] },
      ],
    },
  ],
  identity: {
    model: [{ oids: ['sysDescr'], pattern: /^Mimosa (\S+)/ }],
    firmware: [{ oids: [`${MIMOSA}.2.1.2.1.3.0`] }],
  },
};
