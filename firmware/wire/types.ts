/** Peer API contract (DESIGN "Peer API"): HTTP/2 over mutual TLS 1.3 between hubs. Interfaces only. */
import type { ContactCard as BaseCard } from '../contacts/types.js';
import type { BusEvent } from '../core/bus.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Emitter, PresenceStatus } from '../presence/types.js';

/** The authenticated caller of a request: the peer id of the root its client chain ends at. */
export interface PeerAuth {
  peerId: string;
}

/** What a TLS endpoint presents (structurally identity's `TlsCertificates.current()`). */
export interface TlsCredentials {
  keyPem: string;
  /** Leaf first, then its issuers up to the root. */
  chainPem: string[];
}

export interface TlsCredentialsSource {
  current(): TlsCredentials;
  onRotate?(fn: () => void): () => void;
}

/** The contact card a hub serves (`GET /v1/card`): the contact manager's card plus the peer name. */
export interface ContactCard extends BaseCard {
  classifier: string;
  peerName: string;
}

export interface PeerPresence {
  status: PresenceStatus;
  text: string;
  seq: number;
}

/** What the peer API serves, as the agent provides it. */
export interface PeerApiDeps {
  logger: Logger;
  clock: Clock;
  card(): ContactCard;
  presence(): PeerPresence;
  /** What `callerPeerId` may see (contacts: Internet scope; hubs on the subnet: NearMe). */
  applications(callerPeerId: string): Array<{ id: string } & Record<string, unknown>>;
  objects(callerPeerId: string): Array<{ id: string } & Record<string, unknown>>;
  /** Event history + live feed (like the control API's); the peer API filters it by type. */
  events: {
    since(id: number): BusEvent[];
    onAny(fn: (ev: BusEvent) => void): () => void;
    readonly lastId: number;
  };
  /** False while the clock is not yet synchronised (chain validation then tolerates it). */
  clockSynchronised?(): boolean;
  /** May this peer subscribe to our events (a contact not blocked)? */
  authorizeSubscriber(peerId: string): boolean | Promise<boolean>;
}

/** Facts the client reports on its emitter. */
export interface WireEvents {
  'peer:spoof': { expected: string; presented: string; host: string; port: number };
  'peer:unreachable': { peerId: string; host: string; port: number; reason: string };
}

export interface PeerTarget {
  peerId: string;
  host: string;
  port: number;
}

export interface PeerClientDeps {
  clock: Clock;
  logger: Logger;
  credentials(): TlsCredentials;
  events: Emitter<WireEvents>;
  clockSynchronised?(): boolean;
}

export interface Subscription {
  close(): void;
  /** Settles when the stream ends, with why. */
  readonly ended: Promise<{ reason: string }>;
}
