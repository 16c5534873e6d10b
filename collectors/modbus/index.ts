export { collectModbus, readsFor, sharedModbusPool } from './collect.js';
export {
  type BackoffOptions,
  DEFAULT_BACKOFF,
  endpointKey,
  type ModbusIdentity,
  ModbusLink,
  ModbusPool,
  type ModbusTarget,
  rtuAvailable,
  SERIALPORT_MISSING,
} from './connection.js';
export { decodeBlock, entryValue, planReads, type ReadBlock, rawValue } from './decode.js';
export {
  loadRegisterMap,
  type MapIssue,
  type RegisterEntry,
  type RegisterFn,
  type RegisterMap,
  RegisterMapError,
  type RegisterType,
  registerMapIssues,
  type WordOrder,
} from './map.js';
export { eastronSdm, epeverTracer, REGISTER_MAPS, upsGeneric } from './maps/index.js';
export {
  debouncePower,
  type OnBattery,
  type PowerEvent,
  type PowerState,
  powerEventText,
  powerTransition,
} from './power.js';
