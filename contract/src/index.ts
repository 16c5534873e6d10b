export * from './topics.js';
export * from './metrics.js';
export * from './payloads.js';
