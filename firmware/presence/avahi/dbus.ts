/**
 * The smallest D-Bus client the Avahi backend needs, over dbus-native: method calls with an explicit
 * signature (no introspection round trips), match rules, signals and the connection's end. The system
 * bus by default; `DBUS_SYSTEM_BUS_ADDRESS` (as libdbus and dbus-native's systemBus() honour it) or
 * an explicit address otherwise.
 */
import dbus from 'dbus-native';
import { DBUS_NAME, DBUS_PATH, DEFAULT_SYSTEM_BUS } from './constants.js';

export interface Signal {
  sender: string;
  path: string;
  iface: string;
  member: string;
  body: unknown[];
}

/** What the Avahi client needs from a bus connection (tests give a fake one). */
export interface BusLink {
  call(
    dest: string,
    path: string,
    iface: string,
    member: string,
    signature?: string,
    body?: unknown[],
    timeoutMs?: number,
  ): Promise<unknown[]>;
  addMatch(rule: string): Promise<void>;
  onSignal(fn: (s: Signal) => void): void;
  /** Called once when the connection is gone (error or close), never after `close()`. */
  onClose(fn: (err?: Error) => void): void;
  close(): Promise<void>;
}

export function systemBusAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DBUS_SYSTEM_BUS_ADDRESS || DEFAULT_SYSTEM_BUS;
}

/** Connect (lazily: the first call fails if the bus is not there). Never throws synchronously. */
export function connectBus(address: string = systemBusAddress(), timeoutMs = 5000): BusLink {
  let closing = false;
  let gone = false;
  const closeListeners: Array<(err?: Error) => void> = [];
  const signalListeners: Array<(s: Signal) => void> = [];
  let bus: ReturnType<typeof dbus.createClient> | null = null;
  let failure: Error | null = null;

  const lost = (err?: Error): void => {
    if (gone) return;
    gone = true;
    failure = err ?? new Error('D-Bus connection closed');
    if (closing) return;
    for (const fn of closeListeners) fn(err);
  };

  try {
    // No client-wide timeout: dbus-native would apply it to its own Hello and throw (uncaught) when a
    // mute bus lets it expire. Every call of ours carries its own timeout instead.
    bus = dbus.createClient({ busAddress: address });
    bus.connection.on('error', (err: Error) => lost(err));
    bus.connection.on('close', (cause?: Error) => lost(cause));
    bus.connection.on('end', () => lost());
    bus.connection.on('message', (msg) => {
      if (msg.type !== dbus.messageType.signal) return;
      const s: Signal = {
        sender: msg.sender ?? '',
        path: msg.path ?? '',
        iface: msg.interface ?? '',
        member: msg.member ?? '',
        body: msg.body ?? [],
      };
      for (const fn of signalListeners) fn(s); // listeners catch their own errors
    });
  } catch (err) {
    failure = err as Error;
    gone = true;
  }

  const call = (
    dest: string,
    path: string,
    iface: string,
    member: string,
    signature?: string,
    body: unknown[] = [],
    timeout?: number,
  ): Promise<unknown[]> =>
    new Promise((resolve, reject) => {
      if (!bus || gone) return reject(failure ?? new Error('D-Bus connection closed'));
      const msg = {
        destination: dest,
        path,
        interface: iface,
        member,
        ...(signature ? { signature, body } : {}),
      };
      bus.invoke(msg, { timeout: timeout ?? timeoutMs }, (err, ...values) => {
        if (err) reject(err);
        else resolve(values);
      });
    });

  return {
    call,
    async addMatch(rule) {
      await call(DBUS_NAME, DBUS_PATH, DBUS_NAME, 'AddMatch', 's', [rule]);
    },
    onSignal(fn) {
      signalListeners.push(fn);
    },
    onClose(fn) {
      closeListeners.push(fn);
    },
    async close() {
      closing = true;
      if (!bus) return;
      const b = bus;
      // close() waits for the socket's 'close', which a bus that stopped talking may never send.
      const force = setTimeout(() => b.connection.stream?.destroy(), 300);
      await b.close().catch(() => undefined);
      clearTimeout(force);
    },
  };
}

/** A D-Bus error's name (`org.freedesktop.DBus.Error.ServiceUnknown`, `org.freedesktop.Avahi.…`). */
export function dbusErrorName(err: unknown): string {
  const e = err as { dbusName?: string; code?: string; message?: string } | null;
  return e?.dbusName ?? e?.code ?? e?.message ?? String(err);
}
