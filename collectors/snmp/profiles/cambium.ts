// Cambium Networks: ePMP (.17713.21) and PTP 650/670 (.17713.7 / .17713.11). See VENDORS.md.

import type { Profile } from './types.js';

const EPMP = '1.3.6.1.4.1.17713.21';

export const epmp: Profile = {
  id: 'epmp',
  vendor: 'Cambium Networks',
  family: 'ePMP',
  kind: 'radio',
  detect: { sysObjectId: [EPMP], subtree: `${EPMP}.1.2` },
  scalars: [
    { metric: 'frequency_mhz', oid: `${EPMP}.1.2.1.0` },
    { metric: 'rx_power_dbm', oid: `${EPMP}.1.2.3.0`, noValue: [0, -99] }, // downlink RSSI
    { metric: 'mcs_index', oid: `${EPMP}.1.2.6.0`, labels: { direction: 'uplink' } },
    { metric: 'mcs_index', oid: `${EPMP}.1.2.7.0`, labels: { direction: 'downlink' } },
    { metric: 'stations_count', oid: `${EPMP}.1.2.10.0` },
    { metric: 'snr_db', oid: `${EPMP}.1.2.18.0` }, // downlink SNR
    { metric: 'dfs_detections', oid: `${EPMP}.2.1.36.0` },
    { metric: 'session_drops', oid: `${EPMP}.2.1.45.0`, flapCounter: true },
    { metric: 'cpu_pct', oid: `${EPMP}.2.1.64.0`, scale: 0.1 },
  ],
  tables: [],
  identity: {
    // Interface mode (1 AP, 2 SM) with the sub-mode (5 PTP master, 4 PTP slave) names the role.
    model: [
      {
        oids: [`${EPMP}.3.8.2.1.0`, `${EPMP}.1.1.33.0`],
        lookup: { '1 5': 'ePTP Master', '2 4': 'ePTP Slave' },
      },
      { oids: [`${EPMP}.3.8.2.1.0`], lookup: { '1': 'ePMP AP', '2': 'ePMP SM' } },
    ],
    firmware: [{ oids: [`${EPMP}.1.1.17.0`] }],
    serial: [{ oids: [`${EPMP}.1.1.31.0`] }],
  },
};

const MASTER_SLAVE = { '0': 'master', '1': 'slave' };

/** PTP 650 and 670 share the PTP MIB layout under their own enterprise branch. */
function ptp(id: string, family: string, base: string): Profile {
  return {
    id,
    vendor: 'Cambium Networks',
    family,
    kind: 'radio',
    detect: { sysObjectId: [base], subtree: `${base}.12` },
    scalars: [
      { metric: 'tx_power_dbm', oid: `${base}.12.4.0`, scale: 0.1 },
      { metric: 'rx_power_dbm', oid: `${base}.12.12.0`, scale: 0.1 },
      // Signal strength ratio: vertical vs horizontal chain, an alignment indicator, not SNR.
      { metric: 'chain_imbalance_db', oid: `${base}.12.9.0`, scale: 0.1 },
      { metric: 'mcs_index', oid: `${base}.12.14.0`, labels: { direction: 'rx' } },
      { metric: 'mcs_index', oid: `${base}.12.15.0`, labels: { direction: 'tx' } },
      { metric: 'rate_rx_bps', oid: `${base}.20.1.0`, scale: 1000 },
      { metric: 'rate_tx_bps', oid: `${base}.20.2.0`, scale: 1000 },
    ],
    tables: [],
    identity: {
      model: [
        {
          oids: [`${base}.5.5.0`, `${base}.19.2.0`],
          maps: { 0: MASTER_SLAVE },
          template: `${family} {0} ({1})`,
        },
        { oids: [`${base}.5.5.0`], maps: { 0: MASTER_SLAVE }, template: `${family} {0}` },
      ],
      firmware: [{ oids: ['sysDescr'], pattern: /Version (\S+)/ }],
    },
  };
}

export const ptp650 = ptp('ptp650', 'PTP 650', '1.3.6.1.4.1.17713.7');
export const ptp670 = ptp('ptp670', 'PTP 670', '1.3.6.1.4.1.17713.11');
