/** Avahi's D-Bus API (avahi-common/defs.h, /usr/share/dbus-1/interfaces/org.freedesktop.Avahi.*.xml). */
export const AVAHI_NAME = 'org.freedesktop.Avahi';
export const AVAHI_SERVER_PATH = '/';
export const IFACE = {
  server: 'org.freedesktop.Avahi.Server',
  entryGroup: 'org.freedesktop.Avahi.EntryGroup',
  serviceBrowser: 'org.freedesktop.Avahi.ServiceBrowser',
  serviceResolver: 'org.freedesktop.Avahi.ServiceResolver',
} as const;

export const DBUS_NAME = 'org.freedesktop.DBus';
export const DBUS_PATH = '/org/freedesktop/DBus';
export const DEFAULT_SYSTEM_BUS = 'unix:path=/var/run/dbus/system_bus_socket';

/** AvahiIfIndex / AvahiProtocol. */
export const IF_UNSPEC = -1;
export const PROTO_INET = 0;
export const PROTO_INET6 = 1;
export const PROTO_UNSPEC = -1;

/** AvahiServerState. */
export const SERVER = { INVALID: 0, REGISTERING: 1, RUNNING: 2, COLLISION: 3, FAILURE: 4 } as const;
/** AvahiEntryGroupState. */
export const GROUP = { UNCOMMITED: 0, REGISTERING: 1, ESTABLISHED: 2, COLLISION: 3, FAILURE: 4 } as const;
/** AvahiLookupResultFlags. */
export const RESULT_OUR_OWN = 16;
export const RESULT_LOCAL = 8;

/** DNS-SD type and domain as Avahi wants them (no `.local`: domain '' = the default). */
export const AVAHI_SERVICE_TYPE = '_peerhub._tcp';

export const CALL_TIMEOUT_MS = 5000;
export const STOP_CALL_TIMEOUT_MS = 500;
export const RESOLVE_RETRY_MS = 2000;
export const RESOLVE_RETRIES = 5;
export const GROUP_RETRY_MS = 5000;
export const RECONNECT_MIN_MS = 1000;
export const RECONNECT_MAX_MS = 30_000;
/** A name taken this many times in a row gives up (Avahi keeps colliding: a misbehaving network). */
export const MAX_RENAMES = 32;
