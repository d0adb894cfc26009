/**
 * An in-memory LAN for tests (as multicast-dns and hyperswarm test in-process): transports that
 * deliver to each other through the injected clock, with optional loss. Deterministic: packets
 * arrive only when the ManualClock advances (latency 0 = same advance call).
 */
import type { Clock } from '../core/clock.js';
import { MDNS_PORT } from './constants.js';
import type { Endpoint, InterfaceAddress, MdnsTransport } from './transport.js';

export interface TestLanOptions {
  clock: Clock;
  loss?: number; // probability in [0, 1] that a datagram is dropped
  random?: () => number;
  latency?: number; // ms
  netmask?: string;
}

export interface TestTransport extends MdnsTransport {
  readonly endpoint: Endpoint;
  readonly isOpen: boolean;
  /** Move this host to another address, or take its link down (null): sends and receives stop. */
  setAddress(address: string | null): void;
}

export interface Sniffed {
  packet: Buffer;
  from: Endpoint;
  to: Endpoint | null; // null: multicast
  at: number;
}

export interface TestLan {
  /** A host on the LAN (port 5353 joins the group; another port is a legacy unicast querier). */
  transport(address: string, port?: number): TestTransport;
  /** Put a datagram on the wire as if `from` sent it (hostile or off-link sources included). */
  inject(packet: Buffer, from: Endpoint, to?: Endpoint): void;
  /** Every datagram sent, in order. */
  readonly log: Sniffed[];
  setLoss(p: number): void;
}

export function createTestLan(opts: TestLanOptions): TestLan {
  const members = new Set<LanTransport>();
  const random = opts.random ?? Math.random;
  let loss = opts.loss ?? 0;
  const log: Sniffed[] = [];

  class LanTransport implements TestTransport {
    isOpen = false;
    readonly endpoint: Endpoint;
    private linked = true;
    private readonly listeners = new Set<(p: Buffer, from: Endpoint) => void>();
    private readonly watchers = new Set<(a: InterfaceAddress[]) => void>();
    constructor(address: string, port: number) {
      this.endpoint = { address, port };
    }
    setAddress(address: string | null): void {
      this.linked = address !== null;
      if (address !== null) this.endpoint.address = address;
      for (const w of [...this.watchers]) w(this.addresses());
    }
    onAddressesChanged(fn: (a: InterfaceAddress[]) => void): () => void {
      this.watchers.add(fn);
      return () => this.watchers.delete(fn);
    }
    async open(): Promise<void> {
      this.isOpen = true;
      members.add(this);
    }
    addresses(): InterfaceAddress[] {
      if (!this.linked) return [];
      return [{ address: this.endpoint.address, netmask: opts.netmask ?? '255.255.255.0' }];
    }
    send(packet: Buffer, dest?: Endpoint): void {
      if (this.isOpen && this.linked) lan.inject(packet, this.endpoint, dest);
    }
    onMessage(fn: (p: Buffer, from: Endpoint) => void): () => void {
      this.listeners.add(fn);
      return () => this.listeners.delete(fn);
    }
    async close(): Promise<void> {
      this.isOpen = false;
      members.delete(this);
      this.listeners.clear();
      this.watchers.clear();
    }
    deliver(p: Buffer, from: Endpoint): void {
      if (!this.isOpen || !this.linked) return;
      for (const l of [...this.listeners]) l(Buffer.from(p), { ...from });
    }
  }

  const lan: TestLan = {
    log,
    transport: (address, port = MDNS_PORT) => new LanTransport(address, port),
    setLoss: (p) => void (loss = p),
    inject(packet, from, to) {
      const copy = Buffer.from(packet);
      log.push({ packet: copy, from: { ...from }, to: to ? { ...to } : null, at: opts.clock.now() });
      for (const m of [...members]) {
        const hit = to
          ? m.endpoint.address === to.address && m.endpoint.port === to.port
          : m.endpoint.port === MDNS_PORT;
        if (!hit || (loss > 0 && random() < loss)) continue;
        opts.clock.setTimer(opts.latency ?? 0, () => m.deliver(copy, from));
      }
    },
  };
  return lan;
}
