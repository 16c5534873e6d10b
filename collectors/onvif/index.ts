export {
  passwordDigest,
  securityHeader,
  type UsernameToken,
  usernameToken,
} from './auth.js';
export {
  type ClockSetResult,
  type CollectTarget,
  collectOnvif,
  type OnvifClock,
  type OnvifIdentity,
  type OnvifProfile,
  type OnvifResult,
  type OnvifState,
  parseOnvifDateTime,
  parseProfiles,
  readClock,
  rewriteXAddr,
  setCameraClock,
} from './collect.js';
export {
  type DiscoveredDevice,
  type DiscoveredScopes,
  type DiscoverOptions,
  discover,
  parseProbeMatches,
  probeMessage,
  WS_DISCOVERY_GROUP,
  WS_DISCOVERY_PORT,
} from './discovery.js';
export { type Credentials, OnvifError } from './http.js';
export { fetchSnapshot, type SnapshotOptions } from './snapshot.js';
export {
  type CallOptions,
  deviceServiceUrl,
  NS,
  OnvifClient,
  type OnvifTarget,
  parseSoapAnswer,
} from './soap.js';
export { parseXml, type XmlElement, XmlError } from './xml.js';
