export { loadInventory, parseInventory, type LoadOptions } from './load.js';
export { resolveLimit } from './limit.js';
export { inventorySchema } from './schema.js';
export { KNOWN_VARS, mergeVars, hostVars } from './vars.js';
export * from './types.js';
