// Ubiquiti airFiber 60 and Wave (UI-AF60-MIB, base .1.3.6.1.4.1.41112.1.11.1). Shares the airMAX
// sysObjectID; told apart by its own subtree. Rows are indexed by their own instance, which is not
// the ifIndex (a column of the row holds that): labels come from the instance.

import type { Profile } from './types.js';

const B = '1.3.6.1.4.1.41112.1.11.1';

export const af60: Profile = {
  id: 'airfiber-60',
  vendor: 'Ubiquiti',
  family: 'airFiber 60 / Wave',
  kind: 'radio',
  detect: { sysObjectId: ['1.3.6.1.4.1.10002.1', '1.3.6.1.4.1.41112'], subtree: B },
  scalars: [],
  tables: [
    {
      entry: `${B}.1`,
      index: { from: 'none' },
      columns: [{ metric: 'frequency_mhz', column: 2 }],
    },
    { entry: `${B}.2`, index: { from: 'none' }, columns: [{ metric: 'cpu_pct', column: 6 }] },
    {
      entry: `${B}.4`,
      index: { from: 'none' },
      columns: [
        { metric: 'gps_status', column: 1 },
        { metric: 'gps_fix', column: 2 },
        { metric: 'gps_satellites_visible_count', column: 7 },
        { metric: 'gps_satellites_tracked_count', column: 8 },
      ],
    },
  ],
  identity: {
    model: [
      { oids: [`${B}.1.1.1`], maps: { 0: { '0': 'AP', '1': 'station' } }, template: 'airFiber 60 ({0})' },
    ],
  },
};
