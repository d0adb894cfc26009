/**
 * Production transport: multicast-dns manages the socket (reuseAddr, group membership, multicast
 * TTL 255, loopback, outgoing interface); we read raw datagrams off the dgram socket so the codec
 * (wire.ts) sees the bytes and the sender. EACCES/EADDRINUSE are fatal, everything else a warning.
 * The interface's addresses are read again every ADDRESS_WATCH_MS (Node has no netlink events; libuv lists an
 * interface only while it is up and has carrier, so a pulled cable reads as no address): a change
 * moves the outgoing multicast interface and the group membership to the new address and is told to
 * the service, which probes and announces again (RFC 6762 §13).
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import makeMdns from 'multicast-dns';
import type { Logger } from '../core/logger.js';
import { PeerhubError, wrap } from '../core/errors.js';
import { MDNS_GROUP, MDNS_PORT } from './constants.js';
import type { Endpoint, InterfaceAddress, MdnsTransport } from './transport.js';

const RECV_BUFFER_BYTES = 1 << 20;
/** How often the interface's addresses are read again: a link change is acted on within this. */
const ADDRESS_WATCH_MS = 2000;

export interface MulticastDnsTransportInit {
  interface?: string; // name ('eth0') or IPv4 address; default: first non-internal IPv4
  port?: number; // tests only
}

/** Resolve an interface name or address to its IPv4 addresses. */
export function resolveInterface(spec?: string): InterfaceAddress[] {
  const all = os.networkInterfaces();
  const v4 = (name: string): InterfaceAddress[] =>
    (all[name] ?? [])
      .filter((a) => a.family === 'IPv4')
      .map((a) => ({ address: a.address, netmask: a.netmask }));
  if (spec === undefined) {
    for (const [name, list] of Object.entries(all)) {
      if (list?.some((a) => a.family === 'IPv4' && !a.internal)) return v4(name);
    }
    throw new PeerhubError('PH_ERR_PRESENCE_SOCKET', 'no non-internal IPv4 interface');
  }
  if (all[spec]) {
    const found = v4(spec);
    if (found.length > 0) return found;
  }
  for (const name of Object.keys(all)) {
    const found = v4(name);
    const hit = found.find((a) => a.address === spec);
    if (hit) return [hit, ...found.filter((a) => a !== hit)];
  }
  throw new PeerhubError('PH_ERR_PRESENCE_SOCKET', `no IPv4 address on interface ${spec}`);
}

/** Linux names its interfaces under /sys/class/net; elsewhere any name is taken as possibly there. */
function interfaceExists(name: string): boolean {
  return !existsSync('/sys/class/net') || existsSync(join('/sys/class/net', name));
}

/** resolveInterface, with "no IPv4 address now" (link down, cable out) as an empty list. */
export function currentAddresses(spec?: string): InterfaceAddress[] {
  try {
    return resolveInterface(spec);
  } catch {
    return [];
  }
}

const sameAddresses = (a: InterfaceAddress[], b: InterfaceAddress[]): boolean =>
  a.length === b.length && a.every((x, i) => x.address === b[i]?.address && x.netmask === b[i]?.netmask);

/**
 * dgram resolves every destination before sending, and dns.lookup answers even an IP literal on the
 * next tick: a datagram would leave only after the rest of the current turn's work (a store write's
 * serialisation, a control reply). Our destinations are literals (the group, a querier's address):
 * once the socket is bound they are answered at once, and the datagram leaves in the call that sends
 * it. The bind itself keeps the usual deferred answer (multicast-dns sets itself up after bind()).
 */
function literalLookup(sock: { bound: boolean }) {
  return (
    host: string,
    options: dns.LookupOneOptions,
    cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
  ): void => {
    const family = isIP(host);
    if (family !== 0 && sock.bound) cb(null, host, family);
    else dns.lookup(host, options, cb);
  };
}

