// UPSes over SNMP: the standard UPS-MIB (RFC 1628, any vendor that implements it) and CyberPower's
// own CPS-MIB. See VENDORS.md. "On battery" is an enumeration on both: the value maps below turn it
// into on_battery 1/0, and the gateway raises power lost / restored from that.

import type { MetricSource, Profile, TableSource } from './types.js';

const UPS = '1.3.6.1.2.1.33.1';
/** RFC 1628 has no "unknown" for its numbers; agents answer −1 (the Riello recording does). */
const UNKNOWN = [-1];

/** upsOutputSource: other(1) none(2) normal(3) bypass(4) battery(5) booster(6) reducer(7). */
const UPS_MIB_ON_BATTERY = { 2: 0, 3: 0, 4: 0, 5: 1, 6: 0, 7: 0 };
/** upsBatteryStatus: unknown(1) batteryNormal(2) batteryLow(3) batteryDepleted(4). */
const UPS_MIB_BATTERY_LOW = { 2: 0, 3: 1, 4: 1 };

/** A per-phase table: phase 1 is the UPS's own figure (most site UPSes are single-phase); phases 2
 *  and 3 of a three-phase UPS are labelled. Single-phase agents often still answer 0 for them. */
function phases(entry: string, columns: Array<MetricSource & { column: number }>): TableSource {
  return { entry, index: { label: 'phase', from: 'last', unlabelled: '1' }, columns };
}

export const upsMib: Profile = {
  id: 'ups-mib',
  vendor: 'UPS-MIB (RFC 1628)',
  family: 'UPS',
  kind: 'power',
  detect: {
    // Any vendor: what makes it a UPS is its battery group answering.
    sysObjectId: ['1.3.6.1.4.1', '1.3.6.1.2.1.33'],
    subtree: `${UPS}.2`,
  },
  scalars: [
    { metric: 'battery_low', oid: `${UPS}.2.1.0`, map: UPS_MIB_BATTERY_LOW },
    { metric: 'time_on_battery_s', oid: `${UPS}.2.2.0`, noValue: UNKNOWN },
    { metric: 'battery_runtime_s', oid: `${UPS}.2.3.0`, scale: 60, noValue: UNKNOWN },
    { metric: 'battery_pct', oid: `${UPS}.2.4.0`, noValue: UNKNOWN },
    { metric: 'battery_voltage_v', oid: `${UPS}.2.5.0`, scale: 0.1, noValue: UNKNOWN },
    { metric: 'battery_current_a', oid: `${UPS}.2.6.0`, scale: 0.1, noValue: UNKNOWN },
    { metric: 'battery_temperature_c', oid: `${UPS}.2.7.0` },
    { metric: 'on_battery', oid: `${UPS}.4.1.0`, map: UPS_MIB_ON_BATTERY },
    { metric: 'output_frequency_hz', oid: `${UPS}.4.2.0`, scale: 0.1, noValue: UNKNOWN },
    { metric: 'bypass_frequency_hz', oid: `${UPS}.5.1.0`, scale: 0.1, noValue: UNKNOWN },
  ],
  tables: [
    phases(`${UPS}.3.3.1`, [
      { metric: 'input_frequency_hz', column: 2, scale: 0.1, noValue: UNKNOWN },
      { metric: 'input_voltage_v', column: 3, noValue: UNKNOWN },
      { metric: 'input_current_a', column: 4, scale: 0.1, noValue: UNKNOWN },
      { metric: 'input_power_w', column: 5, noValue: UNKNOWN },
    ]),
    phases(`${UPS}.4.4.1`, [
      { metric: 'output_voltage_v', column: 2, noValue: UNKNOWN },
      { metric: 'output_current_a', column: 3, scale: 0.1, noValue: UNKNOWN },
      { metric: 'output_power_w', column: 4, noValue: UNKNOWN },
      { metric: 'output_load_pct', column: 5, noValue: UNKNOWN },
    ]),
    phases(`${UPS}.5.3.1`, [
      { metric: 'bypass_voltage_v', column: 2, noValue: UNKNOWN },
      { metric: 'bypass_current_a', column: 3, scale: 0.1, noValue: UNKNOWN },
      { metric: 'bypass_power_w', column: 4, noValue: UNKNOWN },
    ]),
  ],
  identity: {
    // upsIdentManufacturer .1.1.0, upsIdentModel .1.2.0, upsIdentUPSSoftwareVersion .1.3.0
    model: [{ oids: [`${UPS}.1.1.0`, `${UPS}.1.2.0`], template: '{0} {1}' }, { oids: [`${UPS}.1.2.0`] }],
    firmware: [{ oids: [`${UPS}.1.3.0`] }],
  },
};

