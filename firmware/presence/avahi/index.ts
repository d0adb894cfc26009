/** The Avahi backend (D-Bus): factory and reachability probe. */
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Emitter, PresenceEvents, PresenceService } from '../types.js';
import { AVAHI_NAME, AVAHI_SERVER_PATH, DBUS_NAME, DBUS_PATH, IFACE } from './constants.js';
import { connectBus, dbusErrorName, systemBusAddress, type BusLink } from './dbus.js';
import { AvahiPresence, type AvahiPresenceInit } from './service.js';

export type { AvahiPresenceInit } from './service.js';
export type { BusLink, Signal } from './dbus.js';
export { systemBusAddress } from './dbus.js';

export function createAvahiPresence(
  deps: { clock: Clock; logger: Logger; bus: Emitter<PresenceEvents>; connect?: () => BusLink },
  init: AvahiPresenceInit = {},
): PresenceService {
  return new AvahiPresence(deps, init);
}

export type AvahiProbe = { ok: true; version: string } | { ok: false; reason: string };

/** Is org.freedesktop.Avahi on the system bus and answering, within `timeoutMs`? Never throws. */
export async function probeAvahi(
  opts: { busAddress?: string; timeoutMs?: number; connect?: () => BusLink } = {},
): Promise<AvahiProbe> {
  const timeoutMs = opts.timeoutMs ?? 1000;
  const link = opts.connect ? opts.connect() : connectBus(opts.busAddress ?? systemBusAddress(), timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<AvahiProbe>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const ask = (async (): Promise<AvahiProbe> => {
    try {
      const [owned] = await link.call(DBUS_NAME, DBUS_PATH, DBUS_NAME, 'NameHasOwner', 's', [AVAHI_NAME]);
      if (owned !== true) return { ok: false, reason: `${AVAHI_NAME} is not on the system bus` };
      const [version] = await link.call(AVAHI_NAME, AVAHI_SERVER_PATH, IFACE.server, 'GetVersionString');
      return { ok: true, version: String(version) };
    } catch (err) {
      return { ok: false, reason: dbusErrorName(err) };
    }
  })();
  try {
    return await Promise.race([ask, deadline]);
  } finally {
    clearTimeout(timer);
    void link.close().catch(() => undefined); // not waited for: start-up does not pay for it
  }
}
