/**
 * Which presence backend runs (issue 6): Avahi over D-Bus when avahi-daemon owns the host's mDNS, so
 * two responders never fight over port 5353; the embedded multicast-dns responder otherwise.
 *   auto           Avahi if org.freedesktop.Avahi answers on the system bus within ~1 s, else multicast-dns
 *   multicast-dns  always the embedded responder
 *   avahi          Avahi; if it cannot be reached, multicast-dns with a warning (the hub stays visible)
 * An injected transport (tests' in-memory LAN) always means multicast-dns.
 * The Avahi backend and its D-Bus client (dbus-native with its XML stack, ≈ 600 KB of JavaScript) are
 * loaded only when `auto` or `avahi` asks for them: a hub configured for multicast-dns never holds them.
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { BusLink } from './avahi/dbus.js';
import { MdnsPresence, type MdnsPresenceInit } from './service.js';
import { createMulticastDnsTransport } from './transport-mdns.js';
import type { MdnsTransport } from './transport.js';
import type { Emitter, PresenceEvents, PresenceService } from './types.js';

export type PresenceBackendChoice = 'auto' | 'multicast-dns' | 'avahi';

export interface PresenceDeps {
  clock: Clock;
  logger: Logger;
  bus: Emitter<PresenceEvents>;
  transport?: MdnsTransport;
  /** Tests: the bus connection the Avahi backend (and the probe) use. */
  connectBus?: () => BusLink;
}

export interface PresenceOptions extends MdnsPresenceInit {
  backend: PresenceBackendChoice;
  /** System bus address (default `DBUS_SYSTEM_BUS_ADDRESS` or /var/run/dbus/system_bus_socket). */
  busAddress?: string;
  /** How long `auto`/`avahi` wait for the daemon to answer (default 1000 ms). */
  probeTimeoutMs?: number;
}

/** The embedded RFC 6762 responder on multicast-dns (or on an injected transport). */
export function createMdnsPresence(
  deps: { clock: Clock; logger: Logger; bus: Emitter<PresenceEvents>; transport?: MdnsTransport },
  init: MdnsPresenceInit = {},
): PresenceService {
  const transport = deps.transport ?? createMulticastDnsTransport({ interface: init.interface }, deps.logger);
  return new MdnsPresence({ ...deps, transport }, init);
}

export async function createPresence(deps: PresenceDeps, opts: PresenceOptions): Promise<PresenceService> {
  const log = deps.logger;
  const mdns = (): PresenceService =>
    createMdnsPresence(
      { clock: deps.clock, logger: log, bus: deps.bus, transport: deps.transport },
      {
        interface: opts.interface,
        hostname: opts.hostname,
        ttlHost: opts.ttlHost,
        ttlService: opts.ttlService,
        random: opts.random,
      },
    );
  if (deps.transport || opts.backend === 'multicast-dns') {
    log.info({ backend: 'multicast-dns', configured: opts.backend }, 'presence backend chosen');
    return mdns();
  }
  const { createAvahiPresence, probeAvahi } = await import('./avahi/index.js');
  const probe = await probeAvahi({
    busAddress: opts.busAddress,
    timeoutMs: opts.probeTimeoutMs ?? 1000,
    connect: deps.connectBus,
  });
  if (probe.ok) {
    log.info({ backend: 'avahi', configured: opts.backend, avahi: probe.version }, 'presence backend chosen');
    return createAvahiPresence(
      { clock: deps.clock, logger: log, bus: deps.bus, connect: deps.connectBus },
      { interface: opts.interface, hostname: opts.hostname, busAddress: opts.busAddress },
    );
  }
  if (opts.backend === 'avahi') {
    log.warn(
      { backend: 'multicast-dns', configured: 'avahi', reason: probe.reason },
      'Avahi unreachable: falling back to multicast-dns',
    );
  } else {
    log.info(
      { backend: 'multicast-dns', configured: 'auto', reason: probe.reason },
      'presence backend chosen (no avahi-daemon on the system bus)',
    );
  }
  return mdns();
}
