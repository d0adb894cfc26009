/** Presence on the subnet: factories (STYLE 1, 3). The contract is in types.ts and transport.ts. */
export type { Endpoint, InterfaceAddress, MdnsTransport } from './transport.js';
export type { MdnsPresenceInit } from './service.js';
export { createMulticastDnsTransport, resolveInterface } from './transport-mdns.js';
export { createTestLan, type TestLan, type TestLanOptions, type TestTransport } from './test-lan.js';
export * from './types.js';

export {
  createMdnsPresence,
  createPresence,
  type PresenceBackendChoice,
  type PresenceDeps,
  type PresenceOptions,
} from './select.js';
export type { AvahiProbe, AvahiPresenceInit } from './avahi/index.js'; // the backend itself loads on demand (select.ts)
