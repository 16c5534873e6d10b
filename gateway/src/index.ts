export { type DeviceConfig, type GatewayConfig, loadGatewayConfig } from './config.js';
export { type RunningGateway, startGateway } from './daemon.js';
export { EnrollError, type EnrollOptions, enrollSiteBox } from './enroll.js';
export { MemoryOutbox, Publisher, type PublisherOptions } from './publisher.js';
export * as scan from './scan/index.js';
export { Scheduler } from './scheduler.js';
