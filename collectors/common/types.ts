import type { DeviceKind, Reading, Reason } from '@pantau/contract';

/** What a device said about itself, beyond numbers. */
export interface DeviceIdentity {
  vendor?: string;
  model?: string;
  firmware?: string;
  serial?: string;
  /** Own interface MAC addresses (IF-MIB ifPhysAddress), lowercase and colon-separated. */
  macs?: string[];
  /** e.g. "airmax", "net-snmp" */
  profile?: string;
  sysDescr?: string;
  sysObjectID?: string;
}

/** Something worth an event that only the collector can see (it holds the previous reading). */
export interface CollectorObservation {
  type: 'device_rebooted' | 'link_flap';
  message: { id: string; en: string };
  data?: Record<string, unknown>;
}

/** The typed result of one poll of one device. */
export interface CollectorResult {
  kind: DeviceKind;
  readings: Reading[];
  identity?: DeviceIdentity;
  observations: CollectorObservation[];
  /** Facts worth a reason on the device state, e.g. "no wireless data" from a radio whose tables are empty. */
  notices?: Reason[];
  /** MAC addresses of connected peers (a radio's station or registration table). */
  peers?: string[];
}
