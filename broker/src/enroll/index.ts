export * from './db.js';
export * from './provision.js';
export * from './tokens.js';
