/**
 * The socket seam (STYLE 6): raw datagrams in and out. Production: multicast-dns over dgram
 * (transport-mdns.ts); unit tests: the in-memory LAN (test-lan.ts). The codec lives above it.
 */
export interface Endpoint {
  address: string;
  port: number;
}

export interface InterfaceAddress {
  address: string; // IPv4, dotted
  netmask: string;
}

export interface MdnsTransport {
  /** Opens the socket (idempotent); resolves when packets can flow. */
  open(): Promise<void>;
  /** Our IPv4 addresses on the chosen interface: A records and the on-link check. */
  addresses(): InterfaceAddress[];
  /** Multicast to 224.0.0.251:5353 unless `dest` is given (unicast). Never throws. */
  send(packet: Buffer, dest?: Endpoint): void;
  /**
   * Our addresses changed after open (DHCP renewal to another address, cable out: none, cable back in):
   * called with the new list (empty while the link is down). Returns an unsubscribe.
   */
  onAddressesChanged(fn: (addresses: InterfaceAddress[]) => void): () => void;
  /** Datagrams received, ours included when multicast loopback is on. Returns an unsubscribe. */
  onMessage(fn: (packet: Buffer, from: Endpoint) => void): () => void;
  /** Closes the socket and awaits it. */
  close(): Promise<void>;
}
