export * from './commissioning.js';
export * from './metrics.js';
export * from './payloads.js';
export * from './topics.js';