const CPS = '1.3.6.1.4.1.3808.1.1';

export const cyberpower: Profile = {
  id: 'cyberpower',
  vendor: 'CyberPower',
  family: 'UPS (RMCARD)',
  kind: 'power',
  // Some cards give the bare vendor OID as sysObjectID, others .3808.1.1.x: the CPS-MIB ups subtree decides.
  detect: { sysObjectId: ['1.3.6.1.4.1.3808'], subtree: `${CPS}.1` },
  scalars: [
    // upsBaseBatteryStatus: unknown(1) batteryNormal(2) batteryLow(3)
    { metric: 'battery_low', oid: `${CPS}.1.2.1.1.0`, map: { 2: 0, 3: 1 } },
    { metric: 'time_on_battery_s', oid: `${CPS}.1.2.1.2.0`, scale: 0.01 }, // TimeTicks
    { metric: 'battery_pct', oid: `${CPS}.1.2.2.1.0` },
    { metric: 'battery_voltage_v', oid: `${CPS}.1.2.2.2.0`, scale: 0.1 },
    { metric: 'battery_temperature_c', oid: `${CPS}.1.2.2.3.0` },
    { metric: 'battery_runtime_s', oid: `${CPS}.1.2.2.4.0`, scale: 0.01 }, // TimeTicks
    // upsAdvanceBatteryReplaceIndicator: noBatteryNeedsReplacing(1) batteryNeedsReplacing(2)
    { metric: 'battery_replace', oid: `${CPS}.1.2.2.5.0`, map: { 1: 0, 2: 1 } },
    { metric: 'input_voltage_v', oid: `${CPS}.1.3.2.1.0`, scale: 0.1 },
    { metric: 'input_frequency_hz', oid: `${CPS}.1.3.2.4.0`, scale: 0.1 },
    // upsAdvanceInputStatus: normal(1) overVoltage(2) underVoltage(3) frequencyFailure(4) blackout(5)
    { metric: 'input_fault', oid: `${CPS}.1.3.2.6.0`, map: { 1: 0, 2: 1, 3: 1, 4: 1, 5: 1 } },
    // upsBaseOutputStatus: unknown(1) onLine(2) onBattery(3) onBoost(4) onSleep(5) off(6)
    // rebooting(7) onECO(8) onBypass(9) onBuck(10) onOverload(11); boost and buck are mains AVR.
    {
      metric: 'on_battery',
      oid: `${CPS}.1.4.1.1.0`,
      map: { 2: 0, 3: 1, 4: 0, 5: 0, 6: 0, 7: 0, 8: 0, 9: 0, 10: 0, 11: 0 },
    },
    { metric: 'output_voltage_v', oid: `${CPS}.1.4.2.1.0`, scale: 0.1 },
    { metric: 'output_frequency_hz', oid: `${CPS}.1.4.2.2.0`, scale: 0.1 },
    { metric: 'output_load_pct', oid: `${CPS}.1.4.2.3.0` },
    { metric: 'output_current_a', oid: `${CPS}.1.4.2.4.0`, scale: 0.1 },
    // Environment probe (ENVIROSENSOR): temperature in tenths of °F → °C is (raw / 10 − 32) × 5/9.
    { metric: 'ambient_temperature_c', oid: `${CPS}.4.2.1.0`, scale: 1 / 18, offset: -160 / 9 },
    { metric: 'ambient_humidity_pct', oid: `${CPS}.4.3.1.0` },
  ],
  tables: [],
  identity: {
    // upsBaseIdentModel, upsAdvanceIdentFirmwareRevision, upsAdvanceIdentSerialNumber
    model: [{ oids: [`${CPS}.1.1.1.1.0`] }],
    firmware: [{ oids: [`${CPS}.1.1.2.1.0`] }],
    serial: [{ oids: [`${CPS}.1.1.2.3.0`] }],
  },
};
