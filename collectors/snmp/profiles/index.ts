import { af60 } from './af60.js';
import { airfiber } from './airfiber.js';
import { airfiberLtu } from './airfiber-ltu.js';
import { airmax } from './airmax.js';
import { ceragon, mimosa, siklu } from './backhaul.js';
import { epmp, ptp650, ptp670 } from './cambium.js';
import { mikrotik } from './mikrotik.js';
import { openwrt } from './openwrt.js';
import { pmp450 } from './pmp450.js';
import type { Profile } from './types.js';
import { cyberpower, upsMib } from './ups.js';

export type * from './types.js';

/** Every known vendor profile. Detection tries them in order; each needs its own subtree to answer. */
export const PROFILES: readonly Profile[] = [
  airmax,
  airfiber,
  af60,
  airfiberLtu,
  epmp,
  ptp650,
  ptp670,
  pmp450,
  siklu,
  ceragon,
  mimosa,
  mikrotik,
  cyberpower,
  // Any vendor's UPS-MIB: after every vendor whose own subtree says more (CyberPower also answers
  // parts of UPS-MIB); its battery group must answer, so a radio or a host is never taken for a UPS.
  upsMib,
  // Last: plain net-snmp shares its sysObjectID with airFiber LTU, whose subtree is checked first.
  openwrt,
];
