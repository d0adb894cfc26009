/** Store: crash-safe local state on lowdb (DESIGN "Store"). */
export type { Store, StoreDeps, StoreFileHandle, StoreFs, StoreInit, Versioned } from './types.js';
export { decodeRecord, openStore } from './store.js';
export { DurableJsonAdapter } from './adapter.js';
export type { DurableAdapterDeps, DurableAdapterInit } from './adapter.js';
export { nodeFs } from './fs.js';
