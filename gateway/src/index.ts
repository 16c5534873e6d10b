export { type DeviceConfig, type GatewayConfig, loadGatewayConfig } from './config.js';
export { type RunningGateway, startGateway } from './daemon.js';
export { Scheduler } from './scheduler.js';
