// Vendor profiles are data: where a vendor keeps each number and how to scale it. A small generic
// evaluator (evaluate.ts) reads any profile, so adding a vendor means adding a table, not code.

import type { DeviceKind, MetricName } from '@pantau/contract';

export interface MetricSource {
  metric: MetricName;
  /** Multiply the raw value by this (0.1 for tenths, 1000 for kbit/s → bit/s). */
  scale?: number;
  /** Added after scaling: a unit change that is not a plain factor (tenths of °F → °C). */
  offset?: number;
  /** Raw values that mean "no reading" on this vendor (unused chains read 0 or −99). */
  noValue?: number[];
  /** An enumeration turned into a number by table (UPS output source 5 "battery" → on_battery 1);
   *  a raw value missing from the table yields no reading. Replaces scale and offset. */
  map?: Record<number, number>;
}

export interface ScalarSource extends MetricSource {
  oid: string;
  /** A counter of dropped sessions or re-registrations: when it grows, the link flapped. */
  flapCounter?: boolean;
  /** For a scalar that is one part of the device (a chain, a direction): becomes its own labelled reading. */
  labels?: Record<string, string>;
}

/** How a table row's index becomes labels: the last arc, the last six arcs as a MAC address, or
 *  nothing at all for a table with one row that describes the device itself. */
export type IndexLabel =
  /** `unlabelled`: the row whose last arc is this is the device's own figure (a UPS's first phase). */
  | { label: string; from: 'last'; unlabelled?: string }
  | { label: string; from: 'mac6' }
  /** `{mac6}.{ifIndex}` (MikroTik's registration table): the peer's MAC and the local interface. */
  | { label: string; from: 'mac6-then-last'; lastLabel: string }
  | { from: 'none' };

export interface TableSource {
  /** Entry OID; a cell is `${entry}.${column}.${index}`. */
  entry: string;
  index: IndexLabel;
  /** `labels` on a column split one row into parts, e.g. chain 0 and chain 1 of one station. */
  columns: Array<MetricSource & { column: number; ticks?: boolean; labels?: Record<string, string> }>;
  /** A column of TimeTicks since the peer connected: going backwards means the link flapped. */
  connectedSinceColumn?: number;
}

/** A line of NET-SNMP-EXTEND output, found by the name the script was given (`frequency-wlan0`). */
export interface ExtendSource extends MetricSource {
  /** Matched against the extend name; the named groups become labels. */
  name: RegExp;
}

/** Text about the device (model, firmware) read once per detection. The first source that yields wins. */
export interface TextSource {
  /** Scalar OIDs to GET; `sysDescr` and `sysObjectID` name the system group's own values. */
  oids: string[];
  /** Enumerations: value of `oids[i]` → text, before the template. A value missing from its map yields nothing. */
  maps?: Record<number, Record<string, string>>;
  /** All values joined by a space → text, for enumerations that only mean something together. */
  lookup?: Record<string, string>;
  /** `{0}`, `{1}`… are the values in order; default `{0}`. */
  template?: string;
  /** Keeps the first capture group, e.g. the version out of a longer string. */
  pattern?: RegExp;
}

export interface IdentitySource {
  /** Column whose first value is the model name (airMAX keeps it per interface). */
  modelColumn?: string;
  firmwareColumn?: string;
  /** Removes a vendor prefix from the firmware string, e.g. "XC.qca955x.v8.5.1" → "8.5.1". */
  firmwarePattern?: RegExp;
  model?: TextSource[];
  firmware?: TextSource[];
  serial?: TextSource[];
}

export interface Profile {
  id: string;
  vendor: string;
  family: string;
  kind: DeviceKind;
  detect: {
    /** sysObjectID must start with one of these (dotted, no leading dot). */
    sysObjectId: string[];
    /** And this subtree must answer: sysObjectID alone cannot tell airMAX from airFiber. */
    subtree: string;
  };
  scalars: ScalarSource[];
  tables: TableSource[];
  /** Numbers published by `extend` scripts (OpenWrt and any net-snmp host): nsExtendOutput1Line. */
  extend?: ExtendSource[];
  identity: IdentitySource;
  /** SNR derived as rx power − noise floor when the vendor does not report it. */
  deriveSnr?: boolean;
  /** When detected but every table is empty (RouterOS 7 "wifi" packages): say so, never report zeros. */
  emptyMeansNoWirelessData?: boolean;
}