export function createMulticastDnsTransport(init: MulticastDnsTransportInit, logger: Logger): MdnsTransport {
  const log = logger.child({ component: 'mdns-socket' });
  let addrs: InterfaceAddress[] = [];
  let socket: dgram.Socket | null = null;
  let mdns: ReturnType<typeof makeMdns> | null = null;
  let opening: Promise<void> | null = null;
  const listeners = new Set<(p: Buffer, from: Endpoint) => void>();
  const watchers = new Set<(a: InterfaceAddress[]) => void>();
  let watch: NodeJS.Timeout | null = null;
  const inflight = new Set<Promise<void>>();
  const port = init.port ?? MDNS_PORT;

  /** The socket, bound and joined on `primary`. Rejects with PH_ERR_PRESENCE_SOCKET (EACCES, EADDRINUSE). */
  const openSocket = async (primary: string): Promise<void> => {
    // A roomier receive buffer (the kernel caps it at net.core.rmem_max): when many hubs answer one
    // query at once, a burst must not be dropped while the event loop is busy.
    const state = { bound: false };
    const sock = dgram.createSocket({
      type: 'udp4',
      reuseAddr: true,
      recvBufferSize: RECV_BUFFER_BYTES,
      lookup: literalLookup(state),
    });
    sock.once('listening', () => (state.bound = true));
    socket = sock;
    const m = makeMdns({ socket: sock, port, interface: primary, bind: '0.0.0.0', ttl: 255, loopback: true });
    mdns = m;
    // multicast-dns decodes every datagram with dns-packet for events we never use: 3–18 ms of CPU
    // per hostile packet against 0.03 ms for our codec (a flood starved the agent). Only ours reads.
    for (const l of sock.listeners('message')) sock.removeListener('message', l as (...a: unknown[]) => void);
    sock.on('message', (buf, rinfo) => {
      for (const l of [...listeners]) l(buf, { address: rinfo.address, port: rinfo.port });
    });
    m.on('warning', (err: Error) => log.warn({ err: err.message }, 'mDNS socket warning'));
    await new Promise<void>((resolve, reject) => {
      m.once('ready', resolve);
      m.once('error', (err: Error) => reject(wrap('PH_ERR_PRESENCE_SOCKET', `bind ${primary}:${port}`, err)));
    });
    m.on('error', (err: Error) => log.error({ err: err.message }, 'mDNS socket error'));
  };

  const open = async (): Promise<void> => {
    addrs = currentAddresses(init.interface);
    const primary = addrs[0]?.address;
    if (primary === undefined) {
      // Not up yet (the agent started before DHCP, the cable is out): a name that is no interface at
      // all is a configuration error; otherwise the socket opens when the first address comes.
      if (init.interface !== undefined && isIP(init.interface) === 0 && !interfaceExists(init.interface)) {
        throw new PeerhubError('PH_ERR_PRESENCE_SOCKET', `no network interface named ${init.interface}`);
      }
      log.warn(
        { interface: init.interface ?? null },
        'no IPv4 address yet: mDNS presence starts when the network is up',
      );
    } else await openSocket(primary);
    watch = setInterval(recheck, ADDRESS_WATCH_MS);
    watch.unref();
  };

  let reopening: Promise<void> | null = null;
  let lastOpenError: string | null = null;
  const tell = (next: InterfaceAddress[], from: string[]): void => {
    log.info({ from, to: next.map((a) => a.address) }, 'interface addresses changed');
    for (const w of [...watchers]) w(next);
  };

  const recheck = (): void => {
    if (reopening) return;
    const next = currentAddresses(init.interface);
    if (sameAddresses(next, addrs)) return;
    const from = addrs.map((a) => a.address);
    addrs = next;
    const primary = next[0]?.address;
    const sock = socket;
    if (primary !== undefined && !sock) {
      // The first address since a start without one: open the socket now, then tell the service.
      reopening = openSocket(primary).then(
        () => {
          lastOpenError = null;
          tell(next, from);
        },
        async (err: unknown) => {
          // Once per distinct error at error level; the tries every ADDRESS_WATCH_MS after it at debug.
          const text = String(err);
          if (text !== lastOpenError)
            log.error({ err: text }, 'mDNS socket could not be opened: trying again');
          else log.debug({ err: text }, 'mDNS socket could not be opened: trying again');
          lastOpenError = text;
          addrs = []; // seen as a change again at the next look
          const m = mdns;
          mdns = socket = null;
          if (m) await new Promise<void>((resolve) => m.destroy(() => resolve()));
        },
      );
      void reopening.finally(() => (reopening = null));
      return;
    }
    if (primary !== undefined && sock) {
      // Outgoing multicast leaves from the address set here (the old one would be refused as a source),
      // and the group is joined on the new one (the kernel keeps a membership across a carrier loss:
      // EADDRINUSE then, nothing to do).
      const attempt = (what: string, fn: () => void, fine?: string): void => {
        try {
          fn();
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === fine) return;
          log.warn({ err: (err as Error).message, address: primary }, `mDNS: ${what} failed`);
        }
      };
      attempt('setting the multicast interface', () => sock.setMulticastInterface(primary));
      attempt('joining the group', () => sock.addMembership(MDNS_GROUP, primary), 'EADDRINUSE');
    }
    tell(next, from);
  };

  return {
    open() {
      opening ??= open();
      return opening;
    },
    addresses: () => addrs,
    send(packet, dest) {
      const sock = socket;
      // No address (cable out): nothing can leave; the service is told and pauses, stragglers drop here.
      if (!sock || addrs.length === 0) return;
      const p = new Promise<void>((resolve) => {
        sock.send(packet, dest?.port ?? port, dest?.address ?? MDNS_GROUP, (err) => {
          if (err) log.warn({ err: err.message, dest }, 'mDNS send failed');
          resolve();
        });
      });
      inflight.add(p);
      void p.then(() => inflight.delete(p));
    },
    onMessage(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    onAddressesChanged(fn) {
      watchers.add(fn);
      return () => watchers.delete(fn);
    },
    async close() {
      await opening?.catch(() => undefined);
      await reopening;
      await Promise.race([Promise.all(inflight), new Promise((r) => setTimeout(r, 500).unref())]);
      listeners.clear();
      watchers.clear();
      if (watch) clearInterval(watch);
      watch = null;
      const m = mdns;
      mdns = null;
      socket = null;
      opening = null;
      if (m) await new Promise<void>((resolve) => m.destroy(() => resolve()));
    },
  };
}
