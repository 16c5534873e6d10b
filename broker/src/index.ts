export { type AuditEntry, type AuditLine, readAudit } from './audit.js';
export { type RunningBroker, startBroker } from './broker.js';
export { type BrokerConfig, loadBrokerConfig } from './config.js';
export { addGateway, addReader, loadCredentials, removeAccount } from './credentials.js';
export { type SiteConfigRecord, type SiteConfigStatus, SiteConfigs } from './site-configs.js';
