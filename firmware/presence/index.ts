/** Presence on the subnet: factories (STYLE 1, 3). The contract is in types.ts and transport.ts. */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { MdnsPresence, type MdnsPresenceInit } from './service.js';
import { createMulticastDnsTransport } from './transport-mdns.js';
import type { MdnsTransport } from './transport.js';
import type { Emitter, PresenceEvents, PresenceService } from './types.js';

export type { Endpoint, InterfaceAddress, MdnsTransport } from './transport.js';
export type { MdnsPresenceInit } from './service.js';
export { createMulticastDnsTransport, resolveInterface } from './transport-mdns.js';
export { createTestLan, type TestLan, type TestLanOptions, type TestTransport } from './test-lan.js';
export * from './types.js';

export function createMdnsPresence(
  deps: { clock: Clock; logger: Logger; bus: Emitter<PresenceEvents>; transport?: MdnsTransport },
  init: MdnsPresenceInit = {},
): PresenceService {
  const transport = deps.transport ?? createMulticastDnsTransport({ interface: init.interface }, deps.logger);
  return new MdnsPresence({ ...deps, transport }, init);
}
export {
  createPresence,
  type PresenceBackendChoice,
  type PresenceDeps,
  type PresenceOptions,
} from './select.js';
export { createAvahiPresence, probeAvahi, type AvahiProbe, type AvahiPresenceInit } from './avahi/index.js';
