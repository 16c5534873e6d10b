export { collectSnmp, counterRate, isReboot, newSnmpMemory, type SnmpMemory } from './collect.js';
export { PROFILES } from './profiles/index.js';
export type { Profile } from './profiles/types.js';
export { SnmpSession, type SnmpTarget, type SnmpV3Credentials, type SnmpVar } from './session.js';
export { loadRecording, parseSnmprec, parseSnmpwalk, type Varbind } from './snmprec.js';
