export * from './baseline.js';
export * from './central-db.js';
export * from './classifier.js';
export * from './description.js';
export * from './ends.js';
export * from './engine.js';
export * from './incidents.js';
export * from './pairing.js';
