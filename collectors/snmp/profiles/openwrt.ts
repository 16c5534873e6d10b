// OpenWrt, or any net-snmp host whose `extend` scripts print wireless figures: one number per
// extend output line, found by the script's name (e.g. `snr-wlan0-avg`).

import type { Profile } from './types.js';

const EXTEND_OUTPUT = '1.3.6.1.4.1.8072.1.3.2.3.1.1';

export const openwrt: Profile = {
  id: 'openwrt',
  vendor: 'OpenWrt (net-snmp on Linux)',
  family: 'net-snmp extend',
  kind: 'radio',
  detect: { sysObjectId: ['1.3.6.1.4.1.8072.3.2.10'], subtree: EXTEND_OUTPUT },
  scalars: [],
  tables: [],
  extend: [
    { metric: 'frequency_mhz', name: /^frequency-(?<iface>.+)$/ },
    { metric: 'noise_floor_dbm', name: /^noise-floor-(?<iface>.+)$/ },
    { metric: 'stations_count', name: /^clients-(?<iface>.+)$/ },
    { metric: 'snr_db', name: /^snr-(?<iface>.+)-(?<stat>min|max|avg)$/ },
    { metric: 'rate_tx_bps', name: /^rate-tx-(?<iface>.+)-(?<stat>min|max|avg)$/ },
    { metric: 'rate_rx_bps', name: /^rate-rx-(?<iface>.+)-(?<stat>min|max|avg)$/ },
    { metric: 'ccq_pct', name: /^ccq-(?<iface>.+)$/ },
  ],
  identity: {
    // The distro and hardware `exec` entries of LibreNMS's distro script, when the box runs it.
    model: [{ oids: ['1.3.6.1.4.1.2021.7890.2.101.1'] }],
    firmware: [{ oids: ['1.3.6.1.4.1.2021.7890.1.101.1'], pattern: /^OpenWrt (.+)$/ }],
  },
};
