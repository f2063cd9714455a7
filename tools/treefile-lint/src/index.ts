export * from './schema.js';
export * from './tasks.js';
export * from './resolve.js';
export * from './lint.js';
export * from './yaml.js';
export * from './json.js';
