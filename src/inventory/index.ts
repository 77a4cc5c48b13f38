export { loadInventory, parseInventory, type LoadOptions } from './load.js';
export { resolveLimit } from './limit.js';
export { inventorySchema } from './schema.js';
export { knownVars, mergeVars, hostVars } from './vars.js';
export type * from './catalog.js';
export * from './types.js';
